//! `/metrics` after one request of each kind, read back with a strict
//! OpenMetrics text parser; and the metrics listener (`listen.metrics`),
//! which serves `/metrics`, `/healthz` and `/readyz` and nothing else.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use embedgate::serve::{Config, Server};
use embedgate_store::{NewAdminToken, Role};
use http::{Request, StatusCode};
use openmetrics_parser::{MetricsExposition, OpenMetricsType, OpenMetricsValue};
use support::*;

/// Every family after a signed URL, a session request, a refused one,
/// one matching no route and an admin API call, by name (as the parser
/// names them: counters without `_total`) and type.
const FAMILIES: &[(&str, OpenMetricsType)] = &[
    ("embedgate_build_info", OpenMetricsType::Gauge),
    ("embedgate_requests", OpenMetricsType::Counter),
    ("embedgate_url_verifications", OpenMetricsType::Counter),
    ("embedgate_session_checks", OpenMetricsType::Counter),
    (
        "embedgate_upstream_duration_seconds",
        OpenMetricsType::Histogram,
    ),
    ("embedgate_admin_requests", OpenMetricsType::Counter),
    ("embedgate_secret_cache_entries", OpenMetricsType::Gauge),
    ("embedgate_secret_cache_loaded", OpenMetricsType::Gauge),
    ("embedgate_store_revision", OpenMetricsType::Gauge),
    ("embedgate_cache_revision", OpenMetricsType::Gauge),
    ("embedgate_store_revision_lag", OpenMetricsType::Gauge),
    ("embedgate_store_row_errors", OpenMetricsType::Gauge),
    ("embedgate_replay_cache_entries", OpenMetricsType::Gauge),
    ("embedgate_replay_backend_up", OpenMetricsType::Gauge),
    ("process_cpu_seconds", OpenMetricsType::Counter),
    ("process_resident_memory_bytes", OpenMetricsType::Gauge),
    ("process_virtual_memory_bytes", OpenMetricsType::Gauge),
    ("process_open_fds", OpenMetricsType::Gauge),
    ("process_max_fds", OpenMetricsType::Gauge),
    ("process_start_time_seconds", OpenMetricsType::Gauge),
    ("process_threads", OpenMetricsType::Gauge),
    (
        "embedgate_request_duration_seconds",
        OpenMetricsType::Histogram,
    ),
    ("embedgate_upstream_responses", OpenMetricsType::Counter),
];

/// The names of the families of a proxy before the port to
/// prometheus-client (as sample names): they must stay.
const BEFORE: &[&str] = &[
    "embedgate_requests_total",
    "embedgate_url_verifications_total",
    "embedgate_session_checks_total",
    "embedgate_upstream_duration_seconds_bucket",
    "embedgate_upstream_duration_seconds_sum",
    "embedgate_upstream_duration_seconds_count",
    "embedgate_secret_cache_entries",
    "embedgate_secret_cache_loaded",
    "embedgate_store_revision",
    "embedgate_cache_revision",
    "embedgate_store_revision_lag",
    "embedgate_store_row_errors",
    "embedgate_replay_cache_entries",
];

struct Running {
    public: SocketAddr,
    admin: SocketAddr,
    metrics: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start(store: &TestStore, backend: &Backend) -> Running {
    let toml = config_toml(store, backend, "").replace(
        "admin = \"127.0.0.1:0\"",
        "admin = \"127.0.0.1:0\"\nmetrics = \"127.0.0.1:0\"",
    );
    let config = Config::from_toml(&toml, &Default::default()).unwrap();
    let server = Server::bind(config)
        .await
        .unwrap()
        .with_admin_api(embedgate::admin_api::router);
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    Running {
        public: server.public_addr(),
        admin: server.admin_addr().unwrap(),
        metrics: server.metrics_addr().unwrap(),
        stop,
        task: tokio::spawn(server.run(async move {
            let _ = rx.await;
        })),
    }
}

fn parse(text: &str) -> MetricsExposition<OpenMetricsType, OpenMetricsValue> {
    openmetrics_parser::openmetrics::parse_openmetrics(text)
        .unwrap_or_else(|e| panic!("not OpenMetrics text: {e:?}\n{text}"))
}

/// `name{labels} value` lines, by the whole line left of the value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(k, v)| (k.to_owned(), v.parse().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_family_after_one_request_of_each_kind_parses_as_openmetrics() {
    let backend = Backend::start().await;
    let store = TestStore::new();
    let (kid, secret) = store.create_secret("main", &[]);
    let token = store
        .store
        .create_admin_token(
            &NewAdminToken {
                name: "ops".into(),
                role: Role::Viewer,
            },
            "test",
            now() as i64,
        )
        .unwrap()
        .value
        .as_str()
        .to_owned();
    let p = start(&store, &backend).await;

    // A signed URL: verified, forwarded, a session opened.
    let signed = get(p.public, &sign(&kid, &secret, "/d/x", "u", &[]), &[]).await;
    assert_eq!(signed.status, StatusCode::OK);
    let cookie = signed.cookie().unwrap();
    // The session: checked, forwarded.
    let session = get(p.public, "/d/y", &[("cookie", &cookie)]).await;
    assert_eq!(session.status, StatusCode::OK);
    // The session again, to a path the backend answers with a 400 (a
    // WebSocket path without the upgrade): forwarded, a 4xx upstream.
    let bad_upstream = get(p.public, "/d/ws", &[("cookie", &cookie)]).await;
    assert_eq!(bad_upstream.status, StatusCode::BAD_REQUEST);
    // A damaged session cookie: checked, refused.
    let damaged = get(p.public, "/d/y", &[("cookie", &format!("{cookie}A"))]).await;
    assert_eq!(damaged.status, StatusCode::UNAUTHORIZED);
    // No cookie; no route.
    assert_eq!(
        get(p.public, "/d/z", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(p.public, "/elsewhere", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    // The admin API, answered and refused.
    let api = |auth: Option<String>| {
        let mut b = Request::get("/api/v1/secrets").header("host", "admin.test");
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(full("")).unwrap()
    };
    let listed = read(send(p.admin, api(Some(format!("Bearer {token}")))).await).await;
    assert_eq!(listed.status, StatusCode::OK);
    let refused = read(send(p.admin, api(None)).await).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

    let got = get(p.metrics, "/metrics", &[]).await;
    assert_eq!(got.status, StatusCode::OK);
    assert!(got.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text; version=1.0.0"));
    let text = String::from_utf8(got.body.to_vec()).unwrap();
    let exposition = parse(&text);
    // The parser is strict: a family split in two, or a missing `# EOF`,
    // is refused.
    let split = text.replacen("# EOF\n", "embedgate_secret_cache_entries 1\n# EOF\n", 1);
    assert!(openmetrics_parser::openmetrics::parse_openmetrics(&split).is_err());
    let unterminated = text.replace("# EOF\n", "");
    assert!(openmetrics_parser::openmetrics::parse_openmetrics(&unterminated).is_err());
    for (name, kind) in FAMILIES {
        let family = exposition
            .families
            .get(*name)
            .unwrap_or_else(|| panic!("no family {name}\n{text}"));
        assert_eq!(&family.family_type, kind, "{name}");
        assert!(family.iter_samples().next().is_some(), "{name} is empty");
    }
    for name in BEFORE {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "{name} is gone\n{text}"
        );
    }

    let s = samples(&text);
    let at = |k: &str| s.get(k).copied().unwrap_or_else(|| panic!("{k}\n{text}"));
    assert_eq!(
        at(r#"embedgate_requests_total{route="d",outcome="forwarded"}"#),
        3.0
    );
    assert_eq!(
        at(r#"embedgate_requests_total{route="d",outcome="no_session"}"#),
        2.0
    );
    assert_eq!(
        at(r#"embedgate_requests_total{route="none",outcome="no_route"}"#),
        1.0
    );
    assert_eq!(
        at(r#"embedgate_url_verifications_total{route="d",result="ok"}"#),
        1.0
    );
    // Session checks: the good cookie and the damaged one (a request
    // without a cookie has nothing to check).
    assert_eq!(
        at(r#"embedgate_session_checks_total{route="d",result="ok"}"#),
        2.0
    );
    assert_eq!(
        at(r#"embedgate_session_checks_total{route="d",result="no_session"}"#),
        1.0
    );
    assert_eq!(
        at(r#"embedgate_upstream_duration_seconds_count{route="d"}"#),
        3.0
    );
    // Every request's duration, by route and outcome, as counted.
    for (labels, n) in [
        (r#"route="d",outcome="forwarded""#, 3.0),
        (r#"route="d",outcome="no_session""#, 2.0),
        (r#"route="none",outcome="no_route""#, 1.0),
    ] {
        assert_eq!(
            at(&format!(
                "embedgate_request_duration_seconds_count{{{labels}}}"
            )),
            n,
            "{labels}"
        );
        assert_eq!(
            at(&format!(
                "embedgate_request_duration_seconds_bucket{{le=\"+Inf\",{labels}}}"
            )),
            n,
            "{labels}"
        );
        let sum = at(&format!(
            "embedgate_request_duration_seconds_sum{{{labels}}}"
        ));
        assert!(sum > 0.0 && sum < 10.0 * n, "{labels}: {sum}");
    }
    // Upstream answers by status class.
    assert_eq!(
        at(r#"embedgate_upstream_responses_total{route="d",class="2xx"}"#),
        2.0
    );
    assert_eq!(
        at(r#"embedgate_upstream_responses_total{route="d",class="4xx"}"#),
        1.0
    );
    assert!(!text.contains(r#"embedgate_upstream_responses_total{route="d",class="5xx"}"#));
    assert_eq!(
        at(r#"embedgate_admin_requests_total{operation="list_secrets",status="200"}"#),
        1.0
    );
    assert_eq!(
        at(r#"embedgate_admin_requests_total{operation="list_secrets",status="401"}"#),
        1.0
    );
    assert_eq!(at(r#"embedgate_replay_backend_up{backend="memory"}"#), 1.0);
    assert_eq!(at("embedgate_secret_cache_entries"), 1.0);
    let build = text
        .lines()
        .find(|l| l.starts_with("embedgate_build_info{"))
        .unwrap();
    assert!(
        build.starts_with(&format!(
            "embedgate_build_info{{version=\"{}\",commit=\"",
            env!("CARGO_PKG_VERSION")
        )) && build.ends_with("} 1"),
        "{build}"
    );
    assert!(at("process_resident_memory_bytes") > 1e6);
    assert!(at("process_open_fds") >= 3.0);
    let started = at("process_start_time_seconds");
    assert!(started <= now() as f64 + 1.0 && started > now() as f64 - 3600.0);

    // The admin listener has the same probes.
    let on_admin = get(p.admin, "/metrics", &[]).await;
    assert_eq!(on_admin.status, StatusCode::OK);
    parse(std::str::from_utf8(&on_admin.body).unwrap());

    p.stop.send(()).unwrap();
    p.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_listener_serves_the_probes_and_nothing_else() {
    let backend = Backend::start().await;
    let store = TestStore::new();
    let p = start(&store, &backend).await;
    for path in ["/metrics", "/healthz", "/readyz"] {
        assert_eq!(
            get(p.metrics, path, &[]).await.status,
            StatusCode::OK,
            "{path}"
        );
        assert_eq!(
            get(p.admin, path, &[]).await.status,
            StatusCode::OK,
            "{path}"
        );
    }
    for path in [
        "/",
        "/admin/",
        "/playground/",
        "/api/v1/openapi.json",
        "/api/v1/secrets",
        "/api/v1/nothing",
        "/metrics/extra",
    ] {
        let got = get(p.metrics, path, &[]).await;
        assert_eq!(got.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!String::from_utf8_lossy(&got.body).contains("openapi"));
    }
    // What the metrics listener refuses, the admin listener serves.
    assert_eq!(
        get(p.admin, "/api/v1/openapi.json", &[]).await.status,
        StatusCode::OK
    );
    p.stop.send(()).unwrap();
    p.task.await.unwrap().unwrap();
}
