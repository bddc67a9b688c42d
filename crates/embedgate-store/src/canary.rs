//! The canary: a known plaintext sealed under each master key, so a wrong
//! key is refused when the store opens, before anything is read or written.
//!
//! The rules are here; each backend only reads the `master_keys` rows
//! (`sqlite/canary.rs`, `postgres/canary.rs`).

use crate::error::StoreError;
use crate::master_key::MasterKey;
use crate::sealed::{self, RowBinding, Sealed};

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

/// Refuses to write if another process rotated the master key since this
/// handle was opened (rows sealed under the old key would be unreadable);
/// `current` is the store's current key id, read in the write transaction.
pub(crate) fn ensure_current(current: Option<String>, key: &MasterKey) -> Result<(), StoreError> {
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
