//! Generated identifiers: row ids and the public client id (`eg_kid`).
//!
//! Lowercase RFC 4648 base32 keeps them case-insensitive-safe, URL-safe and
//! easy to read aloud; the prefixes tell the kinds apart at a glance.

use rand::RngCore as _;

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Prefix of an embed secret's public client id.
pub const CLIENT_ID_PREFIX: &str = "ek_";
/// Prefix of an embed secret's row id.
pub const EMBED_ID_PREFIX: &str = "sec_";
/// Prefix of a credential's row id.
pub const CREDENTIAL_ID_PREFIX: &str = "cred_";

/// Unpadded lowercase base32 of `bytes`.
fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// `ek_` + 16 base32 characters (80 random bits).
pub(crate) fn new_client_id() -> String {
    format!("{CLIENT_ID_PREFIX}{}", base32(&random::<10>()))
}

/// A row id: the prefix + 26 base32 characters (128 random bits).
pub(crate) fn new_row_id(prefix: &str) -> String {
    format!("{prefix}{}", base32(&random::<16>()))
}

/// Whether `s` has the shape of a client id.
pub fn is_client_id(s: &str) -> bool {
    s.strip_prefix(CLIENT_ID_PREFIX)
        .is_some_and(|rest| rest.len() == 16 && rest.bytes().all(|b| BASE32.contains(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648() {
        assert_eq!(base32(b"foobar"), "mzxw6ytboi");
        assert_eq!(base32(b"f"), "my");
    }

    #[test]
    fn shapes() {
        let c = new_client_id();
        assert_eq!(c.len(), 19);
        assert!(is_client_id(&c), "{c}");
        assert!(!is_client_id("ek_ABCDEFGHIJKLMNOP"));
        assert_ne!(new_client_id(), c);
        let id = new_row_id(EMBED_ID_PREFIX);
        assert_eq!(id.len(), 4 + 26);
    }
}
