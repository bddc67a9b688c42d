//! Prometheus metrics on `prometheus-client`: one [`Registry`], built when
//! the proxy binds, encoded by the library's text encoder on each scrape
//! (OpenMetrics text, [`CONTENT_TYPE`]). Family names and labels are the
//! stable API (docs/proxy.md lists them).
//!
//! The request path records into handles taken from the registry's
//! families: a counter handle is an `Arc` of an atomic, created on first
//! use and cached per route and outcome, so recording is a lookup in a
//! fixed array and one relaxed increment, as before the port. The
//! library's `Histogram` takes a lock per observation; the request path's
//! two histograms use [`AtomicHistogram`] instead, encoded by the same
//! encoder. What is read at scrape time (the secret cache, the store's
//! health, the replay backend, the process) comes from collectors.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use embedgate_core::Reason;
use http::StatusCode;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

use super::process_metrics::ProcessCollector;
use super::replay::ReplayObserver;
use super::secret_cache::SecretCache;
use super::store_health::RowKind;

/// The media type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How a request ended (the `outcome` label of `embedgate_requests_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Forwarded and answered by the upstream.
    Forwarded,
    /// A verified URL answered with a 303 to the clean URL.
    Redirected,
    /// A signed URL refused for this reason.
    Refused(Reason),
    /// No valid session cookie.
    NoSession,
    /// Session past its expiry.
    SessionExpired,
    /// Session of a deleted, deactivated or expired secret.
    SessionRevoked,
    /// A session's scope does not cover the path.
    SessionOutOfScope,
    /// No route for the path.
    NoRoute,
    /// The replay cache was full.
    Busy,
    /// The shared replay store (Redis) could not answer.
    ReplayUnavailable,
    /// The upstream could not be reached (502).
    UpstreamUnavailable,
    /// The upstream was too slow (504).
    UpstreamTimeout,
    /// A signed `/.embedgate/open` or `/.embedgate/renew` URL opened a
    /// session (`renewal.rs`).
    Renewed,
    /// A renewal for another user than the request's live session.
    SessionMismatch,
    /// The embed SDK's `/.embedgate/watch` held until its session ended
    /// (`renewal.rs`).
    Watched,
}

const OUTCOMES: usize = 14 + Reason::ALL.len();

impl Outcome {
    fn index(self) -> usize {
        match self {
            Outcome::Forwarded => 0,
            Outcome::Redirected => 1,
            Outcome::NoSession => 2,
            Outcome::SessionExpired => 3,
            Outcome::SessionRevoked => 4,
            Outcome::SessionOutOfScope => 5,
            Outcome::NoRoute => 6,
            Outcome::Busy => 7,
            Outcome::UpstreamUnavailable => 8,
            Outcome::UpstreamTimeout => 9,
            Outcome::ReplayUnavailable => 10,
            Outcome::Refused(r) => 11 + Reason::ALL.iter().position(|x| *x == r).unwrap_or(0),
            Outcome::Renewed => 11 + Reason::ALL.len(),
            Outcome::SessionMismatch => 12 + Reason::ALL.len(),
            Outcome::Watched => 13 + Reason::ALL.len(),
        }
    }

    fn label(i: usize) -> &'static str {
        match i {
            0 => "forwarded",
            1 => "redirected",
            2 => "no_session",
            3 => "session_expired",
            4 => "session_revoked",
            5 => "session_out_of_scope",
            6 => "no_route",
            7 => "busy",
            8 => "upstream_unavailable",
            9 => "upstream_timeout",
            10 => "replay_unavailable",
            n if n == 11 + Reason::ALL.len() => "renewed",
            n if n == 12 + Reason::ALL.len() => "session_mismatch",
            n if n == 13 + Reason::ALL.len() => "watched",
            n => Reason::ALL.get(n - 11).map_or("other", |r| r.as_str()),
        }
    }

    /// The `result` label of verifications and session checks: `ok` for a
    /// pass, else the outcome.
    fn result_label(i: usize) -> &'static str {
        if i == 0 {
            "ok"
        } else {
            Outcome::label(i)
        }
    }
}

/// Upper bounds of the latency histograms, seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Status classes of upstream answers.
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteOutcome {
    route: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteResult {
    route: String,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteClass {
    route: String,
    class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AdminLabels {
    operation: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    commit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendLabel {
    backend: &'static str,
}

type HistogramFamily<L> = Family<L, AtomicHistogram, fn() -> AtomicHistogram>;

/// The registry's families the request path records into.
struct Families {
    requests: Family<RouteOutcome, Counter>,
    verifications: Family<RouteResult, Counter>,
    session_checks: Family<RouteResult, Counter>,
    request_duration: HistogramFamily<RouteOutcome>,
    upstream_duration: HistogramFamily<RouteLabel>,
    upstream_responses: Family<RouteClass, Counter>,
}

/// One route's handles, each made on first use.
struct RouteSlots {
    name: String,
    requests: [OnceLock<Counter>; OUTCOMES],
    verifications: [OnceLock<Counter>; OUTCOMES],
    session_checks: [OnceLock<Counter>; OUTCOMES],
    durations: [OnceLock<AtomicHistogram>; OUTCOMES],
    upstream_classes: [OnceLock<Counter>; CLASSES.len()],
    /// Made at start for every configured route, so each one's histogram
    /// is there (at zero) before its first request; `None` for the slot
    /// of requests matching no route.
    upstream_duration: Option<AtomicHistogram>,
}

/// Every metric of a proxy: the registry and the request path's handles.
pub struct Metrics {
    registry: Registry,
    families: Families,
    /// Per route, plus one last slot for requests matching no route.
    routes: Vec<RouteSlots>,
    admin: AdminMetrics,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Records admin API requests (`embedgate_admin_requests_total`): a
/// handle the admin listener's router keeps.
#[derive(Clone, Debug)]
pub struct AdminMetrics {
    requests: Family<AdminLabels, Counter>,
}

impl AdminMetrics {
    /// Counts one admin API request: its operation (an OpenAPI
    /// `operationId`, or another fixed name such as `no_route`; never a
    /// path a client chose) and the status answered.
    pub fn request(&self, operation: &str, status: StatusCode) {
        self.requests
            .get_or_create(&AdminLabels {
                operation: operation.to_owned(),
                status: status.as_u16(),
            })
            .inc();
    }
}

/// What the scrape-time collectors read.
pub struct Sources {
    /// The secret cache (entries, revisions, unreadable rows, fleet sync).
    pub cache: Arc<SecretCache>,
    /// The replay backend.
    pub replay: ReplayObserver,
}

impl Metrics {
    /// The registry for these route names (each `route` label; requests
    /// matching none are counted as route `none`), reading `sources` at
    /// scrape time.
    pub fn new(names: &[String], sources: Sources) -> Self {
        let mut registry = Registry::default();
        let histogram = AtomicHistogram::latency as fn() -> AtomicHistogram;
        let families = Families {
            requests: Family::default(),
            verifications: Family::default(),
            session_checks: Family::default(),
            request_duration: Family::new_with_constructor(histogram),
            upstream_duration: Family::new_with_constructor(histogram),
            upstream_responses: Family::default(),
        };
        let admin = AdminMetrics {
            requests: Family::default(),
        };
        let build: Family<BuildLabels, Gauge> = Family::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                commit: env!("EG_BUILD_COMMIT"),
            })
            .set(1);
        registry.register(
            "embedgate_build_info",
            "The running build: version and commit (always 1)",
            build,
        );
        registry.register(
            "embedgate_requests",
            "Requests by route and outcome",
            families.requests.clone(),
        );
        registry.register(
            "embedgate_request_duration_seconds",
            "Time from a request's arrival to its response's headers, by route and outcome",
            families.request_duration.clone(),
        );
        registry.register(
            "embedgate_url_verifications",
            "Signed URL verifications by route and result (a reason of spec section 3, or ok)",
            families.verifications.clone(),
        );
        registry.register(
            "embedgate_session_checks",
            "Session cookie checks by route and result",
            families.session_checks.clone(),
        );
        registry.register(
            "embedgate_upstream_duration_seconds",
            "Time until the upstream's response headers",
            families.upstream_duration.clone(),
        );
        registry.register(
            "embedgate_upstream_responses",
            "Upstream answers by route and status class (1xx to 5xx)",
            families.upstream_responses.clone(),
        );
        registry.register(
            "embedgate_admin_requests",
            "Admin API requests by operation (OpenAPI operationId) and status",
            admin.requests.clone(),
        );
        registry.register_collector(Box::new(StateCollector {
            cache: sources.cache,
            replay: sources.replay,
        }));
        registry.register_collector(Box::new(ProcessCollector));

        let mut routes: Vec<RouteSlots> = names
            .iter()
            .map(|n| RouteSlots {
                name: n.clone(),
                upstream_duration: Some(
                    families
                        .upstream_duration
                        .get_or_create_owned(&RouteLabel { route: n.clone() }),
                ),
                ..RouteSlots::empty()
            })
            .collect();
        routes.push(RouteSlots {
            name: "none".to_owned(),
            ..RouteSlots::empty()
        });
        routes.shrink_to_fit();
        Metrics {
            registry,
            families,
            routes,
            admin,
        }
    }

    fn route(&self, route: Option<usize>) -> &RouteSlots {
        let last = self.routes.len() - 1;
        &self.routes[route.map_or(last, |r| r.min(last))]
    }

    /// Counts a finished request.
    fn request(&self, route: Option<usize>, outcome: Outcome) {
        let r = self.route(route);
        let i = outcome.index();
        r.requests[i]
            .get_or_init(|| {
                self.families.requests.get_or_create_owned(&RouteOutcome {
                    route: r.name.clone(),
                    outcome: Outcome::label(i),
                })
            })
            .inc();
    }

    /// Counts a finished request and records how long it took from its
    /// arrival to its response's headers
    /// (`embedgate_request_duration_seconds`).
    pub fn request_finished(&self, route: Option<usize>, outcome: Outcome, took: Duration) {
        self.request(route, outcome);
        let r = self.route(route);
        let i = outcome.index();
        r.durations[i]
            .get_or_init(|| {
                self.families
                    .request_duration
                    .get_or_create_owned(&RouteOutcome {
                        route: r.name.clone(),
                        outcome: Outcome::label(i),
                    })
            })
            .observe(took);
    }

    /// Counts a signed-URL verification (`Forwarded` stands for "ok").
    pub fn url_verification(&self, route: Option<usize>, outcome: Outcome) {
        let r = self.route(route);
        let i = outcome.index();
        r.verifications[i]
            .get_or_init(|| {
                self.families
                    .verifications
                    .get_or_create_owned(&RouteResult {
                        route: r.name.clone(),
                        result: Outcome::result_label(i),
                    })
            })
            .inc();
    }

    /// Counts a session-cookie check (`Forwarded` stands for "ok").
    pub fn session_check(&self, route: Option<usize>, outcome: Outcome) {
        let r = self.route(route);
        let i = outcome.index();
        r.session_checks[i]
            .get_or_init(|| {
                self.families
                    .session_checks
                    .get_or_create_owned(&RouteResult {
                        route: r.name.clone(),
                        result: Outcome::result_label(i),
                    })
            })
            .inc();
    }

    /// Records the time until the upstream's response headers.
    pub fn upstream_latency(&self, route: usize, d: Duration) {
        if let Some(h) = &self.route(Some(route)).upstream_duration {
            h.observe(d);
        }
    }

    /// Counts an upstream answer by its status class
    /// (`embedgate_upstream_responses_total{route,class}`).
    pub fn upstream_status(&self, route: usize, status: StatusCode) {
        let r = self.route(Some(route));
        let i = usize::from(status.as_u16() / 100)
            .saturating_sub(1)
            .min(CLASSES.len() - 1);
        r.upstream_classes[i]
            .get_or_init(|| {
                self.families
                    .upstream_responses
                    .get_or_create_owned(&RouteClass {
                        route: r.name.clone(),
                        class: CLASSES[i],
                    })
            })
            .inc();
    }

    /// The handle the admin API counts its requests with.
    pub fn admin(&self) -> AdminMetrics {
        self.admin.clone()
    }

    /// The exposition, in OpenMetrics text ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8192);
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            // Writing to a String does not fail; a collector might.
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        out
    }
}

impl RouteSlots {
    fn empty() -> RouteSlots {
        RouteSlots {
            name: String::new(),
            requests: std::array::from_fn(|_| OnceLock::new()),
            verifications: std::array::from_fn(|_| OnceLock::new()),
            session_checks: std::array::from_fn(|_| OnceLock::new()),
            durations: std::array::from_fn(|_| OnceLock::new()),
            upstream_classes: std::array::from_fn(|_| OnceLock::new()),
            upstream_duration: None,
        }
    }
}

/// A histogram recorded with one relaxed atomic add per bucket and sum:
/// the request path's (the library's takes a lock per observation).
#[derive(Clone, Debug)]
pub struct AtomicHistogram(Arc<HistogramCells>);

#[derive(Debug)]
struct HistogramCells {
    bounds: &'static [f64],
    /// Per bucket, observations that fell in it (not cumulative: one add
    /// per observation; the encoder sums them); the last is `+Inf`.
    counts: Box<[AtomicU64]>,
    sum_nanos: AtomicU64,
}

impl AtomicHistogram {
    /// With the latency buckets (0.5 ms to 10 s).
    pub fn latency() -> AtomicHistogram {
        AtomicHistogram(Arc::new(HistogramCells {
            bounds: &BUCKETS,
            counts: (0..=BUCKETS.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
        }))
    }

    /// Records one duration.
    pub fn observe(&self, d: Duration) {
        let c = &self.0;
        let secs = d.as_secs_f64();
        let i = c
            .bounds
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(c.bounds.len());
        c.counts[i].fetch_add(1, Ordering::Relaxed);
        c.sum_nanos.fetch_add(
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

impl TypedMetric for AtomicHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for AtomicHistogram {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> fmt::Result {
        let c = &self.0;
        let mut buckets = Vec::with_capacity(c.counts.len());
        for (i, n) in c.counts.iter().enumerate() {
            let bound = c.bounds.get(i).copied().unwrap_or(f64::MAX);
            buckets.push((bound, n.load(Ordering::Relaxed)));
        }
        // The count is the buckets' total, so the two always agree.
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum = c.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        encoder
            .encode_histogram::<prometheus_client::encoding::NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// What is read at scrape time: the secret cache and the store's health
/// (`secret_cache.rs`, `store_health.rs`), the replay backend.
#[derive(Debug)]
struct StateCollector {
    cache: Arc<SecretCache>,
    replay: ReplayObserver,
}

fn gauge(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    v: impl Into<f64>,
) -> fmt::Result {
    let g = ConstGauge::new(v.into());
    let m = enc.encode_descriptor(name, help, None, g.metric_type())?;
    g.encode(m)
}

fn int_gauge(enc: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: u64) -> fmt::Result {
    let g = ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX));
    let m = enc.encode_descriptor(name, help, None, g.metric_type())?;
    g.encode(m)
}

impl Collector for StateCollector {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> fmt::Result {
        let cache = &self.cache;
        int_gauge(
            &mut enc,
            "embedgate_secret_cache_entries",
            "Embed secrets in the cache.",
            cache.len() as u64,
        )?;
        int_gauge(
            &mut enc,
            "embedgate_secret_cache_loaded",
            "1 once the cache is loaded.",
            u64::from(cache.is_loaded()),
        )?;
        int_gauge(
            &mut enc,
            "embedgate_store_revision",
            "Newest store revision seen.",
            cache.store_revision(),
        )?;
        int_gauge(
            &mut enc,
            "embedgate_cache_revision",
            "Store revision the cache reflects.",
            cache.loaded_revision(),
        )?;
        int_gauge(
            &mut enc,
            "embedgate_store_revision_lag",
            "Store revisions not yet in the cache.",
            cache
                .store_revision()
                .saturating_sub(cache.loaded_revision()),
        )?;
        {
            let mut m = enc.encode_descriptor(
                "embedgate_store_row_errors",
                "Stored rows whose value cannot be decrypted (altered, or copied from another row), by kind: each is refused (an embed secret as key_inactive, a credential is not injected) while every other row is served. See /readyz and `embedgate store verify`.",
                None,
                MetricType::Gauge,
            )?;
            for kind in [RowKind::EmbedSecret, RowKind::Credential] {
                let n = cache.row_errors().count(kind) as i64;
                ConstGauge::new(n).encode(m.encode_family(&KindLabel {
                    kind: kind.as_str(),
                })?)?;
            }
        }
        int_gauge(
            &mut enc,
            "embedgate_replay_cache_entries",
            "Nonces held by the replay cache in this process (0 with Redis).",
            self.replay.entries() as u64,
        )?;
        {
            let mut m = enc.encode_descriptor(
                "embedgate_replay_backend_up",
                "Whether nonces can be claimed (1) or signed URLs meet [replay] on_unavailable (0), by backend.",
                None,
                MetricType::Gauge,
            )?;
            let up = i64::from(self.replay.down_reason().is_none());
            ConstGauge::new(up).encode(m.encode_family(&BackendLabel {
                backend: self.replay.backend(),
            })?)?;
        }
        // Fleet mode only: how the cache follows PostgreSQL.
        let h = cache.sync_health();
        if h.tracked() {
            int_gauge(
                &mut enc,
                "embedgate_store_connected",
                "Whether the change feed from PostgreSQL is connected (1) or the proxy serves from a possibly stale cache (0).",
                u64::from(h.degraded().is_none()),
            )?;
            gauge(
                &mut enc,
                "embedgate_store_staleness_seconds",
                "Seconds since the secret cache was last known to match the store (0 while connected).",
                h.staleness_secs(),
            )?;
            for (name, help, v) in [
                (
                    "embedgate_store_resyncs",
                    "Full reloads of the secret cache from the store.",
                    h.resyncs(),
                ),
                (
                    "embedgate_store_notifications",
                    "Change notifications received from the store.",
                    h.notifications(),
                ),
            ] {
                let c = ConstCounter::new(v);
                c.encode(enc.encode_descriptor(name, help, None, c.metric_type())?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::replay_cache::ReplayCache;

    fn metrics(names: &[&str]) -> Metrics {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        Metrics::new(
            &names,
            Sources {
                cache: Arc::new(SecretCache::new(Vec::new())),
                replay: ReplayObserver::Memory(Arc::new(ReplayCache::new(16))),
            },
        )
    }

    fn value(text: &str, prefix: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|v| v.trim().parse().ok())
    }

    #[test]
    fn latency_histogram_is_cumulative() {
        let m = metrics(&["d"]);
        for ms in [0, 1, 3, 3, 20_000] {
            m.upstream_latency(0, Duration::from_millis(ms));
        }
        let text = m.render();
        let bucket = |le: &str| {
            value(
                &text,
                &format!("embedgate_upstream_duration_seconds_bucket{{le=\"{le}\",route=\"d\"}} "),
            )
        };
        assert_eq!(bucket("0.0005"), Some(1.0));
        assert_eq!(bucket("0.001"), Some(2.0));
        assert_eq!(bucket("0.0025"), Some(2.0));
        assert_eq!(bucket("0.005"), Some(4.0));
        assert_eq!(bucket("10.0"), Some(4.0));
        assert_eq!(bucket("+Inf"), Some(5.0));
        assert_eq!(
            value(
                &text,
                "embedgate_upstream_duration_seconds_count{route=\"d\"} "
            ),
            Some(5.0)
        );
        let sum = value(
            &text,
            "embedgate_upstream_duration_seconds_sum{route=\"d\"} ",
        )
        .expect("sum");
        assert!((sum - 20.007).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn counters_keep_their_names_and_labels() {
        let m = metrics(&["d", "e"]);
        m.request(Some(0), Outcome::Forwarded);
        m.request(Some(0), Outcome::Forwarded);
        m.request(None, Outcome::NoRoute);
        m.request(Some(1), Outcome::ReplayUnavailable);
        m.url_verification(Some(1), Outcome::Forwarded);
        m.url_verification(Some(1), Outcome::Refused(Reason::Replayed));
        m.session_check(Some(0), Outcome::SessionExpired);
        m.request_finished(Some(0), Outcome::Redirected, Duration::from_millis(2));
        m.upstream_status(1, StatusCode::NOT_FOUND);
        m.upstream_status(1, StatusCode::from_u16(599).expect("status"));
        m.admin().request("list_secrets", StatusCode::OK);
        let text = m.render();
        for line in [
            "embedgate_requests_total{route=\"d\",outcome=\"forwarded\"} 2",
            "embedgate_requests_total{route=\"none\",outcome=\"no_route\"} 1",
            "embedgate_requests_total{route=\"e\",outcome=\"replay_unavailable\"} 1",
            "embedgate_requests_total{route=\"d\",outcome=\"redirected\"} 1",
            "embedgate_url_verifications_total{route=\"e\",result=\"ok\"} 1",
            "embedgate_url_verifications_total{route=\"e\",result=\"replayed\"} 1",
            "embedgate_session_checks_total{route=\"d\",result=\"session_expired\"} 1",
            "embedgate_request_duration_seconds_count{route=\"d\",outcome=\"redirected\"} 1",
            "embedgate_upstream_responses_total{route=\"e\",class=\"4xx\"} 1",
            "embedgate_upstream_responses_total{route=\"e\",class=\"5xx\"} 1",
            "embedgate_admin_requests_total{operation=\"list_secrets\",status=\"200\"} 1",
            "embedgate_replay_backend_up{backend=\"memory\"} 1",
            "embedgate_secret_cache_loaded 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
        assert!(text.contains("embedgate_build_info{version=\""), "{text}");
        assert!(text.ends_with("# EOF\n"));
        // Only routes that exist have an upstream histogram.
        assert!(!text.contains("embedgate_upstream_duration_seconds_count{route=\"none\"}"));
    }
}
