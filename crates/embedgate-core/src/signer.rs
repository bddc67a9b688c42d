//! Producing signed embed URLs.

use core::fmt;

use hmac::Mac;

use crate::canonical::{Canonical, SigField};
use crate::inline_vec::InlineVec;
use crate::key::{new_mac, HmacSha256};
use crate::params::{check_attr_name, check_kid, check_nonce, check_sub};
use crate::percent::encode_query_component;
use crate::reason::EmbedError;
use crate::sort::sort_by;

/// What to sign: the content URL and the viewer.
#[derive(Clone, Copy, Debug)]
pub struct SignRequest<'a> {
    /// The absolute content URL, with any content parameters (filters)
    /// already in its query. It must carry no `eg_` parameter.
    pub url: &'a str,
    /// The external user id (1-256 bytes).
    pub sub: &'a str,
    /// Expiry of the URL, Unix seconds.
    pub exp: u64,
    /// 16-128 of `A-Z a-z 0-9 _ -`; see [`crate::generate_nonce`].
    pub nonce: &'a str,
    /// Wanted session length in seconds.
    pub session: Option<u64>,
    /// User attributes as `(name, value)`; names 1-64 of `a-z 0-9 _ -`.
    pub attrs: &'a [(&'a str, &'a str)],
}

/// Signs embed URLs for one secret.
///
/// The HMAC state is keyed once at construction, so each signature costs
/// only the hash of the string to sign. `Debug` shows the key id, never key
/// material.
///
/// ```
/// use embedgate_core::{SignRequest, Signer, UnverifiedEmbedUrl, VerifyPolicy, EmbedKey, NonceCheck};
/// let signer = Signer::new("ek_demo", b"q7Vt2mXc9LpR4sZb8NwK3yHd6FgJ1aEo").unwrap();
/// let url = signer.sign(&SignRequest {
///     url: "https://embed.example.com/d/sales?orgId=1",
///     sub: "user-42",
///     exp: 1_767_225_300,
///     nonce: "Yc1mB0sD7rX2aQ9vT4kL",
///     session: None,
///     attrs: &[("tenant", "acme")],
/// }).unwrap();
/// let key = EmbedKey::new(b"q7Vt2mXc9LpR4sZb8NwK3yHd6FgJ1aEo");
/// let ok = UnverifiedEmbedUrl::parse(&url).unwrap()
///     .authenticate_with(&key, 1_767_225_000, &VerifyPolicy::default()).unwrap()
///     .accept(NonceCheck::Fresh).unwrap();
/// assert_eq!(ok.sub(), "user-42");
/// assert_eq!(ok.forward_path_and_query(), "/d/sales?orgId=1");
/// ```
#[derive(Clone)]
pub struct Signer {
    kid: String,
    mac: HmacSha256,
}

impl Signer {
    /// A signer for the secret `secret` (its UTF-8 bytes as issued) known
    /// publicly as `kid`.
    pub fn new(kid: &str, secret: &[u8]) -> Result<Self, EmbedError> {
        check_kid(kid.as_bytes())?;
        Ok(Signer {
            kid: kid.to_owned(),
            mac: new_mac(secret),
        })
    }

    /// The key id this signer signs as.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Returns the signed URL: the input URL with the `eg_` parameters and
    /// `eg_sig` appended to its query (before any fragment).
    ///
    /// The string to sign is not built: the content URL is canonicalised
    /// alone, and the MAC is fed its head, the `eg_` parameters in sorted
    /// order (they sort as one run, since no content name may start with
    /// `eg_`) and its tail. The `eg_` parameters are written once, in
    /// canonical form, into the URL, and hashed from there.
    pub fn sign(&self, req: &SignRequest<'_>) -> Result<String, EmbedError> {
        check_sub(req.sub.len())?;
        check_nonce(req.nonce.as_bytes())?;
        let (base, fragment) = match req.url.bytes().position(|b| b == b'#') {
            Some(i) => (&req.url[..i], &req.url[i..]),
            None => (req.url, ""),
        };
        let content = Canonical::from_url(base)?;
        if content.sig != SigField::Absent {
            return Err(EmbedError::malformed("the URL to sign already has eg_sig"));
        }
        let at = content.first_embed;
        if content
            .params
            .get(at)
            .is_some_and(|p| content.name(p).starts_with("eg_"))
        {
            return Err(EmbedError::malformed(
                "the URL to sign already has eg_ parameters",
            ));
        }
        for (name, _) in req.attrs {
            check_attr_name(name.as_bytes())?;
        }
        let mut url: Vec<u8> = Vec::with_capacity(
            base.len() + 160 + 3 * req.sub.len() + 24 * req.attrs.len() + fragment.len(),
        );
        url.extend_from_slice(base.as_bytes());
        url.push(if base.as_bytes().contains(&b'?') {
            b'&'
        } else {
            b'?'
        });
        // Each `eg_` parameter's span in `url` (without its leading `&`),
        // to feed the MAC in sorted order below.
        let kid = url.len();
        url.extend_from_slice(b"eg_kid=");
        url.extend_from_slice(self.kid.as_bytes());
        let kid = (kid, url.len());
        url.extend_from_slice(b"&eg_sub=");
        let sub = url.len() - 7;
        encode_query_component(&mut url, req.sub.as_bytes());
        let sub = (sub, url.len());
        url.extend_from_slice(b"&eg_exp=");
        let exp = url.len() - 7;
        push_decimal(&mut url, req.exp);
        let exp = (exp, url.len());
        url.extend_from_slice(b"&eg_nonce=");
        let nonce = url.len() - 9;
        url.extend_from_slice(req.nonce.as_bytes());
        let nonce = (nonce, url.len());
        let session = req.session.map(|s| {
            url.extend_from_slice(b"&eg_session=");
            let start = url.len() - 11;
            push_decimal(&mut url, s);
            (start, url.len())
        });
        // (index in `req.attrs`, span in `url`) of each attribute, then
        // sorted by name: attribute names are canonical as they stand, so
        // this sorts their `eg_attr.` parameters.
        let mut attrs: InlineVec<(usize, usize, usize), INLINE_ATTRS> = InlineVec::new((0, 0, 0));
        for (i, (name, value)) in req.attrs.iter().enumerate() {
            url.extend_from_slice(b"&eg_attr.");
            let start = url.len() - 8;
            url.extend_from_slice(name.as_bytes());
            url.push(b'=');
            encode_query_component(&mut url, value.as_bytes());
            attrs.push((i, start, url.len()));
        }
        let attrs = attrs.as_mut_slice();
        let name = |a: &(usize, usize, usize)| req.attrs[a.0].0;
        sort_by(attrs, |a, b| name(a) < name(b));
        if attrs.windows(2).any(|w| name(&w[0]) == name(&w[1])) {
            return Err(EmbedError::malformed("an attribute is given twice"));
        }

        let sts = content.sts().as_bytes();
        let head_end = match at {
            0 => content.query_start,
            _ => content.params[at - 1].value.end as usize,
        };
        let mut mac = self.mac.clone();
        update(&mut mac, &sts[..head_end]);
        let mut first = at == 0;
        let mut feed = |(start, end): (usize, usize)| {
            if !first {
                update(&mut mac, b"&");
            }
            first = false;
            update(&mut mac, &url[start..end]);
        };
        for &(_, start, end) in attrs.iter() {
            feed((start, end));
        }
        feed(exp);
        feed(kid);
        feed(nonce);
        if let Some(session) = session {
            feed(session);
        }
        feed(sub);
        if let Some(tail) = content.params.get(at) {
            update(&mut mac, b"&");
            update(&mut mac, &sts[tail.name.start as usize..]);
        }
        url.extend_from_slice(b"&eg_sig=");
        crate::base64url::encode_into(&mut url, &mac.finalize().into_bytes());
        url.extend_from_slice(fragment.as_bytes());
        // `base` and `fragment` are &str and everything else written is ASCII.
        String::from_utf8(url).map_err(|_| EmbedError::malformed("the URL is not UTF-8"))
    }
}

/// `Mac::update`, kept out of line in WebAssembly: the signer feeds the
/// MAC a dozen pieces, and each inlined copy of the block buffering adds to
/// the package. Native builds inline it (a few % of a signature).
#[cfg_attr(target_arch = "wasm32", inline(never))]
#[cfg_attr(not(target_arch = "wasm32"), inline)]
fn update(mac: &mut HmacSha256, bytes: &[u8]) {
    mac.update(bytes);
}

/// Requests with more attributes than this sort them on the heap.
const INLINE_ATTRS: usize = 8;

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.kid)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// Writes `n` in decimal without the formatting machinery (which would
/// weigh on the wasm build for one number).
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_eg_parameters_in_the_spec_order_before_eg_sig() {
        let signer =
            Signer::new("ek_live_4f9c2a", b"q7Vt2mXc9LpR4sZb8NwK3yHd6FgJ1aEo").expect("kid");
        let url = signer
            .sign(&SignRequest {
                url: "https://e.x/p?z=1#frag",
                sub: "a b",
                exp: 5,
                nonce: "Yc1mB0sD7rX2aQ9vT4kL",
                session: Some(60),
                attrs: &[("zz", "1"), ("aa", "2 3")],
            })
            .expect("signs");
        let (head, sig) = url.split_once("&eg_sig=").expect("eg_sig");
        assert_eq!(
            head,
            "https://e.x/p?z=1&eg_kid=ek_live_4f9c2a&eg_sub=a%20b&eg_exp=5\
             &eg_nonce=Yc1mB0sD7rX2aQ9vT4kL&eg_session=60&eg_attr.zz=1&eg_attr.aa=2%203"
        );
        assert_eq!(sig.len(), 43 + "#frag".len());
        assert!(sig.ends_with("#frag"));
    }
}
