//! The PostgreSQL backend: the store shared by a fleet of proxies.
//!
//! Same tables, rules, encryption and change log as the SQLite backend
//! (`sqlite/`). Writers are serialised by locking the revision row
//! (`SELECT … FOR UPDATE`) first, the equivalent of SQLite's
//! `BEGIN IMMEDIATE`: every write decides on the latest committed state.
//! Every committed change also sends
//! `NOTIFY embedgate_changes, '{"schema":…,"from":R0,"revision":R1,"ids":[…]}'`
//! in the same transaction ([`NOTIFY_CHANNEL`]): only revisions and ids,
//! never a value.
//!
//! The schema is the connection's `current_schema()` (set it with
//! `?options=-csearch_path%3Dname` in the URL). A lost connection is
//! re-opened on the next call; failures to reach the server are
//! [`StoreError::Unavailable`] (code `unavailable`).

mod admin_token;
mod canary;
mod change_log;
mod lifecycle;
mod maintenance;
mod migrations;
mod row;

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use postgres::{Client, Config, IsolationLevel, NoTls, Transaction};

use crate::error::StoreError;
use crate::maintenance::StoreOptions;
use crate::master_key::MasterKey;

use canary::KeyCheck;

/// The channel every committed change is announced on.
pub const NOTIFY_CHANNEL: &str = "embedgate_changes";

/// At most this many ids in one notification; more means "reload all"
/// (`"ids": null`). PostgreSQL caps a payload at 8000 bytes.
const MAX_NOTIFIED_IDS: usize = 200;

/// The PostgreSQL backend behind [`crate::Store`].
pub(crate) struct PostgresBackend {
    inner: Mutex<Inner>,
    options: StoreOptions,
    config: Config,
    schema: String,
}

struct Inner {
    client: Option<Client>,
    key: MasterKey,
}

impl std::fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The Config may hold a password: show only host-free facts.
        f.debug_struct("PostgresBackend")
            .field("schema", &self.schema)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// A write transaction: the PostgreSQL transaction plus what the change
/// notification will carry.
pub(crate) struct WriteTx<'a> {
    pub(crate) tx: Transaction<'a>,
    from_revision: u64,
    revision: u64,
    touched: Vec<String>,
    kids: Vec<String>,
    full_reload: bool,
}

fn connect(config: &Config) -> Result<Client, StoreError> {
    config.connect(NoTls).map_err(|e| {
        StoreError::Unavailable(format!(
            "cannot connect to PostgreSQL: {}",
            describe_pg_error(&e)
        ))
    })
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
pub(crate) fn is_unavailable(e: &postgres::Error) -> bool {
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

impl PostgresBackend {
    /// Connects, checks the master key (reading only), migrates, and
    /// records the key on a fresh store.
    pub(crate) fn open(
        url: &str,
        key: MasterKey,
        options: StoreOptions,
    ) -> Result<PostgresBackend, StoreError> {
        let mut config: Config = url
            .parse()
            .map_err(|e| StoreError::invalid("url", format!("not a PostgreSQL URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("embedgate");
        }
        let mut client = connect(&config)?;
        let schema: Option<String> = client.query_one("SELECT current_schema()", &[])?.get(0);
        let Some(schema) = schema else {
            return Err(StoreError::invalid(
                "url",
                "no schema of the search_path exists (create it, or fix options=-csearch_path)",
            ));
        };
        // Read-only check first: a wrong key is refused before any write.
        canary::check(&mut client, &key)?;
        migrations::migrate(&mut client)?;
        if canary::check(&mut client, &key)? == KeyCheck::Fresh {
            let mut tx = client.transaction()?;
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':embedgate'))",
                &[],
            )?;
            if canary::check(&mut tx, &key)? == KeyCheck::Fresh {
                let c = canary::seal(&key)?;
                tx.execute(
                    "INSERT INTO master_keys (key_id, state, canary_nonce, canary_ciphertext, created_at) \
                     VALUES ($1, 'current', $2, $3, 0)",
                    &[&key.id(), &c.nonce, &c.ciphertext],
                )?;
            }
            tx.commit()?;
        }
        Ok(PostgresBackend {
            inner: Mutex::new(Inner {
                client: Some(client),
                key,
            }),
            options,
            config,
            schema,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `attempt` with a live client, reconnecting first if the last
    /// connection was lost. If the connection turns out to be dead before
    /// anything was sent for commit, retries once on a fresh one.
    fn with_client<T>(
        &self,
        mut attempt: impl FnMut(&mut Client, &MasterKey) -> Result<T, Attempt>,
    ) -> Result<T, StoreError> {
        let mut guard = self.lock();
        let Inner { client, key } = &mut *guard;
        for round in 0..2 {
            if client.as_ref().is_none_or(Client::is_closed) {
                *client = Some(connect(&self.config)?);
            }
            let Some(c) = client.as_mut() else {
                continue;
            };
            match attempt(c, key) {
                Ok(v) => return Ok(v),
                Err(Attempt::Retryable(_)) if round == 0 => {
                    // The connection died before anything was committed:
                    // once more, on a new one.
                    *client = None;
                }
                Err(Attempt::Retryable(e)) | Err(Attempt::Final(e)) => {
                    if matches!(e, StoreError::Unavailable(_)) {
                        *client = None;
                    }
                    return Err(e);
                }
            }
        }
        Err(StoreError::Unavailable(
            "PostgreSQL connection lost twice in a row".into(),
        ))
    }

    /// Runs `f` in a transaction that first locks the revision row (so
    /// writers are serialised), then announces the change and commits.
    pub(crate) fn write<T>(
        &self,
        mut f: impl FnMut(&mut WriteTx<'_>, &MasterKey) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let schema = self.schema.clone();
        self.with_client(|client, key| {
            let before_commit = |e: StoreError| match e {
                StoreError::Unavailable(_) => Attempt::Retryable(e),
                other => Attempt::Final(other),
            };
            let mut tx = client.transaction().map_err(|e| before_commit(e.into()))?;
            let from: i64 = tx
                .query_one(
                    "SELECT value FROM store_meta WHERE key = 'revision' FOR UPDATE",
                    &[],
                )
                .map_err(|e| before_commit(e.into()))?
                .get(0);
            let from = u64::try_from(from).unwrap_or(0);
            let mut w = WriteTx {
                tx,
                from_revision: from,
                revision: from,
                touched: Vec::new(),
                kids: Vec::new(),
                full_reload: false,
            };
            canary::ensure_current_key(&mut w.tx, key).map_err(before_commit)?;
            let out = f(&mut w, key).map_err(before_commit)?;
            if w.revision != w.from_revision {
                let payload = notification_payload(&schema, &w);
                w.tx.execute("SELECT pg_notify($1, $2)", &[&NOTIFY_CHANNEL, &payload])
                    .map_err(|e| before_commit(e.into()))?;
            }
            // A failure at commit is ambiguous (the commit may have
            // happened): never retried.
            w.tx.commit().map_err(|e| Attempt::Final(e.into()))?;
            Ok(out)
        })
    }

    /// Runs `f` in a read-only, repeatable-read transaction: one snapshot.
    pub(crate) fn read<T>(
        &self,
        mut f: impl FnMut(&mut Transaction<'_>, &MasterKey) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with_client(|client, key| {
            let retry = |e: StoreError| match e {
                StoreError::Unavailable(_) => Attempt::Retryable(e),
                other => Attempt::Final(other),
            };
            let mut tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(|e| retry(e.into()))?;
            let out = f(&mut tx, key).map_err(retry)?;
            tx.commit().map_err(|e| retry(e.into()))?;
            Ok(out)
        })
    }

    /// Runs `f` in a plain transaction that is not a logged change (usage
    /// times).
    pub(crate) fn quiet_write<T>(
        &self,
        mut f: impl FnMut(&mut Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with_client(|client, _| {
            let retry = |e: StoreError| match e {
                StoreError::Unavailable(_) => Attempt::Retryable(e),
                other => Attempt::Final(other),
            };
            let mut tx = client.transaction().map_err(|e| retry(e.into()))?;
            let out = f(&mut tx).map_err(retry)?;
            tx.commit().map_err(|e| Attempt::Final(e.into()))?;
            Ok(out)
        })
    }

    pub(crate) fn options(&self) -> StoreOptions {
        self.options
    }

    pub(crate) fn master_key_id(&self) -> String {
        self.lock().key.id().to_owned()
    }

    pub(crate) fn revision(&self) -> Result<u64, StoreError> {
        self.with_client(|client, _| {
            let row = client
                .query_one("SELECT value FROM store_meta WHERE key = 'revision'", &[])
                .map_err(|e| match StoreError::from(e) {
                    e @ StoreError::Unavailable(_) => Attempt::Retryable(e),
                    e => Attempt::Final(e),
                })?;
            Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
        })
    }

    /// The schema this store lives in (part of every notification, since
    /// channels are per database, not per schema).
    pub(crate) fn schema(&self) -> &str {
        &self.schema
    }
}

/// How one attempt failed.
pub(crate) enum Attempt {
    /// The connection was lost before a commit was attempted: safe to
    /// run again on a new connection.
    Retryable(StoreError),
    /// Anything else.
    Final(StoreError),
}

/// The notification of one committed transaction:
/// `{"schema", "from", "revision", "ids", "kids"}` — the schema, the
/// revision before and after, the row ids touched, and the client ids of
/// the embed secrets touched. `ids`/`kids` are `null` when a listener must
/// reload everything (a credential changed, a purge, too many ids).
fn notification_payload(schema: &str, w: &WriteTx<'_>) -> String {
    let full = w.full_reload || w.touched.len() > MAX_NOTIFIED_IDS;
    let list = |v: &Vec<String>| {
        if full {
            serde_json::Value::Null
        } else {
            serde_json::Value::from(v.clone())
        }
    };
    serde_json::json!({
        "schema": schema,
        "from": w.from_revision,
        "revision": w.revision,
        "ids": list(&w.touched),
        "kids": list(&w.kids),
    })
    .to_string()
}

impl WriteTx<'_> {
    fn touch_kid(&mut self, kid: String) {
        if !self.kids.contains(&kid) {
            self.kids.push(kid);
        }
    }

    /// Marks one change of `subject_id`: bumps the revision.
    pub(crate) fn bump_revision(&mut self, subject_id: &str) -> Result<(), StoreError> {
        let r: i64 = self
            .tx
            .query_one(
                "UPDATE store_meta SET value = value + 1 WHERE key = 'revision' RETURNING value",
                &[],
            )?
            .get(0);
        self.revision = u64::try_from(r).unwrap_or(0);
        if !self.touched.iter().any(|t| t == subject_id) {
            self.touched.push(subject_id.to_owned());
        }
        Ok(())
    }
}

fn read_revision(tx: &mut Transaction<'_>) -> Result<u64, StoreError> {
    let r: i64 = tx
        .query_one("SELECT value FROM store_meta WHERE key = 'revision'", &[])?
        .get(0);
    Ok(u64::try_from(r).unwrap_or(0))
}
