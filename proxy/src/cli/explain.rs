//! `embedgate explain <URL>`: why the proxy would refuse (or accept) a
//! signed URL, judged against the store: the reason, the string to sign
//! the URL implies, and what to check for that reason. The secret is
//! decrypted in this process and never printed; neither is the signature
//! it would give.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::Args;
use embedgate_core::{EmbedKey, NonceCheck, Reason, UnverifiedEmbedUrl, VerifyPolicy};
use embedgate_store::{
    format_rfc3339, AuditFilter, ChangeAction, ChangeEntry, EmbedSecret, Lookup, MasterKey, Page,
    Store, StoreError, SubjectKind,
};
use serde_json::{json, Value};

use super::clock::unix_now;
use super::store_args::{deprecated_var, state_text};

/// Arguments of `embedgate explain`.
#[derive(Debug, Args)]
#[command(
    after_help = "The store and master key come from --config (the proxy's embedgate.toml, \
which also gives verify.skew, verify.max_url_ttl, verify.max_session and verify.public_host), \
else from --store / EMBEDGATE_STORE and EMBEDGATE_MASTER_KEY or --master-key-file / \
EMBEDGATE_MASTER_KEY_FILE. Exit status 0 when the URL verifies, 1 when it is refused, \
2 on usage errors. Quote the URL: an unquoted & ends it in the shell."
)]
pub struct ExplainArgs {
    /// The signed URL: absolute, or origin-form (/path?query) with a host
    /// from --public-host or the config.
    url: String,
    /// The proxy's configuration file: store, master key, verify policy.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The store (overrides the config's).
    #[arg(long, env = "EMBEDGATE_STORE", value_name = "URL")]
    store: Option<String>,
    /// File holding the base64 master key; used when EMBEDGATE_MASTER_KEY is not set.
    #[arg(long, env = "EMBEDGATE_MASTER_KEY_FILE", value_name = "PATH")]
    master_key_file: Option<PathBuf>,
    /// Verify for this host, as a proxy with `verify.public_host` does
    /// (the URL's own host is then ignored).
    #[arg(long, value_name = "HOST")]
    public_host: Option<String>,
    /// Judge as of this time (Unix seconds) instead of the clock.
    #[arg(long, value_name = "UNIX")]
    now: Option<u64>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Where the verdict came from and what it says.
struct Explained {
    result: &'static str,
    detail: String,
    host: Option<String>,
    host_from: &'static str,
    string_to_sign: Option<String>,
    kid: Option<String>,
    secret: Option<EmbedSecret>,
    checks: Vec<String>,
    verified: Option<Value>,
}

pub fn run(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let mut policy = VerifyPolicy::default();
    let mut public_host = None;
    let mut store_url = None;
    let mut key_file = None;
    if let Some(path) = &args.config {
        let c = embedgate::serve::Config::load(path)?;
        policy = VerifyPolicy {
            skew: c.verify.skew,
            max_url_ttl: c.verify.max_url_ttl,
            max_session: c.verify.max_session,
        };
        public_host = c.verify.public_host;
        store_url = Some(c.store_url);
        key_file = c.master_key_file;
    }
    let public_host = args.public_host.clone().or(public_host);
    let store_url = args
        .store
        .clone()
        .filter(|s| !s.is_empty())
        .or(store_url)
        .or_else(|| deprecated_var("EMBEDGATE_STORE_URL", "EMBEDGATE_STORE"))
        .context("no store: pass --config FILE or --store URL, or set EMBEDGATE_STORE")?;
    let key_file = args.master_key_file.clone().or(key_file).or_else(|| {
        deprecated_var(
            "EMBEDGATE_STORE_MASTER_KEY_FILE",
            "EMBEDGATE_MASTER_KEY_FILE",
        )
        .map(PathBuf::from)
    });
    let now = args.now.unwrap_or_else(unix_now);

    let (request, host_from) = match request_of(&args.url, public_host.as_deref()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(super::EXIT_USAGE));
        }
    };
    // Explaining never creates a store.
    if let Some(path) = store_url.strip_prefix("sqlite://") {
        if !std::path::Path::new(path).exists() {
            bail!("no store at {path}");
        }
    }
    let key = MasterKey::from_env_or_file(key_file.as_deref())?;
    let store = Store::open(&store_url, key).context("cannot open the store")?;
    let e = explain(&store, &request, host_from, now, &policy)?;
    print(&e, now, &policy, args.json)?;
    Ok(if e.result == "ok" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_FAILURE)
    })
}

/// What the proxy would see: the host and the request target.
struct Request {
    host: String,
    target: String,
}

/// Splits the URL into what the proxy sees; the host is the configured
/// public host when there is one.
fn request_of(url: &str, public_host: Option<&str>) -> anyhow::Result<(Request, &'static str)> {
    let (own_host, target) = match url.split_once("://") {
        Some((_, rest)) => {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let target = &rest[end..];
            let target = if target.starts_with('/') {
                target.to_owned()
            } else {
                format!("/{target}")
            };
            (Some(rest[..end].to_owned()), target)
        }
        None if url.starts_with('/') => (None, url.to_owned()),
        None => {
            bail!("expected an absolute URL (https://HOST/PATH?QUERY) or /PATH?QUERY, got {url:?}")
        }
    };
    match (public_host, own_host) {
        (Some(h), _) => Ok((
            Request {
                host: h.to_owned(),
                target,
            },
            "verify.public_host",
        )),
        (None, Some(h)) => Ok((
            Request { host: h, target },
            "the URL's host, as the Host header the proxy would see",
        )),
        (None, None) => bail!(
            "{url:?} has no host: pass --public-host HOST or --config FILE with verify.public_host"
        ),
    }
}

fn explain(
    store: &Store,
    request: &Request,
    host_from: &'static str,
    now: u64,
    policy: &VerifyPolicy,
) -> anyhow::Result<Explained> {
    let mut e = Explained {
        result: "ok",
        detail: String::new(),
        host: Some(request.host.to_ascii_lowercase()),
        host_from,
        string_to_sign: None,
        kid: None,
        secret: None,
        checks: Vec::new(),
        verified: None,
    };
    let url = match UnverifiedEmbedUrl::from_request(&request.host, &request.target) {
        Ok(u) => u,
        Err(err) => {
            e.result = err.code();
            e.detail = err.detail().to_owned();
            e.checks = checks_malformed();
            return Ok(e);
        }
    };
    e.kid = Some(url.kid().to_owned());
    e.string_to_sign = Some(url.string_to_sign().to_owned());

    let secret = match store.get_embed_secret(&Lookup::client_id(url.kid())) {
        Ok(s) => s,
        Err(StoreError::NotFound { .. }) => {
            e.result = Reason::UnknownKey.as_str();
            e.detail = "no embed secret in this store has this eg_kid".to_owned();
            e.checks = checks_unknown_key(store, url.kid());
            return Ok(e);
        }
        Err(err) => return Err(err).context("cannot read the store"),
    };
    let value = store
        .reveal_embed_secret_value(&Lookup::id(secret.id.clone()))
        .context("cannot decrypt the secret")?;
    let key = EmbedKey::new(value.as_bytes())
        .with_active(secret.active)
        .with_expires_at(secret.expires_at.and_then(|t| u64::try_from(t).ok()));
    drop(value);
    let mut path = path_of(&request.target);
    let exp = exp_of(&request.target);
    // Every step but the scope, which is judged as the proxy does: on the
    // URL's path, or for a session URL of the embed SDK
    // (`/.embedgate/open`, `/renew`) on the dashboard path it names.
    let verdict = match url
        .authenticate_with(&key, now, policy)
        .and_then(|a| a.accept(NonceCheck::NotTracked))
    {
        Ok(v) => {
            if let Some(named) = embedgate::serve::scoped_path(v.path(), &v.forward_query()) {
                path = named;
            }
            let scopes = EmbedKey::new(b"").with_scopes(secret.scopes.clone());
            if scopes.covers(&path) {
                Ok(v)
            } else {
                Err((
                    Reason::OutOfScope,
                    "the path lies outside the secret's scopes",
                ))
            }
        }
        Err(err) => Err((err.reason(), err.detail())),
    };
    match verdict {
        Ok(v) => {
            e.verified = Some(json!({
                "sub": v.sub(),
                "exp": v.exp(),
                "session": v.session_secs(),
                "forward": v.forward_path_and_query(),
            }));
            e.checks = vec![format!(
                "it verifies now: user {:?}, expires in {} s, opens a session of {} s; \
the proxy also accepts each eg_nonce once (replayed), which cannot be checked here",
                v.sub(),
                v.exp().saturating_sub(now),
                v.session_secs()
            )];
        }
        Err((reason, detail)) => {
            e.result = reason.as_str();
            e.detail = detail.to_owned();
            e.checks = match reason {
                Reason::KeyInactive => checks_inactive(&secret, now),
                Reason::BadSignature => checks_bad_signature(&secret, request, host_from),
                Reason::Expired => checks_expired(exp, now, policy),
                Reason::ExpTooFar => checks_too_far(exp, now, policy),
                Reason::OutOfScope => checks_scope(&secret, &path),
                _ => Vec::new(),
            };
        }
    }
    e.secret = Some(secret);
    Ok(e)
}

fn path_of(target: &str) -> String {
    target.split(['?', '#']).next().unwrap_or("/").to_owned()
}

fn exp_of(target: &str) -> Option<u64> {
    target
        .split_once('?')?
        .1
        .split('&')
        .find_map(|p| p.strip_prefix("eg_exp="))?
        .parse()
        .ok()
}

fn when(t: u64) -> String {
    format!(
        "{} ({t})",
        format_rfc3339(i64::try_from(t).unwrap_or(i64::MAX))
    )
}

fn checks_malformed() -> Vec<String> {
    vec![
        "the URL needs eg_kid, eg_sub, eg_exp, eg_nonce and eg_sig once each, no other eg_ names, \
and a path without dot segments or encoded slashes (docs/signing.md)"
            .to_owned(),
        "quote the URL in the shell: an unquoted & cuts it short, so eg_ parameters go missing".to_owned(),
        "a URL copied from a log or an address bar may be cut or re-encoded; take it from the signer"
            .to_owned(),
    ]
}

fn checks_unknown_key(store: &Store, kid: &str) -> Vec<String> {
    let mut checks = Vec::new();
    if let Some(gone) = removal_of(store, kid) {
        checks.push(format!(
            "this store had it: {:?} (client id {kid}) was {} at {} by {}",
            gone.subject_name,
            if gone.action == ChangeAction::Purge {
                "purged after its expiry"
            } else {
                "deleted"
            },
            format_rfc3339(gone.at),
            gone.actor
        ));
    }
    checks.push(
        "the signer may hold a secret of another store or environment: compare its client id with `embedgate secrets list`"
            .to_owned(),
    );
    checks
}

/// The change log's entry that removed the secret with client id `kid`.
fn removal_of(store: &Store, kid: &str) -> Option<ChangeEntry> {
    for action in [ChangeAction::Delete, ChangeAction::Purge] {
        let filter = AuditFilter {
            kind: Some(SubjectKind::EmbedSecret),
            action: Some(action),
            ..AuditFilter::default()
        };
        let mut page = Page {
            after: None,
            limit: 1000,
        };
        loop {
            let got = store.audit(&filter, page).ok()?;
            if let Some(e) = got.entries.into_iter().find(|e| {
                e.changes
                    .iter()
                    .any(|c| c.field == "client_id" && c.old.as_deref() == Some(kid))
            }) {
                return Some(e);
            }
            match got.next_after {
                Some(after) => page.after = Some(after),
                None => break,
            }
        }
    }
    None
}

fn checks_inactive(s: &EmbedSecret, now: u64) -> Vec<String> {
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    match s.expires_at {
        Some(t) if t <= now => vec![format!(
            "the secret {:?} expired at {}; expired secrets cannot be reactivated: create a new one \
(`embedgate secrets create`) and move the signer to it",
            s.name,
            format_rfc3339(t)
        )],
        _ => vec![format!(
            "the secret {:?} is deactivated; `embedgate secrets history {}` says when and by whom, \
`embedgate secrets activate {}` turns it back on",
            s.name, s.client_id, s.client_id
        )],
    }
}

fn checks_bad_signature(s: &EmbedSecret, request: &Request, host_from: &str) -> Vec<String> {
    vec![
        format!(
            "host: the string to sign holds {:?}, from {host_from}; the signer must sign for the same host \
(an internal name, another port or a rewritten Host header all fail; set verify.public_host when a \
load balancer changes Host)",
            request.host.to_ascii_lowercase()
        ),
        "path and query: the URL must reach the proxy as it was signed; a parameter added afterwards \
(a cache buster, a tracking tag) or a path rewritten by a CDN breaks the signature"
            .to_owned(),
        format!(
            "secret: the signer must use the value of {:?} (client id {}, value {}); a rotated, \
truncated or mistyped value fails: compare the first four characters and the length",
            s.name, s.client_id, s.fingerprint
        ),
        "the string to sign shown is what this URL implies; the signer's must be byte for byte the same".to_owned(),
    ]
}

fn checks_expired(exp: Option<u64>, now: u64, policy: &VerifyPolicy) -> Vec<String> {
    let mut checks = Vec::new();
    if let Some(exp) = exp {
        checks.push(format!(
            "eg_exp is {}, now is {}: {} s past it, beyond the tolerated skew of {} s",
            when(exp),
            when(now),
            now.saturating_sub(exp),
            policy.skew
        ));
    }
    checks.push(
        "clock skew: compare the signer's clock with this machine's (both on NTP?); a signer running \
behind makes URLs that are born expired"
            .to_owned(),
    );
    checks.push(
        "reuse: a signed URL is for one load, soon after signing; a page restored from history or a \
cache serves an old URL: sign a new one on every page load"
            .to_owned(),
    );
    checks
}

fn checks_too_far(exp: Option<u64>, now: u64, policy: &VerifyPolicy) -> Vec<String> {
    let mut checks = Vec::new();
    if let Some(exp) = exp {
        checks.push(format!(
            "eg_exp is {}, {} s ahead; the proxy allows max_url_ttl + skew = {} s",
            when(exp),
            exp.saturating_sub(now),
            policy.max_url_ttl.saturating_add(policy.skew)
        ));
    }
    checks.push(format!(
        "the signer's lifetime for URLs must not exceed verify.max_url_ttl ({} s); a signer whose \
clock runs ahead fails too",
        policy.max_url_ttl
    ));
    checks
}

fn checks_scope(s: &EmbedSecret, path: &str) -> Vec<String> {
    vec![format!(
        "the path {path:?} lies outside the scopes of {:?} ({}): sign URLs under them, or change them \
(`embedgate secrets describe {} --scope PREFIX`)",
        s.name,
        s.scopes.join(", "),
        s.client_id
    )]
}

fn print(e: &Explained, now: u64, policy: &VerifyPolicy, as_json: bool) -> anyhow::Result<()> {
    let now_i = i64::try_from(now).unwrap_or(i64::MAX);
    if as_json {
        let secret = e.secret.as_ref().map(|s| {
            json!({
                "id": s.id,
                "name": s.name,
                "client_id": s.client_id,
                "state": state_text(s.active, s.expires_at, now_i),
                "fingerprint": s.fingerprint,
                "scopes": s.scopes,
                "expires_at": s.expires_at,
            })
        });
        let out = json!({
            "result": e.result,
            "detail": e.detail,
            "kid": e.kid,
            "secret": secret,
            "host": e.host,
            "host_from": e.host_from,
            "string_to_sign": e.string_to_sign,
            "now": now,
            "policy": {"skew": policy.skew, "max_url_ttl": policy.max_url_ttl, "max_session": policy.max_session},
            "verified": e.verified,
            "checks": e.checks,
        });
        println!("{out}");
        return Ok(());
    }
    println!("result:  {}", e.result);
    if !e.detail.is_empty() {
        println!("why:     {}", e.detail);
    }
    if let Some(kid) = &e.kid {
        match &e.secret {
            Some(s) => println!(
                "secret:  {:?} (client id {kid}, {}, value {})",
                s.name,
                state_text(s.active, s.expires_at, now_i),
                s.fingerprint
            ),
            None => println!("secret:  none with client id {kid}"),
        }
    }
    if let Some(h) = &e.host {
        println!("host:    {h} (from {})", e.host_from);
    }
    println!("now:     {}", when(now));
    if let Some(sts) = &e.string_to_sign {
        println!("string to sign (lines joined by LF):");
        for line in sts.split('\n') {
            println!("    {line}");
        }
    }
    if !e.checks.is_empty() {
        println!("check:");
        for c in &e.checks {
            println!("  - {c}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_take_the_public_host_over_the_urls() {
        let (r, from) = request_of("https://Internal:8443/d/x?a=1", None).expect("ok");
        assert_eq!(
            (
                r.host.as_str(),
                r.target.as_str(),
                from.starts_with("the URL")
            ),
            ("Internal:8443", "/d/x?a=1", true)
        );
        let (r, from) = request_of("https://internal/d/x", Some("embed.example.com")).expect("ok");
        assert_eq!(
            (r.host.as_str(), from),
            ("embed.example.com", "verify.public_host")
        );
        let (r, _) = request_of("/d/x?a", Some("h")).expect("ok");
        assert_eq!(r.target, "/d/x?a");
        assert!(request_of("/d/x", None).is_err());
        assert!(request_of("d/x", Some("h")).is_err());
        let (r, _) = request_of("https://h?eg_kid=1", None).expect("ok");
        assert_eq!(r.target, "/?eg_kid=1");
    }
}
