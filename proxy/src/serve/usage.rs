//! `last_used_at`: uses are noted in the cache (an atomic per secret) and
//! written to the store in one batch per flush interval (at most a minute),
//! and once more at shutdown.

use std::collections::HashMap;
use std::sync::Arc;

use super::secret_cache::SecretCache;
use super::secret_source::SecretSource;

/// Remembers what was already written.
#[derive(Debug, Default)]
pub struct UsageFlusher {
    flushed: HashMap<String, i64>,
}

impl UsageFlusher {
    /// Writes the uses noted since the last flush.
    pub async fn flush(&mut self, cache: &SecretCache, source: &Arc<dyn SecretSource>) {
        let batch = cache.take_usage(&mut self.flushed);
        if batch.is_empty() {
            return;
        }
        let source = Arc::clone(source);
        let n = batch.len();
        let result = tokio::task::spawn_blocking(move || source.record_embed_usage(&batch)).await;
        match result {
            Ok(Ok(())) => tracing::debug!(secrets = n, "last_used_at recorded"),
            Ok(Err(e)) => {
                // Forget what was taken so the next flush retries it.
                self.flushed.clear();
                tracing::warn!(error = %e, "recording last_used_at failed; will retry");
            }
            Err(e) => tracing::warn!(error = %e, "usage flush task failed"),
        }
    }
}
