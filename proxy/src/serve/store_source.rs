//! The store (`embedgate-store`, SQLite or PostgreSQL) as the proxy's
//! [`SecretSource`].

use anyhow::Context as _;
use embedgate_store::{
    EmbedKeyMaterial, MasterKey, Store, StoreError, StoreOptions, UnreadableRow, Zeroizing,
};

use super::config::Config;
use super::secret_source::{
    Changes, CredentialRead, SecretRecord, SecretSource, Snapshot, UnreadableSecret,
};

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

fn record(k: EmbedKeyMaterial) -> (String, SecretRecord) {
    (
        k.id,
        SecretRecord {
            client_id: k.client_id,
            value: k.value,
            active: k.active,
            expires_at: k.expires_at,
            scopes: k.scopes,
            reactivated_at: k.reactivated_at,
        },
    )
}

fn unreadable(r: UnreadableRow) -> UnreadableSecret {
    UnreadableSecret {
        id: r.id,
        client_id: r.client_id,
        name: r.name,
        reason: r.error.to_string(),
    }
}

impl SecretSource for Store {
    fn revision(&self) -> anyhow::Result<u64> {
        Ok(Store::revision(self)?)
    }

    fn load_embed_keys(&self) -> anyhow::Result<(u64, Vec<SecretRecord>)> {
        let snapshot = self.load_snapshot()?;
        Ok((
            snapshot.revision,
            snapshot.secrets.into_iter().map(|(_, r)| r).collect(),
        ))
    }

    fn credential_value(&self, name: &str) -> anyhow::Result<Option<Zeroizing<String>>> {
        Ok(Store::credential_value(self, name)?)
    }

    fn record_embed_usage(&self, usage: &[(String, i64)]) -> anyhow::Result<()> {
        Ok(Store::record_embed_usage(self, usage)?)
    }

    fn load_snapshot(&self) -> anyhow::Result<Snapshot> {
        let load = self.load_keys()?;
        Ok(Snapshot {
            revision: load.revision,
            secrets: load.keys.into_iter().map(record).collect(),
            unreadable: load.unreadable.into_iter().map(unreadable).collect(),
        })
    }

    fn changes_since(&self, revision: u64) -> anyhow::Result<Option<Changes>> {
        Ok(Store::changes_since(self, revision)?.map(|c| Changes {
            revision: c.revision,
            embed_ids: c.embed_ids,
            secrets: c.keys.into_iter().map(record).collect(),
            unreadable: c.unreadable.into_iter().map(unreadable).collect(),
            credentials_changed: !c.credential_ids.is_empty(),
        }))
    }

    fn read_credential(&self, name: &str) -> anyhow::Result<CredentialRead> {
        match Store::credential_value(self, name) {
            Ok(Some(v)) => Ok(CredentialRead::Value(v)),
            Ok(None) => Ok(CredentialRead::Missing),
            Err(StoreError::DecryptFailed { id, reason }) => Ok(CredentialRead::Unreadable {
                reason: format!("cannot decrypt secret {id}: {reason}"),
                id,
            }),
            Err(e) => Err(e.into()),
        }
    }
}
