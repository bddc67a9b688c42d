//! Reading rows of the `secrets` table. The row type is the SQLite
//! backend's ([`Row`]), so both backends hand the same values to
//! [`crate::Store`].

use postgres::GenericClient;

pub(crate) use crate::sqlite::Row;

use crate::change_log::SubjectKind;
use crate::error::StoreError;
use crate::lookup::Lookup;
use crate::sealed::Sealed;

/// The columns [`from_pg`] reads, in order (the same as SQLite's).
pub(super) const COLUMNS: &str = "id, kind, client_id, name, description, environment, \
     token_type, issuer, scopes, owner, created_at, updated_at, last_used_at, expires_at, \
     active, value_version, fingerprint, key_id, nonce, ciphertext";

/// One row, read with [`COLUMNS`].
pub(super) fn from_pg(r: &postgres::Row) -> Result<Row, StoreError> {
    let kind: String = r.try_get(1)?;
    let scopes: String = r.try_get(8)?;
    Ok(Row {
        id: r.try_get(0)?,
        kind: SubjectKind::parse(&kind)
            .ok_or_else(|| StoreError::Storage(format!("unknown kind {kind:?} in secrets")))?,
        client_id: r.try_get(2)?,
        name: r.try_get(3)?,
        description: r.try_get(4)?,
        environment: r.try_get(5)?,
        token_type: r.try_get(6)?,
        issuer: r.try_get(7)?,
        scopes: serde_json::from_str(&scopes)
            .map_err(|e| StoreError::Storage(format!("bad scopes column: {e}")))?,
        owner: r.try_get(9)?,
        created_at: r.try_get(10)?,
        updated_at: r.try_get(11)?,
        last_used_at: r.try_get(12)?,
        expires_at: r.try_get(13)?,
        active: r.try_get(14)?,
        version: r.try_get(15)?,
        fingerprint: r.try_get(16)?,
        key_id: r.try_get(17)?,
        sealed: Sealed {
            nonce: r.try_get(18)?,
            ciphertext: r.try_get(19)?,
        },
    })
}

/// The live row of `kind` matching `lookup`, if any (id wins over client
/// id over name, as in SQLite).
pub(super) fn find(
    c: &mut impl GenericClient,
    kind: SubjectKind,
    lookup: &Lookup,
) -> Result<Option<Row>, StoreError> {
    let condition = match lookup {
        Lookup::Id(_) => "id = $2",
        Lookup::ClientId(_) => "client_id = $2",
        Lookup::Name(_) => "lower(name) = lower($2)",
        _ => "(id = $2 OR client_id = $2 OR lower(name) = lower($2))",
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM secrets WHERE kind = $1 AND {condition} \
         ORDER BY CASE WHEN id = $2 THEN 0 WHEN client_id = $2 THEN 1 ELSE 2 END LIMIT 1"
    );
    c.query_opt(&sql, &[&kind.as_str(), &lookup.as_str()])?
        .as_ref()
        .map(from_pg)
        .transpose()
}

/// Like [`find`], but a missing row is [`StoreError::NotFound`].
pub(super) fn require(
    c: &mut impl GenericClient,
    kind: SubjectKind,
    lookup: &Lookup,
) -> Result<Row, StoreError> {
    find(c, kind, lookup)?.ok_or_else(|| StoreError::NotFound {
        kind: kind.noun(),
        lookup: lookup.as_str().to_owned(),
    })
}

/// Every row of `kind`, by name.
pub(super) fn all(c: &mut impl GenericClient, kind: SubjectKind) -> Result<Vec<Row>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM secrets WHERE kind = $1 ORDER BY lower(name) COLLATE \"C\", id"
    );
    c.query(&sql, &[&kind.as_str()])?
        .iter()
        .map(from_pg)
        .collect()
}
