//! The embedgate secret store: the system of record the proxy's key cache is
//! filled from.
//!
//! Two kinds of secret live here:
//!
//! - **embed secrets** ([`EmbedSecret`]): generated 32-character values that
//!   sign embed URLs, identified publicly by a client id (`eg_kid`). The
//!   value is returned once, by [`Store::create_embed_secret`], and can never
//!   be changed (rotate by creating a new one).
//! - **credentials** ([`Credential`]): values the user supplies for the proxy
//!   to inject upstream. They can be replaced (a new version) but are never
//!   read back except by the proxy ([`Store::credential_value`]).
//!
//! Every value is encrypted at rest with AES-256-GCM under a [`MasterKey`],
//! bound to its row (id, kind, version) so ciphertexts cannot be moved
//! between rows. A canary refuses a wrong key on open, before anything is
//! written. Every change is logged ([`ChangeEntry`], never a value) and
//! bumps a [`Store::revision`] readers can poll.
//!
//! [`Store`] hides the backend behind a URL: `sqlite://PATH` (one file, WAL
//! mode, `BEGIN IMMEDIATE` transactions; cargo feature `sqlite`, on by
//! default) or `postgres://…` (a store shared by a fleet of proxies, through
//! a connection pool, TLS as `sslmode` asks; cargo feature `postgres`;
//! every committed change is announced with `NOTIFY` on [`NOTIFY_CHANNEL`],
//! carrying only revisions and ids).
//!
//! The lifecycle rules, the validation, the change log and the master key
//! handling are written once; a backend only runs their SQL (see
//! `backend.rs`). A verifier's cache reads the keys with
//! [`Store::load_keys`] and then only what changed
//! ([`Store::changes_since`]); a row whose value fails to decrypt is
//! reported on its own ([`UnreadableRow`]) instead of failing the load.
//!
//! ```
//! # #[cfg(feature = "sqlite")] {
//! use embedgate_store::{Lookup, MasterKey, NewEmbedSecret, Store};
//! let dir = tempfile::tempdir()?;
//! let url = format!("sqlite://{}", dir.path().join("store.db").display());
//! let store = Store::open(&url, MasterKey::generate())?;
//! let now = 1_700_000_000;
//! let created = store.create_embed_secret(
//!     &NewEmbedSecret { name: "analytics".into(), ..Default::default() },
//!     "alice",
//!     now,
//! )?;
//! assert_eq!(created.value.len(), 32);
//! let shown = store.get_embed_secret(&Lookup::any("analytics"))?;
//! assert_eq!(shown.client_id, created.secret.client_id);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]
// A build without any backend compiles (and refuses every URL) but uses
// little of the crate.
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]

mod admin_token;
mod backend;
mod cache_load;
mod canary;
mod change_log;
mod checked;
mod credential;
mod embed_secret;
mod error;
mod fields;
mod fingerprint;
mod ids;
mod lifecycle;
mod lifecycle_rules;
mod lookup;
mod maintenance;
mod master_key;
mod paging;
#[cfg(feature = "postgres")]
mod postgres;
mod row;
mod sealed;
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;
mod timestamp;
mod writer;

pub use admin_token::{
    AdminToken, CreatedAdminToken, NewAdminToken, Role, ADMIN_TOKEN_ID_PREFIX, ADMIN_TOKEN_PREFIX,
};
pub use cache_load::{KeyChanges, KeyLoad, UnreadableRow, VerifyReport};
pub use change_log::{
    AuditFilter, AuditPage, ChangeAction, ChangeEntry, FieldChange, Page, SubjectKind,
};
pub use credential::{
    Credential, CredentialUpdate, NewCredential, PutCredential, PutOutcome, TokenType,
};
pub use embed_secret::{
    CreatedEmbedSecret, EmbedKeyMaterial, EmbedSecret, EmbedSecretUpdate, NewEmbedSecret,
};
pub use error::StoreError;
pub use fields::{
    MAX_DESCRIPTION_CHARS, MAX_LABEL_CHARS, MAX_NAME_CHARS, MAX_SCOPES, MAX_VALUE_BYTES,
};
pub use ids::{is_client_id, CLIENT_ID_PREFIX, CREDENTIAL_ID_PREFIX, EMBED_ID_PREFIX};
pub use lookup::Lookup;
pub use maintenance::{PurgedSecret, RotationReport, StoreOptions, DEFAULT_PURGE_AFTER_SECS};
pub use master_key::{MasterKey, MASTER_KEY_ENV, MASTER_KEY_LEN};
pub use paging::{ListPage, ListRequest, MAX_PAGE_ITEMS};
pub use store::Store;
pub use timestamp::{format_rfc3339, parse_rfc3339};
pub use writer::NOTIFY_CHANNEL;

/// The TLS connector of the store's PostgreSQL connections (rustls).
#[cfg(feature = "postgres")]
pub use tokio_postgres_rustls::MakeRustlsConnect as PostgresTls;

/// How the store connects to the PostgreSQL at `url`: the configuration
/// (without `sslmode` and `sslrootcert`, which tokio-postgres does not
/// fully know) and a TLS connector that does what `sslmode` asks, with
/// libpq's meanings. For another connection to the store's database, such
/// as a proxy's `LISTEN`.
#[cfg(feature = "postgres")]
pub fn postgres_connect_config(
    url: &str,
) -> Result<(tokio_postgres::Config, PostgresTls), StoreError> {
    postgres::tls::configure(url)
}
pub use zeroize::Zeroizing;
