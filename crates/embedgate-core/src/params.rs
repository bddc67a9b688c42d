//! The scheme's own parameters (spec §1): found, checked once, typed.

use core::ops::Range;

use crate::canonical::{Canonical, SigField, Span};
use crate::percent::{escaped_byte, is_token};
use crate::reason::EmbedError;

/// Length of `eg_sig`: unpadded base64url of 32 bytes.
pub const SIG_LEN: usize = 43;

pub(crate) fn check_kid(kid: &[u8]) -> Result<(), EmbedError> {
    if (1..=64).contains(&kid.len()) && kid.iter().copied().all(is_token) {
        Ok(())
    } else {
        Err(EmbedError::malformed(
            "eg_kid must be 1-64 of A-Z a-z 0-9 _ -",
        ))
    }
}

pub(crate) fn check_nonce(nonce: &[u8]) -> Result<(), EmbedError> {
    if (16..=128).contains(&nonce.len()) && nonce.iter().copied().all(is_token) {
        Ok(())
    } else {
        Err(EmbedError::malformed(
            "eg_nonce must be 16-128 of A-Z a-z 0-9 _ -",
        ))
    }
}

pub(crate) fn check_sub(decoded_len: usize) -> Result<(), EmbedError> {
    if !(1..=256).contains(&decoded_len) {
        return Err(EmbedError::malformed(
            "eg_sub must be 1-256 bytes once decoded",
        ));
    }
    Ok(())
}

pub(crate) fn check_attr_name(name: &[u8]) -> Result<(), EmbedError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(EmbedError::malformed(
            "an attribute name (eg_attr.NAME) must be 1-64 of a-z 0-9 _ -",
        ))
    }
}

/// Decimal, no sign, no leading zeros (a lone `0` is allowed), fits in u64.
fn parse_decimal(s: &[u8], what: &'static str) -> Result<u64, EmbedError> {
    let canonical = !s.is_empty()
        && s.len() <= 20
        && s.iter().all(u8::is_ascii_digit)
        && (s.len() == 1 || s[0] != b'0');
    if !canonical {
        return Err(EmbedError::malformed(what));
    }
    s.iter()
        .try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .ok_or(EmbedError::malformed(what))
}

/// Which of the scheme's parameters a name (after `eg_`) is.
enum Field {
    Kid,
    Nonce,
    Sub,
    Exp,
    Session,
    Attr,
}

/// The `eg_` parameters of one URL, checked by spec §1, as spans of the
/// canonical buffer (no copies: a verify allocates only that buffer and the
/// parameter list).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct EmbedParams {
    pub(crate) kid: Span,
    pub(crate) nonce: Span,
    /// Decoded: the encoded span itself when it had no escape (then it is
    /// ASCII), else decoded text appended after the string to sign.
    pub(crate) sub: Span,
    pub(crate) exp: u64,
    pub(crate) session: Option<u64>,
    /// The run of `eg_` parameters in `Canonical::params`.
    pub(crate) embed: Range<usize>,
    /// The run of `eg_attr.*` parameters in `Canonical::params`, sorted by
    /// name; their value spans point at decoded text.
    pub(crate) attrs: Range<usize>,
    pub(crate) sig: [u8; 32],
}

const ATTR_PREFIX: &[u8] = b"eg_attr.";

impl EmbedParams {
    pub(crate) fn extract(c: &mut Canonical) -> Result<Self, EmbedError> {
        let mut kid = None;
        let mut sub = None;
        let mut exp = None;
        let mut nonce = None;
        let mut session = None;
        let first = c.first_embed;
        let mut end = first;
        let mut attrs = first..first;

        fn once<T>(slot: &mut Option<T>, v: T) -> Result<(), EmbedError> {
            if slot.replace(v).is_some() {
                return Err(EmbedError::malformed(
                    "an eg_ parameter is given more than once",
                ));
            }
            Ok(())
        }

        while let Some(&p) = c.params.get(end) {
            let field = {
                let buf = c.buf.as_bytes();
                let name = &buf[p.name.range()];
                let Some(key) = name.strip_prefix(b"eg_") else {
                    break;
                };
                let value = &buf[p.value.range()];
                match key {
                    // Encoded and decoded forms agree for the token alphabet;
                    // a `%` means the value held a byte outside it.
                    b"kid" => check_kid(value).map(|()| Field::Kid)?,
                    b"nonce" => check_nonce(value).map(|()| Field::Nonce)?,
                    b"sub" => Field::Sub,
                    b"exp" => {
                        let v = parse_decimal(
                            value,
                            "eg_exp must be Unix seconds: digits, no sign, no leading zeros",
                        )?;
                        once(&mut exp, v)?;
                        Field::Exp
                    }
                    b"session" => {
                        let v = parse_decimal(
                            value,
                            "eg_session must be seconds: digits, no sign, no leading zeros",
                        )?;
                        once(&mut session, v)?;
                        Field::Session
                    }
                    _ => {
                        let Some(attr) = key.strip_prefix(b"attr.") else {
                            return Err(EmbedError::malformed("unknown eg_ parameter"));
                        };
                        check_attr_name(attr)?;
                        // Sorted, so a repeated attribute is the previous one.
                        if attrs.end == end
                            && attrs.start < end
                            && buf[c.params[end - 1].name.range()] == *name
                        {
                            return Err(EmbedError::malformed(
                                "an eg_ parameter is given more than once",
                            ));
                        }
                        Field::Attr
                    }
                }
            };
            match field {
                Field::Kid => once(&mut kid, p.value)?,
                Field::Nonce => once(&mut nonce, p.value)?,
                Field::Sub => {
                    let v = decoded_text(&mut c.buf, p.value, "eg_sub must be UTF-8 text")?;
                    check_sub(v.range().len())?;
                    once(&mut sub, v)?;
                }
                Field::Exp | Field::Session => {}
                Field::Attr => {
                    let v =
                        decoded_text(&mut c.buf, p.value, "an eg_attr value must be UTF-8 text")?;
                    c.params[end].value = v;
                    if attrs.is_empty() {
                        attrs.start = end;
                    }
                    attrs.end = end + 1;
                }
            }
            end += 1;
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
            embed: first..end,
            attrs,
            sig,
        })
    }
}

/// The name of an `eg_attr.NAME` parameter without its prefix.
pub(crate) fn attr_name(encoded_name: &str) -> &str {
    encoded_name.get(ATTR_PREFIX.len()..).unwrap_or("")
}

/// The decoded text of the canonical component at `span` of `buf`: the span
/// itself when it has no escape (canonical text without `%` is ASCII), else
/// the decoded bytes appended to `buf`. embedgate forwards identities as
/// HTTP headers, so they must be UTF-8 (a clarification the spec leaves open).
fn decoded_text(buf: &mut String, span: Span, what: &'static str) -> Result<Span, EmbedError> {
    if !buf.as_bytes()[span.range()].contains(&b'%') {
        return Ok(span);
    }
    // Decoding appends to the same buffer, so it works on indices.
    let mut bytes = core::mem::take(buf).into_bytes();
    let start = bytes.len();
    let mut i = span.start as usize;
    while i < span.end as usize {
        let b = bytes[i];
        // Canonical text has two hex digits after every `%`.
        let decoded = match b {
            b'%' => escaped_byte(&bytes, i).unwrap_or(b'%'),
            _ => b,
        };
        bytes.push(decoded);
        i += if b == b'%' { 3 } else { 1 };
    }
    let end = bytes.len();
    let valid = core::str::from_utf8(&bytes[start..]).is_ok();
    bytes.truncate(if valid { end } else { start });
    // Everything before `start` was a `String`, and the tail was checked.
    *buf = String::from_utf8(bytes).unwrap_or_default();
    if valid {
        Ok(Span::of(start..end))
    } else {
        Err(EmbedError::malformed(what))
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
