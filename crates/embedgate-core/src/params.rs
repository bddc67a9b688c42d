//! The scheme's own parameters (spec §1): found, checked once, typed.

use crate::canonical::{Canonical, SigField};
use crate::percent::decode_canonical;
use crate::reason::EmbedError;

/// Length of `eg_sig`: unpadded base64url of 32 bytes.
pub const SIG_LEN: usize = 43;

/// `A-Z a-z 0-9 _ -`, the alphabet of `eg_kid` and `eg_nonce`.
pub(crate) fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

pub(crate) fn check_kid(kid: &str) -> Result<(), EmbedError> {
    if (1..=64).contains(&kid.len()) && kid.bytes().all(is_token_char) {
        Ok(())
    } else {
        Err(EmbedError::malformed(
            "eg_kid must be 1-64 of A-Z a-z 0-9 _ -",
        ))
    }
}

pub(crate) fn check_nonce(nonce: &str) -> Result<(), EmbedError> {
    if (16..=128).contains(&nonce.len()) && nonce.bytes().all(is_token_char) {
        Ok(())
    } else {
        Err(EmbedError::malformed(
            "eg_nonce must be 16-128 of A-Z a-z 0-9 _ -",
        ))
    }
}

pub(crate) fn check_sub(sub: &[u8]) -> Result<(), EmbedError> {
    if !(1..=256).contains(&sub.len()) {
        return Err(EmbedError::malformed(
            "eg_sub must be 1-256 bytes once decoded",
        ));
    }
    Ok(())
}

pub(crate) fn check_attr_name(name: &str) -> Result<(), EmbedError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(EmbedError::malformed(
            "an attribute name (eg_attr.NAME) must be 1-64 of a-z 0-9 _ -",
        ))
    }
}

/// Decimal, no sign, no leading zeros (a lone `0` is allowed), fits in u64.
fn parse_decimal(s: &str, what: &'static str) -> Result<u64, EmbedError> {
    let canonical = !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s.len() == 1 || !s.starts_with('0'));
    if !canonical {
        return Err(EmbedError::malformed(what));
    }
    s.parse().map_err(|_| EmbedError::malformed(what))
}

/// Decoded text of an `eg_` value; embedgate forwards identities as HTTP
/// headers, so they must be UTF-8 (a clarification the spec leaves open).
fn utf8(encoded: &str, what: &'static str) -> Result<String, EmbedError> {
    if !encoded.contains('%') {
        return Ok(encoded.to_owned());
    }
    String::from_utf8(decode_canonical(encoded)).map_err(|_| EmbedError::malformed(what))
}

/// The `eg_` parameters of one URL, checked by spec §1.
#[derive(Clone)]
pub(crate) struct EmbedParams {
    pub(crate) kid: String,
    pub(crate) sub: String,
    pub(crate) exp: u64,
    pub(crate) nonce: String,
    pub(crate) session: Option<u64>,
    /// Sorted by name (they come from the sorted canonical query).
    pub(crate) attrs: Vec<(String, String)>,
    pub(crate) sig: [u8; 32],
}

impl EmbedParams {
    pub(crate) fn extract(c: &Canonical) -> Result<Self, EmbedError> {
        let mut kid = None;
        let mut sub = None;
        let mut exp = None;
        let mut nonce = None;
        let mut session = None;
        let mut attrs: Vec<(String, String)> = Vec::new();

        fn once<T>(slot: &mut Option<T>, v: T) -> Result<(), EmbedError> {
            if slot.replace(v).is_some() {
                return Err(EmbedError::malformed(
                    "an eg_ parameter is given more than once",
                ));
            }
            Ok(())
        }

        // Parameters are sorted by encoded name, so the scheme's own form one
        // contiguous run starting at the first name >= "eg_".
        let first = c.params.partition_point(|p| c.name(p) < "eg_");
        for p in &c.params[first..] {
            let name = c.name(p);
            let Some(key) = name.strip_prefix("eg_") else {
                break;
            };
            let value = c.value(p);
            match key {
                // Encoded and decoded forms agree for the token alphabet; a
                // `%` means the value held a byte outside it.
                "kid" => {
                    check_kid(value)?;
                    once(&mut kid, value.to_owned())?;
                }
                "nonce" => {
                    check_nonce(value)?;
                    once(&mut nonce, value.to_owned())?;
                }
                "sub" => {
                    let v = utf8(value, "eg_sub must be UTF-8 text")?;
                    check_sub(v.as_bytes())?;
                    once(&mut sub, v)?;
                }
                "exp" => {
                    let v = parse_decimal(
                        value,
                        "eg_exp must be Unix seconds: digits, no sign, no leading zeros",
                    )?;
                    once(&mut exp, v)?;
                }
                "session" => {
                    let v = parse_decimal(
                        value,
                        "eg_session must be seconds: digits, no sign, no leading zeros",
                    )?;
                    once(&mut session, v)?;
                }
                _ => {
                    let Some(attr) = key.strip_prefix("attr.") else {
                        return Err(EmbedError::malformed("unknown eg_ parameter"));
                    };
                    check_attr_name(attr)?;
                    if attrs.last().is_some_and(|(n, _)| n == attr) {
                        return Err(EmbedError::malformed(
                            "an eg_ parameter is given more than once",
                        ));
                    }
                    let v = utf8(value, "an eg_attr value must be UTF-8 text")?;
                    attrs.push((attr.to_owned(), v));
                }
            }
        }
        let sig = match &c.sig {
            SigField::One(encoded) => decode_sig(encoded)?,
            SigField::WrongLength => return Err(EmbedError::malformed(SIG_SHAPE)),
            SigField::Absent => return Err(EmbedError::malformed("eg_sig is missing")),
            SigField::Repeated => {
                return Err(EmbedError::malformed(
                    "an eg_ parameter is given more than once",
                ))
            }
        };
        Ok(EmbedParams {
            kid: kid.ok_or(EmbedError::malformed("eg_kid is missing"))?,
            sub: sub.ok_or(EmbedError::malformed("eg_sub is missing"))?,
            exp: exp.ok_or(EmbedError::malformed("eg_exp is missing"))?,
            nonce: nonce.ok_or(EmbedError::malformed("eg_nonce is missing"))?,
            session,
            attrs,
            sig,
        })
    }
}

const SIG_SHAPE: &str = "eg_sig must be exactly 43 base64url characters (32 bytes, unpadded)";

fn decode_sig(encoded: &[u8; SIG_LEN]) -> Result<[u8; 32], EmbedError> {
    crate::base64url::decode::<32>(encoded).ok_or(EmbedError::malformed(SIG_SHAPE))
}

/// `base64url_nopad` of a MAC.
pub(crate) fn encode_sig(mac: &[u8]) -> String {
    crate::base64url::encode(mac)
}
