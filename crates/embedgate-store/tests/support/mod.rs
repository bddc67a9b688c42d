//! Helpers shared by the store's integration tests: every test runs against
//! both backends — a real SQLite file in a temporary directory, and a fresh
//! schema in the PostgreSQL at `EMBEDGATE_TEST_POSTGRES_URL` (dropped after
//! the test). Without that variable the PostgreSQL variants FAIL: `cargo
//! xtask test` sets it to the local server.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use embedgate_store::{MasterKey, NewEmbedSecret, Store};

/// Arbitrary fixed "now" for tests (2023-11-14T22:13:20Z).
pub const NOW: i64 = 1_700_000_000;
pub const DAY: i64 = 86_400;

/// The variable naming the PostgreSQL server the tests use.
pub const POSTGRES_ENV: &str = "EMBEDGATE_TEST_POSTGRES_URL";

/// Runs each named `fn(TestStore)` once per backend, as
/// `sqlite::NAME` and `postgres::NAME`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(super::support::TestStore::sqlite()) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(super::support::TestStore::postgres()) } )*
        }
    };
}

/// Where a test store lives.
pub enum Place {
    Sqlite {
        dir: tempfile::TempDir,
        path: PathBuf,
    },
    Postgres {
        /// The server URL without the schema option.
        base: String,
        schema: String,
    },
}

pub struct TestStore {
    pub place: Place,
    pub url: String,
    pub key: MasterKey,
}

/// The PostgreSQL URL for the tests, or a failing test with the reason.
pub fn postgres_base_url() -> String {
    match std::env::var(POSTGRES_ENV) {
        Ok(u) if !u.is_empty() => u,
        _ => panic!(
            "{POSTGRES_ENV} is not set: the PostgreSQL variant of this test needs a server \
             (run `cargo xtask test`, which sets it to postgres://postgres@127.0.0.1:5432/test)"
        ),
    }
}

/// A raw connection to the test server (outside any test schema).
pub fn postgres_admin(base: &str) -> postgres::Client {
    postgres::Client::connect(base, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to {POSTGRES_ENV}={base}: {e}"))
}

/// `base` with `search_path` set to `schema`.
pub fn url_with_schema(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

/// Creates a fresh, uniquely named schema; returns its name.
pub fn fresh_schema(base: &str) -> String {
    use rand::Rng as _;
    let schema = format!("eg_test_{:016x}", rand::thread_rng().gen::<u64>());
    postgres_admin(base)
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .expect("create schema");
    schema
}

impl TestStore {
    /// The default backend: SQLite.
    pub fn new() -> TestStore {
        TestStore::sqlite()
    }

    pub fn sqlite() -> TestStore {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.db");
        let url = format!("sqlite://{}", path.display());
        TestStore {
            place: Place::Sqlite { dir, path },
            url,
            key: MasterKey::generate(),
        }
    }

    pub fn postgres() -> TestStore {
        let base = postgres_base_url();
        let schema = fresh_schema(&base);
        let url = url_with_schema(&base, &schema);
        TestStore {
            place: Place::Postgres { base, schema },
            url,
            key: MasterKey::generate(),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.place, Place::Postgres { .. })
    }

    pub fn open(&self) -> Store {
        Store::open(&self.url, self.key.clone()).expect("open store")
    }

    /// The SQLite file (panics for PostgreSQL).
    pub fn path(&self) -> &Path {
        match &self.place {
            Place::Sqlite { path, .. } => path,
            Place::Postgres { .. } => panic!("not a SQLite store"),
        }
    }

    /// Runs raw SQL written with `?1`-style parameters (translated to
    /// `$1` for PostgreSQL), all of them text; returns rows changed.
    pub fn tamper_text(&self, sql: &str, params: &[&str]) -> u64 {
        match &self.place {
            Place::Sqlite { path, .. } => {
                let c = rusqlite::Connection::open(path).expect("raw open");
                c.busy_timeout(std::time::Duration::from_secs(10))
                    .expect("busy");
                c.execute(sql, rusqlite::params_from_iter(params.iter()))
                    .expect("tamper") as u64
            }
            Place::Postgres { .. } => {
                let sql = sql.replace('?', "$");
                let p: Vec<&(dyn postgres::types::ToSql + Sync)> = params
                    .iter()
                    .map(|s| s as &(dyn postgres::types::ToSql + Sync))
                    .collect();
                self.raw_pg().execute(&sql, &p).expect("tamper")
            }
        }
    }

    /// Runs raw SQL statements (no parameters): `sqlite` on a SQLite
    /// store, `postgres` on a PostgreSQL one.
    pub fn raw_batch(&self, sqlite: &str, postgres: &str) {
        match &self.place {
            Place::Sqlite { path, .. } => {
                let c = rusqlite::Connection::open(path).expect("raw open");
                c.busy_timeout(std::time::Duration::from_secs(10))
                    .expect("busy");
                c.execute_batch(sqlite).expect("raw batch");
            }
            Place::Postgres { .. } => self.raw_pg().batch_execute(postgres).expect("raw batch"),
        }
    }

    /// Copies one row's sealed value over another's (a ciphertext moved
    /// between rows, which must fail to decrypt).
    pub fn copy_sealed(&self, from: &str, to: &str) {
        let (nonce, ct) = self.sealed_of(from);
        self.set_sealed(to, &nonce, &ct);
    }

    /// The sealed value of a row: `(nonce, ciphertext)`.
    pub fn sealed_of(&self, id: &str) -> (Vec<u8>, Vec<u8>) {
        match &self.place {
            Place::Sqlite { path, .. } => rusqlite::Connection::open(path)
                .expect("raw")
                .query_row(
                    "SELECT nonce, ciphertext FROM secrets WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .expect("sealed"),
            Place::Postgres { .. } => {
                let r = self
                    .raw_pg()
                    .query_one(
                        "SELECT nonce, ciphertext FROM secrets WHERE id = $1",
                        &[&id],
                    )
                    .expect("sealed");
                (r.get(0), r.get(1))
            }
        }
    }

    /// Overwrites a row's sealed value; asserts one row changed.
    pub fn set_sealed(&self, id: &str, nonce: &[u8], ct: &[u8]) {
        let n = match &self.place {
            Place::Sqlite { path, .. } => {
                let c = rusqlite::Connection::open(path).expect("raw");
                c.busy_timeout(std::time::Duration::from_secs(10))
                    .expect("busy");
                c.execute(
                    "UPDATE secrets SET nonce = ?1, ciphertext = ?2 WHERE id = ?3",
                    (nonce, ct, id),
                )
                .expect("tamper") as u64
            }
            Place::Postgres { .. } => self
                .raw_pg()
                .execute(
                    "UPDATE secrets SET nonce = $1, ciphertext = $2 WHERE id = $3",
                    &[&nonce, &ct, &id],
                )
                .expect("tamper"),
        };
        assert_eq!(n, 1);
    }

    /// Rows of `secrets` with this id.
    pub fn count_rows(&self, id: &str) -> i64 {
        match &self.place {
            Place::Sqlite { path, .. } => rusqlite::Connection::open(path)
                .expect("raw")
                .query_row("SELECT count(*) FROM secrets WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .expect("count"),
            Place::Postgres { .. } => self
                .raw_pg()
                .query_one("SELECT count(*) FROM secrets WHERE id = $1", &[&id])
                .expect("count")
                .get(0),
        }
    }

    /// Everything the database holds, as bytes: for SQLite the file and its
    /// WAL; for PostgreSQL every row of every table of the schema in text
    /// form, plus every `bytea` column raw (so a value stored unencrypted
    /// as bytes would show).
    pub fn stored_bytes(&self) -> Vec<u8> {
        match &self.place {
            Place::Sqlite { path, .. } => {
                let mut all = read_or_empty(path);
                all.extend(read_or_empty(&wal_path(path)));
                all
            }
            Place::Postgres { schema, .. } => {
                let mut c = self.raw_pg();
                let tables: Vec<String> = c
                    .query(
                        "SELECT table_name::text FROM information_schema.tables \
                         WHERE table_schema = $1 ORDER BY 1",
                        &[schema],
                    )
                    .expect("tables")
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                assert!(tables.len() >= 4, "expected the store's tables");
                let mut all = Vec::new();
                for t in tables {
                    for r in c
                        .query(&format!("SELECT x::text FROM {t} x ORDER BY x::text"), &[])
                        .expect("rows")
                    {
                        all.extend(r.get::<_, String>(0).into_bytes());
                        all.push(b'\n');
                    }
                    let bytea: Vec<String> = c
                        .query(
                            "SELECT column_name::text FROM information_schema.columns \
                             WHERE table_schema = $1 AND table_name = $2 AND data_type = 'bytea'",
                            &[schema, &t],
                        )
                        .expect("cols")
                        .iter()
                        .map(|r| r.get(0))
                        .collect();
                    for col in bytea {
                        for r in c
                            .query(&format!("SELECT {col} FROM {t} ORDER BY 1"), &[])
                            .expect("bytea")
                        {
                            all.extend(r.get::<_, Vec<u8>>(0));
                        }
                    }
                }
                all
            }
        }
    }

    fn raw_pg(&self) -> postgres::Client {
        match &self.place {
            Place::Postgres { base, schema } => postgres_admin(&url_with_schema(base, schema)),
            Place::Sqlite { .. } => panic!("not a PostgreSQL store"),
        }
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Place::Postgres { base, schema } = &self.place {
            if let Ok(mut c) = postgres::Client::connect(base, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
        }
    }
}

pub fn wal_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-wal");
    PathBuf::from(p)
}

pub fn read_or_empty(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_default()
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub fn named(name: &str) -> NewEmbedSecret {
    NewEmbedSecret {
        name: name.into(),
        ..NewEmbedSecret::default()
    }
}
