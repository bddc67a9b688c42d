//! `embedgate.toml` as the first configuration layer.
//!
//! The text is parsed here rather than by figment's own TOML provider so a
//! syntax error can be reported by line and column without quoting the
//! line (a mistyped secret could be on it). `[[routes]]` becomes a table
//! keyed by index, so the environment layer can override one field of one
//! route (`EMBEDGATE_ROUTES_0_UPSTREAM`) instead of replacing the array.

use std::path::PathBuf;

use anyhow::anyhow;
use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};

/// The parsed file.
#[derive(Clone, Debug)]
pub struct TomlLayer {
    table: toml::Table,
    path: Option<PathBuf>,
}

impl TomlLayer {
    /// Parses `text`; `path` names the file in messages.
    pub fn parse(text: &str, path: Option<PathBuf>) -> anyhow::Result<TomlLayer> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let message = e.message().trim().replace('\n', "; ");
            match e.span() {
                Some(span) => {
                    let (line, column) = line_column(text, span.start);
                    anyhow!("not valid TOML at line {line}, column {column}: {message}")
                }
                None => anyhow!("not valid TOML: {message}"),
            }
        })?;
        match table.get("routes") {
            None => {}
            Some(toml::Value::Array(a)) if a.iter().all(toml::Value::is_table) => {}
            Some(_) => {
                return Err(anyhow!(
                    "config key `routes` must be an array of tables: [[routes]] prefix = \"/d/\" upstream = \"http://HOST:PORT\""
                ))
            }
        }
        Ok(TomlLayer { table, path })
    }

    /// How many `[[routes]]` the file has.
    pub fn route_count(&self) -> usize {
        match self.table.get("routes") {
            Some(toml::Value::Array(a)) => a.len(),
            _ => 0,
        }
    }
}

/// 1-based line and column (in characters) of byte `offset`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl Provider for TomlLayer {
    fn metadata(&self) -> Metadata {
        let m = Metadata::named("TOML file");
        match &self.path {
            Some(p) => m.source(p.as_path()),
            None => m,
        }
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = match Value::serialize(&self.table)? {
            Value::Dict(_, d) => d,
            _ => Dict::new(),
        };
        // Anything but an array of tables was refused by `parse`.
        if let Some(Value::Array(tag, routes)) = dict.remove("routes") {
            let by_index: Dict = routes
                .into_iter()
                .enumerate()
                .map(|(i, r)| (i.to_string(), r))
                .collect();
            dict.insert("routes".to_owned(), Value::Dict(tag, by_index));
        }
        Ok(Profile::Default.collect(dict))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_have_line_and_column_and_no_quote() {
        let text = "[store]\nurl = \"sqlite:///x\"\n[verify]\nskew = = 3 # s3cr3t\n";
        let msg = format!("{:#}", TomlLayer::parse(text, None).expect_err("not TOML"));
        assert!(msg.contains("line 4, column"), "{msg}");
        assert!(!msg.contains("s3cr3t"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }

    #[test]
    fn line_columns() {
        assert_eq!(line_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
    }
}
