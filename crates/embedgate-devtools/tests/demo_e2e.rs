//! The live demo (`cargo xtask demo`, `embedgate-dev demo`) end to end, as a browser would walk
//! it: real HTTP on loopback to the host app, the proxy (real SQLite store)
//! and the content backend. The host page's iframe URL is followed through
//! the proxy with a cookie jar, then the dashboard's stylesheet, script and
//! API call ride on the session cookie.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;

use bytes::Bytes;
use embedgate_devtools::demo::{content_backend, host_app, instructions, DemoStack};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

struct Got {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

/// A minimal browser: one cookie jar, `localhost:PORT` URLs dialled on 127.0.0.1.
#[derive(Default)]
struct Browser {
    jar: BTreeMap<String, String>,
}

impl Browser {
    async fn get(&mut self, url: &str) -> Got {
        let rest = url.strip_prefix("http://localhost:").unwrap();
        let slash = rest.find('/').unwrap();
        let port: u16 = rest[..slash].parse().unwrap();
        let target = &rest[slash..];
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut req = Request::get(target).header("host", format!("localhost:{port}"));
        if !self.jar.is_empty() {
            let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.header("cookie", cookies.join("; "));
        }
        let resp = sender
            .send_request(req.body(Empty::<Bytes>::new()).unwrap())
            .await
            .unwrap();
        let (parts, body) = resp.into_parts();
        for sc in parts.headers.get_all("set-cookie") {
            let pair = sc.to_str().unwrap().split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.jar.insert(k.to_owned(), v.to_owned());
        }
        let body = body.collect().await.unwrap().to_bytes();
        Got {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    }
}

/// The value of the first `attr="…"` after `anchor` in `html`, unescaped.
fn attr_after(html: &str, anchor: &str, attr: &str) -> String {
    let from = html
        .find(anchor)
        .unwrap_or_else(|| panic!("{anchor} not in page"));
    let key = format!("{attr}=\"");
    let start = from + html[from..].find(&key).unwrap() + key.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].replace("&amp;", "&")
}

#[tokio::test]
async fn demo_page_embeds_the_dashboard_through_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let stack = DemoStack::start(dir.path()).await.unwrap();
    let mut browser = Browser::default();
    let proxy_origin = format!("http://localhost:{}", stack.proxy.port());

    // The host page embeds a freshly signed URL; a reload signs a new one.
    let page = browser.get(&stack.host_page).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers["cache-control"], "no-store");
    let iframe = attr_after(&page.body, "<iframe", "src");
    assert!(
        iframe.starts_with(&format!("{proxy_origin}/d/sales?")),
        "{iframe}"
    );
    assert!(iframe.contains("eg_sig="));
    let again = attr_after(&browser.get(&stack.host_page).await.body, "<iframe", "src");
    assert_ne!(iframe, again, "every load must sign a new URL");

    // The iframe: verified, forwarded with the identity, a session cookie set.
    let dash = browser.get(&iframe).await;
    assert_eq!(dash.status, StatusCode::OK, "{}", dash.body);
    assert_eq!(
        browser.jar.len(),
        1,
        "one session cookie: {:?}",
        browser.jar.keys()
    );
    assert!(
        dash.body.contains(r#"<td id="user">alice</td>"#),
        "{}",
        dash.body
    );
    assert!(dash.body.contains("tenant=acme"));
    assert!(dash.body.contains(&stack.client_id));

    // The dashboard's assets and API call, on the cookie alone.
    let css = attr_after(&dash.body, "rel=\"stylesheet\"", "href");
    let script = attr_after(&dash.body, "<script", "src");
    assert_eq!(css, content_backend::CSS_PATH);
    assert_eq!(script, content_backend::SCRIPT_PATH);
    let css = browser.get(&format!("{proxy_origin}{css}")).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    let js = browser.get(&format!("{proxy_origin}{script}")).await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(
        js.body.contains(content_backend::API_PATH),
        "the script calls the API"
    );
    let api = browser
        .get(&format!("{proxy_origin}{}", content_backend::API_PATH))
        .await;
    assert_eq!(api.status, StatusCode::OK, "{}", api.body);
    let json: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    assert_eq!(json["seen_by_backend"]["user"], "alice");
    assert_eq!(json["seen_by_backend"]["key"], stack.client_id.as_str());
    assert_eq!(json["seen_by_backend"]["attrs"]["tenant"], "acme");
    assert_eq!(json["series"].as_array().unwrap().len(), 6);

    // The backend saw the identity on all four requests, never the signature.
    let seen = stack.seen();
    assert_eq!(seen.len(), 4, "{seen:?}");
    for s in &seen {
        assert_eq!(s.user.as_deref(), Some("alice"), "{s:?}");
        assert_eq!(s.key.as_deref(), Some(stack.client_id.as_str()));
        assert_eq!(s.attrs, vec![("tenant".to_owned(), "acme".to_owned())]);
        assert!(!s.path_and_query.contains("eg_"), "{s:?}");
    }

    // What the printed instructions promise: replay, tamper, no cookie.
    let mut stranger = Browser::default();
    let replay = stranger.get(&iframe).await;
    assert_eq!(replay.status, StatusCode::FORBIDDEN);
    assert_eq!(replay.headers["embedgate-reason"], "replayed");
    let tampered = stranger.get(&host_app::tamper(&again)).await;
    assert_eq!(tampered.status, StatusCode::FORBIDDEN);
    assert_eq!(tampered.headers["embedgate-reason"], "bad_signature");
    let no_cookie = stranger
        .get(&format!("{proxy_origin}{}", content_backend::API_PATH))
        .await;
    assert_eq!(no_cookie.status, StatusCode::UNAUTHORIZED);
    assert_eq!(stack.seen().len(), 4, "nothing refused reached the backend");

    // Another user from the host page's form.
    let bob = browser
        .get(&format!("{}?user=bob&tenant=globex", stack.host_page))
        .await;
    let bob_url = attr_after(&bob.body, "<iframe", "src");
    let bob_dash = Browser::default().get(&bob_url).await;
    assert_eq!(bob_dash.status, StatusCode::OK);
    assert!(bob_dash.body.contains(r#"<td id="user">bob</td>"#));

    stack.stop().await.unwrap();
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `eg_exp` of a signed URL.
fn exp_of(url: &str) -> u64 {
    let start = url.find("eg_exp=").unwrap() + "eg_exp=".len();
    let end = url[start..].find('&').map_or(url.len(), |i| start + i);
    url[start..end].parse().unwrap()
}

/// The URL of the first `curl -i '…'` line of printed text.
fn first_curl_url(text: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("curl -i '"))
        .and_then(|l| l.split_once('\'').map(|(url, _)| url.to_owned()))
        .unwrap_or_else(|| panic!("no curl line in {text}"))
}

#[tokio::test]
async fn the_printed_example_url_lives_ten_minutes_and_a_fresh_one_is_printed_on_demand() {
    let dir = tempfile::tempdir().unwrap();
    let stack = DemoStack::start(dir.path()).await.unwrap();

    let before = unix_now();
    let banner = instructions::banner(&stack, "owner-token-shown-once").unwrap();
    let after = unix_now();
    assert!(banner.contains("valid for 10 minutes"), "{banner}");
    assert!(
        banner.contains("press Enter here for a fresh URL"),
        "{banner}"
    );
    let printed = first_curl_url(&banner);
    let exp = exp_of(&printed);
    assert!(
        (before + 600..=after + 600).contains(&exp),
        "eg_exp {exp}, printed between {before} and {after}"
    );

    // What Enter prints: another URL, as long-lived, that the proxy accepts.
    let fresh = instructions::example(&stack).unwrap();
    let fresh_url = first_curl_url(&fresh);
    assert_ne!(fresh_url, printed);
    assert!(exp_of(&fresh_url) >= before + 600);
    for url in [&printed, &fresh_url] {
        let got = Browser::default().get(url).await;
        assert_eq!(got.status, StatusCode::OK, "{url}: {}", got.body);
    }

    stack.stop().await.unwrap();
}
