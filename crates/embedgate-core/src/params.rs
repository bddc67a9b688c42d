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
    let end = span.end as usize;
    let mut i = span.start as usize;
    let next_escape = |buf: &String, i: usize| {
        buf.as_bytes()[i..end]
            .iter()
            .position(|&b| b == b'%')
            .map_or(end, |n| i + n)
    };
    let mut run = next_escape(buf, i);
    if run == end {
        return Ok(span);
    }
    let start = buf.len();
    loop {
        // Literal runs are ASCII in canonical text: copied as they stand.
        buf.extend_from_within(i..run);
        i = run;
        if i == end {
            return Ok(Span::of(start..buf.len()));
        }
        // An escape. Canonical text escapes every non-ASCII byte, so a
        // character of UTF-8 is one escape per byte, its lead byte giving
        // their number; anything else is not UTF-8.
        let lead = escaped_byte(buf.as_bytes(), i).ok_or(EmbedError::malformed(what))?;
        let len = match lead {
            0x00..=0x7F => 1,
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return Err(EmbedError::malformed(what)),
        };
        let mut ch = [lead, 0, 0, 0];
        for (k, byte) in ch.iter_mut().enumerate().take(len).skip(1) {
            let at = i + 3 * k;
            if at >= end || buf.as_bytes()[at] != b'%' {
                return Err(EmbedError::malformed(what));
            }
            *byte = escaped_byte(buf.as_bytes(), at).ok_or(EmbedError::malformed(what))?;
        }
        // Rejects overlong forms, surrogates and stray continuation bytes.
        let text = core::str::from_utf8(&ch[..len]).map_err(|_| EmbedError::malformed(what))?;
        buf.push_str(text);
        i += 3 * len;
        run = next_escape(buf, i);
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

#[cfg(test)]
mod tests {
    use crate::{verify_url, EmbedKey, Reason, SignRequest, Signer, VerifyPolicy};
    use std::collections::HashMap;

    const SECRET: &[u8] = b"q7Vt2mXc9LpR4sZb8NwK3yHd6FgJ1aEo";

    fn verify(url: &str) -> Result<crate::VerifiedEmbedUrl, Reason> {
        let keys: HashMap<String, EmbedKey> = [("k1".to_owned(), EmbedKey::new(SECRET))].into();
        verify_url(url, &keys, 1_000, &VerifyPolicy::default()).map_err(|e| e.reason())
    }

    fn sign(sub: &str, attr: &str) -> String {
        let signer = Signer::new("k1", SECRET).expect("kid");
        signer
            .sign(&SignRequest {
                url: "https://h/d",
                sub,
                exp: 1_100,
                nonce: "AAAAAAAAAAAAAAAA",
                session: None,
                attrs: &[("a", attr)],
            })
            .expect("signs")
    }

    #[test]
    fn long_escaped_values_decode() {
        // 1- to 4-byte characters, escaped, between and after literal runs.
        let sub = "é".repeat(40) + "@x" + &"€".repeat(3) + " a😀";
        let attr = "€".repeat(100) + "-" + &"😀".repeat(20);
        let v = verify(&sign(&sub, &attr)).expect("verifies");
        assert_eq!(v.sub(), sub);
        assert_eq!(v.attrs().collect::<Vec<_>>(), [("a", attr.as_str())]);
    }

    #[test]
    fn escapes_that_are_not_utf8_are_malformed() {
        let good = sign("u", "x");
        for bad in [
            "%C3",
            "%C3%A9%C3",
            "%A9",
            "%C0%80",
            "%ED%A0%80",
            "%F5%80%80%80",
            "%E2%82",
            "%E2%82a",
            "%F0%9F%98%20",
            &"%C3%A9".repeat(40).replacen("%A9", "%41", 1),
        ] {
            let url = good.replace("eg_attr.a=x", &format!("eg_attr.a={bad}"));
            assert_eq!(verify(&url).unwrap_err(), Reason::Malformed, "{bad}");
        }
    }
}
