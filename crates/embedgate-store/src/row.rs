//! One row of the `secrets` table, and its conversion to the public
//! metadata types. Decryption of the value lives here too, next to the
//! columns it reads; so do the queries that find rows.

use std::collections::HashMap;

use zeroize::Zeroizing;

use crate::change_log::SubjectKind;
use crate::credential::{Credential, TokenType};
use crate::embed_secret::{EmbedKeyMaterial, EmbedSecret};
use crate::error::StoreError;
use crate::lookup::Lookup;
use crate::master_key::MasterKey;
use crate::sealed::{self, RowBinding, Sealed};
use crate::sql::{params, Sql, SqlRow};

/// The columns [`Row::read`] reads, in order.
pub(crate) const COLUMNS: &str = "id, kind, client_id, name, description, environment, \
     token_type, issuer, scopes, owner, created_at, updated_at, last_used_at, expires_at, \
     active, value_version, fingerprint, key_id, nonce, ciphertext";

#[derive(Clone)]
pub(crate) struct Row {
    pub id: String,
    pub kind: SubjectKind,
    pub client_id: Option<String>,
    pub name: String,
    pub description: String,
    pub environment: String,
    pub token_type: Option<String>,
    pub issuer: String,
    pub scopes: Vec<String>,
    pub owner: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub active: bool,
    pub version: i64,
    pub fingerprint: String,
    pub key_id: String,
    pub sealed: Sealed,
}

impl Row {
    /// One row, read from [`COLUMNS`].
    pub fn read(r: &dyn SqlRow) -> Result<Row, StoreError> {
        let kind = r.text(1)?;
        let scopes = r.text(8)?;
        Ok(Row {
            id: r.text(0)?,
            kind: SubjectKind::parse(&kind)
                .ok_or_else(|| StoreError::Storage(format!("unknown kind {kind:?} in secrets")))?,
            client_id: r.opt_text(2)?,
            name: r.text(3)?,
            description: r.text(4)?,
            environment: r.text(5)?,
            token_type: r.opt_text(6)?,
            issuer: r.text(7)?,
            scopes: serde_json::from_str(&scopes)
                .map_err(|e| StoreError::Storage(format!("bad scopes column: {e}")))?,
            owner: r.text(9)?,
            created_at: r.int(10)?,
            updated_at: r.int(11)?,
            last_used_at: r.opt_int(12)?,
            expires_at: r.opt_int(13)?,
            active: r.boolean(14)?,
            version: r.int(15)?,
            fingerprint: r.text(16)?,
            key_id: r.text(17)?,
            sealed: Sealed {
                nonce: r.bytes(18)?,
                ciphertext: r.bytes(19)?,
            },
        })
    }

    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }

    pub fn binding(&self) -> RowBinding<'_> {
        RowBinding {
            kind: self.kind.as_str(),
            id: &self.id,
            version: self.version,
        }
    }

    /// The decrypted value. Checks the row's key id first, so a row left
    /// under another key says so instead of "authentication failed".
    pub fn decrypt(&self, key: &MasterKey) -> Result<Zeroizing<String>, StoreError> {
        if self.key_id != key.id() {
            return Err(StoreError::DecryptFailed {
                id: self.id.clone(),
                reason: format!(
                    "it is encrypted under master key id {}, but the store was opened with key id {}",
                    self.key_id,
                    key.id()
                ),
            });
        }
        let bytes = sealed::open(key, self.binding(), &self.sealed)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| StoreError::DecryptFailed {
            id: self.id.clone(),
            reason: "the decrypted value is not UTF-8".into(),
        })?;
        Ok(Zeroizing::new(text.to_owned()))
    }

    pub fn into_embed_secret(self) -> EmbedSecret {
        EmbedSecret {
            id: self.id,
            client_id: self.client_id.unwrap_or_default(),
            name: self.name,
            description: self.description,
            environment: self.environment,
            scopes: self.scopes,
            owner: self.owner,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_used_at: self.last_used_at,
            expires_at: self.expires_at,
            active: self.active,
            fingerprint: self.fingerprint,
            master_key_id: self.key_id,
        }
    }

    /// An embed secret's row with its decrypted `value`, as the proxy's
    /// key cache holds it; `reactivated` maps row ids to their last
    /// `activate`.
    pub fn into_key_material(
        self,
        value: Zeroizing<String>,
        reactivated: &HashMap<String, i64>,
    ) -> EmbedKeyMaterial {
        EmbedKeyMaterial {
            value,
            reactivated_at: reactivated.get(&self.id).copied(),
            id: self.id,
            client_id: self.client_id.unwrap_or_default(),
            name: self.name,
            active: self.active,
            expires_at: self.expires_at,
            scopes: self.scopes,
        }
    }

    pub fn into_credential(self) -> Credential {
        Credential {
            token_type: self
                .token_type
                .as_deref()
                .and_then(|t| t.parse().ok())
                .unwrap_or(TokenType::Other),
            id: self.id,
            name: self.name,
            description: self.description,
            issuer: self.issuer,
            scopes: self.scopes,
            owner: self.owner,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_used_at: self.last_used_at,
            expires_at: self.expires_at,
            active: self.active,
            version: self.version,
            fingerprint: self.fingerprint,
            master_key_id: self.key_id,
        }
    }
}

/// The live row of `kind` matching `lookup`, if any. [`Lookup::Any`]
/// tries id, then client id, then name, each an indexed lookup (an `OR`
/// of the three would scan the table on every admin write).
pub(crate) fn find(
    sql: &mut dyn Sql,
    kind: SubjectKind,
    lookup: &Lookup,
) -> Result<Option<Row>, StoreError> {
    let by = |sql: &mut dyn Sql, condition: &str| {
        sql.first(
            &format!("SELECT {COLUMNS} FROM secrets WHERE kind = ?1 AND {condition}"),
            params![kind.as_str(), lookup.as_str()],
            Row::read,
        )
    };
    const ID: &str = "id = ?2";
    const CLIENT_ID: &str = "client_id = ?2";
    const NAME: &str = "lower(name) = lower(?2)";
    match lookup {
        Lookup::Id(_) => by(sql, ID),
        Lookup::ClientId(_) => by(sql, CLIENT_ID),
        Lookup::Name(_) => by(sql, NAME),
        _ => {
            for condition in [ID, CLIENT_ID, NAME] {
                if let Some(r) = by(sql, condition)? {
                    return Ok(Some(r));
                }
            }
            Ok(None)
        }
    }
}

/// Like [`find`], but a missing row is [`StoreError::NotFound`].
pub(crate) fn require(
    sql: &mut dyn Sql,
    kind: SubjectKind,
    lookup: &Lookup,
) -> Result<Row, StoreError> {
    find(sql, kind, lookup)?.ok_or_else(|| StoreError::NotFound {
        kind: kind.noun(),
        lookup: lookup.as_str().to_owned(),
    })
}
