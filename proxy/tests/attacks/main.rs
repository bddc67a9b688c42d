//! The attack suite (issue 13): `embedgate serve` over real loopback TCP,
//! attacked the way a hostile viewer would, in front of a real backend
//! that records the raw request line and headers it received
//! (`raw.rs`). One module per family of attack. Every test asserts what
//! reached the backend, not only what the client was told.
#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

mod bounds;
mod cache_headers;
mod cookies;
mod header_spoofing;
mod log_canary;
mod paths;
mod raw;
mod replay;
mod revocation;
mod slow_clients;
mod smuggling;
mod tampering;

use std::time::Duration;

use raw::RawBackend;
use support::*;

/// How long a raw exchange waits for more bytes before it stops reading.
pub(crate) const QUIET: Duration = Duration::from_millis(700);

/// The shape of a lab's configuration.
#[derive(Default, Clone, Copy)]
pub(crate) struct Setup<'a> {
    /// More keys of the `/d/` route.
    pub route_d: &'a str,
    /// More keys of `[verify]`.
    pub verify: &'a str,
    /// More top-level tables (`[headers]`, `[replay]`, …).
    pub tail: &'a str,
    /// Scopes of the lab's secret.
    pub scopes: &'a [&'a str],
}

/// A store with one secret, a raw backend, and the proxy in front with two
/// routes: `/d/` (the defaults: `X-Embed-User`, `X-Embed-Attr-`) and
/// `/g/` (Grafana-style: `X-WEBAUTH-USER`, `X-Grafana-` attributes, an
/// injected `Authorization`). Both forward a verified signed URL.
pub(crate) struct Lab {
    pub store: TestStore,
    pub backend: RawBackend,
    pub proxy: Proxy,
    pub kid: String,
    pub secret: String,
}

/// The value of the credential the `/g/` route injects.
pub(crate) const GRAFANA_TOKEN: &str = "glsa_canary_token_0123456789";

pub(crate) fn lab_toml(store: &TestStore, backend: std::net::SocketAddr, s: Setup<'_>) -> String {
    format!(
        r#"
[listen]
public = "127.0.0.1:0"
admin = "127.0.0.1:0"

[store]
url = "{url}"
master_key_file = "{key}"
poll_interval = "100ms"

[verify]
public_host = "{HOST}"
{verify}

[upstream]
response_timeout = "5s"

[[routes]]
prefix = "/d/"
upstream = "http://{backend}"
session_paths = ["/public/"]
on_success = "forward"
{route_d}

[[routes]]
name = "grafana"
prefix = "/g/"
upstream = "http://{backend}"
user_header = "X-WEBAUTH-USER"
attr_header_prefix = "X-Grafana-"
on_success = "forward"
upstream_auth = {{ header = "Authorization", credential = "grafana-token", prefix = "Bearer " }}

{tail}
"#,
        url = store.url,
        key = store.key_file.display(),
        verify = s.verify,
        route_d = s.route_d,
        tail = s.tail,
    )
}

impl Lab {
    pub async fn start(s: Setup<'_>) -> Lab {
        Lab::start_with(s, |toml| toml).await
    }

    /// As [`Lab::start`], with the config text passed through `edit`.
    pub async fn start_with(s: Setup<'_>, edit: impl FnOnce(String) -> String) -> Lab {
        let store = TestStore::new();
        store.put_credential("grafana-token", GRAFANA_TOKEN);
        let (kid, secret) = store.create_secret("main", s.scopes);
        let backend = RawBackend::start().await;
        let proxy = Proxy::start(&edit(lab_toml(&store, backend.addr, s))).await;
        Lab {
            store,
            backend,
            proxy,
            kid,
            secret,
        }
    }

    /// A URL signed for `path_and_query`, fresh nonce.
    pub fn url(&self, path_and_query: &str, sub: &str, attrs: &[(&str, &str)]) -> String {
        sign(&self.kid, &self.secret, path_and_query, sub, attrs)
    }

    /// Opens a session of `sub` on the route of `path` by a signed URL;
    /// returns the `name=value` of its cookie.
    pub async fn session(&self, path: &str, sub: &str, attrs: &[(&str, &str)]) -> String {
        let got = get(self.proxy.public, &self.url(path, sub, attrs), &[]).await;
        assert_eq!(got.status, http::StatusCode::OK, "{:?}", got.body);
        got.cookie().expect("a session cookie")
    }
}

/// `GET target` with `headers` as raw lines, `Connection: close`.
pub(crate) fn raw_get(target: &str, headers: &[&str]) -> Vec<u8> {
    let mut r = format!("GET {target} HTTP/1.1\r\nHost: {HOST}\r\n");
    for h in headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    r.push_str("Connection: close\r\n\r\n");
    r.into_bytes()
}
