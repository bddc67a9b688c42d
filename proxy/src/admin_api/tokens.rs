//! `/tokens`: admin tokens (owner only). A token is shown once, in the
//! answer to create.

use embedgate_store::{NewAdminToken, Role};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::{to_json, AdminApi, Answer, ApiError, Call};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    role: String,
}

pub async fn list(api: &AdminApi, _c: &Call) -> Answer {
    let tokens = api.blocking(|s| s.list_admin_tokens()).await?;
    Ok((StatusCode::OK, json!({ "items": to_json(&tokens)? })))
}

pub async fn create(api: &AdminApi, c: &Call) -> Answer {
    let body: NewToken = c.json()?;
    let role: Role = body.role.parse().map_err(ApiError::from)?;
    let new = NewAdminToken {
        name: body.name,
        role,
    };
    let (actor, now) = (c.actor(), c.now);
    let created = api
        .blocking(move |s| s.create_admin_token(&new, &actor, now))
        .await?;
    Ok((
        StatusCode::CREATED,
        json!({ "token": to_json(&created.token)?, "value": created.value.as_str() }),
    ))
}

pub async fn revoke(api: &AdminApi, c: &Call) -> Answer {
    let (id, actor, now) = (c.id.clone(), c.actor(), c.now);
    let t = api
        .blocking(move |s| s.revoke_admin_token(&id, &actor, now))
        .await?;
    Ok((StatusCode::OK, to_json(&t)?))
}
