//! `embedgate config init`: a commented, minimal `embedgate.toml` for one
//! store and one route, valid as printed (it is parsed before it is
//! printed).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use embedgate::serve::Config;

/// Arguments of `embedgate config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print a commented minimal configuration (one store, one route) to
    /// stdout: `embedgate config init > embedgate.toml`, then
    /// `embedgate serve --check`.
    Init(InitArgs),
}

#[derive(Debug, Args)]
struct InitArgs {
    /// The content backend the route forwards to, http://HOST:PORT.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:3000")]
    upstream: String,
    /// The path prefix the route serves.
    #[arg(long, value_name = "PATH", default_value = "/d/")]
    prefix: String,
    /// The store (as for the store commands).
    #[arg(
        long,
        env = "EMBEDGATE_STORE",
        value_name = "URL",
        default_value = "sqlite:///var/lib/embedgate/store.db"
    )]
    store: String,
    /// The master key file (as for the store commands); unset, the file
    /// shows where to put it.
    #[arg(long, env = "EMBEDGATE_MASTER_KEY_FILE", value_name = "PATH")]
    master_key_file: Option<PathBuf>,
    /// Where browsers reach the proxy.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    listen: String,
    /// The admin listener, or "off".
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8081")]
    admin: String,
    /// The host your backend signs URLs for (else the request's Host).
    #[arg(long, value_name = "HOST")]
    public_host: Option<String>,
}

pub fn run(args: ConfigArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ConfigCommand::Init(a) => {
            let text = init_text(&a);
            // Valid as printed, or not printed: the error names the key the
            // flag went into.
            Config::from_toml(&text, &HashMap::new())
                .context("the flags make an invalid configuration")?;
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A TOML string literal.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn init_text(a: &InitArgs) -> String {
    let master_key = match &a.master_key_file {
        Some(p) => format!("master_key_file = {}", quoted(&p.display().to_string())),
        None => "# master_key_file = \"/etc/embedgate/master.key\"".to_owned(),
    };
    let public_host = match &a.public_host {
        Some(h) => format!("public_host = {}", quoted(h)),
        None => "# public_host = \"embed.example.com\"".to_owned(),
    };
    format!(
        r#"# embedgate.toml, made by `embedgate config init`; every key is in
# docs/proxy.md. Any key can also be set by a variable, EMBEDGATE_ and the
# key in capitals (verify.skew: EMBEDGATE_VERIFY_SKEW; routes[0].upstream:
# EMBEDGATE_ROUTES_0_UPSTREAM). Check it with `embedgate serve --check`.

[listen]
# Where browsers reach the proxy (an IP address or a host name, and a port).
public = {listen}
# The admin API and console, health and metrics: keep it private ("off" disables it).
admin = {admin}

[store]
# The embed secrets (`embedgate store init`, `embedgate secrets create`);
# EMBEDGATE_STORE sets it too.
url = {store}
# The master key: this file (EMBEDGATE_MASTER_KEY_FILE), or the key itself
# in EMBEDGATE_MASTER_KEY. Never the key in this file.
{master_key}

[verify]
# The host your backend signs URLs for; unset, the request's Host header.
# Set it when a load balancer in front rewrites Host.
{public_host}

# HTTPS on the public listener (session cookies need it, or a TLS load
# balancer in front):
# [tls]
# cert_file = "/etc/embedgate/tls/fullchain.pem"
# key_file = "/etc/embedgate/tls/privkey.pem"

# Plain-http development only (cookies without Secure and __Host-):
# [session]
# insecure_dev_cookies = true

[[routes]]
# Signed URLs under this path prefix, and the sessions they open, go to the
# content backend below (with the verified user in X-Embed-User).
prefix = {prefix}
upstream = {upstream}
# Grafana's auth proxy reads X-WEBAUTH-USER:
# user_header = "X-WEBAUTH-USER"
# More prefixes a session may fetch (assets, API calls):
# session_paths = ["/public/", "/api/"]
# A stored credential to send upstream (`embedgate credentials put --name grafana`):
# upstream_auth = {{ header = "Authorization", credential = "grafana", prefix = "Bearer " }}
"#,
        listen = quoted(&a.listen),
        admin = quoted(&a.admin),
        store = quoted(&a.store),
        prefix = quoted(&a.prefix),
        upstream = quoted(&a.upstream),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_output_is_valid_and_commented() {
        let a = InitArgs {
            upstream: "http://127.0.0.1:3000".to_owned(),
            prefix: "/d/".to_owned(),
            store: "sqlite:///var/lib/embedgate/store.db".to_owned(),
            master_key_file: None,
            listen: "localhost:8080".to_owned(),
            admin: "off".to_owned(),
            public_host: Some("embed.example.com".to_owned()),
        };
        let text = init_text(&a);
        let c = Config::from_toml(&text, &HashMap::new()).expect("valid as printed");
        assert_eq!(c.routes.len(), 1);
        assert_eq!(c.verify.public_host.as_deref(), Some("embed.example.com"));
        assert!(text.lines().filter(|l| l.starts_with('#')).count() > 10);
    }
}
