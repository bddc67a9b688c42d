//! `embedgate verify`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use embedgate_core::{EmbedKey, NonceCheck, Scheme, UnverifiedEmbedUrl, VerifyPolicy};
use serde::Deserialize;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::clock::unix_now;

/// Arguments of `embedgate verify`.
#[derive(Debug, Args)]
#[command(
    after_help = "The URL may be EG1 (eg_ parameters and eg_sig) or EGJ1 (eg_jwt). \
KEYS is a JSON object: {\"<kid>\": {\"secret\": \"...\", \"active\": true}}. \
Prints one JSON object {\"result\": \"ok\" | \"<reason>\", \"scheme\": \"EG1\" | \"EGJ1\", \
\"string_to_sign\": \"...\", ...}; string_to_sign is what the signature covers (for EGJ1 the \
token's header.payload). Exit status 0 when ok, 1 when rejected, 2 on usage errors."
)]
pub struct VerifyArgs {
    /// The signed URL.
    url: String,
    /// JSON key file.
    #[arg(long, value_name = "FILE")]
    keys: PathBuf,
    /// Verify as of this time (Unix seconds) instead of the clock.
    #[arg(long, value_name = "UNIX")]
    now: Option<u64>,
    /// Tolerated clock skew in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    skew: u64,
    /// Longest URL lifetime accepted, seconds.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    max_url_ttl: u64,
    /// Longest session a URL may open, seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    max_session: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    secret: Zeroizing<String>,
    #[serde(default = "yes")]
    active: bool,
    #[serde(default)]
    expires_at: Option<u64>,
    #[serde(default)]
    scopes: Vec<String>,
}

fn yes() -> bool {
    true
}

fn load_keys(path: &std::path::Path) -> anyhow::Result<HashMap<String, EmbedKey>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --keys {}", path.display()))?,
    );
    // serde_json's messages quote at most a token of the input and only on
    // syntax errors; report position only so a secret is never echoed.
    let entries: HashMap<String, KeyEntry> = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "--keys {} is not a key file ({{\"kid\": {{\"secret\": \"...\", \"active\": true}}}}): error at line {} column {}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    let mut keys = HashMap::with_capacity(entries.len());
    for (kid, e) in entries {
        let scopes = e
            .scopes
            .iter()
            .map(|s| {
                embedgate_core::normalise_path(s)
                    .with_context(|| format!("scope {s:?} of key {kid:?}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let key = EmbedKey::new(e.secret.as_bytes())
            .with_active(e.active)
            .with_expires_at(e.expires_at)
            .with_scopes(scopes);
        keys.insert(kid, key);
    }
    Ok(keys)
}

pub fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let keys = match load_keys(&args.keys) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(super::EXIT_USAGE));
        }
    };
    let policy = VerifyPolicy {
        skew: args.skew,
        max_url_ttl: args.max_url_ttl,
        max_session: args.max_session,
    };
    let now = args.now.unwrap_or_else(unix_now);
    let scheme = Scheme::of_url(&args.url);
    let parsed = UnverifiedEmbedUrl::parse(&args.url);
    // What the signature covers: known once the URL parses; a malformed
    // EG1 URL still has the string to sign of EG1 §2, to compare with.
    let string_to_sign = match (&parsed, scheme) {
        (Ok(u), _) => Some(u.string_to_sign().to_owned()),
        (Err(_), Some(Scheme::Eg1)) => embedgate_core::string_to_sign(&args.url).ok(),
        (Err(_), _) => None,
    };
    let verified = parsed.and_then(|u| {
        u.authenticate(&keys, now, &policy)?
            .accept(NonceCheck::NotTracked)
    });
    let (out, code) = match verified {
        Ok(v) => {
            let attrs: serde_json::Map<String, Value> = v
                .attrs()
                .map(|(k, val)| (k.to_owned(), Value::String(val.to_owned())))
                .collect();
            (
                json!({
                    "result": "ok",
                    "scheme": v.scheme().as_str(),
                    "string_to_sign": string_to_sign,
                    "kid": v.kid(),
                    "sub": v.sub(),
                    "exp": v.exp(),
                    "nonce": v.nonce(),
                    "session": v.session_secs(),
                    "attrs": attrs,
                    "host": v.host(),
                    "forward": v.forward_path_and_query(),
                    "now": now,
                }),
                ExitCode::SUCCESS,
            )
        }
        Err(e) => (
            json!({
                "result": e.code(),
                "scheme": scheme.map(Scheme::as_str),
                "string_to_sign": string_to_sign,
                "detail": e.detail(),
                "now": now,
            }),
            ExitCode::from(super::EXIT_FAILURE),
        ),
    };
    println!("{out}");
    Ok(code)
}
