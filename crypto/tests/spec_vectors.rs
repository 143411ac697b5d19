//! The spec's cryptographic test vectors (and Synapse's, and the derived ones) from
//! `shared/matrix-spec/test-vectors.md`, sections A–E, checked end to end through the public API.
//!
//! Event *signatures* depend on the room version's redaction algorithm, which `hearth_types` owns. To
//! check the C/D/E.2 signatures here anyway, [`redact_for_test`] implements just enough of the pre-v11
//! (v1–v10) and v11 redaction rules for these events (types `X` and `m.room.message`, whose content is
//! emptied entirely). `hearth_types` must prove its real redaction against the same vectors.

use hearth_crypto::canonical_json::{parse_lenient, parse_strict, to_canonical_string};
use hearth_crypto::hashes::{add_content_hash, content_hash, reference_hash, verify_content_hash};
use hearth_crypto::{
    EventIdFormat, SigningKey, VerifyKey, event_id_from_reference_hash, sign_json, verify_json,
};
use serde_json::{Map, Value, json};

const SEED: &str = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1";
const PUBLIC_KEY: &str = "XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI";

fn spec_key() -> SigningKey {
    SigningKey::from_seed_base64("1", SEED).expect("spec seed decodes to 32 bytes")
}

fn parse(text: &str) -> Value {
    parse_strict(text.as_bytes()).expect("vector JSON is strict canonical-compatible")
}

#[test]
fn a_seed_derives_the_known_public_key() {
    let key = spec_key();
    assert_eq!(key.key_id().as_str(), "ed25519:1");
    assert_eq!(key.public_key_base64(), PUBLIC_KEY);
    assert_eq!(
        VerifyKey::from_base64(PUBLIC_KEY).ok(),
        Some(key.verify_key())
    );
}

#[test]
fn b_signs_the_empty_object() {
    let mut value = json!({});
    sign_json(&mut value, "domain", &spec_key()).expect("sign");
    assert_eq!(
        value,
        json!({"signatures": {"domain": {"ed25519:1": "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"}}})
    );
    let vk = VerifyKey::from_base64(PUBLIC_KEY).expect("public key");
    assert!(verify_json(&value, "domain", "ed25519:1", &vk).is_ok());
}

#[test]
fn b_signs_an_object_with_data() {
    let mut value = parse(r#"{"one": 1, "two": "Two"}"#);
    sign_json(&mut value, "domain", &spec_key()).expect("sign");
    let expected = parse(
        r#"{"one": 1, "signatures": {"domain": {"ed25519:1": "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"}}, "two": "Two"}"#,
    );
    assert_eq!(value, expected);
    let vk = VerifyKey::from_base64(PUBLIC_KEY).expect("public key");
    assert!(verify_json(&expected, "domain", "ed25519:1", &vk).is_ok());
}

/// C.1: every row of the spec's canonical JSON table. Rows with floats or exponents go through the
/// lenient (room v1–v5) parser; the strict parser must refuse them.
#[test]
fn c1_canonical_json_table() {
    let rows: &[(&str, &str)] = &[
        (r#"{}"#, r#"{}"#),
        (r#"{"one": 1, "two": "Two"}"#, r#"{"one":1,"two":"Two"}"#),
        (r#"{"b": "2", "a": "1"}"#, r#"{"a":"1","b":"2"}"#),
        (r#"{"b":"2","a":"1"}"#, r#"{"a":"1","b":"2"}"#),
        (
            r#"{"auth": {"success": true, "mxid": "@john.doe:example.com", "profile": {"display_name": "John Doe", "three_pids": [{"medium": "email", "address": "john.doe@example.org"}, {"medium": "msisdn", "address": "123456789"}]}}}"#,
            r#"{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}"#,
        ),
        (r#"{"a": "日本語"}"#, r#"{"a":"日本語"}"#),
        (r#"{"本": 2, "日": 1}"#, r#"{"日":1,"本":2}"#),
        (r#"{"a": "\u65E5"}"#, r#"{"a":"日"}"#),
        (r#"{"a": null}"#, r#"{"a":null}"#),
    ];
    for (input, expected) in rows {
        let value = parse_strict(input.as_bytes()).expect("strict parse");
        assert_eq!(
            to_canonical_string(&value).ok().as_deref(),
            Some(*expected),
            "input {input}"
        );
    }

    let float_row = r#"{"a": -0, "b": 1e10}"#;
    assert!(
        parse_strict(float_row.as_bytes()).is_err(),
        "1e10 is not strict canonical JSON"
    );
    let value = parse_lenient(float_row.as_bytes()).expect("lenient parse");
    assert_eq!(
        to_canonical_string(&value).ok().as_deref(),
        Some(r#"{"a":0,"b":10000000000}"#)
    );
}

/// Just enough of the redaction algorithm for the vectors' event types (`X`, `m.room.message`): keep the
/// top-level keys the algorithm keeps, empty the content. `v11` drops `origin` (E.2).
fn redact_for_test(event: &Value, v11: bool) -> Value {
    let mut kept: Vec<&str> = vec![
        "event_id",
        "type",
        "room_id",
        "sender",
        "state_key",
        "content",
        "hashes",
        "signatures",
        "depth",
        "prev_events",
        "auth_events",
        "origin_server_ts",
    ];
    if !v11 {
        kept.extend(["origin", "membership", "prev_state"]);
    }
    let mut out = Map::new();
    for (key, value) in event.as_object().expect("event is an object") {
        if kept.contains(&key.as_str()) {
            let value = if key == "content" {
                json!({})
            } else {
                value.clone()
            };
            out.insert(key.clone(), value);
        }
    }
    Value::Object(out)
}

/// Sign an event the way the spec's vectors do: content hash, then sign the redacted event, then copy
/// the signatures back. Returns the signed full event.
fn sign_event(mut event: Value, v11: bool) -> Value {
    add_content_hash(&mut event).expect("hash");
    let mut redacted = redact_for_test(&event, v11);
    sign_json(&mut redacted, "domain", &spec_key()).expect("sign");
    event["signatures"] = redacted["signatures"].clone();
    event
}

fn minimal_event() -> Value {
    parse(
        r#"{"room_id": "!x:domain", "sender": "@a:domain", "origin": "domain", "origin_server_ts": 1000000,
            "signatures": {}, "hashes": {}, "type": "X", "content": {}, "prev_events": [], "auth_events": [],
            "depth": 3, "unsigned": {"age_ts": 1000000}}"#,
    )
}

fn redactable_event() -> Value {
    parse(
        r#"{"content": {"body": "Here is the message content"}, "event_id": "$0:domain", "origin": "domain",
            "origin_server_ts": 1000000, "type": "m.room.message", "room_id": "!r:domain",
            "sender": "@u:domain", "signatures": {}, "unsigned": {"age_ts": 1000000}}"#,
    )
}

#[test]
fn c_minimal_event_hash_and_v1_signature() {
    let signed = sign_event(minimal_event(), false);
    let expected = parse(
        r#"{"auth_events": [], "content": {}, "depth": 3,
            "hashes": {"sha256": "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"},
            "origin": "domain", "origin_server_ts": 1000000, "prev_events": [], "room_id": "!x:domain",
            "sender": "@a:domain",
            "signatures": {"domain": {"ed25519:1": "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"}},
            "type": "X", "unsigned": {"age_ts": 1000000}}"#,
    );
    assert_eq!(signed, expected);
    assert_eq!(verify_content_hash(&expected).ok(), Some(true));
    let vk = spec_key().verify_key();
    assert!(
        verify_json(
            &redact_for_test(&expected, false),
            "domain",
            "ed25519:1",
            &vk
        )
        .is_ok()
    );
}

#[test]
fn c_redactable_event_hash_covers_body_but_v1_signature_does_not() {
    let signed = sign_event(redactable_event(), false);
    assert_eq!(
        signed["hashes"]["sha256"],
        "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"
    );
    assert_eq!(
        signed["signatures"]["domain"]["ed25519:1"],
        "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA"
    );
    assert_eq!(signed["content"]["body"], "Here is the message content");
    assert_eq!(signed["unsigned"], json!({"age_ts": 1000000}));

    // Tampering with the body breaks the content hash but not the signature over the redacted form.
    let mut tampered = signed.clone();
    tampered["content"]["body"] = json!("something else");
    assert_eq!(verify_content_hash(&tampered).ok(), Some(false));
    let vk = spec_key().verify_key();
    assert!(
        verify_json(
            &redact_for_test(&tampered, false),
            "domain",
            "ed25519:1",
            &vk
        )
        .is_ok()
    );
}

#[test]
fn d_synapse_vectors_hash_and_v1_signature() {
    let rows = [
        (
            r#"{"event_id":"$0:domain","origin_server_ts":1000000,"signatures":{},"type":"X","content":{},"unsigned":{"age_ts":1000000}}"#,
            "mq4QfPPpC+QsBd6eqfVsmJIEz8uvMSVK0+AU67PLESk",
            "18rGIkd4JJXxw9m+1j3BtN+TmqmLip4VHvFbyXLngpBLXOqbxlQViQABRzep2cODQ2aa5FnFgz+Llt2P03WiAw",
        ),
        (
            r#"{"content":{"body":"Here is the message content"},"event_id":"$0:domain","origin_server_ts":1000000,"type":"m.room.message","room_id":"!r:domain","sender":"@u:domain","signatures":{},"unsigned":{"age_ts":1000000}}"#,
            "rDCeYBepPlI891h/RkI2/Lkf9bt7u0TxFku4tMs7WKk",
            "Ay4aj2b5oJ1k8INYZ9n3KnszCflM0emwcmQQ7vxpbdcSv9bkJxIZdWX1IJllcZLq89+D3sSabE+vqPtZs9akDw",
        ),
    ];
    for (input, hash, signature) in rows {
        let event = parse(input);
        let raw_hash = content_hash(&event).expect("hash");
        assert_eq!(hearth_crypto::base64::encode(&raw_hash), hash);
        let signed = sign_event(event, false);
        assert_eq!(signed["hashes"]["sha256"], hash);
        assert_eq!(signed["signatures"]["domain"]["ed25519:1"], signature);
    }
}

#[test]
fn e2_v11_redaction_changes_signatures_but_not_hashes() {
    let minimal = sign_event(minimal_event(), true);
    assert_eq!(
        minimal["hashes"]["sha256"],
        "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"
    );
    assert_eq!(
        minimal["signatures"]["domain"]["ed25519:1"],
        "Jxp+1glFcZM+nnHpY0EkedRR7u0VmKsJYGnQqIvqus3UvL5X/p1y6wSkLhGoTBel6MZ9lrMIzUqrjqFquWJKBw"
    );
    let message = sign_event(redactable_event(), true);
    assert_eq!(
        message["hashes"]["sha256"],
        "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"
    );
    assert_eq!(
        message["signatures"]["domain"]["ed25519:1"],
        "4WQB/6LN2OtkUN/+18xUNB/U4RTX1N3EeKBdlCxux08YO8izKDrSRqML1XB8V97IK7AujkNO1xMl7TaBLA4kDw"
    );
}

#[test]
fn e3_reference_hash_gives_the_url_safe_event_id() {
    let signed = sign_event(minimal_event(), false);
    let hash = reference_hash(&redact_for_test(&signed, false)).expect("reference hash");
    assert_eq!(
        event_id_from_reference_hash(&hash, EventIdFormat::UrlSafeBase64)
            .ok()
            .as_deref(),
        Some("$8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc")
    );
    // Room v3 uses the standard alphabet; this hash has no '-'/'_' so only the alphabet rule differs.
    let v3 = event_id_from_reference_hash(&hash, EventIdFormat::Base64).expect("v3 id");
    assert_eq!(
        v3.replace('+', "-").replace('/', "_"),
        "$8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc"
    );
}
