//! The demo's content backend: a small "sales dashboard" server that sits
//! behind the proxy, the way Grafana or Superset would. Its page shows the
//! identity headers the proxy sent, loads a stylesheet and a script (the
//! script draws an inline SVG chart, no CDN) and calls a JSON API endpoint,
//! so one embed exercises the signed URL and then the session cookie.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;

/// The route prefix of the dashboard pages.
pub const DASHBOARD_PREFIX: &str = "/d/";
/// Where the dashboard's assets live (a session path of the route).
pub const ASSETS_PREFIX: &str = "/assets/";
/// Where the dashboard's API lives (a session path of the route).
pub const API_PREFIX: &str = "/api/";
/// The dashboard page the host app embeds.
pub const DASHBOARD_PATH: &str = "/d/sales";
/// The stylesheet the dashboard page loads.
pub const CSS_PATH: &str = "/assets/dashboard.css";
/// The script the dashboard page loads.
pub const SCRIPT_PATH: &str = "/assets/chart.js";
/// The API endpoint the script calls.
pub const API_PATH: &str = "/api/sales.json";

/// What the backend saw of one request: the path and the identity headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenRequest {
    /// Path and query as received.
    pub path_and_query: String,
    /// `X-Embed-User`, if present.
    pub user: Option<String>,
    /// `X-Embed-Key`, if present.
    pub key: Option<String>,
    /// Every `X-Embed-Attr-NAME` as `(name, value)`, names lowercase.
    pub attrs: Vec<(String, String)>,
}

/// The requests the backend answered, in order.
pub type SeenLog = Arc<Mutex<Vec<SeenRequest>>>;

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn seen(req: &Request<hyper::body::Incoming>) -> SeenRequest {
    let h = req.headers();
    let attrs = h
        .iter()
        .filter_map(|(k, v)| {
            let name = k.as_str().strip_prefix("x-embed-attr-")?;
            Some((name.to_owned(), v.to_str().ok()?.to_owned()))
        })
        .collect();
    SeenRequest {
        path_and_query: req
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        user: header_str(h, "x-embed-user"),
        key: header_str(h, "x-embed-key"),
        attrs,
    }
}

/// Answers one request.
pub(crate) fn handle(req: &Request<hyper::body::Incoming>, log: &SeenLog) -> Response<Full<Bytes>> {
    let who = seen(req);
    if let Ok(mut l) = log.lock() {
        l.push(who.clone());
    }
    let path = req.uri().path();
    if path == CSS_PATH {
        return reply(StatusCode::OK, "text/css; charset=utf-8", DASHBOARD_CSS);
    }
    if path == SCRIPT_PATH {
        return reply(StatusCode::OK, "text/javascript; charset=utf-8", CHART_JS);
    }
    if path == API_PATH {
        return reply(
            StatusCode::OK,
            "application/json",
            api_json(&who).to_string(),
        );
    }
    if path.starts_with(DASHBOARD_PREFIX) {
        return reply(
            StatusCode::OK,
            "text/html; charset=utf-8",
            dashboard_html(&who),
        );
    }
    reply(
        StatusCode::NOT_FOUND,
        "application/json",
        r#"{"error":"not found"}"#,
    )
}

pub(crate) fn reply(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// Monthly sales for the tenant: made-up numbers that differ per tenant, so
/// the attribute visibly changes the dashboard.
fn api_json(who: &SeenRequest) -> serde_json::Value {
    let tenant = who
        .attrs
        .iter()
        .find(|(k, _)| k == "tenant")
        .map_or("-", |(_, v)| v.as_str());
    let seed = tenant
        .bytes()
        .fold(7u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun"];
    let series: Vec<serde_json::Value> = months
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let v = 40 + (seed.rotate_left(i as u32 * 5) % 60);
            serde_json::json!({ "month": m, "sales": v })
        })
        .collect();
    serde_json::json!({
        "tenant": tenant,
        "series": series,
        "seen_by_backend": {
            "user": who.user,
            "key": who.key,
            "attrs": who.attrs.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
        },
    })
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn dashboard_html(who: &SeenRequest) -> String {
    let or_none = |v: &Option<String>| {
        v.as_deref()
            .map_or_else(|| "<em>(none)</em>".to_owned(), html_escape)
    };
    let attrs = if who.attrs.is_empty() {
        "<em>(none)</em>".to_owned()
    } else {
        who.attrs
            .iter()
            .map(|(k, v)| format!("<code>{}={}</code>", html_escape(k), html_escape(v)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Sales dashboard</title>
<link rel="stylesheet" href="{CSS_PATH}">
</head>
<body>
<header><h1>Sales dashboard</h1><span class="badge">content backend</span></header>
<section class="identity">
  <h2>Identity headers this page's request carried</h2>
  <table>
    <tr><th>X-Embed-User</th><td id="user">{user}</td></tr>
    <tr><th>X-Embed-Attr-*</th><td id="attrs">{attrs}</td></tr>
    <tr><th>X-Embed-Key</th><td id="key">{key}</td></tr>
    <tr><th>request</th><td><code>{path}</code></td></tr>
  </table>
  <p class="hint">The browser sent a signed URL; the proxy verified it, forwarded
  this request with the headers above and answered with a session cookie. The
  stylesheet, the script and the API call below ride on that cookie.</p>
</section>
<section>
  <h2>Monthly sales <span id="tenant"></span></h2>
  <div id="chart">loading <code>{API_PATH}</code>…</div>
  <p id="api-identity" class="hint"></p>
</section>
<script src="{SCRIPT_PATH}"></script>
</body>
</html>
"#,
        user = or_none(&who.user),
        key = or_none(&who.key),
        path = html_escape(&who.path_and_query),
    )
}

const DASHBOARD_CSS: &str = r#"body { font-family: system-ui, sans-serif; margin: 0; background: #f6f8fb; color: #1d2733; }
header { display: flex; align-items: center; gap: 1em; padding: .6em 1em; background: #1d3557; color: #fff; }
header h1 { font-size: 1.2em; margin: 0; }
.badge { font-size: .75em; background: #457b9d; padding: .15em .5em; border-radius: 1em; }
section { margin: 1em; padding: .8em 1em; background: #fff; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
h2 { font-size: 1em; margin: 0 0 .5em; }
th { text-align: left; padding-right: 1em; font-weight: 600; color: #555; }
code { background: #eef2f7; padding: 0 .25em; border-radius: 3px; }
.hint { color: #667; font-size: .85em; }
.bar { fill: #2a9d8f; }
.label { font-size: 11px; fill: #334; }
"#;

const CHART_JS: &str = r#"// Draws the sales chart as inline SVG from the JSON API (same origin, so
// the session cookie goes along).
(async function () {
  const chart = document.getElementById('chart');
  try {
    const res = await fetch('/api/sales.json', { credentials: 'same-origin' });
    if (!res.ok) {
      chart.textContent = 'API call refused: HTTP ' + res.status + ' ' + (res.headers.get('Embedgate-Reason') || '');
      return;
    }
    const data = await res.json();
    document.getElementById('tenant').textContent = '(tenant ' + data.tenant + ')';
    const w = 420, h = 180, pad = 24, n = data.series.length;
    const max = Math.max.apply(null, data.series.map(function (p) { return p.sales; }));
    const bw = (w - pad * 2) / n;
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
    svg.setAttribute('width', w);
    svg.setAttribute('height', h);
    data.series.forEach(function (p, i) {
      const bh = (h - pad * 2) * p.sales / max;
      const r = document.createElementNS(ns, 'rect');
      r.setAttribute('class', 'bar');
      r.setAttribute('x', pad + i * bw + 4);
      r.setAttribute('y', h - pad - bh);
      r.setAttribute('width', bw - 8);
      r.setAttribute('height', bh);
      svg.appendChild(r);
      const t = document.createElementNS(ns, 'text');
      t.setAttribute('class', 'label');
      t.setAttribute('x', pad + i * bw + bw / 2);
      t.setAttribute('y', h - 6);
      t.setAttribute('text-anchor', 'middle');
      t.textContent = p.month + ' ' + p.sales;
      svg.appendChild(t);
    });
    chart.textContent = '';
    chart.appendChild(svg);
    const who = data.seen_by_backend;
    document.getElementById('api-identity').textContent =
      'The API call (session cookie only) reached the backend as user ' + who.user +
      ' with key ' + who.key + '.';
  } catch (e) {
    chart.textContent = 'API call failed: ' + e;
  }
})();
"#;
