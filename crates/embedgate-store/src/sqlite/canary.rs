//! Reading the canaries (the rules are in `crate::canary`).

use rusqlite::{Connection, OptionalExtension as _};

use crate::canary::{self, StoredKey};
pub(super) use crate::canary::{seal, KeyCheck};
use crate::error::StoreError;
use crate::master_key::MasterKey;
use crate::migrations;
use crate::sealed::Sealed;

/// Checks `key` against the stored canaries. Only reads.
pub(super) fn check(conn: &Connection, key: &MasterKey) -> Result<KeyCheck, StoreError> {
    if migrations::version(conn)? == 0 {
        return Ok(KeyCheck::Fresh);
    }
    let mut stmt =
        conn.prepare("SELECT key_id, state, canary_nonce, canary_ciphertext FROM master_keys")?;
    let keys = stmt
        .query_map([], |r| {
            Ok(StoredKey {
                id: r.get(0)?,
                state: r.get(1)?,
                canary: Sealed {
                    nonce: r.get(2)?,
                    ciphertext: r.get(3)?,
                },
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    canary::judge(&keys, key)
}

/// Refuses to write under a key another process has rotated away; reads
/// under the caller's transaction.
pub(super) fn ensure_current_key(conn: &Connection, key: &MasterKey) -> Result<(), StoreError> {
    let current = conn
        .query_row(
            "SELECT key_id FROM master_keys WHERE state = 'current'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    canary::ensure_current(current, key)
}
