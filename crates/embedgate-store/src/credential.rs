//! Credentials: values the user supplies for the proxy to inject upstream.
//! They can be replaced (a new version) but never read back, except by the
//! proxy through [`crate::Store::credential_value`].

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::error::StoreError;

/// What kind of token a credential is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TokenType {
    /// An API key.
    ApiKey,
    /// An OAuth access token or similar bearer token.
    AccessToken,
    /// An OAuth refresh token.
    RefreshToken,
    /// A client token / client secret.
    ClientToken,
    /// A request token.
    RequestToken,
    /// Anything else (passwords, ...).
    #[default]
    Other,
}

const TOKEN_TYPES: [TokenType; 6] = [
    TokenType::ApiKey,
    TokenType::AccessToken,
    TokenType::RefreshToken,
    TokenType::ClientToken,
    TokenType::RequestToken,
    TokenType::Other,
];

impl TokenType {
    /// Stable text form (`api_key`, `access_token`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::ApiKey => "api_key",
            TokenType::AccessToken => "access_token",
            TokenType::RefreshToken => "refresh_token",
            TokenType::ClientToken => "client_token",
            TokenType::RequestToken => "request_token",
            TokenType::Other => "other",
        }
    }
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TokenType {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<TokenType, StoreError> {
        TOKEN_TYPES
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                StoreError::invalid(
                    "token_type",
                    "expected one of api_key, access_token, refresh_token, client_token, request_token, other",
                )
            })
    }
}

/// A credential's metadata. Never holds the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Credential {
    /// Row id (`cred_…`).
    pub id: String,
    /// Unique among live credentials (case-insensitive); the proxy refers to
    /// credentials by name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The kind of token.
    pub token_type: TokenType,
    /// Who issued it (free text).
    pub issuer: String,
    /// Scopes of the credential (free-form path prefixes, normalised).
    pub scopes: Vec<String>,
    /// The admin who created it.
    pub owner: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last change.
    pub updated_at: i64,
    /// Unix seconds of the last use reported by a proxy.
    pub last_used_at: Option<i64>,
    /// Expiry, Unix seconds.
    pub expires_at: Option<i64>,
    /// Whether the proxy may use it (when also unexpired).
    pub active: bool,
    /// Value version: 1, then +1 per replacement.
    pub version: i64,
    /// First 4 characters and length of the value (length only for short values).
    pub fingerprint: String,
    /// Id of the master key the value is encrypted under.
    pub master_key_id: String,
}

impl Credential {
    /// Whether `now` is at or past the expiry.
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }
}

/// A new credential's metadata (the value is passed separately).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewCredential {
    /// Unique name, 1–100 characters.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Token type.
    pub token_type: TokenType,
    /// Issuer.
    pub issuer: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Expiry, Unix seconds.
    pub expires_at: Option<i64>,
}

/// Metadata changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialUpdate {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New token type.
    pub token_type: Option<TokenType>,
    /// New issuer.
    pub issuer: Option<String>,
    /// New scopes.
    pub scopes: Option<Vec<String>>,
    /// New expiry (`Some(None)` removes it).
    pub expires_at: Option<Option<i64>>,
    /// New owner: who answers for the credential (at first the admin who
    /// stored it).
    pub owner: Option<String>,
}

/// Create-or-replace by name, as `embedgate credentials put` does.
///
/// If no credential has the name, one is created (unset fields take their
/// defaults). If one exists, its value is replaced by a new version, its
/// expiry is set to `expires_at` (an expiry belongs to a value), and the
/// other fields that are `Some` are updated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutCredential {
    /// The name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Token type.
    pub token_type: Option<TokenType>,
    /// Issuer.
    pub issuer: Option<String>,
    /// Scopes.
    pub scopes: Option<Vec<String>>,
    /// Expiry of this value.
    pub expires_at: Option<i64>,
}

/// What [`crate::Store::put_credential`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PutOutcome {
    /// The credential after the change.
    pub credential: Credential,
    /// `true` if it was created, `false` if its value was replaced.
    pub created: bool,
}
