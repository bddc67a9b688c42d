//! EGJ1 §1: the claims of a token, read from a payload whose MAC matched
//! (EGJ1 §3 step 5) and written by the signer. One function per row of the
//! spec's table; the rules EG1 already has (sub, nonce, attributes, path)
//! are EG1's own functions.

use crate::canonical::SCHEME_PREFIX;
use crate::json::{self, JsonReader, MAX_INTEGER};
use crate::params::{check_attr_name, check_nonce, check_sub, check_text, decimal, TextField};
use crate::path::normalise_path;
use crate::query::CanonicalQuery;
use crate::reason::EmbedError;

/// The claims of an authenticated token, each checked by its rule.
#[derive(Clone, Debug, PartialEq, Eq)]
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

impl Claims {
    /// EGJ1 §3 step 5: "the payload is a JSON object whose claims meet §1".
    /// Call it only once the payload's MAC matched.
    pub(crate) fn parse(payload: &[u8]) -> Result<Self, EmbedError> {
        let mut r = JsonReader::new(payload);
        let mut members = r.begin_object()?;
        let mut aud = None;
        let mut path = None;
        let mut params = None;
        let mut sub = None;
        let mut exp = None;
        let mut jti = None;
        let mut nbf = None;
        let mut session = None;
        let mut attrs = None;
        // A repeated member is refused when the object closes.
        while let Some(name) = r.next_member(&mut members)? {
            match name {
                "aud" => aud = Some(r.string()?),
                "path" => path = Some(read_path(&mut r)?),
                "params" => params = Some(read_params(&mut r)?),
                "sub" => sub = Some(read_sub(&mut r)?),
                "exp" => exp = Some(r.integer()?),
                "jti" => jti = Some(read_jti(&mut r)?),
                "nbf" => nbf = Some(r.integer()?),
                "session" => session = Some(r.integer()?),
                "attrs" => attrs = Some(read_attrs(&mut r)?),
                // "Other claims (iat, iss, private claims) are allowed and ignored."
                _ => r.skip_value()?,
            }
        }
        r.end()?;
        Ok(Claims {
            aud: required(aud, "the token has no aud claim")?,
            path: required(path, "the token has no path claim")?,
            params: params.unwrap_or_default(),
            sub: required(sub, "the token has no sub claim")?,
            exp: required(exp, "the token has no exp claim")?,
            jti: required(jti, "the token has no jti claim")?,
            nbf,
            session,
            attrs: attrs.unwrap_or_default(),
        })
    }
}

fn required<T>(claim: Option<T>, missing: &'static str) -> Result<T, EmbedError> {
    claim.ok_or(EmbedError::malformed(missing))
}

/// `path`: "a `path` that EG1 §2 refuses is malformed"; kept normalised.
fn read_path(r: &mut JsonReader<'_>) -> Result<String, EmbedError> {
    normalise_path(&r.string()?)
}

/// `params`: "an object of content parameters: each value a string or an
/// array of strings; no name may start with `eg_`". Returned as the
/// canonical query EGJ1 §2 forwards: one pair per string, encoded and
/// sorted by EG1 §2.
fn read_params(r: &mut JsonReader<'_>) -> Result<CanonicalQuery, EmbedError> {
    let mut query = CanonicalQuery::default();
    let mut members = r.begin_object()?;
    while let Some(name) = r.next_member(&mut members)? {
        check_param_name(name)?;
        if r.peek() == Some(b'[') {
            r.begin_array()?;
            let mut first = true;
            while r.next_element(first)? {
                first = false;
                query.push_decoded(name.as_bytes(), r.string()?.as_bytes());
            }
        } else {
            query.push_decoded(name.as_bytes(), r.string()?.as_bytes());
        }
    }
    query.sort();
    Ok(query)
}

/// A `params` name: not one of the scheme's (`eg_…`).
fn check_param_name(name: &str) -> Result<(), EmbedError> {
    if name.as_bytes().starts_with(SCHEME_PREFIX) {
        Err(EmbedError::malformed(
            "a name in the params claim starts with eg_",
        ))
    } else {
        Ok(())
    }
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
    let mut members = r.begin_object()?;
    while let Some(name) = r.next_member(&mut members)? {
        check_attr_name(name)?;
        let value = r.string()?;
        check_text(&value, TextField::AttrValue)?;
        let at = attrs.partition_point(|(earlier, _)| earlier.as_str() < name);
        attrs.insert(at, (name.to_owned(), value));
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
    /// The content URL's query parameters, decoded: each name once, in the
    /// order of its first appearance, with its values in order.
    pub(crate) params: &'a [(String, Vec<String>)],
    pub(crate) sub: &'a str,
    pub(crate) exp: u64,
    pub(crate) jti: &'a str,
    pub(crate) attrs: &'a [(&'a str, &'a str)],
    pub(crate) session: Option<u64>,
}

impl ClaimsToSign<'_> {
    /// The claims as compact JSON, in the order `aud`, `path`, `params`
    /// (when there are any), `sub`, `exp`, `jti`, `attrs` (when given),
    /// `session` (when given); a name given once is a string, one given
    /// more often an array. This is what the Python signer (`sdk/python`)
    /// writes, so both produce the same token for the same inputs.
    pub(crate) fn to_json(&self) -> Result<Vec<u8>, EmbedError> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"{\"aud\":");
        json::push_string(&mut out, self.aud);
        out.extend_from_slice(b",\"path\":");
        json::push_string(&mut out, self.path);
        if !self.params.is_empty() {
            out.extend_from_slice(b",\"params\":");
            push_params(&mut out, self.params);
        }
        out.extend_from_slice(b",\"sub\":");
        json::push_string(&mut out, self.sub);
        out.extend_from_slice(b",\"exp\":");
        out.extend_from_slice(integer(self.exp, "exp must be at most 2^53 in a JWT")?.as_bytes());
        out.extend_from_slice(b",\"jti\":");
        json::push_string(&mut out, self.jti);
        if !self.attrs.is_empty() {
            out.extend_from_slice(b",\"attrs\":");
            let mut sep = b'{';
            for (name, value) in self.attrs {
                out.push(sep);
                sep = b',';
                json::push_string(&mut out, name);
                out.push(b':');
                json::push_string(&mut out, value);
            }
            out.push(b'}');
        }
        if let Some(session) = self.session {
            out.extend_from_slice(b",\"session\":");
            out.extend_from_slice(
                integer(session, "session must be at most 2^53 in a JWT")?.as_bytes(),
            );
        }
        out.push(b'}');
        Ok(out)
    }
}

fn push_params(out: &mut Vec<u8>, params: &[(String, Vec<String>)]) {
    let mut sep = b'{';
    for (name, values) in params {
        out.push(sep);
        sep = b',';
        json::push_string(out, name);
        out.push(b':');
        if let [one] = values.as_slice() {
            json::push_string(out, one);
        } else {
            let mut inner = b'[';
            for value in values {
                out.push(inner);
                inner = b',';
                json::push_string(out, value);
            }
            out.push(b']');
        }
    }
    out.push(b'}');
}

/// "Integers are JSON numbers without a fraction or exponent, in 0 ..= 2^53."
fn integer(n: u64, too_large: &'static str) -> Result<String, EmbedError> {
    if n <= MAX_INTEGER {
        Ok(decimal(n))
    } else {
        Err(EmbedError::malformed(too_large))
    }
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
        let params = [
            ("orgId".to_owned(), vec!["1".to_owned()]),
            ("r".to_owned(), vec!["b".to_owned(), "a".to_owned()]),
        ];
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
    }
}
