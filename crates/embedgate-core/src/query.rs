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
use crate::percent::{is_canonical_escape, recode_query, stop_bits};
use crate::reason::EmbedError;
use crate::sort::sort_by;

/// Most URLs have fewer parameters than this; more spill to the heap.
const INLINE_PARAMS: usize = 16;

/// Bytes the query scan classifies per step (see [`stop_bits`]): 64
/// natively; one word in WebAssembly, where the unrolled classifier of a
/// 64-byte block would cost a tenth of the package's size budget.
const SCAN_BLOCK: usize = if cfg!(target_arch = "wasm32") { 8 } else { 64 };

/// Bytes of a name that go into its sort key (the low 32 bits hold the index).
const KEY_BYTES: usize = 12;

/// One canonical `name=value`, contiguous: in the raw query where it was
/// canonical already, else re-encoded into `scratch` (with its `=`), so
/// that every pair is copied into the string to sign with one `memcpy`.
#[derive(Clone, Copy)]
struct Pair {
    start: u32,
    end: u32,
    /// The length of the name (the `=` follows it).
    name_len: u32,
    in_scratch: bool,
}

impl Pair {
    const EMPTY: Pair = Pair {
        start: 0,
        end: 0,
        name_len: 0,
        in_scratch: false,
    };

    /// The buffer the pair lives in.
    fn source<'a>(self, raw: &'a [u8], scratch: &'a [u8]) -> &'a [u8] {
        if self.in_scratch {
            scratch
        } else {
            raw
        }
    }

    /// The text `name=value`.
    fn text<'a>(self, raw: &'a [u8], scratch: &'a [u8]) -> &'a [u8] {
        &self.source(raw, scratch)[self.start as usize..self.end as usize]
    }

    /// Name and value.
    fn parts<'a>(self, raw: &'a [u8], scratch: &'a [u8]) -> (&'a [u8], &'a [u8]) {
        let text = self.text(raw, scratch);
        let n = self.name_len as usize;
        (&text[..n], &text[n + 1..])
    }
}

/// The sort key of the name `src[start..end]`: its first [`KEY_BYTES`]
/// bytes, big-endian, zero padded. Canonical names never hold a zero byte
/// (it is escaped), so the padding sorts a shorter name first, as byte
/// order does. Read as one 16-byte load where the text goes on that far
/// (a copy of up to twelve bytes would be a `memcpy` call per parameter).
fn key_of(src: &[u8], start: usize, end: usize) -> u128 {
    let n = (end - start).min(KEY_BYTES);
    let k = match src.get(start..).and_then(<[u8]>::first_chunk::<16>) {
        Some(word) => u128::from_be_bytes(*word),
        None => {
            let mut k = [0u8; 16];
            k[..n].copy_from_slice(&src[start..start + n]);
            u128::from_be_bytes(k)
        }
    };
    // The mask of the first `n` bytes, from two 64-bit halves: a 128-bit
    // shift by a variable amount is a library call in WebAssembly.
    let high = if n >= 8 {
        u64::MAX
    } else {
        !(u64::MAX >> (8 * n))
    };
    let low = if n > 8 {
        !(u64::MAX >> (8 * (n - 8)))
    } else {
        0
    };
    k & (u128::from(high) << 64 | u128::from(low))
}

/// [`key_of`] a name of at most [`KEY_BYTES`] bytes, at compile time.
const fn name_key(name: &[u8]) -> u128 {
    let mut k = [0u8; 16];
    let mut i = 0;
    while i < name.len() && i < KEY_BYTES {
        k[i] = name[i];
        i += 1;
    }
    u128::from_be_bytes(k)
}

/// Names at or after this key start with `eg_` or sort after every name
/// that does: the scheme's parameters form one run from the first of them.
const EMBED_KEY: u128 = name_key(b"eg_");
const EMBED_MASK: u128 = u128::MAX << (128 - 8 * 3);

/// Set in the keys of `eg_` names while sorting (canonical names are ASCII,
/// so no key has it otherwise): they sort after every content name, as a
/// signer writes them, and the sort moves no key across that boundary.
/// Their run is put in its place when the pairs are written out.
const EMBED_FLAG: u128 = 1 << 127;

/// The key of `eg_sig`, which is not signed and so not sorted.
const SIG_KEY: u128 = name_key(b"eg_sig");

/// The pairs of a query as the scan finds them.
struct Split<'r> {
    raw: &'r [u8],
    pairs: InlineVec<Pair, INLINE_PARAMS>,
    /// `name prefix << 32 | index into pairs`, sorted later.
    keys: InlineVec<u128, INLINE_PARAMS>,
    scratch: Vec<u8>,
    sig: SigField,
    /// How many keys carry [`EMBED_FLAG`].
    embed: usize,
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
        // Canonical as it stands only with its `=`: `flag` becomes `flag=`.
        let pair = match eq {
            Some(e) if clean => Pair {
                start: start as u32,
                end: end as u32,
                name_len: (e - start) as u32,
                in_scratch: false,
            },
            _ => {
                let (name_end, value_start) = eq.map_or((end, end), |e| (e, e + 1));
                let s0 = self.scratch.len();
                if !recode_query(&mut self.scratch, &raw[start..name_end]) {
                    return Err(EmbedError::malformed(
                        "a query name has a % not followed by two hex digits",
                    ));
                }
                let name_len = self.scratch.len() - s0;
                self.scratch.push(b'=');
                if !recode_query(&mut self.scratch, &raw[value_start..end]) {
                    return Err(EmbedError::malformed(
                        "a query value has a % not followed by two hex digits",
                    ));
                }
                Pair {
                    start: s0 as u32,
                    end: self.scratch.len() as u32,
                    name_len: name_len as u32,
                    in_scratch: true,
                }
            }
        };
        // From the whole buffer, not the pair's text: the key's 16-byte load
        // may read on past the name's end.
        let key = key_of(
            pair.source(raw, &self.scratch),
            pair.start as usize,
            (pair.start + pair.name_len) as usize,
        );
        if key == SIG_KEY && pair.name_len == 6 {
            let (_, v) = pair.parts(raw, &self.scratch);
            self.sig = match (&self.sig, <&[u8; SIG_LEN]>::try_from(v)) {
                (SigField::Absent, Ok(s)) => SigField::One(*s),
                (SigField::Absent, Err(_)) => SigField::WrongLength,
                _ => SigField::Repeated,
            };
            return Ok(());
        }
        let flag = if key & EMBED_MASK == EMBED_KEY {
            self.embed += 1;
            EMBED_FLAG
        } else {
            0
        };
        self.keys
            .push(key | flag | self.pairs.as_slice().len() as u128);
        self.pairs.push(pair);
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
        embed: 0,
    };
    // One pass, a block at a time: each block's stop bytes (anything not
    // unreserved) become one bit mask, and only those bytes are looked at.
    // The two hex digits of an escape are unreserved, so they never stop
    // the scan.
    let mut start = 0;
    let mut eq = None;
    let mut clean = true;
    let mut base = 0;
    let mut tail = [b'a'; SCAN_BLOCK];
    'blocks: loop {
        let (block, last) = match raw.get(base..).and_then(<[u8]>::first_chunk::<SCAN_BLOCK>) {
            Some(block) => (block, false),
            None => {
                // The last block (maybe empty) is padded with an `&`, which
                // ends the last pair, then unreserved bytes: one place
                // handles every pair's end.
                let rest = &raw[base..];
                tail[..rest.len()].copy_from_slice(rest);
                tail[rest.len()] = b'&';
                (&tail, true)
            }
        };
        let mut stops = stop_bits(block);
        while stops != 0 {
            let p = base + stops.trailing_zeros() as usize;
            stops &= stops - 1;
            let b = raw.get(p).copied().unwrap_or(b'&');
            if b == b'&' || b == b'#' {
                split.pair(start, eq, p, clean)?;
                if b == b'#' || p == raw.len() {
                    break 'blocks;
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
        base += SCAN_BLOCK;
    }
    // Borrowed, not destructured: moving the inline arrays out would copy them.
    let sig = core::mem::replace(&mut split.sig, SigField::Absent);
    let scratch = &split.scratch;
    let pairs = split.pairs.as_slice();
    let keys = split.keys.as_mut_slice();
    sort(keys, pairs, raw, scratch);

    // Sorted: content names, then the flagged `eg_` run, which goes where
    // `eg_` sorts among the content names.
    let content = keys.len() - split.embed;
    let first_embed = keys[..content].partition_point(|&k| k < EMBED_KEY);
    buf.reserve(raw.len() + scratch.len() + 2 * keys.len());
    let mut params = Vec::with_capacity(keys.len());
    for k in 0..keys.len() {
        let at = if k < first_embed {
            k
        } else if k < first_embed + split.embed {
            content + (k - first_embed)
        } else {
            k - split.embed
        };
        if k > 0 {
            buf.push(b'&');
        }
        let p = pairs[keys[at] as u32 as usize];
        let n0 = buf.len();
        let n1 = n0 + p.name_len as usize;
        buf.extend_from_slice(p.text(raw, scratch));
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
        let a = pairs[*a as u32 as usize].parts(raw, scratch);
        let b = pairs[*b as u32 as usize].parts(raw, scratch);
        a < b
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
            // The `eg_` run between content names on either side of it.
            (
                "z=1&eg_b=2&eg=0&a=1&eg%60=3&eg_a=1&ef=9&f=0",
                "a=1&ef=9&eg=0&eg%60=3&eg_a=1&eg_b=2&f=0&z=1",
            ),
            ("eg_b=2&eg_a=1", "eg_a=1&eg_b=2"),
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
