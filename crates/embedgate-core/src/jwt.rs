//! EGJ1 §1: the `eg_jwt` parameter, a JWS in compact serialisation
//! (RFC 7515 §7.1) signed with HS256, and its JOSE header.
//!
//! Reading stops at the header: the payload is decoded from base64url but
//! not read until its MAC matched (`verifier.rs`, EGJ1 §3 steps 4-5; the
//! claims are `jwt_claims.rs`).

use crate::base64url;
use crate::json::{self, JsonReader};
use crate::params::{check_kid, SIG_LEN};
use crate::query::CanonicalQuery;
use crate::reason::EmbedError;

/// The one query parameter of an EGJ1 URL.
pub(crate) const JWT_PARAM: &str = "eg_jwt";

/// The one algorithm EGJ1 accepts.
const ALG: &str = "HS256";

/// The media type a header may name.
const TYP: &str = "JWT";

/// "A URL with `eg_jwt` is never read as EG1" (EGJ1 §1): whether the
/// query has that parameter (its name once decoded: `eg%5Fjwt` too).
pub(crate) fn is_jwt_query(query: &CanonicalQuery) -> bool {
    query.pairs().any(|(name, _)| name == JWT_PARAM.as_bytes())
}

/// EGJ1 §3 step 1, first part: "`eg_jwt` is the only query parameter,
/// given once". The token, percent-decoded (its alphabet and `.` are
/// unreserved, so the canonical form is the decoded one; any other byte
/// stays escaped and fails [`CompactJws::parse`]).
pub(crate) fn token_of(query: &CanonicalQuery) -> Result<&[u8], EmbedError> {
    let mut pairs = query.pairs();
    match (pairs.next(), pairs.next()) {
        (Some((name, token)), None) if name == JWT_PARAM.as_bytes() => Ok(token),
        _ => Err(EmbedError::malformed(
            "eg_jwt must be the only query parameter, given once",
        )),
    }
}

/// A token whose shape and header passed EGJ1 §3 step 1. Its payload is
/// decoded from base64url but unread: nothing in it may be acted on before
/// the MAC over [`CompactJws::signing_input`] matched.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct CompactJws {
    /// The header's `kid`, by the rule of `eg_kid`.
    pub(crate) kid: String,
    /// `<header>.<payload>` as they appear in the URL: what the MAC covers.
    pub(crate) signing_input: Vec<u8>,
    /// The payload's bytes (JSON once authenticated).
    pub(crate) payload: Vec<u8>,
    pub(crate) signature: [u8; 32],
}

impl CompactJws {
    /// EGJ1 §3 step 1 for the token: "three canonical base64url parts; the
    /// header is a JSON object meeting §1", and a 43-character signature.
    pub(crate) fn parse(token: &[u8]) -> Result<Self, EmbedError> {
        let [header, payload, signature] = split_parts(token)?;
        let kid = read_header(&decode_part(header)?)?;
        Ok(CompactJws {
            kid,
            signing_input: token[..header.len() + 1 + payload.len()].to_vec(),
            payload: decode_part(payload)?,
            signature: decode_signature(signature)?,
        })
    }
}

/// Three parts separated by `.`.
fn split_parts(token: &[u8]) -> Result<[&[u8]; 3], EmbedError> {
    let mut parts = token.split(|&b| b == b'.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(header), Some(payload), Some(signature), None) => Ok([header, payload, signature]),
        _ => Err(shape_rule()),
    }
}

/// "Base64url parts are unpadded and canonical (no stray bits in the last
/// character, no `=`, no whitespace)."
fn decode_part(part: &[u8]) -> Result<Vec<u8>, EmbedError> {
    base64url::decode(part).ok_or_else(shape_rule)
}

/// "The signature part is 43 characters": the 32 bytes of HMAC-SHA256.
fn decode_signature(part: &[u8]) -> Result<[u8; 32], EmbedError> {
    if part.len() != SIG_LEN {
        return Err(shape_rule());
    }
    base64url::decode_array(part).ok_or_else(shape_rule)
}

fn shape_rule() -> EmbedError {
    EmbedError::malformed(
        "eg_jwt must be three canonical unpadded base64url parts joined by ., \
         the signature 43 characters",
    )
}

/// The JOSE header (EGJ1 §1): `alg` exactly `HS256` (`none`, `HS512`,
/// `RS256`, ... are malformed), `kid` by the rule of `eg_kid`, `typ` `JWT`
/// when present, no other member (`crit`, `jku`, `jwk`, `x5u`, ...), none
/// twice. Returns the kid.
fn read_header(json: &[u8]) -> Result<String, EmbedError> {
    let mut r = JsonReader::new(json);
    let mut members = r.object()?;
    let mut alg = String::new();
    let mut kid = String::new();
    while let Some(name) = r.member(&mut members)? {
        let value = r.string()?;
        match name.as_str() {
            "alg" => alg = value,
            "kid" => kid = value,
            "typ" if value == TYP => {}
            _ => return Err(header_rule()),
        }
    }
    r.end()?;
    if alg != ALG {
        return Err(header_rule());
    }
    check_kid(&kid)?;
    Ok(kid)
}

fn header_rule() -> EmbedError {
    EmbedError::malformed(
        "the JOSE header must be alg HS256 and a kid, typ JWT if any, and nothing else",
    )
}

/// The signing input a signer writes: the header
/// `{"alg":"HS256","kid":…,"typ":"JWT"}` (members sorted, as PyJWT writes
/// them) and the claims, each in base64url, joined by `.`.
pub(crate) fn signing_input(kid: &str, claims_json: &[u8]) -> String {
    let mut header = br#"{"alg":"HS256","kid":"#.to_vec();
    json::push_string(&mut header, kid);
    header.extend_from_slice(br#","typ":"JWT"}"#);
    let mut input = base64url::encode(&header);
    input.push('.');
    input.push_str(&base64url::encode(claims_json));
    input
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64url::encode(s.as_bytes())
    }

    fn token(header: &str) -> String {
        format!("{}.{}.{}", b64(header), b64("{}"), "A".repeat(43))
    }

    #[test]
    fn headers_by_the_rules() {
        for good in [
            r#"{"alg":"HS256","kid":"k1"}"#,
            r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#,
            r#" { "typ" : "JWT" , "kid" : "k1" , "alg" : "HS\u0032\u00356" } "#,
        ] {
            let jws = CompactJws::parse(token(good).as_bytes()).expect(good);
            assert_eq!(jws.kid, "k1");
        }
        for bad in [
            r#"{"alg":"none","kid":"k1"}"#,
            r#"{"alg":"HS512","kid":"k1"}"#,
            r#"{"alg":"hs256","kid":"k1"}"#,
            r#"{"alg":["HS256"],"kid":"k1"}"#,
            r#"{"kid":"k1"}"#,
            r#"{"alg":"HS256"}"#,
            r#"{"alg":"HS256","kid":"bad kid"}"#,
            r#"{"alg":"HS256","kid":""}"#,
            r#"{"alg":"HS256","kid":"k1","typ":"jwt"}"#,
            r#"{"alg":"HS256","kid":"k1","typ":null}"#,
            r#"{"alg":"HS256","kid":"k1","crit":["exp"]}"#,
            r#"{"alg":"HS256","kid":"k1","jku":"https://x.example/k"}"#,
            r#"{"alg":"HS256","kid":"k1","alg":"HS256"}"#,
            r#"{"alg":"HS256","kid":"k1","kid":"k2"}"#,
            r#"["alg","HS256"]"#,
            r#"{"alg":"HS256","kid":"k1"} x"#,
            "",
        ] {
            assert!(CompactJws::parse(token(bad).as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn shape_by_the_rules() {
        let header = b64(r#"{"alg":"HS256","kid":"k1"}"#);
        let payload = b64("{}");
        let sig = "A".repeat(43);
        let ok = format!("{header}.{payload}.{sig}");
        let jws = CompactJws::parse(ok.as_bytes()).expect("parses");
        assert_eq!(jws.signing_input, format!("{header}.{payload}").as_bytes());
        assert_eq!(jws.payload, b"{}");
        for bad in [
            format!("{header}.{payload}"),
            format!("{header}.{payload}.{sig}.x"),
            format!("{header}.{payload}.{sig}="),
            format!("{header}.{payload}.{}", "A".repeat(42)),
            format!("{header}.{payload}.{}B", "A".repeat(42)),
            format!("{header}=.{payload}.{sig}"),
            format!("{header}.{payload}=.{sig}"),
            format!("{header}.e31.{sig}"),
            format!("{header}.{payload}.{}", "A".repeat(44)),
            format!("{header} .{payload}.{sig}"),
            format!("{}.{payload}.{sig}", header.replacen('J', "+", 1)),
        ] {
            assert!(CompactJws::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn eg_jwt_must_be_alone() {
        let query = |raw: &str| CanonicalQuery::parse(raw).expect("parses");
        assert_eq!(token_of(&query("eg_jwt=a.b.c")).ok(), Some(&b"a.b.c"[..]));
        assert_eq!(
            token_of(&query("eg%5Fjwt=a%2Eb.c&")).ok(),
            Some(&b"a.b.c"[..])
        );
        for bad in ["eg_jwt=a&eg_jwt=a", "eg_jwt=a&x=1", "eg_jwt=a&eg_kid=k", ""] {
            assert!(token_of(&query(bad)).is_err(), "{bad}");
        }
        assert!(is_jwt_query(&query("x=1&eg%5fjwt")));
        assert!(!is_jwt_query(&query("x=1&eg_jwtx=1&eg_kid=k")));
    }
}
