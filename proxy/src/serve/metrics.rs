//! Prometheus metrics, written by hand: fixed label sets held in atomics,
//! so recording is a relaxed increment on the request path.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use embedgate_core::Reason;

use super::secret_cache::SecretCache;
use super::store_health::RowKind;

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
    /// The upstream could not be reached (502).
    UpstreamUnavailable,
    /// The upstream was too slow (504).
    UpstreamTimeout,
}

const OUTCOMES: usize = 11 + Reason::ALL.len();

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
            Outcome::Refused(r) => 11 + Reason::ALL.iter().position(|x| *x == r).unwrap_or(0),
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
            10 => "unused",
            n => Reason::ALL.get(n - 11).map_or("other", |r| r.as_str()),
        }
    }
}

/// Upper bounds of the latency histogram, seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

struct RouteMetrics {
    name: String,
    requests: [AtomicU64; OUTCOMES],
    url_verifications: [AtomicU64; OUTCOMES],
    session_checks: [AtomicU64; OUTCOMES],
    /// Per bucket, requests that fell in it (not cumulative: one atomic
    /// add per request; the exposition sums them).
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
}

/// All counters, per route (plus one slot for requests matching no route).
pub struct Metrics {
    routes: Vec<RouteMetrics>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Counters for these route names; index `names.len()` is "no route".
    pub fn new(names: &[String]) -> Self {
        let mut routes: Vec<RouteMetrics> = names
            .iter()
            .chain(std::iter::once(&String::from("none")))
            .map(|n| RouteMetrics {
                name: n.clone(),
                requests: std::array::from_fn(|_| AtomicU64::new(0)),
                url_verifications: std::array::from_fn(|_| AtomicU64::new(0)),
                session_checks: std::array::from_fn(|_| AtomicU64::new(0)),
                latency_buckets: std::array::from_fn(|_| AtomicU64::new(0)),
                latency_count: AtomicU64::new(0),
                latency_sum_micros: AtomicU64::new(0),
            })
            .collect();
        routes.shrink_to_fit();
        Metrics { routes }
    }

    fn route(&self, route: Option<usize>) -> &RouteMetrics {
        let last = self.routes.len() - 1;
        &self.routes[route.map_or(last, |r| r.min(last))]
    }

    /// Counts a finished request.
    pub fn request(&self, route: Option<usize>, outcome: Outcome) {
        self.route(route).requests[outcome.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a signed-URL verification (`Forwarded` stands for "ok").
    pub fn url_verification(&self, route: Option<usize>, outcome: Outcome) {
        self.route(route).url_verifications[outcome.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a session-cookie check (`Forwarded` stands for "ok").
    pub fn session_check(&self, route: Option<usize>, outcome: Outcome) {
        self.route(route).session_checks[outcome.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Records the time until the upstream's response headers.
    pub fn upstream_latency(&self, route: usize, d: Duration) {
        let r = self.route(Some(route));
        let secs = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            r.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        r.latency_count.fetch_add(1, Ordering::Relaxed);
        r.latency_sum_micros.fetch_add(
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// The Prometheus text exposition.
    pub fn render(&self, cache: &SecretCache, replay_entries: usize) -> String {
        let mut out = String::with_capacity(4096);
        let counter =
            |out: &mut String,
             name: &str,
             help: &str,
             label: &str,
             pick: &dyn Fn(&RouteMetrics) -> &[AtomicU64; OUTCOMES]| {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
                for r in &self.routes {
                    for (i, c) in pick(r).iter().enumerate() {
                        let v = c.load(Ordering::Relaxed);
                        if v > 0 {
                            let l = if label == "result" && i == 0 {
                                "ok"
                            } else {
                                Outcome::label(i)
                            };
                            let _ =
                                writeln!(out, "{name}{{route=\"{}\",{label}=\"{l}\"}} {v}", r.name);
                        }
                    }
                }
            };
        counter(
            &mut out,
            "embedgate_requests_total",
            "Requests by route and outcome.",
            "outcome",
            &|r| &r.requests,
        );
        counter(
            &mut out,
            "embedgate_url_verifications_total",
            "Signed URL verifications by route and result (a reason of spec section 3, or ok).",
            "result",
            &|r| &r.url_verifications,
        );
        counter(
            &mut out,
            "embedgate_session_checks_total",
            "Session cookie checks by route and result.",
            "result",
            &|r| &r.session_checks,
        );
        let name = "embedgate_upstream_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time until the upstream's response headers.\n# TYPE {name} histogram"
        );
        for r in &self.routes[..self.routes.len() - 1] {
            let mut cumulative = 0;
            for (i, b) in BUCKETS.iter().enumerate() {
                cumulative += r.latency_buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "{name}_bucket{{route=\"{}\",le=\"{b}\"}} {cumulative}",
                    r.name,
                );
            }
            let count = r.latency_count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{route=\"{}\",le=\"+Inf\"}} {count}",
                r.name
            );
            let _ = writeln!(
                out,
                "{name}_sum{{route=\"{}\"}} {}",
                r.name,
                r.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6
            );
            let _ = writeln!(out, "{name}_count{{route=\"{}\"}} {count}", r.name);
        }
        let gauge = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        gauge(
            &mut out,
            "embedgate_secret_cache_entries",
            "Embed secrets in the cache.",
            cache.len() as u64,
        );
        gauge(
            &mut out,
            "embedgate_secret_cache_loaded",
            "1 once the cache is loaded.",
            u64::from(cache.is_loaded()),
        );
        gauge(
            &mut out,
            "embedgate_store_revision",
            "Newest store revision seen.",
            cache.store_revision(),
        );
        gauge(
            &mut out,
            "embedgate_cache_revision",
            "Store revision the cache reflects.",
            cache.loaded_revision(),
        );
        gauge(
            &mut out,
            "embedgate_store_revision_lag",
            "Store revisions not yet in the cache.",
            cache
                .store_revision()
                .saturating_sub(cache.loaded_revision()),
        );
        let name = "embedgate_store_row_errors";
        let _ = writeln!(
            out,
            "# HELP {name} Stored rows whose value cannot be decrypted (altered, or copied from another row), by kind: each is refused (an embed secret as key_inactive, a credential is not injected) while every other row is served. See /readyz and `embedgate store verify`.\n# TYPE {name} gauge"
        );
        for kind in [RowKind::EmbedSecret, RowKind::Credential] {
            let _ = writeln!(
                out,
                "{name}{{kind=\"{}\"}} {}",
                kind.as_str(),
                cache.row_errors().count(kind)
            );
        }
        gauge(
            &mut out,
            "embedgate_replay_cache_entries",
            "Nonces held by the replay cache.",
            replay_entries as u64,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_histogram_is_cumulative() {
        let m = Metrics::new(&["d".to_owned()]);
        for ms in [0, 1, 3, 3, 20_000] {
            m.upstream_latency(0, Duration::from_millis(ms));
        }
        let text = m.render(&SecretCache::new(Vec::new()), 0);
        let bucket = |le: &str| {
            let prefix =
                format!("embedgate_upstream_duration_seconds_bucket{{route=\"d\",le=\"{le}\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(prefix.as_str()))
                .and_then(|v| v.parse::<u64>().ok())
        };
        assert_eq!(bucket("0.0005"), Some(1));
        assert_eq!(bucket("0.001"), Some(2));
        assert_eq!(bucket("0.0025"), Some(2));
        assert_eq!(bucket("0.005"), Some(4));
        assert_eq!(bucket("10"), Some(4));
        assert_eq!(bucket("+Inf"), Some(5));
    }
}
