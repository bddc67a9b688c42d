//! `embedgate store`: maintenance of the store as a whole.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use embedgate_store::{
    AuditFilter, MasterKey, Page, Store, StoreOptions, DEFAULT_PURGE_AFTER_SECS,
};

use super::store_args::{now, print_history, print_json, StoreArgs, STORE_HELP};

/// Arguments of `embedgate store`.
#[derive(Debug, Args)]
#[command(after_help = STORE_HELP)]
pub struct StoreCmdArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: StoreCommand,
}

#[derive(Debug, Subcommand)]
enum StoreCommand {
    /// Create the store (and, with --create-key-file, its key file) if
    /// missing, and check the master key.
    Init,
    /// Delete secrets that expired long enough ago (30 days by default);
    /// each deletion is logged.
    PurgeExpired {
        /// Days between expiry and purge.
        #[arg(long, value_name = "DAYS", default_value_t = DEFAULT_PURGE_AFTER_SECS / 86_400)]
        after_days: i64,
    },
    /// Re-encrypt every value under a new master key, in one transaction.
    /// Safe to re-run after a crash. Afterwards, use the new key.
    RotateMasterKey {
        /// File with the new key (base64).
        #[arg(long, value_name = "PATH")]
        new_key_file: PathBuf,
        /// Generate --new-key-file (mode 0600) if it does not exist.
        #[arg(long)]
        generate: bool,
    },
    /// Check that the master key's canary and every sealed value (embed
    /// secrets and credentials) decrypt. Prints one line per bad row and
    /// exits 1 if there is any. Reads only.
    Verify,
    /// Show the change log of the whole store, oldest first.
    Audit {
        /// Show entries after this sequence number.
        #[arg(long, value_name = "SEQ")]
        after: Option<u64>,
        /// At most this many entries.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

pub fn run(args: StoreCmdArgs) -> anyhow::Result<ExitCode> {
    let s = &args.store;
    let json = s.json;
    match args.command {
        StoreCommand::Init => {
            let store = s.open()?;
            let revision = store.revision()?;
            if json {
                print_json(&serde_json::json!({
                    "master_key_id": store.master_key_id(),
                    "revision": revision,
                }))?;
            } else {
                println!(
                    "Store ready (master key id {}, revision {revision}).",
                    store.master_key_id()
                );
            }
        }
        StoreCommand::PurgeExpired { after_days } => {
            let secs = after_days
                .checked_mul(86_400)
                .filter(|s| *s >= 0)
                .context("--after-days must be a non-negative number of days")?;
            let store = Store::open_with_options(
                &s.store_url()?,
                s.master_key()?,
                StoreOptions::default().with_purge_after_secs(secs),
            )?;
            let purged = store.purge_expired(&s.actor()?, now())?;
            if json {
                print_json(&purged)?;
            } else {
                for p in &purged {
                    println!("Purged {} {:?} ({}).", p.kind.as_str(), p.name, p.id);
                }
                println!("{} secret(s) purged.", purged.len());
            }
        }
        StoreCommand::RotateMasterKey {
            new_key_file,
            generate,
        } => {
            let new_key = if generate && !new_key_file.exists() {
                MasterKey::generate_to_file(&new_key_file)?
            } else {
                MasterKey::from_file(&new_key_file)?
            };
            let store = match s.open() {
                Ok(store) => store,
                // A re-run after a rotation that completed: the old key was
                // retired, the new one opens the store and finds the work done.
                Err(e)
                    if e.downcast_ref::<embedgate_store::StoreError>()
                        .is_some_and(|se| se.code() == "wrong_master_key") =>
                {
                    s.open_with(new_key.clone()).map_err(|_| e)?
                }
                Err(e) => return Err(e),
            };
            let report = store.rotate_master_key(new_key, &s.actor()?, now())?;
            if json {
                print_json(&report)?;
            } else if report.already_current {
                println!(
                    "The store is already under master key id {}; nothing to do.",
                    report.new_key_id
                );
            } else {
                println!(
                    "Re-encrypted {} value(s) under master key id {} (was {}).",
                    report.rows_reencrypted, report.new_key_id, report.old_key_id
                );
                println!(
                    "From now on use the key in {}; the old key no longer opens the store.",
                    new_key_file.display()
                );
            }
        }
        StoreCommand::Verify => {
            let report = s.open()?.verify()?;
            if json {
                print_json(&report)?;
            } else {
                for bad in &report.unreadable {
                    println!(
                        "BAD {} {} {:?}: {}",
                        bad.id,
                        bad.kind.as_str(),
                        bad.name,
                        bad.error
                    );
                }
                println!(
                    "Checked the canary of master key id {} and {} sealed value(s): {} unreadable.",
                    report.master_key_id,
                    report.rows_checked,
                    report.unreadable.len()
                );
            }
            if !report.unreadable.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
        StoreCommand::Audit { after, limit } => {
            let page = s
                .open()?
                .audit(&AuditFilter::default(), Page { after, limit })?;
            if json {
                print_json(&page)?;
            } else {
                print_history(&page.entries);
                if let Some(next) = page.next_after {
                    println!("(more: --after {next})");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
