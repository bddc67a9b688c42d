//! Admin tokens: bearer tokens for the admin API, each with a role.
//!
//! A token is `egadm_` + 43 base64url characters (256 random bits from the
//! OS CSPRNG). It is returned once, by [`crate::Store::create_admin_token`];
//! the store keeps only its SHA-256 (a fast hash is enough for 256-bit random
//! values: there is nothing to brute-force) and a short lookup prefix, and
//! compares hashes in constant time. Creating and revoking a token is
//! written to the change log (kind `admin_token`), never the token.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use rand::RngCore as _;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::change_log::{Change, ChangeAction, FieldChange, SubjectKind};
use crate::checked::{Actor, NewToken};
use crate::error::StoreError;
use crate::paging::{self, ListPage, ListRequest};
use crate::sql::{params, Sql, SqlRow};
use crate::writer::Writer;

/// Prefix of every admin token.
pub const ADMIN_TOKEN_PREFIX: &str = "egadm_";
/// Prefix of an admin token's row id.
pub const ADMIN_TOKEN_ID_PREFIX: &str = "tok_";
/// Characters after [`ADMIN_TOKEN_PREFIX`] that the store keeps in clear to
/// find the row (48 of the 256 bits; the hash check covers all of them).
pub(crate) const LOOKUP_CHARS: usize = 8;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read metadata and the change log; never a value, never a change.
    Viewer,
    /// Everything a viewer may, plus managing secrets and credentials.
    Admin,
    /// Everything, including admin tokens.
    Owner,
}

impl Role {
    /// Stable text form (`owner`, `admin`, `viewer`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }

    /// Whether a token of this role may do what `needed` may.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Role, StoreError> {
        [Role::Owner, Role::Admin, Role::Viewer]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| StoreError::invalid("role", "expected one of owner, admin, viewer"))
    }
}

/// An admin token's metadata. Never holds the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminToken {
    /// Row id (`tok_…`).
    pub id: String,
    /// Unique name (case-insensitive), 1–100 characters; the actor in the
    /// change log for every change made with the token.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// Who created it.
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last successful authentication (to the minute).
    pub last_used_at: Option<i64>,
}

/// What to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAdminToken {
    /// Unique name.
    pub name: String,
    /// Role.
    pub role: Role,
}

/// A new token: the only time the token itself is returned.
#[derive(Clone, Serialize)]
pub struct CreatedAdminToken {
    /// Its metadata.
    pub token: AdminToken,
    /// The bearer token, to be shown once.
    #[serde(serialize_with = "serialize_zeroizing")]
    pub value: Zeroizing<String>,
}

fn serialize_zeroizing<S: serde::Serializer>(
    v: &Zeroizing<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.as_str())
}

impl fmt::Debug for CreatedAdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedAdminToken")
            .field("token", &self.token)
            .field("value", &"[redacted]")
            .finish()
    }
}

/// A fresh token: `egadm_` + base64url of 32 random bytes.
pub(crate) fn generate() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(bytes.as_mut());
    Zeroizing::new(format!(
        "{ADMIN_TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref())
    ))
}

/// The lookup prefix of a presented token, if it has the token's shape.
pub(crate) fn lookup_key(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(ADMIN_TOKEN_PREFIX)?;
    if rest.len() != 43
        || !rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    rest.get(..LOOKUP_CHARS)
}

/// SHA-256 of the token.
pub(crate) fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Constant-time comparison of a stored hash with a presented token's.
pub(crate) fn hash_matches(stored: &[u8], presented: &[u8; 32]) -> bool {
    stored.len() == 32 && bool::from(stored.ct_eq(presented))
}

/// What the change log records of a token's creation (`created`) or
/// revocation: its name and role, never the token.
pub(crate) fn logged_fields(token: &AdminToken, created: bool) -> Vec<FieldChange> {
    let name = Some(token.name.clone());
    let role = Some(token.role.as_str().to_owned());
    if created {
        vec![
            FieldChange::new("name", None, name),
            FieldChange::new("role", None, role),
        ]
    } else {
        vec![
            FieldChange::new("name", name, None),
            FieldChange::new("role", role, None),
        ]
    }
}

// ----- the `admin_tokens` table: hashes of admin API tokens, never the tokens

const KIND: SubjectKind = SubjectKind::AdminToken;
const COLUMNS: &str = "id, name, role, created_by, created_at, last_used_at";

/// `last_used_at` is written at most once per this many seconds per token,
/// so reading the API does not turn into a write per request.
pub(crate) const LAST_USED_GRANULARITY: i64 = 60;

fn read(r: &dyn SqlRow) -> Result<AdminToken, StoreError> {
    Ok(AdminToken {
        id: r.text(0)?,
        name: r.text(1)?,
        role: r.text(2)?.parse()?,
        created_by: r.text(3)?,
        created_at: r.int(4)?,
        last_used_at: r.opt_int(5)?,
    })
}

fn find(sql: &mut dyn Sql, id_or_name: &str) -> Result<Option<AdminToken>, StoreError> {
    // Two indexed lookups; the id wins.
    if let Some(t) = sql.first(
        &format!("SELECT {COLUMNS} FROM admin_tokens WHERE id = ?1"),
        params![id_or_name],
        read,
    )? {
        return Ok(Some(t));
    }
    sql.first(
        &format!("SELECT {COLUMNS} FROM admin_tokens WHERE lower(name) = lower(?1)"),
        params![id_or_name],
        read,
    )
}

/// Inserts a new token and logs it; `name_taken` if the name is in use.
pub(crate) fn create(
    w: &mut Writer<'_>,
    new: &NewToken,
    actor: &Actor,
    now: i64,
) -> Result<CreatedAdminToken, StoreError> {
    let token = &new.token;
    if find(w.sql, &token.name)?.is_some_and(|t| t.name.eq_ignore_ascii_case(&token.name)) {
        return Err(StoreError::NameTaken {
            kind: KIND.noun(),
            name: token.name.clone(),
        });
    }
    w.sql.execute(
        "INSERT INTO admin_tokens (id, name, role, lookup, token_hash, created_by, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            &token.id,
            &token.name,
            token.role.as_str(),
            &new.lookup,
            &new.hash[..],
            &token.created_by,
            token.created_at,
        ],
    )?;
    w.record(Change {
        at: now,
        actor,
        action: ChangeAction::Create,
        kind: KIND,
        subject_id: &token.id,
        subject_name: &token.name,
        client_id: None,
        changes: logged_fields(token, true),
    })?;
    Ok(CreatedAdminToken {
        token: token.clone(),
        value: new.value.clone(),
    })
}

/// Creates the token only if the store has none (first start).
pub(crate) fn create_first(
    w: &mut Writer<'_>,
    new: &NewToken,
    actor: &Actor,
    now: i64,
) -> Result<Option<CreatedAdminToken>, StoreError> {
    let any = w
        .sql
        .first("SELECT id FROM admin_tokens LIMIT 1", &[], |r| r.text(0))?;
    if any.is_some() {
        return Ok(None);
    }
    create(w, new, actor, now).map(Some)
}

/// Every token, by name.
pub(crate) fn all(sql: &mut dyn Sql) -> Result<Vec<AdminToken>, StoreError> {
    let order = sql.dialect().name_key;
    sql.rows(
        &format!("SELECT {COLUMNS} FROM admin_tokens ORDER BY {order}, id"),
        &[],
        read,
    )
}

/// One page of tokens, by name (`search` matches the name).
pub(crate) fn page(
    sql: &mut dyn Sql,
    request: &ListRequest,
) -> Result<ListPage<AdminToken>, StoreError> {
    let q = request.search.to_lowercase();
    paging::page(sql, "admin_tokens", COLUMNS, None, request, read, |t| {
        q.is_empty() || t.name.to_lowercase().contains(&q)
    })
}

/// The token a presented bearer token belongs to, if any (hashes compared
/// in constant time).
pub(crate) fn find_presented(
    sql: &mut dyn Sql,
    presented: &str,
) -> Result<Option<AdminToken>, StoreError> {
    let Some(lookup) = lookup_key(presented) else {
        return Ok(None);
    };
    let presented_hash = hash(presented);
    let mut found = None;
    sql.query(
        &format!("SELECT {COLUMNS}, token_hash FROM admin_tokens WHERE lookup = ?1"),
        params![lookup],
        &mut |r| {
            if hash_matches(&r.bytes(6)?, &presented_hash) {
                found = Some(read(r)?);
            }
            Ok(())
        },
    )?;
    Ok(found)
}

/// Notes a use (not a logged change: no revision bump, no log entry).
pub(crate) fn touch(sql: &mut dyn Sql, id: &str, now: i64) -> Result<(), StoreError> {
    sql.execute(
        "UPDATE admin_tokens SET last_used_at = ?2 WHERE id = ?1 \
         AND (last_used_at IS NULL OR last_used_at < ?2)",
        params![id, now],
    )?;
    Ok(())
}

/// Deletes a token and logs it; refuses to remove the last owner token.
pub(crate) fn revoke(
    w: &mut Writer<'_>,
    id_or_name: &str,
    actor: &Actor,
    now: i64,
) -> Result<AdminToken, StoreError> {
    let token = find(w.sql, id_or_name)?.ok_or_else(|| StoreError::NotFound {
        kind: KIND.noun(),
        lookup: id_or_name.to_owned(),
    })?;
    if token.role == Role::Owner {
        let owners = w.sql.int(
            "SELECT count(*) FROM admin_tokens WHERE role = 'owner'",
            &[],
        )?;
        if owners <= 1 {
            return Err(StoreError::invalid(
                "token",
                "the last owner token cannot be revoked; create another owner token first",
            ));
        }
    }
    w.sql
        .execute("DELETE FROM admin_tokens WHERE id = ?1", params![&token.id])?;
    w.record(Change {
        at: now,
        actor,
        action: ChangeAction::Delete,
        kind: KIND,
        subject_id: &token.id,
        subject_name: &token.name,
        client_id: None,
        changes: logged_fields(&token, false),
    })?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_and_hash() {
        let t = generate();
        assert!(t.starts_with(ADMIN_TOKEN_PREFIX));
        assert_eq!(t.len(), ADMIN_TOKEN_PREFIX.len() + 43);
        assert!(lookup_key(&t).is_some());
        assert_ne!(*generate(), *t);
        assert!(lookup_key("egadm_short").is_none());
        assert!(lookup_key(&t.replace("egadm_", "xxxxx_")).is_none());
        let h = hash(&t);
        assert!(hash_matches(&h, &h));
        assert!(!hash_matches(&h, &hash("other")));
        assert!(!hash_matches(&h[..31], &h));
    }

    #[test]
    fn roles_order() {
        assert!(Role::Owner.allows(Role::Admin));
        assert!(Role::Admin.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Admin));
        assert!(!Role::Admin.allows(Role::Owner));
        assert_eq!("admin".parse::<Role>().expect("role"), Role::Admin);
        assert_eq!(
            "root".parse::<Role>().expect_err("bad").code(),
            "invalid_input"
        );
    }
}
