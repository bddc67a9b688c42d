//! `embedgate sign`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::Args;
use embedgate_core::{generate_nonce, SignRequest, Signer};
use zeroize::Zeroizing;

use super::clock::unix_now;

/// Arguments of `embedgate sign`.
#[derive(Debug, Args)]
#[command(
    after_help = "The secret is read from the EMBEDGATE_SECRET environment variable, \
or from --secret-file (its content, trailing newline ignored). It is never accepted as an argument, \
so it does not end up in shell history or process listings."
)]
pub struct SignArgs {
    /// The absolute content URL to sign, e.g. https://embed.example.com/d/sales?orgId=1
    url: String,
    /// The public client id of the embed secret (eg_kid).
    #[arg(long)]
    kid: String,
    /// The external user id (eg_sub).
    #[arg(long)]
    sub: String,
    /// Lifetime of the URL in seconds from now.
    #[arg(long, value_name = "SECS", conflicts_with = "exp")]
    ttl: Option<u64>,
    /// Absolute expiry, Unix seconds.
    #[arg(long, value_name = "UNIX")]
    exp: Option<u64>,
    /// The nonce (16-128 of A-Z a-z 0-9 _ -); generated when absent.
    #[arg(long, value_name = "N")]
    nonce: Option<String>,
    /// Wanted session length in seconds (eg_session).
    #[arg(long, value_name = "SECS")]
    session: Option<u64>,
    /// A user attribute, repeatable: --attr tenant=acme
    #[arg(long = "attr", value_name = "NAME=VALUE")]
    attrs: Vec<String>,
    /// Read the secret from this file instead of EMBEDGATE_SECRET.
    #[arg(long, value_name = "PATH")]
    secret_file: Option<PathBuf>,
    /// Sign the EGJ1 form: https://host/path?eg_jwt=<HS256 JWT>, the URL's
    /// query carried in the token's params claim.
    #[arg(long)]
    jwt: bool,
}

const DEFAULT_TTL: u64 = 300;

pub fn run(args: SignArgs) -> anyhow::Result<ExitCode> {
    let secret = read_secret(args.secret_file.as_deref())?;
    let signer = Signer::new(&args.kid, secret.as_bytes()).context("--kid")?;
    let exp = match (args.exp, args.ttl) {
        (Some(exp), _) => exp,
        (None, ttl) => unix_now() + ttl.unwrap_or(DEFAULT_TTL),
    };
    let nonce = match args.nonce {
        Some(n) => n,
        None => generate_nonce(&mut rand::rngs::OsRng),
    };
    let mut attrs = Vec::with_capacity(args.attrs.len());
    for a in &args.attrs {
        let Some((name, value)) = a.split_once('=') else {
            bail!("--attr must be NAME=VALUE, got {a:?}");
        };
        attrs.push((name, value));
    }
    let request = SignRequest {
        url: &args.url,
        sub: &args.sub,
        exp,
        nonce: &nonce,
        session: args.session,
        attrs: &attrs,
    };
    let url = if args.jwt {
        signer.sign_jwt(&request)
    } else {
        signer.sign(&request)
    }
    .context("cannot sign")?;
    println!("{url}");
    Ok(ExitCode::SUCCESS)
}

/// The secret, from `--secret-file` or `EMBEDGATE_SECRET`, in wiped memory.
fn read_secret(file: Option<&std::path::Path>) -> anyhow::Result<Zeroizing<String>> {
    let raw = match file {
        Some(path) => Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --secret-file {}", path.display()))?,
        ),
        None => match std::env::var("EMBEDGATE_SECRET") {
            Ok(v) => Zeroizing::new(v),
            Err(_) => bail!("no secret: set EMBEDGATE_SECRET or pass --secret-file PATH"),
        },
    };
    let trimmed = raw.trim_end_matches(['\n', '\r']);
    if trimmed.is_empty() {
        bail!("the secret is empty");
    }
    Ok(Zeroizing::new(trimmed.to_owned()))
}
