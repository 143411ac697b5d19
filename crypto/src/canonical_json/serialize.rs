//! The canonical JSON serialiser: one pass over a `serde_json::Value`, writing into one `String`.
//!
//! Object keys are sorted explicitly by code point (equal to UTF-8 byte order), never trusting the map's
//! own iteration order: a dependency enabling `serde_json/preserve_order` must not change signatures. When
//! the map already iterates in sorted order (the default `BTreeMap` backing) no sort buffer is allocated.

use super::float::write_python_repr;
use super::{MAX_DEPTH, MAX_SAFE_INTEGER};
use crate::Error;
use serde_json::{Map, Number, Value};

/// Canonical JSON of `value` as a `String`.
pub fn to_canonical_string(value: &Value) -> Result<String, Error> {
    to_canonical_string_without_keys(value, &[])
}

/// Canonical JSON of `value` as UTF-8 bytes, the exact input to signatures and hashes.
pub fn to_canonical_bytes(value: &Value) -> Result<Vec<u8>, Error> {
    to_canonical_string(value).map(String::into_bytes)
}

/// Canonical JSON of `value` with the named top-level keys left out (if `value` is an object).
///
/// Signing and hashing canonicalise an event minus `signatures`, `unsigned` (and `hashes`); this does so
/// without cloning the event. Keys below the top level are never omitted.
pub fn to_canonical_string_without_keys(
    value: &Value,
    excluded_top_level_keys: &[&str],
) -> Result<String, Error> {
    let mut out = String::with_capacity(256);
    match value {
        Value::Object(map) => write_object(&mut out, map, 0, excluded_top_level_keys)?,
        other => write_value(&mut out, other, 0)?,
    }
    Ok(out)
}

/// Bytes form of [`to_canonical_string_without_keys`].
pub fn to_canonical_bytes_without_keys(
    value: &Value,
    excluded_top_level_keys: &[&str],
) -> Result<Vec<u8>, Error> {
    to_canonical_string_without_keys(value, excluded_top_level_keys).map(String::into_bytes)
}

/// Append the canonical JSON of `value` to `out`, for callers that reuse one buffer for many values.
///
/// On error `out` may hold a partial encoding; discard it.
pub fn write_canonical(out: &mut String, value: &Value) -> Result<(), Error> {
    write_value(out, value, 0)
}

fn write_value(out: &mut String, value: &Value, depth: usize) -> Result<(), Error> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n)?,
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            if depth >= MAX_DEPTH {
                return Err(Error::TooDeep(MAX_DEPTH));
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item, depth + 1)?;
            }
            out.push(']');
        }
        Value::Object(map) => write_object(out, map, depth, &[])?,
    }
    Ok(())
}

fn write_object(
    out: &mut String,
    map: &Map<String, Value>,
    depth: usize,
    excluded: &[&str],
) -> Result<(), Error> {
    if depth >= MAX_DEPTH {
        return Err(Error::TooDeep(MAX_DEPTH));
    }
    out.push('{');
    let mut first = true;
    let mut write_entry = |out: &mut String, key: &String, value: &Value| -> Result<(), Error> {
        if excluded.contains(&key.as_str()) {
            return Ok(());
        }
        if !first {
            out.push(',');
        }
        first = false;
        write_string(out, key);
        out.push(':');
        write_value(out, value, depth + 1)
    };
    let already_sorted = map
        .keys()
        .zip(map.keys().skip(1))
        .all(|(a, b)| a.as_bytes() < b.as_bytes());
    if already_sorted {
        for (key, value) in map {
            write_entry(out, key, value)?;
        }
    } else {
        let mut entries: Vec<(&String, &Value)> = map.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        for (key, value) in entries {
            write_entry(out, key, value)?;
        }
    }
    out.push('}');
    Ok(())
}

fn write_number(out: &mut String, n: &Number) -> Result<(), Error> {
    if let Some(i) = n.as_i64() {
        write_integer(out, i < 0, i.unsigned_abs());
    } else if let Some(u) = n.as_u64() {
        write_integer(out, false, u);
    } else {
        let f = n.as_f64().ok_or(Error::NonFiniteFloat)?;
        write_float(out, f)?;
    }
    Ok(())
}

/// Print a float: integral values within ±(2^53−1) as integers (spec example: `1e10` → `10000000000`,
/// `-0` → `0`), everything else as Python's `repr(float)`.
fn write_float(out: &mut String, f: f64) -> Result<(), Error> {
    if !f.is_finite() {
        return Err(Error::NonFiniteFloat);
    }
    // The bound is exactly representable as f64, so the comparison is exact.
    if f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER as f64 {
        // Exact: |f| < 2^53 and integral, so the cast loses nothing.
        let i = f as i64;
        write_integer(out, i < 0, i.unsigned_abs());
    } else {
        write_python_repr(out, f);
    }
    Ok(())
}

fn write_integer(out: &mut String, negative: bool, magnitude: u64) {
    let mut digits = [0u8; 20];
    let mut pos = digits.len();
    let mut rest = magnitude;
    loop {
        pos -= 1;
        // `rest % 10` is below 10, so the cast is lossless.
        digits[pos] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if negative {
        out.push('-');
    }
    for &d in &digits[pos..] {
        out.push(char::from(d));
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        // `i` indexes an ASCII byte, so both slice bounds are char boundaries.
        out.push_str(&s[start..i]);
        start = i + 1;
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => {
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(value: &Value) -> String {
        match to_canonical_string(value) {
            Ok(s) => s,
            Err(e) => panic!("canonicalisation failed: {e}"),
        }
    }

    #[test]
    fn sorts_keys_by_code_point_not_by_insertion_or_utf16() {
        // U+FF61 sorts before U+1F600 by code point but after it in UTF-16 code-unit order.
        let value = json!({"b": 1, "a": 2, "\u{1F600}": 3, "\u{FF61}": 4, "B": 5});
        assert_eq!(
            canon(&value),
            "{\"B\":5,\"a\":2,\"b\":1,\"\u{FF61}\":4,\"\u{1F600}\":3}"
        );
    }

    #[test]
    fn escapes_only_the_short_escapes_and_other_c0_as_lowercase_hex() {
        let value = json!("\"\\\u{8}\u{c}\n\r\t\u{0}\u{1f}\u{1b}\u{7f}\u{2028}é/");
        assert_eq!(
            canon(&value),
            "\"\\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u001f\\u001b\u{7f}\u{2028}é/\""
        );
    }

    #[test]
    fn prints_integers_plainly_including_extremes() {
        assert_eq!(
            canon(&json!([0, -1, i64::MIN, i64::MAX, u64::MAX])),
            format!("[0,-1,{},{},{}]", i64::MIN, i64::MAX, u64::MAX)
        );
    }

    #[test]
    fn prints_integral_floats_in_safe_range_as_integers() {
        assert_eq!(
            canon(&json!([-0.0, 1e10, 2.0, -9007199254740991.0])),
            "[0,10000000000,2,-9007199254740991]"
        );
    }

    #[test]
    fn prints_other_floats_as_python_repr() {
        assert_eq!(
            canon(&json!([2.5, 9007199254740992.0, 1e20, 1.5e-7])),
            "[2.5,9007199254740992.0,1e+20,1.5e-07]"
        );
    }

    #[test]
    fn omits_excluded_keys_only_at_top_level() {
        let value = json!({"signatures": {}, "unsigned": 1, "a": {"signatures": 2}});
        let out = to_canonical_string_without_keys(&value, &["signatures", "unsigned"]);
        assert_eq!(out.ok().as_deref(), Some("{\"a\":{\"signatures\":2}}"));
        let first_excluded = json!({"a": 1, "b": 2});
        let out = to_canonical_string_without_keys(&first_excluded, &["a"]);
        assert_eq!(out.ok().as_deref(), Some("{\"b\":2}"));
    }

    #[test]
    fn refuses_to_serialise_values_nested_past_max_depth() {
        let mut deep = json!({});
        for _ in 0..MAX_DEPTH - 1 {
            deep = json!([deep]);
        }
        assert!(to_canonical_string(&deep).is_ok());
        assert!(matches!(
            to_canonical_string(&json!([deep])),
            Err(Error::TooDeep(_))
        ));
    }

    #[test]
    fn write_canonical_appends_to_existing_buffer() {
        let mut out = String::from("x");
        assert!(write_canonical(&mut out, &json!({"k": [true, false, null]})).is_ok());
        assert_eq!(out, "x{\"k\":[true,false,null]}");
    }
}
