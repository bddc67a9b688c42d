//! The configuration as written: serde types, one per section, every
//! section `deny_unknown_fields` and defaulted. `validate.rs` turns them
//! into [`super::Config`]. The field names here are the keys; `keys.rs`
//! lists them again for the environment names (a test keeps both equal).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::values::{Dur, Header, ListenAddr, Secs};
use super::{LogFormat, OnSuccess, OnUnavailable, ReplayBackend};

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    #[serde(default)]
    pub listen: Listen,
    #[serde(default)]
    pub store: Store,
    #[serde(default)]
    pub replay: Replay,
    #[serde(default)]
    pub verify: Verify,
    #[serde(default)]
    pub session: Session,
    #[serde(default)]
    pub tls: Tls,
    #[serde(default)]
    pub upstream: Upstream,
    #[serde(default)]
    pub shutdown: Shutdown,
    #[serde(default)]
    pub headers: Headers,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub log: Log,
    #[serde(default)]
    pub admin: Admin,
    #[serde(default, deserialize_with = "routes_by_index")]
    pub routes: Vec<Route>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Listen {
    pub public: ListenAddr,
    pub admin: ListenAddr,
    pub metrics: ListenAddr,
}

impl Default for Listen {
    fn default() -> Self {
        let at = |port| ListenAddr::At {
            host: "127.0.0.1".to_owned(),
            port,
        };
        Listen {
            public: at(8080),
            admin: at(8081),
            metrics: ListenAddr::Off,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Store {
    pub url: Option<String>,
    pub master_key_file: Option<PathBuf>,
    pub poll_interval: Dur,
    pub usage_flush_interval: Dur,
    pub resync_interval: Dur,
    pub purge_expired_after: Dur,
    pub purge_interval: Dur,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            url: None,
            master_key_file: None,
            poll_interval: Dur(Duration::from_millis(250)),
            usage_flush_interval: Dur(Duration::from_secs(60)),
            resync_interval: Dur(Duration::from_secs(10)),
            purge_expired_after: Dur(Duration::from_secs(30 * 24 * 3600)),
            purge_interval: Dur(Duration::from_secs(3600)),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Replay {
    pub backend: ReplayBackend,
    pub url: Option<String>,
    pub on_unavailable: OnUnavailable,
    pub key_prefix: String,
    pub timeout: Dur,
}

impl Default for Replay {
    fn default() -> Self {
        Replay {
            backend: ReplayBackend::Memory,
            url: None,
            on_unavailable: OnUnavailable::Reject,
            key_prefix: "embedgate:nonce:".to_owned(),
            timeout: Dur(Duration::from_millis(250)),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Verify {
    pub skew: Secs,
    pub max_url_ttl: Secs,
    pub max_session: Secs,
    pub public_host: Option<String>,
    pub replay_cache_entries: usize,
}

impl Default for Verify {
    fn default() -> Self {
        Verify {
            skew: Secs(60),
            max_url_ttl: Secs(600),
            max_session: Secs(3600),
            public_host: None,
            replay_cache_entries: 500_000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Session {
    pub cookie_name: String,
    pub insecure_dev_cookies: bool,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            cookie_name: "embedgate".to_owned(),
            insecure_dev_cookies: false,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Upstream {
    pub connect_timeout: Dur,
    pub response_timeout: Dur,
    pub pool_idle_timeout: Dur,
    pub pool_max_idle_per_host: usize,
}

impl Default for Upstream {
    fn default() -> Self {
        Upstream {
            connect_timeout: Dur(Duration::from_secs(5)),
            response_timeout: Dur(Duration::from_secs(30)),
            pool_idle_timeout: Dur(Duration::from_secs(90)),
            pool_max_idle_per_host: 256,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Shutdown {
    pub drain_timeout: Dur,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            drain_timeout: Dur(Duration::from_secs(30)),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Headers {
    pub strip: Vec<Header>,
    pub allow_underscores: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub header_read_timeout: Dur,
    pub keepalive_idle_timeout: Dur,
    pub tls_handshake_timeout: Dur,
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Dur(Duration::from_secs(10)),
            keepalive_idle_timeout: Dur(Duration::from_secs(60)),
            tls_handshake_timeout: Dur(Duration::from_secs(10)),
            max_connections: 10_000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    pub format: LogFormat,
    pub access: bool,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            format: LogFormat::default(),
            access: true,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Admin {
    pub owner_token_file: Option<PathBuf>,
}

/// One `[[routes]]` entry; `prefix` and `upstream` are required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub prefix: String,
    pub upstream: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub user_header: Option<Header>,
    #[serde(default)]
    pub attr_header_prefix: Option<String>,
    #[serde(default)]
    pub session_paths: Vec<String>,
    #[serde(default)]
    pub on_success: OnSuccess,
    #[serde(default)]
    pub upstream_auth: Option<UpstreamAuth>,
}

/// `upstream_auth = { header, credential, prefix }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamAuth {
    pub header: Option<Header>,
    pub credential: Option<String>,
    pub prefix: Option<String>,
}

/// `routes` arrives keyed by index (`toml_source.rs`, so variables can
/// override one route's field); back to a list in index order.
fn routes_by_index<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Route>, D::Error> {
    let by_key = BTreeMap::<String, Route>::deserialize(d)?;
    let mut indexed = Vec::with_capacity(by_key.len());
    for (k, r) in by_key {
        let i: usize = k
            .parse()
            .map_err(|_| serde::de::Error::custom("expected an array of tables ([[routes]])"))?;
        indexed.push((i, r));
    }
    indexed.sort_by_key(|(i, _)| *i);
    Ok(indexed.into_iter().map(|(_, r)| r).collect())
}
