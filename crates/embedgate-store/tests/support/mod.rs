//! Helpers shared by the store's integration tests: real SQLite files in
//! temporary directories.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use embedgate_store::{MasterKey, NewEmbedSecret, Store};

/// Arbitrary fixed "now" for tests (2023-11-14T22:13:20Z).
pub const NOW: i64 = 1_700_000_000;
pub const DAY: i64 = 86_400;

pub struct TestStore {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    pub url: String,
    pub key: MasterKey,
}

impl TestStore {
    pub fn new() -> TestStore {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.db");
        let url = format!("sqlite://{}", path.display());
        TestStore {
            dir,
            path,
            url,
            key: MasterKey::generate(),
        }
    }

    pub fn open(&self) -> Store {
        Store::open(&self.url, self.key.clone()).expect("open store")
    }

    /// The bytes of the database file and its WAL, concatenated.
    pub fn file_bytes(&self) -> Vec<u8> {
        let mut all = read_or_empty(&self.path);
        all.extend(read_or_empty(&wal_path(&self.path)));
        all
    }
}

pub fn wal_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-wal");
    PathBuf::from(p)
}

pub fn read_or_empty(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_default()
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub fn named(name: &str) -> NewEmbedSecret {
    NewEmbedSecret {
        name: name.into(),
        ..NewEmbedSecret::default()
    }
}
