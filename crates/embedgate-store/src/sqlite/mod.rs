//! The SQLite backend: one file, WAL mode, every change in a
//! `BEGIN IMMEDIATE` transaction. Only connecting, binding and committing
//! live here; what the store does is written once, above
//! [`crate::backend::Backend`].
//!
//! `BEGIN IMMEDIATE` takes the write lock before the first read, so two
//! processes changing the store at once are serialised (the second waits up
//! to the busy timeout) instead of one failing at commit or, worse, deciding
//! on a stale read. WAL lets readers — the proxy polling `revision` — run
//! alongside a writer.

mod migrations;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::backend::{Backend, TxBody};
use crate::error::StoreError;
use crate::maintenance::StoreOptions;
use crate::sql::{Dialect, Sql, SqlRow, Value};

const DIALECT: Dialect = Dialect {
    // SQLite compares text bytewise (BINARY) already.
    name_key: "lower(name)",
    // `BEGIN IMMEDIATE` took the write lock.
    lock_revision: crate::sql::READ_REVISION,
    notify: None,
    count_tables:
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'master_keys'",
};

/// The SQLite backend behind [`crate::Store`].
pub(crate) struct SqliteBackend {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteBackend")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        // rusqlite errors carry SQL text and column names, never bound
        // parameter values, so they are safe to show.
        StoreError::Storage(e.to_string())
    }
}

impl SqliteBackend {
    /// Opens (creating if needed) the store at `path`, migrated to the
    /// latest schema.
    ///
    /// An existing file is first handed to `check` on a read-only
    /// connection, so a wrong key is refused without a single byte written
    /// (switching to WAL mode already writes the file's header).
    ///
    /// Processes opening a brand-new file at the same moment can meet a lock
    /// that SQLite reports at once instead of waiting in its busy handler
    /// (switching the journal mode, or a reader that would deadlock a
    /// writer). Every step of opening is idempotent and re-checked under the
    /// write lock, so the open is retried until the busy timeout.
    pub(crate) fn open(
        path: &Path,
        options: StoreOptions,
        check: &mut TxBody<'_>,
    ) -> Result<SqliteBackend, StoreError> {
        let deadline = Instant::now() + Duration::from_millis(options.busy_timeout_ms);
        loop {
            match Self::open_once(path, options, check) {
                Err(e) if is_busy(&e) && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                done => return done,
            }
        }
    }

    fn open_once(
        path: &Path,
        options: StoreOptions,
        check: &mut TxBody<'_>,
    ) -> Result<SqliteBackend, StoreError> {
        let busy = Duration::from_millis(options.busy_timeout_ms);
        let exists = std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
        if exists {
            let mut ro = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            ro.busy_timeout(busy)?;
            in_transaction(&mut ro, TransactionBehavior::Deferred, check, false)?;
        }
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(busy)?;
        // Every statement of the store, and the `IN (…)` lists of a few
        // lengths, stay prepared.
        conn.set_prepared_statement_cache_capacity(256);
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Storage(format!(
                "cannot switch {} to WAL mode (got {mode})",
                path.display()
            )));
        }
        // FULL: a committed change survives a power cut, not just a crash.
        conn.pragma_update(None, "synchronous", "FULL")?;
        migrations::migrate(&mut conn)?;
        Ok(SqliteBackend {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic mid-call drops (rolls back) its transaction; the
        // connection is still sound.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs `body` in a transaction of `behavior`; commits if `commit` and
/// it succeeds, else rolls back.
fn in_transaction(
    conn: &mut Connection,
    behavior: TransactionBehavior,
    body: &mut TxBody<'_>,
    commit: bool,
) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(behavior)?;
    body(&mut SqliteTx { conn: &tx })?;
    if commit {
        tx.commit()?;
    }
    Ok(())
}

impl Backend for SqliteBackend {
    fn read(&self, body: &mut TxBody<'_>) -> Result<(), StoreError> {
        in_transaction(&mut self.lock(), TransactionBehavior::Deferred, body, false)
    }

    fn write(&self, body: &mut TxBody<'_>) -> Result<(), StoreError> {
        in_transaction(&mut self.lock(), TransactionBehavior::Immediate, body, true)
    }

    fn schema(&self) -> Option<&str> {
        None
    }
}

/// Whether `e` is SQLite's `SQLITE_BUSY`. The conversion to
/// [`StoreError::Storage`] keeps only the message, and SQLite's message for
/// that code is this fixed text (`sqlite3_errstr(SQLITE_BUSY)`).
fn is_busy(e: &StoreError) -> bool {
    matches!(e, StoreError::Storage(m) if m == "database is locked")
}

/// Statements in an open SQLite transaction.
struct SqliteTx<'c> {
    conn: &'c Connection,
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Value::Int(i) | Value::OptInt(Some(i)) => ValueRef::Integer(i),
            Value::OptInt(None) | Value::OptText(None) => ValueRef::Null,
            Value::Text(t) | Value::OptText(Some(t)) => ValueRef::Text(t.as_bytes()),
            Value::Bytes(b) => ValueRef::Blob(b),
            Value::Bool(b) => ValueRef::Integer(i64::from(b)),
        }))
    }
}

impl Sql for SqliteTx<'_> {
    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        Ok(stmt.execute(rusqlite::params_from_iter(params.iter()))? as u64)
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        each: &mut dyn FnMut(&dyn SqlRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
        while let Some(r) = rows.next()? {
            each(&SqliteRow(r))?;
        }
        Ok(())
    }

    fn dialect(&self) -> &'static Dialect {
        &DIALECT
    }
}

struct SqliteRow<'a, 'r>(&'a rusqlite::Row<'r>);

impl SqlRow for SqliteRow<'_, '_> {
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        Ok(self.0.get(i)?)
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.0.get(i)?)
    }

    fn text(&self, i: usize) -> Result<String, StoreError> {
        Ok(self.0.get(i)?)
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        Ok(self.0.get(i)?)
    }

    fn bytes(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        Ok(self.0.get(i)?)
    }

    fn boolean(&self, i: usize) -> Result<bool, StoreError> {
        Ok(self.0.get(i)?)
    }
}
