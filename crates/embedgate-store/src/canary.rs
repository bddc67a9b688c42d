//! The canary: a known plaintext sealed under each master key, so a wrong
//! key is refused when the store opens, before anything is read or written.
//!
//! The `master_keys` table holds one canary per key the store has known;
//! exactly one is `current`.

use crate::error::StoreError;
use crate::master_key::MasterKey;
use crate::sealed::{self, RowBinding, Sealed};
use crate::sql::{params, Sql};

const CANARY_PLAINTEXT: &[u8] = b"embedgate-store canary v1";

fn binding(key_id: &str) -> RowBinding<'_> {
    RowBinding {
        kind: "canary",
        id: key_id,
        version: 1,
    }
}

/// A fresh canary for `key`.
pub(crate) fn seal(key: &MasterKey) -> Result<Sealed, StoreError> {
    sealed::seal(key, binding(key.id()), CANARY_PLAINTEXT)
}

/// Whether the store already has a master key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum KeyCheck {
    /// No key recorded yet: a new store.
    Fresh,
    /// `key` is the store's current key.
    Current,
}

/// One row of `master_keys`.
pub(crate) struct StoredKey {
    pub id: String,
    /// `current` or `retired`.
    pub state: String,
    pub canary: Sealed,
}

/// Checks `key` against the stored keys and their canaries.
pub(crate) fn judge(keys: &[StoredKey], key: &MasterKey) -> Result<KeyCheck, StoreError> {
    let Some(current) = keys.iter().find(|k| k.state == "current") else {
        return Ok(KeyCheck::Fresh);
    };
    let wrong = |hint: &str| StoreError::WrongMasterKey {
        expected: current.id.clone(),
        given: key.id().to_owned(),
        hint: hint.to_owned(),
    };
    if current.id != key.id() {
        let retired = keys
            .iter()
            .any(|k| k.id == key.id() && k.state == "retired");
        return Err(wrong(if retired {
            " (this key was retired by a master key rotation; use the new key)"
        } else {
            ""
        }));
    }
    match sealed::open(key, binding(&current.id), &current.canary) {
        Ok(p) if p.as_slice() == CANARY_PLAINTEXT => Ok(KeyCheck::Current),
        _ => Err(wrong(
            " (the stored canary does not decrypt under this key)",
        )),
    }
}

/// Checks `key` against the stored canaries. Only reads.
pub(crate) fn check(sql: &mut dyn Sql, key: &MasterKey) -> Result<KeyCheck, StoreError> {
    let tables = sql.dialect().count_tables;
    if sql.int(tables, &[])? == 0 {
        return Ok(KeyCheck::Fresh);
    }
    let keys = sql.rows(
        "SELECT key_id, state, canary_nonce, canary_ciphertext FROM master_keys",
        &[],
        |r| {
            Ok(StoredKey {
                id: r.text(0)?,
                state: r.text(1)?,
                canary: Sealed {
                    nonce: r.bytes(2)?,
                    ciphertext: r.bytes(3)?,
                },
            })
        },
    )?;
    judge(&keys, key)
}

/// Records `key` as the store's key if the store has none yet (a new
/// store). Takes the write lock first and checks again under it, so two
/// processes opening a new store at once agree on one key.
pub(crate) fn record_if_fresh(sql: &mut dyn Sql, key: &MasterKey) -> Result<(), StoreError> {
    let lock = sql.dialect().lock_revision;
    sql.int(lock, &[])?;
    if check(sql, key)? == KeyCheck::Fresh {
        let c = seal(key)?;
        sql.execute(
            "INSERT INTO master_keys (key_id, state, canary_nonce, canary_ciphertext, created_at) \
             VALUES (?1, 'current', ?2, ?3, 0)",
            params![key.id(), &c.nonce, &c.ciphertext],
        )?;
    }
    Ok(())
}

/// Makes `new` the current key (a rotation), retiring `old`.
pub(crate) fn replace_current(
    sql: &mut dyn Sql,
    old: &MasterKey,
    new: &MasterKey,
    now: i64,
) -> Result<(), StoreError> {
    sql.execute(
        "UPDATE master_keys SET state = 'retired', retired_at = ?2 WHERE key_id = ?1",
        params![old.id(), now],
    )?;
    let c = seal(new)?;
    sql.execute(
        "INSERT INTO master_keys (key_id, state, canary_nonce, canary_ciphertext, created_at) \
         VALUES (?1, 'current', ?2, ?3, ?4) \
         ON CONFLICT (key_id) DO UPDATE SET state = 'current', retired_at = NULL, \
         canary_nonce = excluded.canary_nonce, canary_ciphertext = excluded.canary_ciphertext",
        params![new.id(), &c.nonce, &c.ciphertext, now],
    )?;
    Ok(())
}

/// Refuses to write if another process rotated the master key since this
/// handle was opened (rows sealed under the old key would be unreadable);
/// reads under the caller's transaction.
pub(crate) fn ensure_current_key(sql: &mut dyn Sql, key: &MasterKey) -> Result<(), StoreError> {
    let current = sql.first(
        "SELECT key_id FROM master_keys WHERE state = 'current'",
        &[],
        |r| r.text(0),
    )?;
    match current {
        Some(id) if id == key.id() => Ok(()),
        Some(id) => Err(StoreError::WrongMasterKey {
            expected: id,
            given: key.id().to_owned(),
            hint: " (the master key was rotated by another process; reopen with the new key)"
                .into(),
        }),
        None => Err(StoreError::Storage(
            "the store has no current master key".into(),
        )),
    }
}
