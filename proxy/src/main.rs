//! `embedgate`: sign and verify embed URLs, manage the secret store, and run
//! the edge verification proxy.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            // One clear line; `{:#}` joins the context chain. Errors never
            // carry secret values (see each command's error wording).
            eprintln!("error: {err:#}");
            ExitCode::from(cli::EXIT_FAILURE)
        }
    }
}
