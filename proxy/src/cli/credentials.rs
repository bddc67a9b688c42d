//! `embedgate credentials`: upstream credentials in the store. Values go in
//! through stdin and never come out.

use std::io::{IsTerminal as _, Read as _};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use embedgate_store::{Credential, Lookup, PutCredential, TokenType, Zeroizing};

use super::store_args::{
    now, parse_time, print_history, print_json, state_text, time_text, StoreArgs, STORE_HELP,
};

/// Arguments of `embedgate credentials`.
#[derive(Debug, Args)]
#[command(after_help = STORE_HELP)]
pub struct CredentialsArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: CredentialsCommand,
}

#[derive(Debug, Subcommand)]
enum CredentialsCommand {
    /// Store a credential, reading its value from stdin. If the name exists,
    /// its value is replaced by a new version (and the given fields updated).
    Put(PutArgs),
    /// List credentials (never their values).
    List {
        /// Only credentials whose name or description contains this (any case).
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
    },
    /// Show one credential's metadata.
    Show {
        /// Id or name.
        credential: String,
    },
    /// Deactivate: the proxy stops using it.
    Deactivate {
        /// Id or name.
        credential: String,
    },
    /// Reactivate (not possible once expired).
    Activate {
        /// Id or name.
        credential: String,
    },
    /// Delete permanently.
    Delete {
        /// Id or name.
        credential: String,
        /// Confirm: deletion cannot be undone.
        #[arg(long)]
        yes: bool,
    },
    /// Show the change log of one credential (also after deletion).
    History {
        /// Id or name.
        credential: String,
    },
}

#[derive(Debug, Args)]
#[command(
    after_help = "The value is read from stdin (one trailing newline is dropped), e.g.\n  \
printf %s \"$TOKEN\" | embedgate credentials put --name grafana-api --token-type api_key"
)]
struct PutArgs {
    /// Unique name the proxy refers to it by.
    #[arg(long)]
    name: String,
    /// Free-text description.
    #[arg(long)]
    description: Option<String>,
    /// api_key, access_token, refresh_token, client_token, request_token or other.
    #[arg(long, value_name = "TYPE")]
    token_type: Option<String>,
    /// Who issued it.
    #[arg(long)]
    issuer: Option<String>,
    /// Expiry of this value, RFC 3339.
    #[arg(long, value_name = "RFC3339")]
    expires_at: Option<String>,
    /// Scope, repeatable (replaces the old scopes).
    #[arg(long = "scope", value_name = "PREFIX")]
    scopes: Vec<String>,
}

/// The value from stdin, without one trailing newline.
fn read_value() -> anyhow::Result<Zeroizing<String>> {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("Paste the value, then press Enter and Ctrl-D:");
    }
    let mut value = Zeroizing::new(String::new());
    stdin
        .read_to_string(&mut value)
        .context("cannot read the value from stdin (is it UTF-8?)")?;
    if value.ends_with('\n') {
        value.pop();
        if value.ends_with('\r') {
            value.pop();
        }
    }
    if value.is_empty() {
        bail!("no value on stdin");
    }
    Ok(value)
}

pub fn run(args: CredentialsArgs) -> anyhow::Result<ExitCode> {
    let s = &args.store;
    let json = s.json;
    let now = now();
    match args.command {
        CredentialsCommand::Put(p) => {
            let token_type = p
                .token_type
                .as_deref()
                .map(str::parse::<TokenType>)
                .transpose()?;
            let expires_at = p
                .expires_at
                .as_deref()
                .map(|t| parse_time("--expires-at", t))
                .transpose()?;
            // Read before opening: a wrong key is reported either way, but
            // an empty stdin should not cost a store open.
            let value = read_value()?;
            let store = s.open()?;
            let out = store.put_credential(
                &PutCredential {
                    name: p.name,
                    description: p.description,
                    token_type,
                    issuer: p.issuer,
                    scopes: (!p.scopes.is_empty()).then_some(p.scopes),
                    expires_at,
                },
                &value,
                &s.actor()?,
                now,
            )?;
            if json {
                print_json(&out)?;
            } else {
                let c = &out.credential;
                if out.created {
                    println!("Stored credential {:?} ({}).", c.name, c.id);
                } else {
                    println!(
                        "Replaced the value of credential {:?} ({}), now version {}.",
                        c.name, c.id, c.version
                    );
                }
            }
        }
        CredentialsCommand::List { search } => {
            let list = s
                .open()?
                .search_credentials(search.as_deref().unwrap_or(""))?;
            if json {
                print_json(&list)?;
            } else {
                print_table(&list, now);
            }
        }
        CredentialsCommand::Show { credential } => {
            let c = s.open()?.get_credential(&Lookup::any(credential))?;
            print_one(&c, json, now)?;
        }
        CredentialsCommand::Deactivate { credential } => {
            let c = s
                .open()?
                .deactivate_credential(&Lookup::any(credential), &s.actor()?, now)?;
            print_one(&c, json, now)?;
        }
        CredentialsCommand::Activate { credential } => {
            let c = s
                .open()?
                .activate_credential(&Lookup::any(credential), &s.actor()?, now)?;
            print_one(&c, json, now)?;
        }
        CredentialsCommand::Delete { credential, yes } => {
            if !yes {
                bail!("deleting {credential:?} is permanent; pass --yes to confirm");
            }
            let c = s
                .open()?
                .delete_credential(&Lookup::any(credential), &s.actor()?, now)?;
            if json {
                print_json(&c)?;
            } else {
                println!("Deleted credential {:?} ({}).", c.name, c.id);
            }
        }
        CredentialsCommand::History { credential } => {
            let entries = s.open()?.credential_history(&Lookup::any(credential))?;
            if json {
                print_json(&entries)?;
            } else {
                print_history(&entries);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_one(c: &Credential, json: bool, now: i64) -> anyhow::Result<()> {
    if json {
        return print_json(c);
    }
    println!("name:         {}", c.name);
    println!("id:           {}", c.id);
    println!("state:        {}", state_text(c.active, c.expires_at, now));
    println!("token type:   {}", c.token_type);
    println!("issuer:       {}", c.issuer);
    println!("description:  {}", c.description);
    println!("scopes:       {}", c.scopes.join(" "));
    println!("version:      {}", c.version);
    println!("fingerprint:  {}", c.fingerprint);
    println!("owner:        {}", c.owner);
    println!("created at:   {}", time_text(Some(c.created_at)));
    println!("updated at:   {}", time_text(Some(c.updated_at)));
    println!("last used at: {}", time_text(c.last_used_at));
    println!("expires at:   {}", time_text(c.expires_at));
    Ok(())
}

fn print_table(list: &[Credential], now: i64) {
    let w = list
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "{:<w$}  {:<13}  {:<8}  {:>3}  {:<10}  {:<20}  LAST USED",
        "NAME", "TYPE", "STATE", "VER", "VALUE", "EXPIRES"
    );
    for c in list {
        println!(
            "{:<w$}  {:<13}  {:<8}  {:>3}  {:<10}  {:<20}  {}",
            c.name,
            c.token_type.as_str(),
            state_text(c.active, c.expires_at, now),
            c.version,
            c.fingerprint,
            time_text(c.expires_at),
            time_text(c.last_used_at)
        );
    }
}
