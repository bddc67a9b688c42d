//! The PostgreSQL schema, versioned in the code like SQLite's
//! (`sqlite/migrations.rs`): migration `i` brings version `i` to `i + 1`.
//!
//! The version lives in `store_meta` (key `schema_version`). Migrations run
//! in one transaction under an advisory lock per schema, so two processes
//! opening a fresh schema at once cannot both apply them. Never edit a
//! released migration: append one, and keep the list in step with SQLite's.

use postgres::{Client, GenericClient};

use crate::error::StoreError;

const MIGRATIONS: &[&str] = &[
    // 1: initial schema (SQLite migration 1).
    r#"
CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO store_meta (key, value) VALUES ('revision', 0), ('schema_version', 0);

CREATE TABLE master_keys (
    key_id            TEXT PRIMARY KEY,
    state             TEXT NOT NULL CHECK (state IN ('current', 'retired')),
    canary_nonce      BYTEA NOT NULL,
    canary_ciphertext BYTEA NOT NULL,
    created_at        BIGINT NOT NULL,
    retired_at        BIGINT
);
CREATE UNIQUE INDEX master_keys_one_current ON master_keys (state) WHERE state = 'current';

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
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    expires_at    BIGINT,
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    value_version BIGINT NOT NULL DEFAULT 1,
    fingerprint   TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    nonce         BYTEA NOT NULL,
    ciphertext    BYTEA NOT NULL
);
CREATE UNIQUE INDEX secrets_kind_name ON secrets (kind, lower(name));
CREATE INDEX secrets_expires_at ON secrets (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE change_log (
    seq          BIGSERIAL PRIMARY KEY,
    at           BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    subject_name TEXT NOT NULL,
    changes      TEXT NOT NULL
);
CREATE INDEX change_log_subject ON change_log (subject_id, seq);
"#,
    // 2: admin API tokens (SQLite migration 2; only a SHA-256 of each token).
    r#"
CREATE TABLE admin_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
    lookup       TEXT NOT NULL,
    token_hash   BYTEA NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE UNIQUE INDEX admin_tokens_name ON admin_tokens (lower(name));
CREATE INDEX admin_tokens_lookup ON admin_tokens (lookup);
"#,
    // 3: the revision each change made (SQLite migration 3); pages of
    // secrets in byte order of the lower-cased name.
    r#"
ALTER TABLE change_log ADD COLUMN revision BIGINT;
CREATE UNIQUE INDEX change_log_revision ON change_log (revision);
CREATE INDEX secrets_kind_name_id ON secrets (kind, (lower(name) COLLATE "C"), id);
"#,
];

/// The schema version this build writes.
const LATEST: i64 = MIGRATIONS.len() as i64;

/// The schema's version (0 for an empty schema).
fn version(c: &mut impl GenericClient) -> Result<i64, StoreError> {
    let exists: bool = c
        .query_one(
            // A plain MVCC read of the catalog, not to_regclass(): after
            // waiting for the migration lock, this sees the tables another
            // process just created (to_regclass may use a stale catalog
            // snapshot, since an advisory lock processes no invalidations).
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relname = 'store_meta')",
            &[],
        )?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let v = c.query_opt(
        "SELECT value FROM store_meta WHERE key = 'schema_version'",
        &[],
    )?;
    Ok(v.map_or(0, |r| r.get(0)))
}

/// Brings the schema up to [`LATEST`]; refuses a newer one.
pub(super) fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let too_new = |found| StoreError::SchemaTooNew {
        found,
        supported: LATEST,
    };
    let found = version(client)?;
    if found > LATEST {
        return Err(too_new(found));
    }
    if found == LATEST {
        return Ok(());
    }
    let mut tx = client.transaction()?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':embedgate'))",
        &[],
    )?;
    let found = version(&mut tx)?;
    if found > LATEST {
        return Err(too_new(found));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.batch_execute(sql)?;
        tx.execute(
            "UPDATE store_meta SET value = $1 WHERE key = 'schema_version'",
            &[&(i as i64 + 1)],
        )?;
    }
    tx.commit()?;
    Ok(())
}
