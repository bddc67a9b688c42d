//! The demo's "host app": the SaaS page that embeds the dashboard. Like a
//! real application backend it signs a fresh embed URL (new nonce) on every
//! page load with `embedgate_core::Signer`, in-process; the secret never
//! leaves it.

use std::net::SocketAddr;

use bytes::Bytes;
use embedgate_core::{SignRequest, Signer};
use http::{Request, Response, StatusCode};
use http_body_util::Full;

use super::content_backend::{html_escape, reply, DASHBOARD_PATH};

/// How long the iframe's signed URL is valid (the browser loads it at once).
pub const URL_TTL_SECS: u64 = 120;
/// How long the example URL printed in the terminal is valid: long enough
/// to read the instructions and try it, and the longest the proxy accepts
/// by default (`verify.max_url_ttl`).
pub const EXAMPLE_URL_TTL_SECS: u64 = 600;
/// The session the URL asks for.
pub const SESSION_SECS: u64 = 1800;

/// Signs embed URLs for the proxy at `proxy` (as seen by the browser:
/// `localhost:PORT`, so the host page and the embed share a site and the
/// plain-http dev cookie is sent).
#[derive(Debug)]
pub struct HostApp {
    signer: Signer,
    proxy_origin: String,
    admin: Option<SocketAddr>,
}

impl HostApp {
    /// A host app signing with `signer` for the proxy's public port.
    pub fn new(signer: Signer, proxy: SocketAddr, admin: Option<SocketAddr>) -> HostApp {
        HostApp {
            signer,
            proxy_origin: format!("http://localhost:{}", proxy.port()),
            admin,
        }
    }

    /// A freshly signed URL of the dashboard for `user` of `tenant`, valid
    /// `ttl` seconds from `now`.
    pub fn signed_url(
        &self,
        user: &str,
        tenant: &str,
        now: u64,
        ttl: u64,
    ) -> anyhow::Result<String> {
        let nonce = embedgate_core::generate_nonce(&mut rand::rngs::OsRng);
        let url = format!("{}{DASHBOARD_PATH}?range=6m", self.proxy_origin);
        Ok(self.signer.sign(&SignRequest {
            url: &url,
            sub: user,
            exp: now + ttl,
            nonce: &nonce,
            session: Some(SESSION_SECS),
            attrs: &[("tenant", tenant)],
        })?)
    }

    /// Answers one request: `/` (optionally `?user=…&tenant=…`) is the page.
    pub(crate) fn handle(&self, req: &Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        if req.uri().path() != "/" {
            return reply(StatusCode::NOT_FOUND, "text/plain", "not found\n");
        }
        let mut user = "alice".to_owned();
        let mut tenant = "acme".to_owned();
        for (k, v) in form_pairs(req.uri().query().unwrap_or("")) {
            let ok = !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            match k.as_str() {
                "user" if ok => user = v,
                "tenant" if ok => tenant = v,
                _ => {}
            }
        }
        let now = crate::clock::unix_now();
        match self.signed_url(&user, &tenant, now, URL_TTL_SECS) {
            Ok(url) => {
                let mut r = reply(
                    StatusCode::OK,
                    "text/html; charset=utf-8",
                    self.page(&url, &user, &tenant),
                );
                // Every load signs anew; never serve a cached page.
                r.headers_mut().insert(
                    http::header::CACHE_CONTROL,
                    http::HeaderValue::from_static("no-store"),
                );
                r
            }
            Err(e) => reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain",
                format!("cannot sign: {e}\n"),
            ),
        }
    }

    fn page(&self, url: &str, user: &str, tenant: &str) -> String {
        let tampered = tamper(url);
        let admin = self
            .admin
            .map_or_else(|| "(off)".to_owned(), |a| format!("http://{a}/metrics"));
        format!(
            r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Host app: embedded dashboard</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #1d2733; }}
iframe {{ width: 100%; max-width: 760px; height: 560px; border: 2px solid #1d3557; border-radius: 8px; }}
code, .url {{ background: #eef2f7; padding: 0 .25em; border-radius: 3px; word-break: break-all; }}
.url {{ display: block; padding: .4em; font-family: monospace; font-size: .8em; }}
li {{ margin: .3em 0; }}
</style>
</head>
<body>
<h1>Host app <small>(your SaaS product)</small></h1>
<form method="get" action="/">
  signed in as <input name="user" value="{user}" size="10">
  of tenant <input name="tenant" value="{tenant}" size="10">
  <button>sign again</button>
</form>
<p>This page was rendered with a freshly signed embed URL (new nonce):</p>
<span class="url" id="signed-url">{url_text}</span>
<iframe id="embed" src="{url_attr}" title="embedded dashboard"></iframe>
<h2>Try</h2>
<ul>
  <li><b>Reload this page</b>: a new URL is signed each time, so it keeps working.</li>
  <li><a href="{url_attr}" target="_blank" rel="noreferrer">Open the iframe's URL again</a> in a private window (no session cookie): it was already used → <code>403 replayed</code>. In this browser it is served under the session its first use opened, as <code>{user}</code>, without its <code>eg_</code> parameters.</li>
  <li><a href="{tampered_attr}" target="_blank" rel="noreferrer">Open a tampered copy</a> (<code>eg_sub</code> changed to <code>admin</code>) in a private window → <code>403 bad_signature</code> (here, again the session's user, never <code>admin</code>).</li>
  <li>Deactivate the secret with the command printed by <code>cargo xtask demo</code> → the next reload gets <code>403 key_inactive</code> and the open dashboard's API calls get <code>403 session_revoked</code>.</li>
  <li>Admin listener: <a href="{admin}" target="_blank">{admin}</a></li>
</ul>
</body>
</html>
"#,
            user = html_escape(user),
            tenant = html_escape(tenant),
            url_text = html_escape(url),
            url_attr = html_escape(url),
            tampered_attr = html_escape(&tampered),
            admin = html_escape(&admin),
        )
    }
}

/// The URL with its `eg_sub` value replaced: what an attacker would try.
pub fn tamper(url: &str) -> String {
    match url.find("eg_sub=") {
        Some(i) => {
            let start = i + "eg_sub=".len();
            let end = url[start..].find('&').map_or(url.len(), |j| start + j);
            format!("{}admin{}", &url[..start], &url[end..])
        }
        None => url.to_owned(),
    }
}

/// The decoded `a=b&c=d` pairs of a query.
fn form_pairs(q: &str) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()))
}
