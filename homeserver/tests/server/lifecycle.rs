//! Start-up failures and graceful shutdown.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt as _;

use crate::common::{client_url, http_client, start_with, test_config};

#[tokio::test]
async fn occupied_port_is_a_clear_start_up_error() {
    let dir = tempfile::tempdir().unwrap();
    let occupied = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = occupied.local_addr().unwrap();
    let mut config = test_config(dir.path());
    config.listen.client = address;
    let error = hearth::start(config).await.unwrap_err().to_string();
    assert!(
        error.contains(&format!("cannot listen on {address} (client)")),
        "{error}"
    );
}

#[tokio::test]
async fn invalid_config_is_refused_by_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.server_name = "not a server name".into();
    let error = hearth::start(config).await.unwrap_err().to_string();
    assert!(error.contains("server_name `not a server name`"), "{error}");
}

#[tokio::test]
async fn shutdown_does_not_wait_for_idle_keep_alive_connections() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(dir.path(), |config| {
        config.listen.shutdown_grace_period = "30s".parse().unwrap();
    })
    .await;
    let client = http_client();
    let response = client
        .get(client_url(&server, "/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let address = server.client_addr;

    let started = Instant::now();
    server.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "listener is closed after shutdown"
    );
    drop(client);
}

#[tokio::test]
async fn shutdown_closes_a_stalled_connection_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(dir.path(), |config| {
        config.listen.shutdown_grace_period = "500ms".parse().unwrap();
    })
    .await;
    let mut stalled = tokio::net::TcpStream::connect(server.client_addr)
        .await
        .unwrap();
    stalled
        .write_all(
            b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    server.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_database_can_be_reopened_after_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(dir.path(), |_| {}).await;
    server.shutdown().await;
    assert!(dir.path().join("hearth.db").is_file());
    let storage = hearth::storage::Storage::connect(&test_config(dir.path()).database_url())
        .await
        .unwrap();
    assert!(storage.schema_version().await.unwrap() > 0);
    storage.close().await;
}
