//! Validation of user-supplied fields, shared by both kinds of secret.
//!
//! Errors name the field and never echo a value that could be a secret.

use embedgate_core::normalise_path;

use crate::error::StoreError;

/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
/// Longest environment label, issuer or actor, in characters.
pub const MAX_LABEL_CHARS: usize = 200;
/// Most scopes on one secret.
pub const MAX_SCOPES: usize = 64;
/// Longest credential value, in bytes.
pub const MAX_VALUE_BYTES: usize = 16 * 1024;

fn text(
    field: &'static str,
    s: &str,
    max: usize,
    allow_empty: bool,
    allow_newlines: bool,
) -> Result<String, StoreError> {
    let s = s.trim();
    if !allow_empty && s.is_empty() {
        return Err(StoreError::invalid(field, "must not be empty"));
    }
    let n = s.chars().count();
    if n > max {
        return Err(StoreError::invalid(
            field,
            format!("is {n} characters long, at most {max} allowed"),
        ));
    }
    if s.chars()
        .any(|c| c.is_control() && !(allow_newlines && (c == '\n' || c == '\t')))
    {
        return Err(StoreError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(s.to_owned())
}

/// A secret's name: 1–100 characters, trimmed, no control characters.
pub(crate) fn name(s: &str) -> Result<String, StoreError> {
    text("name", s, MAX_NAME_CHARS, false, false)
}

/// A free-text description (may be empty, may span lines).
pub(crate) fn description(s: &str) -> Result<String, StoreError> {
    text("description", s, MAX_DESCRIPTION_CHARS, true, true)
}

/// An environment label such as `production` (may be empty).
pub(crate) fn environment(s: &str) -> Result<String, StoreError> {
    text("environment", s, MAX_LABEL_CHARS, true, false)
}

/// A credential's issuer (may be empty).
pub(crate) fn issuer(s: &str) -> Result<String, StoreError> {
    text("issuer", s, MAX_LABEL_CHARS, true, false)
}

/// Who answers for a secret: required, like an actor.
pub(crate) fn owner(s: &str) -> Result<String, StoreError> {
    text("owner", s, MAX_LABEL_CHARS, false, false)
}

/// Who made a change: required, so the change log always says.
pub(crate) fn actor(s: &str) -> Result<String, StoreError> {
    text("actor", s, MAX_LABEL_CHARS, false, false)
}

/// Scopes: path prefixes, normalised like signed paths (so `/a/%7e` and
/// `/a/~` are one scope), deduplicated, order kept.
pub(crate) fn scopes(raw: &[String]) -> Result<Vec<String>, StoreError> {
    if raw.len() > MAX_SCOPES {
        return Err(StoreError::invalid(
            "scope",
            format!("at most {MAX_SCOPES} scopes allowed"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for s in raw {
        let s = s.trim();
        if !s.starts_with('/') {
            return Err(StoreError::invalid(
                "scope",
                format!("{s:?} must be a path starting with '/'"),
            ));
        }
        let n =
            normalise_path(s).map_err(|e| StoreError::invalid("scope", format!("{s:?}: {e}")))?;
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

/// A credential value: non-empty, bounded, no NUL.
pub(crate) fn credential_value(v: &str) -> Result<(), StoreError> {
    if v.is_empty() {
        return Err(StoreError::invalid("value", "must not be empty"));
    }
    if v.len() > MAX_VALUE_BYTES {
        return Err(StoreError::invalid(
            "value",
            format!("at most {MAX_VALUE_BYTES} bytes allowed"),
        ));
    }
    if v.contains('\0') {
        return Err(StoreError::invalid("value", "must not contain NUL"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(name("  ok ").expect("ok"), "ok");
        assert_eq!(name("").expect_err("empty").code(), "invalid_input");
        assert!(name(&"x".repeat(100)).is_ok());
        assert!(name(&"x".repeat(101)).is_err());
        assert!(name("a\nb").is_err());
        assert!(description("a\nb").is_ok());
    }

    #[test]
    fn scope_normalisation() {
        let s = scopes(&["/d/a".into(), "/d/a".into(), "/x".into()]).expect("ok");
        assert_eq!(s, ["/d/a", "/x"]);
        assert!(scopes(&["d/a".into()]).is_err());
    }
}
