//! The `admin_tokens` table on PostgreSQL (see `sqlite/admin_token.rs`):
//! hashes of admin API tokens, never the tokens.

use postgres::GenericClient;

use super::change_log::{record, Change};
use super::{PostgresBackend, WriteTx};
use crate::admin_token::{self, AdminToken, CreatedAdminToken, Role};
use crate::change_log::{ChangeAction, SubjectKind};
use crate::checked::{Actor, NewToken};
use crate::error::StoreError;

const KIND: SubjectKind = SubjectKind::AdminToken;
const COLUMNS: &str = "id, name, role, created_by, created_at, last_used_at";

/// `last_used_at` is written at most once per this many seconds per token,
/// so reading the API does not turn into a write per request.
const LAST_USED_GRANULARITY: i64 = 60;

fn from_pg(r: &postgres::Row) -> Result<AdminToken, StoreError> {
    let role: String = r.try_get(2)?;
    Ok(AdminToken {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        role: role.parse()?,
        created_by: r.try_get(3)?,
        created_at: r.try_get(4)?,
        last_used_at: r.try_get(5)?,
    })
}

fn find(c: &mut impl GenericClient, id_or_name: &str) -> Result<Option<AdminToken>, StoreError> {
    c.query_opt(
        &format!(
            "SELECT {COLUMNS} FROM admin_tokens WHERE id = $1 OR lower(name) = lower($1) \
             ORDER BY id = $1 DESC LIMIT 1"
        ),
        &[&id_or_name],
    )?
    .as_ref()
    .map(from_pg)
    .transpose()
}

fn insert(
    w: &mut WriteTx<'_>,
    new: &NewToken,
    actor: &Actor,
    now: i64,
) -> Result<CreatedAdminToken, StoreError> {
    let token = &new.token;
    if find(&mut w.tx, &token.name)?.is_some_and(|t| t.name.eq_ignore_ascii_case(&token.name)) {
        return Err(StoreError::NameTaken {
            kind: KIND.noun(),
            name: token.name.clone(),
        });
    }
    w.tx.execute(
        "INSERT INTO admin_tokens (id, name, role, lookup, token_hash, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &token.id,
            &token.name,
            &token.role.as_str(),
            &new.lookup,
            &&new.hash[..],
            &token.created_by,
            &token.created_at,
        ],
    )?;
    record(
        w,
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

impl PostgresBackend {
    pub(crate) fn create_admin_token(
        &self,
        new: &NewToken,
        actor: &Actor,
        now: i64,
    ) -> Result<CreatedAdminToken, StoreError> {
        self.write(|w, _| insert(w, new, actor, now))
    }

    pub(crate) fn create_first_owner_token(
        &self,
        new: &NewToken,
        actor: &Actor,
        now: i64,
    ) -> Result<Option<CreatedAdminToken>, StoreError> {
        self.write(|w, _| {
            let any: i64 =
                w.tx.query_one("SELECT count(*) FROM admin_tokens", &[])?
                    .get(0);
            if any > 0 {
                return Ok(None);
            }
            insert(w, new, actor, now).map(Some)
        })
    }

    pub(crate) fn list_admin_tokens(&self) -> Result<Vec<AdminToken>, StoreError> {
        self.read(|tx, _| {
            tx.query(
                &format!("SELECT {COLUMNS} FROM admin_tokens ORDER BY lower(name) COLLATE \"C\""),
                &[],
            )?
            .iter()
            .map(from_pg)
            .collect()
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
            let rows = tx.query(
                &format!("SELECT {COLUMNS}, token_hash FROM admin_tokens WHERE lookup = $1"),
                &[&lookup],
            )?;
            let mut found = None;
            for r in &rows {
                let stored: Vec<u8> = r.try_get(6)?;
                if admin_token::hash_matches(&stored, &presented_hash) {
                    found = Some(from_pg(r)?);
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
            self.quiet_write(|tx| {
                tx.execute(
                    "UPDATE admin_tokens SET last_used_at = $2 WHERE id = $1 \
                     AND (last_used_at IS NULL OR last_used_at < $2)",
                    &[&token.id, &now],
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
        self.write(|w, _| {
            let token = find(&mut w.tx, id_or_name)?.ok_or_else(|| StoreError::NotFound {
                kind: KIND.noun(),
                lookup: id_or_name.to_owned(),
            })?;
            if token.role == Role::Owner {
                let owners: i64 =
                    w.tx.query_one(
                        "SELECT count(*) FROM admin_tokens WHERE role = 'owner'",
                        &[],
                    )?
                    .get(0);
                if owners <= 1 {
                    return Err(StoreError::invalid(
                        "token",
                        "the last owner token cannot be revoked; create another owner token first",
                    ));
                }
            }
            w.tx.execute("DELETE FROM admin_tokens WHERE id = $1", &[&token.id])?;
            record(
                w,
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
