//! X-Matrix request authentication and the notary key endpoints.

use hearth::storage::Backend;
use hearth_crypto::SigningKey;
use reqwest::Method;
use serde_json::json;

use crate::{Federation, LOCAL, REMOTE, both_backends};

const PROFILE: &str = "/_matrix/federation/v1/query/profile?user_id=%40alice%3Ahearth.test";

async fn accepts_a_signed_request_and_answers_the_profile(backend: Backend) {
    let fed = Federation::start(backend).await;
    let (status, body) = fed.request(Method::GET, PROFILE, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"displayname": "Alice"}));
    fed.server.stop().await;
}
both_backends!(accepts_a_signed_request_and_answers_the_profile);

async fn rejects_missing_forged_and_misdirected_signatures(backend: Backend) {
    let fed = Federation::start(backend).await;
    let (status, body) = fed.unsigned(Method::GET, PROFILE).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (401, Some("M_UNAUTHORIZED")),
        "{body}"
    );

    // Signed by a key that is not the remote's.
    let forger = SigningKey::generate_with_version("remote1").unwrap();
    let (status, body) = fed
        .request_as(&forger, LOCAL, Method::GET, PROFILE, None)
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (401, Some("M_UNAUTHORIZED")),
        "{body}"
    );

    // Signed for another destination.
    let (status, body) = fed
        .request_as(&fed.remote_key, "other.test", Method::GET, PROFILE, None)
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (401, Some("M_UNAUTHORIZED")),
        "{body}"
    );

    // The signature covers the query string: a signature for another URI does not verify.
    let header = hearth_federation::auth::sign_request(
        &fed.remote_key,
        &hearth_types::ServerName::parse(REMOTE).unwrap(),
        &hearth_types::ServerName::parse(LOCAL).unwrap(),
        "GET",
        "/_matrix/federation/v1/query/profile?user_id=%40bob%3Ahearth.test",
        None,
    )
    .unwrap();
    let response = fed
        .https
        .get(fed.url(PROFILE))
        .header("authorization", header.to_header_value())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);

    // The signature covers the body.
    let path = "/_matrix/federation/v1/send/t1";
    let signed_body = json!({"origin": REMOTE, "origin_server_ts": 1, "pdus": []});
    let header = hearth_federation::auth::sign_request(
        &fed.remote_key,
        &hearth_types::ServerName::parse(REMOTE).unwrap(),
        &hearth_types::ServerName::parse(LOCAL).unwrap(),
        "PUT",
        path,
        Some(&signed_body),
    )
    .unwrap();
    let response = fed
        .https
        .put(fed.url(path))
        .header("authorization", header.to_header_value())
        .json(&json!({"origin": REMOTE, "origin_server_ts": 2, "pdus": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    fed.server.stop().await;
}
both_backends!(rejects_missing_forged_and_misdirected_signatures);

async fn notary_serves_own_and_cached_keys_countersigned(backend: Backend) {
    let fed = Federation::start(backend).await;
    let (status, body) = fed
        .unsigned(Method::GET, "/_matrix/key/v2/query/remote.test")
        .await;
    assert_eq!(status, 200, "{body}");
    let documents = body["server_keys"].as_array().unwrap();
    assert_eq!(documents.len(), 1, "{body}");
    let document = &documents[0];
    assert_eq!(document["server_name"], REMOTE);
    let key_id = fed.remote_key.key_id().as_str().to_owned();
    hearth_crypto::verify_json(document, REMOTE, &key_id, &fed.remote_key.verify_key())
        .expect("the origin's signature survives");
    assert!(
        document["signatures"][LOCAL].is_object(),
        "countersigned: {document}"
    );

    let (status, body) = fed
        .https
        .post(fed.url("/_matrix/key/v2/query"))
        .json(&json!({"server_keys": {LOCAL: {}, REMOTE: {}}}))
        .send()
        .await
        .map(|r| (r.status().as_u16(), r))
        .unwrap();
    assert_eq!(status, 200);
    let body: serde_json::Value = body.json().await.unwrap();
    let names: Vec<&str> = body["server_keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["server_name"].as_str())
        .collect();
    assert!(names.contains(&LOCAL) && names.contains(&REMOTE), "{body}");
    fed.server.stop().await;
}
both_backends!(notary_serves_own_and_cached_keys_countersigned);
