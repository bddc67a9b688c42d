//! `embedgate.toml`: the proxy's configuration, every key overridable by an
//! `EMBEDGATE_…` environment variable, validated at start.
//!
//! Two layers, merged by figment: the file (`toml_source.rs`) and the
//! variables (`environment.rs`), read into serde types (`file.rs`) that
//! refuse unknown keys, then checked and resolved (`validate.rs`). A key
//! `verify.max_url_ttl` is overridden by `EMBEDGATE_VERIFY_MAX_URL_TTL`; a
//! route key `routes[0].upstream` by `EMBEDGATE_ROUTES_0_UPSTREAM`; the
//! store by `EMBEDGATE_STORE` and `EMBEDGATE_MASTER_KEY_FILE`, the names
//! every command reads (`keys.rs`). Lists from the environment are
//! comma-separated. Every error is one line naming the key (and the
//! variable, when the value came from one). Secrets are referenced by
//! name, never written in the file or a variable: keys that would hold
//! one are refused.

mod environment;
mod errors;
mod file;
mod keys;
mod toml_source;
mod validate;
mod values;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use http::header::HeaderName;
use http::Uri;
use serde::Deserialize;

/// The whole configuration of `embedgate serve`.
#[derive(Clone, Debug)]
pub struct Config {
    /// `[listen] public`: the address browsers reach (a host name is
    /// resolved when the configuration is read).
    pub public_addr: SocketAddr,
    /// `[listen] admin`: health, readiness and metrics (`"off"` disables it).
    pub admin_addr: Option<SocketAddr>,
    /// `[listen] metrics`: a listener for `/metrics` alone, apart from the
    /// admin API (`"off"`, the default, keeps metrics on the admin
    /// listener). Served by a later change.
    pub metrics_addr: Option<SocketAddr>,
    /// `[store] url`, e.g. `sqlite:///var/lib/embedgate/store.db`.
    pub store_url: String,
    /// `[store] master_key_file`; else `EMBEDGATE_MASTER_KEY`.
    pub master_key_file: Option<PathBuf>,
    /// `[store] poll_interval`: how often the store revision is checked.
    pub poll_interval: Duration,
    /// `[store] usage_flush_interval`: how often `last_used_at` is written.
    pub usage_flush_interval: Duration,
    /// `[store] purge_expired_after`: an expired secret is deleted this long
    /// after its expiry (30 days by default); the deletion is logged.
    pub purge_expired_after: Duration,
    /// `[store] purge_interval`: how often the proxy purges (1 h by default).
    pub purge_interval: Duration,
    /// `[store] resync_interval`: with a PostgreSQL store, how often the
    /// revision is compared as a safety net besides `LISTEN` (default 10 s).
    pub resync_interval: Duration,
    /// `[replay]`: where claimed nonces are kept.
    pub replay: ReplayConfig,
    /// `[verify]` rules for signed URLs.
    pub verify: VerifyConfig,
    /// `[session]` cookie settings.
    pub session: SessionConfig,
    /// `[tls]`: terminate TLS on the public listener.
    pub tls: Option<TlsConfig>,
    /// `[upstream]` client settings shared by all routes.
    pub upstream: UpstreamConfig,
    /// `[shutdown] drain_timeout`: how long in-flight requests may take after SIGTERM.
    pub drain_timeout: Duration,
    /// `[headers]`: client headers handling beyond the built-in rules.
    pub headers: HeadersConfig,
    /// `[limits]`: how long a client may take and how many may connect.
    pub limits: LimitsConfig,
    /// `[log]`: log format and the access log.
    pub log: LogConfig,
    /// `[admin]`: the admin API's first-start token.
    pub admin: AdminConfig,
    /// `[[routes]]`, at least one.
    pub routes: Vec<RouteConfig>,
    /// Notices about the configuration (deprecated variable names), to log
    /// once logging is set up.
    pub warnings: Vec<String>,
    /// Which variable set which key (dotted path → variable).
    vars: std::collections::BTreeMap<String, String>,
}

/// `[replay]`: the replay cache, in memory (one proxy) or in Redis (a
/// fleet: a URL is accepted once across every proxy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayConfig {
    /// `backend`: `memory` (default) or `redis`.
    pub backend: ReplayBackend,
    /// `url`: `redis://HOST:PORT[/DB]`, required with `backend = "redis"`.
    pub url: Option<String>,
    /// `on_unavailable`: what to do when Redis cannot answer: `reject`
    /// (default; 503 `replay_unavailable`) or `allow` (accept unchecked).
    pub on_unavailable: OnUnavailable,
    /// `key_prefix`: prefix of the Redis keys (default `embedgate:nonce:`).
    pub key_prefix: String,
    /// `timeout`: how long one Redis command may take (default 250ms).
    pub timeout: Duration,
}

/// `[replay] backend`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplayBackend {
    /// In this process only.
    #[default]
    Memory,
    /// Shared through Redis.
    Redis,
}

/// `[replay] on_unavailable`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnUnavailable {
    /// Refuse the URL: 503 `replay_unavailable`.
    #[default]
    Reject,
    /// Accept without the replay check (availability over single use).
    Allow,
}

/// `[verify]`.
#[derive(Clone, Debug)]
pub struct VerifyConfig {
    /// Tolerated clock skew, seconds.
    pub skew: u64,
    /// Longest URL lifetime accepted, seconds.
    pub max_url_ttl: u64,
    /// Longest session, seconds.
    pub max_session: u64,
    /// The host URLs are signed for; else the request's `Host`.
    pub public_host: Option<String>,
    /// Bound of the replay cache, in entries.
    pub replay_cache_entries: usize,
}

/// `[session]`.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Base of the cookie names; each route's cookie is `<base>-<route name>`.
    pub cookie_name: String,
    /// Development over plain `http://`: no `__Host-` prefix, no `Secure`,
    /// no `Partitioned`, `SameSite=Lax`. Never for production.
    pub insecure_dev_cookies: bool,
}

/// `[tls]`.
#[derive(Clone, Debug)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

/// `[upstream]`.
#[derive(Clone, Debug)]
pub struct UpstreamConfig {
    /// TCP connect timeout (exceeded: 504).
    pub connect_timeout: Duration,
    /// Time until the upstream's response headers (exceeded: 504).
    pub response_timeout: Duration,
    /// How long an idle pooled connection is kept.
    pub pool_idle_timeout: Duration,
    /// Idle pooled connections kept per upstream.
    pub pool_max_idle_per_host: usize,
}

/// `[headers]`.
#[derive(Clone, Debug, Default)]
pub struct HeadersConfig {
    /// `strip`: more client request headers to remove before forwarding,
    /// besides the identity and hop-by-hop headers always removed
    /// (default none). Applied by a later change.
    pub strip: Vec<HeaderName>,
    /// `allow_underscores`: whether client header names holding `_` are
    /// forwarded (default `false`: such headers are dropped, since some
    /// backends read `X_Embed_User` as `X-Embed-User`). Applied by a later
    /// change.
    pub allow_underscores: bool,
}

/// `[limits]`: bounds on what a client connection may take, on the public
/// listener (the admin listener applies the two timeouts too).
#[derive(Clone, Debug)]
pub struct LimitsConfig {
    /// `header_read_timeout`: a request's head must arrive in full within
    /// this time of its first byte, and a new connection must send one
    /// within it (default 10 s). Exceeded: the connection is closed.
    pub header_read_timeout: Duration,
    /// `keepalive_idle_timeout`: a connection with no request in flight is
    /// closed after this long (default 60 s).
    pub keepalive_idle_timeout: Duration,
    /// `tls_handshake_timeout`: the TLS handshake must finish within this
    /// time of the connection (default 10 s).
    pub tls_handshake_timeout: Duration,
    /// `max_connections`: client connections served at once (default
    /// 10,000). Beyond it new connections wait in the listen backlog
    /// until one closes.
    pub max_connections: usize,
}

/// `[log] format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (default).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `[log]`.
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// `format`: `text` (default) or `json`.
    pub format: LogFormat,
    /// `access`: one line per request on target `embedgate::access`
    /// (default `true`).
    pub access: bool,
}

/// `[admin]`.
#[derive(Clone, Debug, Default)]
pub struct AdminConfig {
    /// `owner_token_file`: where the first start writes the admin API's
    /// owner token (mode 0600; the log names the file, never the token).
    /// Defaults to `<store file>.owner-token` beside a SQLite store; with
    /// PostgreSQL and no file the token is shown only on a terminal.
    pub owner_token_file: Option<PathBuf>,
}

/// What a verified signed URL gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnSuccess {
    /// Forward the request upstream (minus the `eg_` parameters): for
    /// API-style embeds that cannot follow a redirect.
    Forward,
    /// Answer 303 to the clean URL, so the signature leaves the address bar.
    #[default]
    Redirect,
}

/// `upstream_auth = { header, credential, prefix }`.
#[derive(Clone, Debug)]
pub struct UpstreamAuth {
    /// The header to set, e.g. `Authorization`.
    pub header: HeaderName,
    /// The name of a credential in the store.
    pub credential: String,
    /// Put before the value, e.g. `Bearer `.
    pub prefix: String,
}

/// One `[[routes]]` entry.
#[derive(Clone, Debug)]
pub struct RouteConfig {
    /// Names the route in metrics, logs and its cookie (default: from the prefix).
    pub name: String,
    /// Normalised path prefix, e.g. `/d/`.
    pub prefix: String,
    /// `http://host:port` of the content backend.
    pub upstream: Uri,
    /// Header carrying the verified user (default `X-Embed-User`).
    pub user_header: HeaderName,
    /// Prefix of attribute headers (default `X-Embed-Attr-`).
    pub attr_header_prefix: String,
    /// Extra normalised prefixes a session of this route may fetch.
    pub session_paths: Vec<String>,
    /// `forward` or `redirect`.
    pub on_success: OnSuccess,
    /// A stored credential to inject upstream.
    pub upstream_auth: Option<UpstreamAuth>,
}

impl Config {
    /// A key as errors name it, e.g. ``config key `routes[0].upstream` ``,
    /// with `(from VARIABLE)` when a variable set it. `path` is dotted
    /// (`routes.0.upstream`).
    pub fn key(&self, path: &str) -> String {
        let parts: Vec<&str> = path.split('.').collect();
        let key = keys::display(&parts);
        match self.vars.get(path) {
            Some(var) => format!("config key `{key}` (from {var})"),
            None => format!("config key `{key}`"),
        }
    }

    /// Reads `path` and applies the process environment.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let env = process_env()?;
        Config::from_sources(&text, Some(path), &env)
            .with_context(|| format!("config file {}", path.display()))
    }

    /// Parses TOML text with `env` (variable name → value) as overrides.
    pub fn from_toml(text: &str, env: &HashMap<String, String>) -> anyhow::Result<Config> {
        Config::from_sources(text, None, env)
    }

    fn from_sources(
        text: &str,
        path: Option<&Path>,
        env: &HashMap<String, String>,
    ) -> anyhow::Result<Config> {
        let file = toml_source::TomlLayer::parse(text, path.map(Path::to_path_buf))?;
        let env = environment::EnvLayer::read(env, file.route_count())?;
        let raw: file::File = figment::Figment::new()
            .merge(file)
            .merge(env.clone())
            .extract_lossy()
            .map_err(|e| anyhow::anyhow!(errors::describe(&e)))?;
        validate::build(raw, &env)
    }
}

/// The process's `EMBEDGATE_…` variables; one that is not UTF-8 is an
/// error naming it.
fn process_env() -> anyhow::Result<HashMap<String, String>> {
    let mut env = HashMap::new();
    for (k, v) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        if !k.starts_with("EMBEDGATE_") {
            continue;
        }
        let v = v
            .into_string()
            .map_err(|_| anyhow::anyhow!("{k} is not valid UTF-8"))?;
        env.insert(k.to_owned(), v);
    }
    Ok(env)
}

#[cfg(test)]
mod tests;
