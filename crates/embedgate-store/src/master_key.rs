//! The master key: 32 bytes that encrypt every stored value.
//!
//! It comes from `EMBEDGATE_MASTER_KEY` (base64) or a key file holding the
//! same base64 text. The bytes live in zeroizing memory and `Debug` shows only
//! the key id, a one-way fingerprint safe to print and to store per row.

use std::fmt;
use std::io::Write as _;
use std::path::Path;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::error::StoreError;

/// Name of the environment variable holding the base64 master key.
pub const MASTER_KEY_ENV: &str = "EMBEDGATE_MASTER_KEY";

/// Length of a master key in bytes (AES-256).
pub const MASTER_KEY_LEN: usize = 32;

/// A 32-byte master key, wiped from memory when dropped.
#[derive(Clone)]
pub struct MasterKey {
    bytes: Zeroizing<[u8; MASTER_KEY_LEN]>,
    id: String,
}

impl MasterKey {
    /// A key from its 32 raw bytes.
    pub fn from_bytes(bytes: [u8; MASTER_KEY_LEN]) -> MasterKey {
        let bytes = Zeroizing::new(bytes);
        // The id is a truncated hash under a fixed label: it identifies the
        // key in rows and error messages without revealing anything usable.
        let mut h = Sha256::new();
        h.update(b"embedgate-store master key id v1\0");
        h.update(&bytes[..]);
        let digest = h.finalize();
        let id = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        MasterKey { bytes, id }
    }

    /// A fresh random key from the OS CSPRNG.
    pub fn generate() -> MasterKey {
        let mut bytes = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(&mut bytes[..]);
        MasterKey::from_bytes(*bytes)
    }

    /// A key from base64 text (standard or URL-safe, padded or not;
    /// surrounding whitespace ignored). It must decode to exactly 32 bytes.
    pub fn from_base64(s: &str) -> Result<MasterKey, StoreError> {
        let s = s.trim();
        let decoded = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(s).ok())
            .map(Zeroizing::new)
            .ok_or_else(|| StoreError::InvalidMasterKey("it is not valid base64".into()))?;
        let bytes: [u8; MASTER_KEY_LEN] = decoded.as_slice().try_into().map_err(|_| {
            StoreError::InvalidMasterKey(format!(
                "it decodes to {} bytes, expected {MASTER_KEY_LEN}",
                decoded.len()
            ))
        })?;
        Ok(MasterKey::from_bytes(bytes))
    }

    /// A key from a file holding its base64 text.
    pub fn from_file(path: &Path) -> Result<MasterKey, StoreError> {
        let text = std::fs::read_to_string(path)
            .map(Zeroizing::new)
            .map_err(|e| {
                StoreError::InvalidMasterKey(format!("cannot read {}: {e}", path.display()))
            })?;
        MasterKey::from_base64(&text).map_err(|e| match e {
            StoreError::InvalidMasterKey(why) => {
                StoreError::InvalidMasterKey(format!("{}: {why}", path.display()))
            }
            other => other,
        })
    }

    /// `EMBEDGATE_MASTER_KEY` if set, else the file; an error if neither.
    pub fn from_env_or_file(file: Option<&Path>) -> Result<MasterKey, StoreError> {
        match std::env::var(MASTER_KEY_ENV) {
            Ok(v) => {
                let v = Zeroizing::new(v);
                MasterKey::from_base64(&v).map_err(|e| match e {
                    StoreError::InvalidMasterKey(why) => {
                        StoreError::InvalidMasterKey(format!("{MASTER_KEY_ENV}: {why}"))
                    }
                    other => other,
                })
            }
            Err(std::env::VarError::NotUnicode(_)) => Err(StoreError::InvalidMasterKey(format!(
                "{MASTER_KEY_ENV} is not valid UTF-8"
            ))),
            Err(std::env::VarError::NotPresent) => match file {
                Some(path) => MasterKey::from_file(path),
                None => Err(StoreError::MasterKeyMissing),
            },
        }
    }

    /// Generates a key and writes it, as base64, to a new file with mode
    /// 0600. Refuses to overwrite an existing file.
    ///
    /// The file appears atomically: the key is written and synced under a
    /// temporary name, then hard-linked into place (which fails if the name
    /// exists), so a crash never leaves a half-written key file behind.
    pub fn generate_to_file(path: &Path) -> Result<MasterKey, StoreError> {
        if path.exists() {
            return Err(StoreError::KeyFileExists(path.to_path_buf()));
        }
        let key = MasterKey::generate();
        let text = Zeroizing::new(format!("{}\n", key.to_base64().as_str()));
        let file_name = path
            .file_name()
            .ok_or_else(|| StoreError::invalid("key file", "the path has no file name"))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(file_name);
        tmp_name.push(format!(".tmp{}", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let io = |e: std::io::Error| {
            StoreError::InvalidMasterKey(format!("cannot write {}: {e}", path.display()))
        };
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let written = (|| {
            let mut f = opts.open(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::hard_link(&tmp, path)
        })();
        let _ = std::fs::remove_file(&tmp);
        match written {
            Ok(()) => Ok(key),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(StoreError::KeyFileExists(path.to_path_buf()))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The key as standard base64, for writing to a key file.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(&self.bytes[..]))
    }

    /// The key id: 16 hex characters, a one-way fingerprint of the key.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn bytes(&self) -> &[u8; MASTER_KEY_LEN] {
        &self.bytes
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .field("bytes", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip_and_length_check() {
        let k = MasterKey::generate();
        let again = MasterKey::from_base64(&format!("  {}\n", k.to_base64().as_str()))
            .expect("valid base64");
        assert_eq!(k.id(), again.id());
        assert_eq!(k.bytes(), again.bytes());
        let short = STANDARD.encode([1u8; 16]);
        let err = MasterKey::from_base64(&short).expect_err("16 bytes");
        assert_eq!(err.code(), "invalid_master_key");
        assert!(MasterKey::from_base64("not base64 !!").is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let k = MasterKey::generate();
        let dbg = format!("{k:?}");
        assert!(!dbg.contains(k.to_base64().as_str()));
        assert!(dbg.contains("redacted"));
        assert!(dbg.contains(k.id()));
    }

    #[test]
    fn generate_to_file_is_0600_and_refuses_overwrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("master.key");
        let k = MasterKey::generate_to_file(&path).expect("new file");
        let read = MasterKey::from_file(&path).expect("readable");
        assert_eq!(k.id(), read.id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let err = MasterKey::generate_to_file(&path).expect_err("exists");
        assert_eq!(err.code(), "key_file_exists");
        assert_eq!(MasterKey::from_file(&path).expect("same").id(), k.id());
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
    }
}
