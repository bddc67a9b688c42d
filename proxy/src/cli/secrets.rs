//! `embedgate secrets`: embed secrets in the store.

use std::process::ExitCode;

use anyhow::bail;
use clap::{Args, Subcommand};
use embedgate_store::{EmbedSecret, EmbedSecretUpdate, Lookup, NewEmbedSecret};

use super::one_time_value;
use super::store_args::{
    now, parse_time, print_history, print_json, state_text, time_text, StoreArgs, STORE_HELP,
};

/// Arguments of `embedgate secrets`.
#[derive(Debug, Args)]
#[command(after_help = STORE_HELP)]
pub struct SecretsArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: SecretsCommand,
}

#[derive(Debug, Subcommand)]
enum SecretsCommand {
    /// Create an embed secret. Prints its client id and its value: the value
    /// is shown this once and never again, on a terminal, or with --json
    /// into a pipe or file (without --json it refuses and creates nothing).
    Create(CreateArgs),
    /// List embed secrets (never their values).
    List {
        /// Only secrets whose name or description contains this (any case).
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
    },
    /// Show one embed secret's metadata.
    Show {
        /// Id, client id (ek_...) or name.
        secret: String,
    },
    /// Rename an embed secret.
    Rename {
        /// Id, client id or name.
        secret: String,
        /// The new name (unique, 1-100 characters).
        new_name: String,
    },
    /// Change description, environment, scopes or expiry (never the value:
    /// to rotate, create a new secret).
    Describe(DescribeArgs),
    /// Deactivate: URLs signed with it stop verifying.
    Deactivate {
        /// Id, client id or name.
        secret: String,
    },
    /// Reactivate (not possible once expired).
    Activate {
        /// Id, client id or name.
        secret: String,
    },
    /// Delete permanently.
    Delete {
        /// Id, client id or name.
        secret: String,
        /// Confirm: deletion cannot be undone.
        #[arg(long)]
        yes: bool,
    },
    /// Show the change log of one embed secret (also after deletion).
    History {
        /// Id, client id or name.
        secret: String,
    },
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// Unique name, 1-100 characters.
    #[arg(long)]
    name: String,
    /// Free-text description.
    #[arg(long, default_value = "")]
    description: String,
    /// Environment label, e.g. production.
    #[arg(long, default_value = "")]
    environment: String,
    /// Expiry, RFC 3339, e.g. 2026-01-31T00:00:00Z.
    #[arg(long, value_name = "RFC3339")]
    expires_at: Option<String>,
    /// Path prefix the secret may sign for; repeatable. None: any path.
    #[arg(long = "scope", value_name = "PREFIX")]
    scopes: Vec<String>,
}

#[derive(Debug, Args)]
struct DescribeArgs {
    /// Id, client id or name.
    secret: String,
    /// New description.
    #[arg(long)]
    description: Option<String>,
    /// New environment label.
    #[arg(long)]
    environment: Option<String>,
    /// New scopes (replace the old ones); repeatable.
    #[arg(long = "scope", value_name = "PREFIX", conflicts_with = "clear_scopes")]
    scopes: Vec<String>,
    /// Remove all scopes (any path).
    #[arg(long)]
    clear_scopes: bool,
    /// New expiry, RFC 3339.
    #[arg(long, value_name = "RFC3339", conflicts_with = "no_expiry")]
    expires_at: Option<String>,
    /// Remove the expiry.
    #[arg(long)]
    no_expiry: bool,
}

pub fn run(args: SecretsArgs) -> anyhow::Result<ExitCode> {
    let s = &args.store;
    if matches!(args.command, SecretsCommand::Create(_)) {
        one_time_value::ensure_may_show(s.json, "the new secret's value")?;
    }
    let store = s.open()?;
    let now = now();
    let json = s.json;
    match args.command {
        SecretsCommand::Create(c) => {
            let expires_at = c
                .expires_at
                .as_deref()
                .map(|t| parse_time("--expires-at", t))
                .transpose()?;
            let created = store.create_embed_secret(
                &NewEmbedSecret {
                    name: c.name,
                    description: c.description,
                    environment: c.environment,
                    scopes: c.scopes,
                    expires_at,
                },
                &s.actor()?,
                now,
            )?;
            if json {
                print_json(&created)?;
            } else {
                let m = &created.secret;
                println!("Created embed secret {:?}.", m.name);
                println!("  id:        {}", m.id);
                println!("  client id: {}   (eg_kid)", m.client_id);
                println!("  value:     {}", created.value.as_str());
                println!();
                println!("The value is shown only this once. Store it in your backend's secret manager now.");
            }
        }
        SecretsCommand::List { search } => {
            let list = store.search_embed_secrets(search.as_deref().unwrap_or(""))?;
            if json {
                print_json(&list)?;
            } else {
                print_table(&list, now);
            }
        }
        SecretsCommand::Show { secret } => {
            let m = store.get_embed_secret(&Lookup::any(secret))?;
            print_one(&m, json, now)?;
        }
        SecretsCommand::Rename { secret, new_name } => {
            let m = store.rename_embed_secret(&Lookup::any(secret), &new_name, &s.actor()?, now)?;
            print_one(&m, json, now)?;
        }
        SecretsCommand::Describe(d) => {
            let update = EmbedSecretUpdate {
                name: None,
                owner: None,
                description: d.description,
                environment: d.environment,
                scopes: if d.clear_scopes {
                    Some(Vec::new())
                } else if d.scopes.is_empty() {
                    None
                } else {
                    Some(d.scopes)
                },
                expires_at: if d.no_expiry {
                    Some(None)
                } else {
                    d.expires_at
                        .as_deref()
                        .map(|t| parse_time("--expires-at", t).map(Some))
                        .transpose()?
                },
            };
            if update == EmbedSecretUpdate::default() {
                bail!("nothing to change: pass --description, --environment, --scope, --clear-scopes, --expires-at or --no-expiry");
            }
            let m = store.update_embed_secret(&Lookup::any(d.secret), &update, &s.actor()?, now)?;
            print_one(&m, json, now)?;
        }
        SecretsCommand::Deactivate { secret } => {
            let m = store.deactivate_embed_secret(&Lookup::any(secret), &s.actor()?, now)?;
            print_one(&m, json, now)?;
        }
        SecretsCommand::Activate { secret } => {
            let m = store.activate_embed_secret(&Lookup::any(secret), &s.actor()?, now)?;
            print_one(&m, json, now)?;
        }
        SecretsCommand::Delete { secret, yes } => {
            if !yes {
                bail!("deleting {secret:?} is permanent; pass --yes to confirm");
            }
            let m = store.delete_embed_secret(&Lookup::any(secret), &s.actor()?, now)?;
            if json {
                print_json(&m)?;
            } else {
                println!(
                    "Deleted embed secret {:?} ({}, {}).",
                    m.name, m.id, m.client_id
                );
            }
        }
        SecretsCommand::History { secret } => {
            let entries = store.embed_secret_history(&Lookup::any(secret))?;
            if json {
                print_json(&entries)?;
            } else {
                print_history(&entries);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_one(m: &EmbedSecret, json: bool, now: i64) -> anyhow::Result<()> {
    if json {
        return print_json(m);
    }
    println!("name:         {}", m.name);
    println!("id:           {}", m.id);
    println!("client id:    {}", m.client_id);
    println!("state:        {}", state_text(m.active, m.expires_at, now));
    println!("description:  {}", m.description);
    println!("environment:  {}", m.environment);
    println!(
        "scopes:       {}",
        if m.scopes.is_empty() {
            "(any path)".to_owned()
        } else {
            m.scopes.join(" ")
        }
    );
    println!("fingerprint:  {}", m.fingerprint);
    println!("owner:        {}", m.owner);
    println!("created at:   {}", time_text(Some(m.created_at)));
    println!("updated at:   {}", time_text(Some(m.updated_at)));
    println!("last used at: {}", time_text(m.last_used_at));
    println!("expires at:   {}", time_text(m.expires_at));
    Ok(())
}

fn print_table(list: &[EmbedSecret], now: i64) {
    let w = list
        .iter()
        .map(|m| m.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "{:<w$}  {:<19}  {:<8}  {:<12}  {:<10}  {:<20}  LAST USED",
        "NAME", "CLIENT ID", "STATE", "ENVIRONMENT", "VALUE", "EXPIRES"
    );
    for m in list {
        println!(
            "{:<w$}  {:<19}  {:<8}  {:<12}  {:<10}  {:<20}  {}",
            m.name,
            m.client_id,
            state_text(m.active, m.expires_at, now),
            m.environment,
            m.fingerprint,
            time_text(m.expires_at),
            time_text(m.last_used_at)
        );
    }
}
