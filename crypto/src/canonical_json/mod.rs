//! Matrix canonical JSON: the byte-exact encoding that every signature and hash in Matrix covers.
//!
//! This module owns both directions:
//! - [`to_canonical_string`] / [`to_canonical_bytes`] serialise a `serde_json::Value` the way the spec
//!   (appendices, "Canonical JSON") and Synapse's `canonicaljson` library do: object keys sorted by code
//!   point, no insignificant whitespace, raw UTF-8 for non-ASCII text, and only the short escapes
//!   `\" \\ \b \f \n \r \t` (other C0 controls as lowercase `\u00XX`).
//! - [`parse`] (with [`parse_strict`] and [`parse_lenient`]) is Hearth's own recursive-descent parser for
//!   untrusted JSON. `serde_json` is not used for this because it silently keeps the last of duplicate keys
//!   and turns `-0` into a float; both matter when bytes must be judged against the spec's rules.
//!
//! Numbers. Canonical JSON (room v6+) allows only integers in [-(2^53)+1, 2^53-1]. Older room versions
//! (v1–v5) were signed by Synapse with whatever Python's `json` produced, so the serialiser also prints
//! floats: a float that is integral and within ±(2^53−1) is printed as an integer (the spec's example turns
//! `1e10` into `10000000000`), every other finite float exactly as Python's `repr(float)` prints it. Note the
//! one known divergence from Synapse: Synapse prints an integral float such as `1e10` or `2.0` as
//! `10000000000.0` / `2.0`; Hearth follows the spec's example instead.
//!
//! Depth. Both the parser and the serialiser refuse to nest deeper than [`MAX_DEPTH`] arrays/objects, so a
//! hostile document cannot exhaust the stack.

mod float;
mod parse;
mod serialize;

pub use parse::{ParseMode, parse, parse_lenient, parse_strict};
pub use serialize::{
    to_canonical_bytes, to_canonical_bytes_without_keys, to_canonical_string,
    to_canonical_string_without_keys, write_canonical,
};

use crate::Error;
use serde_json::Value;

/// Deepest nesting of arrays and objects accepted by the parser and the serialiser.
///
/// A document `[[...]]` with 128 brackets is accepted, 129 is rejected. The same bound as `serde_json`'s
/// default, far beyond anything a Matrix event needs, and shallow enough that recursion cannot overflow a
/// thread's stack.
pub const MAX_DEPTH: usize = 128;

/// Largest integer canonical JSON allows (2^53 − 1); the smallest is its negation.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Check that a value built in code is valid canonical JSON for room v6+: integers only, each within
/// ±(2^53 − 1), nesting within [`MAX_DEPTH`].
///
/// Parsed input from [`parse_strict`] already satisfies this; use it on values assembled by Hearth itself
/// (e.g. event content from a client request) before signing them into a v6+ room.
pub fn validate_strict(value: &Value) -> Result<(), Error> {
    validate_at_depth(value, 0)
}

fn validate_at_depth(value: &Value, depth: usize) -> Result<(), Error> {
    match value {
        Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i) {
                    Ok(())
                } else {
                    Err(Error::IntegerOutOfRange(i.to_string()))
                }
            } else if let Some(u) = n.as_u64() {
                Err(Error::IntegerOutOfRange(u.to_string()))
            } else {
                Err(Error::FloatNotAllowed)
            }
        }
        Value::Array(items) => {
            if depth >= MAX_DEPTH {
                return Err(Error::TooDeep(MAX_DEPTH));
            }
            items
                .iter()
                .try_for_each(|item| validate_at_depth(item, depth + 1))
        }
        Value::Object(map) => {
            if depth >= MAX_DEPTH {
                return Err(Error::TooDeep(MAX_DEPTH));
            }
            map.values()
                .try_for_each(|item| validate_at_depth(item, depth + 1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validate_strict_accepts_safe_integers_at_both_bounds() {
        assert!(validate_strict(&json!({"a": [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0]})).is_ok());
    }

    #[test]
    fn validate_strict_rejects_integers_past_two_to_the_53() {
        assert!(matches!(
            validate_strict(&json!({"a": MAX_SAFE_INTEGER + 1})),
            Err(Error::IntegerOutOfRange(_))
        ));
        assert!(matches!(
            validate_strict(&json!([-MAX_SAFE_INTEGER - 1])),
            Err(Error::IntegerOutOfRange(_))
        ));
        assert!(matches!(
            validate_strict(&json!(u64::MAX)),
            Err(Error::IntegerOutOfRange(_))
        ));
    }

    #[test]
    fn validate_strict_rejects_floats_even_integral_ones() {
        assert!(matches!(
            validate_strict(&json!({"a": {"b": 1.0}})),
            Err(Error::FloatNotAllowed)
        ));
    }

    #[test]
    fn validate_strict_rejects_values_nested_past_max_depth() {
        let mut deep = json!(1);
        for _ in 0..MAX_DEPTH {
            deep = json!([deep]);
        }
        assert!(validate_strict(&deep).is_ok());
        let deeper = json!({ "x": deep });
        assert!(matches!(validate_strict(&deeper), Err(Error::TooDeep(_))));
    }
}
