//! Unpadded base64url for the two sizes the scheme uses (32-byte MACs, 16-byte
//! nonces). A few lines instead of a dependency: it keeps the wasm build
//! small, and decoding accepts only the canonical spelling (zero padding bits).

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Sextet of each alphabet byte; 0xFF for bytes outside the alphabet.
static SEXTET: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut i = 0;
    while i < 64 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
};

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

/// Decodes exactly `N` bytes from their unpadded encoding; `None` unless
/// the text is the canonical encoding of some `N` bytes.
pub(crate) fn decode<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    if text.len() != (N * 4).div_ceil(3) {
        return None;
    }
    let mut out = [0u8; N];
    // Invalid characters map to 0xFF; OR-ing every sextet and testing once
    // keeps the loop free of branches.
    let mut bad = 0u8;
    let mut chunks = text.chunks_exact(4);
    for (c, o) in (&mut chunks).zip(out.chunks_exact_mut(3)) {
        let s = [
            SEXTET[c[0] as usize],
            SEXTET[c[1] as usize],
            SEXTET[c[2] as usize],
            SEXTET[c[3] as usize],
        ];
        bad |= s[0] | s[1] | s[2] | s[3];
        let n =
            u32::from(s[0]) << 18 | u32::from(s[1]) << 12 | u32::from(s[2]) << 6 | u32::from(s[3]);
        o.copy_from_slice(&n.to_be_bytes()[1..]);
    }
    let rest = chunks.remainder();
    let mut n = 0u32;
    for (k, &c) in rest.iter().enumerate() {
        let s = SEXTET[c as usize];
        bad |= s;
        n |= u32::from(s) << (18 - 6 * k);
    }
    if bad & 0x80 != 0 {
        return None;
    }
    let tail_bytes = rest.len().saturating_sub(1);
    let done = N - tail_bytes;
    for k in 0..tail_bytes {
        out[done + k] = (n >> (16 - 8 * k)) as u8;
    }
    // Bits below the last whole byte must be zero (canonical form).
    if !rest.is_empty() && n & ((1 << (24 - 8 * tail_bytes)) - 1) != 0 {
        return None;
    }
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
        bad[42] = ALPHABET[usize::from(last)];
        assert_eq!(decode::<32>(&bad), None);
        assert_eq!(decode::<32>(b"A"), None);
        assert_eq!(decode::<32>(&[b'='; 43]), None);
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(encode(&[0u8; 16]).len(), 22);
    }
}
