//! A refused page load answered as a page: when a browser navigates a
//! document or a frame (`Sec-Fetch-Mode: navigate`, `Sec-Fetch-Dest:
//! document`, `iframe` or `frame`; without `Sec-Fetch-*` headers, which
//! browsers send only to secure origins, an `Accept` naming `text/html`)
//! and the proxy refuses, it answers a
//! small HTML page instead of the JSON body, with the same status and
//! `Embedgate-Reason`: the reason code, one sentence for a person, nothing
//! internal. Its script posts `{type: "embedgate:error", reason}` to the
//! parent window, which the embed SDK (`www/embed/`) turns into
//! `onError(reason)`.
//!
//! The page does not know the embedding page's origin in general, so it
//! posts with target `"*"`: what any framing page learns is the reason
//! code, which the status line and `Embedgate-Reason` say as well. A
//! refused `/.embedgate/open` or `/.embedgate/renew` URL whose query
//! carries a well-formed `origin` in plain sight (EG1) posts to that origin
//! only, and may be framed by it only. Every other request (a `fetch`, an
//! image, a client without `Sec-Fetch-*` headers) keeps the JSON answer of
//! `refusal.rs`.

use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};

use super::html_page::Page;
use super::refusal::Refusal;
use super::renewal;
use super::upstream::ProxyBody;

/// The page's script: a constant (its hash is in the page's policy); the
/// reason and the target origin come from the root element's data.
const SCRIPT: &str = "(function(){var d=document.documentElement.dataset;if(window.parent!==window){window.parent.postMessage({type:\"embedgate:error\",reason:d.reason},d.target);}})();";

/// How to answer a refusal of one request: as a page (a navigation), or
/// as JSON (anything else). Made before the request is consumed.
#[derive(Debug)]
pub(crate) struct RefusalPage {
    /// `None`: not a navigation, keep the JSON. Else the target origin of
    /// the page's message (`None`: `"*"`).
    navigation: Option<Option<String>>,
}

impl RefusalPage {
    /// How a refusal of `req` is answered.
    pub(crate) fn for_request<B>(req: &Request<B>) -> RefusalPage {
        if !is_navigation(req.headers()) {
            return RefusalPage { navigation: None };
        }
        let target = renewal::origin_hint(req.uri().path(), req.uri().query());
        RefusalPage {
            navigation: Some(target),
        }
    }

    /// `resp` as it goes to the client: a refusal of a navigation becomes
    /// the page (same status, same `Embedgate-Reason`); anything else is
    /// left as it is.
    pub(crate) fn answer(self, resp: Response<ProxyBody>) -> Response<ProxyBody> {
        let Some(target) = self.navigation else {
            return resp;
        };
        let Some(refusal) = resp.extensions().get::<Refusal>().copied() else {
            return resp;
        };
        let data = [
            ("reason", refusal.code),
            ("target", target.as_deref().unwrap_or("*")),
        ];
        let page = Page {
            title: "This content cannot be shown",
            sentence: Some(sentence(refusal.code)),
            code: Some(refusal.code),
            script: SCRIPT,
            data: &data,
            frame_ancestor: target.as_deref(),
            connect_self: false,
        };
        let mut out = page.response(refusal.status);
        out.headers_mut()
            .insert("embedgate-reason", HeaderValue::from_static(refusal.code));
        out.extensions_mut().insert(refusal);
        out
    }
}

/// Whether the request is a browser navigating a document or a frame:
/// by its `Sec-Fetch-*` headers when it has them; without them (browsers
/// send them only to secure origins, so not over plain-http development
/// setups), by an `Accept` that names `text/html`, as a browser's
/// navigation does and `fetch`, `curl` or an API client do not by default.
fn is_navigation(h: &HeaderMap) -> bool {
    // Constant names: asked of every request, and a `&str` name is parsed
    // again on each lookup.
    const SEC_FETCH_MODE: HeaderName = HeaderName::from_static("sec-fetch-mode");
    const SEC_FETCH_DEST: HeaderName = HeaderName::from_static("sec-fetch-dest");
    let value = |name: &HeaderName| h.get(name).and_then(|v| v.to_str().ok());
    let is = |name: &HeaderName, values: &[&str]| {
        value(name).is_some_and(|v| values.iter().any(|x| v.eq_ignore_ascii_case(x)))
    };
    if h.contains_key(&SEC_FETCH_MODE) {
        return is(&SEC_FETCH_MODE, &["navigate"])
            && is(&SEC_FETCH_DEST, &["document", "iframe", "frame"]);
    }
    value(&http::header::ACCEPT).is_some_and(|a| {
        a.split(',').any(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("text/html")
        })
    })
}

/// One sentence per reason, for a person looking at the frame. Says what
/// happened and what may help; never which check or which secret.
pub(crate) fn sentence(code: &str) -> &'static str {
    match code {
        "malformed" => "The link to this content is not valid.",
        "unknown_key" | "key_inactive" => {
            "The link to this content was signed with a key that is not accepted."
        }
        "bad_signature" => "The link to this content was altered or signed for another address.",
        "expired" => "The link to this content has expired. Reload the page to get a new one.",
        "exp_too_far" => "The link to this content is valid too far into the future.",
        "replayed" => {
            "The link to this content was already used. Reload the page to get a new one."
        }
        "out_of_scope" => "The link or session does not cover this content.",
        "no_session" => "There is no session for this content. Reload the page.",
        "session_expired" => "The session for this content has ended. Reload the page.",
        "session_revoked" => "Access to this content was withdrawn.",
        "session_mismatch" => "This content is open for another user. Reload the page.",
        "no_route" => "Nothing is served at this address.",
        "busy" | "replay_unavailable" => "The service is busy. Try again in a moment.",
        "upstream_unavailable" | "upstream_timeout" => {
            "The content server is not answering. Try again in a moment."
        }
        _ => "The request could not be completed.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{header, StatusCode};

    fn nav(dest: &str) -> Request<()> {
        Request::get("/d/sales")
            .header("sec-fetch-mode", "navigate")
            .header("sec-fetch-dest", dest)
            .body(())
            .unwrap_or_default()
    }

    #[test]
    fn only_navigations_of_documents_and_frames_get_a_page() {
        assert!(RefusalPage::for_request(&nav("iframe"))
            .navigation
            .is_some());
        assert!(RefusalPage::for_request(&nav("document"))
            .navigation
            .is_some());
        assert!(RefusalPage::for_request(&nav("image")).navigation.is_none());
        let fetch = Request::get("/d/sales")
            .header("sec-fetch-mode", "cors")
            .header("sec-fetch-dest", "empty")
            .body(())
            .unwrap_or_default();
        assert!(RefusalPage::for_request(&fetch).navigation.is_none());
        let plain = Request::get("/d/sales").body(()).unwrap_or_default();
        assert!(RefusalPage::for_request(&plain).navigation.is_none());
        // Without Sec-Fetch headers (plain http): a browser's navigation
        // asks for HTML; fetch and curl ask for anything.
        let accept = |a: &str| {
            let r = Request::get("/d/sales")
                .header("accept", a)
                .body(())
                .unwrap_or_default();
            RefusalPage::for_request(&r).navigation.is_some()
        };
        assert!(accept(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        ));
        assert!(!accept("*/*"));
        assert!(!accept("application/json"));
        assert!(!accept("text/html-fragment"));
        // Sec-Fetch headers win over Accept.
        let cors = Request::get("/d/sales")
            .header("sec-fetch-mode", "cors")
            .header("accept", "text/html")
            .body(())
            .unwrap_or_default();
        assert!(RefusalPage::for_request(&cors).navigation.is_none());
    }

    #[test]
    fn a_refusal_keeps_its_status_and_reason_as_a_page() {
        let resp = RefusalPage::for_request(&nav("iframe")).answer(
            Refusal::session(super::super::session_cookie::SessionError::Revoked).response(),
        );
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert_eq!(resp.headers()["embedgate-reason"], "session_revoked");
        assert!(resp.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/html"));
    }

    #[test]
    fn every_code_has_its_own_sentence_or_a_plain_one() {
        for r in embedgate_core::Reason::ALL {
            assert_ne!(sentence(r.as_str()), sentence("anything else"), "{r}");
        }
    }
}
