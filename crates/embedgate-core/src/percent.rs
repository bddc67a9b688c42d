//! Percent-encoding as the spec defines it: two byte classes and upper-case
//! hex. Works on bytes (everything it writes is ASCII) with a lookup table,
//! copying runs of plain bytes at once: canonicalisation is on every
//! request's path, next to the MAC.

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

const UNRESERVED: u8 = 1;
const PATH_LITERAL: u8 = 2;

/// Byte classes: `UNRESERVED` for `A-Z a-z 0-9 - . _ ~`; `PATH_LITERAL` for
/// what a normalised path carries literally (unreserved, the sub-delimiters
/// `!$&'()*+,;=`, `:`, `@` and `/`).
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
            t[b] = UNRESERVED | PATH_LITERAL;
        } else if matches!(
            c,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'/'
        ) {
            t[b] = PATH_LITERAL;
        }
        b += 1;
    }
    t
};

pub(crate) fn is_unreserved(b: u8) -> bool {
    CLASS[usize::from(b)] & UNRESERVED != 0
}

pub(crate) fn is_path_literal(b: u8) -> bool {
    CLASS[usize::from(b)] & PATH_LITERAL != 0
}

pub(crate) const fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Reads the two hex digits after a `%` at `bytes[i]`.
pub(crate) fn escaped_byte(bytes: &[u8], i: usize) -> Option<u8> {
    let hi = hex_value(*bytes.get(i + 1)?)?;
    let lo = hex_value(*bytes.get(i + 2)?)?;
    Some(hi << 4 | lo)
}

pub(crate) fn push_escape(out: &mut Vec<u8>, b: u8) {
    out.extend_from_slice(&[
        b'%',
        HEX_UPPER[usize::from(b >> 4)],
        HEX_UPPER[usize::from(b & 0x0F)],
    ]);
}

/// Encodes one decoded query byte: unreserved stays, all else `%XX`.
fn push_query_byte(out: &mut Vec<u8>, b: u8) {
    if is_unreserved(b) {
        out.push(b);
    } else {
        push_escape(out, b);
    }
}

/// Length of the run of unreserved bytes at the start of `bytes`.
fn unreserved_run(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| !is_unreserved(b))
        .unwrap_or(bytes.len())
}

/// Encodes a decoded query name or value (spec §2 query, step 4).
pub(crate) fn encode_query_component(out: &mut Vec<u8>, decoded: &[u8]) {
    let mut i = 0;
    while i < decoded.len() {
        let run = unreserved_run(&decoded[i..]);
        out.extend_from_slice(&decoded[i..i + run]);
        i += run;
        if let Some(&b) = decoded.get(i) {
            push_escape(out, b);
            i += 1;
        }
    }
}

/// Decodes `raw[*i..]` up to (not including) the first byte for which
/// `stop` holds, reading `+` as a space, and re-encodes it canonically.
/// Advances `*i` to the stop byte (or the end). Returns `false` on a `%` not
/// followed by two hex digits.
pub(crate) fn recode_query_until(
    out: &mut Vec<u8>,
    raw: &[u8],
    i: &mut usize,
    stop: impl Fn(u8) -> bool,
) -> bool {
    while *i < raw.len() {
        let run = unreserved_run(&raw[*i..]);
        out.extend_from_slice(&raw[*i..*i + run]);
        *i += run;
        let Some(&b) = raw.get(*i) else { break };
        if stop(b) {
            break;
        }
        match b {
            b'+' => {
                out.extend_from_slice(b"%20");
                *i += 1;
            }
            b'%' => match escaped_byte(raw, *i) {
                Some(d) => {
                    push_query_byte(out, d);
                    *i += 3;
                }
                None => return false,
            },
            _ => {
                push_escape(out, b);
                *i += 1;
            }
        }
    }
    true
}

/// Decodes a component that is already in canonical form (only `%XX`
/// escapes, no `+`).
pub(crate) fn decode_canonical(encoded: &str) -> Vec<u8> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let run = bytes[i..]
            .iter()
            .position(|&b| b == b'%')
            .unwrap_or(bytes.len() - i);
        out.extend_from_slice(&bytes[i..i + run]);
        i += run;
        if i < bytes.len() {
            match escaped_byte(bytes, i) {
                Some(b) => {
                    out.push(b);
                    i += 3;
                }
                None => {
                    out.push(b'%');
                    i += 1;
                }
            }
        }
    }
    out
}
