//! Writing and reading the `change_log` table.

use rusqlite::types::Value;
use rusqlite::Connection;

use super::row;
use super::{bump_revision, SqliteBackend};
pub(super) use crate::change_log::Change;
use crate::change_log::{
    AuditFilter, AuditPage, AuditParam, AuditQuery, ChangeAction, ChangeEntry, Page, SubjectKind,
    ENTRY_COLUMNS,
};
use crate::error::StoreError;
use crate::lookup::Lookup;

/// Appends `c` to the log and bumps the revision: every logged change is a
/// change readers must notice, and vice versa.
pub(super) fn record(conn: &Connection, c: Change<'_>) -> Result<(), StoreError> {
    let changes = serde_json::to_string(&c.changes)
        .map_err(|e| StoreError::Storage(format!("cannot encode a change: {e}")))?;
    conn.execute(
        "INSERT INTO change_log (at, actor, action, kind, subject_id, subject_name, changes) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        (
            c.at,
            c.actor,
            c.action.as_str(),
            c.kind.as_str(),
            c.subject_id,
            c.subject_name,
            changes,
        ),
    )?;
    bump_revision(conn)
}

#[derive(Debug, thiserror::Error)]
#[error("unknown action or kind in the change log")]
struct UnknownCode;

fn entry_from_sql(r: &rusqlite::Row<'_>) -> rusqlite::Result<ChangeEntry> {
    let bad = |col, e: Box<dyn std::error::Error + Send + Sync>| {
        rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, e)
    };
    let action: String = r.get(3)?;
    let kind: String = r.get(4)?;
    let changes: String = r.get(7)?;
    Ok(ChangeEntry {
        seq: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
        at: r.get(1)?,
        actor: r.get(2)?,
        action: ChangeAction::parse(&action).ok_or_else(|| bad(3, Box::new(UnknownCode)))?,
        kind: SubjectKind::parse(&kind).ok_or_else(|| bad(4, Box::new(UnknownCode)))?,
        subject_id: r.get(5)?,
        subject_name: r.get(6)?,
        changes: serde_json::from_str(&changes).map_err(|e| bad(7, Box::new(e)))?,
    })
}

fn query(conn: &Connection, sql: &str, params: Vec<Value>) -> Result<Vec<ChangeEntry>, StoreError> {
    let mut stmt = conn.prepare(sql)?;
    let entries = stmt
        .query_map(rusqlite::params_from_iter(params), entry_from_sql)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(entries)
}

impl SqliteBackend {
    pub(crate) fn audit(&self, filter: &AuditFilter, page: Page) -> Result<AuditPage, StoreError> {
        let q = AuditQuery::new(filter, page, '?');
        let params = q
            .params
            .iter()
            .map(|p| match p {
                AuditParam::Int(i) => Value::Integer(*i),
                AuditParam::Text(t) => Value::Text(t.clone()),
            })
            .collect();
        let entries = self.read(|tx, _| query(tx, &q.sql, params))?;
        Ok(q.page(entries))
    }

    /// A secret's whole history, oldest first. Works after deletion too, by
    /// id or by the name it had.
    pub(crate) fn history(
        &self,
        kind: SubjectKind,
        lookup: &Lookup,
    ) -> Result<Vec<ChangeEntry>, StoreError> {
        self.read(|tx, _| {
            let kind_text = Value::Text(kind.as_str().into());
            if let Some(r) = row::find(tx, kind, lookup)? {
                return query(
                    tx,
                    &format!("SELECT {ENTRY_COLUMNS} FROM change_log WHERE kind = ?1 AND subject_id = ?2 ORDER BY seq"),
                    vec![kind_text, Value::Text(r.id)],
                );
            }
            let by_name = !matches!(lookup, Lookup::Id(_) | Lookup::ClientId(_));
            let entries = query(
                tx,
                &format!(
                    "SELECT {ENTRY_COLUMNS} FROM change_log WHERE kind = ?1 AND subject_id IN \
                     (SELECT subject_id FROM change_log WHERE kind = ?1 AND \
                      (subject_id = ?2 OR (?3 AND lower(subject_name) = lower(?2)))) ORDER BY seq"
                ),
                vec![
                    kind_text,
                    Value::Text(lookup.as_str().into()),
                    Value::Integer(i64::from(by_name)),
                ],
            )?;
            if entries.is_empty() {
                return Err(StoreError::NotFound {
                    kind: kind.noun(),
                    lookup: lookup.as_str().to_owned(),
                });
            }
            Ok(entries)
        })
    }
}
