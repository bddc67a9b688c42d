//! Spec §2 query: the parameters of a URL in canonical form, sorted.
//!
//! Each step of the spec is one function below: [`pieces`] (1),
//! [`split_piece`] (2), [`push_canonical_component`] (3 and 4, byte by
//! byte), [`CanonicalQuery::sort`] (5) and [`CanonicalQuery::join`] (6).

use core::cmp::Ordering;

use crate::percent::{
    escaped_byte, is_unreserved, push_escape, push_query_encoded, unreserved_run_len,
};
use crate::reason::EmbedError;
use crate::sort::sort_by;

/// The query's parameters, each name and value in canonical encoding
/// (ASCII).
///
/// The encoded bytes of every name and value sit in one buffer, back to
/// back, and each parameter names its two ranges: one allocation for the
/// text and one for the list, whatever the number of parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CanonicalQuery {
    text: Vec<u8>,
    params: Vec<Param>,
}

/// One parameter: where its encoded name and value are in the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Param {
    name: Span,
    value: Span,
    /// The name's first 8 bytes as a big-endian number, zero-padded: it
    /// orders names as their bytes do wherever they differ within 8 bytes
    /// (a canonical name never holds a zero byte: it would be `%00`), so
    /// most comparisons in [`CanonicalQuery::sort`] are one integer compare.
    sort_key: u64,
}

/// A byte range of [`CanonicalQuery::text`] (`Copy`, unlike `Range`, so a
/// parameter moves as plain data while sorting).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
}

impl Span {
    fn of<'t>(&self, text: &'t [u8]) -> &'t [u8] {
        &text[self.start..self.end]
    }
}

impl Param {
    fn new(text: &[u8], name: Span, value: Span) -> Self {
        let mut prefix = [0u8; 8];
        for (slot, &b) in prefix.iter_mut().zip(name.of(text)) {
            *slot = b;
        }
        Param {
            name,
            value,
            sort_key: u64::from_be_bytes(prefix),
        }
    }
}

impl CanonicalQuery {
    /// Steps 1-5: the raw query (after `?`, without the fragment) as
    /// sorted canonical parameters.
    pub(crate) fn parse(raw_query: &str) -> Result<Self, EmbedError> {
        let mut query = CanonicalQuery::in_written_order(raw_query)?;
        query.sort();
        Ok(query)
    }

    /// Steps 1-4: the canonical parameters in the order written (what an
    /// EGJ1 signer turns into `params`).
    pub(crate) fn in_written_order(raw_query: &str) -> Result<Self, EmbedError> {
        let mut query = CanonicalQuery {
            text: Vec::with_capacity(raw_query.len() + 16),
            // Room for a typical signed URL's parameters without regrowing.
            params: Vec::with_capacity(16),
        };
        for piece in pieces(raw_query.as_bytes()) {
            let (name, value) = split_piece(piece);
            query.push_raw(name, value)?;
        }
        Ok(query)
    }

    /// Steps 3 and 4 for one raw `name=value` piece, appended unsorted.
    fn push_raw(&mut self, raw_name: &[u8], raw_value: &[u8]) -> Result<(), EmbedError> {
        let start = self.text.len();
        push_canonical_component(&mut self.text, raw_name)?;
        let name = Span {
            start,
            end: self.text.len(),
        };
        push_canonical_component(&mut self.text, raw_value)?;
        let value = Span {
            start: name.end,
            end: self.text.len(),
        };
        self.params.push(Param::new(&self.text, name, value));
        Ok(())
    }

    /// Appends a parameter whose name and value are already in canonical
    /// encoding (the signer's own `eg_` parameters). Call
    /// [`CanonicalQuery::sort`] afterwards.
    pub(crate) fn push_encoded(&mut self, name: &[u8], value: &[u8]) {
        let start = self.text.len();
        self.text.extend_from_slice(name);
        let name = Span {
            start,
            end: self.text.len(),
        };
        self.text.extend_from_slice(value);
        let value = Span {
            start: name.end,
            end: self.text.len(),
        };
        self.params.push(Param::new(&self.text, name, value));
    }

    /// Step 4 for a pair already decoded (the `params` of an EGJ1 token),
    /// appended unsorted. Call [`CanonicalQuery::sort`] afterwards.
    pub(crate) fn push_decoded(&mut self, name: &[u8], value: &[u8]) {
        let start = self.text.len();
        push_query_encoded(&mut self.text, name);
        let name = Span {
            start,
            end: self.text.len(),
        };
        push_query_encoded(&mut self.text, value);
        let value = Span {
            start: name.end,
            end: self.text.len(),
        };
        self.params.push(Param::new(&self.text, name, value));
    }

    /// Step 5: sorts by encoded name, then by encoded value, comparing bytes.
    pub(crate) fn sort(&mut self) {
        let text = &self.text;
        sort_by(&mut self.params, |a, b| {
            let order = a
                .sort_key
                .cmp(&b.sort_key)
                .then_with(|| a.name.of(text).cmp(b.name.of(text)))
                .then_with(|| a.value.of(text).cmp(b.value.of(text)));
            order == Ordering::Less
        });
    }

    /// The `(name, value)` pairs, encoded, in sorted order.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.params
            .iter()
            .map(|p| (p.name.of(&self.text), p.value.of(&self.text)))
    }

    /// Step 6 over the parameters `keep` selects: each pair as
    /// `name=value`, joined with `&`, appended to `out`.
    pub(crate) fn join(&self, out: &mut Vec<u8>, keep: impl Fn(&[u8]) -> bool) {
        let mut first = true;
        for (name, value) in self.pairs().filter(|(name, _)| keep(name)) {
            if !first {
                out.push(b'&');
            }
            first = false;
            out.extend_from_slice(name);
            out.push(b'=');
            out.extend_from_slice(value);
        }
    }

    /// Room the joined text needs at most.
    pub(crate) fn joined_len(&self) -> usize {
        self.text.len() + 2 * self.params.len()
    }
}

/// Step 1: split the raw query on `&` and drop empty pieces.
fn pieces(raw_query: &[u8]) -> impl Iterator<Item = &[u8]> {
    raw_query
        .split(|&b| b == b'&')
        .filter(|piece| !piece.is_empty())
}

/// Step 2: split a piece at its first `=`; without one, the value is empty.
fn split_piece(piece: &[u8]) -> (&[u8], &[u8]) {
    match piece.iter().position(|&b| b == b'=') {
        Some(at) => (&piece[..at], &piece[at + 1..]),
        None => (piece, b""),
    }
}

/// Steps 3 and 4 for one name or value, byte by byte: percent-decode
/// (reading `+` as a space), then encode again (unreserved bytes as they
/// are, every other byte as `%XY` with upper-case hex).
fn push_canonical_component(out: &mut Vec<u8>, raw: &[u8]) -> Result<(), EmbedError> {
    let mut i = 0;
    loop {
        // Unreserved bytes decode and encode to themselves: a run of them is
        // copied at once (most of a URL is such runs).
        let run = unreserved_run_len(&raw[i..]);
        out.extend_from_slice(&raw[i..i + run]);
        i += run;
        let Some(&b) = raw.get(i) else {
            return Ok(());
        };
        let (decoded, width) = match b {
            b'%' => (
                escaped_byte(raw, i).ok_or(EmbedError::malformed(
                    "the query has a % not followed by two hex digits",
                ))?,
                3,
            ),
            b'+' => (b' ', 1),
            _ => (b, 1),
        };
        if is_unreserved(decoded) {
            out.push(decoded);
        } else {
            push_escape(out, decoded);
        }
        i += width;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(raw: &str) -> String {
        let mut out = Vec::new();
        CanonicalQuery::parse(raw)
            .expect("parses")
            .join(&mut out, |_| true);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn the_six_steps() {
        assert_eq!(canonical("b=%7e&a=1+2&&flag&a=0"), "a=0&a=1%202&b=~&flag=");
        assert_eq!(canonical("kiosk&kiosk="), "kiosk=&kiosk=");
        assert_eq!(canonical("a=b=c"), "a=b%3Dc");
        assert_eq!(canonical("%c3%a9=%2B"), "%C3%A9=%2B");
        assert_eq!(canonical(""), "");
        assert!(CanonicalQuery::parse("a=%2").is_err());
        assert!(CanonicalQuery::parse("a%g0=1").is_err());
    }

    #[test]
    fn steps_one_to_four_keep_the_order_written() {
        let query = CanonicalQuery::in_written_order("b=%7e&a=1+2&&flag&a=0").expect("parses");
        let mut out = Vec::new();
        query.join(&mut out, |_| true);
        assert_eq!(out, b"b=~&a=1%202&flag=&a=0");
    }

    #[test]
    fn decoded_pairs_encode_like_raw_ones() {
        let mut query = CanonicalQuery::default();
        query.push_decoded(b"a b", "é+".as_bytes());
        query.push_decoded(b"", b"~");
        query.sort();
        let mut out = Vec::new();
        query.join(&mut out, |_| true);
        assert_eq!(out, b"=~&a%20b=%C3%A9%2B");
    }

    #[test]
    fn sorting_compares_encoded_bytes() {
        // `%` (0x25) < `B` (0x42) < `_` (0x5F) < `a` (0x61).
        assert_eq!(canonical("a=1&_=1&B=1&%20=1"), "%20=1&B=1&_=1&a=1");
        assert_eq!(canonical("a=2&a=10&a=1"), "a=1&a=10&a=2");
        // Names that tie on the 8-byte sort key, or are prefixes of others.
        assert_eq!(
            canonical("eg_attr.b=1&eg_attr.a=1&eg_attr.=1&eg_attr=1&eg_att=1&eg_attr.ab=0"),
            "eg_att=1&eg_attr=1&eg_attr.=1&eg_attr.a=1&eg_attr.ab=0&eg_attr.b=1"
        );
    }

    #[test]
    fn sorting_agrees_with_sorting_the_pairs_themselves() {
        let names = [
            "",
            "a",
            "ab",
            "abcdefgh",
            "abcdefghi",
            "abcdefgi",
            "abcdefg",
            "%20",
            "~",
            "B",
        ];
        let mut raw = Vec::new();
        for (k, n) in names.iter().enumerate() {
            for m in names.iter().skip(k % 3) {
                raw.push(format!("{n}={m}"));
            }
        }
        let query = CanonicalQuery::parse(&raw.join("&")).expect("parses");
        let got: Vec<(Vec<u8>, Vec<u8>)> = query
            .pairs()
            .map(|(n, v)| (n.to_vec(), v.to_vec()))
            .collect();
        let mut want = got.clone();
        want.sort();
        assert_eq!(got, want);
    }
}
