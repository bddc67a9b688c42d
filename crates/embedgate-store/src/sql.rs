//! What a backend gives the rest of the store: statements run inside one
//! transaction ([`Sql`]), the columns of a result row ([`SqlRow`]), and the
//! few places where SQLite's and PostgreSQL's SQL differ ([`Dialect`]).
//!
//! Every statement of the store is written once, with `?1`-style
//! placeholders, in the module of the concept it serves (`lifecycle.rs`,
//! `change_log.rs`, …); a backend only binds, runs and reads (and the
//! PostgreSQL one turns `?1` into `$1`). So a rule, a validation or a
//! change-log entry cannot differ between the backends.

use crate::error::StoreError;

/// One bound parameter. Nulls are typed: PostgreSQL checks the Rust type
/// of every parameter against the column's, even for a NULL.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Int(i64),
    OptInt(Option<i64>),
    Text(&'a str),
    OptText(Option<&'a str>),
    Bytes(&'a [u8]),
    Bool(bool),
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<Option<i64>> for Value<'_> {
    fn from(v: Option<i64>) -> Self {
        Value::OptInt(v)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Text(v)
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Text(v)
    }
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Value::OptText(v)
    }
}

impl<'a> From<&'a Option<String>> for Value<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Value::OptText(v.as_deref())
    }
}

impl<'a> From<&'a [u8]> for Value<'a> {
    fn from(v: &'a [u8]) -> Self {
        Value::Bytes(v)
    }
}

impl<'a> From<&'a Vec<u8>> for Value<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}

impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

/// Builds a `&[Value]` from expressions convertible into [`Value`].
macro_rules! params {
    ($($v:expr),* $(,)?) => {
        &[$($crate::sql::Value::from($v)),*][..]
    };
}
pub(crate) use params;

/// The columns of one result row, by position.
pub(crate) trait SqlRow {
    fn int(&self, i: usize) -> Result<i64, StoreError>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError>;
    fn text(&self, i: usize) -> Result<String, StoreError>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError>;
    fn bytes(&self, i: usize) -> Result<Vec<u8>, StoreError>;
    fn boolean(&self, i: usize) -> Result<bool, StoreError>;
}

/// Statements inside one open transaction of a backend.
pub(crate) trait Sql {
    /// Runs a statement; returns the rows changed.
    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, StoreError>;
    /// Runs a query and hands each row to `each` as it arrives (so a
    /// large result is never held whole).
    fn query(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        each: &mut dyn FnMut(&dyn SqlRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    /// How this backend's SQL differs.
    fn dialect(&self) -> &'static Dialect;
}

impl dyn Sql + '_ {
    /// Every row, read with `read`.
    pub(crate) fn rows<T>(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        read: impl Fn(&dyn SqlRow) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        self.query(sql, params, &mut |r| {
            out.push(read(r)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// The first row, if any.
    pub(crate) fn first<T>(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        read: impl Fn(&dyn SqlRow) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let mut out = None;
        self.query(sql, params, &mut |r| {
            if out.is_none() {
                out = Some(read(r)?);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The integer in the first column of the one row `sql` returns.
    pub(crate) fn int(&mut self, sql: &str, params: &[Value<'_>]) -> Result<i64, StoreError> {
        self.first(sql, params, |r| r.int(0))?
            .ok_or_else(|| StoreError::Storage(format!("no row from {sql:?}")))
    }
}

/// The places where the two backends' SQL differs; everything else is
/// written once.
#[derive(Debug)]
pub(crate) struct Dialect {
    /// The sort key of a name: `lower(name)` in byte order (PostgreSQL's
    /// default collation would follow the locale).
    pub name_key: &'static str,
    /// Reads the revision in a write transaction and, on PostgreSQL,
    /// locks its row (`FOR UPDATE`) so writers are serialised, as SQLite's
    /// `BEGIN IMMEDIATE` already did.
    pub lock_revision: &'static str,
    /// Announces a committed change to listeners (`pg_notify`), if the
    /// backend can.
    pub notify: Option<&'static str>,
    /// How many of the store's tables exist (0: a new, empty store).
    pub count_tables: &'static str,
}

/// Reads the revision, a cheap indexed read.
pub(crate) const READ_REVISION: &str = "SELECT value FROM store_meta WHERE key = 'revision'";

/// `?1, ?2, …, ?n` starting at `?first`: a list of placeholders for `IN (…)`.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_lists() {
        assert_eq!(placeholders(2, 3), "?2, ?3, ?4");
        assert_eq!(placeholders(1, 1), "?1");
    }
}
