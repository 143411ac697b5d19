//! Hearth's own JSON parser for untrusted input, in two modes that mirror the room-version split.
//!
//! - [`ParseMode::Strict`] (room v6+, and anything Hearth signs): integers only, within ±(2^53−1); no
//!   fraction or exponent syntax at all (so `1.0` and `1e2` are rejected, not converted); duplicate keys
//!   rejected.
//! - [`ParseMode::Lenient`] (room v1–v5, which predate the canonical-JSON rules): any JSON number. Integers
//!   must fit i64 or u64 (a larger one cannot be re-encoded byte-exactly, so its signature could never be
//!   checked); fractions/exponents become f64 and must be finite. Duplicate keys: the last one wins, as in
//!   Python's `json` module that Synapse uses, so Hearth reads such an event the same way Synapse does.
//!
//! Both modes reject invalid UTF-8, lone UTF-16 surrogates in `\u` escapes, raw control characters in
//! strings, `NaN`/`Infinity`, trailing garbage and nesting deeper than [`MAX_DEPTH`]. The parser never
//! panics; the caller bounds the total input size (e.g. 64 KiB for a PDU).

use super::{MAX_DEPTH, MAX_SAFE_INTEGER};
use crate::error::{Error, ParseErrorKind};
use serde_json::{Map, Number, Value};

/// Which set of number and duplicate-key rules to apply; chosen from the room version by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseMode {
    /// Room v6+ canonical JSON: safe-range integers only, duplicate keys rejected.
    Strict,
    /// Room v1–v5: floats and 64-bit integers accepted, duplicate keys resolved last-wins like Synapse.
    Lenient,
}

/// Parse `bytes` as one JSON value under `mode`'s rules.
pub fn parse(bytes: &[u8], mode: ParseMode) -> Result<Value, Error> {
    let text = std::str::from_utf8(bytes).map_err(|e| Error::Parse {
        kind: ParseErrorKind::InvalidUtf8,
        offset: e.valid_up_to(),
    })?;
    let mut parser = Parser {
        text,
        bytes,
        pos: 0,
        mode,
    };
    parser.skip_whitespace();
    let value = parser.parse_value(0)?;
    parser.skip_whitespace();
    if parser.pos != bytes.len() {
        return Err(parser.error(ParseErrorKind::TrailingCharacters));
    }
    Ok(value)
}

/// Parse under [`ParseMode::Strict`] (room v6+).
pub fn parse_strict(bytes: &[u8]) -> Result<Value, Error> {
    parse(bytes, ParseMode::Strict)
}

/// Parse under [`ParseMode::Lenient`] (room v1–v5).
pub fn parse_lenient(bytes: &[u8]) -> Result<Value, Error> {
    parse(bytes, ParseMode::Lenient)
}

struct Parser<'a> {
    /// The whole input, already validated as UTF-8.
    text: &'a str,
    /// `text` as bytes, for cheap scanning.
    bytes: &'a [u8],
    pos: usize,
    mode: ParseMode,
}

impl Parser<'_> {
    fn error(&self, kind: ParseErrorKind) -> Error {
        Error::Parse {
            kind,
            offset: self.pos,
        }
    }

    fn error_at(kind: ParseErrorKind, offset: usize) -> Error {
        Error::Parse { kind, offset }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect_byte(&mut self, expected: u8) -> Result<(), Error> {
        match self.peek() {
            Some(b) if b == expected => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => Err(self.error(ParseErrorKind::UnexpectedCharacter)),
            None => Err(self.error(ParseErrorKind::UnexpectedEnd)),
        }
    }

    fn parse_value(&mut self, depth: usize) -> Result<Value, Error> {
        match self.peek() {
            None => Err(self.error(ParseErrorKind::UnexpectedEnd)),
            Some(b'{') => self.parse_object(depth),
            Some(b'[') => self.parse_array(depth),
            Some(b'"') => self.parse_string().map(Value::String),
            Some(b't') => self.parse_literal(b"true", Value::Bool(true)),
            Some(b'f') => self.parse_literal(b"false", Value::Bool(false)),
            Some(b'n') => self.parse_literal(b"null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.parse_number(),
            Some(_) => Err(self.error(ParseErrorKind::UnexpectedCharacter)),
        }
    }

    fn parse_literal(&mut self, literal: &[u8], value: Value) -> Result<Value, Error> {
        let end = self.pos + literal.len();
        match self.bytes.get(self.pos..end) {
            Some(found) if found == literal => {
                self.pos = end;
                Ok(value)
            }
            Some(_) => Err(self.error(ParseErrorKind::UnexpectedCharacter)),
            None if literal.starts_with(&self.bytes[self.pos..]) => Err(Self::error_at(
                ParseErrorKind::UnexpectedEnd,
                self.bytes.len(),
            )),
            None => Err(self.error(ParseErrorKind::UnexpectedCharacter)),
        }
    }

    fn enter_container(&self, depth: usize) -> Result<(), Error> {
        if depth >= MAX_DEPTH {
            Err(self.error(ParseErrorKind::TooDeep))
        } else {
            Ok(())
        }
    }

    fn parse_array(&mut self, depth: usize) -> Result<Value, Error> {
        self.enter_container(depth)?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.parse_value(depth + 1)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                Some(_) => return Err(self.error(ParseErrorKind::UnexpectedCharacter)),
                None => return Err(self.error(ParseErrorKind::UnexpectedEnd)),
            }
        }
    }

    fn parse_object(&mut self, depth: usize) -> Result<Value, Error> {
        self.enter_container(depth)?;
        self.pos += 1; // '{'
        let mut map = Map::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(map));
        }
        loop {
            self.skip_whitespace();
            let key_offset = self.pos;
            match self.peek() {
                Some(b'"') => {}
                Some(_) => return Err(self.error(ParseErrorKind::UnexpectedCharacter)),
                None => return Err(self.error(ParseErrorKind::UnexpectedEnd)),
            }
            let key = self.parse_string()?;
            self.skip_whitespace();
            self.expect_byte(b':')?;
            self.skip_whitespace();
            let value = self.parse_value(depth + 1)?;
            let replaced = map.insert(key, value);
            if replaced.is_some() && self.mode == ParseMode::Strict {
                return Err(Self::error_at(ParseErrorKind::DuplicateKey, key_offset));
            }
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(map));
                }
                Some(_) => return Err(self.error(ParseErrorKind::UnexpectedCharacter)),
                None => return Err(self.error(ParseErrorKind::UnexpectedEnd)),
            }
        }
    }

    /// Parse a string starting at its opening quote. Strings without escapes are copied in one go.
    fn parse_string(&mut self) -> Result<String, Error> {
        self.pos += 1; // '"'
        let start = self.pos;
        loop {
            match self.peek() {
                None => return Err(self.error(ParseErrorKind::UnexpectedEnd)),
                Some(b'"') => {
                    // Both bounds sit on ASCII bytes, hence on char boundaries.
                    let s = self.text[start..self.pos].to_owned();
                    self.pos += 1;
                    return Ok(s);
                }
                Some(b'\\') => break,
                Some(0x00..=0x1f) => {
                    return Err(self.error(ParseErrorKind::ControlCharacterInString));
                }
                Some(_) => self.pos += 1,
            }
        }
        let mut out = String::with_capacity(self.pos - start + 16);
        out.push_str(&self.text[start..self.pos]);
        loop {
            match self.peek() {
                None => return Err(self.error(ParseErrorKind::UnexpectedEnd)),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => self.parse_escape(&mut out)?,
                Some(0x00..=0x1f) => {
                    return Err(self.error(ParseErrorKind::ControlCharacterInString));
                }
                Some(_) => {
                    let run_start = self.pos;
                    while let Some(b) = self.peek() {
                        if b == b'"' || b == b'\\' || b < 0x20 {
                            break;
                        }
                        self.pos += 1;
                    }
                    out.push_str(&self.text[run_start..self.pos]);
                }
            }
        }
    }

    /// Parse one escape sequence starting at its backslash and append the character it denotes.
    fn parse_escape(&mut self, out: &mut String) -> Result<(), Error> {
        let escape_start = self.pos;
        self.pos += 1; // '\'
        let Some(kind) = self.peek() else {
            return Err(self.error(ParseErrorKind::UnexpectedEnd));
        };
        self.pos += 1;
        let c = match kind {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.parse_hex4()?;
                match unit {
                    0xD800..=0xDBFF => {
                        if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err(Self::error_at(
                                ParseErrorKind::LoneSurrogate,
                                escape_start,
                            ));
                        }
                        self.pos += 2;
                        let low = self.parse_hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(Self::error_at(
                                ParseErrorKind::LoneSurrogate,
                                escape_start,
                            ));
                        }
                        let code = 0x10000
                            + ((u32::from(unit) - 0xD800) << 10)
                            + (u32::from(low) - 0xDC00);
                        char::from_u32(code).ok_or_else(|| {
                            Self::error_at(ParseErrorKind::LoneSurrogate, escape_start)
                        })?
                    }
                    0xDC00..=0xDFFF => {
                        return Err(Self::error_at(ParseErrorKind::LoneSurrogate, escape_start));
                    }
                    other => char::from_u32(u32::from(other)).ok_or_else(|| {
                        Self::error_at(ParseErrorKind::InvalidEscape, escape_start)
                    })?,
                }
            }
            _ => return Err(Self::error_at(ParseErrorKind::InvalidEscape, escape_start)),
        };
        out.push(c);
        Ok(())
    }

    fn parse_hex4(&mut self) -> Result<u16, Error> {
        let mut unit: u16 = 0;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                Some(_) => return Err(self.error(ParseErrorKind::InvalidEscape)),
                None => return Err(self.error(ParseErrorKind::UnexpectedEnd)),
            };
            unit = (unit << 4) | u16::from(digit);
            self.pos += 1;
        }
        Ok(unit)
    }

    fn skip_digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn parse_number(&mut self) -> Result<Value, Error> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let int_start = self.pos;
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(Self::error_at(ParseErrorKind::InvalidNumber, start));
                }
            }
            Some(b'1'..=b'9') => {
                self.skip_digits();
            }
            Some(_) => return Err(Self::error_at(ParseErrorKind::InvalidNumber, start)),
            None => return Err(self.error(ParseErrorKind::UnexpectedEnd)),
        }
        let int_end = self.pos;
        let mut is_float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.skip_digits() == 0 {
                return Err(Self::error_at(ParseErrorKind::InvalidNumber, start));
            }
            is_float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.skip_digits() == 0 {
                return Err(Self::error_at(ParseErrorKind::InvalidNumber, start));
            }
            is_float = true;
        }

        if is_float {
            if self.mode == ParseMode::Strict {
                return Err(Self::error_at(ParseErrorKind::FloatNotAllowed, start));
            }
            let f: f64 = self.text[start..self.pos]
                .parse()
                .map_err(|_| Self::error_at(ParseErrorKind::InvalidNumber, start))?;
            return Number::from_f64(f)
                .filter(|_| f.is_finite())
                .map(Value::Number)
                .ok_or_else(|| Self::error_at(ParseErrorKind::NonFiniteNumber, start));
        }

        let out_of_range = || Self::error_at(ParseErrorKind::IntegerOutOfRange, start);
        let mut magnitude: u64 = 0;
        for &d in &self.bytes[int_start..int_end] {
            magnitude = magnitude
                .checked_mul(10)
                .and_then(|m| m.checked_add(u64::from(d - b'0')))
                .ok_or_else(out_of_range)?;
        }
        match (self.mode, negative) {
            (ParseMode::Strict, _) if magnitude > MAX_SAFE_INTEGER.unsigned_abs() => {
                Err(out_of_range())
            }
            (_, false) => Ok(Value::from(magnitude)),
            (_, true) => {
                let value = 0i64
                    .checked_sub_unsigned(magnitude)
                    .ok_or_else(out_of_range)?;
                Ok(Value::from(value))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind_of(result: Result<Value, Error>) -> Option<ParseErrorKind> {
        match result {
            Err(Error::Parse { kind, .. }) => Some(kind),
            _ => None,
        }
    }

    fn both_modes_reject(input: &[u8], kind: ParseErrorKind) {
        assert_eq!(
            kind_of(parse_strict(input)),
            Some(kind),
            "strict, input {input:?}"
        );
        assert_eq!(
            kind_of(parse_lenient(input)),
            Some(kind),
            "lenient, input {input:?}"
        );
    }

    #[test]
    fn parses_all_value_kinds_with_whitespace() {
        let v = parse_strict(b" {\"a\" : [ true , false , null , \"s\" , -12 , {} , [] ] }\r\n\t");
        assert_eq!(
            v.ok(),
            Some(json!({"a": [true, false, null, "s", -12, {}, []]}))
        );
    }

    #[test]
    fn strict_rejects_duplicate_keys_lenient_keeps_the_last_like_synapse() {
        let input = b"{\"a\":1,\"b\":{\"x\":1,\"x\":2},\"a\":3}";
        assert_eq!(
            kind_of(parse_strict(input)),
            Some(ParseErrorKind::DuplicateKey)
        );
        assert_eq!(
            parse_lenient(input).ok(),
            Some(json!({"a": 3, "b": {"x": 2}}))
        );
    }

    #[test]
    fn duplicate_key_detection_compares_decoded_keys() {
        // "\u0061" and "a" are the same key once decoded.
        assert_eq!(
            kind_of(parse_strict(b"{\"a\":1,\"\\u0061\":2}")),
            Some(ParseErrorKind::DuplicateKey)
        );
    }

    #[test]
    fn negative_zero_is_the_integer_zero_in_both_modes() {
        for v in [parse_strict(b"-0"), parse_lenient(b"-0")] {
            let v = v.ok();
            assert_eq!(v, Some(json!(0)));
            assert!(v.as_ref().and_then(Value::as_i64) == Some(0));
        }
    }

    #[test]
    fn strict_rejects_any_fraction_or_exponent_syntax() {
        for input in [
            &b"1e10"[..],
            b"1.0",
            b"1E2",
            b"-0.0",
            b"0e0",
            b"{\"a\":2.5}",
        ] {
            assert_eq!(
                kind_of(parse_strict(input)),
                Some(ParseErrorKind::FloatNotAllowed),
                "{input:?}"
            );
        }
    }

    #[test]
    fn lenient_accepts_floats_and_exponents() {
        assert_eq!(
            parse_lenient(b"1e10").ok().and_then(|v| v.as_f64()),
            Some(1e10)
        );
        assert_eq!(
            parse_lenient(b"-2.5E-3").ok().and_then(|v| v.as_f64()),
            Some(-2.5e-3)
        );
        assert_eq!(
            parse_lenient(b"1E+2").ok().and_then(|v| v.as_f64()),
            Some(100.0)
        );
    }

    #[test]
    fn lenient_rejects_floats_that_overflow_to_infinity() {
        assert_eq!(
            kind_of(parse_lenient(b"1e400")),
            Some(ParseErrorKind::NonFiniteNumber)
        );
        assert_eq!(
            kind_of(parse_lenient(b"-1e400")),
            Some(ParseErrorKind::NonFiniteNumber)
        );
    }

    #[test]
    fn strict_accepts_exactly_the_safe_integer_range() {
        assert_eq!(
            parse_strict(b"9007199254740991").ok(),
            Some(json!(9007199254740991_i64))
        );
        assert_eq!(
            parse_strict(b"-9007199254740991").ok(),
            Some(json!(-9007199254740991_i64))
        );
        assert_eq!(
            kind_of(parse_strict(b"9007199254740992")),
            Some(ParseErrorKind::IntegerOutOfRange)
        );
        assert_eq!(
            kind_of(parse_strict(b"-9007199254740992")),
            Some(ParseErrorKind::IntegerOutOfRange)
        );
    }

    #[test]
    fn lenient_accepts_full_i64_and_u64_but_nothing_larger() {
        assert_eq!(
            parse_lenient(b"9007199254740992").ok(),
            Some(json!(9007199254740992_u64))
        );
        assert_eq!(
            parse_lenient(b"-9223372036854775808").ok(),
            Some(json!(i64::MIN))
        );
        assert_eq!(
            parse_lenient(b"18446744073709551615").ok(),
            Some(json!(u64::MAX))
        );
        assert_eq!(
            kind_of(parse_lenient(b"18446744073709551616")),
            Some(ParseErrorKind::IntegerOutOfRange)
        );
        assert_eq!(
            kind_of(parse_lenient(b"-9223372036854775809")),
            Some(ParseErrorKind::IntegerOutOfRange)
        );
        assert_eq!(
            kind_of(parse_lenient(b"123456789012345678901234567890")),
            Some(ParseErrorKind::IntegerOutOfRange)
        );
    }

    #[test]
    fn rejects_malformed_numbers() {
        for input in [
            &b"01"[..],
            b"-",
            b"-a",
            b"1.",
            b".5",
            b"1e",
            b"1e+",
            b"+1",
            b"--1",
            b"0x10",
            b"-01",
        ] {
            assert!(parse_lenient(input).is_err(), "{input:?}");
            assert!(parse_strict(input).is_err(), "{input:?}");
        }
        both_modes_reject(b"01", ParseErrorKind::InvalidNumber);
        both_modes_reject(b"1.e5", ParseErrorKind::InvalidNumber);
    }

    #[test]
    fn rejects_nan_and_infinity_literals() {
        for input in [&b"NaN"[..], b"Infinity", b"-Infinity", b"[nan]"] {
            assert!(parse_lenient(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn accepts_nesting_up_to_max_depth_and_rejects_one_more() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse_strict(ok.as_bytes()).is_ok());
        let too_deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        both_modes_reject(too_deep.as_bytes(), ParseErrorKind::TooDeep);
        let objects = "{\"a\":".repeat(MAX_DEPTH + 1) + "1" + &"}".repeat(MAX_DEPTH + 1);
        both_modes_reject(objects.as_bytes(), ParseErrorKind::TooDeep);
    }

    #[test]
    fn deep_hostile_input_is_rejected_without_stack_overflow() {
        let hostile = "[".repeat(1_000_000);
        both_modes_reject(hostile.as_bytes(), ParseErrorKind::TooDeep);
    }

    #[test]
    fn rejects_invalid_utf8_anywhere() {
        both_modes_reject(b"\"\xff\"", ParseErrorKind::InvalidUtf8);
        both_modes_reject(b"{\"a\":\"\xc3\x28\"}", ParseErrorKind::InvalidUtf8);
        // CESU-8 style encoded surrogate is invalid UTF-8 too.
        both_modes_reject(b"\"\xed\xa0\x80\"", ParseErrorKind::InvalidUtf8);
        // Overlong encoding of '/'.
        both_modes_reject(b"\"\xc0\xaf\"", ParseErrorKind::InvalidUtf8);
    }

    #[test]
    fn rejects_lone_surrogate_escapes_and_accepts_pairs() {
        both_modes_reject(br#""\ud800""#, ParseErrorKind::LoneSurrogate);
        both_modes_reject(br#""\udc00""#, ParseErrorKind::LoneSurrogate);
        both_modes_reject(br#""\ud800x""#, ParseErrorKind::LoneSurrogate);
        both_modes_reject(br#""\ud800\u0041""#, ParseErrorKind::LoneSurrogate);
        both_modes_reject(br#""\ud800\ud800""#, ParseErrorKind::LoneSurrogate);
        assert_eq!(
            parse_strict(br#""\ud83d\ude00""#).ok(),
            Some(json!("\u{1F600}"))
        );
        assert_eq!(
            parse_strict(br#""\uD83D\uDE00""#).ok(),
            Some(json!("\u{1F600}"))
        );
    }

    #[test]
    fn decodes_every_escape_including_nul() {
        let v = parse_strict(br#""\"\\\/\b\f\n\r\t\u0000\u001F\u65E5x""#);
        assert_eq!(v.ok(), Some(json!("\"\\/\u{8}\u{c}\n\r\t\u{0}\u{1f}日x")));
    }

    #[test]
    fn rejects_unknown_or_truncated_escapes() {
        both_modes_reject(br#""\x""#, ParseErrorKind::InvalidEscape);
        both_modes_reject(br#""\u12G4""#, ParseErrorKind::InvalidEscape);
        both_modes_reject(br#""\'""#, ParseErrorKind::InvalidEscape);
        both_modes_reject(br#""\u12"#, ParseErrorKind::UnexpectedEnd);
    }

    #[test]
    fn rejects_raw_control_characters_in_strings_but_allows_del_and_u2028() {
        for c in 0u8..0x20 {
            let input = [b'"', c, b'"'];
            both_modes_reject(&input, ParseErrorKind::ControlCharacterInString);
        }
        assert_eq!(
            parse_strict("\"\u{7f}\u{2028}\"".as_bytes()).ok(),
            Some(json!("\u{7f}\u{2028}"))
        );
        both_modes_reject(b"\"a\\n\x01\"", ParseErrorKind::ControlCharacterInString);
    }

    #[test]
    fn rejects_trailing_garbage() {
        both_modes_reject(b"{} x", ParseErrorKind::TrailingCharacters);
        both_modes_reject(b"{}{}", ParseErrorKind::TrailingCharacters);
        both_modes_reject(b"1 2", ParseErrorKind::TrailingCharacters);
        both_modes_reject(b"{}\x00", ParseErrorKind::TrailingCharacters);
        both_modes_reject(b"truex", ParseErrorKind::TrailingCharacters);
    }

    #[test]
    fn rejects_empty_and_truncated_input() {
        both_modes_reject(b"", ParseErrorKind::UnexpectedEnd);
        both_modes_reject(b"   ", ParseErrorKind::UnexpectedEnd);
        for input in [
            &b"{"[..],
            b"[",
            b"{\"a\"",
            b"{\"a\":",
            b"[1,",
            b"\"abc",
            b"tru",
            b"nul",
            b"-",
        ] {
            assert!(parse_lenient(input).is_err(), "{input:?}");
        }
        both_modes_reject(b"tru", ParseErrorKind::UnexpectedEnd);
    }

    #[test]
    fn rejects_structural_mistakes() {
        for input in [
            &b"[1,]"[..],
            b"{\"a\":1,}",
            b"{a:1}",
            b"{\"a\" 1}",
            b"[1 2]",
            b"{,}",
            b"[,]",
            b"\xef\xbb\xbf{}",
            b"{\"a\":1]",
            b"'a'",
        ] {
            assert!(parse_lenient(input).is_err(), "{input:?}");
            assert!(parse_strict(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn accepts_top_level_scalars() {
        assert_eq!(parse_strict(b"\"x\"").ok(), Some(json!("x")));
        assert_eq!(parse_strict(b" null ").ok(), Some(Value::Null));
        assert_eq!(parse_strict(b"7").ok(), Some(json!(7)));
    }

    #[test]
    fn reports_byte_offset_of_the_problem() {
        match parse_strict(b"{\"a\":1,\"a\":2}") {
            Err(Error::Parse { kind, offset }) => {
                assert_eq!(kind, ParseErrorKind::DuplicateKey);
                assert_eq!(offset, 7);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
