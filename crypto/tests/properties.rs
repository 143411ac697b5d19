//! Property tests (proptest) for canonical JSON and JSON signatures.
//!
//! - canonicalisation is idempotent: parsing canonical output and re-canonicalising gives the same bytes,
//!   in strict mode for integer-only values and in lenient mode with floats;
//! - the parser reads any valid document (as printed by `serde_json`, with whitespace) back exactly, and
//!   never panics on arbitrary or mangled bytes;
//! - sign-then-verify holds; any change to signed content breaks verification; `unsigned` is ignored.

use hearth_crypto::canonical_json::{
    MAX_SAFE_INTEGER, parse_lenient, parse_strict, to_canonical_bytes, to_canonical_string,
};
use hearth_crypto::{Error, SigningKey, sign_json, verify_json};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn key() -> SigningKey {
    SigningKey::from_seed("1", &[42; 32]).expect("valid version")
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-c\"\\\\\u{0}-\u{1f}\u{7f}\u{2028}\u{1f600}é]{0,6}",
    ]
}

fn arb_integer() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).prop_map(Value::from),
        (-100i64..100).prop_map(Value::from),
    ]
}

fn arb_float() -> impl Strategy<Value = Value> {
    any::<f64>()
        .prop_filter("finite", |f| f.is_finite())
        .prop_filter_map("representable", serde_json::Number::from_f64)
        .prop_map(Value::Number)
}

fn arb_value_with(leaf: BoxedStrategy<Value>) -> impl Strategy<Value = Value> {
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(arb_string(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Values valid in strict (room v6+) canonical JSON: safe integers, no floats.
fn arb_strict_value() -> impl Strategy<Value = Value> {
    arb_value_with(
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            arb_integer(),
            arb_string().prop_map(Value::String),
        ]
        .boxed(),
    )
}

/// Values a room v1–v5 event may hold: also floats and full 64-bit integers.
fn arb_lenient_value() -> impl Strategy<Value = Value> {
    arb_value_with(
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            arb_integer(),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            arb_float(),
            arb_string().prop_map(Value::String),
        ]
        .boxed(),
    )
}

fn arb_object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(arb_string(), arb_strict_value(), 0..6)
        .prop_map(|m| m.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn canonicalisation_is_idempotent_in_strict_mode(value in arb_strict_value()) {
        let canonical = to_canonical_bytes(&value).expect("canonicalise");
        let reparsed = parse_strict(&canonical).expect("canonical output is strict JSON");
        prop_assert_eq!(&reparsed, &value);
        prop_assert_eq!(to_canonical_bytes(&reparsed).expect("again"), canonical);
    }

    #[test]
    fn canonicalisation_is_idempotent_in_lenient_mode_with_floats(value in arb_lenient_value()) {
        let canonical = to_canonical_string(&value).expect("canonicalise");
        let reparsed = parse_lenient(canonical.as_bytes()).expect("canonical output parses leniently");
        prop_assert_eq!(to_canonical_string(&reparsed).expect("again"), canonical);
    }

    /// Whitespace-laden documents (serde_json's pretty printer) parse back to exactly the original value.
    /// The comparison is with the original, not with `serde_json::from_str`: serde_json's default float
    /// parser is not correctly rounded (it can be one ulp off), while Hearth's is.
    #[test]
    fn parser_reads_pretty_printed_documents_back_exactly(value in arb_lenient_value()) {
        let pretty = serde_json::to_string_pretty(&value).expect("serde_json prints");
        let ours = parse_lenient(pretty.as_bytes()).expect("we parse what serde_json prints");
        prop_assert_eq!(ours, value);
    }

    #[test]
    fn parser_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = parse_strict(&bytes);
        let _ = parse_lenient(&bytes);
    }

    #[test]
    fn parser_never_panics_on_mangled_json(value in arb_strict_value(), cut in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = to_canonical_bytes(&value).expect("canonicalise");
        let position = cut.index(bytes.len() + 1);
        bytes.insert(position, byte);
        let _ = parse_strict(&bytes);
        let _ = parse_lenient(&bytes);
        bytes.truncate(position);
        let _ = parse_strict(&bytes);
        let _ = parse_lenient(&bytes);
    }

    #[test]
    fn sign_then_verify_holds(object in arb_object()) {
        let mut value = Value::Object(object);
        let key = key();
        sign_json(&mut value, "example.org", &key).expect("sign");
        prop_assert!(verify_json(&value, "example.org", "ed25519:1", &key.verify_key()).is_ok());
    }

    #[test]
    fn verify_ignores_unsigned(object in arb_object(), unsigned in arb_strict_value()) {
        let mut value = Value::Object(object);
        let key = key();
        sign_json(&mut value, "example.org", &key).expect("sign");
        value["unsigned"] = unsigned;
        prop_assert!(verify_json(&value, "example.org", "ed25519:1", &key.verify_key()).is_ok());
    }

    #[test]
    fn adding_a_key_breaks_verification(object in arb_object(), new_key in arb_string(), new_value in arb_strict_value()) {
        prop_assume!(!object.contains_key(&new_key) && new_key != "signatures" && new_key != "unsigned");
        let mut value = Value::Object(object);
        let key = key();
        sign_json(&mut value, "example.org", &key).expect("sign");
        value[new_key.as_str()] = new_value;
        let result = verify_json(&value, "example.org", "ed25519:1", &key.verify_key());
        prop_assert!(matches!(result, Err(Error::SignatureInvalid)));
    }

    #[test]
    fn changing_a_value_breaks_verification(
        object in arb_object().prop_filter("non-empty", |o| o.keys().any(|k| k != "signatures" && k != "unsigned")),
        pick in any::<prop::sample::Index>(),
        replacement in arb_strict_value(),
    ) {
        let keys: Vec<String> = object.keys().filter(|k| *k != "signatures" && *k != "unsigned").cloned().collect();
        let target = keys[pick.index(keys.len())].clone();
        prop_assume!(object.get(&target) != Some(&replacement));
        let mut value = Value::Object(object);
        let key = key();
        sign_json(&mut value, "example.org", &key).expect("sign");
        value[target.as_str()] = replacement;
        let result = verify_json(&value, "example.org", "ed25519:1", &key.verify_key());
        prop_assert!(matches!(result, Err(Error::SignatureInvalid)));
    }

    #[test]
    fn removing_a_key_breaks_verification(
        object in arb_object().prop_filter("non-empty", |o| o.keys().any(|k| k != "signatures" && k != "unsigned")),
        pick in any::<prop::sample::Index>(),
    ) {
        let keys: Vec<String> = object.keys().filter(|k| *k != "signatures" && *k != "unsigned").cloned().collect();
        let target = keys[pick.index(keys.len())].clone();
        let mut value = Value::Object(object);
        let key = key();
        sign_json(&mut value, "example.org", &key).expect("sign");
        value.as_object_mut().expect("object").remove(&target);
        let result = verify_json(&value, "example.org", "ed25519:1", &key.verify_key());
        prop_assert!(matches!(result, Err(Error::SignatureInvalid)));
    }
}
