//! [`Store`]: the one handle callers use, whatever the backend.
//!
//! Callers see only this type, the metadata types and [`StoreError`]; the
//! backend is chosen by the URL. A PostgreSQL backend is a new arm in
//! [`Backend`], not a change for callers.

use std::path::Path;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::admin_token::{AdminToken, CreatedAdminToken, NewAdminToken, Role};
use crate::change_log::{AuditFilter, AuditPage, ChangeEntry, Page, SubjectKind};
use crate::checked::{Actor, MetaUpdate, NewSecret, NewToken, NewValue, PutSecret};
use crate::credential::{Credential, CredentialUpdate, NewCredential, PutCredential, PutOutcome};
use crate::embed_secret::{
    CreatedEmbedSecret, EmbedKeyMaterial, EmbedSecret, EmbedSecretUpdate, NewEmbedSecret,
};
use crate::error::StoreError;
use crate::lookup::Lookup;
use crate::maintenance::{PurgedSecret, RotationReport, StoreOptions};
use crate::master_key::MasterKey;
use crate::postgres::PostgresBackend;
use crate::sqlite::{Row, SqliteBackend};

/// The secret store. Cheap to clone (an `Arc`), `Send + Sync`.
///
/// The API is synchronous: calls do file I/O and may wait for another
/// process's transaction, so async callers wrap them in
/// `tokio::task::spawn_blocking`. Every mutating call takes the `actor` (for
/// the change log) and `now` (Unix seconds): the store never reads a clock,
/// except in [`Store::credential_value`], whose signature has no `now`.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Arc<Backend>,
}

#[derive(Debug)]
enum Backend {
    Sqlite(SqliteBackend),
    // Boxed: the client and its config are much larger than SQLite's.
    Postgres(Box<PostgresBackend>),
}

/// Forwards a call to whichever backend is open. Arguments a caller gives
/// are checked (see `checked.rs`) before they are forwarded: the backends
/// only run SQL.
macro_rules! dispatch {
    ($self:ident, $b:ident => $e:expr) => {
        match &*$self.backend {
            Backend::Sqlite($b) => $e,
            Backend::Postgres($b) => $e,
        }
    };
}

const EMBED: SubjectKind = SubjectKind::EmbedSecret;
const CREDENTIAL: SubjectKind = SubjectKind::Credential;

impl Store {
    /// Opens the store at `url` (`sqlite://PATH`; the file is created if
    /// missing) with the default options.
    ///
    /// Fails with `wrong_master_key`, having written nothing, if the store
    /// was encrypted under another key.
    pub fn open(url: &str, key: MasterKey) -> Result<Store, StoreError> {
        Store::open_with_options(url, key, StoreOptions::default())
    }

    /// [`Store::open`] with options (purge delay, busy timeout).
    pub fn open_with_options(
        url: &str,
        key: MasterKey,
        options: StoreOptions,
    ) -> Result<Store, StoreError> {
        if options.purge_after_secs < 0 {
            return Err(StoreError::invalid(
                "purge_after_secs",
                "must not be negative",
            ));
        }
        let backend = if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(StoreError::invalid("url", "sqlite:// needs a file path"));
            }
            Backend::Sqlite(SqliteBackend::open(Path::new(path), key, options)?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres(Box::new(PostgresBackend::open(url, key, options)?))
        } else {
            return Err(StoreError::invalid(
                "url",
                "expected sqlite://PATH (e.g. sqlite:///var/lib/embedgate/store.db) or postgres://USER@HOST/DB",
            ));
        };
        Ok(Store {
            backend: Arc::new(backend),
        })
    }

    /// The options the store was opened with.
    pub fn options(&self) -> StoreOptions {
        dispatch!(self, b => b.options())
    }

    /// Id of the master key the store is currently encrypted under.
    pub fn master_key_id(&self) -> String {
        dispatch!(self, b => b.master_key_id())
    }

    /// The revision: grows by at least one with every logged change. Cheap
    /// (one indexed read), for readers polling for changes.
    pub fn revision(&self) -> Result<u64, StoreError> {
        dispatch!(self, b => b.revision())
    }

    // ----- embed secrets -----

    /// Creates an embed secret with a generated value, returned only here.
    pub fn create_embed_secret(
        &self,
        new: &NewEmbedSecret,
        actor: &str,
        now: i64,
    ) -> Result<CreatedEmbedSecret, StoreError> {
        let actor = Actor::new(actor)?;
        let value = embedgate_core::generate_secret(&mut rand::rngs::OsRng);
        let new = NewSecret::embed(new, &value, &actor, now)?;
        let row = dispatch!(self, b => b.create(&new, &actor, now))?;
        Ok(CreatedEmbedSecret {
            secret: row.into_embed_secret(),
            value,
        })
    }

    /// One embed secret's metadata.
    pub fn get_embed_secret(&self, lookup: &Lookup) -> Result<EmbedSecret, StoreError> {
        Ok(dispatch!(self, b => b.get(EMBED, lookup))?.into_embed_secret())
    }

    /// Every embed secret, by name.
    pub fn list_embed_secrets(&self) -> Result<Vec<EmbedSecret>, StoreError> {
        self.search_embed_secrets("")
    }

    /// Embed secrets whose name or description contains `query`, ignoring
    /// case (an empty query matches all).
    pub fn search_embed_secrets(&self, query: &str) -> Result<Vec<EmbedSecret>, StoreError> {
        let rows = self.search(EMBED, query)?;
        Ok(rows.into_iter().map(|r| r.into_embed_secret()).collect())
    }

    /// Changes metadata (never the value); logs one entry if anything changed.
    pub fn update_embed_secret(
        &self,
        lookup: &Lookup,
        update: &EmbedSecretUpdate,
        actor: &str,
        now: i64,
    ) -> Result<EmbedSecret, StoreError> {
        let actor = Actor::new(actor)?;
        let u = MetaUpdate::embed(update)?;
        Ok(dispatch!(self, b => b.update(EMBED, lookup, &u, &actor, now))?.into_embed_secret())
    }

    /// Renames an embed secret (names stay unique).
    pub fn rename_embed_secret(
        &self,
        lookup: &Lookup,
        new_name: &str,
        actor: &str,
        now: i64,
    ) -> Result<EmbedSecret, StoreError> {
        let u = EmbedSecretUpdate {
            name: Some(new_name.to_owned()),
            ..EmbedSecretUpdate::default()
        };
        self.update_embed_secret(lookup, &u, actor, now)
    }

    /// Replaces an embed secret's description.
    pub fn describe_embed_secret(
        &self,
        lookup: &Lookup,
        description: &str,
        actor: &str,
        now: i64,
    ) -> Result<EmbedSecret, StoreError> {
        let u = EmbedSecretUpdate {
            description: Some(description.to_owned()),
            ..EmbedSecretUpdate::default()
        };
        self.update_embed_secret(lookup, &u, actor, now)
    }

    /// Sets an embed secret's environment label.
    pub fn set_embed_environment(
        &self,
        lookup: &Lookup,
        environment: &str,
        actor: &str,
        now: i64,
    ) -> Result<EmbedSecret, StoreError> {
        let u = EmbedSecretUpdate {
            environment: Some(environment.to_owned()),
            ..EmbedSecretUpdate::default()
        };
        self.update_embed_secret(lookup, &u, actor, now)
    }

    /// Sets an embed secret's scopes (empty: any path).
    pub fn set_embed_scopes(
        &self,
        lookup: &Lookup,
        scopes: &[String],
        actor: &str,
        now: i64,
    ) -> Result<EmbedSecret, StoreError> {
        let u = EmbedSecretUpdate {
            scopes: Some(scopes.to_vec()),
            ..EmbedSecretUpdate::default()
        };
        self.update_embed_secret(lookup, &u, actor, now)
    }

    /// Sets or clears an embed secret's expiry.
    pub fn set_embed_expiry(
        &self,
        lookup: &Lookup,
        expires_at: Option<i64>,
        actor: &str,
        now: i64,
    ) -> Result<EmbedSecret, StoreError> {
        let u = EmbedSecretUpdate {
            expires_at: Some(expires_at),
            ..EmbedSecretUpdate::default()
        };
        self.update_embed_secret(lookup, &u, actor, now)
    }

    /// Deactivates an embed secret (a no-op if already inactive).
    pub fn deactivate_embed_secret(
        &self,
        lookup: &Lookup,
        actor: &str,
        now: i64,
    ) -> Result<EmbedSecret, StoreError> {
        self.set_active(EMBED, lookup, false, actor, now)
            .map(Row::into_embed_secret)
    }

    /// Reactivates an embed secret; `expired_cannot_activate` if it expired.
    pub fn activate_embed_secret(
        &self,
        lookup: &Lookup,
        actor: &str,
        now: i64,
    ) -> Result<EmbedSecret, StoreError> {
        self.set_active(EMBED, lookup, true, actor, now)
            .map(Row::into_embed_secret)
    }

    /// Deletes an embed secret permanently; returns what it was.
    pub fn delete_embed_secret(
        &self,
        lookup: &Lookup,
        actor: &str,
        now: i64,
    ) -> Result<EmbedSecret, StoreError> {
        let actor = Actor::new(actor)?;
        Ok(dispatch!(self, b => b.delete(EMBED, lookup, &actor, now))?.into_embed_secret())
    }

    /// An embed secret's change log, oldest first (also after deletion, by
    /// id or former name).
    pub fn embed_secret_history(&self, lookup: &Lookup) -> Result<Vec<ChangeEntry>, StoreError> {
        dispatch!(self, b => b.history(EMBED, lookup))
    }

    /// The embed secrets with these row ids that still exist, with their
    /// values, and the revision they are as of (one snapshot): what a proxy
    /// reloads when told those ids changed. Ids of deleted secrets are
    /// simply absent.
    pub fn load_embed_keys_for(
        &self,
        ids: &[String],
    ) -> Result<(u64, Vec<EmbedKeyMaterial>), StoreError> {
        match &*self.backend {
            Backend::Sqlite(b) => {
                let (rev, keys) = b.load_embed_keys()?;
                Ok((
                    rev,
                    keys.into_iter().filter(|k| ids.contains(&k.id)).collect(),
                ))
            }
            Backend::Postgres(b) => b.load_embed_keys_for(ids),
        }
    }

    /// The PostgreSQL schema this store lives in, or `None` for SQLite.
    /// Change notifications name it (channels are per database).
    pub fn postgres_schema(&self) -> Option<&str> {
        match &*self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(b) => Some(b.schema()),
        }
    }

    /// Every embed secret (active and inactive, expired included) with its
    /// decrypted value, and the revision they are as of (one snapshot).
    pub fn load_embed_keys(&self) -> Result<(u64, Vec<EmbedKeyMaterial>), StoreError> {
        dispatch!(self, b => b.load_embed_keys())
    }

    /// Records last-use times by client id, in one transaction. Times only
    /// move forward; unknown client ids are ignored. Does not bump the
    /// revision or write the change log.
    pub fn record_embed_usage(&self, uses: &[(String, i64)]) -> Result<(), StoreError> {
        dispatch!(self, b => b.record_usage(EMBED, uses))
    }

    // ----- credentials -----

    /// Creates a credential; `name_taken` if the name is in use.
    pub fn create_credential(
        &self,
        new: &NewCredential,
        value: &str,
        actor: &str,
        now: i64,
    ) -> Result<Credential, StoreError> {
        let actor = Actor::new(actor)?;
        let new = NewSecret::credential(new, value, &actor, now)?;
        Ok(dispatch!(self, b => b.create(&new, &actor, now))?.into_credential())
    }

    /// Creates the credential, or replaces its value if the name exists (see
    /// [`PutCredential`]), in one transaction.
    pub fn put_credential(
        &self,
        put: &PutCredential,
        value: &str,
        actor: &str,
        now: i64,
    ) -> Result<PutOutcome, StoreError> {
        let actor = Actor::new(actor)?;
        let put = PutSecret::new(put, value, &actor, now, |name| {
            match dispatch!(self, b => b.get(CREDENTIAL, &Lookup::name(name))) {
                Ok(_) => Ok(true),
                Err(StoreError::NotFound { .. }) => Ok(false),
                Err(e) => Err(e),
            }
        })?;
        let (row, created) = dispatch!(self, b => b.put_credential(&put, &actor, now))?;
        Ok(PutOutcome {
            credential: row.into_credential(),
            created,
        })
    }

    /// Replaces a credential's value with a new version, with the expiry of
    /// the new value.
    pub fn replace_credential_value(
        &self,
        lookup: &Lookup,
        value: &str,
        expires_at: Option<i64>,
        actor: &str,
        now: i64,
    ) -> Result<Credential, StoreError> {
        let actor = Actor::new(actor)?;
        let value = NewValue::new(value, expires_at, now)?;
        Ok(
            dispatch!(self, b => b.replace_credential_value(lookup, &value, &actor, now))?
                .into_credential(),
        )
    }

    /// One credential's metadata.
    pub fn get_credential(&self, lookup: &Lookup) -> Result<Credential, StoreError> {
        Ok(dispatch!(self, b => b.get(CREDENTIAL, lookup))?.into_credential())
    }

    /// Every credential, by name.
    pub fn list_credentials(&self) -> Result<Vec<Credential>, StoreError> {
        self.search_credentials("")
    }

    /// Credentials whose name or description contains `query`, ignoring case.
    pub fn search_credentials(&self, query: &str) -> Result<Vec<Credential>, StoreError> {
        let rows = self.search(CREDENTIAL, query)?;
        Ok(rows.into_iter().map(|r| r.into_credential()).collect())
    }

    /// Changes a credential's metadata.
    pub fn update_credential(
        &self,
        lookup: &Lookup,
        update: &CredentialUpdate,
        actor: &str,
        now: i64,
    ) -> Result<Credential, StoreError> {
        let actor = Actor::new(actor)?;
        let u = MetaUpdate::credential(update)?;
        Ok(dispatch!(self, b => b.update(CREDENTIAL, lookup, &u, &actor, now))?.into_credential())
    }

    /// Deactivates a credential.
    pub fn deactivate_credential(
        &self,
        lookup: &Lookup,
        actor: &str,
        now: i64,
    ) -> Result<Credential, StoreError> {
        self.set_active(CREDENTIAL, lookup, false, actor, now)
            .map(Row::into_credential)
    }

    /// Reactivates a credential; `expired_cannot_activate` if it expired.
    pub fn activate_credential(
        &self,
        lookup: &Lookup,
        actor: &str,
        now: i64,
    ) -> Result<Credential, StoreError> {
        self.set_active(CREDENTIAL, lookup, true, actor, now)
            .map(Row::into_credential)
    }

    /// Deletes a credential permanently.
    pub fn delete_credential(
        &self,
        lookup: &Lookup,
        actor: &str,
        now: i64,
    ) -> Result<Credential, StoreError> {
        let actor = Actor::new(actor)?;
        Ok(dispatch!(self, b => b.delete(CREDENTIAL, lookup, &actor, now))?.into_credential())
    }

    /// A credential's change log, oldest first.
    pub fn credential_history(&self, lookup: &Lookup) -> Result<Vec<ChangeEntry>, StoreError> {
        dispatch!(self, b => b.history(CREDENTIAL, lookup))
    }

    /// The value of an active, unexpired credential by name (for the proxy
    /// only), judged against the system clock.
    pub fn credential_value(&self, name: &str) -> Result<Option<Zeroizing<String>>, StoreError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.credential_value_at(name, now)
    }

    /// [`Store::credential_value`] with an explicit `now`.
    pub fn credential_value_at(
        &self,
        name: &str,
        now: i64,
    ) -> Result<Option<Zeroizing<String>>, StoreError> {
        dispatch!(self, b => b.credential_value_at(name, now))
    }

    /// Records last-use times of credentials by name (like
    /// [`Store::record_embed_usage`]).
    pub fn record_credential_usage(&self, uses: &[(String, i64)]) -> Result<(), StoreError> {
        dispatch!(self, b => b.record_usage(CREDENTIAL, uses))
    }

    // ----- admin tokens -----

    /// Creates an admin API token; the token is returned only here.
    /// `name_taken` if another token has the name.
    pub fn create_admin_token(
        &self,
        new: &NewAdminToken,
        actor: &str,
        now: i64,
    ) -> Result<CreatedAdminToken, StoreError> {
        let actor = Actor::new(actor)?;
        let new = NewToken::new(new, &actor, now)?;
        dispatch!(self, b => b.create_admin_token(&new, &actor, now))
    }

    /// Creates an owner token named `name` if the store has no admin token
    /// yet (first start), atomically; `None` if one exists.
    pub fn create_first_owner_token(
        &self,
        name: &str,
        actor: &str,
        now: i64,
    ) -> Result<Option<CreatedAdminToken>, StoreError> {
        let actor = Actor::new(actor)?;
        let new = NewAdminToken {
            name: name.to_owned(),
            role: Role::Owner,
        };
        let new = match NewToken::new(&new, &actor, now) {
            Ok(new) => new,
            // The name matters only when the token is created: once any
            // token exists the answer is `None`, whatever the name.
            Err(e) if self.list_admin_tokens()?.is_empty() => return Err(e),
            Err(_) => return Ok(None),
        };
        dispatch!(self, b => b.create_first_owner_token(&new, &actor, now))
    }

    /// Every admin token's metadata, by name.
    pub fn list_admin_tokens(&self) -> Result<Vec<AdminToken>, StoreError> {
        dispatch!(self, b => b.list_admin_tokens())
    }

    /// The token a presented bearer token belongs to, if any (hash compared
    /// in constant time); notes the use in `last_used_at` (to the minute,
    /// not a logged change).
    pub fn authenticate_admin_token(
        &self,
        presented: &str,
        now: i64,
    ) -> Result<Option<AdminToken>, StoreError> {
        dispatch!(self, b => b.authenticate_admin_token(presented, now))
    }

    /// Revokes (deletes) an admin token by id or name. The last owner token
    /// cannot be revoked (`invalid_input`, field `token`).
    pub fn revoke_admin_token(
        &self,
        id_or_name: &str,
        actor: &str,
        now: i64,
    ) -> Result<AdminToken, StoreError> {
        let actor = Actor::new(actor)?;
        dispatch!(self, b => b.revoke_admin_token(id_or_name, &actor, now))
    }

    // ----- store-wide -----

    /// A page of the whole change log, oldest first.
    pub fn audit(&self, filter: &AuditFilter, page: Page) -> Result<AuditPage, StoreError> {
        dispatch!(self, b => b.audit(filter, page))
    }

    /// Deletes every secret that expired at least the purge delay (30 days
    /// by default) before `now`, logging each. Call it periodically.
    pub fn purge_expired(&self, actor: &str, now: i64) -> Result<Vec<PurgedSecret>, StoreError> {
        let actor = Actor::new(actor)?;
        dispatch!(self, b => b.purge_expired(&actor, now))
    }

    /// Re-encrypts every value under `new_key`, atomically; afterwards this
    /// handle (and only new opens with `new_key`) can read the store. Safe
    /// to re-run after a crash: with the old key it redoes the work, with
    /// the new key it reports `already_current`.
    pub fn rotate_master_key(
        &self,
        new_key: MasterKey,
        actor: &str,
        now: i64,
    ) -> Result<RotationReport, StoreError> {
        let actor = Actor::new(actor)?;
        dispatch!(self, b => b.rotate_master_key(new_key, &actor, now))
    }

    /// The decrypted value of an embed secret. Not for normal use (values
    /// are shown once); for tests and break-glass tooling only.
    #[doc(hidden)]
    pub fn reveal_embed_secret_value(
        &self,
        lookup: &Lookup,
    ) -> Result<Zeroizing<String>, StoreError> {
        dispatch!(self, b => b.reveal(EMBED, lookup))
    }

    fn set_active(
        &self,
        kind: SubjectKind,
        lookup: &Lookup,
        active: bool,
        actor: &str,
        now: i64,
    ) -> Result<Row, StoreError> {
        let actor = Actor::new(actor)?;
        dispatch!(self, b => b.set_active(kind, lookup, active, &actor, now))
    }

    /// The rows of `kind` whose name or description contains `query`,
    /// ignoring case. Filtered here rather than in SQL: SQLite's lower()
    /// only folds ASCII, and a store holds hundreds of secrets, not
    /// millions.
    fn search(&self, kind: SubjectKind, query: &str) -> Result<Vec<Row>, StoreError> {
        let rows = dispatch!(self, b => b.list(kind))?;
        let q = query.to_lowercase();
        if q.is_empty() {
            return Ok(rows);
        }
        Ok(rows
            .into_iter()
            .filter(|r| {
                r.name.to_lowercase().contains(&q) || r.description.to_lowercase().contains(&q)
            })
            .collect())
    }
}
