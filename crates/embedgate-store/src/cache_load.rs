//! What a verifier's cache reads: every embed secret with its decrypted
//! value, or only those changed after a revision. A row whose value fails
//! to decrypt does not fail the load: it is reported on its own
//! ([`UnreadableRow`]) so the verifier refuses that one secret and keeps
//! every other. Also `Store::verify`, which checks every sealed value.

use std::collections::HashMap;

use serde::Serialize;

use crate::canary;
use crate::change_log::{self, SubjectKind};
use crate::embed_secret::EmbedKeyMaterial;
use crate::error::StoreError;
use crate::master_key::MasterKey;
use crate::row::{Row, COLUMNS};
use crate::sql::{placeholders, Sql, Value, READ_REVISION};

/// A row whose sealed value cannot be read: altered, copied from another
/// row, or sealed under a key this handle does not hold. Carries no value.
#[derive(Debug)]
#[non_exhaustive]
pub struct UnreadableRow {
    /// The row id.
    pub id: String,
    /// Embed secret or credential.
    pub kind: SubjectKind,
    /// Its name.
    pub name: String,
    /// An embed secret's client id (`eg_kid`), so a verifier can refuse it
    /// by name rather than not know it.
    pub client_id: Option<String>,
    /// Why (code `decrypt_failed`).
    pub error: StoreError,
}

impl Serialize for UnreadableRow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut st = s.serialize_struct("UnreadableRow", 5)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("client_id", &self.client_id)?;
        st.serialize_field("error", self.error.code())?;
        st.end()
    }
}

/// Embed secrets as a verifier's cache holds them, as of one revision.
#[derive(Debug)]
#[non_exhaustive]
pub struct KeyLoad {
    /// The revision the load reflects (one snapshot).
    pub revision: u64,
    /// The readable embed secrets (active and inactive, expired included).
    pub keys: Vec<EmbedKeyMaterial>,
    /// The embed secrets whose value cannot be decrypted.
    pub unreadable: Vec<UnreadableRow>,
}

/// What changed after a revision ([`crate::Store::changes_since`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct KeyChanges {
    /// The revision the store is at; applying these changes brings a
    /// cache there.
    pub revision: u64,
    /// Row ids of every embed secret changed: those in neither `keys` nor
    /// `unreadable` were deleted.
    pub embed_ids: Vec<String>,
    /// The changed embed secrets that exist, with their values.
    pub keys: Vec<EmbedKeyMaterial>,
    /// The changed embed secrets whose value cannot be decrypted.
    pub unreadable: Vec<UnreadableRow>,
    /// Row ids of every credential changed (created, replaced, renamed,
    /// (de)activated, deleted).
    pub credential_ids: Vec<String>,
}

/// What [`crate::Store::verify`] found.
#[derive(Debug, Serialize)]
#[non_exhaustive]
pub struct VerifyReport {
    /// The master key the store is under (its canary decrypted).
    pub master_key_id: String,
    /// Sealed values checked (embed secrets and credentials).
    pub rows_checked: u64,
    /// The rows that failed, by id.
    pub unreadable: Vec<UnreadableRow>,
}

/// Most changes [`crate::Store::changes_since`] applies one by one; past
/// it a full reload is cheaper.
pub(crate) const MAX_CHANGES: usize = 2000;

fn unreadable(r: Row, error: StoreError) -> UnreadableRow {
    UnreadableRow {
        id: r.id,
        kind: r.kind,
        name: r.name,
        client_id: r.client_id,
        error,
    }
}

/// Sorts one embed secret row into readable or not.
fn sort_row(
    r: Row,
    key: &MasterKey,
    reactivated: &HashMap<String, i64>,
    keys: &mut Vec<EmbedKeyMaterial>,
    bad: &mut Vec<UnreadableRow>,
) {
    match r.decrypt(key) {
        Ok(value) => keys.push(r.into_key_material(value, reactivated)),
        Err(e) => bad.push(unreadable(r, e)),
    }
}

/// Every embed secret, decrypted as it arrives (a proxy loads 100,000 at
/// start), in one snapshot.
pub(crate) fn load_all(sql: &mut dyn Sql, key: &MasterKey) -> Result<KeyLoad, StoreError> {
    let revision = u64::try_from(sql.int(READ_REVISION, &[])?).unwrap_or(0);
    let reactivated = change_log::last_reactivations(sql, None)?;
    let mut keys = Vec::new();
    let mut bad = Vec::new();
    sql.query(
        &format!("SELECT {COLUMNS} FROM secrets WHERE kind = 'embed_secret' ORDER BY id"),
        &[],
        &mut |r| {
            sort_row(Row::read(r)?, key, &reactivated, &mut keys, &mut bad);
            Ok(())
        },
    )?;
    Ok(KeyLoad {
        revision,
        keys,
        unreadable: bad,
    })
}

/// The embed secrets among `ids` that exist.
pub(crate) fn load_ids(
    sql: &mut dyn Sql,
    key: &MasterKey,
    ids: &[String],
) -> Result<KeyLoad, StoreError> {
    let revision = u64::try_from(sql.int(READ_REVISION, &[])?).unwrap_or(0);
    let reactivated = change_log::last_reactivations(sql, Some(ids))?;
    let mut keys = Vec::new();
    let mut bad = Vec::new();
    for chunk in ids.chunks(500) {
        let values: Vec<Value<'_>> = chunk.iter().map(Value::from).collect();
        sql.query(
            &format!(
                "SELECT {COLUMNS} FROM secrets WHERE kind = 'embed_secret' AND id IN ({})",
                placeholders(1, chunk.len())
            ),
            &values,
            &mut |r| {
                sort_row(Row::read(r)?, key, &reactivated, &mut keys, &mut bad);
                Ok(())
            },
        )?;
    }
    Ok(KeyLoad {
        revision,
        keys,
        unreadable: bad,
    })
}

/// The changes after `revision`, with the changed embed secrets loaded, in
/// one snapshot; `None` when the change log cannot tell them all.
pub(crate) fn since(
    sql: &mut dyn Sql,
    key: &MasterKey,
    revision: u64,
) -> Result<Option<KeyChanges>, StoreError> {
    let Some(since) = change_log::since(sql, revision, MAX_CHANGES)? else {
        return Ok(None);
    };
    let mut embed_ids: Vec<String> = Vec::new();
    let mut credential_ids: Vec<String> = Vec::new();
    for (kind, id) in since.subjects {
        let list = match kind {
            SubjectKind::EmbedSecret => &mut embed_ids,
            SubjectKind::Credential => &mut credential_ids,
            _ => continue,
        };
        if !list.contains(&id) {
            list.push(id);
        }
    }
    let load = if embed_ids.is_empty() {
        KeyLoad {
            revision: since.revision,
            keys: Vec::new(),
            unreadable: Vec::new(),
        }
    } else {
        load_ids(sql, key, &embed_ids)?
    };
    Ok(Some(KeyChanges {
        revision: since.revision,
        embed_ids,
        keys: load.keys,
        unreadable: load.unreadable,
        credential_ids,
    }))
}

/// Checks the canary and every sealed value, in one snapshot.
pub(crate) fn verify(sql: &mut dyn Sql, key: &MasterKey) -> Result<VerifyReport, StoreError> {
    canary::check(sql, key)?;
    let mut rows_checked = 0u64;
    let mut bad = Vec::new();
    sql.query(
        &format!("SELECT {COLUMNS} FROM secrets ORDER BY kind, id"),
        &[],
        &mut |r| {
            let row = Row::read(r)?;
            rows_checked += 1;
            if let Err(e) = row.decrypt(key) {
                bad.push(unreadable(row, e));
            }
            Ok(())
        },
    )?;
    Ok(VerifyReport {
        master_key_id: key.id().to_owned(),
        rows_checked,
        unreadable: bad,
    })
}

/// The store's revision.
pub(crate) fn revision(sql: &mut dyn Sql) -> Result<u64, StoreError> {
    Ok(u64::try_from(sql.int(READ_REVISION, &[])?).unwrap_or(0))
}
