//! Percent-encoding as the spec defines it: two byte classes and upper-case
//! hex. Works on bytes (everything it writes is ASCII) with a lookup table,
//! copying runs of plain bytes at once: canonicalisation is on every
//! request's path, next to the MAC.

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

const UNRESERVED: u8 = 1;
const PATH_LITERAL: u8 = 2;
const TOKEN: u8 = 4;
const HOST: u8 = 8;

/// Byte classes: `UNRESERVED` for `A-Z a-z 0-9 - . _ ~`; `PATH_LITERAL` for
/// what a normalised path carries literally (unreserved, the sub-delimiters
/// `!$&'()*+,;=`, `:`, `@` and `/`); `TOKEN` for the alphabet of `eg_kid`
/// and `eg_nonce` (`A-Z a-z 0-9 _ -`); `HOST` for what a host may hold
/// (unreserved, `:`, `[`, `]`).
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' {
            t[b] |= TOKEN;
        }
        if c == b':' || c == b'[' || c == b']' {
            t[b] |= HOST;
        }
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
            t[b] |= UNRESERVED | PATH_LITERAL | HOST;
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
            t[b] |= PATH_LITERAL;
        }
        b += 1;
    }
    t
};

pub(crate) fn is_unreserved(b: u8) -> bool {
    CLASS[usize::from(b)] & UNRESERVED != 0
}

pub(crate) fn is_token(b: u8) -> bool {
    CLASS[usize::from(b)] & TOKEN != 0
}

pub(crate) fn is_host_byte(b: u8) -> bool {
    CLASS[usize::from(b)] & HOST != 0
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

/// The index of the first byte at or after `i` that is not unreserved (or
/// `bytes.len()`). Eight bytes are classified per step with word arithmetic
/// (no table, no branch between them) and the first stop is found from the
/// resulting bit mask: most of a signed URL is unreserved runs of 5-40
/// bytes, and a branch per byte costs more than the arithmetic.
// One copy in WebAssembly, where the package size has a budget.
#[cfg_attr(not(target_arch = "wasm32"), inline)]
#[cfg_attr(target_arch = "wasm32", inline(never))]
pub(crate) fn unreserved_run_end(bytes: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = bytes.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let stops = stop_bytes(u64::from_le_bytes(*chunk));
        if stops != 0 {
            return i + (stops.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if !is_unreserved(b) {
            break;
        }
        i += 1;
    }
    i
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of every byte of `w` that is not unreserved.
///
/// On the low seven bits `x` of each byte, `x + (0x80 - lo)` sets the high
/// bit exactly when `x >= lo`, and `x + (0x7F - hi)` when `x > hi`;
/// `(x ^ c) + 0x7F` sets it exactly when `x != c`. No sum carries into the
/// next byte. The unreserved set is taken as four tests: letters (one range
/// once `| 0x20` folds the case), `-` to `9` but for `/`, `_` and `~`.
/// Bytes with the high bit set are never unreserved.
#[inline(always)]
pub(crate) fn stop_bytes(w: u64) -> u64 {
    let x = w & !HIGH;
    let at_least = |v: u64, lo: u8| v.wrapping_add(ONES * u64::from(0x80 - lo));
    let above = |v: u64, hi: u8| v.wrapping_add(ONES * u64::from(0x7F - hi));
    let differs = |c: u8| (x ^ (ONES * u64::from(c))).wrapping_add(ONES * 0x7F);
    let folded = x | (ONES * 0x20);
    let letter = at_least(folded, b'a') & !above(folded, b'z');
    let dash_to_nine = at_least(x, b'-') & !above(x, b'9');
    let slash = !differs(b'/');
    let other = (!dash_to_nine | slash) & differs(b'_') & differs(b'~');
    ((!letter & other) | w) & HIGH
}

/// Bit `k` set for every byte `block[k]` that is not unreserved (`N` is a
/// multiple of 8, at most 64): the stop bytes of a block as one mask, so a
/// scan visits stops with one `trailing_zeros` each and spends no branch on
/// a word without any. Each word's high bits are gathered into eight mask
/// bits by one multiplication: bit `8j + 7` of the word lands on bit
/// `56 + j` of the product, and no two partial products share a position,
/// so nothing carries.
#[inline]
pub(crate) fn stop_bits<const N: usize>(block: &[u8; N]) -> u64 {
    const GATHER: u64 = 0x0102_0408_1020_4080;
    let mut bits = 0;
    for (j, word) in block.chunks_exact(8).enumerate() {
        let word = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        let high = stop_bytes(word) >> 7;
        bits |= (high.wrapping_mul(GATHER) >> 56) << (8 * j);
    }
    bits
}

/// Whether `bytes[i]` (a `%`) starts an escape in canonical form: two
/// upper-case hex digits encoding a byte that is not unreserved.
pub(crate) fn is_canonical_escape(bytes: &[u8], i: usize) -> bool {
    match (bytes.get(i + 1), bytes.get(i + 2)) {
        (Some(&h), Some(&l)) => match (upper_hex_value(h), upper_hex_value(l)) {
            (Some(h), Some(l)) => !is_unreserved(h << 4 | l),
            _ => false,
        },
        _ => false,
    }
}

const fn upper_hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Encodes a decoded query name or value (spec §2 query, step 4).
pub(crate) fn encode_query_component(out: &mut Vec<u8>, decoded: &[u8]) {
    let mut i = 0;
    while i < decoded.len() {
        let run_end = unreserved_run_end(decoded, i);
        out.extend_from_slice(&decoded[i..run_end]);
        i = run_end;
        if let Some(&b) = decoded.get(i) {
            push_escape(out, b);
            i += 1;
        }
    }
}

/// Decodes a raw query component (reading `+` as a space) and re-encodes
/// it canonically into `out`; `false` on a `%` not followed by two hex
/// digits. The slow path: signers' components are canonical already.
pub(crate) fn recode_query(out: &mut Vec<u8>, raw: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        let decoded = match b {
            b'+' => b' ',
            b'%' => match escaped_byte(raw, i) {
                Some(d) => {
                    i += 2;
                    d
                }
                None => return false,
            },
            _ => b,
        };
        push_query_byte(out, decoded);
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_classifier_agrees_with_the_table_for_every_byte_and_position() {
        for b in 0..=255u8 {
            for k in 0..8 {
                let mut chunk = *b"aZ0-._~9";
                chunk[k] = b;
                let want = if is_unreserved(b) {
                    0
                } else {
                    0x80u64 << (8 * k)
                };
                assert_eq!(
                    stop_bytes(u64::from_le_bytes(chunk)),
                    want,
                    "byte {b:#x} at {k}"
                );
            }
        }
    }

    #[test]
    fn stop_bits_marks_exactly_the_bytes_that_are_not_unreserved() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let alphabet = b"aZ09-._~&=%+#/ \x80\xff\x00";
        for round in 0..2000 {
            let mut block = [0u8; 64];
            for b in block.iter_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // Mostly unreserved, as in URLs; every byte value sometimes.
                *b = if round % 4 == 0 {
                    seed as u8
                } else {
                    alphabet[(seed % alphabet.len() as u64) as usize]
                };
            }
            let want = block
                .iter()
                .enumerate()
                .filter(|(_, &b)| !is_unreserved(b))
                .fold(0u64, |m, (k, _)| m | 1 << k);
            assert_eq!(stop_bits(&block), want, "{block:?}");
            let word: [u8; 8] = core::array::from_fn(|k| block[k]);
            assert_eq!(stop_bits(&word), want & 0xFF, "{word:?}");
        }
    }

    #[test]
    fn run_ends_match_a_byte_by_byte_scan() {
        let text = b"orgId=1&var-region=emea~x.y_z&eg_sub=ana%40ex.com&\xc3\xa9t\xe9=1+2&tail";
        for start in 0..text.len() {
            let naive = text[start..]
                .iter()
                .position(|&b| !is_unreserved(b))
                .map_or(text.len(), |n| start + n);
            assert_eq!(unreserved_run_end(text, start), naive, "from {start}");
        }
    }
}
