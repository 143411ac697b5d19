//! The client listener: health, versions, Matrix errors for unknown endpoints and methods, CORS, body limit and
//! the well-known documents.

use serde_json::json;

use crate::common::{client_url, get_json, http_client, start_in, start_with};

#[tokio::test]
async fn health_answers_ok() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let response = http_client()
        .get(client_url(&server, "/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "OK");
    server.shutdown().await;
}

#[tokio::test]
async fn versions_lists_the_supported_spec_versions() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let (status, body) = get_json(
        &http_client(),
        &client_url(&server, "/_matrix/client/versions"),
    )
    .await;
    assert_eq!(status, 200);
    let expected: Vec<&str> = hearth_client_api::discovery::versions::SUPPORTED_VERSIONS.to_vec();
    assert_eq!(body["versions"], json!(expected));
    assert!(body["unstable_features"].is_object());
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_endpoint_is_404_m_unrecognized() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let client = http_client();
    for path in [
        "/_matrix/client/v3/nonexistent",
        "/_matrix/federation/v1/version",
        "/nowhere",
    ] {
        let (status, body) = get_json(&client, &client_url(&server, path)).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(
            body,
            json!({"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"}),
            "{path}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_method_is_405_m_unrecognized() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let response = http_client()
        .post(client_url(&server, "/_matrix/client/versions"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["errcode"], "M_UNRECOGNIZED");
    server.shutdown().await;
}

#[tokio::test]
async fn client_responses_carry_cors_headers_even_for_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let client = http_client();
    for path in ["/_matrix/client/versions", "/_matrix/client/v3/nonexistent"] {
        let response = client
            .get(client_url(&server, path))
            .header("Origin", "https://app.example")
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()["access-control-allow-origin"],
            "*",
            "{path}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn cors_preflight_allows_authorization_header_and_all_client_methods() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let response = http_client()
        .request(
            reqwest::Method::OPTIONS,
            client_url(&server, "/_matrix/client/v3/rooms/x/send/m.room.message/1"),
        )
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "PUT")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], "*");
    let methods = headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_ascii_uppercase();
    for method in ["GET", "POST", "PUT", "DELETE", "OPTIONS"] {
        assert!(methods.contains(method), "{methods}");
    }
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for header in ["authorization", "content-type", "x-requested-with"] {
        assert!(allowed.contains(header), "{allowed}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn body_over_the_limit_is_413_m_too_large() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(dir.path(), |config| {
        config.listen.max_request_body_bytes = 65_536
    })
    .await;
    let response = http_client()
        .post(client_url(&server, "/_matrix/client/v3/login"))
        .header("Content-Type", "application/json")
        .body(vec![b' '; 65_537])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["errcode"], "M_TOO_LARGE");
    server.shutdown().await;
}

#[tokio::test]
async fn well_known_client_is_served_from_config_with_cors() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(dir.path(), |config| {
        config.well_known.client = "https://matrix.example.org".into();
    })
    .await;
    let response = http_client()
        .get(client_url(&server, "/.well-known/matrix/client"))
        .header("Origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"m.homeserver": {"base_url": "https://matrix.example.org"}})
    );
    server.shutdown().await;
}

#[tokio::test]
async fn well_known_client_is_404_when_not_configured() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let (status, body) = get_json(
        &http_client(),
        &client_url(&server, "/.well-known/matrix/client"),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["errcode"], "M_NOT_FOUND");
    server.shutdown().await;
}

#[tokio::test]
async fn well_known_server_defaults_to_server_host_and_federation_port() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let federation_port = server.federation_addr.unwrap().port();
    let (status, body) = get_json(
        &http_client(),
        &client_url(&server, "/.well-known/matrix/server"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"m.server": format!("hearth.test:{federation_port}")})
    );
    server.shutdown().await;
}

#[tokio::test]
async fn well_known_server_uses_the_configured_value() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(dir.path(), |config| {
        config.well_known.server = "fed.example.org:443".into();
    })
    .await;
    let (status, body) = get_json(
        &http_client(),
        &client_url(&server, "/.well-known/matrix/server"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"m.server": "fed.example.org:443"}));
    server.shutdown().await;
}

#[tokio::test]
async fn an_undecodable_path_segment_answers_m_invalid_param_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let response = http_client()
        .get(client_url(&server, "/_matrix/client/v3/profile/%FF"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["errcode"], "M_INVALID_PARAM", "{body}");
    server.shutdown().await;
}
