//! The JSON of EGJ1 tokens (RFC 8259), read strictly and written the way
//! common JWT libraries write it.
//!
//! Reading: a pull reader for what EGJ1 §1 needs (objects, strings with
//! every JSON escape, arrays of strings, integers in 0 ..= 2^53), which also
//! skips any other value correctly (ignored claims such as `iat`, or private
//! claims of any JSON type). It is strict where the spec is: a repeated
//! member name in any object, a number with a fraction or exponent where an
//! integer is wanted, a lone surrogate escape, a raw control character in a
//! string or anything after the value is malformed.
//!
//! Why not serde_json: it keeps the last of two repeated members without a
//! word, and it would weigh more than this whole file in the WebAssembly
//! package (docs/wasm.md).

use crate::reason::EmbedError;
use crate::sort::sort_by;

/// How deeply arrays and objects may nest (an ignored claim may hold any
/// JSON value): bounds the reader's recursion on hostile input.
const MAX_DEPTH: usize = 64;

/// The largest integer EGJ1 reads (§1): 2^53, the last one every JSON
/// implementation represents exactly.
pub(crate) const MAX_INTEGER: u64 = 1 << 53;

fn malformed(detail: &'static str) -> EmbedError {
    EmbedError::malformed(detail)
}

/// A position in one JSON text.
#[derive(Debug)]
pub(crate) struct JsonReader<'j> {
    text: &'j [u8],
    at: usize,
    depth: usize,
}

/// The member names of the object being read, to refuse a repeated one.
#[derive(Debug, Default)]
pub(crate) struct Members {
    names: Vec<String>,
    started: bool,
}

impl<'j> JsonReader<'j> {
    pub(crate) fn new(text: &'j [u8]) -> Self {
        JsonReader {
            text,
            at: 0,
            depth: 0,
        }
    }

    /// The next byte that is not whitespace (space, tab, LF, CR), not
    /// consumed.
    pub(crate) fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.text.get(self.at) {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(b);
            }
            self.at += 1;
        }
        None
    }

    /// Consumes `byte` (after whitespace), or fails with `detail`.
    fn expect(&mut self, byte: u8, detail: &'static str) -> Result<(), EmbedError> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(malformed(detail))
        }
    }

    /// The text holds nothing after the value but whitespace.
    pub(crate) fn end(mut self) -> Result<(), EmbedError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(malformed("the JSON text goes on after its value")),
        }
    }

    /// Opens an object (`{`); read it with [`JsonReader::next_member`].
    pub(crate) fn begin_object(&mut self) -> Result<Members, EmbedError> {
        self.expect(b'{', "a JSON object was expected")?;
        Ok(Members::default())
    }

    /// The name of the object's next member, its `:` consumed (the caller
    /// then reads or skips the value), or `None` at the closing `}`, once
    /// no name was given twice.
    pub(crate) fn next_member<'m>(
        &mut self,
        members: &'m mut Members,
    ) -> Result<Option<&'m str>, EmbedError> {
        let first = !members.started;
        members.started = true;
        match self.peek() {
            Some(b'}') => {
                self.at += 1;
                members.check_unique()?;
                return Ok(None);
            }
            Some(b',') if !first => self.at += 1,
            _ if first => {}
            _ => return Err(malformed("a JSON object misses a , or }")),
        }
        let name = self.string()?;
        self.expect(b':', "a JSON member name is not followed by :")?;
        members.names.push(name);
        Ok(members.names.last().map(String::as_str))
    }

    /// Opens an array (`[`); read it with [`JsonReader::next_element`].
    pub(crate) fn begin_array(&mut self) -> Result<(), EmbedError> {
        self.expect(b'[', "a JSON array was expected")
    }

    /// Whether another element follows (its `,` consumed); `false` at the
    /// closing `]`. `first` is true before the first element.
    pub(crate) fn next_element(&mut self, first: bool) -> Result<bool, EmbedError> {
        match self.peek() {
            Some(b']') => {
                self.at += 1;
                Ok(false)
            }
            Some(b',') if !first => {
                self.at += 1;
                Ok(true)
            }
            _ if first => Ok(true),
            _ => Err(malformed("a JSON array misses a , or ]")),
        }
    }

    /// A string value, unescaped. Every escape of RFC 8259 §7 is read,
    /// `\uXXXX` pairs as one character; a lone surrogate, a raw control
    /// character (below 0x20) or bytes that are not UTF-8 are malformed.
    pub(crate) fn string(&mut self) -> Result<String, EmbedError> {
        self.expect(b'"', "a JSON string was expected")?;
        let mut out = Vec::new();
        loop {
            // Bytes that stand for themselves are copied a run at a time.
            let rest = &self.text[self.at..];
            let run = rest
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .unwrap_or(rest.len());
            out.extend_from_slice(&rest[..run]);
            self.at += run;
            match self.text.get(self.at) {
                Some(b'"') => {
                    self.at += 1;
                    return String::from_utf8(out)
                        .map_err(|_| malformed("a JSON string is not UTF-8"));
                }
                Some(b'\\') => {
                    self.at += 1;
                    self.escape(&mut out)?;
                }
                Some(_) => return Err(malformed("a JSON string holds a raw control character")),
                None => return Err(malformed("a JSON string is not closed")),
            }
        }
    }

    /// One escape after its `\`, appended to `out` as UTF-8.
    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), EmbedError> {
        let Some(&kind) = self.text.get(self.at) else {
            return Err(malformed("a JSON string ends in an escape"));
        };
        self.at += 1;
        let byte = match kind {
            b'"' | b'\\' | b'/' => kind,
            b'b' => 0x08,
            b'f' => 0x0C,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let c = self.unicode_escape()?;
                let mut utf8 = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                return Ok(());
            }
            _ => return Err(malformed("a JSON string has an unknown escape")),
        };
        out.push(byte);
        Ok(())
    }

    /// The character of `\uXXXX` (its `\u` consumed), or of a surrogate
    /// pair `\uD8XX\uDCXX`.
    fn unicode_escape(&mut self) -> Result<char, EmbedError> {
        let lone = || malformed("a JSON string has a lone surrogate escape");
        let unit = self.hex4()?;
        let code = match unit {
            0xD800..=0xDBFF => {
                if self.text.get(self.at..self.at + 2) != Some(b"\\u") {
                    return Err(lone());
                }
                self.at += 2;
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(lone());
                }
                0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(lone()),
            _ => unit,
        };
        char::from_u32(code).ok_or_else(lone)
    }

    /// Four hex digits, either case.
    fn hex4(&mut self) -> Result<u32, EmbedError> {
        let digits = self
            .text
            .get(self.at..self.at + 4)
            .ok_or(malformed("a JSON \\u escape is cut short"))?;
        let mut unit = 0;
        for &d in digits {
            let v = (d as char)
                .to_digit(16)
                .ok_or(malformed("a JSON \\u escape has a non-hex digit"))?;
            unit = unit << 4 | v;
        }
        self.at += 4;
        Ok(unit)
    }

    /// An integer in 0 ..= 2^53: a JSON number without sign, fraction or
    /// exponent (EGJ1 §1).
    pub(crate) fn integer(&mut self) -> Result<u64, EmbedError> {
        self.number()?.ok_or(malformed(
            "a JSON number must be an integer from 0 to 2^53 (no sign, fraction or exponent)",
        ))
    }

    /// Any JSON number (`-? int frac? exp?`, RFC 8259 §6); its value when it
    /// is an integer in 0 ..= 2^53 written without sign, fraction or
    /// exponent, else `None`.
    fn number(&mut self) -> Result<Option<u64>, EmbedError> {
        self.peek();
        let negative = self.text.get(self.at) == Some(&b'-');
        if negative {
            self.at += 1;
        }
        let int_start = self.at;
        let int_len = self.digits();
        let int = &self.text[int_start..self.at];
        if int_len == 0 || (int_len > 1 && int[0] == b'0') {
            return Err(malformed(
                "a JSON number is not written as JSON writes numbers",
            ));
        }
        let mut plain = !negative;
        if self.text.get(self.at) == Some(&b'.') {
            self.at += 1;
            plain = false;
            if self.digits() == 0 {
                return Err(malformed("a JSON number has no digit after ."));
            }
        }
        if matches!(self.text.get(self.at), Some(b'e' | b'E')) {
            self.at += 1;
            plain = false;
            if matches!(self.text.get(self.at), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(malformed("a JSON number has no digit in its exponent"));
            }
        }
        if !plain {
            return Ok(None);
        }
        let value = int.iter().try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        });
        Ok(value.filter(|&v| v <= MAX_INTEGER))
    }

    /// Consumes ASCII digits; returns how many.
    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.text.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        self.at - start
    }

    /// Reads any one value and drops it, with the same strictness.
    pub(crate) fn skip_value(&mut self) -> Result<(), EmbedError> {
        match self.peek() {
            Some(b'{') => self.nested(|r| {
                let mut members = r.begin_object()?;
                while r.next_member(&mut members)?.is_some() {
                    r.skip_value()?;
                }
                Ok(())
            }),
            Some(b'[') => self.nested(|r| {
                r.begin_array()?;
                let mut first = true;
                while r.next_element(first)? {
                    first = false;
                    r.skip_value()?;
                }
                Ok(())
            }),
            Some(b'"') => self.string().map(drop),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number().map(drop),
            _ => Err(malformed("a JSON value was expected")),
        }
    }

    /// Runs `read` one level deeper, within [`MAX_DEPTH`].
    fn nested(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<(), EmbedError>,
    ) -> Result<(), EmbedError> {
        if self.depth == MAX_DEPTH {
            return Err(malformed("JSON nested too deeply"));
        }
        self.depth += 1;
        let result = read(self);
        self.depth -= 1;
        result
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), EmbedError> {
        if self.text[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(malformed("a JSON value was expected"))
        }
    }
}

impl Members {
    /// "A JSON object with a repeated member name is malformed" (EGJ1 §1),
    /// compared once unescaped (`"a"` and `"\u0061"` are one name).
    fn check_unique(&mut self) -> Result<(), EmbedError> {
        let mut names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        sort_by(&mut names, |a, b| a < b);
        if names.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(malformed("a JSON object repeats a member name"));
        }
        Ok(())
    }
}

/// Appends `text` as a JSON string, as Python's `json.dumps` (and so PyJWT)
/// writes it: `"` and `\` escaped, `\b \f \n \r \t` for those controls,
/// every other byte outside printable ASCII as `\u00XX` or, beyond ASCII,
/// as `\uXXXX` UTF-16 units, lower-case hex.
pub(crate) fn push_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{C}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            ' '..='~' => out.push(c as u8),
            _ => {
                let mut units = [0u16; 2];
                for &unit in c.encode_utf16(&mut units).iter() {
                    push_unicode_escape(out, unit);
                }
            }
        }
    }
    out.push(b'"');
}

fn push_unicode_escape(out: &mut Vec<u8>, unit: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[usize::from(unit >> shift & 0xF)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string_of(json: &str) -> Result<String, EmbedError> {
        let mut r = JsonReader::new(json.as_bytes());
        let s = r.string()?;
        r.end()?;
        Ok(s)
    }

    #[test]
    fn strings_with_every_escape() {
        assert_eq!(
            string_of(r#" "a\"\\\/\b\f\n\r\t\u0041\u00e9\u20AC\ud83d\ude00" "#).unwrap(),
            "a\"\\/\u{8}\u{c}\n\r\tAé€😀"
        );
        assert_eq!(string_of("\"é\u{7f}\"").unwrap(), "é\u{7f}");
        for bad in [
            r#""\ud83d""#,
            r#""\ude00""#,
            r#""\ud83d\u0041""#,
            r#""\ud83dx""#,
            r#""\u00""#,
            r#""\u00g0""#,
            r#""\x""#,
            "\"a\nb\"",
            "\"a",
            "\"a\\",
            "'a'",
            "\"a\" x",
        ] {
            assert!(string_of(bad).is_err(), "{bad:?}");
        }
        let mut r = JsonReader::new(b"\"\xff\"");
        assert!(r.string().is_err());
    }

    fn integer_of(json: &str) -> Result<u64, EmbedError> {
        let mut r = JsonReader::new(json.as_bytes());
        let n = r.integer()?;
        r.end()?;
        Ok(n)
    }

    #[test]
    fn integers_are_plain_and_in_range() {
        assert_eq!(integer_of("0").unwrap(), 0);
        assert_eq!(integer_of(" 1767225300 ").unwrap(), 1_767_225_300);
        assert_eq!(integer_of("9007199254740992").unwrap(), MAX_INTEGER);
        for bad in [
            "9007199254740993",
            "18446744073709551616",
            "-1",
            "-0",
            "1.0",
            "1e3",
            "1E+3",
            "01",
            "+1",
            "1.",
            ".5",
            "1e",
            "\"1\"",
            "null",
            "",
        ] {
            assert!(integer_of(bad).is_err(), "{bad:?}");
        }
    }

    fn skip(json: &str) -> Result<(), EmbedError> {
        let mut r = JsonReader::new(json.as_bytes());
        r.skip_value()?;
        r.end()
    }

    #[test]
    fn any_value_is_skipped_strictly() {
        for good in [
            "true",
            "false",
            "null",
            "-0.5e-3",
            "1E400",
            "[]",
            "{}",
            " [ 1 , \"a\" , [ { } ] , { \"a\" : [ null ] } ] ",
            "{\"a\":{\"a\":1},\"b\":{\"a\":2}}",
        ] {
            assert!(skip(good).is_ok(), "{good:?}");
        }
        for bad in [
            "tru",
            "nul",
            "[1,]",
            "[,1]",
            "[1 2]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{a:1}",
            "{\"a\":1,\"a\":2}",
            "{\"x\":{\"a\":1,\"\\u0061\":2}}",
            "[",
            "{",
            "01",
            "-",
            "NaN",
            "Infinity",
            "\u{feff}{}",
            "{} {}",
        ] {
            assert!(skip(bad).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(skip(&deep).is_ok());
        let deeper = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(skip(&deeper).is_err());
        let many: Vec<String> = (0..500).map(|k| format!("\"k{k}\":{k}")).collect();
        assert!(skip(&format!("{{{}}}", many.join(","))).is_ok());
        assert!(skip(&format!("{{{},\"k250\":0}}", many.join(","))).is_err());
    }

    #[test]
    fn strings_are_written_as_python_json_dumps_writes_them() {
        let mut out = Vec::new();
        push_string(&mut out, "a\"\\/\u{8}\u{c}\n\r\t\u{1}\u{7f} é€😀~");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#""a\"\\/\b\f\n\r\t\u0001\u007f \u00e9\u20ac\ud83d\ude00~""#
        );
    }

    #[test]
    fn what_is_written_reads_back() {
        let samples = ["", "plain", "\u{0}\u{1f}\u{7f}\u{80}\u{ffff}\u{10ffff}\"\\"];
        for s in samples {
            let mut out = Vec::new();
            push_string(&mut out, s);
            assert_eq!(JsonReader::new(&out).string().unwrap(), s);
        }
    }
}
