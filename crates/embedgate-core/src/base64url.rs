//! Unpadded base64url: the scheme's 32-byte MACs and 16-byte nonces, and
//! (through [`decode_into`], public) the proxy's session cookies. A few lines
//! instead of a dependency: it keeps the wasm build small, and decoding
//! accepts only the canonical spelling (zero padding bits).

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Marks a byte outside the alphabet in [`SEXTET`]: above the 24 bits of a
/// group even when shifted by the 18 of its first character, so a group's
/// sextets and their marks can be OR-ed into one `u64` and tested once.
const INVALID: u32 = 1 << 24;

/// Sextet of each alphabet byte; [`INVALID`] for bytes outside the alphabet.
/// (`u32`, not `u8`: the mark needs the room; 1 KB where 256 bytes would
/// need a test of each sextet on its own.)
static SEXTET: [u32; 256] = {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        t[ALPHABET[i] as usize] = i as u32;
        i += 1;
    }
    t
};

/// The sextet of `c`, or [`INVALID`], widened for a group's shifts.
#[inline]
fn sextet(c: u8) -> u64 {
    u64::from(SEXTET[usize::from(c)])
}

/// Encodes without padding.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len().div_ceil(3) * 4);
    encode_into(&mut out, bytes);
    // The alphabet is ASCII.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends the unpadded encoding of `bytes` to `out`.
pub(crate) fn encode_into(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut chunks = bytes.chunks_exact(3);
    for c in &mut chunks {
        let n = u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]);
        out.extend_from_slice(&[
            ALPHABET[(n >> 18) as usize & 63],
            ALPHABET[(n >> 12) as usize & 63],
            ALPHABET[(n >> 6) as usize & 63],
            ALPHABET[n as usize & 63],
        ]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend_from_slice(&[
                ALPHABET[(n >> 18) as usize & 63],
                ALPHABET[(n >> 12) as usize & 63],
            ]);
        }
        [a, b] => {
            let n = u32::from(a) << 16 | u32::from(b) << 8;
            out.extend_from_slice(&[
                ALPHABET[(n >> 18) as usize & 63],
                ALPHABET[(n >> 12) as usize & 63],
                ALPHABET[(n >> 6) as usize & 63],
            ]);
        }
        _ => {}
    }
}

/// How many bytes an unpadded encoding `text_len` characters long decodes
/// to: three per four characters, one less than the characters of a partial
/// group. (A partial group of one character is never an encoding.)
///
/// ```
/// use embedgate_core::base64url_decoded_len;
/// assert_eq!(base64url_decoded_len(43), 32);
/// assert_eq!(base64url_decoded_len(4), 3);
/// assert_eq!(base64url_decoded_len(0), 0);
/// ```
pub fn decoded_len(text_len: usize) -> usize {
    // `text_len * 3 / 4`, without overflowing.
    text_len / 4 * 3 + text_len % 4 * 3 / 4
}

/// Decodes the unpadded base64url `text` into the front of `out` and
/// returns how many bytes it wrote
/// ([`base64url_decoded_len`](decoded_len) of `text.len()`).
/// `None` unless `text` is the canonical unpadded encoding of some bytes
/// (alphabet `A-Z a-z 0-9 - _` only, no `=`, no partial group of one
/// character, zero padding bits) and `out` has room for them: it refuses
/// what the `base64` crate's `URL_SAFE_NO_PAD` refuses.
///
/// ```
/// use embedgate_core::{base64url_decode_into, base64url_decoded_len};
/// let text = b"aGVsbG8";
/// let mut out = [0u8; 16];
/// let n = base64url_decode_into(text, &mut out);
/// assert_eq!(n, Some(base64url_decoded_len(text.len())));
/// assert_eq!(&out[..5], b"hello");
/// // Non-zero padding bits, `=`, a lone trailing character, no room.
/// assert_eq!(base64url_decode_into(b"aGVsbG9", &mut out), None);
/// assert_eq!(base64url_decode_into(b"aGVsbG8=", &mut out), None);
/// assert_eq!(base64url_decode_into(b"aGVsbG8ab", &mut out), None);
/// assert_eq!(base64url_decode_into(text, &mut [0u8; 4]), None);
/// ```
#[inline]
pub fn decode_into(text: &[u8], out: &mut [u8]) -> Option<usize> {
    if text.len() % 4 == 1 {
        return None;
    }
    let len = decoded_len(text.len());
    let out = out.get_mut(..len)?;
    // Invalid characters set bits above a group's 24 (see `INVALID`);
    // OR-ing every group and testing once keeps the loop free of branches.
    let mut bad = 0u64;
    let mut chunks = text.chunks_exact(4);
    let mut whole = out.chunks_exact_mut(3);
    for (c, o) in (&mut chunks).zip(&mut whole) {
        let n = sextet(c[0]) << 18 | sextet(c[1]) << 12 | sextet(c[2]) << 6 | sextet(c[3]);
        bad |= n;
        o.copy_from_slice(&n.to_be_bytes()[5..]);
    }
    let rest = chunks.remainder();
    let mut n = 0u64;
    for (k, &c) in rest.iter().enumerate() {
        n |= sextet(c) << (18 - 6 * k);
    }
    if (bad | n) >> 24 != 0 {
        return None;
    }
    // The partial group's 1 or 2 bytes: what `whole` left over.
    let tail = whole.into_remainder();
    for (k, o) in tail.iter_mut().enumerate() {
        *o = (n >> (16 - 8 * k)) as u8;
    }
    // Bits below the last whole byte must be zero (canonical form).
    if !rest.is_empty() && n & ((1 << (24 - 8 * tail.len())) - 1) != 0 {
        return None;
    }
    Some(len)
}

/// Decodes exactly `N` bytes from their unpadded encoding; `None` unless
/// the text is the canonical encoding of some `N` bytes.
pub(crate) fn decode<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    if text.len() != (N * 4).div_ceil(3) {
        return None;
    }
    let mut out = [0u8; N];
    decode_into(text, &mut out)?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_non_canonical() {
        let mac: [u8; 32] = core::array::from_fn(|i| (i * 37 + 11) as u8);
        let text = encode(&mac);
        assert_eq!(text.len(), 43);
        assert_eq!(decode::<32>(text.as_bytes()), Some(mac));
        // The last character carries 2 padding bits; flipping them is refused.
        let mut bad = text.into_bytes();
        let last = SEXTET[usize::from(bad[42])] ^ 1;
        bad[42] = ALPHABET[last as usize];
        assert_eq!(decode::<32>(&bad), None);
        assert_eq!(decode::<32>(b"A"), None);
        assert_eq!(decode::<32>(&[b'='; 43]), None);
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(encode(&[0u8; 16]).len(), 22);
    }

    /// Decodes `text` as the `base64` crate's `URL_SAFE_NO_PAD` does:
    /// the same bytes, or refused by both.
    fn agrees_with_base64_crate(text: &[u8]) {
        use base64::Engine as _;
        let theirs = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok();
        let mut room = vec![0u8; text.len()];
        let ours = decode_into(text, &mut room).map(|n| room[..n].to_vec());
        assert_eq!(ours, theirs, "{:?}", String::from_utf8_lossy(text));
        if let Some(bytes) = ours {
            assert_eq!(bytes.len(), decoded_len(text.len()));
            // Exactly enough room is enough; one byte less is not.
            let mut exact = vec![0u8; bytes.len()];
            assert_eq!(decode_into(text, &mut exact), Some(bytes.len()));
            assert_eq!(exact, bytes);
            if let Some(short) = bytes.len().checked_sub(1) {
                assert_eq!(decode_into(text, &mut vec![0u8; short]), None);
            }
        }
    }

    #[test]
    fn decode_into_refuses_what_the_base64_crate_refuses() {
        // xorshift64: deterministic, so a failure reproduces.
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // Mostly the alphabet, now and then what is outside it: the
        // standard alphabet's `+` and `/`, padding, space, dot, controls,
        // non-ASCII.
        let others = b"+/= .\0\n\x7f\x80\xff";
        for round in 0..200_000 {
            let len = (next() % 48) as usize;
            let mut text: Vec<u8> = (0..len).map(|_| ALPHABET[(next() % 64) as usize]).collect();
            if round % 4 == 0 && len > 0 {
                let at = (next() % len as u64) as usize;
                text[at] = others[(next() % others.len() as u64) as usize];
            }
            agrees_with_base64_crate(&text);
        }
        // Encodings of random bytes, valid, then with each last character:
        // only the canonical one decodes.
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let mut text = encode(&bytes).into_bytes();
            agrees_with_base64_crate(&text);
            if let Some(last) = text.len().checked_sub(1) {
                for &c in ALPHABET.iter().chain(others) {
                    text[last] = c;
                    agrees_with_base64_crate(&text);
                }
            }
        }
    }
}
