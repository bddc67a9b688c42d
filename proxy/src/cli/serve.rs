//! `embedgate serve`: run the edge verification proxy.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use embedgate::serve;

/// Arguments of `embedgate serve`.
#[derive(Debug, Args)]
#[command(
    after_help = "Every config key can be overridden by an EMBEDGATE_… variable \
(verify.skew → EMBEDGATE_VERIFY_SKEW, routes[0].upstream → EMBEDGATE_ROUTES_0_UPSTREAM). \
The master key comes from EMBEDGATE_MASTER_KEY or store.master_key_file. \
Logs: EMBEDGATE_LOG or RUST_LOG (e.g. info, embedgate=debug). See docs/proxy.md."
)]
pub struct ServeArgs {
    /// The configuration file.
    #[arg(long, value_name = "FILE", default_value = "embedgate.toml")]
    config: PathBuf,
    /// Check the configuration and exit.
    #[arg(long)]
    check: bool,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    let config = serve::Config::load(&args.config)?;
    if args.check {
        println!("configuration ok: {} route(s)", config.routes.len());
        return Ok(ExitCode::SUCCESS);
    }
    // On one CPU (e.g. pinned with taskset, or a 1-vCPU container) the
    // single-threaded scheduler avoids the work-stealing machinery, which
    // then only costs; the proxy's blocking work (store reads) goes to the
    // blocking pool either way.
    let one_cpu = std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
    let mut builder = if one_cpu {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = builder
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let server = serve::Server::bind(config).await?;
        if let Some(store) = server.admin_store().cloned() {
            let created = tokio::task::spawn_blocking(move || {
                let now = super::store_args::now();
                store.create_first_owner_token("owner", "embedgate serve", now)
            })
            .await
            .context("creating the first admin token")??;
            if let Some(t) = created {
                // The one time this token is shown: on the console, not in the log.
                println!(
                    "embedgate serve: created the first admin token (owner, named {:?}); it is shown this once:",
                    t.token.name
                );
                println!("embedgate serve: admin token: {}", t.value.as_str());
            }
        }
        // Printed (not only logged) so scripts can wait for it.
        println!("embedgate serve: listening on {}", server.public_addr());
        if let Some(a) = server.admin_addr() {
            println!("embedgate serve: admin on {a}");
        }
        server.run(serve::shutdown::signal()).await
    })?;
    Ok(ExitCode::SUCCESS)
}

fn init_logging() {
    let filter = std::env::var("EMBEDGATE_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}
