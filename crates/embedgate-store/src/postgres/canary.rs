//! The canary (see `sqlite/canary.rs`): a known plaintext sealed under each
//! master key, so a wrong key is refused on open before anything is written.

use postgres::GenericClient;

use super::migrations;
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
pub(super) fn seal(key: &MasterKey) -> Result<Sealed, StoreError> {
    sealed::seal(key, binding(key.id()), CANARY_PLAINTEXT)
}

/// Whether the store already has a master key.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum KeyCheck {
    /// No key recorded yet: a new store.
    Fresh,
    /// `key` is the store's current key.
    Current,
}

/// Checks `key` against the stored canaries. Only reads.
pub(super) fn check(c: &mut impl GenericClient, key: &MasterKey) -> Result<KeyCheck, StoreError> {
    if migrations::version(c)? == 0 {
        return Ok(KeyCheck::Fresh);
    }
    let keys: Vec<(String, String, Sealed)> = c
        .query(
            "SELECT key_id, state, canary_nonce, canary_ciphertext FROM master_keys",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok((
                r.try_get(0)?,
                r.try_get(1)?,
                Sealed {
                    nonce: r.try_get(2)?,
                    ciphertext: r.try_get(3)?,
                },
            ))
        })
        .collect::<Result<_, postgres::Error>>()?;
    let Some((current_id, _, current_canary)) = keys.iter().find(|(_, s, _)| s == "current") else {
        return Ok(KeyCheck::Fresh);
    };
    let wrong = |hint: &str| StoreError::WrongMasterKey {
        expected: current_id.clone(),
        given: key.id().to_owned(),
        hint: hint.to_owned(),
    };
    if current_id != key.id() {
        let retired = keys
            .iter()
            .any(|(id, state, _)| id == key.id() && state == "retired");
        return Err(wrong(if retired {
            " (this key was retired by a master key rotation; use the new key)"
        } else {
            ""
        }));
    }
    match sealed::open(key, binding(current_id), current_canary) {
        Ok(p) if p.as_slice() == CANARY_PLAINTEXT => Ok(KeyCheck::Current),
        _ => Err(wrong(
            " (the stored canary does not decrypt under this key)",
        )),
    }
}

/// Refuses to write if another process rotated the master key since this
/// handle was opened (rows sealed under the old key would be unreadable).
pub(super) fn ensure_current_key(
    c: &mut impl GenericClient,
    key: &MasterKey,
) -> Result<(), StoreError> {
    let current: Option<String> = c
        .query_opt(
            "SELECT key_id FROM master_keys WHERE state = 'current'",
            &[],
        )?
        .map(|r| r.get(0));
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
