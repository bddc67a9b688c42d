//! `embedgate tokens`: admin API tokens in the store (offline, like
//! `secrets`). A token is printed once, at creation; the store keeps only
//! its hash.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use embedgate_store::{NewAdminToken, Role};

use super::one_time_value;
use super::store_args::{now, print_json, time_text, StoreArgs, STORE_HELP};

/// Arguments of `embedgate tokens`.
#[derive(Debug, Args)]
#[command(after_help = STORE_HELP)]
pub struct TokensArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: TokensCommand,
}

#[derive(Debug, Subcommand)]
enum TokensCommand {
    /// Create an admin API token. Prints it this once and never again, on a
    /// terminal, or with --json into a pipe or file (without --json it
    /// refuses and creates nothing).
    Create {
        /// Role: owner (everything), admin (secrets and credentials), viewer (read only).
        #[arg(long, value_name = "ROLE")]
        role: String,
        /// Unique name; the actor in the change log for changes made with it.
        #[arg(long)]
        name: String,
    },
    /// List admin tokens (name, role, created, last used; never the token).
    List,
    /// Revoke an admin token (by id or name). The last owner token stays.
    Revoke {
        /// Id (tok_...) or name.
        token: String,
    },
}

pub fn run(args: TokensArgs) -> anyhow::Result<ExitCode> {
    let s = &args.store;
    if matches!(args.command, TokensCommand::Create { .. }) {
        one_time_value::ensure_may_show(s.json, "the new token")?;
    }
    let store = s.open()?;
    let now = now();
    match args.command {
        TokensCommand::Create { role, name } => {
            let role: Role = role.parse()?;
            let created =
                store.create_admin_token(&NewAdminToken { name, role }, &s.actor()?, now)?;
            if s.json {
                print_json(&created)?;
            } else {
                println!("id:    {}", created.token.id);
                println!("name:  {}", created.token.name);
                println!("role:  {}", created.token.role);
                println!("token: {}", created.value.as_str());
                eprintln!("Copy the token now: it is shown this once and cannot be shown again.");
            }
        }
        TokensCommand::List => {
            let tokens = store.list_admin_tokens()?;
            if s.json {
                print_json(&tokens)?;
            } else {
                println!(
                    "{:<32} {:<24} {:<7} {:<21} LAST USED",
                    "ID", "NAME", "ROLE", "CREATED"
                );
                for t in tokens {
                    println!(
                        "{:<32} {:<24} {:<7} {:<21} {}",
                        t.id,
                        t.name,
                        t.role,
                        time_text(Some(t.created_at)),
                        time_text(t.last_used_at)
                    );
                }
            }
        }
        TokensCommand::Revoke { token } => {
            let t = store.revoke_admin_token(&token, &s.actor()?, now)?;
            if s.json {
                print_json(&t)?;
            } else {
                println!("revoked {} ({}, {})", t.name, t.id, t.role);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
