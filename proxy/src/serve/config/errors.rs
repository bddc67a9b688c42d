//! One line per configuration error, naming the key and, when the value
//! came from the environment, the variable: `config key `verify.skew`
//! (from EMBEDGATE_VERIFY_SKEW): expected a duration …, got "soon"`.

use figment::error::Kind;

use super::environment::{EnvLayer, LAYER_NAME};
use super::keys::{self, SECRETISH};

/// The sentence that refuses a key that would hold a secret.
pub fn secret_key(key: &str) -> String {
    format!(
        "config key `{key}` would hold a secret value; secrets are never written in the config: \
store a credential with `embedgate credentials put --name NAME` and reference it \
(`upstream_auth = {{ header = \"Authorization\", credential = \"NAME\", prefix = \"Bearer \" }}`), \
and give the master key through EMBEDGATE_MASTER_KEY or `store.master_key_file`"
    )
}

/// `config key `K`` or `config key `K` (from VAR)`.
pub fn key_prefix(key_path: &[impl AsRef<str>], env: &EnvLayer) -> String {
    let dotted = key_path
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(".");
    let key = keys::display(key_path);
    match env.var_for(&dotted) {
        Some(var) => format!("config key `{key}` (from {var})"),
        None => format!("config key `{key}`"),
    }
}

/// A figment error as one line.
pub fn describe(e: &figment::Error) -> String {
    let path: Vec<&str> = e.path.iter().map(String::as_str).collect();
    let key = keys::display(&path);
    let from_env = e
        .metadata
        .as_ref()
        .filter(|m| m.name == LAYER_NAME)
        .map(|m| m.interpolate(&e.profile.clone().unwrap_or_default(), &path));
    let at = match &from_env {
        Some(var) => format!("config key `{key}` (from {var})"),
        None => format!("config key `{key}`"),
    };
    match &e.kind {
        Kind::UnknownField(name, expected) => {
            if SECRETISH.contains(&name.to_ascii_lowercase().as_str()) {
                return secret_key(&key);
            }
            let hint = expected
                .iter()
                .min_by_key(|f| strsim::levenshtein(f, name))
                .filter(|f| strsim::levenshtein(f, name) <= name.len().max(3) / 2)
                .map(|f| format!("did you mean `{f}`? "))
                .unwrap_or_default();
            format!(
                "unknown config key `{key}` ({hint}expected one of: {})",
                expected.join(", ")
            )
        }
        Kind::MissingField(field) => {
            let mut full = path.clone();
            full.push(field);
            let key = keys::display(&full);
            let var = keys::env_name(&full.join("."));
            format!("config key `{key}` is required (or set {var})")
        }
        Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
            format!("{at}: expected {expected}, got {actual}")
        }
        Kind::UnknownVariant(found, expected) => {
            let one_of: Vec<String> = expected.iter().map(|v| format!("{v:?}")).collect();
            format!("{at}: expected {}, got {found:?}", one_of.join(" or "))
        }
        Kind::Message(m) => format!("{at}: {m}"),
        other => format!("{at}: {other}"),
    }
}
