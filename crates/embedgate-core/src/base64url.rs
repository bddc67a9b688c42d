//! Unpadded base64url (RFC 4648 §5), in its one canonical spelling: no `=`,
//! no whitespace, and no stray bits in the last character (spec §1,
//! `eg_sig`; EGJ1 §1, the three parts of a token). A few lines instead of
//! a dependency, for the WebAssembly package's size.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The 6-bit value of an alphabet character.
fn sextet(c: u8) -> Option<u8> {
    match SEXTETS[usize::from(c)] {
        NOT_IN_ALPHABET => None,
        v => Some(v),
    }
}

const NOT_IN_ALPHABET: u8 = 0xFF;

/// [`ALPHABET`] inverted: the value of each character, [`NOT_IN_ALPHABET`]
/// for other bytes.
static SEXTETS: [u8; 256] = {
    let mut table = [NOT_IN_ALPHABET; 256];
    let mut v = 0;
    while v < 64 {
        table[ALPHABET[v] as usize] = v as u8;
        v += 1;
    }
    table
};

/// Encodes without padding.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (k, &b)| n | u32::from(b) << (16 - 8 * k));
        // A group of 1, 2 or 3 bytes takes 2, 3 or 4 characters.
        for k in 0..=group.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * k)) as usize & 63]));
        }
    }
    out
}

/// Decodes canonical unpadded base64url; `None` for anything else (a byte
/// outside the alphabet, a length no encoding has, stray low bits).
pub(crate) fn decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    decode_into(text, |byte| out.push(byte))?;
    Some(out)
}

/// Decodes exactly `N` bytes of canonical base64url.
pub(crate) fn decode_array<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    let mut len = 0;
    decode_into(text, |byte| {
        if let Some(slot) = out.get_mut(len) {
            *slot = byte;
        }
        len += 1;
    })?;
    (len == N).then_some(out)
}

/// Feeds each decoded byte to `emit`: six bits per character go into a bit
/// buffer, and a byte comes out whenever it holds eight.
fn decode_into(text: &[u8], mut emit: impl FnMut(u8)) -> Option<()> {
    // One character carries 6 bits: no encoding ends with a lone one.
    if text.len() % 4 == 1 {
        return None;
    }
    let mut bits = 0u32;
    let mut held = 0;
    for &c in text {
        bits = bits << 6 | u32::from(sextet(c)?);
        held += 6;
        if held >= 8 {
            held -= 8;
            emit((bits >> held) as u8);
        }
    }
    // What is left is padding, and canonical padding is zero.
    (bits & ((1 << held) - 1) == 0).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    #[test]
    fn agrees_with_the_base64_crate() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for len in 0..80 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let text = encode(&bytes);
            assert_eq!(text, URL_SAFE_NO_PAD.encode(&bytes));
            assert_eq!(decode(text.as_bytes()), Some(bytes));
        }
    }

    #[test]
    fn only_the_canonical_spelling_decodes() {
        // 43 characters of a 32-byte MAC: the last one carries 2 stray bits.
        let tag = encode(&[0xAB; 32]);
        assert!(decode_array::<32>(tag.as_bytes()).is_some());
        for stray in [b'B', b'C', b'D'] {
            let mut t = tag.clone().into_bytes();
            let last = t.len() - 1;
            t[last] = ALPHABET[usize::from(sextet(t[last]).unwrap_or(0) | (stray - b'A'))];
            assert_eq!(decode(&t), None, "{}", String::from_utf8_lossy(&t));
        }
        for bad in [&b"A"[..], b"AAAAA", b"AA==", b"A A=", b"AB+/", b"\xffA"] {
            assert_eq!(decode(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        // Every input the crate's strict decoder refuses, we refuse.
        for text in ["QQ", "QR", "QUI", "QUJ", "QUJD", "QUJDRA", "QUJDRB"] {
            assert_eq!(
                decode(text.as_bytes()),
                URL_SAFE_NO_PAD.decode(text).ok(),
                "{text}"
            );
        }
    }
}
