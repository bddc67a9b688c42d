//! Secrets and nonces from a caller-supplied CSPRNG.
//!
//! The core owns no randomness source (it would be I/O, and on
//! `wasm32-unknown-unknown` there is none by default); callers pass the OS
//! generator (`rand::rngs::OsRng`, `getrandom`, WebCrypto through a wrapper).

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

const BASE62: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Length of a generated embed secret.
pub const SECRET_LEN: usize = 32;

/// `len` characters of base62, uniformly distributed (rejection sampling:
/// bytes of 248 and above are dropped so that `% 62` has no bias).
fn base62<R: CryptoRngCore + ?Sized>(rng: &mut R, len: usize) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(len));
    let mut buf = Zeroizing::new([0u8; 64]);
    while out.len() < len {
        rng.fill_bytes(&mut buf[..]);
        for &b in buf.iter() {
            if b < 248 && out.len() < len {
                out.push(BASE62[usize::from(b % 62)] as char);
            }
        }
    }
    out
}

/// A new embed secret: 32 characters of base62 (about 190 bits), in memory
/// that is wiped when dropped.
///
/// ```
/// let s = embedgate_core::generate_secret(&mut rand::rngs::OsRng);
/// assert_eq!(s.len(), 32);
/// assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
/// ```
pub fn generate_secret<R: CryptoRngCore + ?Sized>(rng: &mut R) -> Zeroizing<String> {
    base62(rng, SECRET_LEN)
}

/// A new nonce: 16 random bytes as unpadded base64url (22 characters of the
/// `eg_nonce` alphabet).
pub fn generate_nonce<R: CryptoRngCore + ?Sized>(rng: &mut R) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    crate::base64url::encode(&bytes)
}

/// `len` random base62 characters, for other identifiers (client ids, say).
pub fn generate_base62<R: CryptoRngCore + ?Sized>(rng: &mut R, len: usize) -> String {
    base62(rng, len).as_str().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_differ_and_use_the_whole_alphabet() {
        let mut rng = rand::rngs::OsRng;
        let a = generate_secret(&mut rng);
        let b = generate_secret(&mut rng);
        assert_ne!(*a, *b);
        let many: String = (0..200)
            .map(|_| generate_secret(&mut rng).to_string())
            .collect();
        for c in BASE62 {
            assert!(many.as_bytes().contains(c), "{} never drawn", *c as char);
        }
        let n = generate_nonce(&mut rng);
        assert_eq!(n.len(), 22);
        assert!(crate::params::check_nonce(&n).is_ok());
    }
}
