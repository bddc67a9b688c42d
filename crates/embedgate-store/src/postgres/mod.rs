//! The PostgreSQL backend: the store shared by a fleet of proxies, through
//! a connection pool (`r2d2`), with TLS as the URL's `sslmode` asks
//! (`tls.rs`). Only connecting, binding and committing live here; what
//! the store does is written once, above [`crate::backend::Backend`].
//!
//! Writers are serialised by the store's first statement in a write
//! transaction, which locks the revision row (`SELECT … FOR UPDATE`,
//! [`crate::sql::Dialect::lock_revision`]): the equivalent of SQLite's
//! `BEGIN IMMEDIATE`. Every committed change is announced with `NOTIFY`
//! in the same transaction (`writer.rs`).
//!
//! The schema is the connection's `current_schema()` (set it with
//! `?options=-csearch_path%3Dname` in the URL). A connection found dead is
//! dropped and the transaction run once more on another, if nothing was
//! sent for commit; failures to reach the server are
//! [`StoreError::Unavailable`] (code `unavailable`).

mod migrations;
pub(crate) mod tls;

use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Client, IsolationLevel, Transaction};
use r2d2_postgres::PostgresConnectionManager;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::backend::{Backend, TxBody};
use crate::error::StoreError;
use crate::maintenance::StoreOptions;
use crate::sql::{Dialect, Sql, SqlRow, Value};

const DIALECT: Dialect = Dialect {
    // Byte order, as SQLite's; the default collation would follow the
    // database's locale.
    name_key: "lower(name) COLLATE \"C\"",
    lock_revision: "SELECT value FROM store_meta WHERE key = 'revision' FOR UPDATE",
    notify: Some("SELECT pg_notify(?1, ?2)"),
    count_tables: "SELECT count(*) FROM pg_catalog.pg_class c \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relname = 'master_keys'",
};

/// Connections a process keeps at most. Writers are serialised anyway;
/// readers (the admin API, cache loads) run side by side.
const POOL_SIZE: u32 = 8;

type Pool = r2d2::Pool<PostgresConnectionManager<MakeRustlsConnect>>;

/// The PostgreSQL backend behind [`crate::Store`].
pub(crate) struct PostgresBackend {
    /// `None` only while being dropped.
    pool: Option<Pool>,
    schema: String,
}

impl Drop for PostgresBackend {
    /// Closing a pooled `postgres::Client` runs a small runtime of its own,
    /// which panics inside an async runtime ("Cannot start a runtime from
    /// within a runtime"), where the last handle of a store is often
    /// dropped (the proxy's shutdown): the pool is closed on a thread of
    /// its own.
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

impl std::fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The configuration may hold a password: show only the schema.
        f.debug_struct("PostgresBackend")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// The error text without any bound parameter (PostgreSQL messages may
/// quote a conflicting key, which is at most a name, never a value: values
/// are only ever sent as ciphertext).
fn describe_pg_error(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

/// Whether `e` means "the server cannot be reached" rather than "the
/// statement failed".
fn is_unavailable(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        // 08: connection exception; 57P01-03: admin shutdown, crash
        // shutdown, cannot connect now.
        return code.starts_with("08") || code.starts_with("57P0");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return true;
        }
        source = s.source();
    }
    // Errors with neither a server answer nor an I/O cause (type
    // conversions) are statement failures.
    false
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        if is_unavailable(&e) {
            StoreError::Unavailable(format!("PostgreSQL: {}", describe_pg_error(&e)))
        } else {
            StoreError::Storage(describe_pg_error(&e))
        }
    }
}

/// A first connection, made directly so its error (the server down, TLS
/// refused) is reported as it is.
fn connect(config: &postgres::Config, tls: &MakeRustlsConnect) -> Result<Client, StoreError> {
    config.connect(tls.clone()).map_err(|e| {
        StoreError::Unavailable(format!(
            "cannot connect to PostgreSQL: {}",
            describe_pg_error(&e)
        ))
    })
}

impl PostgresBackend {
    /// Connects, hands a read-only transaction to `check` (the master key
    /// is checked before anything is written), migrates, and sets up the
    /// pool. A connection lost midway is replaced once: every step is
    /// idempotent.
    pub(crate) fn open(
        url: &str,
        _options: StoreOptions,
        check: &mut TxBody<'_>,
    ) -> Result<PostgresBackend, StoreError> {
        let (config, tls) = tls::configure(url)?;
        let mut config = postgres::Config::from(config);
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("embedgate");
        }
        // A refused connection (server down, TLS refused) is reported as
        // it is; a connection lost after it was made is replaced once.
        let client = connect(&config, &tls)?;
        let schema = match Self::prepare(client, check) {
            Err(StoreError::Unavailable(_)) => Self::prepare(connect(&config, &tls)?, check)?,
            done => done?,
        };
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(5))
            // A dead connection shows when it is used; the transaction is
            // then run again on another (see `run`), so no test query is
            // spent on every checkout.
            .test_on_check_out(false)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(PostgresConnectionManager::new(config, tls));
        Ok(PostgresBackend {
            pool: Some(pool),
            schema,
        })
    }

    /// On one connection: finds the schema, checks, migrates.
    fn prepare(mut client: Client, check: &mut TxBody<'_>) -> Result<String, StoreError> {
        let schema: Option<String> = client.query_one("SELECT current_schema()", &[])?.get(0);
        let Some(schema) = schema else {
            return Err(StoreError::invalid(
                "url",
                "no schema of the search_path exists (create it, or fix options=-csearch_path)",
            ));
        };
        {
            let mut tx = client.build_transaction().read_only(true).start()?;
            check(&mut PgTx { tx: &mut tx })?;
            tx.commit()?;
        }
        migrations::migrate(&mut client)?;
        Ok(schema)
    }

    /// Runs `attempt` on a pooled connection. If the connection turns out
    /// to be dead before anything was sent for commit, runs it once more
    /// on another (the dead one is closed, so the pool drops it).
    fn run(
        &self,
        attempt: &mut dyn FnMut(&mut Client) -> Result<(), Attempt>,
    ) -> Result<(), StoreError> {
        let Some(pool) = &self.pool else {
            return Err(StoreError::Unavailable("the store is closing".into()));
        };
        for round in 0..2 {
            let mut client = pool.get().map_err(|e| {
                StoreError::Unavailable(format!("cannot connect to PostgreSQL: {e}"))
            })?;
            match attempt(&mut client) {
                Ok(()) => return Ok(()),
                Err(Attempt::Retryable(_)) if round == 0 => {}
                Err(Attempt::Retryable(e) | Attempt::Final(e)) => return Err(e),
            }
        }
        Err(StoreError::Unavailable(
            "PostgreSQL connection lost twice in a row".into(),
        ))
    }
}

/// How one attempt failed.
enum Attempt {
    /// The connection was lost before a commit was attempted: safe to
    /// run again on a new connection.
    Retryable(StoreError),
    /// Anything else.
    Final(StoreError),
}

fn before_commit(e: StoreError) -> Attempt {
    match e {
        StoreError::Unavailable(_) => Attempt::Retryable(e),
        other => Attempt::Final(other),
    }
}

impl Backend for PostgresBackend {
    fn read(&self, body: &mut TxBody<'_>) -> Result<(), StoreError> {
        self.run(&mut |client| {
            let mut tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(|e| before_commit(e.into()))?;
            body(&mut PgTx { tx: &mut tx }).map_err(before_commit)?;
            tx.commit().map_err(|e| before_commit(e.into()))
        })
    }

    fn write(&self, body: &mut TxBody<'_>) -> Result<(), StoreError> {
        self.run(&mut |client| {
            let mut tx = client.transaction().map_err(|e| before_commit(e.into()))?;
            body(&mut PgTx { tx: &mut tx }).map_err(before_commit)?;
            // A failure at commit is ambiguous (the commit may have
            // happened): never retried.
            tx.commit().map_err(|e| Attempt::Final(e.into()))
        })
    }

    fn schema(&self) -> Option<&str> {
        Some(&self.schema)
    }
}

/// Statements in an open PostgreSQL transaction.
struct PgTx<'a, 'c> {
    tx: &'a mut Transaction<'c>,
}

/// The statement with `?1`-style placeholders as PostgreSQL's `$1`. The
/// store's statements have no `?` elsewhere (no string literal holds one).
fn dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

fn bind<'v>(v: &'v Value<'_>) -> &'v (dyn ToSql + Sync) {
    match v {
        Value::Int(i) => i,
        Value::OptInt(i) => i,
        Value::Text(t) => t,
        Value::OptText(t) => t,
        Value::Bytes(b) => b,
        Value::Bool(b) => b,
    }
}

impl Sql for PgTx<'_, '_> {
    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, StoreError> {
        let bound: Vec<&(dyn ToSql + Sync)> = params.iter().map(bind).collect();
        Ok(self.tx.execute(dollar_placeholders(sql).as_str(), &bound)?)
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        each: &mut dyn FnMut(&dyn SqlRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        use postgres::fallible_iterator::FallibleIterator as _;
        let mut rows = self
            .tx
            .query_raw(dollar_placeholders(sql).as_str(), params.iter().map(bind))?;
        while let Some(r) = rows.next()? {
            each(&PgRow(&r))?;
        }
        Ok(())
    }

    fn dialect(&self) -> &'static Dialect {
        &DIALECT
    }
}

struct PgRow<'r>(&'r postgres::Row);

impl SqlRow for PgRow<'_> {
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        Ok(self.0.try_get(i)?)
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.0.try_get(i)?)
    }

    fn text(&self, i: usize) -> Result<String, StoreError> {
        Ok(self.0.try_get(i)?)
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        Ok(self.0.try_get(i)?)
    }

    fn bytes(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        Ok(self.0.try_get(i)?)
    }

    fn boolean(&self, i: usize) -> Result<bool, StoreError> {
        Ok(self.0.try_get(i)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars() {
        assert_eq!(
            dollar_placeholders("SELECT ?1, ?12 WHERE a = ?2"),
            "SELECT $1, $12 WHERE a = $2"
        );
        assert_eq!(dollar_placeholders("a ? b"), "a ? b");
    }
}
