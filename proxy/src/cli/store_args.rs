//! Options shared by the store commands (`secrets`, `credentials`, `store`):
//! where the store is, where the master key is, who is acting, and how to
//! print.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::Args;
use embedgate_store::{format_rfc3339, parse_rfc3339, MasterKey, Store, MASTER_KEY_ENV};
use serde::Serialize;

use super::clock::unix_now;

/// Where the store and its master key are.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The store, e.g. sqlite:///var/lib/embedgate/store.db (created on first use).
    #[arg(
        long = "store",
        env = "EMBEDGATE_STORE",
        value_name = "URL",
        global = true
    )]
    store: Option<String>,
    /// File holding the base64 master key; used when EMBEDGATE_MASTER_KEY is not set.
    #[arg(
        long,
        env = "EMBEDGATE_MASTER_KEY_FILE",
        value_name = "PATH",
        global = true
    )]
    master_key_file: Option<PathBuf>,
    /// Create --master-key-file with a new random key (mode 0600) if it does not exist.
    #[arg(long, global = true)]
    create_key_file: bool,
    /// Who is acting, for the change log [default: $USER, else $LOGNAME, else "cli"].
    #[arg(long, value_name = "NAME", global = true)]
    actor: Option<String>,
    /// Print JSON for machines instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Help text appended to each store command group.
pub const STORE_HELP: &str = "The store is --store URL or EMBEDGATE_STORE (sqlite://PATH). \
The master key (32 bytes, base64) comes from EMBEDGATE_MASTER_KEY, or else from \
--master-key-file / EMBEDGATE_MASTER_KEY_FILE; --create-key-file makes a new key file on first \
use. `embedgate serve` reads the same variables. Values are never accepted as arguments.";

/// A variable under its earlier name (`embedgate serve` read
/// `EMBEDGATE_STORE_URL` and `EMBEDGATE_STORE_MASTER_KEY_FILE`): still
/// read, with a warning naming the new one.
pub fn deprecated_var(old: &str, new: &str) -> Option<String> {
    let v = std::env::var(old).ok().filter(|v| !v.is_empty())?;
    eprintln!("warning: {old} is deprecated; use {new}, which every command reads");
    Some(v)
}

impl StoreArgs {
    fn url(&self) -> anyhow::Result<String> {
        match self.store.as_deref() {
            Some(u) if !u.is_empty() => Ok(u.to_owned()),
            _ => deprecated_var("EMBEDGATE_STORE_URL", "EMBEDGATE_STORE")
                .context("no store: pass --store sqlite://PATH or set EMBEDGATE_STORE"),
        }
    }

    /// `--master-key-file` / `EMBEDGATE_MASTER_KEY_FILE` (or its old name).
    fn key_file(&self) -> Option<PathBuf> {
        self.master_key_file.clone().or_else(|| {
            deprecated_var(
                "EMBEDGATE_STORE_MASTER_KEY_FILE",
                "EMBEDGATE_MASTER_KEY_FILE",
            )
            .map(PathBuf::from)
        })
    }

    /// The master key: EMBEDGATE_MASTER_KEY, else the key file (created if
    /// asked and missing).
    pub fn master_key(&self) -> anyhow::Result<MasterKey> {
        let key_file = self.key_file();
        if std::env::var_os(MASTER_KEY_ENV).is_none() && self.create_key_file {
            let Some(path) = &key_file else {
                bail!("--create-key-file needs --master-key-file PATH");
            };
            if !path.exists() {
                let key = MasterKey::generate_to_file(path)?;
                eprintln!(
                    "created master key file {} (key id {}); back it up: without it the store cannot be read",
                    path.display(),
                    key.id()
                );
                return Ok(key);
            }
        }
        Ok(MasterKey::from_env_or_file(key_file.as_deref())?)
    }

    /// Opens the store with the master key.
    pub fn open(&self) -> anyhow::Result<Store> {
        let url = self.url()?;
        let key = self.master_key()?;
        Ok(Store::open(&url, key)?)
    }

    /// Opens the store with an explicit key.
    pub fn open_with(&self, key: MasterKey) -> anyhow::Result<Store> {
        Ok(Store::open(&self.url()?, key)?)
    }

    /// The store URL as given.
    pub fn store_url(&self) -> anyhow::Result<String> {
        self.url()
    }

    /// `--actor`, else `$USER`, else `$LOGNAME`, else `cli` (containers and
    /// cron jobs often run without either variable; the change log still
    /// says the change came from the command line).
    pub fn actor(&self) -> anyhow::Result<String> {
        if let Some(a) = &self.actor {
            if a.trim().is_empty() {
                bail!("--actor must not be empty");
            }
            return Ok(a.clone());
        }
        Ok(["USER", "LOGNAME"]
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .find(|u| !u.is_empty())
            .unwrap_or_else(|| "cli".to_owned()))
    }
}

/// Now, in Unix seconds: the CLI is where the clock is read.
pub fn now() -> i64 {
    i64::try_from(unix_now()).unwrap_or(i64::MAX)
}

/// Parses an `--expires-at` value.
pub fn parse_time(flag: &str, s: &str) -> anyhow::Result<i64> {
    parse_rfc3339(s).with_context(|| format!("{flag} {s:?}"))
}

/// A time for humans, `-` for none.
pub fn time_text(t: Option<i64>) -> String {
    t.map_or_else(|| "-".to_owned(), format_rfc3339)
}

/// `active`, `inactive` or `expired`.
pub fn state_text(active: bool, expires_at: Option<i64>, now: i64) -> &'static str {
    if expires_at.is_some_and(|e| e <= now) {
        "expired"
    } else if active {
        "active"
    } else {
        "inactive"
    }
}

/// Prints `v` as pretty JSON on stdout.
pub fn print_json<T: Serialize + ?Sized>(v: &T) -> anyhow::Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(v).context("cannot encode JSON")?
    );
    Ok(())
}

/// Prints a change log as text, one line per entry.
pub fn print_history(entries: &[embedgate_store::ChangeEntry]) {
    for e in entries {
        let changes: Vec<String> = e
            .changes
            .iter()
            .map(|c| {
                format!(
                    "{}: {} -> {}",
                    c.field,
                    c.old.as_deref().unwrap_or("-"),
                    c.new.as_deref().unwrap_or("-")
                )
            })
            .collect();
        println!(
            "#{} {} {} {} {} ({}) {}",
            e.seq,
            format_rfc3339(e.at),
            e.actor,
            e.action.as_str(),
            e.subject_name,
            e.subject_id,
            changes.join("; ")
        );
    }
}
