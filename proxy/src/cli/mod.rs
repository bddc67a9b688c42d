//! The command line: one module per command group.

mod clock;
mod config_cmd;
mod credentials;
mod explain;
mod one_time_value;
mod secrets;
mod serve;
mod sign;
mod store_args;
mod store_cmd;
mod tokens;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code for a refused URL or a failed operation.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for bad usage (clap uses the same for its own errors).
pub const EXIT_USAGE: u8 = 2;

/// embedgate: prove every embedded dashboard load was authorised by your backend.
#[derive(Debug, Parser)]
#[command(name = "embedgate", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sign an embed URL (EG1-HMAC-SHA256). The secret comes from
    /// EMBEDGATE_SECRET or --secret-file, never from an argument.
    Sign(sign::SignArgs),
    /// Verify a signed embed URL against a JSON key file and explain the verdict.
    Verify(verify::VerifyArgs),
    /// Run the edge verification proxy (see docs/proxy.md); --check finds
    /// what a start would meet.
    Serve(serve::ServeArgs),
    /// Configuration of `embedgate serve`: `config init` prints a starting point.
    Config(config_cmd::ConfigArgs),
    /// Explain why the proxy would refuse (or accept) a signed URL, against
    /// the store: the reason, the string to sign, what to check.
    Explain(explain::ExplainArgs),
    /// Manage embed secrets in the store (values shown once, at creation).
    Secrets(secrets::SecretsArgs),
    /// Manage upstream credentials in the store (values read from stdin, never shown).
    Credentials(credentials::CredentialsArgs),
    /// Store maintenance: purge expired secrets, rotate the master key, audit log.
    Store(store_cmd::StoreCmdArgs),
    /// Manage admin API tokens in the store (each shown once, at creation).
    Tokens(tokens::TokensArgs),
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Sign(args) => sign::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Config(args) => config_cmd::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Secrets(args) => secrets::run(args),
        Command::Credentials(args) => credentials::run(args),
        Command::Store(args) => store_cmd::run(args),
        Command::Tokens(args) => tokens::run(args),
    }
}
