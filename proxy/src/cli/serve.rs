//! `embedgate serve`: run the edge verification proxy, or (`--check`) find
//! what a start would meet without starting.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use embedgate::serve;
use embedgate::serve::config::{AdminConfig, LogFormat};

use super::one_time_value;

/// Arguments of `embedgate serve`.
#[derive(Debug, Args)]
#[command(after_help = "Every config key can be set by an EMBEDGATE_… variable \
(verify.skew → EMBEDGATE_VERIFY_SKEW, routes[0].upstream → EMBEDGATE_ROUTES_0_UPSTREAM); \
the store is EMBEDGATE_STORE and the key file EMBEDGATE_MASTER_KEY_FILE, as for the store commands. \
An EMBEDGATE_ variable that is no key is an error. The master key comes from EMBEDGATE_MASTER_KEY \
or store.master_key_file. Logs: EMBEDGATE_LOG or RUST_LOG (e.g. info, embedgate=debug). \
`embedgate config init` prints a starting configuration. See docs/proxy.md.")]
pub struct ServeArgs {
    /// The configuration file.
    #[arg(long, value_name = "FILE", default_value = "embedgate.toml")]
    config: PathBuf,
    /// Check what a start would meet (the store and its master key, the
    /// credentials routes name, TLS files, upstream hosts, free listen
    /// addresses), print one line per problem, and exit (1 on a problem).
    #[arg(long)]
    check: bool,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = serve::Config::load(&args.config)?;
    if args.check {
        return check(&config);
    }
    init_logging(config.log.format);
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let runtime = runtime()?;
    runtime.block_on(async {
        // The admin listener serves the admin API, console and playground
        // next to the probes; `serve` itself knows none of them.
        let server = serve::Server::bind(config.clone())
            .await?
            .with_admin_api(embedgate::admin_api::router);
        if let Some(store) = server.admin_store().cloned() {
            let admin = config.admin.clone();
            tokio::task::spawn_blocking(move || first_owner_token(&store, &admin))
                .await
                .context("creating the first admin token")??;
        }
        // Printed (not only logged) so scripts can wait for it.
        println!("embedgate serve: listening on {}", server.public_addr());
        if let Some(a) = server.admin_addr() {
            println!("embedgate serve: admin on {a}");
        }
        if let Some(a) = server.metrics_addr() {
            println!("embedgate serve: metrics on {a}");
        }
        server.run(serve::shutdown::signal()).await
    })?;
    Ok(ExitCode::SUCCESS)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
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
    builder
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// `serve --check`: one line per problem on stderr, exit 1; else one
/// summary line on stdout.
fn check(config: &serve::Config) -> anyhow::Result<ExitCode> {
    for w in &config.warnings {
        eprintln!("warning: {w}");
    }
    let now = super::store_args::now();
    let report = runtime()?.block_on(serve::preflight::check(config, now));
    if !report.ok() {
        for p in &report.problems {
            eprintln!("error: {p}");
        }
        return Ok(ExitCode::from(super::EXIT_FAILURE));
    }
    println!(
        "configuration ok: {} route(s); {}",
        config.routes.len(),
        report.checked.join("; ")
    );
    Ok(ExitCode::SUCCESS)
}

/// The first start of a store without admin tokens creates an owner token
/// and writes it to `admin.owner_token_file` (0600); the console and log
/// name the file, never the token. Without a file (PostgreSQL, not
/// configured) it is printed only to a terminal; otherwise none is made.
fn first_owner_token(store: &embedgate_store::Store, admin: &AdminConfig) -> anyhow::Result<()> {
    if !store.list_admin_tokens()?.is_empty() {
        return Ok(());
    }
    let terminal = one_time_value::stdout_is_terminal();
    if admin.owner_token_file.is_none() && !terminal {
        tracing::warn!(
            "the store has no admin token and none was created: stdout is not a terminal and \
admin.owner_token_file is not set; set it, or create one with `embedgate tokens create --role owner --name NAME`"
        );
        return Ok(());
    }
    let now = super::store_args::now();
    let Some(created) = store.create_first_owner_token("owner", "embedgate serve", now)? else {
        return Ok(());
    };
    match &admin.owner_token_file {
        Some(path) => {
            one_time_value::write_private_file(path, created.value.as_str()).with_context(|| {
                format!(
                    "config key `admin.owner_token_file`: the first admin token was created but could not be saved; \
revoke it (`embedgate tokens revoke {}`) and create another with `embedgate tokens create --role owner`",
                    created.token.name
                )
            })?;
            tracing::info!(file = %path.display(), name = %created.token.name, "created the first admin token (owner)");
            println!(
                "embedgate serve: created the first admin token (owner, named {:?}); it is in {} (mode 0600)",
                created.token.name,
                path.display()
            );
        }
        None => {
            // A terminal: shown to the person there, this once.
            println!(
                "embedgate serve: created the first admin token (owner, named {:?}); it is shown this once:",
                created.token.name
            );
            println!("embedgate serve: admin token: {}", created.value.as_str());
        }
    }
    Ok(())
}

fn init_logging(format: LogFormat) {
    let filter = std::env::var("EMBEDGATE_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        // A JSON line names its target, so `embedgate::access` lines can
        // be routed apart from the rest.
        LogFormat::Json => builder.json().with_target(true).with_ansi(false).try_init(),
    };
}
