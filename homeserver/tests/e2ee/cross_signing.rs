//! `POST /keys/device_signing/upload` (UIA only when replacing keys) and `POST /keys/signatures/upload`,
//! and what `/keys/query` shows of them to whom.

use hearth::storage::Backend;
use hearth_crypto::keys::SigningKey;
use hearth_crypto::signing::signature_for;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestServer, start};
use crate::{both_backends, device_keys, ed25519_key, post, seed_device};

const ALICE: &str = "@alice:hearth.test";
const BOB: &str = "@bob:hearth.test";
const CAROL: &str = "@carol:hearth.test";

/// A cross-signing key object of `user` for `usage`, signed by `signer` (the master key) if given.
fn cross_signing_key(
    user: &str,
    usage: &str,
    key: &SigningKey,
    signer: Option<&SigningKey>,
) -> Value {
    let public = key.public_key_base64();
    let mut object = json!({
        "user_id": user,
        "usage": [usage],
        "keys": { format!("ed25519:{public}"): public },
    });
    if let Some(signer) = signer {
        sign_cross(&mut object, user, signer);
    }
    object
}

/// Signs `object` as `user` with a cross-signing key, whose key ID is `ed25519:<its public key>`.
fn sign_cross(object: &mut Value, user: &str, key: &SigningKey) {
    let signature = signature_for(object, key).unwrap();
    object["signatures"][user][format!("ed25519:{}", key.public_key_base64())] = json!(signature);
}

struct Identity {
    master: SigningKey,
    self_signing: SigningKey,
    user_signing: SigningKey,
}

fn identity(seed: u8) -> Identity {
    Identity {
        master: ed25519_key("m", seed),
        self_signing: ed25519_key("s", seed + 1),
        user_signing: ed25519_key("u", seed + 2),
    }
}

fn upload_body(user: &str, identity: &Identity) -> Value {
    json!({
        "master_key": cross_signing_key(user, "master", &identity.master, None),
        "self_signing_key": cross_signing_key(user, "self_signing", &identity.self_signing, Some(&identity.master)),
        "user_signing_key": cross_signing_key(user, "user_signing", &identity.user_signing, Some(&identity.master)),
    })
}

async fn upload_status(server: &TestServer, token: &str, body: &Value) -> (u16, Value) {
    server
        .call(
            Method::POST,
            "/_matrix/client/v3/keys/device_signing/upload",
            Some(token),
            Some(body),
        )
        .await
}

async fn cross_signing_keys_upload_without_uia_once_and_with_uia_to_replace(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let alice = seed_device(&server.storage, ALICE, "ALICEDEV").await;
    let bob = seed_device(&server.storage, BOB, "BOBDEV").await;
    let first = upload_body(ALICE, &identity(10));
    let (status, body) = upload_status(&server, &alice, &first).await;
    assert_eq!(status, 200, "the first upload needs no UIA: {body}");
    let (status, body) = upload_status(&server, &alice, &first).await;
    assert_eq!(status, 200, "repeating the same keys needs no UIA: {body}");

    // Bob sees Alice's master and self-signing keys, not her user-signing key; Alice sees all three.
    let seen_by_bob = post(
        &server,
        "/keys/query",
        &bob,
        json!({ "device_keys": { ALICE: [] } }),
    )
    .await;
    assert_eq!(
        seen_by_bob["master_keys"][ALICE]["keys"],
        first["master_key"]["keys"]
    );
    assert_eq!(
        seen_by_bob["self_signing_keys"][ALICE]["keys"],
        first["self_signing_key"]["keys"]
    );
    assert!(
        seen_by_bob["user_signing_keys"].get(ALICE).is_none(),
        "{seen_by_bob}"
    );
    let seen_by_alice = post(
        &server,
        "/keys/query",
        &alice,
        json!({ "device_keys": { ALICE: [] } }),
    )
    .await;
    assert_eq!(
        seen_by_alice["user_signing_keys"][ALICE]["keys"],
        first["user_signing_key"]["keys"]
    );

    // Replacing them needs UIA (the seeded account has no password: m.login.dummy).
    let second = upload_body(ALICE, &identity(20));
    let (status, challenge) = upload_status(&server, &alice, &second).await;
    assert_eq!(status, 401, "{challenge}");
    assert_eq!(challenge["flows"][0]["stages"][0], "m.login.dummy");
    let mut authed = second.clone();
    authed["auth"] = json!({ "type": "m.login.dummy", "session": challenge["session"] });
    let (status, body) = upload_status(&server, &alice, &authed).await;
    assert_eq!(status, 200, "{body}");
    let now = post(
        &server,
        "/keys/query",
        &bob,
        json!({ "device_keys": { ALICE: [] } }),
    )
    .await;
    assert_eq!(
        now["master_keys"][ALICE]["keys"],
        second["master_key"]["keys"]
    );
    server.stop().await;
}
both_backends!(cross_signing_keys_upload_without_uia_once_and_with_uia_to_replace);

async fn refuses_cross_signing_keys_not_signed_by_the_master_key(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let alice = seed_device(&server.storage, ALICE, "ALICEDEV").await;
    let keys = identity(30);
    let stranger = ed25519_key("x", 99);
    let cases = [
        (
            "self-signing key signed by another key",
            json!({
                "master_key": cross_signing_key(ALICE, "master", &keys.master, None),
                "self_signing_key": cross_signing_key(ALICE, "self_signing", &keys.self_signing, Some(&stranger)),
            }),
        ),
        (
            "self-signing key without any master key",
            json!({
                "self_signing_key": cross_signing_key(ALICE, "self_signing", &keys.self_signing, Some(&keys.master)),
            }),
        ),
        (
            "master key of another user",
            json!({ "master_key": cross_signing_key(BOB, "master", &keys.master, None) }),
        ),
        (
            "master key with the wrong usage",
            json!({ "master_key": cross_signing_key(ALICE, "self_signing", &keys.master, None) }),
        ),
    ];
    for (what, body) in cases {
        let (status, answer) = upload_status(&server, &alice, &body).await;
        assert_eq!(status, 400, "{what}: {answer}");
    }
    let seen = post(
        &server,
        "/keys/query",
        &alice,
        json!({ "device_keys": { ALICE: [] } }),
    )
    .await;
    assert_eq!(seen["master_keys"], json!({}), "nothing stored: {seen}");
    server.stop().await;
}
both_backends!(refuses_cross_signing_keys_not_signed_by_the_master_key);

async fn signatures_are_verified_stored_and_shown_to_the_right_users(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let alice = seed_device(&server.storage, ALICE, "ALICEDEV").await;
    let bob = seed_device(&server.storage, BOB, "BOBDEV").await;
    let carol = seed_device(&server.storage, CAROL, "CAROLDEV").await;
    let alice_keys = identity(40);
    let bob_keys = identity(50);
    post(
        &server,
        "/keys/device_signing/upload",
        &alice,
        upload_body(ALICE, &alice_keys),
    )
    .await;
    post(
        &server,
        "/keys/device_signing/upload",
        &bob,
        upload_body(BOB, &bob_keys),
    )
    .await;
    let device_key = ed25519_key("ALICEDEV", 41);
    let alice_device = device_keys(ALICE, "ALICEDEV", &device_key);
    post(
        &server,
        "/keys/upload",
        &alice,
        json!({ "device_keys": alice_device }),
    )
    .await;

    // Alice signs her device with her self-signing key, and Bob's master key with her user-signing key.
    let mut signed_device = alice_device.clone();
    sign_cross(&mut signed_device, ALICE, &alice_keys.self_signing);
    let mut bob_master = cross_signing_key(BOB, "master", &bob_keys.master, None);
    sign_cross(&mut bob_master, ALICE, &alice_keys.user_signing);
    // And a forged one: Bob's master "signed" by a key that is not hers.
    let mut forged = cross_signing_key(BOB, "master", &bob_keys.master, None);
    let stranger = ed25519_key("x", 98);
    sign_cross(&mut forged, ALICE, &stranger);
    let bob_master_id = bob_keys.master.public_key_base64();
    let answer = post(
        &server,
        "/keys/signatures/upload",
        &alice,
        json!({
            ALICE: { "ALICEDEV": signed_device, "NOSUCHDEVICE": signed_device },
            BOB: { bob_master_id.clone(): bob_master },
        }),
    )
    .await;
    assert!(
        answer["failures"][ALICE]["NOSUCHDEVICE"].is_object(),
        "{answer}"
    );
    assert!(
        answer["failures"][ALICE].get("ALICEDEV").is_none(),
        "{answer}"
    );
    assert!(answer["failures"].get(BOB).is_none(), "{answer}");
    let rejected = post(
        &server,
        "/keys/signatures/upload",
        &alice,
        json!({ BOB: { bob_master_id.clone(): forged } }),
    )
    .await;
    assert!(
        rejected["failures"][BOB][&bob_master_id].is_object(),
        "{rejected}"
    );

    let ssk_id = format!("ed25519:{}", alice_keys.self_signing.public_key_base64());
    let usk_id = format!("ed25519:{}", alice_keys.user_signing.public_key_base64());
    for viewer in [&bob, &carol] {
        let seen = post(
            &server,
            "/keys/query",
            viewer,
            json!({ "device_keys": { ALICE: [], BOB: [] } }),
        )
        .await;
        assert!(
            seen["device_keys"][ALICE]["ALICEDEV"]["signatures"][ALICE][&ssk_id].is_string(),
            "everyone sees the self-signing signature: {seen}"
        );
        assert!(
            seen["master_keys"][BOB]["signatures"][ALICE]
                .get(&usk_id)
                .is_none(),
            "{seen}"
        );
    }
    let seen = post(
        &server,
        "/keys/query",
        &alice,
        json!({ "device_keys": { BOB: [] } }),
    )
    .await;
    assert!(
        seen["master_keys"][BOB]["signatures"][ALICE][&usk_id].is_string(),
        "the signer sees her user-signing signature: {seen}"
    );
    server.stop().await;
}
both_backends!(signatures_are_verified_stored_and_shown_to_the_right_users);
