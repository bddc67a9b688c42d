//! The proxy's own HTML answers to a browser: the session page of
//! `renewal.rs` and the refusal page of `refusal_page.rs`.
//!
//! A page's one script and its style are constants, allowed by their
//! SHA-256 in a strict `Content-Security-Policy` (`default-src 'none'`, no
//! inline code but those hashes, no base URI, no forms); what varies (a
//! reason code, an origin, an expiry) sits in `data-` attributes of the
//! root element, HTML-escaped, where the script reads it. So no value can
//! become code, whatever a signed URL carried.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::{header, HeaderValue, Response, StatusCode};
use sha2::{Digest as _, Sha256};

use super::refusal::full;
use super::upstream::ProxyBody;

/// The style every page shares: readable in a small iframe, nothing more.
const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0;padding:24px;color:#1f2933;background:#fff}h1{font-size:18px;margin:0 0 8px}code{font-size:13px;color:#52606d}";

/// One page: its title, visible text, constant script and data.
pub(crate) struct Page<'a> {
    /// The `<title>` and `<h1>` (constant text).
    pub(crate) title: &'static str,
    /// A sentence under the title (constant text); `None`: nothing visible.
    pub(crate) sentence: Option<&'static str>,
    /// Shown as code under the sentence (escaped).
    pub(crate) code: Option<&'a str>,
    /// The page's script: a constant, allowed by its hash.
    pub(crate) script: &'static str,
    /// `data-NAME` attributes of `<html>`, values escaped.
    pub(crate) data: &'a [(&'static str, &'a str)],
    /// The one origin that may frame the page (`frame-ancestors`); `None`:
    /// no such directive (any page may frame it).
    pub(crate) frame_ancestor: Option<&'a str>,
    /// Whether the script may `fetch` the proxy's own origin.
    pub(crate) connect_self: bool,
}

impl Page<'_> {
    /// The response: `status`, the page, `Cache-Control: no-store`,
    /// `Referrer-Policy: no-referrer`, `X-Content-Type-Options: nosniff`
    /// and the policy.
    pub(crate) fn response(&self, status: StatusCode) -> Response<ProxyBody> {
        let mut html = String::with_capacity(1024);
        html.push_str("<!doctype html>\n<html lang=\"en\"");
        for (name, value) in self.data {
            html.push_str(" data-");
            html.push_str(name);
            html.push_str("=\"");
            push_escaped(&mut html, value);
            html.push('"');
        }
        html.push_str(
            "><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\"><title>",
        );
        html.push_str(self.title);
        html.push_str("</title><style>");
        html.push_str(STYLE);
        html.push_str("</style></head><body>");
        if let Some(sentence) = self.sentence {
            html.push_str("<h1>");
            html.push_str(self.title);
            html.push_str("</h1><p>");
            html.push_str(sentence);
            html.push_str("</p>");
        }
        if let Some(code) = self.code {
            html.push_str("<p><code>");
            push_escaped(&mut html, code);
            html.push_str("</code></p>");
        }
        html.push_str("<script>");
        html.push_str(self.script);
        html.push_str("</script></body></html>\n");

        let mut resp = Response::new(full(html));
        *resp.status_mut() = status;
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if let Ok(csp) = HeaderValue::try_from(self.policy()) {
            h.insert(header::CONTENT_SECURITY_POLICY, csp);
        }
        resp
    }

    /// The `Content-Security-Policy` of the page.
    pub(crate) fn policy(&self) -> String {
        let mut csp = format!(
            "default-src 'none'; script-src '{}'; style-src '{}'; base-uri 'none'; form-action 'none'",
            hash_source(self.script),
            hash_source(STYLE)
        );
        if self.connect_self {
            csp.push_str("; connect-src 'self'");
        }
        if let Some(origin) = self.frame_ancestor {
            csp.push_str("; frame-ancestors ");
            csp.push_str(origin);
        }
        csp
    }
}

/// `sha256-<base64>` of an inline script or style, as CSP Level 2 hashes it
/// (the UTF-8 text between the tags).
fn hash_source(text: &str) -> String {
    format!(
        "sha256-{}",
        STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

/// Appends `value` escaped for an HTML attribute or text.
fn push_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_the_script_is_allowed_by_its_hash() {
        let page = Page {
            title: "T",
            sentence: Some("S."),
            code: Some("<b>"),
            script: "void 0;",
            data: &[("origin", "\"><script>alert(1)</script>")],
            frame_ancestor: Some("https://app.example.com"),
            connect_self: true,
        };
        let resp = page.response(StatusCode::FORBIDDEN);
        let csp = resp.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap_or_default()
            .to_owned();
        // echo -n 'void 0;' | openssl dgst -sha256 -binary | base64
        assert!(
            csp.contains("script-src 'sha256-T1YEXClWF9CUhD2vRqC2ZkctVhPSMrn+MCIkJI7U02I='"),
            "{csp}"
        );
        assert!(csp.starts_with("default-src 'none';"), "{csp}");
        assert!(csp.ends_with("; connect-src 'self'; frame-ancestors https://app.example.com"));
        let mut html = String::new();
        push_escaped(&mut html, "\"><script>alert(1)</script>");
        assert_eq!(html, "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
    }
}
