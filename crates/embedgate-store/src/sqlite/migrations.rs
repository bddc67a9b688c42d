//! The SQLite schema, versioned in the code. Keep the list in step with
//! PostgreSQL's (`postgres/migrations.rs`): migration `i` of both brings
//! version `i` to `i + 1`.
//!
//! The schema version lives in SQLite's `user_version`. Migrations run in
//! order inside one `BEGIN IMMEDIATE` transaction, so two processes opening a
//! fresh file at once cannot both apply them, and a crash leaves the old
//! version intact. Never edit a released migration: append a new one.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::StoreError;

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    r#"
CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO store_meta (key, value) VALUES ('revision', 0);

-- One canary per master key the store has known; exactly one is current.
CREATE TABLE master_keys (
    key_id            TEXT PRIMARY KEY,
    state             TEXT NOT NULL CHECK (state IN ('current', 'retired')),
    canary_nonce      BLOB NOT NULL,
    canary_ciphertext BLOB NOT NULL,
    created_at        INTEGER NOT NULL,
    retired_at        INTEGER
);
CREATE UNIQUE INDEX master_keys_one_current ON master_keys (state) WHERE state = 'current';

-- Both kinds of secret; kind-specific columns are NULL / empty for the other.
CREATE TABLE secrets (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('embed_secret', 'credential')),
    client_id     TEXT UNIQUE,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    environment   TEXT NOT NULL DEFAULT '',
    token_type    TEXT,
    issuer        TEXT NOT NULL DEFAULT '',
    scopes        TEXT NOT NULL DEFAULT '[]',
    owner         TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    expires_at    INTEGER,
    active        INTEGER NOT NULL DEFAULT 1,
    value_version INTEGER NOT NULL DEFAULT 1,
    fingerprint   TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    nonce         BLOB NOT NULL,
    ciphertext    BLOB NOT NULL
);
CREATE UNIQUE INDEX secrets_kind_name ON secrets (kind, lower(name));
CREATE INDEX secrets_expires_at ON secrets (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE change_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    subject_name TEXT NOT NULL,
    changes      TEXT NOT NULL
);
CREATE INDEX change_log_subject ON change_log (subject_id, seq);
"#,
    // 2: admin API tokens (only a SHA-256 of each token is kept).
    r#"
CREATE TABLE admin_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
    lookup       TEXT NOT NULL,
    token_hash   BLOB NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE UNIQUE INDEX admin_tokens_name ON admin_tokens (lower(name));
CREATE INDEX admin_tokens_lookup ON admin_tokens (lookup);
"#,
    // 3: the revision each change made, so a reader can apply only what
    // changed since its revision (NULL for changes logged before); pages
    // of secrets by name.
    r#"
ALTER TABLE change_log ADD COLUMN revision INTEGER;
CREATE UNIQUE INDEX change_log_revision ON change_log (revision);
CREATE INDEX secrets_kind_name_id ON secrets (kind, lower(name), id);
"#,
];

/// The schema version this build writes.
pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;

/// The file's schema version (0 for a new, empty file).
pub(crate) fn version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Brings the schema up to [`LATEST`]; refuses a newer file.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    // Checked before taking the write lock: an up-to-date file (the common
    // case) is never written to.
    let found = version(conn)?;
    if found > LATEST {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: LATEST,
        });
    }
    if found == LATEST {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Re-read under the lock: another process may have migrated meanwhile.
    let found = version(&tx)?;
    if found > LATEST {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: LATEST,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_newer() {
        let mut c = Connection::open_in_memory().expect("open");
        migrate(&mut c).expect("migrate");
        assert_eq!(version(&c).expect("v"), LATEST);
        migrate(&mut c).expect("idempotent");
        c.pragma_update(None, "user_version", LATEST + 1)
            .expect("set");
        assert_eq!(migrate(&mut c).expect_err("newer").code(), "schema_too_new");
    }
}
