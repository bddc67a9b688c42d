//! `embedgate.toml`: the proxy's configuration, every key overridable by an
//! `EMBEDGATE_…` environment variable, validated at start.
//!
//! A key `verify.skew` is overridden by `EMBEDGATE_VERIFY_SKEW`; a route key
//! `routes[0].upstream` by `EMBEDGATE_ROUTES_0_UPSTREAM`;
//! `routes[0].upstream_auth.credential` by
//! `EMBEDGATE_ROUTES_0_UPSTREAM_AUTH_CREDENTIAL`. Lists from the environment
//! are comma-separated. Every error names the key (and the variable, when
//! the value came from one). Secrets are referenced by name, never written
//! in the file: keys that would hold one are refused.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use http::header::HeaderName;
use http::Uri;

/// The whole configuration of `embedgate serve`.
#[derive(Clone, Debug)]
pub struct Config {
    /// `[listen] public`: the address browsers reach.
    pub public_addr: SocketAddr,
    /// `[listen] admin`: health, readiness and metrics (`"off"` disables it).
    pub admin_addr: Option<SocketAddr>,
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
    /// `[headers]`: client request headers removed besides the built-in list.
    pub headers: HeadersConfig,
    /// `[shutdown] drain_timeout`: how long in-flight requests may take after SIGTERM.
    pub drain_timeout: Duration,
    /// `[[routes]]`, at least one.
    pub routes: Vec<RouteConfig>,
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayBackend {
    /// In this process only.
    Memory,
    /// Shared through Redis.
    Redis,
}

/// `[replay] on_unavailable`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnUnavailable {
    /// Refuse the URL: 503 `replay_unavailable`.
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
    /// besides the identity, forwarding and hop-by-hop headers always
    /// removed (default none). Compared as the built-in ones are: case
    /// ignored, `_` read as `-`.
    pub strip: Vec<HeaderName>,
    /// `allow_underscores`: whether client header names holding `_` are
    /// forwarded (default `false`: such headers are dropped, as nginx does,
    /// since CGI and WSGI servers read `X_Embed_User` as `X-Embed-User`).
    /// Protected names are removed whichever way they are spelled.
    pub allow_underscores: bool,
}

/// What a verified signed URL gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnSuccess {
    /// Forward the request upstream (minus the `eg_` parameters): for
    /// API-style embeds that cannot follow a redirect.
    Forward,
    /// Answer 303 to the clean URL, so the signature leaves the address
    /// bar (the default).
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

const SECRETISH: &[&str] = &[
    "value",
    "secret",
    "token",
    "password",
    "api_key",
    "master_key",
    "key",
    "credential_value",
];

const TOP: &[&str] = &[
    "listen", "store", "verify", "session", "tls", "upstream", "shutdown", "routes", "replay",
    "headers",
];
const HEADERS: &[&str] = &["strip", "allow_underscores"];
const REPLAY: &[&str] = &["backend", "url", "on_unavailable", "key_prefix", "timeout"];
const LISTEN: &[&str] = &["public", "admin"];
const STORE: &[&str] = &[
    "url",
    "master_key_file",
    "poll_interval",
    "usage_flush_interval",
    "resync_interval",
    "purge_expired_after",
    "purge_interval",
];
const VERIFY: &[&str] = &[
    "skew",
    "max_url_ttl",
    "max_session",
    "public_host",
    "replay_cache_entries",
];
const SESSION: &[&str] = &["cookie_name", "insecure_dev_cookies"];
const TLS: &[&str] = &["cert_file", "key_file"];
const UPSTREAM: &[&str] = &[
    "connect_timeout",
    "response_timeout",
    "pool_idle_timeout",
    "pool_max_idle_per_host",
];
const SHUTDOWN: &[&str] = &["drain_timeout"];
const ROUTE: &[&str] = &[
    "name",
    "prefix",
    "upstream",
    "user_header",
    "attr_header_prefix",
    "session_paths",
    "on_success",
    "upstream_auth",
];
const UPSTREAM_AUTH: &[&str] = &["header", "credential", "prefix"];

impl Config {
    /// Reads `path` and applies the process environment.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let env: HashMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("EMBEDGATE_"))
            .collect();
        Config::from_toml(&text, &env).with_context(|| format!("config file {}", path.display()))
    }

    /// Parses TOML text with `env` (variable name → value) as overrides.
    pub fn from_toml(text: &str, env: &HashMap<String, String>) -> anyhow::Result<Config> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            // The message quotes the offending line: fine, since no key of
            // this file may hold a secret.
            anyhow!("not valid TOML: {}", e.message())
        })?;
        check_keys(&table)?;
        let r = Reader { table: &table, env };
        r.build()
    }
}

/// A key's path: `["routes", "0", "upstream"]`.
struct Key<'a>(&'a [&'a str]);

impl Key<'_> {
    fn env_name(&self) -> String {
        let mut s = String::from("EMBEDGATE");
        for part in self.0 {
            s.push('_');
            s.push_str(&part.to_ascii_uppercase());
        }
        s
    }
}

impl fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for part in self.0 {
            if part.bytes().all(|b| b.is_ascii_digit()) {
                write!(f, "[{part}]")?;
            } else {
                if !first {
                    f.write_str(".")?;
                }
                f.write_str(part)?;
            }
            first = false;
        }
        Ok(())
    }
}

fn check_keys(table: &toml::Table) -> anyhow::Result<()> {
    check_table(table, TOP, "")?;
    for (section, allowed) in [
        ("listen", LISTEN),
        ("store", STORE),
        ("verify", VERIFY),
        ("session", SESSION),
        ("tls", TLS),
        ("upstream", UPSTREAM),
        ("shutdown", SHUTDOWN),
        ("replay", REPLAY),
        ("headers", HEADERS),
    ] {
        match table.get(section) {
            None => {}
            Some(toml::Value::Table(t)) => check_table(t, allowed, section)?,
            Some(_) => bail!("config key `{section}` must be a table ([{section}])"),
        }
    }
    match table.get("routes") {
        None => {}
        Some(toml::Value::Array(routes)) => {
            for (i, route) in routes.iter().enumerate() {
                let toml::Value::Table(t) = route else {
                    bail!("config key `routes[{i}]` must be a table ([[routes]])");
                };
                check_table(t, ROUTE, &format!("routes[{i}]"))?;
                match t.get("upstream_auth") {
                    None => {}
                    Some(toml::Value::Table(a)) => {
                        check_table(a, UPSTREAM_AUTH, &format!("routes[{i}].upstream_auth"))?
                    }
                    Some(_) => bail!(
                        "config key `routes[{i}].upstream_auth` must be a table {{ header = \"…\", credential = \"<name>\", prefix = \"…\" }}"
                    ),
                }
            }
        }
        Some(_) => bail!("config key `routes` must be an array of tables ([[routes]])"),
    }
    Ok(())
}

fn check_table(t: &toml::Table, allowed: &[&str], at: &str) -> anyhow::Result<()> {
    for k in t.keys() {
        if allowed.contains(&k.as_str()) {
            continue;
        }
        let full = if at.is_empty() {
            k.clone()
        } else {
            format!("{at}.{k}")
        };
        if SECRETISH.contains(&k.to_ascii_lowercase().as_str()) {
            bail!(
                "config key `{full}` would hold a secret value; secrets are never written in the config: \
store a credential with `embedgate credentials put --name NAME` and reference it \
(`upstream_auth = {{ header = \"Authorization\", credential = \"NAME\", prefix = \"Bearer \" }}`), \
and give the master key through EMBEDGATE_MASTER_KEY or `store.master_key_file`"
            );
        }
        bail!(
            "unknown config key `{full}` (expected one of: {})",
            allowed.join(", ")
        );
    }
    Ok(())
}

struct Reader<'a> {
    table: &'a toml::Table,
    env: &'a HashMap<String, String>,
}

/// A raw value and where it came from.
enum Raw<'a> {
    Env(String, &'a str),
    Toml(&'a toml::Value),
}

impl<'a> Reader<'a> {
    fn raw(&self, key: &Key<'_>) -> Option<Raw<'a>> {
        let name = key.env_name();
        if let Some(v) = self.env.get(&name) {
            return Some(Raw::Env(name, v.as_str()));
        }
        let mut cur: &toml::Value = self.table.get(key.0[0])?;
        for part in &key.0[1..] {
            cur = match cur {
                toml::Value::Table(t) => t.get(*part)?,
                toml::Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(Raw::Toml(cur))
    }

    fn err(key: &Key<'_>, raw: &Raw<'_>, what: &str) -> anyhow::Error {
        match raw {
            Raw::Env(name, _) => anyhow!("config key `{key}` (from {name}): {what}"),
            Raw::Toml(_) => anyhow!("config key `{key}`: {what}"),
        }
    }

    fn string(&self, path: &[&str]) -> anyhow::Result<Option<String>> {
        let key = Key(path);
        match self.raw(&key) {
            None => Ok(None),
            Some(Raw::Env(_, v)) => Ok(Some(v.to_owned())),
            Some(raw @ Raw::Toml(v)) => match v {
                toml::Value::String(s) => Ok(Some(s.clone())),
                _ => Err(Self::err(&key, &raw, "expected a string")),
            },
        }
    }

    fn required_string(&self, path: &[&str]) -> anyhow::Result<String> {
        let key = Key(path);
        self.string(path)?
            .ok_or_else(|| anyhow!("config key `{key}` is required (or set {})", key.env_name()))
    }

    fn parse<T>(
        &self,
        path: &[&str],
        what: &str,
        f: impl Fn(&str) -> Option<T>,
    ) -> anyhow::Result<Option<T>> {
        let key = Key(path);
        let Some(raw) = self.raw(&key) else {
            return Ok(None);
        };
        let text = match &raw {
            Raw::Env(_, v) => (*v).to_owned(),
            Raw::Toml(toml::Value::String(s)) => s.clone(),
            Raw::Toml(toml::Value::Integer(i)) => i.to_string(),
            Raw::Toml(toml::Value::Boolean(b)) => b.to_string(),
            Raw::Toml(_) => return Err(Self::err(&key, &raw, &format!("expected {what}"))),
        };
        match f(text.trim()) {
            Some(v) => Ok(Some(v)),
            None => Err(Self::err(
                &key,
                &raw,
                &format!("expected {what}, got {text:?}"),
            )),
        }
    }

    fn duration(&self, path: &[&str], default: Duration) -> anyhow::Result<Duration> {
        Ok(self
            .parse(
                path,
                "a duration (seconds, or a string such as \"500ms\", \"60s\", \"10m\", \"1h\")",
                parse_duration,
            )?
            .unwrap_or(default))
    }

    fn secs(&self, path: &[&str], default: u64) -> anyhow::Result<u64> {
        let d = self.duration(path, Duration::from_secs(default))?;
        if d.subsec_nanos() != 0 {
            bail!("config key `{}`: must be whole seconds", Key(path));
        }
        Ok(d.as_secs())
    }

    fn number(&self, path: &[&str], default: usize) -> anyhow::Result<usize> {
        Ok(self
            .parse(path, "a non-negative integer", |s| s.parse().ok())?
            .unwrap_or(default))
    }

    fn boolean(&self, path: &[&str], default: bool) -> anyhow::Result<bool> {
        Ok(self
            .parse(path, "true or false", |s| match s {
                "true" | "1" | "yes" => Some(true),
                "false" | "0" | "no" => Some(false),
                _ => None,
            })?
            .unwrap_or(default))
    }

    fn list(&self, path: &[&str]) -> anyhow::Result<Vec<String>> {
        let key = Key(path);
        match self.raw(&key) {
            None => Ok(Vec::new()),
            Some(Raw::Env(_, v)) => Ok(v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()),
            Some(raw @ Raw::Toml(v)) => {
                let toml::Value::Array(items) = v else {
                    return Err(Self::err(&key, &raw, "expected a list of strings"));
                };
                items
                    .iter()
                    .map(|i| match i {
                        toml::Value::String(s) => Ok(s.clone()),
                        _ => Err(Self::err(&key, &raw, "expected a list of strings")),
                    })
                    .collect()
            }
        }
    }

    fn addr(&self, path: &[&str], default: &str) -> anyhow::Result<Option<SocketAddr>> {
        let key = Key(path);
        let text = self.string(path)?.unwrap_or_else(|| default.to_owned());
        if text == "off" {
            return Ok(None);
        }
        text.parse().map(Some).map_err(|_| {
            anyhow!(
                "config key `{key}`: expected an address such as \"127.0.0.1:8080\", got {text:?}"
            )
        })
    }

    fn route_count(&self) -> usize {
        let in_file = match self.table.get("routes") {
            Some(toml::Value::Array(a)) => a.len(),
            _ => 0,
        };
        // Environment-only routes: EMBEDGATE_ROUTES_<n>_PREFIX for the next indices.
        let mut n = in_file;
        while self
            .env
            .contains_key(&format!("EMBEDGATE_ROUTES_{n}_PREFIX"))
        {
            n += 1;
        }
        n
    }

    fn build(&self) -> anyhow::Result<Config> {
        let public_addr = self
            .addr(&["listen", "public"], "127.0.0.1:8080")?
            .ok_or_else(|| anyhow!("config key `listen.public` cannot be \"off\""))?;
        let admin_addr = self.addr(&["listen", "admin"], "127.0.0.1:8081")?;

        // `EMBEDGATE_STORE` is what the store commands read; accept it too.
        let store_url = match (
            self.string(&["store", "url"])?,
            self.env.get("EMBEDGATE_STORE"),
        ) {
            (Some(u), _) => u,
            (None, Some(u)) => u.clone(),
            (None, None) => self.required_string(&["store", "url"])?,
        };
        let postgres =
            store_url.starts_with("postgres://") || store_url.starts_with("postgresql://");
        if !store_url.starts_with("sqlite://") && !postgres {
            bail!(
                "config key `store.url`: expected \"sqlite://PATH\" or \"postgres://USER@HOST/DB\""
            );
        }
        let master_key_file = self
            .string(&["store", "master_key_file"])?
            .map(PathBuf::from);
        let poll_interval =
            self.duration(&["store", "poll_interval"], Duration::from_millis(250))?;
        if poll_interval.is_zero() || poll_interval > Duration::from_secs(1) {
            bail!("config key `store.poll_interval`: must lie between 1ms and 1s (changes must take effect within 1 s)");
        }
        let purge_expired_after = self.duration(
            &["store", "purge_expired_after"],
            Duration::from_secs(30 * 24 * 3600),
        )?;
        if i64::try_from(purge_expired_after.as_secs()).is_err() {
            bail!("config key `store.purge_expired_after`: too large");
        }
        let purge_interval =
            self.duration(&["store", "purge_interval"], Duration::from_secs(3600))?;
        if purge_interval < Duration::from_secs(1) {
            bail!("config key `store.purge_interval`: must be at least 1s");
        }
        let resync_interval =
            self.duration(&["store", "resync_interval"], Duration::from_secs(10))?;
        if resync_interval.is_zero() {
            bail!("config key `store.resync_interval`: must be at least 1ms");
        }
        let replay = ReplayConfig {
            backend: match self.string(&["replay", "backend"])?.as_deref() {
                None | Some("memory") => ReplayBackend::Memory,
                Some("redis") => ReplayBackend::Redis,
                Some(other) => bail!("config key `replay.backend`: expected \"memory\" or \"redis\", got {other:?}"),
            },
            url: self.string(&["replay", "url"])?,
            on_unavailable: match self.string(&["replay", "on_unavailable"])?.as_deref() {
                None | Some("reject") => OnUnavailable::Reject,
                Some("allow") => OnUnavailable::Allow,
                Some(other) => bail!("config key `replay.on_unavailable`: expected \"reject\" or \"allow\", got {other:?}"),
            },
            key_prefix: self
                .string(&["replay", "key_prefix"])?
                .unwrap_or_else(|| "embedgate:nonce:".to_owned()),
            timeout: self.duration(&["replay", "timeout"], Duration::from_millis(250))?,
        };
        if replay.backend == ReplayBackend::Redis {
            match &replay.url {
                Some(u) if u.starts_with("redis://") || u.starts_with("rediss://") => {}
                Some(_) => bail!("config key `replay.url`: expected \"redis://HOST:PORT\""),
                None => {
                    bail!("config key `replay.url` is required with replay.backend = \"redis\"")
                }
            }
        }
        if replay.timeout.is_zero() {
            bail!("config key `replay.timeout`: must be at least 1ms");
        }
        let usage_flush_interval =
            self.duration(&["store", "usage_flush_interval"], Duration::from_secs(60))?;
        if usage_flush_interval.is_zero() || usage_flush_interval > Duration::from_secs(60) {
            bail!("config key `store.usage_flush_interval`: must lie between 1ms and 60s");
        }

        let verify = VerifyConfig {
            skew: self.secs(&["verify", "skew"], 60)?,
            max_url_ttl: self.secs(&["verify", "max_url_ttl"], 600)?,
            max_session: self.secs(&["verify", "max_session"], 3600)?,
            public_host: self
                .string(&["verify", "public_host"])?
                .map(|h| h.to_ascii_lowercase()),
            replay_cache_entries: self.number(&["verify", "replay_cache_entries"], 500_000)?,
        };
        if verify.max_session == 0 {
            bail!("config key `verify.max_session`: must be at least 1s");
        }
        if verify.replay_cache_entries == 0 {
            bail!("config key `verify.replay_cache_entries`: must be at least 1");
        }
        if let Some(h) = &verify.public_host {
            if h.is_empty() || h.contains('/') || h.chars().any(char::is_whitespace) {
                bail!("config key `verify.public_host`: expected a host[:port] such as \"embed.example.com\", got {h:?}");
            }
        }

        let session = SessionConfig {
            cookie_name: self
                .string(&["session", "cookie_name"])?
                .unwrap_or_else(|| "embedgate".to_owned()),
            insecure_dev_cookies: self.boolean(&["session", "insecure_dev_cookies"], false)?,
        };
        if !is_token(&session.cookie_name) || session.cookie_name.starts_with("__") {
            bail!("config key `session.cookie_name`: letters, digits, '-' and '_' only, not starting with \"__\"");
        }

        let tls = match (
            self.string(&["tls", "cert_file"])?,
            self.string(&["tls", "key_file"])?,
        ) {
            (None, None) => None,
            (Some(c), Some(k)) => Some(TlsConfig {
                cert_file: c.into(),
                key_file: k.into(),
            }),
            (Some(_), None) => {
                bail!("config key `tls.key_file` is required when `tls.cert_file` is set")
            }
            (None, Some(_)) => {
                bail!("config key `tls.cert_file` is required when `tls.key_file` is set")
            }
        };

        let upstream = UpstreamConfig {
            connect_timeout: self
                .duration(&["upstream", "connect_timeout"], Duration::from_secs(5))?,
            response_timeout: self
                .duration(&["upstream", "response_timeout"], Duration::from_secs(30))?,
            pool_idle_timeout: self
                .duration(&["upstream", "pool_idle_timeout"], Duration::from_secs(90))?,
            pool_max_idle_per_host: self.number(&["upstream", "pool_max_idle_per_host"], 256)?,
        };
        let drain_timeout =
            self.duration(&["shutdown", "drain_timeout"], Duration::from_secs(30))?;

        let mut strip = Vec::new();
        for (i, name) in self.list(&["headers", "strip"])?.iter().enumerate() {
            let header = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                anyhow!("config key `headers.strip[{i}]`: {name:?} is not a header name")
            })?;
            strip.push(header);
        }
        let headers = HeadersConfig {
            strip,
            allow_underscores: self.boolean(&["headers", "allow_underscores"], false)?,
        };

        let n = self.route_count();
        if n == 0 {
            bail!(
                "config key `routes` is required: at least one [[routes]] with prefix and upstream"
            );
        }
        let mut routes = Vec::with_capacity(n);
        for i in 0..n {
            routes.push(self.route(i)?);
        }
        for (i, a) in routes.iter().enumerate() {
            for b in &routes[..i] {
                if a.name == b.name {
                    bail!("config key `routes[{i}].name`: {:?} is used by two routes; names must be unique", a.name);
                }
                if a.prefix == b.prefix {
                    bail!(
                        "config key `routes[{i}].prefix`: {:?} is used by two routes",
                        a.prefix
                    );
                }
            }
        }
        Ok(Config {
            public_addr,
            admin_addr,
            store_url,
            master_key_file,
            poll_interval,
            usage_flush_interval,
            purge_expired_after,
            purge_interval,
            resync_interval,
            replay,
            verify,
            session,
            tls,
            upstream,
            headers,
            drain_timeout,
            routes,
        })
    }

    fn route(&self, i: usize) -> anyhow::Result<RouteConfig> {
        let idx = i.to_string();
        let p = |k: &'static str| -> Vec<&str> { vec!["routes", idx.as_str(), k] };
        let at = |k: &str| format!("routes[{i}].{k}");

        let raw_prefix = self.required_string(&p("prefix"))?;
        let prefix = embedgate_core::normalise_path(&raw_prefix).map_err(|e| {
            anyhow!(
                "config key `{}`: {raw_prefix:?} is not a valid path prefix ({e})",
                at("prefix")
            )
        })?;
        let name = match self.string(&p("name"))? {
            Some(n) => n,
            None => {
                let n: String = prefix
                    .trim_matches('/')
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                if n.is_empty() {
                    "root".to_owned()
                } else {
                    n
                }
            }
        };
        if !is_token(&name) || name.len() > 64 {
            bail!(
                "config key `{}`: {name:?}: 1-64 letters, digits, '-' or '_'",
                at("name")
            );
        }

        let upstream_text = self.required_string(&p("upstream"))?;
        let upstream: Uri = upstream_text.parse().map_err(|_| {
            anyhow!(
                "config key `{}`: {upstream_text:?} is not a URL",
                at("upstream")
            )
        })?;
        if upstream.scheme_str() != Some("http") || upstream.authority().is_none() {
            bail!(
                "config key `{}`: expected \"http://host:port\", got {upstream_text:?}",
                at("upstream")
            );
        }
        if upstream.path() != "/" || upstream.query().is_some() {
            bail!("config key `{}`: only scheme, host and port are allowed (no path), got {upstream_text:?}", at("upstream"));
        }

        let header = |k: &'static str, default: &str| -> anyhow::Result<HeaderName> {
            let v = self.string(&p(k))?.unwrap_or_else(|| default.to_owned());
            HeaderName::from_bytes(v.as_bytes())
                .map_err(|_| anyhow!("config key `{}`: {v:?} is not a header name", at(k)))
        };
        let user_header = header("user_header", "X-Embed-User")?;
        let attr_header_prefix = self
            .string(&p("attr_header_prefix"))?
            .unwrap_or_else(|| "X-Embed-Attr-".to_owned());
        if HeaderName::from_bytes(format!("{attr_header_prefix}x").as_bytes()).is_err() {
            bail!(
                "config key `{}`: {attr_header_prefix:?} is not a header name prefix",
                at("attr_header_prefix")
            );
        }

        let mut session_paths = Vec::new();
        for sp in self.list(&p("session_paths"))? {
            let n = embedgate_core::normalise_path(&sp).map_err(|e| {
                anyhow!(
                    "config key `{}`: {sp:?} is not a valid path prefix ({e})",
                    at("session_paths")
                )
            })?;
            session_paths.push(n);
        }

        let on_success = match self.string(&p("on_success"))?.as_deref() {
            Some("forward") => OnSuccess::Forward,
            None | Some("redirect") => OnSuccess::Redirect,
            Some(other) => bail!(
                "config key `{}`: expected \"forward\" or \"redirect\", got {other:?}",
                at("on_success")
            ),
        };

        let auth_header = self.string(&["routes", &idx, "upstream_auth", "header"])?;
        let auth_credential = self.string(&["routes", &idx, "upstream_auth", "credential"])?;
        let auth_prefix = self.string(&["routes", &idx, "upstream_auth", "prefix"])?;
        let upstream_auth = match (auth_header, auth_credential) {
            (None, None) if auth_prefix.is_none() => None,
            (_, None) => bail!(
                "config key `routes[{i}].upstream_auth.credential` is required: the name of a stored credential (`embedgate credentials put --name NAME`)"
            ),
            (h, Some(credential)) => {
                let h = h.unwrap_or_else(|| "Authorization".to_owned());
                let header = HeaderName::from_bytes(h.as_bytes()).map_err(|_| {
                    anyhow!("config key `routes[{i}].upstream_auth.header`: {h:?} is not a header name")
                })?;
                if !is_credential_name(&credential) {
                    bail!(
                        "config key `routes[{i}].upstream_auth.credential`: expected the name of a stored credential \
(1-100 letters, digits, '.', '-', '_'), not a value; store values with `embedgate credentials put`"
                    );
                }
                let prefix = auth_prefix.unwrap_or_default();
                // A scheme word and a space at most ("Bearer ", "Token "):
                // anything longer is likely a typed-in secret.
                if prefix.len() > 24
                    || prefix.trim_end().contains(char::is_whitespace)
                    || !prefix.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
                {
                    bail!(
                        "config key `routes[{i}].upstream_auth.prefix`: expected a short scheme such as \"Bearer \"; \
secret values belong in the store, not in the config"
                    );
                }
                Some(UpstreamAuth {
                    header,
                    credential,
                    prefix,
                })
            }
        };

        Ok(RouteConfig {
            name,
            prefix,
            upstream,
            user_header,
            attr_header_prefix,
            session_paths,
            on_success,
            upstream_auth,
        })
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_credential_name(s: &str) -> bool {
    (1..=100).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `90` (seconds), `"500ms"`, `"60s"`, `"10m"`, `"1h"`.
fn parse_duration(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    match unit.trim() {
        "" | "s" => Some(Duration::from_secs(n)),
        "ms" => Some(Duration::from_millis(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"
[store]
url = "sqlite:///tmp/x.db"
[[routes]]
prefix = "/d/"
upstream = "http://127.0.0.1:3000"
"#;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_and_env_overrides() {
        let c = Config::from_toml(MIN, &env(&[])).expect("valid");
        assert_eq!(c.verify.skew, 60);
        assert_eq!(c.routes[0].name, "d");
        assert_eq!(c.routes[0].user_header.as_str(), "x-embed-user");
        assert_eq!(c.routes[0].on_success, OnSuccess::Redirect);
        assert!(c.headers.strip.is_empty() && !c.headers.allow_underscores);
        let c = Config::from_toml(
            MIN,
            &env(&[
                ("EMBEDGATE_VERIFY_SKEW", "5"),
                ("EMBEDGATE_ROUTES_0_UPSTREAM", "http://10.0.0.1:9"),
                ("EMBEDGATE_ROUTES_0_SESSION_PATHS", "/public/, /api/"),
                ("EMBEDGATE_ROUTES_1_PREFIX", "/e/"),
                ("EMBEDGATE_ROUTES_1_UPSTREAM", "http://10.0.0.2:9"),
                ("EMBEDGATE_UPSTREAM_RESPONSE_TIMEOUT", "250ms"),
                ("EMBEDGATE_ROUTES_0_ON_SUCCESS", "forward"),
                ("EMBEDGATE_HEADERS_STRIP", "X-Debug, X_Internal"),
                ("EMBEDGATE_HEADERS_ALLOW_UNDERSCORES", "true"),
            ]),
        )
        .expect("valid");
        assert_eq!(c.routes[0].on_success, OnSuccess::Forward);
        let strip: Vec<&str> = c.headers.strip.iter().map(HeaderName::as_str).collect();
        assert_eq!(strip, ["x-debug", "x_internal"]);
        assert!(c.headers.allow_underscores);
        assert_eq!(c.verify.skew, 5);
        assert_eq!(c.routes[0].upstream.to_string(), "http://10.0.0.1:9/");
        assert_eq!(c.routes[0].session_paths, ["/public/", "/api/"]);
        assert_eq!(c.routes[1].prefix, "/e/");
        assert_eq!(c.upstream.response_timeout, Duration::from_millis(250));
    }

    #[test]
    fn errors_name_the_key() {
        let e =
            Config::from_toml(MIN, &env(&[("EMBEDGATE_VERIFY_SKEW", "soon")])).expect_err("bad");
        let msg = format!("{e:#}");
        assert!(
            msg.contains("`verify.skew`") && msg.contains("EMBEDGATE_VERIFY_SKEW"),
            "{msg}"
        );

        let bad = MIN.replace("http://127.0.0.1:3000", "ftp://x");
        let msg = format!("{:#}", Config::from_toml(&bad, &env(&[])).expect_err("bad"));
        assert!(msg.contains("`routes[0].upstream`"), "{msg}");

        let bad = format!("{MIN}\n[headers]\nstrip = [\"bad header\"]\n");
        let msg = format!("{:#}", Config::from_toml(&bad, &env(&[])).expect_err("bad"));
        assert!(msg.contains("`headers.strip[0]`"), "{msg}");

        let bad = format!("{MIN}\n[verify]\nskwe = 3\n");
        let msg = format!("{:#}", Config::from_toml(&bad, &env(&[])).expect_err("bad"));
        assert!(msg.contains("unknown config key `verify.skwe`"), "{msg}");
    }

    #[test]
    fn raw_secrets_are_refused() {
        let with_value = format!(
            "{MIN}upstream_auth = {{ header = \"Authorization\", value = \"s3cr3t-token-value\" }}\n"
        );
        let msg = format!(
            "{:#}",
            Config::from_toml(&with_value, &env(&[])).expect_err("refused")
        );
        assert!(msg.contains("routes[0].upstream_auth.value"), "{msg}");
        assert!(msg.contains("secret"), "{msg}");
        assert!(!msg.contains("s3cr3t-token-value"), "{msg}");

        let in_prefix = format!(
            "{MIN}upstream_auth = {{ credential = \"grafana\", prefix = \"Bearer glsa_abcdefghijklmnopqrstuvwxyz\" }}\n"
        );
        let msg = format!(
            "{:#}",
            Config::from_toml(&in_prefix, &env(&[])).expect_err("refused")
        );
        assert!(msg.contains("upstream_auth.prefix"), "{msg}");
        assert!(!msg.contains("glsa_abc"), "{msg}");

        let master = MIN.replace("[store]\n", "[store]\nmaster_key = \"AAAA\"\n");
        let msg = format!(
            "{:#}",
            Config::from_toml(&master, &env(&[])).expect_err("refused")
        );
        assert!(msg.contains("store.master_key"), "{msg}");
    }
}
