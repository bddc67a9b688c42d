//! `embedgate-dev`: the developer tools of the embedgate workspace, which
//! the product binary `embedgate` does not carry. Run by `cargo xtask demo`
//! and `cargo xtask bench-proxy`.

mod demo_command;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use embedgate_devtools::bench;

/// embedgate developer tools: the live demo and the benchmark helpers.
#[derive(Debug, Parser)]
#[command(name = "embedgate-dev", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the live demo (host app, proxy, content backend on loopback)
    /// until Ctrl-C; Enter prints a fresh example URL.
    Demo,
    /// Benchmark helpers (`cargo xtask bench-proxy`, crates/xtask/perf).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Serve a fixed small JSON answer on every path (HTTP/1.1 keep-alive,
    /// one thread).
    Backend {
        /// Address to listen on.
        #[arg(long)]
        listen: SocketAddr,
    },
    /// Create a store with one embed secret in DIR; print its client id.
    /// The value goes to DIR/secret (mode 0600), for `presign`.
    Setup {
        /// An empty directory of the benchmark.
        #[arg(long)]
        dir: PathBuf,
        /// Create the store through this `embedgate` binary's own
        /// `secrets create` (another build's store format), not this
        /// build's store.
        #[arg(long, value_name = "EMBEDGATE_BINARY")]
        via: Option<PathBuf>,
    },
    /// Write COUNT freshly signed URLs (origin-form, one per line).
    Presign {
        /// The client id.
        #[arg(long)]
        kid: String,
        /// File holding the secret value.
        #[arg(long)]
        secret_file: PathBuf,
        /// The absolute URL to sign, e.g. `https://bench.local/d/data.json`.
        #[arg(long)]
        url: String,
        /// How many URLs.
        #[arg(long)]
        count: usize,
        /// Where to write them.
        #[arg(long)]
        out: PathBuf,
        /// Seconds until the URLs expire.
        #[arg(long, default_value_t = 600)]
        ttl: u64,
    },
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo => demo_command::run(),
        Command::Bench(BenchCommand::Backend { listen }) => bench::serve_backend(listen),
        Command::Bench(BenchCommand::Setup { dir, via }) => {
            let kid = match via {
                Some(embedgate) => bench::setup_via_cli(&embedgate, &dir)?,
                None => bench::setup(&dir)?,
            };
            println!("{kid}");
            Ok(())
        }
        Command::Bench(BenchCommand::Presign {
            kid,
            secret_file,
            url,
            count,
            out,
            ttl,
        }) => bench::presign(
            &bench::Presign {
                kid: &kid,
                secret_file: &secret_file,
                url: &url,
                count,
                ttl,
            },
            &out,
        ),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
