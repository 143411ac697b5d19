//! Tests for `pdu.rs`: the spec's and Synapse's signing vectors, derived v11 vectors, and
//! sign-then-verify behaviour per room version.

use super::*;
use serde_json::json;

/// Spec appendices, "Cryptographic Test Vectors": the seed, server name and key ID.
const SEED: &str = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1";

fn spec_key() -> SigningKey {
    SigningKey::from_seed_base64("1", SEED).unwrap()
}

fn domain() -> ServerName {
    ServerName::parse("domain").unwrap()
}

fn server(name: &str) -> ServerName {
    ServerName::parse(name).unwrap()
}

/// A key lookup that knows exactly the given (server, key) pairs.
fn lookup(
    known: &[(&str, &SigningKey)],
) -> impl Fn(&ServerName, &str) -> Option<VerifyKey> + use<> {
    let known: Vec<(String, String, VerifyKey)> = known
        .iter()
        .map(|(server, key)| {
            (
                server.to_string(),
                key.key_id().as_str().to_owned(),
                key.verify_key(),
            )
        })
        .collect();
    move |server, key_id| {
        known
            .iter()
            .find(|(s, k, _)| s == server.as_str() && k == key_id)
            .map(|(_, _, key)| *key)
    }
}

fn minimal_event() -> Value {
    json!({
        "room_id": "!x:domain",
        "sender": "@a:domain",
        "origin": "domain",
        "origin_server_ts": 1000000,
        "signatures": {},
        "hashes": {},
        "type": "X",
        "content": {},
        "prev_events": [],
        "auth_events": [],
        "depth": 3,
        "unsigned": {"age_ts": 1000000}
    })
}

fn redactable_event() -> Value {
    json!({
        "content": {"body": "Here is the message content"},
        "event_id": "$0:domain",
        "origin": "domain",
        "origin_server_ts": 1000000,
        "type": "m.room.message",
        "room_id": "!r:domain",
        "sender": "@u:domain",
        "signatures": {},
        "unsigned": {"age_ts": 1000000}
    })
}

fn signed(mut event: Value, rules: &RoomVersionRules) -> Value {
    hash_and_sign_event(&mut event, rules, &domain(), &spec_key()).unwrap();
    event
}

fn signature(event: &Value) -> &str {
    event["signatures"]["domain"]["ed25519:1"].as_str().unwrap()
}

#[test]
fn spec_vector_minimal_event_signs_exactly() {
    let event = signed(minimal_event(), &RoomVersionRules::V1);
    let mut expected = minimal_event();
    expected["hashes"] = json!({"sha256": "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"});
    expected["signatures"] = json!({"domain": {"ed25519:1":
        "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"}});
    assert_eq!(event, expected);
}

#[test]
fn spec_vector_redactable_event_signs_exactly() {
    let event = signed(redactable_event(), &RoomVersionRules::V1);
    let mut expected = redactable_event();
    expected["hashes"] = json!({"sha256": "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"});
    expected["signatures"] = json!({"domain": {"ed25519:1":
        "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA"}});
    assert_eq!(event, expected);
}

#[test]
fn synapse_vectors_sign_exactly() {
    let cases = [
        (
            json!({"event_id": "$0:domain", "origin_server_ts": 1000000, "signatures": {}, "type": "X",
                   "content": {}, "unsigned": {"age_ts": 1000000}}),
            "mq4QfPPpC+QsBd6eqfVsmJIEz8uvMSVK0+AU67PLESk",
            "18rGIkd4JJXxw9m+1j3BtN+TmqmLip4VHvFbyXLngpBLXOqbxlQViQABRzep2cODQ2aa5FnFgz+Llt2P03WiAw",
        ),
        (
            json!({"content": {"body": "Here is the message content"}, "event_id": "$0:domain",
                   "origin_server_ts": 1000000, "type": "m.room.message", "room_id": "!r:domain",
                   "sender": "@u:domain", "signatures": {}, "unsigned": {"age_ts": 1000000}}),
            "rDCeYBepPlI891h/RkI2/Lkf9bt7u0TxFku4tMs7WKk",
            "Ay4aj2b5oJ1k8INYZ9n3KnszCflM0emwcmQQ7vxpbdcSv9bkJxIZdWX1IJllcZLq89+D3sSabE+vqPtZs9akDw",
        ),
    ];
    for (event, hash, sig) in cases {
        let event = signed(event, &RoomVersionRules::V1);
        assert_eq!(event["hashes"]["sha256"], hash);
        assert_eq!(signature(&event), sig);
    }
}

#[test]
fn v11_redaction_changes_the_signature_but_not_the_content_hash() {
    // Derived vectors (test-vectors.md E.2): v11 redaction drops top-level `origin`.
    let minimal = signed(minimal_event(), &RoomVersionRules::V11);
    assert_eq!(
        minimal["hashes"]["sha256"],
        "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"
    );
    assert_eq!(
        signature(&minimal),
        "Jxp+1glFcZM+nnHpY0EkedRR7u0VmKsJYGnQqIvqus3UvL5X/p1y6wSkLhGoTBel6MZ9lrMIzUqrjqFquWJKBw"
    );
    let message = signed(redactable_event(), &RoomVersionRules::V11);
    assert_eq!(
        message["hashes"]["sha256"],
        "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"
    );
    assert_eq!(
        signature(&message),
        "4WQB/6LN2OtkUN/+18xUNB/U4RTX1N3EeKBdlCxux08YO8izKDrSRqML1XB8V97IK7AujkNO1xMl7TaBLA4kDw"
    );
}

#[test]
fn reference_hash_event_id_matches_the_derived_vector() {
    // test-vectors.md E.3: the signed minimal event (v1 signing), named with v4's URL-safe format.
    let event = signed(minimal_event(), &RoomVersionRules::V1);
    let expected = "$8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc";
    assert_eq!(
        compute_event_id(&event, &RoomVersionRules::V4)
            .unwrap()
            .as_str(),
        expected
    );
    // No `-`/`_`/`+`/`/` in this hash, so v3's standard alphabet gives the same string.
    assert_eq!(
        compute_event_id(&event, &RoomVersionRules::V3)
            .unwrap()
            .as_str(),
        expected
    );
    // The spec's reference hash ignores `unsigned` and `signatures`.
    let mut decorated = event.clone();
    decorated["unsigned"] = json!({"age": 99});
    decorated["signatures"]["other"] = json!({"ed25519:x": "y"});
    assert_eq!(
        compute_event_id(&decorated, &RoomVersionRules::V4)
            .unwrap()
            .as_str(),
        expected
    );
}

#[test]
fn v1_event_ids_come_from_the_event_and_v3_ids_from_the_reference_hash() {
    let event = signed(redactable_event(), &RoomVersionRules::V1);
    let v1 = compute_event_id(&event, &RoomVersionRules::V1).unwrap();
    assert_eq!(v1.as_str(), "$0:domain");
    let v3 = compute_event_id(&event, &RoomVersionRules::V3).unwrap();
    let v4 = compute_event_id(&event, &RoomVersionRules::V4).unwrap();
    assert_ne!(v1, v3);
    assert!(v3.server_name().is_none() && v4.server_name().is_none());
    assert_eq!(v4.as_str(), v3.as_str().replace('+', "-").replace('/', "_"));
    // v1 needs the field, with a server name.
    assert!(matches!(
        compute_event_id(&minimal_event(), &RoomVersionRules::V1),
        Err(Error::MissingField("event_id"))
    ));
    let mut hash_form = minimal_event();
    hash_form["event_id"] = json!("$8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc");
    assert!(compute_event_id(&hash_form, &RoomVersionRules::V2).is_err());
}

#[test]
fn v12_room_id_is_the_create_event_reference_hash() {
    let mut create = json!({
        "type": "m.room.create", "state_key": "", "sender": "@a:domain", "origin_server_ts": 1,
        "depth": 1, "prev_events": [], "auth_events": [],
        "content": {"room_version": "12", "additional_creators": ["@b:other"]},
    });
    hash_and_sign_event(&mut create, &RoomVersionRules::V12, &domain(), &spec_key()).unwrap();
    let room_id = room_id_for_v12_create_event(&create).unwrap();
    let event_id = compute_event_id(&create, &RoomVersionRules::V12).unwrap();
    assert_eq!(room_id.as_str()[1..], event_id.as_str()[1..]);
    assert_eq!(room_id.create_event_id(), Some(event_id));
    // additional_creators is covered: changing it changes the room ID.
    create["content"]["additional_creators"] = json!(["@c:other"]);
    assert_ne!(room_id_for_v12_create_event(&create).unwrap(), room_id);
}

/// A representative event for each room version, signed by `domain`.
fn versioned_event(rules: &RoomVersionRules) -> Value {
    let mut event = json!({
        "type": "m.room.message", "sender": "@u:domain", "origin_server_ts": 5, "depth": 4,
        "prev_events": [], "auth_events": [], "content": {"body": "hello", "msgtype": "m.text"},
        "unsigned": {"age": 1},
    });
    if !rules.authorization.room_id_is_create_event_hash {
        event["room_id"] = json!("!r:domain");
    }
    if !rules.event_id_format.is_hash_based() {
        event["event_id"] = json!("$abc:domain");
    }
    signed(event, rules)
}

#[test]
fn sign_then_verify_succeeds_in_every_room_version() {
    let key = spec_key();
    for rules in RoomVersionRules::ALL {
        let event = versioned_event(&rules);
        assert_eq!(
            verify_event(&event, &rules, lookup(&[("domain", &key)])).unwrap(),
            VerifiedEvent::Valid,
            "v{}",
            rules.id
        );
    }
}

#[test]
fn tampered_redactable_content_fails_the_hash_check_but_keeps_valid_signatures() {
    let key = spec_key();
    for rules in RoomVersionRules::ALL {
        let mut event = versioned_event(&rules);
        event["content"]["body"] = json!("forged");
        assert!(matches!(
            verify_event_content_hash(&event),
            Err(Error::ContentHashMismatch)
        ));
        assert!(verify_event_signatures(&event, &rules, lookup(&[("domain", &key)])).is_ok());
        let VerifiedEvent::Redacted(copy) =
            verify_event(&event, &rules, lookup(&[("domain", &key)])).unwrap()
        else {
            panic!(
                "v{}: a hash mismatch must yield the redacted copy",
                rules.id
            );
        };
        assert_eq!(copy["content"], json!({}));
    }
}

#[test]
fn tampered_signed_field_fails_signature_verification() {
    let key = spec_key();
    for rules in RoomVersionRules::ALL {
        let mut event = versioned_event(&rules);
        event["origin_server_ts"] = json!(6);
        assert!(
            matches!(
                verify_event_signatures(&event, &rules, lookup(&[("domain", &key)])),
                Err(Error::InvalidSignature { .. })
            ),
            "v{}",
            rules.id
        );
    }
}

#[test]
fn missing_sender_signature_fails() {
    let key = spec_key();
    let rules = RoomVersionRules::V11;
    let mut event = versioned_event(&rules);
    event["signatures"] = json!({});
    assert!(matches!(
        verify_event_signatures(&event, &rules, lookup(&[("domain", &key)])),
        Err(Error::MissingSignature { server }) if server == "domain"
    ));
    // Signed only by some other server: still missing the sender's.
    let mut event = versioned_event(&rules);
    event["sender"] = json!("@u:elsewhere");
    assert!(matches!(
        verify_event_signatures(&event, &rules, lookup(&[("domain", &key), ("elsewhere", &key)])),
        Err(Error::MissingSignature { server }) if server == "elsewhere"
    ));
}

#[test]
fn signatures_by_unknown_keys_are_skipped_but_do_not_count() {
    let key = spec_key();
    let other = SigningKey::from_seed("2", &[7; 32]).unwrap();
    let rules = RoomVersionRules::V10;
    let mut event = versioned_event(&rules);
    hash_and_sign_event(&mut event, &rules, &domain(), &other).unwrap();
    // Only key 1 is known: key 2's signature is skipped, key 1's verifies.
    assert!(verify_event_signatures(&event, &rules, lookup(&[("domain", &key)])).is_ok());
    // No known key at all: the check fails.
    assert!(matches!(
        verify_event_signatures(&event, &rules, lookup(&[])),
        Err(Error::MissingSignature { .. })
    ));
    // A known key whose signature does not verify fails even when another one does.
    let wrong = SigningKey::from_seed("2", &[8; 32]).unwrap();
    assert!(matches!(
        verify_event_signatures(&event, &rules, lookup(&[("domain", &key), ("domain", &wrong)])),
        Err(Error::InvalidSignature { key_id, .. }) if key_id == "ed25519:2"
    ));
}

#[test]
fn v1_and_v2_also_require_the_event_id_server() {
    let key = spec_key();
    let mut event = json!({
        "type": "m.room.message", "sender": "@u:domain", "room_id": "!r:domain", "event_id": "$e:origin",
        "origin_server_ts": 5, "depth": 4, "prev_events": [], "auth_events": [], "content": {},
    });
    hash_and_sign_event(&mut event, &RoomVersionRules::V1, &domain(), &key).unwrap();
    let both = lookup(&[("domain", &key), ("origin", &key)]);
    for rules in [RoomVersionRules::V1, RoomVersionRules::V2] {
        assert_eq!(
            required_signatures(&event, &rules).unwrap().required,
            vec![domain(), server("origin")]
        );
        assert!(matches!(
            verify_event_signatures(&event, &rules, &both),
            Err(Error::MissingSignature { server }) if server == "origin"
        ));
    }
    hash_and_sign_event(&mut event, &RoomVersionRules::V1, &server("origin"), &key).unwrap();
    assert!(verify_event_signatures(&event, &RoomVersionRules::V1, &both).is_ok());
    // From v3 the event ID carries no server and only the sender's signature is required.
    assert_eq!(
        required_signatures(&event, &RoomVersionRules::V3)
            .unwrap()
            .required,
        vec![domain()]
    );
}

#[test]
fn restricted_joins_require_the_authorising_server_from_v8() {
    let key = spec_key();
    let join = |rules: &RoomVersionRules| {
        let mut event = json!({
            "type": "m.room.member", "state_key": "@u:domain", "sender": "@u:domain", "room_id": "!r:domain",
            "origin_server_ts": 5, "depth": 4, "prev_events": [], "auth_events": [],
            "content": {"membership": "join", "join_authorised_via_users_server": "@mod:resident"},
        });
        hash_and_sign_event(&mut event, rules, &domain(), &key).unwrap();
        event
    };
    let keys = lookup(&[("domain", &key), ("resident", &key)]);
    assert_eq!(
        required_signatures(&join(&RoomVersionRules::V7), &RoomVersionRules::V7)
            .unwrap()
            .required,
        vec![domain()]
    );
    for rules in [
        RoomVersionRules::V8,
        RoomVersionRules::V9,
        RoomVersionRules::V12,
    ] {
        let mut event = join(&rules);
        assert!(matches!(
            verify_event_signatures(&event, &rules, &keys),
            Err(Error::MissingSignature { server }) if server == "resident"
        ));
        hash_and_sign_event(&mut event, &rules, &server("resident"), &key).unwrap();
        assert!(
            verify_event_signatures(&event, &rules, &keys).is_ok(),
            "v{}",
            rules.id
        );
    }
}

#[test]
fn third_party_invites_do_not_require_the_sender_signature() {
    let key = spec_key();
    let rules = RoomVersionRules::V11;
    let mut invite = json!({
        "type": "m.room.member", "state_key": "@new:elsewhere", "sender": "@inviter:domain", "room_id": "!r:domain",
        "origin_server_ts": 5, "depth": 4, "prev_events": [], "auth_events": [],
        "content": {"membership": "invite", "third_party_invite": {"display_name": "n", "signed": {}}},
    });
    hash_and_sign_event(&mut invite, &rules, &server("elsewhere"), &key).unwrap();
    let signatures = required_signatures(&invite, &rules).unwrap();
    assert_eq!(
        (signatures.required, signatures.optional),
        (vec![], vec![domain()])
    );
    assert!(verify_event_signatures(&invite, &rules, lookup(&[("domain", &key)])).is_ok());
    // An optional signature that is present must still be valid.
    invite["signatures"]["domain"] = json!({"ed25519:1": "AAAA"});
    assert!(verify_event_signatures(&invite, &rules, lookup(&[("domain", &key)])).is_err());
}

#[test]
fn malformed_events_are_errors_not_panics() {
    let key = spec_key();
    let rules = RoomVersionRules::V11;
    assert!(matches!(
        required_signatures(&json!([]), &rules),
        Err(Error::NotAnObject)
    ));
    assert!(matches!(
        required_signatures(&json!({}), &rules),
        Err(Error::MissingField("sender"))
    ));
    assert!(matches!(
        required_signatures(&json!({"sender": "nobody"}), &rules),
        Err(Error::InvalidId {
            field: "sender",
            ..
        })
    ));
    let mut event = versioned_event(&rules);
    event["signatures"] = json!("x");
    assert!(matches!(
        verify_event_signatures(&event, &rules, lookup(&[("domain", &key)])),
        Err(Error::InvalidField("signatures"))
    ));
    let mut bad = json!({"content": "x", "sender": "@u:domain"});
    assert!(hash_and_sign_event(&mut bad, &rules, &domain(), &key).is_err());
    assert!(bad.get("signatures").is_none());
    assert!(matches!(
        verify_event_content_hash(&json!({"content": {}})),
        Err(Error::Crypto(_))
    ));
}
