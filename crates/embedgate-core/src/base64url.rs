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

fn value(c: u8) -> Option<u32> {
    match SEXTET[usize::from(c)] {
        0xFF => None,
        v => Some(u32::from(v)),
    }
}

/// Encodes without padding.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        let chars = chunk.len() + 1;
        for k in 0..chars {
            out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
        }
    }
    out
}

/// Decodes exactly `N` bytes from their unpadded encoding; `None` unless
/// the text is the canonical encoding of some `N` bytes.
pub(crate) fn decode<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    if text.len() != (N * 4).div_ceil(3) {
        return None;
    }
    let mut out = [0u8; N];
    let mut o = 0;
    for chunk in text.chunks(4) {
        let mut n = 0u32;
        for (k, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * k);
        }
        let bytes = chunk.len() - 1;
        for k in 0..bytes {
            out[o] = (n >> (16 - 8 * k)) as u8;
            o += 1;
        }
        // Bits below the last whole byte must be zero (canonical form).
        if n & ((1 << (24 - 8 * bytes)) - 1) != 0 {
            return None;
        }
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
        let last = value(bad[42]).expect("alphabet") ^ 1;
        bad[42] = ALPHABET[last as usize];
        assert_eq!(decode::<32>(&bad), None);
        assert_eq!(decode::<32>(b"A"), None);
        assert_eq!(decode::<32>(&[b'='; 43]), None);
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(encode(&[0u8; 16]).len(), 22);
    }
}
