//! Spec §1: the scheme's own parameters, each checked by its rule once and
//! typed. One function per rule of the table.

use crate::base64url;
use crate::canonical::SCHEME_PREFIX;
use crate::percent::{ascii_text, decode_canonical, is_control, is_token_byte};
use crate::query::CanonicalQuery;
use crate::reason::EmbedError;

/// Length of `eg_sig`: unpadded base64url of 32 bytes.
pub const SIG_LEN: usize = 43;

/// The name prefix of attribute parameters.
pub(crate) const ATTR_PREFIX: &str = "eg_attr.";

/// The `eg_` parameters of one URL, checked (spec §3 step 1). Text values
/// are decoded.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct EmbedParams {
    pub(crate) kid: String,
    pub(crate) sub: String,
    pub(crate) exp: u64,
    pub(crate) nonce: String,
    pub(crate) session: Option<u64>,
    /// `(NAME, value)` of each `eg_attr.NAME`, sorted by name.
    pub(crate) attrs: Vec<(String, String)>,
    pub(crate) sig: [u8; 32],
}

impl EmbedParams {
    /// Finds, checks and decodes the scheme's parameters of a canonical
    /// query: each required one present once, no unknown `eg_` name, every
    /// value by its rule.
    pub(crate) fn from_query(query: &CanonicalQuery) -> Result<Self, EmbedError> {
        let mut kid = None;
        let mut sub = None;
        let mut exp = None;
        let mut nonce = None;
        let mut session = None;
        let mut sig = None;
        let mut attrs: Vec<(String, String)> = Vec::new();
        for (name, value) in query.pairs() {
            let Some(field) = name.strip_prefix(SCHEME_PREFIX) else {
                continue;
            };
            match field {
                b"kid" => set_once(&mut kid, check_kid(token_text(value))?.to_owned())?,
                b"sub" => set_once(&mut sub, check_sub(decode_text(value, TextField::Sub)?)?)?,
                b"exp" => set_once(&mut exp, parse_seconds(value, Seconds::Exp)?)?,
                b"nonce" => set_once(&mut nonce, check_nonce(token_text(value))?.to_owned())?,
                b"session" => set_once(&mut session, parse_seconds(value, Seconds::Session)?)?,
                b"sig" => set_once(&mut sig, decode_sig(value)?)?,
                _ => {
                    let attr = attr_name(field)?;
                    // Sorted by name: a repeated attribute follows its twin.
                    if attrs
                        .last()
                        .is_some_and(|(last, _)| last.as_bytes() == attr)
                    {
                        return Err(repeated());
                    }
                    let name = token_text(attr).to_owned();
                    attrs.push((name, decode_text(value, TextField::AttrValue)?));
                }
            }
        }
        Ok(EmbedParams {
            kid: required(kid, "eg_kid is missing")?,
            sub: required(sub, "eg_sub is missing")?,
            exp: required(exp, "eg_exp is missing")?,
            nonce: required(nonce, "eg_nonce is missing")?,
            session,
            attrs,
            sig: required(sig, "eg_sig is missing")?,
        })
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), EmbedError> {
    match slot.replace(value) {
        None => Ok(()),
        Some(_) => Err(repeated()),
    }
}

fn repeated() -> EmbedError {
    EmbedError::malformed("an eg_ parameter is given more than once")
}

fn required<T>(slot: Option<T>, missing: &'static str) -> Result<T, EmbedError> {
    slot.ok_or(EmbedError::malformed(missing))
}

/// `eg_kid`: 1–64 of `A-Z a-z 0-9 _ -`. (The token alphabet is unreserved,
/// so the canonical and the decoded forms are the same.)
pub(crate) fn check_kid(kid: &str) -> Result<&str, EmbedError> {
    if (1..=64).contains(&kid.len()) && kid.bytes().all(is_token_byte) {
        Ok(kid)
    } else {
        Err(EmbedError::malformed(
            "eg_kid must be 1-64 of A-Z a-z 0-9 _ -",
        ))
    }
}

/// `eg_nonce`: 16–128 of `A-Z a-z 0-9 _ -`.
pub(crate) fn check_nonce(nonce: &str) -> Result<&str, EmbedError> {
    if (16..=128).contains(&nonce.len()) && nonce.bytes().all(is_token_byte) {
        Ok(nonce)
    } else {
        Err(EmbedError::malformed(
            "eg_nonce must be 16-128 of A-Z a-z 0-9 _ -",
        ))
    }
}

/// `eg_sub`: 1–256 bytes once decoded (UTF-8 without control characters is
/// [`check_text`]'s rule).
pub(crate) fn check_sub<S: AsRef<str>>(sub: S) -> Result<S, EmbedError> {
    if (1..=256).contains(&sub.as_ref().len()) {
        Ok(sub)
    } else {
        Err(EmbedError::malformed(
            "eg_sub must be 1-256 bytes once decoded",
        ))
    }
}

/// `eg_attr.NAME`: NAME is 1–64 of `a-z 0-9 _ -`. Any other `eg_` name is
/// unknown. (`field` is the name after `eg_`.)
fn attr_name(field: &[u8]) -> Result<&[u8], EmbedError> {
    let name = field
        .strip_prefix(b"attr.")
        .ok_or(EmbedError::malformed("unknown eg_ parameter"))?;
    check_attr_name(token_text(name))?;
    Ok(name)
}

/// Canonical text of the token alphabets as `&str`: a byte outside ASCII
/// becomes text the rules then refuse.
fn token_text(canonical: &[u8]) -> &str {
    // Canonical forms are ASCII (every other byte is escaped).
    core::str::from_utf8(canonical).unwrap_or("\u{FFFD}")
}

/// An attribute NAME: 1–64 of `a-z 0-9 _ -`.
pub(crate) fn check_attr_name(name: &str) -> Result<&str, EmbedError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(name)
    } else {
        Err(EmbedError::malformed(
            "an attribute name (eg_attr.NAME) must be 1-64 of a-z 0-9 _ -",
        ))
    }
}

/// The two text values of the scheme, for their error messages.
#[derive(Clone, Copy)]
pub(crate) enum TextField {
    Sub,
    AttrValue,
}

impl TextField {
    fn not_utf8(self) -> EmbedError {
        EmbedError::malformed(match self {
            TextField::Sub => "eg_sub is not UTF-8",
            TextField::AttrValue => "an eg_attr value is not UTF-8",
        })
    }

    fn has_control(self) -> EmbedError {
        EmbedError::malformed(match self {
            TextField::Sub => "eg_sub has a control character",
            TextField::AttrValue => "an eg_attr value has a control character",
        })
    }
}

/// `eg_sub` and attribute values: UTF-8 without control characters.
pub(crate) fn check_text(text: &str, field: TextField) -> Result<(), EmbedError> {
    if text.bytes().any(is_control) {
        return Err(field.has_control());
    }
    Ok(())
}

/// Decodes a canonical value into text by [`check_text`]'s rule.
fn decode_text(encoded: &[u8], field: TextField) -> Result<String, EmbedError> {
    let text = String::from_utf8(decode_canonical(encoded)).map_err(|_| field.not_utf8())?;
    check_text(&text, field)?;
    Ok(text)
}

/// The two numbers of the scheme, for their error messages.
#[derive(Clone, Copy)]
enum Seconds {
    Exp,
    Session,
}

/// `eg_exp` and `eg_session`: decimal, no sign, no leading zeros (a lone
/// `0` is allowed), within `u64`.
fn parse_seconds(text: &[u8], field: Seconds) -> Result<u64, EmbedError> {
    let refuse = || {
        EmbedError::malformed(match field {
            Seconds::Exp => "eg_exp must be Unix seconds: digits, no sign, no leading zeros",
            Seconds::Session => "eg_session must be seconds: digits, no sign, no leading zeros",
        })
    };
    let digits_only = !text.is_empty() && text.iter().all(u8::is_ascii_digit);
    if !digits_only || (text.len() > 1 && text[0] == b'0') {
        return Err(refuse());
    }
    text.iter()
        .try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .ok_or_else(refuse)
}

/// `n` as `eg_exp` and `eg_session` write it (and as JSON writes an
/// integer): decimal, no sign, no leading zeros. (Not `to_string`: the
/// formatting machinery would weigh on the WebAssembly package for a few
/// numbers.)
pub(crate) fn decimal(mut n: u64) -> String {
    let mut digits = Vec::with_capacity(20);
    loop {
        digits.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    ascii_text(digits)
}

/// `eg_sig`: exactly 43 characters, the canonical unpadded base64url of 32
/// bytes.
fn decode_sig(text: &[u8]) -> Result<[u8; 32], EmbedError> {
    if text.len() != SIG_LEN {
        return Err(EmbedError::malformed(
            "eg_sig must be exactly 43 base64url characters (32 bytes, unpadded)",
        ));
    }
    base64url::decode_array(text).ok_or(EmbedError::malformed(
        "eg_sig is not canonical base64url (a character outside the alphabet, or stray bits in the last one)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `verifier.rs` reads a URL as EG1 first and as EGJ1 only when that
    /// fails: sound because an `eg_jwt` parameter never passes EG1 §1.
    #[test]
    fn eg_jwt_is_never_an_eg1_parameter() {
        let complete = "eg_kid=k&eg_sub=u&eg_exp=1&eg_nonce=AAAAAAAAAAAAAAAA\
                        &eg_sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let query = |raw: &str| CanonicalQuery::parse(raw).expect("parses");
        assert!(EmbedParams::from_query(&query(complete)).is_ok());
        for jwt in ["eg_jwt=x", "eg_jwt", "eg%5Fjwt=a.b.c"] {
            let with_jwt = format!("{complete}&{jwt}");
            assert!(EmbedParams::from_query(&query(&with_jwt)).is_err(), "{jwt}");
        }
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds(b"0", Seconds::Exp), Ok(0));
        assert_eq!(
            parse_seconds(b"18446744073709551615", Seconds::Exp),
            Ok(u64::MAX)
        );
        for bad in ["", "01", "+1", "-1", "1.0", "18446744073709551616", " 1"] {
            assert!(
                parse_seconds(bad.as_bytes(), Seconds::Exp).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn text_values() {
        assert_eq!(
            decode_text(b"a%20%C3%A9", TextField::Sub).as_deref(),
            Ok("a é")
        );
        for bad in ["%FF", "%C3", "a%0Ab", "%7F", "%C0%80", "%ED%A0%80"] {
            assert!(
                decode_text(bad.as_bytes(), TextField::Sub).is_err(),
                "{bad}"
            );
        }
    }
}
