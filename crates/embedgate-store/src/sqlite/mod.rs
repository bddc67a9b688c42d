//! The SQLite backend: one file, WAL mode, every change in a
//! `BEGIN IMMEDIATE` transaction.
//!
//! `BEGIN IMMEDIATE` takes the write lock before the first read, so two
//! processes changing the store at once are serialised (the second waits up
//! to the busy timeout) instead of one failing at commit or, worse, deciding
//! on a stale read. WAL lets readers — the proxy polling `revision` — run
//! alongside a writer.

mod admin_token;
mod canary;
mod change_log;
mod lifecycle;
mod maintenance;
mod row;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::StoreError;
use crate::maintenance::StoreOptions;
use crate::master_key::MasterKey;
use crate::migrations;

use canary::{ensure_current_key, KeyCheck};
pub(crate) use row::Row;

/// The SQLite backend behind [`crate::Store`].
pub(crate) struct SqliteBackend {
    inner: Mutex<Inner>,
    options: StoreOptions,
    path: PathBuf,
}

struct Inner {
    conn: Connection,
    key: MasterKey,
}

impl std::fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteBackend")
            .field("path", &self.path)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl SqliteBackend {
    /// Opens (creating if needed) the store at `path`.
    ///
    /// An existing file is first checked with a read-only connection, so a
    /// wrong key is refused without a single byte written.
    ///
    /// Processes opening a brand-new file at the same moment can meet a lock
    /// that SQLite reports at once instead of waiting in its busy handler
    /// (switching the journal mode, or a reader that would deadlock a
    /// writer). Every step of opening is idempotent and re-checked under the
    /// write lock, so the open is retried until the busy timeout.
    pub(crate) fn open(
        path: &Path,
        key: MasterKey,
        options: StoreOptions,
    ) -> Result<SqliteBackend, StoreError> {
        let deadline = Instant::now() + Duration::from_millis(options.busy_timeout_ms);
        loop {
            match Self::open_once(path, key.clone(), options) {
                Err(e) if is_busy(&e) && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                done => return done,
            }
        }
    }

    fn open_once(
        path: &Path,
        key: MasterKey,
        options: StoreOptions,
    ) -> Result<SqliteBackend, StoreError> {
        let busy = Duration::from_millis(options.busy_timeout_ms);
        let exists = std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
        if exists {
            let ro = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            ro.busy_timeout(busy)?;
            canary::check(&ro, &key)?;
        }
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(busy)?;
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
        if canary::check(&conn, &key)? == KeyCheck::Fresh {
            // First run: record this key. Re-checked under the write lock, in
            // case another process initialised the file meanwhile.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if canary::check(&tx, &key)? == KeyCheck::Fresh {
                let c = canary::seal(&key)?;
                tx.execute(
                    "INSERT INTO master_keys (key_id, state, canary_nonce, canary_ciphertext, created_at) \
                     VALUES (?1, 'current', ?2, ?3, 0)",
                    (key.id(), &c.nonce, &c.ciphertext),
                )?;
            }
            tx.commit()?;
        }
        Ok(SqliteBackend {
            inner: Mutex::new(Inner { conn, key }),
            options,
            path: path.to_path_buf(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic mid-call drops (rolls back) its transaction; the
        // connection is still sound.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction and commits if it
    /// succeeds. Refuses to write if another process rotated the master key
    /// since this store was opened: rows sealed under the old key would be
    /// unreadable afterwards.
    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>, &MasterKey) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self.lock();
        let Inner { conn, key } = &mut *guard;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        ensure_current_key(&tx, key)?;
        let out = f(&tx, key)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` in a read transaction: one consistent snapshot.
    fn read<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>, &MasterKey) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self.lock();
        let Inner { conn, key } = &mut *guard;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        f(&tx, key)
    }

    pub(crate) fn options(&self) -> StoreOptions {
        self.options
    }

    pub(crate) fn master_key_id(&self) -> String {
        self.lock().key.id().to_owned()
    }

    pub(crate) fn revision(&self) -> Result<u64, StoreError> {
        let guard = self.lock();
        read_revision(&guard.conn)
    }
}

/// Whether `e` is SQLite's `SQLITE_BUSY`. The conversion to
/// [`StoreError::Storage`] keeps only the message, and SQLite's message for
/// that code is this fixed text (`sqlite3_errstr(SQLITE_BUSY)`).
fn is_busy(e: &StoreError) -> bool {
    matches!(e, StoreError::Storage(m) if m == "database is locked")
}

fn read_revision(conn: &Connection) -> Result<u64, StoreError> {
    let r: i64 = conn.query_row(
        "SELECT value FROM store_meta WHERE key = 'revision'",
        [],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(r).unwrap_or(0))
}

/// Marks one change: bumps the revision readers poll.
fn bump_revision(conn: &Connection) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE store_meta SET value = value + 1 WHERE key = 'revision'",
        [],
    )?;
    Ok(())
}
