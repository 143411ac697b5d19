//! The federation listener: HTTPS with a generated self-signed certificate, reused across restarts; the
//! federation version endpoint; disabled federation.

use serde_json::json;

use crate::common::{
    client_url, federation_url, get_json, http_client, https_client_trusting, start_in, start_with,
};

#[tokio::test]
async fn answers_federation_version_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let client = https_client_trusting(dir.path());
    let (status, body) = get_json(
        &client,
        &federation_url(&server, "/_matrix/federation/v1/version"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"server": {"name": "Hearth", "version": env!("CARGO_PKG_VERSION")}})
    );
    server.shutdown().await;
}

#[tokio::test]
async fn refuses_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let url = format!(
        "http://{}/_matrix/federation/v1/version",
        server.federation_addr.unwrap()
    );
    let result = http_client().get(url).send().await;
    assert!(result.is_err() || !result.unwrap().status().is_success());
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_federation_endpoint_is_404_m_unrecognized() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let client = https_client_trusting(dir.path());
    let (status, body) = get_json(
        &client,
        &federation_url(&server, "/_matrix/federation/v1/nonexistent"),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["errcode"], "M_UNRECOGNIZED");
    server.shutdown().await;
}

#[tokio::test]
async fn generated_certificate_is_reused_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let certificate = dir
        .path()
        .join("tls")
        .join(hearth::tls::GENERATED_CERTIFICATE_FILE);
    let server = start_in(dir.path()).await;
    let first = std::fs::read(&certificate).unwrap();
    server.shutdown().await;

    let server = start_in(dir.path()).await;
    assert_eq!(std::fs::read(&certificate).unwrap(), first);
    // The client trusts the first certificate only, so success proves the listener still serves it.
    let client = https_client_trusting(dir.path());
    let (status, _) = get_json(
        &client,
        &federation_url(&server, "/_matrix/federation/v1/version"),
    )
    .await;
    assert_eq!(status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn disabled_federation_has_no_listener_and_no_server_discovery() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(dir.path(), |config| config.federation.enabled = false).await;
    assert!(server.federation_addr.is_none());
    assert!(
        !dir.path().join("tls").exists(),
        "no certificate is generated"
    );
    let (status, body) = get_json(
        &http_client(),
        &client_url(&server, "/.well-known/matrix/server"),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["errcode"], "M_NOT_FOUND");
    server.shutdown().await;
}
