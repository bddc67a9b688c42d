//! Sealing values with AES-256-GCM, bound to the row they belong to.
//!
//! Each write draws a fresh random 96-bit nonce. The associated data binds
//! the row's kind, id and value version, so a ciphertext copied onto another
//! row, or an old version replayed over a newer one, fails authentication
//! instead of decrypting to the wrong secret.

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand::RngCore as _;
use zeroize::Zeroizing;

use crate::error::StoreError;
use crate::master_key::MasterKey;

/// Length of an AES-GCM nonce in bytes.
pub(crate) const NONCE_LEN: usize = 12;

/// The row a sealed value belongs to; bound in as associated data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowBinding<'a> {
    /// `"embed"`, `"credential"` or `"canary"`.
    pub kind: &'a str,
    /// The row's id.
    pub id: &'a str,
    /// The value's version (1 for a new row, +1 per replacement).
    pub version: i64,
}

impl RowBinding<'_> {
    fn aad(&self) -> Vec<u8> {
        // NUL separators: none of the parts can contain one (ids and kinds
        // are generated ASCII), so the encoding is unambiguous.
        format!(
            "embedgate-store sealed v1\0{}\0{}\0{}",
            self.kind, self.id, self.version
        )
        .into_bytes()
    }
}

/// A value encrypted under one master key.
#[derive(Debug, Clone)]
pub(crate) struct Sealed {
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

fn cipher(key: &MasterKey) -> Aes256Gcm {
    Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.bytes()))
}

/// Encrypts `plaintext` for the row `binding` under `key`.
pub(crate) fn seal(
    key: &MasterKey,
    binding: RowBinding<'_>,
    plaintext: &[u8],
) -> Result<Sealed, StoreError> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let aad = binding.aad();
    let ciphertext = cipher(key)
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| StoreError::Storage("encryption failed".into()))?;
    Ok(Sealed {
        nonce: nonce.to_vec(),
        ciphertext,
    })
}

/// Decrypts a value of the row `binding`; fails if the ciphertext, nonce or
/// row binding were altered, or the key is not the one that sealed it.
pub(crate) fn open(
    key: &MasterKey,
    binding: RowBinding<'_>,
    sealed: &Sealed,
) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let failed = |reason: &str| StoreError::DecryptFailed {
        id: binding.id.to_owned(),
        reason: reason.to_owned(),
    };
    if sealed.nonce.len() != NONCE_LEN {
        return Err(failed("the stored nonce has the wrong length"));
    }
    let aad = binding.aad();
    cipher(key)
        .decrypt(
            Nonce::from_slice(&sealed.nonce),
            Payload {
                msg: &sealed.ciphertext,
                aad: &aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| {
            failed("authentication failed: the ciphertext was altered or belongs to another row")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: RowBinding<'static> = RowBinding {
        kind: "embed",
        id: "sec_a",
        version: 1,
    };

    #[test]
    fn round_trip_and_fresh_nonce() {
        let k = MasterKey::generate();
        let a = seal(&k, ROW, b"hello").expect("seal");
        let b = seal(&k, ROW, b"hello").expect("seal");
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
        assert_eq!(open(&k, ROW, &a).expect("open").as_slice(), b"hello");
    }

    #[test]
    fn binding_key_and_bytes_are_authenticated() {
        let k = MasterKey::generate();
        let s = seal(&k, ROW, b"hello").expect("seal");
        for other in [
            RowBinding { id: "sec_b", ..ROW },
            RowBinding {
                kind: "credential",
                ..ROW
            },
            RowBinding { version: 2, ..ROW },
        ] {
            let e = open(&k, other, &s).expect_err("moved");
            assert_eq!(e.code(), "decrypt_failed");
        }
        assert!(open(&MasterKey::generate(), ROW, &s).is_err());
        let mut flipped = s.clone();
        flipped.ciphertext[0] ^= 1;
        assert!(open(&k, ROW, &flipped).is_err());
    }
}
