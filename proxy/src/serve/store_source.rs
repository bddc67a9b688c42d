//! The SQLite store (`embedgate-store`) as the proxy's [`SecretSource`].

use anyhow::Context as _;
use embedgate_store::{MasterKey, Store, StoreOptions, Zeroizing};

use super::config::Config;
use super::secret_source::{SecretRecord, SecretSource};

/// Opens the store the config names, with the master key from
/// `EMBEDGATE_MASTER_KEY` or `store.master_key_file`.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let url = config.store_url.clone();
    let key_file = config.master_key_file.clone();
    let mut options = StoreOptions::default();
    // Checked to fit when the configuration was read.
    options.purge_after_secs =
        i64::try_from(config.purge_expired_after.as_secs()).unwrap_or(i64::MAX);
    let store = tokio::task::spawn_blocking(move || -> anyhow::Result<Store> {
        let key = MasterKey::from_env_or_file(key_file.as_deref())
            .context("master key (EMBEDGATE_MASTER_KEY or config key `store.master_key_file`)")?;
        Store::open_with_options(&url, key, options)
            .context("config key `store.url`: cannot open the store")
    })
    .await
    .context("opening the store")??;
    Ok(store)
}

impl SecretSource for Store {
    fn revision(&self) -> anyhow::Result<u64> {
        Ok(Store::revision(self)?)
    }

    fn load_embed_keys(&self) -> anyhow::Result<(u64, Vec<SecretRecord>)> {
        let (rev, keys) = Store::load_embed_keys(self)?;
        let records = keys
            .into_iter()
            .map(|k| SecretRecord {
                client_id: k.client_id,
                value: k.value,
                active: k.active,
                expires_at: k.expires_at,
                scopes: k.scopes,
                reactivated_at: k.reactivated_at,
            })
            .collect();
        Ok((rev, records))
    }

    fn credential_value(&self, name: &str) -> anyhow::Result<Option<Zeroizing<String>>> {
        Ok(Store::credential_value(self, name)?)
    }

    fn record_embed_usage(&self, usage: &[(String, i64)]) -> anyhow::Result<()> {
        Ok(Store::record_embed_usage(self, usage)?)
    }
}
