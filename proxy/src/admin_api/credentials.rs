//! `/credentials`: values the proxy injects upstream. A value goes in
//! (create, `PUT …/value`) and never comes out.

use embedgate_store::{Credential, CredentialUpdate, Lookup, NewCredential, TokenType, Zeroizing};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{double_option, status_text, to_json, AdminApi, Answer, ApiError, Call, TimeInput};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCredentialBody {
    name: String,
    value: Zeroizing<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    expires_at: Option<TimeInput>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialUpdateBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    expires_at: Option<Option<TimeInput>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ValueBody {
    value: Zeroizing<String>,
    #[serde(default)]
    expires_at: Option<TimeInput>,
}

fn token_type(t: Option<&str>) -> Result<Option<TokenType>, ApiError> {
    t.map(|t| t.parse::<TokenType>().map_err(ApiError::from))
        .transpose()
}

/// A credential as the API shows it.
pub fn view(c: &Credential, now: i64) -> Result<Value, ApiError> {
    let mut v = to_json(c)?;
    v["kind"] = json!("credential");
    v["status"] = json!(status_text(c.active, c.expires_at, now));
    Ok(v)
}

pub async fn list(api: &AdminApi, c: &Call) -> Answer {
    match c.q("kind") {
        None | Some("credential") => {}
        Some(_) => return Err(ApiError::invalid("kind", "only credential is listed here")),
    }
    let search = c.q("search").unwrap_or("").to_owned();
    let items = api.blocking(move |s| s.search_credentials(&search)).await?;
    let items: Vec<Value> = items
        .iter()
        .map(|i| view(i, c.now))
        .collect::<Result<_, _>>()?;
    Ok((StatusCode::OK, json!({ "items": items })))
}

pub async fn create(api: &AdminApi, c: &Call) -> Answer {
    let body: NewCredentialBody = c.json()?;
    let new = NewCredential {
        name: body.name,
        description: body.description,
        token_type: token_type(body.token_type.as_deref())?.unwrap_or_default(),
        issuer: body.issuer,
        scopes: body.scopes,
        expires_at: body
            .expires_at
            .as_ref()
            .map(|t| t.resolve("expires_at"))
            .transpose()?,
    };
    let value = body.value;
    let (actor, now) = (c.actor(), c.now);
    let cred = api
        .blocking(move |s| s.create_credential(&new, &value, &actor, now))
        .await?;
    api.changed().await;
    Ok((StatusCode::CREATED, view(&cred, c.now)?))
}

pub async fn get(api: &AdminApi, c: &Call) -> Answer {
    let lookup = Lookup::any(c.id.clone());
    let cred = api.blocking(move |s| s.get_credential(&lookup)).await?;
    Ok((StatusCode::OK, view(&cred, c.now)?))
}

pub async fn update(api: &AdminApi, c: &Call) -> Answer {
    let body: CredentialUpdateBody = c.json()?;
    let update = CredentialUpdate {
        name: body.name,
        description: body.description,
        token_type: token_type(body.token_type.as_deref())?,
        issuer: body.issuer,
        scopes: body.scopes,
        expires_at: TimeInput::resolve_patch(body.expires_at, "expires_at")?,
    };
    let cred = api
        .write_row(c, move |s, lookup, actor, now| {
            s.update_credential(lookup, &update, actor, now)
        })
        .await?;
    Ok((StatusCode::OK, view(&cred, c.now)?))
}

pub async fn delete(api: &AdminApi, c: &Call) -> Answer {
    let cred = api
        .write_row(c, |s, lookup, actor, now| {
            s.delete_credential(lookup, actor, now)
        })
        .await?;
    Ok((StatusCode::OK, view(&cred, c.now)?))
}

pub async fn set_active(api: &AdminApi, c: &Call, active: bool) -> Answer {
    let cred = api
        .write_row(c, move |s, lookup, actor, now| {
            if active {
                s.activate_credential(lookup, actor, now)
            } else {
                s.deactivate_credential(lookup, actor, now)
            }
        })
        .await?;
    Ok((StatusCode::OK, view(&cred, c.now)?))
}

pub async fn history(api: &AdminApi, c: &Call) -> Answer {
    let lookup = Lookup::any(c.id.clone());
    let entries = api.blocking(move |s| s.credential_history(&lookup)).await?;
    Ok((StatusCode::OK, json!({ "entries": to_json(&entries)? })))
}

pub async fn replace_value(api: &AdminApi, c: &Call) -> Answer {
    let body: ValueBody = c.json()?;
    let expires_at = body
        .expires_at
        .as_ref()
        .map(|t| t.resolve("expires_at"))
        .transpose()?;
    let value = body.value;
    let cred = api
        .write_row(c, move |s, lookup, actor, now| {
            s.replace_credential_value(lookup, &value, expires_at, actor, now)
        })
        .await?;
    Ok((StatusCode::OK, view(&cred, c.now)?))
}
