//! The `EMBEDGATE_…` variables as a configuration layer over the file.
//!
//! Names are matched against the known keys (`keys.rs`), not split at
//! every underscore, so `EMBEDGATE_VERIFY_MAX_URL_TTL` is
//! `verify.max_url_ttl`. A variable that names no key is an error naming
//! the closest one; one that would carry a secret is refused without
//! echoing it; a route index the file does not have is refused unless it
//! adds the next route.

use std::collections::{BTreeMap, HashMap};

use anyhow::{anyhow, bail};
use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};

use super::keys::{
    self, Key, DEPRECATED, KEYS, NOT_CONFIG, NOT_CONFIG_PREFIXES, RENAMED, ROUTE_KEYS, SECRETISH,
};

/// Name of this layer in figment's metadata; errors from values it gave
/// name the variable.
pub const LAYER_NAME: &str = "environment variable";

const PREFIX: &str = "EMBEDGATE_";

/// One variable, mapped to its key.
#[derive(Clone, Debug)]
struct Setting {
    var: String,
    value: String,
    list: bool,
}

/// The configuration variables of one environment.
#[derive(Clone, Debug, Default)]
pub struct EnvLayer {
    /// Dotted key path (`routes.0.upstream`) → its variable.
    settings: BTreeMap<String, Setting>,
    /// Deprecation notices, for the log once it is set up.
    pub warnings: Vec<String>,
}

impl EnvLayer {
    /// Maps `env` (every variable; others than `EMBEDGATE_…` are ignored)
    /// onto the keys. `file_routes` is how many `[[routes]]` the file has.
    pub fn read(env: &HashMap<String, String>, file_routes: usize) -> anyhow::Result<EnvLayer> {
        let mut names: Vec<&String> = env.keys().filter(|k| k.starts_with(PREFIX)).collect();
        names.sort();
        let mut layer = EnvLayer::default();
        for name in names {
            if NOT_CONFIG.contains(&name.as_str())
                || NOT_CONFIG_PREFIXES.iter().any(|p| name.starts_with(p))
            {
                continue;
            }
            let value = &env[name];
            let mut var = name.as_str();
            if let Some((_, new)) = DEPRECATED.iter().find(|(old, _)| *old == var) {
                if env.contains_key(*new) {
                    layer.warnings.push(format!(
                        "{var} is deprecated and ignored: {new} is set and wins"
                    ));
                    continue;
                }
                layer.warnings.push(format!(
                    "{var} is deprecated; use {new}, which every command reads"
                ));
                var = new;
            }
            let Some((path, key)) = key_of(var) else {
                return Err(unknown(name));
            };
            layer.settings.insert(
                path,
                Setting {
                    var: name.clone(),
                    value: value.clone(),
                    list: key.list,
                },
            );
        }
        layer.check_route_indices(file_routes)?;
        Ok(layer)
    }

    /// A route index beyond the file's routes is a new route only if every
    /// index up to it has a `PREFIX` variable (the next free index first).
    fn check_route_indices(&self, file_routes: usize) -> anyhow::Result<()> {
        for (path, s) in &self.settings {
            let Some(i) = route_index(path) else { continue };
            if i < file_routes {
                continue;
            }
            if let Some(gap) = (file_routes..=i)
                .find(|j| !self.settings.contains_key(&format!("routes.{j}.prefix")))
            {
                let have = match file_routes {
                    0 => "the file has no [[routes]]".to_owned(),
                    1 => "the file has one route, routes[0]".to_owned(),
                    n => format!("the file has {n} routes, routes[0] to routes[{}]", n - 1),
                };
                bail!(
                    "{}: there is no route {i} ({have}); a route added by variables takes the next free index, {file_routes}, and needs {}",
                    s.var,
                    keys::env_name(&format!("routes.{gap}.prefix"))
                );
            }
        }
        Ok(())
    }

    /// Every key set here (dotted path) with its variable.
    pub fn vars(&self) -> BTreeMap<String, String> {
        self.settings
            .iter()
            .map(|(p, s)| (p.clone(), s.var.clone()))
            .collect()
    }

    /// The variable that set `path` (dotted), if one did.
    pub fn var_for(&self, path: &str) -> Option<&str> {
        self.settings.get(path).map(|s| s.var.as_str())
    }
}

fn route_index(path: &str) -> Option<usize> {
    path.strip_prefix("routes.")?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// The key a variable names: `(dotted path, key)`.
fn key_of(var: &str) -> Option<(String, Key)> {
    if let Some(rest) = var.strip_prefix("EMBEDGATE_ROUTES_") {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let (index, field) = rest.split_at(digits);
        let index: usize = index.parse().ok()?;
        let field = field.strip_prefix('_')?;
        // No leading zeros: one variable name per key.
        if index.to_string().len() != digits {
            return None;
        }
        return ROUTE_KEYS
            .iter()
            .find(|k| k.path.replace('.', "_").eq_ignore_ascii_case(field) && is_upper(field))
            .map(|k| (format!("routes.{index}.{}", k.path), *k));
    }
    KEYS.iter()
        .find(|k| keys::env_name(k.path) == var)
        .map(|k| (k.path.to_owned(), *k))
}

fn is_upper(s: &str) -> bool {
    !s.bytes().any(|b| b.is_ascii_lowercase())
}

/// The error for a variable that names no key.
fn unknown(var: &str) -> anyhow::Error {
    let rest = var[PREFIX.len()..].to_ascii_lowercase();
    let parts: Vec<&str> = rest.split('_').collect();
    let tail2 = parts
        .len()
        .checked_sub(2)
        .map(|i| parts[i..].join("_"))
        .unwrap_or_default();
    let last = parts.last().copied().unwrap_or_default();
    if SECRETISH.contains(&last) || SECRETISH.contains(&tail2.as_str()) {
        return anyhow!(
            "{var} would hold a secret value, and secrets are never given as configuration: \
store a credential (`embedgate credentials put --name NAME`, value on stdin) and name it in \
`upstream_auth.credential` (EMBEDGATE_ROUTES_<n>_UPSTREAM_AUTH_CREDENTIAL=NAME); the master key \
alone comes from EMBEDGATE_MASTER_KEY or a file named by EMBEDGATE_MASTER_KEY_FILE"
        );
    }
    let (closest_var, closest_key) = closest(var);
    anyhow!(
        "unknown variable {var}: no config key has this name; the closest is {closest_var} (config key `{closest_key}`)"
    )
}

/// The known variable nearest to `var` (edit distance), with its key.
fn closest(var: &str) -> (String, String) {
    // Route variables are compared with the same index, so
    // EMBEDGATE_ROUTES_3_UPSTRAEM finds EMBEDGATE_ROUTES_3_UPSTREAM.
    let index = var
        .strip_prefix("EMBEDGATE_ROUTES_")
        .and_then(|r| r.split('_').next())
        .and_then(|d| d.parse::<usize>().ok())
        .unwrap_or(0);
    let mut candidates: Vec<(String, String)> = KEYS
        .iter()
        .map(|k| (keys::env_name(k.path), k.path.to_owned()))
        .collect();
    candidates.extend(ROUTE_KEYS.iter().map(|k| {
        let path = format!("routes.{index}.{}", k.path);
        (keys::env_name(&path), path)
    }));
    candidates.extend(
        RENAMED
            .iter()
            .map(|(path, v)| ((*v).to_owned(), (*path).to_owned())),
    );
    candidates
        .into_iter()
        .min_by_key(|(v, _)| strsim::levenshtein(v, var))
        .map(|(v, path)| {
            let parts: Vec<&str> = path.split('.').collect();
            (v, keys::display(&parts))
        })
        .unwrap_or_default()
}

impl Provider for EnvLayer {
    fn metadata(&self) -> Metadata {
        let vars = self.vars();
        Metadata::named(LAYER_NAME).interpolater(move |_: &Profile, path: &[&str]| {
            // An error inside a list names the list's variable.
            (1..=path.len())
                .rev()
                .find_map(|n| vars.get(&path[..n].join(".")))
                .cloned()
                .unwrap_or_else(|| keys::env_name(&path.join(".")))
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut root = Dict::new();
        for (path, s) in &self.settings {
            let value = if s.list {
                Value::from(
                    s.value
                        .split(',')
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(str::to_owned)
                        .collect::<Vec<String>>(),
                )
            } else {
                Value::from(s.value.clone())
            };
            insert(&mut root, path, value);
        }
        Ok(Profile::Default.collect(root))
    }
}

fn insert(dict: &mut Dict, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            dict.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let child = dict
                .entry(head.to_owned())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, d) = child {
                insert(d, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn err(pairs: &[(&str, &str)], routes: usize) -> String {
        format!(
            "{:#}",
            EnvLayer::read(&env(pairs), routes).expect_err("refused")
        )
    }

    #[test]
    fn names_map_to_keys_with_underscores() {
        let l = EnvLayer::read(
            &env(&[
                ("EMBEDGATE_VERIFY_MAX_URL_TTL", "5"),
                ("EMBEDGATE_ROUTES_0_UPSTREAM_AUTH_CREDENTIAL", "grafana"),
                ("EMBEDGATE_STORE", "sqlite:///x"),
                ("EMBEDGATE_MASTER_KEY", "ignored here"),
                ("EMBEDGATE_TEST_POSTGRES_URL", "x"),
                ("PATH", "/bin"),
            ]),
            1,
        )
        .expect("valid");
        assert_eq!(
            l.var_for("verify.max_url_ttl"),
            Some("EMBEDGATE_VERIFY_MAX_URL_TTL")
        );
        assert_eq!(
            l.var_for("routes.0.upstream_auth.credential"),
            Some("EMBEDGATE_ROUTES_0_UPSTREAM_AUTH_CREDENTIAL")
        );
        assert_eq!(l.var_for("store.url"), Some("EMBEDGATE_STORE"));
        assert!(l.warnings.is_empty());
    }

    #[test]
    fn a_typo_names_the_closest_key() {
        let msg = err(&[("EMBEDGATE_VERIFY_SKEWW", "60")], 1);
        assert!(
            msg.contains("EMBEDGATE_VERIFY_SKEWW")
                && msg.contains("EMBEDGATE_VERIFY_SKEW ")
                && msg.contains("`verify.skew`"),
            "{msg}"
        );
        let msg = err(&[("EMBEDGATE_ROUTES_0_UPSTRAEM", "x")], 1);
        assert!(msg.contains("`routes[0].upstream`"), "{msg}");
        // Lower case is not the same name.
        let msg = err(&[("EMBEDGATE_ROUTES_0_upstream", "x")], 1);
        assert!(msg.contains("unknown variable"), "{msg}");
    }

    #[test]
    fn secret_variables_are_refused_without_their_value() {
        for var in [
            "EMBEDGATE_ROUTES_0_UPSTREAM_AUTH_TOKEN",
            "EMBEDGATE_STORE_MASTER_KEY",
            "EMBEDGATE_ROUTES_0_UPSTREAM_AUTH_VALUE",
            "EMBEDGATE_TLS_KEY",
            "EMBEDGATE_UPSTREAM_API_KEY",
        ] {
            let msg = err(&[(var, "abc-secret-123")], 1);
            assert!(msg.contains(var) && msg.contains("secret"), "{msg}");
            assert!(!msg.contains("abc-secret-123"), "{msg}");
        }
    }

    #[test]
    fn route_indices_must_exist_or_come_next() {
        let msg = err(&[("EMBEDGATE_ROUTES_5_UPSTREAM", "http://x:1")], 1);
        assert!(
            msg.contains("EMBEDGATE_ROUTES_5_UPSTREAM: there is no route 5")
                && msg.contains("EMBEDGATE_ROUTES_1_PREFIX"),
            "{msg}"
        );
        let l = EnvLayer::read(
            &env(&[
                ("EMBEDGATE_ROUTES_1_PREFIX", "/e/"),
                ("EMBEDGATE_ROUTES_1_UPSTREAM", "http://x:1"),
            ]),
            1,
        )
        .expect("the next route");
        assert_eq!(
            l.var_for("routes.1.prefix"),
            Some("EMBEDGATE_ROUTES_1_PREFIX")
        );
        let msg = err(&[("EMBEDGATE_ROUTES_01_PREFIX", "/e/")], 1);
        assert!(msg.contains("unknown variable"), "{msg}");
    }

    #[test]
    fn old_names_work_with_a_warning() {
        let l = EnvLayer::read(
            &env(&[
                ("EMBEDGATE_STORE_URL", "sqlite:///a"),
                ("EMBEDGATE_STORE_MASTER_KEY_FILE", "/k"),
            ]),
            1,
        )
        .expect("valid");
        assert_eq!(l.var_for("store.url"), Some("EMBEDGATE_STORE_URL"));
        assert_eq!(
            l.var_for("store.master_key_file"),
            Some("EMBEDGATE_STORE_MASTER_KEY_FILE")
        );
        assert_eq!(l.warnings.len(), 2, "{:?}", l.warnings);
        assert!(l.warnings[0].contains("deprecated"));

        let l = EnvLayer::read(
            &env(&[
                ("EMBEDGATE_STORE_URL", "sqlite:///old"),
                ("EMBEDGATE_STORE", "sqlite:///new"),
            ]),
            1,
        )
        .expect("valid");
        assert_eq!(l.var_for("store.url"), Some("EMBEDGATE_STORE"));
        assert!(l.warnings[0].contains("ignored"), "{:?}", l.warnings);
    }
}
