//! `/secrets`: embed secrets. The value appears once, in the answer to
//! create; afterwards only the fingerprint.

use embedgate_store::{Credential, EmbedSecret, EmbedSecretUpdate, Lookup, NewEmbedSecret};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    credentials, double_option, status_text, to_json, AdminApi, Answer, ApiError, Call, TimeInput,
};
use crate::serve::verification_counts::{BUCKETS, BUCKET_SECS};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSecret {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    environment: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    expires_at: Option<TimeInput>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretUpdate {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    environment: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    expires_at: Option<Option<TimeInput>>,
}

/// An embed secret as the API shows it: its metadata, `kind` and `status`.
pub fn view(s: &EmbedSecret, now: i64) -> Result<Value, ApiError> {
    let mut v = to_json(s)?;
    v["kind"] = json!("embed_secret");
    v["status"] = json!(status_text(s.active, s.expires_at, now));
    Ok(v)
}

pub async fn list(api: &AdminApi, c: &Call) -> Answer {
    let search = c.q("search").unwrap_or("").to_owned();
    let kind = c.q("kind").unwrap_or("embed_secret");
    let (embed, creds) = match kind {
        "embed_secret" => (true, false),
        "credential" => (false, true),
        "all" => (true, true),
        _ => {
            return Err(ApiError::invalid(
                "kind",
                "expected embed_secret, credential or all",
            ))
        }
    };
    let (secrets, credentials): (Vec<EmbedSecret>, Vec<Credential>) = api
        .blocking(move |s| {
            let a = if embed {
                s.search_embed_secrets(&search)?
            } else {
                Vec::new()
            };
            let b = if creds {
                s.search_credentials(&search)?
            } else {
                Vec::new()
            };
            Ok((a, b))
        })
        .await?;
    let mut items = Vec::with_capacity(secrets.len() + credentials.len());
    for s in &secrets {
        items.push(view(s, c.now)?);
    }
    for cr in &credentials {
        items.push(credentials::view(cr, c.now)?);
    }
    Ok((StatusCode::OK, json!({ "items": items })))
}

pub async fn create(api: &AdminApi, c: &Call) -> Answer {
    let body: NewSecret = c.json()?;
    let new = NewEmbedSecret {
        name: body.name,
        description: body.description,
        environment: body.environment,
        scopes: body.scopes,
        expires_at: body
            .expires_at
            .as_ref()
            .map(|t| t.resolve("expires_at"))
            .transpose()?,
    };
    let (actor, now) = (c.actor(), c.now);
    let created = api
        .blocking(move |s| s.create_embed_secret(&new, &actor, now))
        .await?;
    api.changed().await;
    Ok((
        StatusCode::CREATED,
        json!({
            "secret": view(&created.secret, c.now)?,
            "value": created.value.as_str(),
        }),
    ))
}

pub async fn get(api: &AdminApi, c: &Call) -> Answer {
    let lookup = Lookup::any(c.id.clone());
    let s = api.blocking(move |s| s.get_embed_secret(&lookup)).await?;
    Ok((StatusCode::OK, view(&s, c.now)?))
}

pub async fn update(api: &AdminApi, c: &Call) -> Answer {
    let body: SecretUpdate = c.json()?;
    let update = EmbedSecretUpdate {
        name: body.name,
        description: body.description,
        environment: body.environment,
        scopes: body.scopes,
        expires_at: TimeInput::resolve_patch(body.expires_at, "expires_at")?,
    };
    let s = api
        .write_row(c, move |s, lookup, actor, now| {
            s.update_embed_secret(lookup, &update, actor, now)
        })
        .await?;
    Ok((StatusCode::OK, view(&s, c.now)?))
}

pub async fn delete(api: &AdminApi, c: &Call) -> Answer {
    let s = api
        .write_row(c, |s, lookup, actor, now| {
            s.delete_embed_secret(lookup, actor, now)
        })
        .await?;
    Ok((StatusCode::OK, view(&s, c.now)?))
}

pub async fn set_active(api: &AdminApi, c: &Call, active: bool) -> Answer {
    let s = api
        .write_row(c, move |s, lookup, actor, now| {
            if active {
                s.activate_embed_secret(lookup, actor, now)
            } else {
                s.deactivate_embed_secret(lookup, actor, now)
            }
        })
        .await?;
    Ok((StatusCode::OK, view(&s, c.now)?))
}

pub async fn history(api: &AdminApi, c: &Call) -> Answer {
    let lookup = Lookup::any(c.id.clone());
    let entries = api
        .blocking(move |s| s.embed_secret_history(&lookup))
        .await?;
    Ok((StatusCode::OK, json!({ "entries": to_json(&entries)? })))
}

pub async fn usage(api: &AdminApi, c: &Call) -> Answer {
    let lookup = Lookup::any(c.id.clone());
    let s = api.blocking(move |s| s.get_embed_secret(&lookup)).await?;
    let now = u64::try_from(c.now).unwrap_or(0);
    let series = match api.cache().verification_counts(&s.client_id) {
        Some(counts) => counts.series(now),
        None => {
            let current = now / BUCKET_SECS;
            (0..BUCKETS as u64)
                .rev()
                .filter_map(|b| current.checked_sub(b))
                .map(|b| (b * BUCKET_SECS, 0))
                .collect()
        }
    };
    let total: u64 = series.iter().map(|(_, n)| n).sum();
    let buckets: Vec<Value> = series
        .iter()
        .map(|(start, count)| json!({ "start": start, "count": count }))
        .collect();
    Ok((
        StatusCode::OK,
        json!({
            "id": s.id,
            "client_id": s.client_id,
            "bucket_secs": BUCKET_SECS,
            "total": total,
            "buckets": buckets,
        }),
    ))
}
