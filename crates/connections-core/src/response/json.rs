//! A small validating JSON reader: the single pass every decoder in this crate is built on.
//!
//! It pulls tokens in document order and never allocates. It accepts exactly RFC 8259 JSON
//! (UTF-8, escapes, number grammar), bounds nesting like `serde_json` does (127 levels), and
//! reports every failure with the byte offset where it was found.

use super::decode_error::{DecodeError, ErrorKind, Expected};

/// Deepest nesting accepted, the same limit `serde_json` applies.
pub(crate) const MAX_DEPTH: u32 = 127;

/// A string as it appears in the body, already validated; `raw` excludes the quotes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawStr<'a> {
    pub(crate) raw: &'a str,
    /// Whether `raw` holds any `\` escape, that is whether it differs from its value.
    pub(crate) escaped: bool,
}

impl<'a> RawStr<'a> {
    /// The value when it needs no unescaping.
    pub(crate) fn plain(&self) -> Option<&'a str> {
        (!self.escaped).then_some(self.raw)
    }

    /// The unescaped value, piece by piece.
    pub(crate) fn chunks(&self) -> Unescape<'a> {
        Unescape { rest: self.raw }
    }

    /// Length in bytes of the unescaped value.
    pub(crate) fn unescaped_len(&self) -> usize {
        if !self.escaped {
            return self.raw.len();
        }
        self.chunks().map(|c| c.as_str(&mut [0; 4]).len()).sum()
    }

    /// Whether the unescaped value equals `expected`, without allocating.
    pub(crate) fn eq_str(&self, expected: &str) -> bool {
        if !self.escaped {
            return self.raw == expected;
        }
        let mut rest = expected.as_bytes();
        for chunk in self.chunks() {
            let mut buf = [0; 4];
            let piece = chunk.as_str(&mut buf).as_bytes();
            match rest.strip_prefix(piece) {
                Some(tail) => rest = tail,
                None => return false,
            }
        }
        rest.is_empty()
    }
}

/// An object key as it appears in the body, already validated; `bytes` excludes the quotes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawKey<'a> {
    bytes: &'a [u8],
    /// Whether `bytes` holds any `\` escape.
    escaped: bool,
}

impl RawKey<'_> {
    /// Whether the key's value is `name`.
    #[inline]
    pub(crate) fn is(&self, name: &str) -> bool {
        if !self.escaped {
            return self.bytes == name.as_bytes();
        }
        // Rare: a key spelled with escapes. Keys lie inside the validated body, so they are
        // UTF-8.
        core::str::from_utf8(self.bytes).is_ok_and(|raw| RawStr { raw, escaped: true }.eq_str(name))
    }
}

/// An object key the decoder knows, packed for [`Reader::known_key`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Known {
    /// The key.
    pub(crate) name: &'static str,
    /// The key and its closing quote, as a little-endian `u128`.
    quoted: u128,
    /// Which bytes of `quoted` to compare; 0 for a key too long for sixteen bytes, which is
    /// never matched this way.
    mask: u128,
}

impl Known {
    const fn new(name: &'static str) -> Self {
        let bytes = name.as_bytes();
        let (mut quoted, mut mask) = (0, 0);
        if bytes.len() < 16 {
            let mut i = 0;
            while i <= bytes.len() {
                let byte = if i < bytes.len() { bytes[i] } else { b'"' };
                quoted |= (byte as u128) << (8 * i);
                mask |= 0xFF << (8 * i);
                i += 1;
            }
        }
        Known { name, quoted, mask }
    }
}

/// The keys of an object, packed at compile time: `const { &known(["id", "type"]) }`.
pub(crate) const fn known<const N: usize>(names: [&'static str; N]) -> [Known; N] {
    let mut keys = [Known::new(""); N];
    let mut i = 0;
    while i < N {
        keys[i] = Known::new(names[i]);
        i += 1;
    }
    keys
}

/// One piece of an unescaped string: a run of plain text or one escaped character.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Chunk<'a> {
    Text(&'a str),
    Char(char),
}

impl<'a> Chunk<'a> {
    /// The piece as text, encoding an escaped character into `buf`.
    pub(crate) fn as_str<'b>(self, buf: &'b mut [u8; 4]) -> &'b str
    where
        'a: 'b,
    {
        match self {
            Chunk::Text(s) => s,
            Chunk::Char(c) => c.encode_utf8(buf),
        }
    }
}

/// Iterator over the unescaped pieces of a validated string.
pub(crate) struct Unescape<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Unescape<'a> {
    type Item = Chunk<'a>;

    fn next(&mut self) -> Option<Chunk<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        // A plain loop: the runs between escapes are short, too short for `memchr`'s setup.
        match self.rest.bytes().position(|b| b == b'\\') {
            Some(0) => {
                let (c, len) = decode_escape(self.rest.as_bytes());
                self.rest = self.rest.get(len..).unwrap_or("");
                Some(Chunk::Char(c))
            }
            Some(i) => {
                let (text, rest) = self.rest.split_at(i);
                self.rest = rest;
                Some(Chunk::Text(text))
            }
            None => Some(Chunk::Text(core::mem::take(&mut self.rest))),
        }
    }
}

/// Decodes the escape at the start of `s` (validated already) into a char and its length.
pub(crate) fn decode_escape(s: &[u8]) -> (char, usize) {
    let simple = match s.get(1) {
        Some(b'"') => '"',
        Some(b'\\') => '\\',
        Some(b'/') => '/',
        Some(b'b') => '\u{8}',
        Some(b'f') => '\u{c}',
        Some(b'n') => '\n',
        Some(b'r') => '\r',
        Some(b't') => '\t',
        _ => {
            let hi = hex4(s.get(2..6)).unwrap_or(0xFFFD);
            if (0xD800..0xDC00).contains(&hi) {
                let lo = hex4(s.get(8..12)).unwrap_or(0);
                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF);
                return (char::from_u32(c).unwrap_or('\u{FFFD}'), 12);
            }
            return (char::from_u32(hi).unwrap_or('\u{FFFD}'), 6);
        }
    };
    (simple, 2)
}

/// The value of four hex digits.
fn hex4(digits: Option<&[u8]>) -> Option<u32> {
    digits?.iter().try_fold(0u32, |acc, &d| {
        let v = char::from(d).to_digit(16)?;
        Some(acc << 4 | v)
    })
}

/// Whether a byte ends a run of plain string text: a quote, a backslash or a control byte.
static STRING_STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = true;
        i += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Where the first byte that ends plain string text sits in eight bytes read little-endian,
/// if any: eight bytes per step instead of one, with no `unsafe` and no target features.
///
/// Each test sets the high bit of every byte that matches, and of no byte below the first
/// match (a borrow only runs upwards), so the lowest set bit is exact.
#[inline]
fn string_stop(word: u64) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v;
    let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word;
    let found = (quote | backslash | control) & HIGH;
    (found != 0).then_some(found.trailing_zeros() as usize / 8)
}

/// A cursor over one JSON document.
pub(crate) struct Reader<'a> {
    text: &'a str,
    pos: usize,
    depth: u32,
}

impl<'a> Reader<'a> {
    /// Starts reading `body`, which must be UTF-8 as RFC 8259 requires.
    pub(crate) fn new(body: &'a [u8]) -> Result<Self, DecodeError> {
        match core::str::from_utf8(body) {
            Ok(text) => Ok(Reader {
                text,
                pos: 0,
                depth: 0,
            }),
            Err(e) => Err(DecodeError::new(ErrorKind::InvalidUtf8, e.valid_up_to())),
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The length of the body in bytes.
    pub(crate) fn len(&self) -> usize {
        self.text.len()
    }

    /// The current offset in the body.
    #[inline]
    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    /// An error at the current offset; cold, so the happy path stays compact.
    #[cold]
    pub(crate) fn error(&self, kind: ErrorKind) -> DecodeError {
        DecodeError::new(kind, self.pos)
    }

    /// The error for an unexpected `byte` (`None` at the end of the body).
    #[cold]
    fn unexpected(&self, byte: Option<u8>, expected: Expected) -> DecodeError {
        match byte {
            None => self.error(ErrorKind::UnexpectedEnd),
            Some(_) => self.error(ErrorKind::Syntax(expected)),
        }
    }

    /// The next significant byte, after whitespace, without consuming it.
    #[inline]
    pub(crate) fn peek(&mut self) -> Option<u8> {
        // Compact JSON has no whitespace between tokens: one compare settles it.
        let b = *self.bytes().get(self.pos)?;
        if b > b' ' {
            return Some(b);
        }
        self.skip_whitespace()
    }

    /// [`Self::peek`] for when there is whitespace (or a control byte) to look at.
    fn skip_whitespace(&mut self) -> Option<u8> {
        while let Some(&b) = self.bytes().get(self.pos) {
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(b);
            }
            self.pos += 1;
        }
        None
    }

    #[inline]
    fn eat(&mut self, byte: u8, expected: Expected) -> Result<(), DecodeError> {
        match self.peek() {
            Some(b) if b == byte => {
                self.pos += 1;
                Ok(())
            }
            other => Err(self.unexpected(other, expected)),
        }
    }

    /// A type error for `field` at the current value.
    #[cold]
    pub(crate) fn wrong_type(&mut self, field: &'static str, expected: Expected) -> DecodeError {
        self.peek();
        self.error(ErrorKind::InvalidType { field, expected })
    }

    #[inline]
    fn enter(&mut self) -> Result<(), DecodeError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(ErrorKind::TooDeep));
        }
        self.depth += 1;
        self.pos += 1;
        Ok(())
    }

    /// Consumes `null` if it is the next value.
    #[inline]
    pub(crate) fn null(&mut self) -> Result<bool, DecodeError> {
        if self.peek() != Some(b'n') {
            return Ok(false);
        }
        self.literal("null")?;
        Ok(true)
    }

    fn literal(&mut self, word: &str) -> Result<(), DecodeError> {
        let end = self.pos + word.len();
        if self.bytes().get(self.pos..end) == Some(word.as_bytes()) {
            self.pos = end;
            Ok(())
        } else {
            Err(self.error(ErrorKind::Syntax(Expected::Value)))
        }
    }

    /// Opens an object that holds `field`'s value.
    #[inline]
    pub(crate) fn begin_object(&mut self, field: &'static str) -> Result<Object, DecodeError> {
        match self.peek() {
            Some(b'{') => self.enter().map(|()| Object { first: true }),
            None => Err(self.error(ErrorKind::UnexpectedEnd)),
            Some(_) => Err(self.wrong_type(field, Expected::Object)),
        }
    }

    /// The next key of an open object, or `None` after its closing brace.
    pub(crate) fn next_key(&mut self, obj: &mut Object) -> Result<Option<RawKey<'a>>, DecodeError> {
        match self.has_key(obj)? {
            true => self.key().map(Some),
            false => Ok(None),
        }
    }

    /// Whether the open object has another key, positioned at its opening quote; `false`
    /// after the closing brace.
    #[inline]
    pub(crate) fn has_key(&mut self, obj: &mut Object) -> Result<bool, DecodeError> {
        let mut next = self.peek();
        match next {
            Some(b'}') => {
                self.pos += 1;
                self.depth -= 1;
                return Ok(false);
            }
            Some(b',') if !obj.first => {
                self.pos += 1;
                next = self.peek();
            }
            Some(_) if !obj.first => return Err(self.unexpected(next, Expected::CommaOrEnd)),
            _ => {}
        }
        obj.first = false;
        if next != Some(b'"') {
            return Err(self.unexpected(next, Expected::Key));
        }
        Ok(true)
    }

    /// The key at the current quote, and the colon after it.
    #[inline]
    pub(crate) fn key(&mut self) -> Result<RawKey<'a>, DecodeError> {
        let key = self.key_token()?;
        self.eat(b':', Expected::Colon)?;
        Ok(key)
    }

    /// Consumes the key at the current quote and the colon after it if it is `known`, spelled
    /// without escapes: one compare of sixteen bytes instead of a scan and a lookup.
    #[inline]
    pub(crate) fn known_key(&mut self, known: &Known) -> Result<bool, DecodeError> {
        let text = self.bytes().get(self.pos + 1..);
        let Some(text) = text.and_then(<[u8]>::first_chunk::<16>) else {
            return Ok(false);
        };
        if known.mask == 0 || (u128::from_le_bytes(*text) ^ known.quoted) & known.mask != 0 {
            return Ok(false);
        }
        self.pos += known.name.len() + 2;
        self.eat(b':', Expected::Colon)?;
        Ok(true)
    }

    /// Opens an array that holds `field`'s value.
    #[inline]
    pub(crate) fn begin_array(&mut self, field: &'static str) -> Result<Array, DecodeError> {
        match self.peek() {
            Some(b'[') => self.enter().map(|()| Array { first: true }),
            None => Err(self.error(ErrorKind::UnexpectedEnd)),
            Some(_) => Err(self.wrong_type(field, Expected::Array)),
        }
    }

    /// Whether the open array has another element (positioned at it), or `false` after `]`.
    #[inline]
    pub(crate) fn next_element(&mut self, arr: &mut Array) -> Result<bool, DecodeError> {
        let next = self.peek();
        match next {
            Some(b']') => {
                self.pos += 1;
                self.depth -= 1;
                return Ok(false);
            }
            Some(b',') if !arr.first => self.pos += 1,
            None => return Err(self.error(ErrorKind::UnexpectedEnd)),
            Some(_) if !arr.first => return Err(self.unexpected(next, Expected::CommaOrEnd)),
            Some(_) => {}
        }
        arr.first = false;
        Ok(true)
    }

    /// A string value for `field`.
    #[inline]
    pub(crate) fn string(&mut self, field: &'static str) -> Result<RawStr<'a>, DecodeError> {
        match self.peek() {
            Some(b'"') => self.string_token(),
            None => Err(self.error(ErrorKind::UnexpectedEnd)),
            Some(_) => Err(self.wrong_type(field, Expected::String)),
        }
    }

    /// The offset of the first quote, backslash or control byte at or after `i`, or the
    /// body's length if there is none.
    #[inline]
    fn plain_run_end(&self, mut i: usize) -> usize {
        let bytes = self.bytes();
        while let Some(word) = bytes.get(i..).and_then(<[u8]>::first_chunk::<8>) {
            match string_stop(u64::from_le_bytes(*word)) {
                Some(at) => return i + at,
                None => i += 8,
            }
        }
        while bytes.get(i).is_some_and(|&b| !STRING_STOP[usize::from(b)]) {
            i += 1;
        }
        i
    }

    /// Scans the string starting at the current quote, validating escapes.
    #[inline]
    fn string_token(&mut self) -> Result<RawStr<'a>, DecodeError> {
        let offset = self.pos;
        let (end, escaped) = self.scan_string()?;
        let raw = self.text.get(offset + 1..end).unwrap_or("");
        Ok(RawStr { raw, escaped })
    }

    /// Scans a key: like [`Self::string_token`], but kept as bytes, since known keys are
    /// matched as bytes and need no `&str`.
    #[inline]
    fn key_token(&mut self) -> Result<RawKey<'a>, DecodeError> {
        let start = self.pos + 1;
        let (end, escaped) = self.scan_string()?;
        let bytes = self.bytes().get(start..end).unwrap_or_default();
        Ok(RawKey { bytes, escaped })
    }

    /// Moves past the string starting at the current quote, validating escapes; returns the
    /// offset of its closing quote and whether it held escapes.
    #[inline]
    fn scan_string(&mut self) -> Result<(usize, bool), DecodeError> {
        let bytes = self.bytes();
        let mut i = self.pos + 1;
        let mut escaped = false;
        loop {
            i = self.plain_run_end(i);
            match bytes.get(i) {
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    i = self.escape(i)?;
                }
                Some(_) => return Err(DecodeError::new(ErrorKind::ControlCharacter, i)),
                None => return Err(DecodeError::new(ErrorKind::UnexpectedEnd, i)),
            }
        }
        self.pos = i + 1;
        Ok((i, escaped))
    }

    /// Validates the escape at `i` and returns the offset just after it.
    fn escape(&self, i: usize) -> Result<usize, DecodeError> {
        let bytes = self.bytes();
        let invalid = |at| Err(DecodeError::new(ErrorKind::InvalidEscape, at));
        match bytes.get(i + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 2),
            Some(b'u') => {
                let Some(hi) = hex4(bytes.get(i + 2..i + 6)) else {
                    return invalid(i);
                };
                match hi {
                    0xD800..=0xDBFF => {
                        let low = (bytes.get(i + 6..i + 8) == Some(b"\\u"))
                            .then(|| hex4(bytes.get(i + 8..i + 12)))
                            .flatten();
                        match low {
                            Some(0xDC00..=0xDFFF) => Ok(i + 12),
                            _ => Err(DecodeError::new(ErrorKind::LoneSurrogate, i)),
                        }
                    }
                    0xDC00..=0xDFFF => Err(DecodeError::new(ErrorKind::LoneSurrogate, i)),
                    _ => Ok(i + 6),
                }
            }
            None => Err(DecodeError::new(ErrorKind::UnexpectedEnd, i + 1)),
            Some(_) => invalid(i),
        }
    }

    /// An integer value for `field`: any `i64`; fractions, exponents and overflow are errors.
    pub(crate) fn integer(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => {}
            None => return Err(self.error(ErrorKind::UnexpectedEnd)),
            Some(_) => return Err(self.wrong_type(field, Expected::Integer)),
        }
        let start = self.pos;
        let (negative, digits) = self.number_token()?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DecodeError::new(
                ErrorKind::InvalidType {
                    field,
                    expected: Expected::Integer,
                },
                start,
            ));
        }
        // Accumulate towards the sign so that i64::MIN fits.
        let value = digits.bytes().try_fold(0i64, |acc, d| {
            let d = i64::from(d - b'0');
            acc.checked_mul(10).and_then(|v| {
                if negative {
                    v.checked_sub(d)
                } else {
                    v.checked_add(d)
                }
            })
        });
        value.ok_or(DecodeError::new(
            ErrorKind::IntegerOutOfRange { field },
            start,
        ))
    }

    /// The raw text of a number or string value, for fields that accept either (error `status`).
    pub(crate) fn scalar_text(&mut self, field: &'static str) -> Result<RawStr<'a>, DecodeError> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => {
                let offset = self.pos;
                self.number_token()?;
                let raw = self.text.get(offset..self.pos).unwrap_or("");
                Ok(RawStr {
                    raw,
                    escaped: false,
                })
            }
            _ => self.string(field),
        }
    }

    /// Scans a number per the JSON grammar; returns its sign and the text after the sign.
    fn number_token(&mut self) -> Result<(bool, &'a str), DecodeError> {
        let bytes = self.bytes();
        let negative = bytes.get(self.pos) == Some(&b'-');
        if negative {
            self.pos += 1;
        }
        let start = self.pos;
        let digits = |i: &mut usize| {
            let from = *i;
            while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > from
        };
        let mut i = self.pos;
        let invalid = |at| Err(DecodeError::new(ErrorKind::InvalidNumber, at));
        match bytes.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                digits(&mut i);
            }
            _ => return invalid(i),
        }
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                return invalid(i);
            }
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !digits(&mut i) {
                return invalid(i);
            }
        }
        self.pos = i;
        Ok((negative, self.text.get(start..i).unwrap_or("")))
    }

    /// Skips one value of any type, validating it.
    pub(crate) fn skip_value(&mut self) -> Result<(), DecodeError> {
        match self.peek() {
            Some(b'{') => {
                let mut obj = self.begin_object("")?;
                while self.next_key(&mut obj)?.is_some() {
                    self.skip_value()?;
                }
                Ok(())
            }
            Some(b'[') => {
                let mut arr = self.begin_array("")?;
                while self.next_element(&mut arr)? {
                    self.skip_value()?;
                }
                Ok(())
            }
            Some(b'"') => self.scan_string().map(drop),
            Some(b'-' | b'0'..=b'9') => self.number_token().map(drop),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(_) => Err(self.error(ErrorKind::Syntax(Expected::Value))),
            None => Err(self.error(ErrorKind::UnexpectedEnd)),
        }
    }

    /// Checks that only whitespace follows the document.
    pub(crate) fn finish(&mut self) -> Result<(), DecodeError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error(ErrorKind::TrailingCharacters)),
        }
    }
}

/// An object being read; see [`Reader::next_key`].
pub(crate) struct Object {
    first: bool,
}

/// An array being read; see [`Reader::next_element`].
pub(crate) struct Array {
    first: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_string(json: &str) -> Result<RawStr<'_>, DecodeError> {
        Reader::new(json.as_bytes())?.string("s")
    }

    fn unescape(raw: RawStr<'_>) -> heapless::String<64> {
        let mut out = heapless::String::new();
        for c in raw.chunks() {
            out.push_str(c.as_str(&mut [0; 4])).ok();
        }
        out
    }

    #[test]
    fn strings_unescape_every_escape_form() {
        let raw = read_string(r#""a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude97""#).unwrap();
        assert!(raw.escaped);
        let value = unescape(raw);
        assert_eq!(value, "a\"b\\c/d\u{8}\u{c}\n\r\té🚗");
        assert_eq!(raw.unescaped_len(), value.len());
        assert!(raw.eq_str("a\"b\\c/d\u{8}\u{c}\n\r\té🚗"));
        assert!(!raw.eq_str("a\"b"));
    }

    #[test]
    fn string_stop_finds_the_first_stop_byte_of_any_word() {
        let is_stop = |b: u8| b == b'"' || b == b'\\' || b < 0x20;
        // Every byte value at every position, behind plain bytes and in front of stop bytes
        // (which a borrow could misreport, were the lowest match not exact).
        for at in 0..8 {
            for b in 0..=255u8 {
                for filler in [b'a', 0xC3, 0xFF, 0x20, 0x7F] {
                    for after in [filler, b'"', b'\\', 0x00, 0x1F] {
                        let mut word = [filler; 8];
                        word[at] = b;
                        word[at + 1..].fill(after);
                        let expected = word.iter().position(|&b| is_stop(b));
                        assert_eq!(string_stop(u64::from_le_bytes(word)), expected, "{word:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn long_strings_end_at_their_first_stop_byte() {
        let mut text = heapless::String::<64>::new();
        for i in 0..40 {
            text.push(if i % 3 == 0 { 'é' } else { 'x' }).unwrap();
            let mut json = heapless::String::<72>::new();
            json.push_str("\"").unwrap();
            json.push_str(&text).unwrap();
            json.push_str("\"").unwrap();
            assert_eq!(read_string(&json).unwrap().plain(), Some(text.as_str()));
            json.insert(json.len() - 1, '\u{1}').unwrap();
            let err = read_string(&json).unwrap_err();
            assert_eq!(
                (err.kind, err.offset),
                (ErrorKind::ControlCharacter, 1 + text.len())
            );
        }
    }

    #[test]
    fn keys_spelled_with_escapes_match_their_value() {
        let mut r = Reader::new(br#"{"\u0069d":1,"t\"":2}"#).unwrap();
        let mut obj = r.begin_object("o").unwrap();
        let key = r.next_key(&mut obj).unwrap().unwrap();
        assert!(key.is("id") && !key.is("i") && !key.is("idx"));
        r.skip_value().unwrap();
        assert!(r.next_key(&mut obj).unwrap().unwrap().is("t\""));
    }

    #[test]
    fn known_keys_match_only_their_exact_spelling() {
        let [id, links, long] = known(["id", "links", "suggestedUserMessage"]);
        let known_at = |json: &str, key: &Known| {
            let mut r = Reader::new(json.as_bytes()).unwrap();
            let mut obj = r.begin_object("o").unwrap();
            assert!(r.has_key(&mut obj).unwrap());
            let matched = r.known_key(key);
            (matched, r.offset())
        };
        let padding = r#","padding":"sixteen bytes and more"}"#;
        let with = |head: &str| [head, padding].concat();
        assert_eq!(known_at(&with(r#"{"id":1"#), &id), (Ok(true), 6));
        assert_eq!(known_at(&with(r#"{"id" :1"#), &id), (Ok(true), 7));
        assert_eq!(known_at(&with(r#"{"links":1"#), &links), (Ok(true), 9));
        // Not matched (and not consumed): a longer or shorter key, another key, an escape.
        for head in [
            r#"{"idx":1"#,
            r#"{"i":1"#,
            r#"{"type":1"#,
            r#"{"\u0069d":1"#,
        ] {
            assert_eq!(known_at(&with(head), &id), (Ok(false), 1), "{head}");
        }
        // Near the end of the body there are not sixteen bytes to compare: scanned instead.
        assert_eq!(known_at(r#"{"id":1}"#, &id), (Ok(false), 1));
        // Too long to pack: always scanned.
        let body = with(r#"{"suggestedUserMessage":1"#);
        assert_eq!(known_at(&body, &long), (Ok(false), 1));
        // A known key without its colon is a syntax error.
        let (err, _) = known_at(&with(r#"{"id"1"#), &id);
        assert_eq!(err.unwrap_err().kind, ErrorKind::Syntax(Expected::Colon));
    }

    #[test]
    fn plain_strings_are_borrowed_as_is() {
        let raw = read_string(r#""Model S""#).unwrap();
        assert_eq!(raw.plain(), Some("Model S"));
        assert!(raw.eq_str("Model S"));
    }

    #[test]
    fn bad_strings_are_rejected_with_their_offset() {
        let err = |json| read_string(json).unwrap_err();
        assert_eq!(err("\"ab\\x\"").kind, ErrorKind::InvalidEscape);
        assert_eq!(err("\"ab\\x\"").offset, 3);
        assert_eq!(err("\"\\u12g4\"").kind, ErrorKind::InvalidEscape);
        assert_eq!(err("\"\\ud83d\"").kind, ErrorKind::LoneSurrogate);
        assert_eq!(err("\"\\ud83d\\u0041\"").kind, ErrorKind::LoneSurrogate);
        assert_eq!(err("\"\\ude97\"").kind, ErrorKind::LoneSurrogate);
        assert_eq!(err("\"a\nb\"").kind, ErrorKind::ControlCharacter);
        assert_eq!(err("\"a\nb\"").offset, 2);
        assert_eq!(err("\"abc").kind, ErrorKind::UnexpectedEnd);
        assert_eq!(err("\"abc\\").kind, ErrorKind::UnexpectedEnd);
    }

    #[test]
    fn invalid_utf8_is_reported_where_it_starts() {
        let Err(err) = Reader::new(b"{\"a\": \"\xff\"}") else {
            panic!("invalid UTF-8 accepted");
        };
        assert_eq!((err.kind, err.offset), (ErrorKind::InvalidUtf8, 7));
    }

    #[test]
    fn integers_cover_the_whole_i64_range() {
        let int = |json: &str| Reader::new(json.as_bytes()).unwrap().integer("n");
        assert_eq!(int("0").unwrap(), 0);
        assert_eq!(int("-0").unwrap(), 0);
        assert_eq!(int("9223372036854775807").unwrap(), i64::MAX);
        assert_eq!(int("-9223372036854775808").unwrap(), i64::MIN);
        let kind = |json| int(json).unwrap_err().kind;
        assert_eq!(
            kind("9223372036854775808"),
            ErrorKind::IntegerOutOfRange { field: "n" }
        );
        let not_int = ErrorKind::InvalidType {
            field: "n",
            expected: Expected::Integer,
        };
        assert_eq!(kind("1.5"), not_int);
        assert_eq!(kind("1e3"), not_int);
        assert_eq!(kind("\"1\""), not_int);
        assert_eq!(kind("-"), ErrorKind::InvalidNumber);
        assert_eq!(kind("1."), ErrorKind::InvalidNumber);
    }

    #[test]
    fn leading_zeros_leave_junk_for_finish() {
        let mut r = Reader::new(b"01").unwrap();
        assert_eq!(r.integer("n").unwrap(), 0);
        assert_eq!(r.finish().unwrap_err().kind, ErrorKind::TrailingCharacters);
    }

    #[test]
    fn skipping_validates_and_bounds_depth() {
        let skip = |json: &str| {
            let mut r = Reader::new(json.as_bytes())?;
            r.skip_value()?;
            r.finish()
        };
        assert!(skip(r#"{"a":[1,-2.5e+3,true,false,null,{"b":"\u00e9"}],"c":{}}"#).is_ok());
        assert!(skip("[1,]").is_err());
        assert!(skip("{\"a\" 1}").is_err());
        assert!(skip("[1 2]").is_err());
        assert!(skip("tru").is_err());
        assert!(skip("{} x").is_err());
        let deep_ok = "[".repeat(127) + &"]".repeat(127);
        assert!(skip(&deep_ok).is_ok());
        let too_deep = "[".repeat(128) + &"]".repeat(128);
        assert_eq!(skip(&too_deep).unwrap_err().kind, ErrorKind::TooDeep);
        let hostile = "[".repeat(100_000);
        assert_eq!(skip(&hostile).unwrap_err().kind, ErrorKind::TooDeep);
    }
}
