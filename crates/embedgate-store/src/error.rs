//! The one error type of the store, with stable codes.
//!
//! Callers (the CLI, a later admin API) branch on [`StoreError::code`], never
//! on the `Display` wording, which may change. No variant carries a secret
//! value: only ids, names, field names and key ids.

use std::path::PathBuf;

/// Everything that can go wrong in the store.
///
/// The admin API maps the codes to HTTP statuses: `not_found` → 404,
/// `name_taken` → 409, `expired_cannot_activate` → 422, `invalid_input` →
/// 400, `unavailable` → 503; everything else is a server-side error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No live secret matches the lookup.
    #[error("no {kind} matches {lookup:?}")]
    NotFound {
        /// `"embed secret"` or `"credential"`.
        kind: &'static str,
        /// What was looked up (an id, client id or name; never a value).
        lookup: String,
    },
    /// Another live secret of the same kind already has this name.
    #[error("the name {name:?} is already taken by another {kind}")]
    NameTaken {
        /// `"embed secret"` or `"credential"`.
        kind: &'static str,
        /// The requested name.
        name: String,
    },
    /// An expired secret cannot be reactivated (create a new one instead).
    #[error("secret {id} expired and cannot be reactivated; create a new one")]
    ExpiredCannotActivate {
        /// The secret's id.
        id: String,
    },
    /// An argument is out of range or malformed.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The field at fault (`"name"`, `"scope"`, `"url"`, ...).
        field: &'static str,
        /// Why, without echoing any secret.
        reason: String,
    },
    /// The master key material itself is malformed or cannot be read.
    #[error("invalid master key: {0}")]
    InvalidMasterKey(String),
    /// No master key was provided.
    #[error("no master key: set EMBEDGATE_MASTER_KEY (base64 of 32 bytes) or pass a key file")]
    MasterKeyMissing,
    /// A key file already exists where a new one was to be generated.
    #[error("key file {0} already exists; refusing to overwrite it")]
    KeyFileExists(PathBuf),
    /// The store was encrypted under a different master key. Nothing was
    /// written.
    #[error("wrong master key: the store expects master key id {expected}, this key has id {given}{hint}")]
    WrongMasterKey {
        /// Id of the key the store is encrypted under.
        expected: String,
        /// Id of the key that was offered.
        given: String,
        /// Extra context, e.g. that the offered key was retired by a rotation.
        hint: String,
    },
    /// A stored value failed authenticated decryption: it was altered, moved
    /// from another row, or encrypted under a key the store was not opened
    /// with.
    #[error("cannot decrypt secret {id}: {reason}")]
    DecryptFailed {
        /// The row's id.
        id: String,
        /// Why.
        reason: String,
    },
    /// The database file was written by a newer embedgate.
    #[error("the store schema version {found} is newer than this embedgate supports ({supported}); upgrade embedgate")]
    SchemaTooNew {
        /// The version found in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The underlying database failed (I/O, corruption, lock timeout).
    #[error("storage error: {0}")]
    Storage(String),
    /// The database server cannot be reached (PostgreSQL down, connection
    /// lost). Transient: nothing was changed, retry later. The admin API
    /// maps it to 503.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// The stable, machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotFound { .. } => "not_found",
            StoreError::NameTaken { .. } => "name_taken",
            StoreError::ExpiredCannotActivate { .. } => "expired_cannot_activate",
            StoreError::InvalidInput { .. } => "invalid_input",
            StoreError::InvalidMasterKey(_) => "invalid_master_key",
            StoreError::MasterKeyMissing => "master_key_missing",
            StoreError::KeyFileExists(_) => "key_file_exists",
            StoreError::WrongMasterKey { .. } => "wrong_master_key",
            StoreError::DecryptFailed { .. } => "decrypt_failed",
            StoreError::SchemaTooNew { .. } => "schema_too_new",
            StoreError::Storage(_) => "storage",
            StoreError::Unavailable(_) => "unavailable",
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> StoreError {
        StoreError::InvalidInput {
            field,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(
            StoreError::invalid("name", "too long").code(),
            "invalid_input"
        );
        assert_eq!(
            StoreError::NotFound {
                kind: "credential",
                lookup: "x".into()
            }
            .code(),
            "not_found"
        );
        assert!(StoreError::invalid("name", "too long")
            .to_string()
            .contains("name"));
    }
}
