//! Proof that the crates.io `canonical_json` crate (0.5, from mozilla-services) is *not* Matrix
//! canonical JSON, which is why Hearth has its own serialiser in `hearth_crypto::canonical_json`.
//!
//! That crate implements a different "canonical JSON" (the OLPC/TUF flavour): it escapes every non-ASCII
//! character as `\uXXXX` and prints numbers differently, whereas the Matrix spec requires raw UTF-8 and
//! integer-only numbers. Signing or hashing with it would produce signatures no Matrix server accepts. If
//! this test ever starts failing because the outputs agree, the crate changed; Hearth still should not
//! depend on it without re-running the full differential suite.

use serde_json::Value;

fn spec_row(input: &str, matrix_expected: &str) -> (String, String) {
    let value: Value = serde_json::from_str(input).expect("valid JSON");
    let foreign = canonical_json::to_string(&value).expect("foreign crate serialises");
    let ours =
        hearth_crypto::canonical_json::to_canonical_string(&value).expect("Hearth serialises");
    assert_eq!(ours, matrix_expected, "Hearth matches the spec for {input}");
    (foreign, ours)
}

#[test]
fn foreign_crate_escapes_non_ascii_values_unlike_the_matrix_spec() {
    let (foreign, ours) = spec_row(r#"{"a": "日本語"}"#, r#"{"a":"日本語"}"#);
    assert_ne!(foreign, ours);
    assert!(
        foreign.contains("\\u"),
        "foreign output {foreign} escapes non-ASCII"
    );
}

#[test]
fn foreign_crate_escapes_non_ascii_keys_unlike_the_matrix_spec() {
    let (foreign, ours) = spec_row(r#"{"本": 2, "日": 1}"#, r#"{"日":1,"本":2}"#);
    assert_ne!(foreign, ours);
}

#[test]
fn foreign_crate_prints_exponent_floats_unlike_the_matrix_spec() {
    let value: Value = serde_json::from_str(r#"{"a": -0, "b": 1e10}"#).expect("valid JSON");
    let foreign = canonical_json::to_string(&value);
    let ours = hearth_crypto::canonical_json::to_canonical_string(&value).ok();
    assert_eq!(ours.as_deref(), Some(r#"{"a":0,"b":10000000000}"#));
    assert_ne!(
        foreign.ok(),
        ours,
        "foreign crate output must differ (or fail) for 1e10"
    );
}
