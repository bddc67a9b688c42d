//! The JSON of EGJ1 tokens (RFC 8259), read strictly and written the way
//! common JWT libraries write it.
//!
//! Reading: a pull reader for what EGJ1 §1 needs (objects, strings with
//! every JSON escape, arrays of strings, integers in 0 ..= 2^53), which also
//! skips any other value correctly (ignored claims such as `iat`, or private
//! claims of any JSON type). It is strict where the spec is: a repeated
//! member name in any object, a lone surrogate escape, a raw control
//! character in a string, or anything after the value is [`BadJson`]; a
//! number with a fraction or exponent is no integer.
//!
//! Why not serde_json: it keeps the last of two repeated members without a
//! word, and it would weigh more than this whole file in the WebAssembly
//! package (docs/wasm.md). For the same package, every syntax error is the
//! one [`BadJson`]: which byte was wrong is of no use to a signer.

use crate::percent::escaped_byte;
use crate::query::CanonicalQuery;
use crate::reason::EmbedError;

/// How deeply arrays and objects may nest (an ignored claim may hold any
/// JSON value): bounds the reader's recursion on hostile input.
pub(crate) const MAX_DEPTH: usize = 64;

/// The largest integer EGJ1 reads (§1): 2^53, the last one every JSON
/// implementation represents exactly.
pub(crate) const MAX_INTEGER: u64 = 1 << 53;

/// Text that is not the JSON EGJ1 reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BadJson;

impl From<BadJson> for EmbedError {
    fn from(_: BadJson) -> Self {
        EmbedError::malformed(
            "the token is not JSON as EGJ1 reads it (RFC 8259; no repeated member, \
             integers without fraction or exponent, in 0..=2^53)",
        )
    }
}

/// A position in one JSON text.
#[derive(Debug)]
pub(crate) struct JsonReader<'j> {
    text: &'j [u8],
    at: usize,
}

/// The member names of one object, to refuse a repeated one when it
/// closes. Kept as the names of a canonical query, so that they are
/// sorted by the crate's one sort.
#[derive(Debug, Default)]
pub(crate) struct Members {
    names: CanonicalQuery,
    started: bool,
}

impl<'j> JsonReader<'j> {
    pub(crate) fn new(text: &'j [u8]) -> Self {
        JsonReader { text, at: 0 }
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

    /// Consumes `byte` if it comes next (after whitespace).
    fn eat(&mut self, byte: u8) -> bool {
        let next = self.peek() == Some(byte);
        self.at += usize::from(next);
        next
    }

    fn expect(&mut self, byte: u8) -> Result<(), BadJson> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(BadJson)
        }
    }

    /// The byte at the reader, consumed.
    fn next_byte(&mut self) -> Result<u8, BadJson> {
        let b = *self.text.get(self.at).ok_or(BadJson)?;
        self.at += 1;
        Ok(b)
    }

    /// The text holds nothing after the value but whitespace.
    pub(crate) fn end(mut self) -> Result<(), BadJson> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(BadJson),
        }
    }

    /// Opens an object (`{`); read its members with [`JsonReader::member`].
    pub(crate) fn object(&mut self) -> Result<Members, BadJson> {
        self.expect(b'{')?;
        Ok(Members::default())
    }

    /// The name of the object's next member, its `:` consumed (the caller
    /// then reads or skips the value), or `None` at the closing `}`, once
    /// no name was given twice ("a JSON object with a repeated member name
    /// is malformed", EGJ1 §1; names compared unescaped).
    pub(crate) fn member(&mut self, members: &mut Members) -> Result<Option<String>, BadJson> {
        if self.eat(b'}') {
            members.names.sort();
            let mut names = members.names.pairs().map(|(name, _)| name);
            let mut last = names.next();
            for name in names {
                if last == Some(name) {
                    return Err(BadJson);
                }
                last = Some(name);
            }
            return Ok(None);
        }
        if members.started {
            self.expect(b',')?;
        }
        members.started = true;
        let name = self.string()?;
        self.expect(b':')?;
        members.names.push_decoded(name.as_bytes(), b"");
        Ok(Some(name))
    }

    /// Opens an array (`[`); read its elements with [`JsonReader::element`].
    pub(crate) fn array(&mut self) -> Result<(), BadJson> {
        self.expect(b'[')
    }

    /// Whether another element follows (its `,` consumed); `false` at the
    /// closing `]`. `count` counts the elements read so far.
    pub(crate) fn element(&mut self, count: &mut usize) -> Result<bool, BadJson> {
        if self.eat(b']') {
            return Ok(false);
        }
        if *count > 0 {
            self.expect(b',')?;
        }
        *count += 1;
        Ok(true)
    }

    /// A string value, unescaped. Every escape of RFC 8259 §7 is read,
    /// `\uXXXX` pairs as one character; a lone surrogate, a raw control
    /// character (below 0x20) or bytes that are not UTF-8 are [`BadJson`].
    pub(crate) fn string(&mut self) -> Result<String, BadJson> {
        self.expect(b'"')?;
        // Room for the rest of the text: the string is never longer, and
        // it is short-lived (read, checked, copied).
        let mut out = Vec::with_capacity(self.text.len() - self.at);
        loop {
            match self.next_byte()? {
                b'"' => return String::from_utf8(out).map_err(|_| BadJson),
                b'\\' => {
                    let byte = match self.next_byte()? {
                        b'u' => {
                            let c = self.unicode_escape()?;
                            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                            continue;
                        }
                        b'b' => 0x08,
                        b'f' => 0x0C,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b @ (b'"' | b'\\' | b'/') => b,
                        _ => return Err(BadJson),
                    };
                    out.push(byte);
                }
                0..=0x1F => return Err(BadJson),
                b => out.push(b),
            }
        }
    }

    /// The character of `\uXXXX` (its `\u` consumed), or of a surrogate
    /// pair `\uD8XX\uDCXX`; a lone surrogate is no character.
    fn unicode_escape(&mut self) -> Result<char, BadJson> {
        let unit = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&unit) {
            if self.next_byte()? != b'\\' || self.next_byte()? != b'u' {
                return Err(BadJson);
            }
            let low = self.hex4()?;
            if !(0xDC00..0xE000).contains(&low) {
                return Err(BadJson);
            }
            0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
        } else {
            unit
        };
        // Also refuses a lone low surrogate.
        char::from_u32(code).ok_or(BadJson)
    }

    /// Four hex digits, either case (read as two `%XY` escapes would be).
    fn hex4(&mut self) -> Result<u32, BadJson> {
        let hi = escaped_byte(self.text, self.at - 1).ok_or(BadJson)?;
        let lo = escaped_byte(self.text, self.at + 1).ok_or(BadJson)?;
        self.at += 4;
        Ok(u32::from(hi) << 8 | u32::from(lo))
    }

    /// An integer in 0 ..= 2^53: a JSON number without sign, fraction or
    /// exponent (EGJ1 §1).
    pub(crate) fn integer(&mut self) -> Result<u64, BadJson> {
        match self.number()? {
            n if n <= MAX_INTEGER => Ok(n),
            _ => Err(BadJson),
        }
    }

    /// Any JSON number (`-? int frac? exp?`, RFC 8259 §6); its value when
    /// it is an integer written without sign, fraction or exponent, else
    /// `u64::MAX` (as for integers beyond `u64`).
    fn number(&mut self) -> Result<u64, BadJson> {
        let negative = self.eat(b'-');
        let int_start = self.at;
        let value = self.digits();
        let int = &self.text[int_start..self.at];
        // At least one digit, and no leading zero.
        if int.is_empty() || (int.len() > 1 && int[0] == b'0') {
            return Err(BadJson);
        }
        let mut plain = !negative;
        // A fraction (`.` digits), then an exponent (`e` or `E`, a sign, digits).
        let parts: [(&[u8], &[u8]); 2] = [(b".", b""), (b"eE", b"+-")];
        for (mark, signs) in parts {
            if self.text.get(self.at).is_some_and(|b| mark.contains(b)) {
                self.at += 1;
                if self.text.get(self.at).is_some_and(|b| signs.contains(b)) {
                    self.at += 1;
                }
                let start = self.at;
                self.digits();
                if self.at == start {
                    return Err(BadJson);
                }
                plain = false;
            }
        }
        Ok(if plain { value } else { u64::MAX })
    }

    /// Consumes ASCII digits; returns their value (`u64::MAX` beyond it).
    fn digits(&mut self) -> u64 {
        let mut value = 0u64;
        while let Some(&d) = self.text.get(self.at).filter(|d| d.is_ascii_digit()) {
            value = value.saturating_mul(10).saturating_add(u64::from(d - b'0'));
            self.at += 1;
        }
        value
    }

    /// Reads any one value and drops it, with the same strictness, nested
    /// at most [`MAX_DEPTH`] deep (`depth` is the current nesting).
    pub(crate) fn skip_value(&mut self, depth: usize) -> Result<(), BadJson> {
        let open = self.peek();
        if matches!(open, Some(b'{' | b'[')) && depth == MAX_DEPTH {
            return Err(BadJson);
        }
        match open {
            Some(b'{') => {
                let mut members = self.object()?;
                while self.member(&mut members)?.is_some() {
                    self.skip_value(depth + 1)?;
                }
            }
            Some(b'[') => {
                self.array()?;
                let mut count = 0;
                while self.element(&mut count)? {
                    self.skip_value(depth + 1)?;
                }
            }
            Some(b'"') => {
                self.string()?;
            }
            Some(b't') => self.literal(b"true")?,
            Some(b'f') => self.literal(b"false")?,
            Some(b'n') => self.literal(b"null")?,
            _ => {
                self.number()?;
            }
        }
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), BadJson> {
        if self.text[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(BadJson)
        }
    }
}

/// Appends `text` as a JSON string, as Python's `json.dumps` (and so PyJWT)
/// writes it: `"` and `\` escaped, `\b \f \n \r \t` for those controls,
/// every other character outside printable ASCII as `\u00XX` or, beyond
/// ASCII, as `\uXXXX` UTF-16 units, lower-case hex.
pub(crate) fn push_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    for c in text.chars() {
        let short = match c {
            '"' => b'"',
            '\\' => b'\\',
            '\u{8}' => b'b',
            '\u{C}' => b'f',
            '\n' => b'n',
            '\r' => b'r',
            '\t' => b't',
            ' '..='~' => {
                out.push(c as u8);
                continue;
            }
            _ => {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    out.extend_from_slice(b"\\u");
                    for shift in [12, 8, 4, 0] {
                        out.push(b"0123456789abcdef"[usize::from(*unit >> shift & 0xF)]);
                    }
                }
                continue;
            }
        };
        out.extend_from_slice(&[b'\\', short]);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string_of(json: &str) -> Result<String, BadJson> {
        let mut r = JsonReader::new(json.as_bytes());
        let s = r.string()?;
        r.end()?;
        Ok(s)
    }

    #[test]
    fn strings_with_every_escape() {
        assert_eq!(
            string_of(r#" "a\"\\\/\b\f\n\r\t\u0041\u00e9\u20AC\ud83d\ude00" "#),
            Ok("a\"\\/\u{8}\u{c}\n\r\tAé€😀".to_owned())
        );
        assert_eq!(string_of("\"é\u{7f}\""), Ok("é\u{7f}".to_owned()));
        for bad in [
            r#""\ud83d""#,
            r#""\ude00""#,
            r#""\ud83d\u0041""#,
            r#""\ud83dx""#,
            r#""\ud83d\x""#,
            r#""\u00""#,
            r#""\u00g0""#,
            r#""\u+0a0""#,
            r#""\x""#,
            "\"a\nb\"",
            "\"a",
            "\"a\\",
            "'a'",
            "\"a\" x",
        ] {
            assert_eq!(string_of(bad), Err(BadJson), "{bad:?}");
        }
        assert!(JsonReader::new(b"\"\xff\"").string().is_err());
    }

    fn integer_of(json: &str) -> Result<u64, BadJson> {
        let mut r = JsonReader::new(json.as_bytes());
        let n = r.integer()?;
        r.end()?;
        Ok(n)
    }

    #[test]
    fn integers_are_plain_and_in_range() {
        assert_eq!(integer_of("0"), Ok(0));
        assert_eq!(integer_of(" 1767225300 "), Ok(1_767_225_300));
        assert_eq!(integer_of("9007199254740992"), Ok(MAX_INTEGER));
        for bad in [
            "9007199254740993",
            "18446744073709551615",
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
            "1e+",
            "1.e3",
            "\"1\"",
            "null",
            "",
        ] {
            assert_eq!(integer_of(bad), Err(BadJson), "{bad:?}");
        }
    }

    fn skip(json: &str) -> Result<(), BadJson> {
        let mut r = JsonReader::new(json.as_bytes());
        r.skip_value(0)?;
        r.end()
    }

    #[test]
    fn any_value_is_skipped_strictly() {
        for good in [
            "true",
            "false",
            "null",
            "-0.5e-3",
            "-0",
            "1E400",
            "[]",
            "{}",
            " [ 1 , \"a\" , [ { } ] , { \"a\" : [ null ] } ] ",
            "{\"a\":{\"a\":1},\"b\":{\"a\":2}}",
        ] {
            assert_eq!(skip(good), Ok(()), "{good:?}");
        }
        for bad in [
            "tru",
            "nul",
            "[1,]",
            "[,1]",
            "[1 2]",
            "{\"a\":1,}",
            "{,\"a\":1}",
            "{\"a\" 1}",
            "{a:1}",
            "{\"a\":1,\"a\":2}",
            "{\"x\":{\"a\":1,\"\\u0061\":2}}",
            "[",
            "{",
            "01",
            "-",
            "--1",
            "NaN",
            "Infinity",
            "\u{feff}{}",
            "{} {}",
            "",
        ] {
            assert_eq!(skip(bad), Err(BadJson), "{bad:?}");
        }
        let nested = |n| "[".repeat(n) + &"]".repeat(n);
        assert_eq!(skip(&nested(MAX_DEPTH)), Ok(()));
        assert_eq!(skip(&nested(MAX_DEPTH + 1)), Err(BadJson));
        let many: Vec<String> = (0..500).map(|k| format!("\"k{k}\":{k}")).collect();
        assert_eq!(skip(&format!("{{{}}}", many.join(","))), Ok(()));
        assert_eq!(
            skip(&format!("{{{},\"k250\":0}}", many.join(","))),
            Err(BadJson)
        );
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
            assert_eq!(JsonReader::new(&out).string(), Ok(s.to_owned()));
        }
    }
}
