//! Reading the canaries on PostgreSQL (the rules are in `crate::canary`).

use postgres::GenericClient;

use super::migrations;
use crate::canary::{self, StoredKey};
pub(super) use crate::canary::{seal, KeyCheck};
use crate::error::StoreError;
use crate::master_key::MasterKey;
use crate::sealed::Sealed;

/// Checks `key` against the stored canaries. Only reads.
pub(super) fn check(c: &mut impl GenericClient, key: &MasterKey) -> Result<KeyCheck, StoreError> {
    if migrations::version(c)? == 0 {
        return Ok(KeyCheck::Fresh);
    }
    let keys: Vec<StoredKey> = c
        .query(
            "SELECT key_id, state, canary_nonce, canary_ciphertext FROM master_keys",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(StoredKey {
                id: r.try_get(0)?,
                state: r.try_get(1)?,
                canary: Sealed {
                    nonce: r.try_get(2)?,
                    ciphertext: r.try_get(3)?,
                },
            })
        })
        .collect::<Result<_, postgres::Error>>()?;
    canary::judge(&keys, key)
}

/// Refuses to write under a key another process has rotated away; reads
/// under the caller's transaction.
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
    canary::ensure_current(current, key)
}
