//! Percent-encoding as spec §2 defines it: the byte classes it names, and
//! escapes written with upper-case hex.

/// `A-Z a-z 0-9 - . _ ~`: the bytes that are never escaped.
pub(crate) fn is_unreserved(b: u8) -> bool {
    UNRESERVED[usize::from(b)]
}

/// [`is_unreserved`] as a table: it is asked of every byte of a URL, and a
/// table lookup is one load where the ranges are five comparisons.
static UNRESERVED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~');
        b += 1;
    }
    table
};

/// The sub-delimiters `!$&'()*+,;=`.
fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// What a normalised path carries literally (spec §2 path): the unreserved
/// bytes, the sub-delimiters, `:`, `@` and `/`.
pub(crate) fn is_path_literal(b: u8) -> bool {
    is_unreserved(b) || is_sub_delim(b) || matches!(b, b':' | b'@' | b'/')
}

/// The alphabet of `eg_kid` and `eg_nonce` (spec §1): `A-Z a-z 0-9 _ -`.
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// A control byte: below 0x20, or 0x7F (spec §1 and §2).
pub(crate) fn is_control(b: u8) -> bool {
    b < 0x20 || b == 0x7F
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The byte of the escape `%XY` starting at `bytes[i]` (a `%`), if `X` and
/// `Y` are hex digits of either case.
pub(crate) fn escaped_byte(bytes: &[u8], i: usize) -> Option<u8> {
    let hi = hex_value(*bytes.get(i + 1)?)?;
    let lo = hex_value(*bytes.get(i + 2)?)?;
    Some(hi << 4 | lo)
}

/// Appends `%XY`, upper-case hex.
pub(crate) fn push_escape(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0F)]]);
}

/// Appends a decoded query name or value in canonical form (spec §2 query,
/// step 4): unreserved bytes as they are, every other byte as `%XY`.
pub(crate) fn push_query_encoded(out: &mut Vec<u8>, decoded: &[u8]) {
    // Runs of unreserved bytes are copied whole: they are most of a URL.
    for piece in decoded.split_inclusive(|&b| !is_unreserved(b)) {
        match piece.split_last() {
            Some((&last, run)) if !is_unreserved(last) => {
                out.extend_from_slice(run);
                push_escape(out, last);
            }
            _ => out.extend_from_slice(piece),
        }
    }
}

/// The length of the leading run of unreserved bytes of `bytes`.
pub(crate) fn unreserved_run_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| !is_unreserved(b))
        .unwrap_or(bytes.len())
}

/// Decodes text in canonical form (what [`push_query_encoded`] wrote),
/// where every escape is `%XY` and nothing else is special.
pub(crate) fn decode_canonical(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    // Between escapes the bytes stand for themselves: copied a run at a time.
    while let Some(at) = rest.iter().position(|&b| b == b'%') {
        out.extend_from_slice(&rest[..at]);
        match escaped_byte(rest, at) {
            Some(decoded) => {
                out.push(decoded);
                rest = &rest[at + 3..];
            }
            None => {
                out.push(b'%');
                rest = &rest[at + 1..];
            }
        }
    }
    out.extend_from_slice(rest);
    out
}

/// Bytes the canonical forms are made of (all ASCII) as text.
pub(crate) fn ascii_text(bytes: Vec<u8>) -> String {
    // Every writer here escapes all but ASCII; a slip would give an empty
    // text (a string to sign that never verifies): no panic path.
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_the_spec_sets() {
        let unreserved: Vec<u8> = (0..=255u8).filter(|&b| is_unreserved(b)).collect();
        assert_eq!(
            unreserved,
            b"-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~"
        );
        let path: Vec<u8> = (0..=255u8)
            .filter(|&b| is_path_literal(b) && !is_unreserved(b))
            .collect();
        assert_eq!(path, b"!$&'()*+,/:;=@");
    }

    #[test]
    fn canonical_text_encodes_and_decodes() {
        let mut out = Vec::new();
        push_query_encoded(&mut out, "a b+~é".as_bytes());
        assert_eq!(out, b"a%20b%2B~%C3%A9");
        assert_eq!(decode_canonical(&out), "a b+~é".as_bytes());
    }
}
