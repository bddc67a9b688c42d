//! The one trait a database backend implements: open transactions and
//! run [`Sql`] in them. Everything the store decides (lifecycle rules,
//! validation, the change log, the master key) is written once, above
//! this trait; `sqlite/` and `postgres/` only connect, bind and commit.

use crate::error::StoreError;
use crate::sql::Sql;

/// A transaction body: called with the open transaction; an `Err` rolls
/// it back. A backend may call it a second time, on a fresh connection,
/// when the first attempt failed because the connection was already dead
/// (`unavailable`, before anything was committed).
pub(crate) type TxBody<'a> = dyn FnMut(&mut dyn Sql) -> Result<(), StoreError> + 'a;

/// A database the store lives in.
pub(crate) trait Backend: Send + Sync + std::fmt::Debug {
    /// Runs `body` in a read-only transaction: one consistent snapshot.
    fn read(&self, body: &mut TxBody<'_>) -> Result<(), StoreError>;

    /// Runs `body` in a read-write transaction and commits if it succeeds.
    /// SQLite takes the write lock at `BEGIN` (`IMMEDIATE`); on PostgreSQL
    /// the store's first statement (`Dialect::lock_revision`) does.
    fn write(&self, body: &mut TxBody<'_>) -> Result<(), StoreError>;

    /// The PostgreSQL schema the store lives in; `None` for SQLite.
    fn schema(&self) -> Option<&str>;
}

/// [`Backend::read`] with a result.
pub(crate) fn read<T>(
    backend: &dyn Backend,
    mut f: impl FnMut(&mut dyn Sql) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut out = None;
    backend.read(&mut |sql| {
        out = Some(f(sql)?);
        Ok(())
    })?;
    out.ok_or_else(|| StoreError::Storage("a read transaction returned nothing".into()))
}

/// [`Backend::write`] with a result.
pub(crate) fn write<T>(
    backend: &dyn Backend,
    mut f: impl FnMut(&mut dyn Sql) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut out = None;
    backend.write(&mut |sql| {
        out = Some(f(sql)?);
        Ok(())
    })?;
    out.ok_or_else(|| StoreError::Storage("a write transaction returned nothing".into()))
}
