//! [`Store`]: the one handle callers use, whatever the backend.
//!
//! Callers see only this type, the metadata types and [`StoreError`]; the
//! backend is chosen by the URL. Arguments are checked here (see
//! `checked.rs`), every change runs in a [`Writer`] (revision, master key
//! check, change log), and the operations themselves are written once
//! (`lifecycle.rs`, `admin_token.rs`, `maintenance.rs`, `cache_load.rs`):
//! a backend (`sqlite/`, `postgres/`) only runs their SQL.

use std::sync::{Arc, Mutex, PoisonError, RwLock};

use zeroize::Zeroizing;

use crate::admin_token::{self, AdminToken, CreatedAdminToken, NewAdminToken, Role};
use crate::backend::{self, Backend};
use crate::cache_load::{self, KeyChanges, KeyLoad, VerifyReport};
use crate::canary::{self, KeyCheck};
use crate::change_log::{self, AuditFilter, AuditPage, ChangeEntry, Page, SubjectKind};
use crate::checked::{Actor, MetaUpdate, NewSecret, NewToken, NewValue, PutSecret};
use crate::credential::{Credential, CredentialUpdate, NewCredential, PutCredential, PutOutcome};
use crate::embed_secret::{
    CreatedEmbedSecret, EmbedKeyMaterial, EmbedSecret, EmbedSecretUpdate, NewEmbedSecret,
};
use crate::error::StoreError;
use crate::lifecycle;
use crate::lookup::Lookup;
use crate::maintenance::{self, PurgedSecret, RotationReport, StoreOptions};
use crate::master_key::MasterKey;
use crate::paging::{self, ListPage, ListRequest};
use crate::row::{self, Row, COLUMNS};
use crate::sql::Sql;
use crate::writer::Writer;

/// The secret store. Cheap to clone (an `Arc`), `Send + Sync`.
///
/// The API is synchronous: calls do file or network I/O and may wait for
/// another process's transaction, so async callers wrap them in
/// `tokio::task::spawn_blocking`. Every mutating call takes the `actor` (for
/// the change log) and `now` (Unix seconds): the store never reads a clock,
/// except in [`Store::credential_value`], whose signature has no `now`.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    backend: Box<dyn Backend>,
    /// The key values are sealed under; replaced by a rotation.
    key: RwLock<MasterKey>,
    /// One writer of this process at a time: writers wait for each other
    /// in the database anyway, and a rotation swaps the key before the
    /// next writer reads it.
    writing: Mutex<()>,
    options: StoreOptions,
}

const EMBED: SubjectKind = SubjectKind::EmbedSecret;
const CREDENTIAL: SubjectKind = SubjectKind::Credential;

/// The backend for `url`, checked with `check` before anything is written.
fn open_backend(
    url: &str,
    options: StoreOptions,
    check: &mut backend::TxBody<'_>,
) -> Result<Box<dyn Backend>, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(StoreError::invalid("url", "sqlite:// needs a file path"));
        }
        #[cfg(feature = "sqlite")]
        return Ok(Box::new(crate::sqlite::SqliteBackend::open(
            std::path::Path::new(path),
            options,
            check,
        )?));
        #[cfg(not(feature = "sqlite"))]
        return Err(StoreError::invalid(
            "url",
            "this build has no SQLite backend (cargo feature `sqlite`)",
        ));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        return Ok(Box::new(crate::postgres::PostgresBackend::open(
            url, options, check,
        )?));
        #[cfg(not(feature = "postgres"))]
        return Err(StoreError::invalid(
            "url",
            "this build has no PostgreSQL backend (cargo feature `postgres`)",
        ));
    }
    let _ = (options, check);
    Err(StoreError::invalid(
        "url",
        "expected sqlite://PATH (e.g. sqlite:///var/lib/embedgate/store.db) or postgres://USER@HOST/DB",
    ))
}

impl Store {
    /// Opens the store at `url` (`sqlite://PATH`: the file is created if
    /// missing; `postgres://…`: the schema is created in the connection's
    /// `current_schema()`) with the default options.
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
        // Read-only first: a wrong key is refused before any write.
        let backend = open_backend(url, options, &mut |sql| {
            canary::check(sql, &key).map(|_| ())
        })?;
        // A new store records this key; re-checked under the write lock,
        // in case another process initialised the store meanwhile.
        if backend::read(&*backend, |sql| canary::check(sql, &key))? == KeyCheck::Fresh {
            backend::write(&*backend, |sql| canary::record_if_fresh(sql, &key))?;
        }
        Ok(Store {
            inner: Arc::new(Inner {
                backend,
                key: RwLock::new(key),
                writing: Mutex::new(()),
                options,
            }),
        })
    }

    fn key(&self) -> MasterKey {
        self.inner
            .key
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn backend(&self) -> &dyn Backend {
        &*self.inner.backend
    }

    /// Runs `f` in a read transaction: one consistent snapshot.
    fn read<T>(
        &self,
        mut f: impl FnMut(&mut dyn Sql, &MasterKey) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let key = self.key();
        backend::read(self.backend(), |sql| f(sql, &key))
    }

    /// Runs `f` as one logged change (see `writer.rs`) and commits.
    fn write<T>(
        &self,
        mut f: impl FnMut(&mut Writer<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _one_writer = self
            .inner
            .writing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let key = self.key();
        let schema = self.backend().schema();
        backend::write(self.backend(), |sql| {
            let mut w = Writer::begin(sql, &key)?;
            let out = f(&mut w)?;
            w.finish(schema)?;
            Ok(out)
        })
    }

    /// Runs `f` in a write transaction that is not a logged change (usage
    /// times): no revision bump, no change-log entry.
    fn quiet_write(
        &self,
        mut f: impl FnMut(&mut dyn Sql) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        backend::write(self.backend(), |sql| f(sql))
    }

    /// The options the store was opened with.
    pub fn options(&self) -> StoreOptions {
        self.inner.options
    }

    /// Id of the master key the store is currently encrypted under.
    pub fn master_key_id(&self) -> String {
        self.key().id().to_owned()
    }

    /// The revision: grows by one with every logged change. Cheap (one
    /// indexed read), for readers polling for changes.
    pub fn revision(&self) -> Result<u64, StoreError> {
        self.read(|sql, _| cache_load::revision(sql))
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
        let row = self.write(|w| lifecycle::create(w, &new, &actor, now))?;
        Ok(CreatedEmbedSecret {
            secret: row.into_embed_secret(),
            value,
        })
    }

    /// One embed secret's metadata.
    pub fn get_embed_secret(&self, lookup: &Lookup) -> Result<EmbedSecret, StoreError> {
        Ok(self.get(EMBED, lookup)?.into_embed_secret())
    }

    /// Every embed secret, by name. A store with many secrets is better
    /// read in pages ([`Store::list_embed_secrets_page`]).
    pub fn list_embed_secrets(&self) -> Result<Vec<EmbedSecret>, StoreError> {
        self.search_embed_secrets("")
    }

    /// Embed secrets whose name or description contains `query`, ignoring
    /// case (an empty query matches all).
    pub fn search_embed_secrets(&self, query: &str) -> Result<Vec<EmbedSecret>, StoreError> {
        let rows = self.search(EMBED, query)?;
        Ok(rows.into_iter().map(Row::into_embed_secret).collect())
    }

    /// One page of embed secrets, by name: at most `request.limit`, after
    /// `request.cursor`, matching `request.search` like
    /// [`Store::search_embed_secrets`].
    pub fn list_embed_secrets_page(
        &self,
        request: &ListRequest,
    ) -> Result<ListPage<EmbedSecret>, StoreError> {
        let page = self.page(EMBED, request)?;
        Ok(ListPage {
            items: page.items.into_iter().map(Row::into_embed_secret).collect(),
            next_cursor: page.next_cursor,
        })
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
        let row = self.write(|w| lifecycle::update(w, EMBED, lookup, &u, &actor, now))?;
        Ok(row.into_embed_secret())
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
        self.delete(EMBED, lookup, actor, now)
            .map(Row::into_embed_secret)
    }

    /// An embed secret's change log, oldest first (also after deletion, by
    /// id or former name).
    pub fn embed_secret_history(&self, lookup: &Lookup) -> Result<Vec<ChangeEntry>, StoreError> {
        self.read(|sql, _| change_log::history(sql, EMBED, lookup))
    }

    /// The PostgreSQL schema this store lives in, or `None` for SQLite.
    /// Change notifications name it (channels are per database).
    pub fn postgres_schema(&self) -> Option<&str> {
        self.backend().schema()
    }

    /// Every embed secret (active and inactive, expired included) with its
    /// decrypted value, and the revision they are as of (one snapshot).
    /// Fails with `decrypt_failed` if any value cannot be decrypted; a
    /// verifier that must keep the others uses [`Store::load_keys`].
    pub fn load_embed_keys(&self) -> Result<(u64, Vec<EmbedKeyMaterial>), StoreError> {
        let load = self.load_keys()?;
        match load.unreadable.into_iter().next() {
            Some(bad) => Err(bad.error),
            None => Ok((load.revision, load.keys)),
        }
    }

    /// Every embed secret with its decrypted value, as of one revision; a
    /// row whose value fails to decrypt is listed in
    /// [`KeyLoad::unreadable`] instead of failing the load.
    pub fn load_keys(&self) -> Result<KeyLoad, StoreError> {
        self.read(cache_load::load_all)
    }

    /// The embed secrets with these row ids that still exist, with their
    /// values (as [`Store::load_keys`]); ids of deleted secrets are
    /// simply absent.
    pub fn load_keys_for(&self, ids: &[String]) -> Result<KeyLoad, StoreError> {
        self.read(|sql, key| cache_load::load_ids(sql, key, ids))
    }

    /// What changed after `revision`, with the changed embed secrets
    /// loaded, in one snapshot: what a cache at `revision` applies to be
    /// current, at the cost of the rows changed. `None` when the change
    /// log cannot tell (more than a few thousand changes, changes logged
    /// before it recorded revisions, or `revision` ahead of the store):
    /// load everything instead.
    pub fn changes_since(&self, revision: u64) -> Result<Option<KeyChanges>, StoreError> {
        self.read(|sql, key| cache_load::since(sql, key, revision))
    }

    /// Records last-use times by client id, in one transaction. Times only
    /// move forward; unknown client ids are ignored. Does not bump the
    /// revision or write the change log.
    pub fn record_embed_usage(&self, uses: &[(String, i64)]) -> Result<(), StoreError> {
        self.record_usage(EMBED, uses)
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
        let row = self.write(|w| lifecycle::create(w, &new, &actor, now))?;
        Ok(row.into_credential())
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
            match self.get(CREDENTIAL, &Lookup::name(name)) {
                Ok(_) => Ok(true),
                Err(StoreError::NotFound { .. }) => Ok(false),
                Err(e) => Err(e),
            }
        })?;
        let (row, created) = self.write(|w| lifecycle::put_credential(w, &put, &actor, now))?;
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
        let row = self.write(|w| lifecycle::replace_value(w, lookup, &value, &actor, now))?;
        Ok(row.into_credential())
    }

    /// One credential's metadata.
    pub fn get_credential(&self, lookup: &Lookup) -> Result<Credential, StoreError> {
        Ok(self.get(CREDENTIAL, lookup)?.into_credential())
    }

    /// Every credential, by name.
    pub fn list_credentials(&self) -> Result<Vec<Credential>, StoreError> {
        self.search_credentials("")
    }

    /// Credentials whose name or description contains `query`, ignoring case.
    pub fn search_credentials(&self, query: &str) -> Result<Vec<Credential>, StoreError> {
        let rows = self.search(CREDENTIAL, query)?;
        Ok(rows.into_iter().map(Row::into_credential).collect())
    }

    /// One page of credentials, by name (see
    /// [`Store::list_embed_secrets_page`]).
    pub fn list_credentials_page(
        &self,
        request: &ListRequest,
    ) -> Result<ListPage<Credential>, StoreError> {
        let page = self.page(CREDENTIAL, request)?;
        Ok(ListPage {
            items: page.items.into_iter().map(Row::into_credential).collect(),
            next_cursor: page.next_cursor,
        })
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
        let row = self.write(|w| lifecycle::update(w, CREDENTIAL, lookup, &u, &actor, now))?;
        Ok(row.into_credential())
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
        self.delete(CREDENTIAL, lookup, actor, now)
            .map(Row::into_credential)
    }

    /// A credential's change log, oldest first.
    pub fn credential_history(&self, lookup: &Lookup) -> Result<Vec<ChangeEntry>, StoreError> {
        self.read(|sql, _| change_log::history(sql, CREDENTIAL, lookup))
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
        self.read(|sql, key| lifecycle::credential_value_at(sql, key, name, now))
    }

    /// Records last-use times of credentials by name (like
    /// [`Store::record_embed_usage`]).
    pub fn record_credential_usage(&self, uses: &[(String, i64)]) -> Result<(), StoreError> {
        self.record_usage(CREDENTIAL, uses)
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
        self.write(|w| admin_token::create(w, &new, &actor, now))
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
        self.write(|w| admin_token::create_first(w, &new, &actor, now))
    }

    /// Every admin token's metadata, by name.
    pub fn list_admin_tokens(&self) -> Result<Vec<AdminToken>, StoreError> {
        self.read(|sql, _| admin_token::all(sql))
    }

    /// One page of admin tokens, by name (`request.search` matches the
    /// name).
    pub fn list_admin_tokens_page(
        &self,
        request: &ListRequest,
    ) -> Result<ListPage<AdminToken>, StoreError> {
        self.read(|sql, _| admin_token::page(sql, request))
    }

    /// The token a presented bearer token belongs to, if any (hash compared
    /// in constant time); notes the use in `last_used_at` (to the minute,
    /// not a logged change).
    pub fn authenticate_admin_token(
        &self,
        presented: &str,
        now: i64,
    ) -> Result<Option<AdminToken>, StoreError> {
        let Some(mut token) = self.read(|sql, _| admin_token::find_presented(sql, presented))?
        else {
            return Ok(None);
        };
        if token
            .last_used_at
            .is_none_or(|t| now - t >= admin_token::LAST_USED_GRANULARITY)
        {
            self.quiet_write(|sql| admin_token::touch(sql, &token.id, now))?;
            token.last_used_at = Some(now);
        }
        Ok(Some(token))
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
        self.write(|w| admin_token::revoke(w, id_or_name, &actor, now))
    }

    // ----- store-wide -----

    /// A page of the whole change log, oldest first.
    pub fn audit(&self, filter: &AuditFilter, page: Page) -> Result<AuditPage, StoreError> {
        self.read(|sql, _| change_log::audit(sql, filter, page))
    }

    /// Deletes every secret that expired at least the purge delay (30 days
    /// by default) before `now`, logging each. Call it periodically.
    pub fn purge_expired(&self, actor: &str, now: i64) -> Result<Vec<PurgedSecret>, StoreError> {
        let actor = Actor::new(actor)?;
        let cutoff = now.saturating_sub(self.inner.options.purge_after_secs);
        self.write(|w| maintenance::purge_expired(w, cutoff, &actor, now))
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
        let _one_writer = self
            .inner
            .writing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let old_key = self.key();
        let schema = self.backend().schema();
        let report = backend::write(self.backend(), |sql| {
            let mut w = Writer::begin(sql, &old_key)?;
            let report = maintenance::rotate_master_key(&mut w, &new_key, &actor, now)?;
            w.finish(schema)?;
            Ok(report)
        })?;
        if !report.already_current {
            *self
                .inner
                .key
                .write()
                .unwrap_or_else(PoisonError::into_inner) = new_key;
        }
        Ok(report)
    }

    /// Checks the master key's canary and that every sealed value (embed
    /// secrets and credentials) decrypts, in one snapshot; lists the rows
    /// that do not. Reads only.
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        self.read(cache_load::verify)
    }

    /// The decrypted value of an embed secret. Not for normal use (values
    /// are shown once); for tests and break-glass tooling only.
    #[doc(hidden)]
    pub fn reveal_embed_secret_value(
        &self,
        lookup: &Lookup,
    ) -> Result<Zeroizing<String>, StoreError> {
        self.read(|sql, key| row::require(sql, EMBED, lookup)?.decrypt(key))
    }

    fn get(&self, kind: SubjectKind, lookup: &Lookup) -> Result<Row, StoreError> {
        self.read(|sql, _| row::require(sql, kind, lookup))
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
        self.write(|w| lifecycle::set_active(w, kind, lookup, active, &actor, now))
    }

    fn delete(
        &self,
        kind: SubjectKind,
        lookup: &Lookup,
        actor: &str,
        now: i64,
    ) -> Result<Row, StoreError> {
        let actor = Actor::new(actor)?;
        self.write(|w| lifecycle::delete(w, kind, lookup, &actor, now))
    }

    fn record_usage(&self, kind: SubjectKind, uses: &[(String, i64)]) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        self.quiet_write(|sql| lifecycle::record_usage(sql, kind, uses))
    }

    /// The rows of `kind` whose name or description contains `query`,
    /// ignoring case. Filtered here rather than in SQL: SQLite's lower()
    /// only folds ASCII.
    fn search(&self, kind: SubjectKind, query: &str) -> Result<Vec<Row>, StoreError> {
        let rows = self.read(|sql, _| lifecycle::all(sql, kind))?;
        let q = query.to_lowercase();
        if q.is_empty() {
            return Ok(rows);
        }
        Ok(rows.into_iter().filter(|r| matches(r, &q)).collect())
    }

    fn page(&self, kind: SubjectKind, request: &ListRequest) -> Result<ListPage<Row>, StoreError> {
        let q = request.search.to_lowercase();
        self.read(|sql, _| {
            paging::page(
                sql,
                "secrets",
                COLUMNS,
                Some(("kind = ?1", kind.as_str())),
                request,
                Row::read,
                |r| q.is_empty() || matches(r, &q),
            )
        })
    }
}

/// Whether a row's name or description contains `q` (lower-cased).
fn matches(r: &Row, q: &str) -> bool {
    r.name.to_lowercase().contains(q) || r.description.to_lowercase().contains(q)
}
