//! Caller input, checked once by [`crate::Store`] before a backend sees it.
//!
//! Each constructor runs the field checks in the order callers have always
//! seen them (the first failing field is the one reported) and reads no
//! storage, so a refused call writes nothing and an invalid argument is
//! reported before `not_found`. The backends take only these types: they do
//! SQL, never validation.

use std::ops::Deref;

use zeroize::Zeroizing;

use crate::admin_token::{self, AdminToken, NewAdminToken, ADMIN_TOKEN_ID_PREFIX};
use crate::change_log::SubjectKind;
use crate::credential::{CredentialUpdate, NewCredential, PutCredential, TokenType};
use crate::embed_secret::{EmbedSecretUpdate, NewEmbedSecret};
use crate::error::StoreError;
use crate::fields;
use crate::fingerprint::fingerprint;
use crate::ids;
use crate::lifecycle_rules::blank_row;
use crate::row::Row;

/// Who makes a change: required, trimmed, at most 200 characters.
#[derive(Debug)]
pub(crate) struct Actor(String);

impl Actor {
    pub(crate) fn new(raw: &str) -> Result<Actor, StoreError> {
        fields::actor(raw).map(Actor)
    }
}

impl Deref for Actor {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

fn check_future(expires_at: Option<i64>, now: i64) -> Result<(), StoreError> {
    match expires_at {
        Some(e) if e <= now => Err(StoreError::invalid("expires_at", "is not in the future")),
        _ => Ok(()),
    }
}

/// A secret to create: its row, complete but for the key id and the sealed
/// value (the backend seals under its key, inside the transaction), and
/// the value.
pub(crate) struct NewSecret<'v> {
    pub row: Row,
    pub value: &'v str,
}

impl<'v> NewSecret<'v> {
    /// An embed secret with the generated `value`. Checks the name,
    /// description, environment, scopes, then the expiry.
    pub(crate) fn embed(
        new: &NewEmbedSecret,
        value: &'v str,
        actor: &Actor,
        now: i64,
    ) -> Result<NewSecret<'v>, StoreError> {
        let name = fields::name(&new.name)?;
        let description = fields::description(&new.description)?;
        let environment = fields::environment(&new.environment)?;
        let scopes = fields::scopes(&new.scopes)?;
        check_future(new.expires_at, now)?;
        let mut row = blank_row(
            SubjectKind::EmbedSecret,
            ids::new_row_id(ids::EMBED_ID_PREFIX),
            name,
            actor,
            now,
        );
        row.client_id = Some(ids::new_client_id());
        row.description = description;
        row.environment = environment;
        row.scopes = scopes;
        row.expires_at = new.expires_at;
        row.fingerprint = fingerprint(value);
        Ok(NewSecret { row, value })
    }

    /// A credential. Checks the name, description, issuer, scopes, expiry,
    /// then the value.
    pub(crate) fn credential(
        new: &NewCredential,
        value: &'v str,
        actor: &Actor,
        now: i64,
    ) -> Result<NewSecret<'v>, StoreError> {
        let checked = NewCredential {
            name: fields::name(&new.name)?,
            description: fields::description(&new.description)?,
            token_type: new.token_type,
            issuer: fields::issuer(&new.issuer)?,
            scopes: fields::scopes(&new.scopes)?,
            expires_at: new.expires_at,
        };
        check_future(new.expires_at, now)?;
        fields::credential_value(value)?;
        Ok(NewSecret::checked_credential(checked, value, actor, now))
    }

    /// The row of a credential whose fields and value are checked.
    fn checked_credential(
        new: NewCredential,
        value: &'v str,
        actor: &Actor,
        now: i64,
    ) -> NewSecret<'v> {
        let mut row = blank_row(
            SubjectKind::Credential,
            ids::new_row_id(ids::CREDENTIAL_ID_PREFIX),
            new.name,
            actor,
            now,
        );
        row.description = new.description;
        row.token_type = Some(new.token_type.as_str().to_owned());
        row.issuer = new.issuer;
        row.scopes = new.scopes;
        row.expires_at = new.expires_at;
        row.fingerprint = fingerprint(value);
        NewSecret { row, value }
    }
}

/// A credential's next value and the expiry that goes with it.
#[derive(Clone, Copy)]
pub(crate) struct NewValue<'v> {
    pub value: &'v str,
    pub expires_at: Option<i64>,
}

impl<'v> NewValue<'v> {
    /// Checks the value, then the expiry.
    pub(crate) fn new(
        value: &'v str,
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<NewValue<'v>, StoreError> {
        fields::credential_value(value)?;
        check_future(expires_at, now)?;
        Ok(NewValue { value, expires_at })
    }
}

/// Metadata changes common to both kinds; `None` keeps a field.
#[derive(Debug, Default, Clone)]
pub(crate) struct MetaUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub environment: Option<String>,
    pub token_type: Option<TokenType>,
    pub issuer: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub expires_at: Option<Option<i64>>,
    pub owner: Option<String>,
}

impl MetaUpdate {
    /// Checks the name, description, environment, the scopes, then the
    /// owner.
    pub(crate) fn embed(u: &EmbedSecretUpdate) -> Result<MetaUpdate, StoreError> {
        Ok(MetaUpdate {
            name: u.name.as_deref().map(fields::name).transpose()?,
            description: u
                .description
                .as_deref()
                .map(fields::description)
                .transpose()?,
            environment: u
                .environment
                .as_deref()
                .map(fields::environment)
                .transpose()?,
            scopes: u.scopes.as_deref().map(fields::scopes).transpose()?,
            expires_at: u.expires_at,
            owner: u.owner.as_deref().map(fields::owner).transpose()?,
            ..MetaUpdate::default()
        })
    }

    /// Checks the name, description, issuer, the scopes, then the owner.
    pub(crate) fn credential(u: &CredentialUpdate) -> Result<MetaUpdate, StoreError> {
        Ok(MetaUpdate {
            name: u.name.as_deref().map(fields::name).transpose()?,
            description: u
                .description
                .as_deref()
                .map(fields::description)
                .transpose()?,
            token_type: u.token_type,
            issuer: u.issuer.as_deref().map(fields::issuer).transpose()?,
            scopes: u.scopes.as_deref().map(fields::scopes).transpose()?,
            expires_at: u.expires_at,
            owner: u.owner.as_deref().map(fields::owner).transpose()?,
            ..MetaUpdate::default()
        })
    }
}

/// A put: `create` if no credential has its name, otherwise `replace` the
/// value and apply `update` (the metadata the put gives).
pub(crate) struct PutSecret<'v> {
    pub create: NewSecret<'v>,
    pub replace: NewValue<'v>,
    pub update: MetaUpdate,
}

impl<'v> PutSecret<'v> {
    /// Checks the name, description, issuer, scopes, then the value and
    /// the expiry. Creating checks the expiry before the value, replacing
    /// the value before the expiry: when both are wrong, `exists(name)`
    /// (whether a credential has the name) says which is reported.
    pub(crate) fn new(
        put: &PutCredential,
        value: &'v str,
        actor: &Actor,
        now: i64,
        exists: impl FnOnce(&str) -> Result<bool, StoreError>,
    ) -> Result<PutSecret<'v>, StoreError> {
        let name = fields::name(&put.name)?;
        let update = MetaUpdate::credential(&CredentialUpdate {
            description: put.description.clone(),
            token_type: put.token_type,
            issuer: put.issuer.clone(),
            scopes: put.scopes.clone(),
            ..CredentialUpdate::default()
        })?;
        match (
            fields::credential_value(value),
            check_future(put.expires_at, now),
        ) {
            (Ok(()), Ok(())) => {}
            (Err(e), Ok(())) | (Ok(()), Err(e)) => return Err(e),
            (Err(bad_value), Err(bad_expiry)) => {
                return Err(if exists(&name)? {
                    bad_value
                } else {
                    bad_expiry
                })
            }
        }
        let create = NewSecret::checked_credential(
            NewCredential {
                name,
                description: update.description.clone().unwrap_or_default(),
                token_type: put.token_type.unwrap_or_default(),
                issuer: update.issuer.clone().unwrap_or_default(),
                scopes: update.scopes.clone().unwrap_or_default(),
                expires_at: put.expires_at,
            },
            value,
            actor,
            now,
        );
        Ok(PutSecret {
            create,
            replace: NewValue {
                value,
                expires_at: put.expires_at,
            },
            update,
        })
    }
}

/// An admin token to create: its metadata (name checked), the token
/// (returned once) and what its row keeps of it.
pub(crate) struct NewToken {
    pub token: AdminToken,
    pub value: Zeroizing<String>,
    pub lookup: String,
    pub hash: [u8; 32],
}

impl NewToken {
    /// Checks the name, then generates the token.
    pub(crate) fn new(
        new: &NewAdminToken,
        actor: &Actor,
        now: i64,
    ) -> Result<NewToken, StoreError> {
        let name = fields::name(&new.name)?;
        let value = admin_token::generate();
        let lookup = admin_token::lookup_key(&value)
            .ok_or_else(|| StoreError::Storage("generated admin token has the wrong shape".into()))?
            .to_owned();
        Ok(NewToken {
            token: AdminToken {
                id: ids::new_row_id(ADMIN_TOKEN_ID_PREFIX),
                name,
                role: new.role,
                created_by: actor.to_string(),
                created_at: now,
                last_used_at: None,
            },
            hash: admin_token::hash(&value),
            value,
            lookup,
        })
    }
}
