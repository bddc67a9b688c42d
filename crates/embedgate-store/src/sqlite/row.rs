//! One row of the `secrets` table, and its conversion to the public
//! metadata types. Decryption of the value lives here too, next to the
//! columns it reads.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension as _};
use zeroize::Zeroizing;

use crate::change_log::SubjectKind;
use crate::credential::{Credential, TokenType};
use crate::embed_secret::{EmbedKeyMaterial, EmbedSecret};
use crate::error::StoreError;
use crate::lookup::Lookup;
use crate::master_key::MasterKey;
use crate::sealed::{self, RowBinding, Sealed};

/// The columns [`Row::from_sql`] reads, in order.
pub(super) const COLUMNS: &str = "id, kind, client_id, name, description, environment, \
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

fn conversion(col: usize, e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, Box::new(e))
}

#[derive(Debug, thiserror::Error)]
#[error("unknown kind")]
struct UnknownKind;

impl Row {
    pub fn from_sql(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
        let kind: String = r.get(1)?;
        let scopes: String = r.get(8)?;
        Ok(Row {
            id: r.get(0)?,
            kind: SubjectKind::parse(&kind).ok_or_else(|| conversion(1, UnknownKind))?,
            client_id: r.get(2)?,
            name: r.get(3)?,
            description: r.get(4)?,
            environment: r.get(5)?,
            token_type: r.get(6)?,
            issuer: r.get(7)?,
            scopes: serde_json::from_str(&scopes).map_err(|e| conversion(8, e))?,
            owner: r.get(9)?,
            created_at: r.get(10)?,
            updated_at: r.get(11)?,
            last_used_at: r.get(12)?,
            expires_at: r.get(13)?,
            active: r.get(14)?,
            version: r.get(15)?,
            fingerprint: r.get(16)?,
            key_id: r.get(17)?,
            sealed: Sealed {
                nonce: r.get(18)?,
                ciphertext: r.get(19)?,
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

    /// An embed secret's row with its decrypted value, as the proxy's key
    /// cache holds it; `reactivated` maps row ids to their last `activate`.
    pub fn into_key_material(
        self,
        key: &MasterKey,
        reactivated: &HashMap<String, i64>,
    ) -> Result<EmbedKeyMaterial, StoreError> {
        Ok(EmbedKeyMaterial {
            value: self.decrypt(key)?,
            reactivated_at: reactivated.get(&self.id).copied(),
            id: self.id,
            client_id: self.client_id.unwrap_or_default(),
            name: self.name,
            active: self.active,
            expires_at: self.expires_at,
            scopes: self.scopes,
        })
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

/// The live row of `kind` matching `lookup`, if any.
pub(super) fn find(
    conn: &Connection,
    kind: SubjectKind,
    lookup: &Lookup,
) -> Result<Option<Row>, StoreError> {
    let condition = match lookup {
        Lookup::Id(_) => "id = ?2",
        Lookup::ClientId(_) => "client_id = ?2",
        Lookup::Name(_) => "lower(name) = lower(?2)",
        // Several rows can match (a name that equals another secret's id);
        // the ORDER BY makes id win over client id over name.
        _ => "(id = ?2 OR client_id = ?2 OR lower(name) = lower(?2))",
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM secrets WHERE kind = ?1 AND {condition} \
         ORDER BY CASE WHEN id = ?2 THEN 0 WHEN client_id = ?2 THEN 1 ELSE 2 END LIMIT 1"
    );
    Ok(conn
        .query_row(&sql, (kind.as_str(), lookup.as_str()), Row::from_sql)
        .optional()?)
}

/// Like [`find`], but a missing row is [`StoreError::NotFound`].
pub(super) fn require(
    conn: &Connection,
    kind: SubjectKind,
    lookup: &Lookup,
) -> Result<Row, StoreError> {
    find(conn, kind, lookup)?.ok_or_else(|| StoreError::NotFound {
        kind: kind.noun(),
        lookup: lookup.as_str().to_owned(),
    })
}

/// Every row of `kind`, by name.
pub(super) fn all(conn: &Connection, kind: SubjectKind) -> Result<Vec<Row>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM secrets WHERE kind = ?1 ORDER BY lower(name), id");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map([kind.as_str()], Row::from_sql)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
