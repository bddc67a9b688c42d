//! The replay check the request path calls: in this process
//! ([`ReplayCache`], `[replay] backend = "memory"`) or shared by a fleet in
//! Redis ([`RedisReplay`], `backend = "redis"`), with the
//! `on_unavailable` policy applied when Redis cannot answer. How the
//! backend is doing ([`ReplayObserver`]) feeds `/readyz` and `/metrics`.

use std::sync::Arc;

use super::config::{OnUnavailable, ReplayBackend, ReplayConfig};
use super::replay_cache::{Claim, ReplayCache};
use super::replay_redis::{RedisHealth, RedisReplay};

/// Where nonces are claimed.
#[derive(Debug)]
pub enum Replay {
    /// In memory, this process only.
    Memory(Arc<ReplayCache>),
    /// In Redis, across the fleet.
    Redis {
        /// The Redis client.
        redis: RedisReplay,
        /// What an unreachable Redis means.
        on_unavailable: OnUnavailable,
    },
}

impl Replay {
    /// Builds the configured backend (memory: bounded to `entries`).
    pub async fn from_config(config: &ReplayConfig, entries: usize) -> anyhow::Result<Replay> {
        Ok(match config.backend {
            ReplayBackend::Memory => Replay::Memory(Arc::new(ReplayCache::new(entries))),
            ReplayBackend::Redis => {
                let url = config.url.as_deref().unwrap_or_default();
                let redis = RedisReplay::new(url, &config.key_prefix, config.timeout)?;
                if !redis.connect().await {
                    tracing::error!(
                        reason = redis.health().reason().unwrap_or_default(),
                        "Redis is unreachable at start; signed URLs get {} until it answers",
                        match config.on_unavailable {
                            OnUnavailable::Reject => "503 replay_unavailable",
                            OnUnavailable::Allow => "no replay check (on_unavailable = \"allow\")",
                        }
                    );
                }
                Replay::Redis {
                    redis,
                    on_unavailable: config.on_unavailable,
                }
            }
        })
    }

    /// Claims `(kid, nonce)` until `until` at `now`. With Redis down and
    /// `on_unavailable = "allow"`, the claim counts as fresh.
    pub async fn claim(&self, kid: &str, nonce: &str, until: u64, now: u64) -> Claim {
        match self {
            Replay::Memory(c) => c.claim(kid, nonce, until, now),
            Replay::Redis {
                redis,
                on_unavailable,
            } => match redis.claim(kid, nonce, until, now).await {
                Claim::Unavailable if *on_unavailable == OnUnavailable::Allow => Claim::Fresh,
                c => c,
            },
        }
    }

    /// A handle that reads how the backend is doing, for `/readyz` and
    /// `/metrics`.
    pub fn observer(&self) -> ReplayObserver {
        match self {
            Replay::Memory(c) => ReplayObserver::Memory(Arc::clone(c)),
            Replay::Redis { redis, .. } => ReplayObserver::Redis(redis.health()),
        }
    }
}

/// How the replay backend is doing.
#[derive(Debug, Clone)]
pub enum ReplayObserver {
    /// In memory: always up.
    Memory(Arc<ReplayCache>),
    /// Redis: up while it answers.
    Redis(Arc<RedisHealth>),
}

impl ReplayObserver {
    /// `memory` or `redis`, as in `[replay] backend`.
    pub fn backend(&self) -> &'static str {
        match self {
            ReplayObserver::Memory(_) => "memory",
            ReplayObserver::Redis(_) => "redis",
        }
    }

    /// `None` while nonces can be claimed; else why not (Redis only).
    pub fn down_reason(&self) -> Option<String> {
        match self {
            ReplayObserver::Memory(_) => None,
            ReplayObserver::Redis(h) => h.reason(),
        }
    }

    /// Nonces held in this process.
    pub fn entries(&self) -> usize {
        match self {
            ReplayObserver::Memory(c) => c.entries(),
            ReplayObserver::Redis(_) => 0,
        }
    }
}
