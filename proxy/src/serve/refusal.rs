//! The proxy's own answers when nothing is forwarded: a status, a JSON body
//! `{"error": "<code>"}`, `Embedgate-Reason: <code>`, `Cache-Control:
//! no-store`. Codes are stable (spec §3 reasons plus the proxy's own);
//! nothing internal is ever in them.

use bytes::Bytes;
use embedgate_core::Reason;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};

use super::metrics::Outcome;
use super::session_cookie::SessionError;
use super::upstream::{ProxyBody, UpstreamError};

/// A refusal: status and stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine code.
    pub code: &'static str,
    /// For metrics.
    pub outcome: Outcome,
}

impl Refusal {
    /// 400 for `malformed`, 403 for every other reason of spec §3.
    pub fn url(reason: Reason) -> Self {
        Refusal {
            status: if reason == Reason::Malformed {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::FORBIDDEN
            },
            code: reason.as_str(),
            outcome: Outcome::Refused(reason),
        }
    }

    /// 401 without a usable session (none, or expired: the embedding page
    /// can fix it with a fresh signed URL); 403 when its secret was revoked.
    pub fn session(e: SessionError) -> Self {
        match e {
            SessionError::NoSession => Refusal {
                status: StatusCode::UNAUTHORIZED,
                code: "no_session",
                outcome: Outcome::NoSession,
            },
            SessionError::Expired => Refusal {
                status: StatusCode::UNAUTHORIZED,
                code: "session_expired",
                outcome: Outcome::SessionExpired,
            },
            SessionError::Revoked => Refusal {
                status: StatusCode::FORBIDDEN,
                code: "session_revoked",
                outcome: Outcome::SessionRevoked,
            },
        }
    }

    /// 403: the session does not cover this path.
    pub const SESSION_OUT_OF_SCOPE: Refusal = Refusal {
        status: StatusCode::FORBIDDEN,
        code: "out_of_scope",
        outcome: Outcome::SessionOutOfScope,
    };

    /// 403: a renewal (`renewal.rs`) for another user than the live
    /// session of its route in the same request.
    pub const SESSION_MISMATCH: Refusal = Refusal {
        status: StatusCode::FORBIDDEN,
        code: "session_mismatch",
        outcome: Outcome::SessionMismatch,
    };

    /// 404: no route serves this path.
    pub const NO_ROUTE: Refusal = Refusal {
        status: StatusCode::NOT_FOUND,
        code: "no_route",
        outcome: Outcome::NoRoute,
    };

    /// 503: the replay cache is full of live entries.
    pub const BUSY: Refusal = Refusal {
        status: StatusCode::SERVICE_UNAVAILABLE,
        code: "busy",
        outcome: Outcome::Busy,
    };

    /// 503: the shared replay store (Redis) cannot answer and
    /// `[replay] on_unavailable = "reject"`.
    pub const REPLAY_UNAVAILABLE: Refusal = Refusal {
        status: StatusCode::SERVICE_UNAVAILABLE,
        code: "replay_unavailable",
        outcome: Outcome::ReplayUnavailable,
    };

    /// 502 or 504; 400 when the client's own body failed on the way.
    pub fn upstream(e: UpstreamError) -> Self {
        match e {
            UpstreamError::ClientBody => Refusal {
                status: StatusCode::BAD_REQUEST,
                code: "bad_request",
                outcome: Outcome::Refused(Reason::Malformed),
            },
            UpstreamError::Unavailable => Refusal {
                status: StatusCode::BAD_GATEWAY,
                code: "upstream_unavailable",
                outcome: Outcome::UpstreamUnavailable,
            },
            UpstreamError::Timeout => Refusal {
                status: StatusCode::GATEWAY_TIMEOUT,
                code: "upstream_timeout",
                outcome: Outcome::UpstreamTimeout,
            },
        }
    }

    /// The response. It carries the refusal in its extensions (never sent),
    /// so a navigation's refusal can become a page (`refusal_page.rs`).
    pub fn response(self) -> Response<ProxyBody> {
        let body = format!("{{\"error\":\"{}\"}}", self.code);
        let mut resp = Response::new(full(body));
        *resp.status_mut() = self.status;
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert("embedgate-reason", HeaderValue::from_static(self.code));
        resp.extensions_mut().insert(self);
        resp
    }
}

/// A complete body.
pub fn full(b: impl Into<Bytes>) -> ProxyBody {
    Full::new(b.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}
