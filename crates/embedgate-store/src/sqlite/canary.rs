//! The canary: a known plaintext sealed under each master key, so a wrong
//! key is refused when the store opens, before anything is read or written.

use rusqlite::Connection;

use crate::error::StoreError;
use crate::master_key::MasterKey;
use crate::migrations;
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
pub(super) fn check(conn: &Connection, key: &MasterKey) -> Result<KeyCheck, StoreError> {
    if migrations::version(conn)? == 0 {
        return Ok(KeyCheck::Fresh);
    }
    let mut stmt =
        conn.prepare("SELECT key_id, state, canary_nonce, canary_ciphertext FROM master_keys")?;
    let keys = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                Sealed {
                    nonce: r.get(2)?,
                    ciphertext: r.get(3)?,
                },
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
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

/// The id of the store's current key, read under the caller's transaction.
pub(super) fn current_key_id(conn: &Connection) -> Result<Option<String>, StoreError> {
    use rusqlite::OptionalExtension as _;
    Ok(conn
        .query_row(
            "SELECT key_id FROM master_keys WHERE state = 'current'",
            [],
            |r| r.get(0),
        )
        .optional()?)
}
