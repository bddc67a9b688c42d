//! Verifying a request that carries `eg_` parameters, in either form: EG1
//! (`eg_kid` … `eg_sig`) or EGJ1 (one `eg_jwt` token). The core parses,
//! authenticates (for EGJ1: the MAC, then the claims and their binding to
//! this host and path) and applies the time rules; the replay cache claims
//! the nonce (EG1 `eg_nonce` or EGJ1 `jti`: one space, per key); the core
//! checks scope. No store access: keys come from the cache.

use std::sync::Arc;

use embedgate_core::{NonceCheck, Reason, UnverifiedEmbedUrl, VerifiedEmbedUrl, VerifyPolicy};

use super::refusal::Refusal;
use super::replay::Replay;
use super::replay_cache::Claim;
use super::secret_cache::{CachedSecret, Pinned, SecretCache};

/// A verified URL and the secret that signed it.
#[derive(Debug)]
pub struct Verified {
    /// What the core verified.
    pub url: VerifiedEmbedUrl,
    /// The signing secret (for the session cookie).
    pub secret: Arc<CachedSecret>,
}

/// Whether the query has a parameter whose (decoded) name starts with `eg_`
/// (`eg_jwt` included): then the request is a signed URL, and must verify.
pub fn has_eg_params(query: &str) -> bool {
    query.split('&').any(is_eg_param)
}

/// Whether a `name=value` piece of a query has a name that starts with
/// `eg_` once decoded.
fn is_eg_param(piece: &str) -> bool {
    let name = piece.split_once('=').map_or(piece, |(n, _)| n);
    let mut decoded = [0u8; 3];
    let mut n = 0;
    let b = name.as_bytes();
    let mut i = 0;
    while n < 3 && i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(v) => {
                    decoded[n] = v;
                    i += 3;
                }
                None => return false,
            }
        } else {
            decoded[n] = b[i];
            i += 1;
        }
        n += 1;
    }
    n == 3 && &decoded == b"eg_"
}

/// The query without its `eg_` parameters (in any spelling), the others
/// as they are: what goes upstream when a refused signed URL is served
/// under the request's session instead.
pub fn strip_eg_params(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    for piece in query.split('&').filter(|p| !is_eg_param(p)) {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(piece);
    }
    out
}

/// The `eg_kid` of a query, when it is spelled plainly and looks like a
/// client id (for logs: never anything else of the URL).
pub fn eg_kid(query: &str) -> Option<&str> {
    query
        .split('&')
        .find_map(|p| p.strip_prefix("eg_kid="))
        .filter(|k| {
            (1..=64).contains(&k.len())
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

/// Spec §3 for one request: EG1 steps 1–8, or EGJ1 steps 1–10.
pub async fn verify(
    host: &str,
    path_and_query: &str,
    cache: &SecretCache,
    replay: &Replay,
    policy: &VerifyPolicy,
    now: u64,
) -> Result<Verified, Refusal> {
    verify_steps(
        host,
        path_and_query,
        cache,
        replay,
        policy,
        now,
        ScopeOf::Url,
    )
    .await
}

/// Spec §3 for a URL whose signed query names the path its scope is
/// checked for (a renewal, `renewal.rs`, names the dashboard it renews):
/// every step but the last, which the caller takes on that path once it
/// has read it from the verified query (`secret.key().covers(path)`,
/// refused as `out_of_scope`). The nonce is claimed as for any URL.
pub async fn verify_except_scope(
    host: &str,
    path_and_query: &str,
    cache: &SecretCache,
    replay: &Replay,
    policy: &VerifyPolicy,
    now: u64,
) -> Result<Verified, Refusal> {
    verify_steps(
        host,
        path_and_query,
        cache,
        replay,
        policy,
        now,
        ScopeOf::Caller,
    )
    .await
}

/// Whose path the scope step checks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ScopeOf {
    /// The URL's own path (the core's step).
    Url,
    /// A path the caller checks after verification.
    Caller,
}

async fn verify_steps(
    host: &str,
    path_and_query: &str,
    cache: &SecretCache,
    replay: &Replay,
    policy: &VerifyPolicy,
    now: u64,
    scope: ScopeOf,
) -> Result<Verified, Refusal> {
    let unverified = UnverifiedEmbedUrl::from_request(host, path_and_query)
        .map_err(|e| Refusal::url(e.reason()))?;
    let secret = cache.get(unverified.kid());
    // For `ScopeOf::Caller` the core checks against the key without its
    // scopes, so its scope step passes and the caller's decides.
    let unscoped = match (scope, secret.as_deref()) {
        (ScopeOf::Caller, Some(s)) => Some(s.key().clone().with_scopes(Vec::new())),
        _ => None,
    };
    let authentic = match &unscoped {
        Some(key) => unverified.authenticate_with(key, now, policy),
        None => unverified.authenticate(&Pinned(secret.as_deref()), now, policy),
    }
    .map_err(|e| Refusal::url(e.reason()))?;
    let check = match replay
        .claim(
            authentic.kid(),
            authentic.nonce(),
            authentic.remember_until(),
            now,
        )
        .await
    {
        Claim::Fresh => NonceCheck::Fresh,
        Claim::Replayed => NonceCheck::Replayed,
        Claim::Full => return Err(Refusal::BUSY),
        Claim::Unavailable => return Err(Refusal::REPLAY_UNAVAILABLE),
    };
    let url = authentic
        .accept(check)
        .map_err(|e| Refusal::url(e.reason()))?;
    let secret = secret.ok_or(Refusal::url(Reason::UnknownKey))?;
    Ok(Verified { url, secret })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_eg_names_even_encoded() {
        assert!(has_eg_params("a=1&eg_kid=x"));
        assert!(has_eg_params("eg%5Fsig=x"));
        assert!(has_eg_params("%65g_sub"));
        assert!(has_eg_params("eg_jwt=a.b.c"));
        assert!(has_eg_params("eg%5Fjwt=a.b.c"));
        assert!(!has_eg_params("EG_kid=1"));
        assert!(!has_eg_params("q=eg_x&egg=1&e=2"));
        assert!(!has_eg_params(""));
    }

    #[test]
    fn eg_params_are_stripped_in_any_spelling() {
        assert_eq!(
            strip_eg_params("a=1&eg_kid=k&b=%65g&%65g_sig=s&eg%5Fnonce=n&c"),
            "a=1&b=%65g&c"
        );
        assert_eq!(strip_eg_params("eg_kid=k&eg_sig=s"), "");
        assert_eq!(strip_eg_params("egg=1&EG_x=2"), "egg=1&EG_x=2");
    }

    #[test]
    fn only_a_plain_kid_is_logged() {
        assert_eq!(
            eg_kid("a=1&eg_kid=ek_live_4f9c2a&eg_sig=x"),
            Some("ek_live_4f9c2a")
        );
        assert_eq!(eg_kid("eg_kid=a%0Ab"), None);
        assert_eq!(eg_kid("eg_sig=x"), None);
    }
}
