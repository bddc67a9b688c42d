//! The store's stable codes (roles, token types, change-log actions and
//! kinds) as OpenAPI string enums, built from the store's own lists and
//! text forms, so the document names exactly what the API sends and
//! accepts. Used with `#[schema(schema_with = ...)]` on fields of the
//! store's types.

use embedgate_store::{ChangeAction, Role, SubjectKind, TokenType};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::Object;

/// Every token type (the store's enum is non-exhaustive: its text forms
/// are checked against the store in this module's test).
pub const TOKEN_TYPES: [TokenType; 6] = [
    TokenType::ApiKey,
    TokenType::AccessToken,
    TokenType::RefreshToken,
    TokenType::ClientToken,
    TokenType::RequestToken,
    TokenType::Other,
];

/// Every role, least first.
pub const ROLES: [Role; 3] = [Role::Viewer, Role::Admin, Role::Owner];

fn string_enum(values: impl IntoIterator<Item = &'static str>, description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(Some(description))
        .build()
}

/// `token_type`.
pub fn token_type() -> Object {
    string_enum(
        TOKEN_TYPES.iter().map(|t| t.as_str()),
        "What kind of token a credential is",
    )
}

/// `role`.
pub fn role() -> Object {
    string_enum(ROLES.iter().map(|r| r.as_str()), "owner > admin > viewer")
}

/// A change-log `action`.
pub fn action() -> Object {
    string_enum(
        ChangeAction::ALL.iter().map(|a| a.as_str()),
        "What happened",
    )
}

/// A change-log `kind`.
pub fn kind() -> Object {
    string_enum(
        SubjectKind::ALL.iter().map(|k| k.as_str()),
        "What it happened to",
    )
}

/// A parsed `action` filter.
pub fn parse_action(text: &str) -> Option<ChangeAction> {
    ChangeAction::ALL
        .iter()
        .copied()
        .find(|a| a.as_str() == text)
}

/// A parsed `kind` filter.
pub fn parse_kind(text: &str) -> Option<SubjectKind> {
    SubjectKind::ALL
        .iter()
        .copied()
        .find(|k| k.as_str() == text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_enums_are_what_the_store_reads_and_writes() {
        for t in TOKEN_TYPES {
            assert_eq!(t.as_str().parse::<TokenType>().ok(), Some(t));
            assert_eq!(
                serde_json::to_value(t).expect("json"),
                serde_json::json!(t.as_str())
            );
        }
        for r in ROLES {
            assert_eq!(r.as_str().parse::<Role>().ok(), Some(r));
        }
        for a in ChangeAction::ALL {
            assert_eq!(parse_action(a.as_str()), Some(*a));
            assert_eq!(
                serde_json::to_value(a).expect("json"),
                serde_json::json!(a.as_str())
            );
        }
        assert!(ChangeAction::ALL.iter().any(|a| a.as_str() == "set_owner"));
    }
}
