//! EGJ1 §1: the claims of a token, read from a payload whose MAC matched
//! (EGJ1 §3 step 5) and written by the signer. One function per row of the
//! spec's table; the rules EG1 already has (sub, nonce, attributes, path)
//! are EG1's own functions.

use crate::canonical::SCHEME_PREFIX;
use crate::json::{self, JsonReader, MAX_INTEGER};
use crate::params::{check_attr_name, check_nonce, check_sub, check_text, decimal, TextField};
use crate::path::normalise_path;
use crate::percent::decode_canonical;
use crate::query::CanonicalQuery;
use crate::reason::EmbedError;

/// The claims of an authenticated token, each checked by its rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Claims {
    /// The host the token was signed for (compared with the request's in
    /// step 6).
    pub(crate) aud: String,
    /// The path the token was signed for, normalised by EG1 §2.
    pub(crate) path: String,
    /// `params` as the canonical query to forward (EGJ1 §2).
    pub(crate) params: CanonicalQuery,
    pub(crate) sub: String,
    pub(crate) exp: u64,
    /// The nonce (`eg_nonce` in EG1).
    pub(crate) jti: String,
    pub(crate) nbf: Option<u64>,
    pub(crate) session: Option<u64>,
    /// `(name, value)`, sorted by name.
    pub(crate) attrs: Vec<(String, String)>,
}

/// The required claims, as bits of what [`Claims::parse`] has seen.
const AUD: u8 = 1;
const PATH: u8 = 2;
const SUB: u8 = 4;
const EXP: u8 = 8;
const JTI: u8 = 16;
const REQUIRED: u8 = AUD | PATH | SUB | EXP | JTI;

impl Claims {
    /// EGJ1 §3 step 5: "the payload is a JSON object whose claims meet §1".
    /// Call it only once the payload's MAC matched.
    pub(crate) fn parse(payload: &[u8]) -> Result<Self, EmbedError> {
        let mut r = JsonReader::new(payload);
        let mut members = r.object()?;
        let mut c = Claims::default();
        let mut seen = 0;
        // A repeated member is refused when the object closes.
        while let Some(name) = r.member(&mut members)? {
            seen |= match name.as_str() {
                "aud" => {
                    c.aud = r.string()?;
                    AUD
                }
                "path" => {
                    c.path = read_path(&mut r)?;
                    PATH
                }
                "sub" => {
                    c.sub = read_sub(&mut r)?;
                    SUB
                }
                "exp" => {
                    c.exp = r.integer()?;
                    EXP
                }
                "jti" => {
                    c.jti = read_jti(&mut r)?;
                    JTI
                }
                "params" => {
                    read_params(&mut r, &mut c.params)?;
                    0
                }
                "nbf" => {
                    c.nbf = Some(r.integer()?);
                    0
                }
                "session" => {
                    c.session = Some(r.integer()?);
                    0
                }
                "attrs" => {
                    c.attrs = read_attrs(&mut r)?;
                    0
                }
                // "Other claims (iat, iss, private claims) are allowed and ignored."
                _ => {
                    r.skip_value(1)?;
                    0
                }
            };
        }
        r.end()?;
        if seen != REQUIRED {
            return Err(EmbedError::malformed(
                "the token lacks a required claim (aud, path, sub, exp, jti)",
            ));
        }
        Ok(c)
    }
}

/// `path`: "a `path` that EG1 §2 refuses is malformed"; kept normalised.
fn read_path(r: &mut JsonReader<'_>) -> Result<String, EmbedError> {
    normalise_path(&r.string()?)
}

/// `params`: "an object of content parameters: each value a string or an
/// array of strings; no name may start with `eg_`". Added to `query`, the
/// canonical query EGJ1 §2 forwards: one pair per string, encoded and
/// sorted by EG1 §2.
fn read_params(r: &mut JsonReader<'_>, query: &mut CanonicalQuery) -> Result<(), EmbedError> {
    let mut members = r.object()?;
    while let Some(name) = r.member(&mut members)? {
        if name.as_bytes().starts_with(SCHEME_PREFIX) {
            return Err(EmbedError::malformed(
                "a name in the params claim starts with eg_",
            ));
        }
        if r.peek() == Some(b'[') {
            r.array()?;
            let mut count = 0;
            while r.element(&mut count)? {
                query.push_decoded(name.as_bytes(), r.string()?.as_bytes());
            }
        } else {
            query.push_decoded(name.as_bytes(), r.string()?.as_bytes());
        }
    }
    query.sort();
    Ok(())
}

/// `sub`: "a JSON string, 1–256 bytes, no control characters", as `eg_sub`.
fn read_sub(r: &mut JsonReader<'_>) -> Result<String, EmbedError> {
    let sub = check_sub(r.string()?)?;
    check_text(&sub, TextField::Sub)?;
    Ok(sub)
}

/// `jti`: "16–128 of `A-Z a-z 0-9 _ -`", as `eg_nonce`.
fn read_jti(r: &mut JsonReader<'_>) -> Result<String, EmbedError> {
    let jti = r.string()?;
    check_nonce(&jti)?;
    Ok(jti)
}

/// `attrs`: "an object of user attributes: names as EG1 `eg_attr.NAME`,
/// values strings without control characters". Sorted by name, as EG1's.
fn read_attrs(r: &mut JsonReader<'_>) -> Result<Vec<(String, String)>, EmbedError> {
    let mut attrs: Vec<(String, String)> = Vec::new();
    let mut members = r.object()?;
    while let Some(name) = r.member(&mut members)? {
        check_attr_name(&name)?;
        let value = r.string()?;
        check_text(&value, TextField::AttrValue)?;
        let at = attrs.partition_point(|(earlier, _)| *earlier < name);
        attrs.insert(at, (name, value));
    }
    Ok(attrs)
}

/// The claims a signer writes (EGJ1 §1), from checked values.
#[derive(Debug)]
pub(crate) struct ClaimsToSign<'a> {
    /// The content URL's canonical host.
    pub(crate) aud: &'a str,
    /// The content URL's normalised path.
    pub(crate) path: &'a str,
    /// The content URL's query parameters, canonical (EG1 §2 query steps
    /// 1-4), in the order written.
    pub(crate) params: &'a CanonicalQuery,
    pub(crate) sub: &'a str,
    pub(crate) exp: u64,
    pub(crate) jti: &'a str,
    pub(crate) attrs: &'a [(&'a str, &'a str)],
    pub(crate) session: Option<u64>,
}

impl ClaimsToSign<'_> {
    /// The claims as compact JSON, in the order `aud`, `path`, `params`
    /// (when there are any), `sub`, `exp`, `jti`, `attrs` (when given),
    /// `session` (when given). This is what the Python signer
    /// (`sdk/python`) writes, so both produce the same token for the same
    /// inputs.
    pub(crate) fn to_json(&self) -> Result<Vec<u8>, EmbedError> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(br#"{"aud":"#);
        json::push_string(&mut out, self.aud);
        out.extend_from_slice(br#","path":"#);
        json::push_string(&mut out, self.path);
        if self.params.pairs().next().is_some() {
            out.extend_from_slice(br#","params":"#);
            push_params(&mut out, self.params)?;
        }
        out.extend_from_slice(br#","sub":"#);
        json::push_string(&mut out, self.sub);
        out.extend_from_slice(br#","exp":"#);
        push_integer(&mut out, self.exp)?;
        out.extend_from_slice(br#","jti":"#);
        json::push_string(&mut out, self.jti);
        let mut sep = br#","attrs":{"#.as_slice();
        for (name, value) in self.attrs {
            out.extend_from_slice(sep);
            sep = b",";
            json::push_string(&mut out, name);
            out.push(b':');
            json::push_string(&mut out, value);
        }
        if !self.attrs.is_empty() {
            out.push(b'}');
        }
        if let Some(session) = self.session {
            out.extend_from_slice(br#","session":"#);
            push_integer(&mut out, session)?;
        }
        out.push(b'}');
        Ok(out)
    }
}

/// `params`: each name once, in the order it first appears, its value a
/// string, or an array of its values in order when it was given more than
/// once. Names and values must be UTF-8 once decoded. (`query` is not
/// empty; its canonical names are equal exactly when the names are.)
fn push_params(out: &mut Vec<u8>, query: &CanonicalQuery) -> Result<(), EmbedError> {
    let mut sep = b'{';
    for (k, (name, _)) in query.pairs().enumerate() {
        if query.pairs().take(k).any(|(earlier, _)| earlier == name) {
            continue;
        }
        out.push(sep);
        sep = b',';
        json::push_string(out, &utf8(name)?);
        out.push(b':');
        let values = || query.pairs().skip(k).filter(|(n, _)| *n == name);
        let array = values().nth(1).is_some();
        if array {
            out.push(b'[');
        }
        for (i, (_, value)) in values().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::push_string(out, &utf8(value)?);
        }
        if array {
            out.push(b']');
        }
    }
    out.push(b'}');
    Ok(())
}

/// A canonical name or value, decoded, as text.
fn utf8(canonical: &[u8]) -> Result<String, EmbedError> {
    String::from_utf8(decode_canonical(canonical)).map_err(|_| {
        EmbedError::malformed("a query parameter of the URL to sign is not UTF-8 (EGJ1 params)")
    })
}

/// "Integers are JSON numbers without a fraction or exponent, in 0 ..= 2^53."
fn push_integer(out: &mut Vec<u8>, n: u64) -> Result<(), EmbedError> {
    if n > MAX_INTEGER {
        return Err(EmbedError::malformed(
            "exp and session must be at most 2^53 in a JWT",
        ));
    }
    out.extend_from_slice(decimal(n).as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#""aud":"h","path":"/p","sub":"u","exp":5,"jti":"AAAAAAAAAAAAAAAA""#;

    fn claims(extra: &str) -> Result<Claims, EmbedError> {
        Claims::parse(format!("{{{MINIMAL}{extra}}}").as_bytes())
    }

    fn forward(c: &Claims) -> String {
        let mut out = Vec::new();
        c.params.join(&mut out, |_| true);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn the_claims_of_the_table() {
        let c = claims(
            r#","params":{"b":["2","1"],"a b":"é","e":[]},"nbf":4,"session":0,
               "attrs":{"z":"1","a":"x y"},"iat":1.5,"x":{"y":[null,true,{"z":-1e9}]}"#,
        )
        .expect("valid");
        assert_eq!((c.aud.as_str(), c.path.as_str()), ("h", "/p"));
        assert_eq!((c.sub.as_str(), c.exp, c.jti.len()), ("u", 5, 16));
        assert_eq!((c.nbf, c.session), (Some(4), Some(0)));
        assert_eq!(forward(&c), "a%20b=%C3%A9&b=1&b=2");
        assert_eq!(
            c.attrs,
            [("a".into(), "x y".into()), ("z".into(), "1".into())]
        );
        let bare = claims("").expect("valid");
        assert_eq!(forward(&bare), "");
        assert_eq!((bare.nbf, bare.session), (None, None));
        assert!(bare.attrs.is_empty());
        let normalised = Claims::parse(
            br#"{"aud":"h","path":"/d/%73ales","sub":"u","exp":5,"jti":"AAAAAAAAAAAAAAAA"}"#,
        )
        .expect("valid");
        assert_eq!(normalised.path, "/d/sales");
    }

    #[test]
    fn claims_that_break_a_rule() {
        for extra in [
            r#","exp":6"#,
            r#","params":{"eg_sub":"admin"}"#,
            r#","params":{"a":1}"#,
            r#","params":{"a":["1",2]}"#,
            r#","params":{"a":[["1"]]}"#,
            r#","params":{"a":null}"#,
            r#","params":["a"]"#,
            r#","params":{"a":"1","a":"2"}"#,
            r#","nbf":1.0"#,
            r#","nbf":null"#,
            r#","session":-1"#,
            r#","session":9007199254740993"#,
            r#","attrs":{"Tenant":"x"}"#,
            r#","attrs":{"t":"a\nb"}"#,
            r#","attrs":{"t":1}"#,
            r#","attrs":{"t":"1","t":"2"}"#,
            r#","iat":1,"iat":2"#,
            r#","x":{"a":1,"a":1}"#,
            r#","x":01"#,
        ] {
            assert!(claims(extra).is_err(), "{extra}");
        }
        for whole in [
            r#"{"path":"/p","sub":"u","exp":5,"jti":"AAAAAAAAAAAAAAAA"}"#,
            r#"{"aud":"h","sub":"u","exp":5,"jti":"AAAAAAAAAAAAAAAA"}"#,
            r#"{"aud":"h","path":"/p","exp":5,"jti":"AAAAAAAAAAAAAAAA"}"#,
            r#"{"aud":"h","path":"/p","sub":"u","jti":"AAAAAAAAAAAAAAAA"}"#,
            r#"{"aud":"h","path":"/p","sub":"u","exp":5}"#,
            r#"{"aud":"h","path":"/p","sub":"u","exp":"5","jti":"AAAAAAAAAAAAAAAA"}"#,
            r#"{"aud":"h","path":"/p","sub":"u","exp":5,"jti":"short"}"#,
            r#"{"aud":"h","path":"/p","sub":"","exp":5,"jti":"AAAAAAAAAAAAAAAA"}"#,
            r#"{"aud":"h","path":"/p","sub":"a\u0000","exp":5,"jti":"AAAAAAAAAAAAAAAA"}"#,
            r#"{"aud":"h","path":"/a/../b","sub":"u","exp":5,"jti":"AAAAAAAAAAAAAAAA"}"#,
            r#"{"aud":"h","path":"p","sub":"u","exp":5,"jti":"AAAAAAAAAAAAAAAA"}"#,
            r#"{"aud":["h"],"path":"/p","sub":"u","exp":5,"jti":"AAAAAAAAAAAAAAAA"}"#,
            "not json",
            "[]",
        ] {
            assert!(Claims::parse(whole.as_bytes()).is_err(), "{whole}");
        }
    }

    #[test]
    fn written_claims_read_back() {
        let params = CanonicalQuery::in_written_order("orgId=1&r=b&r=a").expect("parses");
        let written = ClaimsToSign {
            aud: "embed.example.com",
            path: "/d/sales",
            params: &params,
            sub: "ü \"x\"",
            exp: 1_767_225_300,
            jti: "Yc1mB0sD7rX2aQ9vT4kL",
            attrs: &[("tenant", "acme")],
            session: Some(60),
        };
        let json = written.to_json().expect("in range");
        assert_eq!(
            String::from_utf8(json.clone()).expect("ascii"),
            r#"{"aud":"embed.example.com","path":"/d/sales","params":{"orgId":"1","r":["b","a"]},"sub":"\u00fc \"x\"","exp":1767225300,"jti":"Yc1mB0sD7rX2aQ9vT4kL","attrs":{"tenant":"acme"},"session":60}"#
        );
        let c = Claims::parse(&json).expect("reads back");
        assert_eq!(c.sub, "ü \"x\"");
        assert_eq!(forward(&c), "orgId=1&r=a&r=b");
        let too_far = ClaimsToSign {
            exp: MAX_INTEGER + 1,
            ..written
        };
        assert!(too_far.to_json().is_err());
        let not_utf8 = CanonicalQuery::in_written_order("a=%FF").expect("parses");
        let bad = ClaimsToSign {
            params: &not_utf8,
            ..written
        };
        assert!(bad.to_json().is_err());
    }
}
