//! The `admin_tokens` table: hashes of admin API tokens, never the tokens.

use rusqlite::{Connection, OptionalExtension as _};

use super::change_log::{record, Change};
use super::SqliteBackend;
use crate::admin_token::{self, AdminToken, CreatedAdminToken, Role};
use crate::change_log::{ChangeAction, SubjectKind};
use crate::checked::{Actor, NewToken};
use crate::error::StoreError;

const KIND: SubjectKind = SubjectKind::AdminToken;
const COLUMNS: &str = "id, name, role, created_by, created_at, last_used_at";

/// `last_used_at` is written at most once per this many seconds per token,
/// so reading the API does not turn into a write per request.
const LAST_USED_GRANULARITY: i64 = 60;

fn from_sql(r: &rusqlite::Row<'_>) -> rusqlite::Result<AdminToken> {
    let role: String = r.get(2)?;
    Ok(AdminToken {
        id: r.get(0)?,
        name: r.get(1)?,
        role: role.parse().map_err(|e: StoreError| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
        })?,
        created_by: r.get(3)?,
        created_at: r.get(4)?,
        last_used_at: r.get(5)?,
    })
}

fn find(conn: &Connection, id_or_name: &str) -> Result<Option<AdminToken>, StoreError> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM admin_tokens WHERE id = ?1 OR lower(name) = lower(?1) \
                 ORDER BY id = ?1 DESC LIMIT 1"
            ),
            [id_or_name],
            from_sql,
        )
        .optional()?)
}

fn insert(
    conn: &Connection,
    new: &NewToken,
    actor: &Actor,
    now: i64,
) -> Result<CreatedAdminToken, StoreError> {
    let token = &new.token;
    if find(conn, &token.name)?.is_some_and(|t| t.name.eq_ignore_ascii_case(&token.name)) {
        return Err(StoreError::NameTaken {
            kind: KIND.noun(),
            name: token.name.clone(),
        });
    }
    conn.execute(
        "INSERT INTO admin_tokens (id, name, role, lookup, token_hash, created_by, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        (
            &token.id,
            &token.name,
            token.role.as_str(),
            &new.lookup,
            &new.hash[..],
            &token.created_by,
            token.created_at,
        ),
    )?;
    record(
        conn,
        Change {
            at: now,
            actor,
            action: ChangeAction::Create,
            kind: KIND,
            subject_id: &token.id,
            subject_name: &token.name,
            changes: admin_token::logged_fields(token, true),
        },
    )?;
    Ok(CreatedAdminToken {
        token: token.clone(),
        value: new.value.clone(),
    })
}

impl SqliteBackend {
    pub(crate) fn create_admin_token(
        &self,
        new: &NewToken,
        actor: &Actor,
        now: i64,
    ) -> Result<CreatedAdminToken, StoreError> {
        self.write(|tx, _| insert(tx, new, actor, now))
    }

    pub(crate) fn create_first_owner_token(
        &self,
        new: &NewToken,
        actor: &Actor,
        now: i64,
    ) -> Result<Option<CreatedAdminToken>, StoreError> {
        self.write(|tx, _| {
            let any: i64 = tx.query_row("SELECT count(*) FROM admin_tokens", [], |r| r.get(0))?;
            if any > 0 {
                return Ok(None);
            }
            insert(tx, new, actor, now).map(Some)
        })
    }

    pub(crate) fn list_admin_tokens(&self) -> Result<Vec<AdminToken>, StoreError> {
        self.read(|tx, _| {
            let mut stmt = tx.prepare(&format!(
                "SELECT {COLUMNS} FROM admin_tokens ORDER BY lower(name)"
            ))?;
            let rows = stmt.query_map([], from_sql)?.collect::<Result<_, _>>()?;
            Ok(rows)
        })
    }

    pub(crate) fn authenticate_admin_token(
        &self,
        presented: &str,
        now: i64,
    ) -> Result<Option<AdminToken>, StoreError> {
        let Some(lookup) = admin_token::lookup_key(presented) else {
            return Ok(None);
        };
        let presented_hash = admin_token::hash(presented);
        let found = self.read(|tx, _| {
            let mut stmt = tx.prepare(&format!(
                "SELECT {COLUMNS}, token_hash FROM admin_tokens WHERE lookup = ?1"
            ))?;
            let mut rows = stmt.query([lookup])?;
            let mut found = None;
            while let Some(r) = rows.next()? {
                let stored: Vec<u8> = r.get(6)?;
                if admin_token::hash_matches(&stored, &presented_hash) {
                    found = Some(from_sql(r)?);
                }
            }
            Ok(found)
        })?;
        let Some(mut token) = found else {
            return Ok(None);
        };
        if token
            .last_used_at
            .is_none_or(|t| now - t >= LAST_USED_GRANULARITY)
        {
            // Not a logged change: no revision bump, no change-log entry.
            self.write(|tx, _| {
                tx.execute(
                    "UPDATE admin_tokens SET last_used_at = ?2 WHERE id = ?1 \
                     AND (last_used_at IS NULL OR last_used_at < ?2)",
                    (&token.id, now),
                )?;
                Ok(())
            })?;
            token.last_used_at = Some(now);
        }
        Ok(Some(token))
    }

    pub(crate) fn revoke_admin_token(
        &self,
        id_or_name: &str,
        actor: &Actor,
        now: i64,
    ) -> Result<AdminToken, StoreError> {
        self.write(|tx, _| {
            let token = find(tx, id_or_name)?.ok_or_else(|| StoreError::NotFound {
                kind: KIND.noun(),
                lookup: id_or_name.to_owned(),
            })?;
            if token.role == Role::Owner {
                let owners: i64 = tx.query_row(
                    "SELECT count(*) FROM admin_tokens WHERE role = 'owner'",
                    [],
                    |r| r.get(0),
                )?;
                if owners <= 1 {
                    return Err(StoreError::invalid(
                        "token",
                        "the last owner token cannot be revoked; create another owner token first",
                    ));
                }
            }
            tx.execute("DELETE FROM admin_tokens WHERE id = ?1", [&token.id])?;
            record(
                tx,
                Change {
                    at: now,
                    actor,
                    action: ChangeAction::Delete,
                    kind: KIND,
                    subject_id: &token.id,
                    subject_name: &token.name,
                    changes: admin_token::logged_fields(&token, false),
                },
            )?;
            Ok(token)
        })
    }
}
