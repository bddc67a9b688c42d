//! Writing and reading the `change_log` table (see `sqlite/change_log.rs`).

use postgres::types::ToSql;
use postgres::GenericClient;

use super::row;
use super::{PostgresBackend, WriteTx};
pub(super) use crate::change_log::Change;
use crate::change_log::{
    AuditFilter, AuditPage, AuditParam, AuditQuery, ChangeAction, ChangeEntry, Page, SubjectKind,
    ENTRY_COLUMNS,
};
use crate::error::StoreError;
use crate::lookup::Lookup;

/// Appends `c` to the log and bumps the revision (and so the notification).
pub(super) fn record(w: &mut WriteTx<'_>, c: Change<'_>) -> Result<(), StoreError> {
    let changes = serde_json::to_string(&c.changes)
        .map_err(|e| StoreError::Storage(format!("cannot encode a change: {e}")))?;
    w.tx.execute(
        "INSERT INTO change_log (at, actor, action, kind, subject_id, subject_name, changes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &c.at,
            &c.actor,
            &c.action.as_str(),
            &c.kind.as_str(),
            &c.subject_id,
            &c.subject_name,
            &changes,
        ],
    )?;
    // What a proxy's cache must refresh: the client id (`eg_kid`) of an
    // embed secret, from the change itself (create, delete) or the row.
    // A credential change, or an embed secret whose client id is gone
    // (purge), asks for a full reload.
    match c.kind {
        SubjectKind::EmbedSecret => {
            let from_change = c
                .changes
                .iter()
                .find(|f| f.field == "client_id")
                .and_then(|f| f.new.clone().or_else(|| f.old.clone()));
            let kid = match from_change {
                Some(k) => Some(k),
                None => {
                    w.tx.query_opt(
                        "SELECT client_id FROM secrets WHERE id = $1",
                        &[&c.subject_id],
                    )?
                    .and_then(|r| r.get::<_, Option<String>>(0))
                }
            };
            match kid {
                Some(k) => w.touch_kid(k),
                None => w.full_reload = true,
            }
        }
        SubjectKind::Credential => w.full_reload = true,
        _ => {}
    }
    w.bump_revision(c.subject_id)
}

fn entry_from_pg(r: &postgres::Row) -> Result<ChangeEntry, StoreError> {
    let bad = |what: &str| StoreError::Storage(format!("bad {what} in the change log"));
    let action: String = r.try_get(3)?;
    let kind: String = r.try_get(4)?;
    let changes: String = r.try_get(7)?;
    Ok(ChangeEntry {
        seq: u64::try_from(r.try_get::<_, i64>(0)?).unwrap_or(0),
        at: r.try_get(1)?,
        actor: r.try_get(2)?,
        action: ChangeAction::parse(&action).ok_or_else(|| bad("action"))?,
        kind: SubjectKind::parse(&kind).ok_or_else(|| bad("kind"))?,
        subject_id: r.try_get(5)?,
        subject_name: r.try_get(6)?,
        changes: serde_json::from_str(&changes).map_err(|_| bad("changes"))?,
    })
}

fn query(
    c: &mut impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<ChangeEntry>, StoreError> {
    c.query(sql, params)?.iter().map(entry_from_pg).collect()
}

impl PostgresBackend {
    pub(crate) fn audit(&self, filter: &AuditFilter, page: Page) -> Result<AuditPage, StoreError> {
        let q = AuditQuery::new(filter, page, '$');
        let params: Vec<&(dyn ToSql + Sync)> = q
            .params
            .iter()
            .map(|p| match p {
                AuditParam::Int(i) => i as &(dyn ToSql + Sync),
                AuditParam::Text(t) => t as &(dyn ToSql + Sync),
            })
            .collect();
        let entries = self.read(|tx, _| query(tx, &q.sql, &params))?;
        Ok(q.page(entries))
    }

    /// A secret's whole history, oldest first; works after deletion too.
    pub(crate) fn history(
        &self,
        kind: SubjectKind,
        lookup: &Lookup,
    ) -> Result<Vec<ChangeEntry>, StoreError> {
        self.read(|tx, _| {
            if let Some(r) = row::find(tx, kind, lookup)? {
                return query(
                    tx,
                    &format!("SELECT {ENTRY_COLUMNS} FROM change_log WHERE kind = $1 AND subject_id = $2 ORDER BY seq"),
                    &[&kind.as_str(), &r.id],
                );
            }
            let by_name = !matches!(lookup, Lookup::Id(_) | Lookup::ClientId(_));
            let entries = query(
                tx,
                &format!(
                    "SELECT {ENTRY_COLUMNS} FROM change_log WHERE kind = $1 AND subject_id IN \
                     (SELECT subject_id FROM change_log WHERE kind = $1 AND \
                      (subject_id = $2 OR ($3 AND lower(subject_name) = lower($2)))) ORDER BY seq"
                ),
                &[&kind.as_str(), &lookup.as_str(), &by_name],
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
