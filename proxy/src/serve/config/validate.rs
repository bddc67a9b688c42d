//! From the file's shape (`file.rs`) to a [`Config`] the proxy can trust:
//! ranges, cross-key rules, route defaults, host names resolved. Every
//! error names the key, and the variable when one set it.

use std::fmt::Display;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs as _};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use http::header::HeaderName;
use http::Uri;

use super::environment::EnvLayer;
use super::errors::key_prefix;
use super::file::{self, File};
use super::values::ListenAddr;
use super::{
    AdminConfig, Config, HeadersConfig, LimitsConfig, LogConfig, ReplayBackend, ReplayConfig,
    RouteConfig, SessionConfig, TlsConfig, UpstreamAuth, UpstreamConfig, VerifyConfig,
};

struct Ctx<'a> {
    env: &'a EnvLayer,
}

impl Ctx<'_> {
    /// `config key `a.b` (from VAR): what`.
    fn err(&self, path: &[&str], what: impl Display) -> anyhow::Error {
        anyhow!("{}: {what}", key_prefix(path, self.env))
    }

    fn ensure(&self, ok: bool, path: &[&str], what: impl Display) -> anyhow::Result<()> {
        if ok {
            Ok(())
        } else {
            Err(self.err(path, what))
        }
    }
}

pub fn build(raw: File, env: &EnvLayer) -> anyhow::Result<Config> {
    let c = Ctx { env };

    let public_addr = resolve(&c, &raw.listen.public, "public")?
        .ok_or_else(|| c.err(&["listen", "public"], "cannot be \"off\""))?;
    let admin_addr = resolve(&c, &raw.listen.admin, "admin")?;
    let metrics_addr = resolve(&c, &raw.listen.metrics, "metrics")?;

    let s = raw.store;
    let store_url = s.url.ok_or_else(|| {
        anyhow!("config key `store.url` is required (or set EMBEDGATE_STORE, as for the store commands)")
    })?;
    let postgres = store_url.starts_with("postgres://") || store_url.starts_with("postgresql://");
    c.ensure(
        store_url.starts_with("sqlite://") || postgres,
        &["store", "url"],
        "expected \"sqlite://PATH\" or \"postgres://USER@HOST/DB\"",
    )?;
    let poll_interval = s.poll_interval.0;
    c.ensure(
        !poll_interval.is_zero() && poll_interval <= Duration::from_secs(1),
        &["store", "poll_interval"],
        "must lie between 1ms and 1s (changes must take effect within 1 s)",
    )?;
    let usage_flush_interval = s.usage_flush_interval.0;
    c.ensure(
        !usage_flush_interval.is_zero() && usage_flush_interval <= Duration::from_secs(60),
        &["store", "usage_flush_interval"],
        "must lie between 1ms and 60s",
    )?;
    let purge_expired_after = s.purge_expired_after.0;
    c.ensure(
        i64::try_from(purge_expired_after.as_secs()).is_ok(),
        &["store", "purge_expired_after"],
        "too large",
    )?;
    let purge_interval = s.purge_interval.0;
    c.ensure(
        purge_interval >= Duration::from_secs(1),
        &["store", "purge_interval"],
        "must be at least 1s",
    )?;
    let resync_interval = s.resync_interval.0;
    c.ensure(
        !resync_interval.is_zero(),
        &["store", "resync_interval"],
        "must be at least 1ms",
    )?;

    let r = raw.replay;
    let replay = ReplayConfig {
        backend: r.backend,
        url: r.url,
        on_unavailable: r.on_unavailable,
        key_prefix: r.key_prefix,
        timeout: r.timeout.0,
    };
    if replay.backend == ReplayBackend::Redis {
        match &replay.url {
            Some(u) if u.starts_with("redis://") || u.starts_with("rediss://") => {}
            Some(_) => return Err(c.err(&["replay", "url"], "expected \"redis://HOST:PORT\"")),
            None => {
                return Err(c.err(
                    &["replay", "url"],
                    "is required with replay.backend = \"redis\"",
                ))
            }
        }
    }
    c.ensure(
        !replay.timeout.is_zero(),
        &["replay", "timeout"],
        "must be at least 1ms",
    )?;

    let v = raw.verify;
    let verify = VerifyConfig {
        skew: v.skew.0,
        max_url_ttl: v.max_url_ttl.0,
        max_session: v.max_session.0,
        public_host: v.public_host.map(|h| h.to_ascii_lowercase()),
        replay_cache_entries: v.replay_cache_entries,
    };
    c.ensure(
        verify.max_session > 0,
        &["verify", "max_session"],
        "must be at least 1s",
    )?;
    c.ensure(
        verify.replay_cache_entries > 0,
        &["verify", "replay_cache_entries"],
        "must be at least 1",
    )?;
    if let Some(h) = &verify.public_host {
        c.ensure(
            !h.is_empty() && !h.contains('/') && !h.chars().any(char::is_whitespace),
            &["verify", "public_host"],
            format!("expected a host[:port] such as \"embed.example.com\", got {h:?}"),
        )?;
    }

    let session = SessionConfig {
        cookie_name: raw.session.cookie_name,
        insecure_dev_cookies: raw.session.insecure_dev_cookies,
    };
    c.ensure(
        is_token(&session.cookie_name) && !session.cookie_name.starts_with("__"),
        &["session", "cookie_name"],
        "letters, digits, '-' and '_' only, not starting with \"__\"",
    )?;

    let tls = match (raw.tls.cert_file, raw.tls.key_file) {
        (None, None) => None,
        (Some(cert_file), Some(key_file)) => Some(TlsConfig {
            cert_file,
            key_file,
        }),
        (Some(_), None) => {
            return Err(c.err(
                &["tls", "key_file"],
                "is required when `tls.cert_file` is set",
            ))
        }
        (None, Some(_)) => {
            return Err(c.err(
                &["tls", "cert_file"],
                "is required when `tls.key_file` is set",
            ))
        }
    };

    let u = raw.upstream;
    let upstream = UpstreamConfig {
        connect_timeout: u.connect_timeout.0,
        response_timeout: u.response_timeout.0,
        pool_idle_timeout: u.pool_idle_timeout.0,
        pool_max_idle_per_host: u.pool_max_idle_per_host,
    };

    let headers = HeadersConfig {
        strip: raw.headers.strip.into_iter().map(|h| h.0).collect(),
        allow_underscores: raw.headers.allow_underscores,
    };

    let l = raw.limits;
    let limits = LimitsConfig {
        header_read_timeout: l.header_read_timeout.0,
        keepalive_idle_timeout: l.keepalive_idle_timeout.0,
        tls_handshake_timeout: l.tls_handshake_timeout.0,
        max_connections: l.max_connections,
    };
    for (key, d) in [
        ("header_read_timeout", limits.header_read_timeout),
        ("keepalive_idle_timeout", limits.keepalive_idle_timeout),
        ("tls_handshake_timeout", limits.tls_handshake_timeout),
    ] {
        c.ensure(
            d >= Duration::from_millis(100),
            &["limits", key],
            "must be at least 100ms",
        )?;
    }
    c.ensure(
        (1..=tokio::sync::Semaphore::MAX_PERMITS).contains(&limits.max_connections),
        &["limits", "max_connections"],
        "must be at least 1",
    )?;

    let log = LogConfig {
        format: raw.log.format,
        access: raw.log.access,
    };

    // Beside a SQLite store by default: the operator who can read the store
    // file can read this one.
    let owner_token_file = raw.admin.owner_token_file.or_else(|| {
        store_url
            .strip_prefix("sqlite://")
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(format!("{p}.owner-token")))
    });
    let admin = AdminConfig { owner_token_file };

    c.ensure(
        !raw.routes.is_empty(),
        &["routes"],
        "is required: at least one [[routes]] with prefix and upstream",
    )?;
    let mut routes = Vec::with_capacity(raw.routes.len());
    for (i, r) in raw.routes.into_iter().enumerate() {
        routes.push(route(&c, i, r)?);
    }
    for (i, a) in routes.iter().enumerate() {
        let idx = i.to_string();
        for b in &routes[..i] {
            c.ensure(
                a.name != b.name,
                &["routes", &idx, "name"],
                format!("{:?} is used by two routes; names must be unique", a.name),
            )?;
            c.ensure(
                a.prefix != b.prefix,
                &["routes", &idx, "prefix"],
                format!("{:?} is used by two routes", a.prefix),
            )?;
        }
    }

    Ok(Config {
        public_addr,
        admin_addr,
        metrics_addr,
        store_url,
        master_key_file: s.master_key_file,
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
        drain_timeout: raw.shutdown.drain_timeout.0,
        headers,
        limits,
        log,
        admin,
        routes,
        warnings: env.warnings.clone(),
        vars: env.vars(),
    })
}

/// A listen address as a socket address; a host name is resolved now, to
/// its first IPv4 address if it has one (`localhost` is often `::1`
/// first, which IPv4-only clients cannot reach).
fn resolve(c: &Ctx<'_>, addr: &ListenAddr, key: &str) -> anyhow::Result<Option<SocketAddr>> {
    let ListenAddr::At { host, port } = addr else {
        return Ok(None);
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(Some(SocketAddr::new(ip, *port)));
    }
    let found: Vec<SocketAddr> = (host.as_str(), *port)
        .to_socket_addrs()
        .map_err(|e| {
            c.err(
                &["listen", key],
                format!("cannot resolve host {host:?}: {e}"),
            )
        })?
        .collect();
    found
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| found.first())
        .copied()
        .map(Some)
        .ok_or_else(|| c.err(&["listen", key], format!("host {host:?} has no address")))
}

fn route(c: &Ctx<'_>, i: usize, r: file::Route) -> anyhow::Result<RouteConfig> {
    let idx = i.to_string();
    let p = |k: &'static str| -> [&str; 3] { ["routes", idx.as_str(), k] };

    let prefix = embedgate_core::normalise_path(&r.prefix).map_err(|e| {
        c.err(
            &p("prefix"),
            format!("{:?} is not a valid path prefix ({e})", r.prefix),
        )
    })?;
    let name = r.name.unwrap_or_else(|| {
        let n: String = prefix
            .trim_matches('/')
            .chars()
            .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' })
            .collect();
        if n.is_empty() {
            "root".to_owned()
        } else {
            n
        }
    });
    c.ensure(
        is_token(&name) && name.len() <= 64,
        &p("name"),
        format!("{name:?}: 1-64 letters, digits, '-' or '_'"),
    )?;

    let upstream: Uri = r
        .upstream
        .parse()
        .map_err(|_| c.err(&p("upstream"), format!("{:?} is not a URL", r.upstream)))?;
    c.ensure(
        upstream.scheme_str() == Some("http") && upstream.authority().is_some(),
        &p("upstream"),
        format!("expected \"http://host:port\", got {:?}", r.upstream),
    )?;
    c.ensure(
        upstream.path() == "/" && upstream.query().is_none(),
        &p("upstream"),
        format!(
            "only scheme, host and port are allowed (no path), got {:?}",
            r.upstream
        ),
    )?;

    let user_header = r
        .user_header
        .map_or_else(|| HeaderName::from_static("x-embed-user"), |h| h.0);
    let attr_header_prefix = r
        .attr_header_prefix
        .unwrap_or_else(|| "X-Embed-Attr-".to_owned());
    c.ensure(
        HeaderName::from_bytes(format!("{attr_header_prefix}x").as_bytes()).is_ok(),
        &p("attr_header_prefix"),
        format!("{attr_header_prefix:?} is not a header name prefix"),
    )?;

    let mut session_paths = Vec::with_capacity(r.session_paths.len());
    for sp in &r.session_paths {
        let n = embedgate_core::normalise_path(sp).map_err(|e| {
            c.err(
                &p("session_paths"),
                format!("{sp:?} is not a valid path prefix ({e})"),
            )
        })?;
        session_paths.push(n);
    }

    let upstream_auth = match r.upstream_auth {
        None => None,
        Some(file::UpstreamAuth {
            header: None,
            credential: None,
            prefix: None,
        }) => None,
        Some(a) => {
            let auth_key =
                |k: &'static str| -> [&str; 4] { ["routes", idx.as_str(), "upstream_auth", k] };
            let credential = a.credential.ok_or_else(|| {
                anyhow!(
                    "config key `routes[{i}].upstream_auth.credential` is required: the name of a stored credential (`embedgate credentials put --name NAME`)"
                )
            })?;
            // The message never repeats the value: it may be a pasted secret.
            c.ensure(
                is_credential_name(&credential),
                &auth_key("credential"),
                "expected the name of a stored credential (1-100 letters, digits, '.', '-', '_'), \
not a value; store values with `embedgate credentials put`",
            )?;
            let prefix = a.prefix.unwrap_or_default();
            // A scheme word and a space at most ("Bearer ", "Token "):
            // anything longer is likely a typed-in secret.
            c.ensure(
                prefix.len() <= 24
                    && !prefix.trim_end().contains(char::is_whitespace)
                    && prefix.bytes().all(|b| b.is_ascii_graphic() || b == b' '),
                &auth_key("prefix"),
                "expected a short scheme such as \"Bearer \"; secret values belong in the store, not in the config",
            )?;
            Some(UpstreamAuth {
                header: a
                    .header
                    .map_or_else(|| HeaderName::from_static("authorization"), |h| h.0),
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
        on_success: r.on_success,
        upstream_auth,
    })
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
