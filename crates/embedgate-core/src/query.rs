//! Spec §2 query: the raw query split into canonical `name=value` pairs and
//! sorted by encoded name, then value.
//!
//! This is most of the work of a verify, so it is built for the usual case,
//! a signer's output: every component already canonical and only the order
//! to fix. One scan per parameter classifies eight bytes per step; a
//! canonical pair is referenced where it stands (and later copied with one
//! `memcpy`); only other components are decoded and re-encoded into
//! `scratch`. Sorting works on 16-byte integer keys (a name's first twelve
//! bytes and the pair's index), so only names sharing those twelve bytes are
//! compared in full.

use crate::canonical::{Param, SigField, Span};
use crate::inline_vec::InlineVec;
use crate::params::SIG_LEN;
use crate::percent::{is_canonical_escape, recode_query, stop_bytes};
use crate::reason::EmbedError;
use crate::sort::sort_by;

/// Most URLs have fewer parameters than this; more spill to the heap.
const INLINE_PARAMS: usize = 16;

/// Bytes of a name that go into its sort key (the low 32 bits hold the index).
const KEY_BYTES: usize = 12;

/// Where a canonical component lives: in the raw query (it was canonical
/// already) or in `scratch` (it was re-encoded).
#[derive(Clone, Copy)]
struct RawSpan {
    in_scratch: bool,
    start: u32,
    end: u32,
}

impl RawSpan {
    const EMPTY: RawSpan = RawSpan::raw(0, 0);

    const fn raw(start: usize, end: usize) -> RawSpan {
        RawSpan {
            in_scratch: false,
            start: start as u32,
            end: end as u32,
        }
    }

    fn bytes<'a>(self, raw: &'a [u8], scratch: &'a [u8]) -> &'a [u8] {
        let src = if self.in_scratch { scratch } else { raw };
        &src[self.start as usize..self.end as usize]
    }

    fn len(self) -> usize {
        (self.end - self.start) as usize
    }
}

#[derive(Clone, Copy)]
struct Pair {
    name: RawSpan,
    value: RawSpan,
    /// The raw text from the name's start to the value's end is exactly the
    /// canonical `name=value`.
    whole: bool,
}

impl Pair {
    const EMPTY: Pair = Pair {
        name: RawSpan::EMPTY,
        value: RawSpan::EMPTY,
        whole: false,
    };
}

/// The sort key of a name: its first [`KEY_BYTES`] bytes, big-endian, zero
/// padded. Canonical names never hold a zero byte (it is escaped), so the
/// padding sorts a shorter name first, as byte order does.
fn key_of(name: &[u8]) -> u128 {
    let mut k = [0u8; 16];
    let n = name.len().min(KEY_BYTES);
    k[..n].copy_from_slice(&name[..n]);
    u128::from_be_bytes(k)
}

/// Names at or after this key start with `eg_` or sort after every name
/// that does: the scheme's parameters form one run from the first of them.
const EMBED_KEY: u128 = u128::from_be_bytes(*b"eg_\0\0\0\0\0\0\0\0\0\0\0\0\0");

/// The pairs of a query as the scan finds them.
struct Split<'r> {
    raw: &'r [u8],
    pairs: InlineVec<Pair, INLINE_PARAMS>,
    /// `name prefix << 32 | index into pairs`, sorted later.
    keys: InlineVec<u128, INLINE_PARAMS>,
    scratch: Vec<u8>,
    sig: SigField,
}

impl Split<'_> {
    /// Takes the component `raw[start..end]` (`=` at `eq`, if any), which
    /// is already canonical when `clean`. Inlined into its one caller: a
    /// call's register saving would be a tenth of the work per parameter.
    #[inline(always)]
    fn pair(
        &mut self,
        start: usize,
        eq: Option<usize>,
        end: usize,
        clean: bool,
    ) -> Result<(), EmbedError> {
        if start == end {
            return Ok(());
        }
        let raw = self.raw;
        let (name_end, value_start) = eq.map_or((end, end), |e| (e, e + 1));
        let (name, value) = if clean {
            (
                RawSpan::raw(start, name_end),
                RawSpan::raw(value_start, end),
            )
        } else {
            (
                recode(raw, start, name_end, &mut self.scratch).ok_or(EmbedError::malformed(
                    "a query name has a % not followed by two hex digits",
                ))?,
                recode(raw, value_start, end, &mut self.scratch).ok_or(EmbedError::malformed(
                    "a query value has a % not followed by two hex digits",
                ))?,
            )
        };
        let name_bytes = name.bytes(raw, &self.scratch);
        if name_bytes == b"eg_sig" {
            let v = value.bytes(raw, &self.scratch);
            self.sig = match (&self.sig, <&[u8; SIG_LEN]>::try_from(v)) {
                (SigField::Absent, Ok(s)) => SigField::One(*s),
                (SigField::Absent, Err(_)) => SigField::WrongLength,
                _ => SigField::Repeated,
            };
            return Ok(());
        }
        self.keys
            .push(key_of(name_bytes) | self.pairs.as_slice().len() as u128);
        self.pairs.push(Pair {
            name,
            value,
            whole: clean && eq.is_some(),
        });
        Ok(())
    }
}

/// Appends the canonical query of `raw` (the text after `?`; a `#` ends it)
/// to `buf`: `name=value` pairs, sorted, joined by `&`, without `eg_sig`.
/// Returns the spans of every pair in `buf`, the index of the first pair of
/// the scheme's own run (see [`EMBED_KEY`]) and what `eg_sig` held.
pub(crate) fn canonical_query(
    raw: &[u8],
    buf: &mut Vec<u8>,
) -> Result<(Vec<Param>, usize, SigField), EmbedError> {
    let mut split = Split {
        raw,
        pairs: InlineVec::new(Pair::EMPTY),
        keys: InlineVec::new(0),
        scratch: Vec::new(),
        sig: SigField::Absent,
    };
    // One pass, a word at a time: each 8-byte word is classified once, and
    // only its stop bytes (anything not unreserved) are looked at. The two
    // hex digits of an escape are unreserved, so they never stop the scan.
    let mut start = 0;
    let mut eq = None;
    let mut clean = true;
    let mut base = 0;
    'words: loop {
        let (mut stops, last) = match raw[base..].first_chunk::<8>() {
            Some(word) => (stop_bytes(u64::from_le_bytes(*word)), false),
            None => {
                // The last word (maybe empty) is padded with an `&`, which
                // ends the last pair, then unreserved bytes: one place
                // handles every pair's end.
                let rest = &raw[base..];
                let mut word = *b"aaaaaaaa";
                word[..rest.len()].copy_from_slice(rest);
                word[rest.len()] = b'&';
                (stop_bytes(u64::from_le_bytes(word)), true)
            }
        };
        while stops != 0 {
            let p = base + (stops.trailing_zeros() / 8) as usize;
            stops &= stops - 1;
            let b = raw.get(p).copied().unwrap_or(b'&');
            if b == b'&' || b == b'#' {
                split.pair(start, eq, p, clean)?;
                if b == b'#' || p == raw.len() {
                    break 'words;
                }
                (start, eq, clean) = (p + 1, None, true);
            } else if b == b'=' && eq.is_none() {
                eq = Some(p);
            } else if b == b'%' && is_canonical_escape(raw, p) {
                // Canonical escapes are upper-case and never of an unreserved byte.
            } else {
                clean = false;
            }
        }
        if last {
            break;
        }
        base += 8;
    }
    // Borrowed, not destructured: moving the inline arrays out would copy them.
    let sig = core::mem::replace(&mut split.sig, SigField::Absent);
    let scratch = &split.scratch;
    let pairs = split.pairs.as_slice();
    let keys = split.keys.as_mut_slice();
    sort(keys, pairs, raw, scratch);

    buf.reserve(raw.len() + scratch.len() + 2 * keys.len());
    let mut params = Vec::with_capacity(keys.len());
    let mut first_embed = keys.len();
    for (k, &key) in keys.iter().enumerate() {
        if k > 0 {
            buf.push(b'&');
        }
        if key >= EMBED_KEY && first_embed == keys.len() {
            first_embed = k;
        }
        let p = &pairs[key as u32 as usize];
        let n0 = buf.len();
        let n1 = n0 + p.name.len();
        if p.whole {
            buf.extend_from_slice(&raw[p.name.start as usize..p.value.end as usize]);
        } else {
            buf.extend_from_slice(p.name.bytes(raw, scratch));
            buf.push(b'=');
            buf.extend_from_slice(p.value.bytes(raw, scratch));
        }
        params.push(Param {
            name: Span::of(n0..n1),
            value: Span::of(n1 + 1..buf.len()),
        });
    }
    Ok((params, first_embed, sig))
}

/// Sorts by key, then puts each run of equal name prefixes (repeated names,
/// or names sharing [`KEY_BYTES`] bytes) in full (name, value) order.
fn sort(keys: &mut [u128], pairs: &[Pair], raw: &[u8], scratch: &[u8]) {
    sort_by(keys, |a, b| a < b);
    let full_less = |a: &u128, b: &u128| -> bool {
        let (a, b) = (pairs[*a as u32 as usize], pairs[*b as u32 as usize]);
        a.name
            .bytes(raw, scratch)
            .cmp(b.name.bytes(raw, scratch))
            .then_with(|| a.value.bytes(raw, scratch).cmp(b.value.bytes(raw, scratch)))
            .is_lt()
    };
    let mut k = 1;
    while k < keys.len() {
        if (keys[k] ^ keys[k - 1]) >> 32 != 0 {
            k += 1;
            continue;
        }
        let start = k - 1;
        let prefix = keys[start] >> 32;
        let mut end = k + 1;
        while end < keys.len() && keys[end] >> 32 == prefix {
            end += 1;
        }
        sort_by(&mut keys[start..end], full_less);
        k = end + 1;
    }
}

/// Decodes `raw[start..end]` (reading `+` as a space) and re-encodes it
/// canonically into `scratch`; `None` on a bad escape.
fn recode(raw: &[u8], start: usize, end: usize, scratch: &mut Vec<u8>) -> Option<RawSpan> {
    let s0 = scratch.len();
    if !recode_query(scratch, &raw[start..end]) {
        return None;
    }
    Some(RawSpan {
        in_scratch: true,
        start: s0 as u32,
        end: scratch.len() as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(raw: &str) -> String {
        let mut buf = Vec::new();
        canonical_query(raw.as_bytes(), &mut buf).expect("parses");
        String::from_utf8(buf).expect("ascii")
    }

    #[test]
    fn long_shared_prefixes_and_repeated_names_sort_in_full() {
        assert_eq!(
            canonical("var-region-long=b&var-region-long=a&var-region-lonf=z&var-region-longer=0"),
            "var-region-lonf=z&var-region-long=a&var-region-long=b&var-region-longer=0"
        );
        assert_eq!(canonical("a=2&a=1&a&=x&&"), "=x&a=&a=1&a=2");
        assert_eq!(canonical("b=1&a=2#c=3&d"), "a=2&b=1");
        assert_eq!(canonical("#a=1"), "");
        assert_eq!(canonical("a=%41#"), "a=A");
        let many: Vec<String> = (0..40).rev().map(|n| format!("p{n:02}=x")).collect();
        let mut sorted = many.clone();
        sorted.sort();
        assert_eq!(canonical(&many.join("&")), sorted.join("&"));
        assert_eq!(canonical("b+c=%7e&a%3d=1=2"), "a%3D=1%3D2&b%20c=~");
    }

    #[test]
    fn canonical_pairs_and_their_spans() {
        for (raw, want) in [
            ("a=1&b=2&c=3", "a=1&b=2&c=3"),
            ("c=3&a=1&b=2", "a=1&b=2&c=3"),
            ("a=1&&b=2", "a=1&b=2"),
            ("a=1&b=%7e&c=3&d=4", "a=1&b=~&c=3&d=4"),
            ("a=1&b&c=3", "a=1&b=&c=3"),
            ("a=1#b=2", "a=1"),
            ("b=2&eg_sig=x&c=3&a=1", "a=1&b=2&c=3"),
        ] {
            let mut buf = b"head\n".to_vec();
            let (params, _, _) = canonical_query(raw.as_bytes(), &mut buf).expect("parses");
            assert_eq!(&buf[5..], want.as_bytes(), "{raw}");
            let rebuilt: Vec<String> = params
                .iter()
                .map(|p| {
                    let text = |s: Span| String::from_utf8_lossy(&buf[s.range()]).into_owned();
                    format!("{}={}", text(p.name), text(p.value))
                })
                .collect();
            assert_eq!(rebuilt.join("&"), want, "{raw}");
        }
    }

    #[test]
    fn the_embed_run_starts_at_the_first_name_from_eg_() {
        for (raw, first) in [
            ("eg=1&eg_kid=k&z=1", 1),
            ("a=1&b=2", 2),
            ("eg_=1", 0),
            ("egz=1&eg%60=1", 1),
            ("Z=1&eh=1", 1),
        ] {
            let (params, at, _) = canonical_query(raw.as_bytes(), &mut Vec::new()).expect("parses");
            assert_eq!(at, first, "{raw}");
            assert!(at <= params.len());
        }
    }
}
