//! Static files of the admin listener, embedded in the binary so a deployed
//! proxy needs no `www` directory: the admin console (`www/admin`, at
//! `/admin/`, and `/` redirects there) and the signing playground
//! (`www/playground`, at `/playground/`). Each answer carries a strict
//! Content-Security-Policy: only same-origin scripts and styles, no inline
//! code, no framing.

use axum::body::Body;
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use bytes::Bytes;
use http::{header, HeaderValue, Method, StatusCode, Uri};

/// One embedded file.
struct File {
    path: &'static str,
    ctype: &'static str,
    body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";
#[cfg(embedgate_playground_pkg)]
const WASM: &str = "application/wasm";

static ADMIN: &[File] = &[
    File {
        path: "index.html",
        ctype: HTML,
        body: include_bytes!("../../../www/admin/index.html"),
    },
    File {
        path: "app.js",
        ctype: JS,
        body: include_bytes!("../../../www/admin/app.js"),
    },
    File {
        path: "api.js",
        ctype: JS,
        body: include_bytes!("../../../www/admin/api.js"),
    },
    File {
        path: "chart.js",
        ctype: JS,
        body: include_bytes!("../../../www/admin/chart.js"),
    },
    File {
        path: "style.css",
        ctype: CSS,
        body: include_bytes!("../../../www/admin/style.css"),
    },
    File {
        path: "favicon.svg",
        ctype: SVG,
        body: include_bytes!("../../../www/admin/favicon.svg"),
    },
];

static PLAYGROUND: &[File] = &[
    File {
        path: "index.html",
        ctype: HTML,
        body: include_bytes!("../../../www/playground/index.html"),
    },
    File {
        path: "app.js",
        ctype: JS,
        body: include_bytes!("../../../www/playground/app.js"),
    },
    File {
        path: "diff.js",
        ctype: JS,
        body: include_bytes!("../../../www/playground/diff.js"),
    },
    File {
        path: "style.css",
        ctype: CSS,
        body: include_bytes!("../../../www/playground/style.css"),
    },
    #[cfg(embedgate_playground_pkg)]
    File {
        path: "pkg/embedgate_wasm.js",
        ctype: JS,
        body: include_bytes!("../../../www/playground/pkg/embedgate_wasm.js"),
    },
    #[cfg(embedgate_playground_pkg)]
    File {
        path: "pkg/embedgate_wasm_bg.wasm",
        ctype: WASM,
        body: include_bytes!("../../../www/playground/pkg/embedgate_wasm_bg.wasm"),
    },
];

/// The console's policy: nothing but same-origin files and API calls.
const ADMIN_CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";
/// The playground also compiles its WebAssembly module.
const PLAYGROUND_CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The routes of the embedded files: `/`, `/admin…`, `/playground…`.
pub fn router() -> Router {
    let files = any(|method: Method, uri: Uri| async move { serve(&method, uri.path()) });
    [
        "/",
        "/admin",
        "/admin/",
        "/admin/{*file}",
        "/playground",
        "/playground/",
        "/playground/{*file}",
    ]
    .into_iter()
    .fold(Router::new(), |r, path| r.route(path, files.clone()))
}

/// Answers a request for an embedded file (`GET`/`HEAD`).
pub fn serve(method: &Method, path: &str) -> Response {
    if path == "/" {
        return root(method);
    }
    let (files, csp, rest) = if let Some(rest) = path.strip_prefix("/admin") {
        (ADMIN, ADMIN_CSP, rest)
    } else if let Some(rest) = path.strip_prefix("/playground") {
        (PLAYGROUND, PLAYGROUND_CSP, rest)
    } else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    if rest.is_empty() {
        // `/admin` → `/admin/`, so relative URLs in the page resolve.
        let mut r = plain(StatusCode::MOVED_PERMANENTLY, "");
        r.headers_mut().insert(
            header::LOCATION,
            HeaderValue::from_static(if files.as_ptr() == ADMIN.as_ptr() {
                "/admin/"
            } else {
                "/playground/"
            }),
        );
        return r;
    }
    if method != Method::GET && method != Method::HEAD {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let name = match rest.trim_start_matches('/') {
        "" => "index.html",
        n => n,
    };
    let Some(file) = files.iter().find(|f| f.path == name) else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    let body = if method == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from_static(file.body)
    };
    let mut r = Response::new(Body::from(body));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(file.ctype));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// `/` → the console. A person opening the admin address lands on the
/// console rather than a 404. Temporary (302), so that no browser keeps it
/// should `/` ever answer something else.
fn root(method: &Method) -> Response {
    if method != Method::GET && method != Method::HEAD {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let mut r = plain(StatusCode::FOUND, "");
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/admin/"));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut r = Response::new(Body::from(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_embedded_files_with_types_and_csp() {
        let r = serve(&Method::GET, "/admin/");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CONTENT_TYPE], HTML);
        assert!(r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("csp")
            .contains("script-src 'self'"));
        assert_eq!(
            serve(&Method::GET, "/admin/app.js").headers()[header::CONTENT_TYPE],
            JS
        );
        assert_eq!(
            serve(&Method::GET, "/playground/style.css").headers()[header::CONTENT_TYPE],
            CSS
        );
        assert_eq!(
            serve(&Method::GET, "/admin/../Cargo.toml").status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            serve(&Method::POST, "/admin/").status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(
            serve(&Method::GET, "/admin").status(),
            StatusCode::MOVED_PERMANENTLY
        );
    }

    #[test]
    fn the_root_redirects_to_the_console() {
        for method in [Method::GET, Method::HEAD] {
            let r = serve(&method, "/");
            assert_eq!(r.status(), StatusCode::FOUND);
            assert_eq!(r.headers()[header::LOCATION], "/admin/");
        }
        assert_eq!(
            serve(&Method::POST, "/").status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
}
