//! Uploads and downloads: round trips, deduplication, asynchronous uploads, limits, quotas, authentication,
//! unknown IDs and the legacy endpoints.

use std::time::Duration;

use hearth::storage::Backend;
use reqwest::Method;

use crate::common::start;
use crate::{
    assert_error, both_backends, download, mxc_path, noise, seed_users, send, stored_blob_count,
    upload,
};

async fn upload_and_download_return_identical_bytes_stored_once(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let bytes = noise(300_000);
    let answer = send(
        &server,
        Method::POST,
        "/_matrix/media/v3/upload?filename=report.bin",
        Some("alice-token"),
        Some("application/octet-stream"),
        Some(bytes.clone()),
    )
    .await;
    assert_eq!(answer.status, 200);
    let mxc = answer.json()["content_uri"].as_str().unwrap().to_owned();
    assert!(mxc.starts_with("mxc://hearth.test/"), "{mxc}");

    // Another user downloads it; the bytes are identical and the headers are the safe ones.
    let got = download(&server, Some("bob-token"), &mxc).await;
    assert_eq!(got.status, 200);
    assert!(got.body == bytes, "downloaded bytes differ");
    assert_eq!(got.header("content-type"), Some("application/octet-stream"));
    assert_eq!(got.header("content-length"), Some("300000"));
    assert_eq!(
        got.header("content-disposition"),
        Some("attachment; filename=\"report.bin\"")
    );
    assert_eq!(got.header("x-content-type-options"), Some("nosniff"));
    assert!(
        got.header("content-security-policy")
            .unwrap()
            .starts_with("sandbox")
    );
    assert_eq!(
        got.header("cross-origin-resource-policy"),
        Some("cross-origin")
    );

    // The file-name form overrides the name.
    let named = server
        .http
        .get(server.url(&format!(
            "/_matrix/client/v1/media/download/{}/other.bin",
            mxc_path(&mxc)
        )))
        .bearer_auth("bob-token")
        .send()
        .await
        .unwrap();
    assert_eq!(
        named.headers()["content-disposition"],
        "attachment; filename=\"other.bin\""
    );
    assert!(named.bytes().await.unwrap() == bytes);

    // The same bytes again (through the r0 path) get a new ID but are stored once.
    let again = send(
        &server,
        Method::POST,
        "/_matrix/media/r0/upload",
        Some("bob-token"),
        Some("application/octet-stream"),
        Some(bytes.clone()),
    )
    .await;
    assert_eq!(again.status, 200);
    let second = again.json()["content_uri"].as_str().unwrap().to_owned();
    assert_ne!(second, mxc);
    assert!(download(&server, Some("alice-token"), &second).await.body == bytes);
    assert_eq!(stored_blob_count(server._data_dir.path()), 1);
    server.stop().await;
}
both_backends!(upload_and_download_return_identical_bytes_stored_once);

async fn uploaded_media_survives_a_restart(backend: Backend) {
    let db = crate::common::fresh_db(backend).await;
    let data_dir = tempfile::tempdir().unwrap();
    let config = crate::common::test_config(data_dir.path(), &db.url);
    let server = hearth::start(config.clone()).await.unwrap();
    let storage = db.connect().await;
    let harness = crate::common::TestServer {
        server,
        storage,
        _db: db,
        http: reqwest::Client::new(),
        _data_dir: data_dir,
    };
    seed_users(&harness).await;
    let bytes = noise(5_000);
    let mxc = upload(&harness, "alice-token", "image/png", bytes.clone()).await;
    let crate::common::TestServer {
        server,
        storage,
        _db,
        http,
        _data_dir,
    } = harness;
    server.shutdown().await;
    let server = hearth::start(config).await.unwrap();
    let harness = crate::common::TestServer {
        server,
        storage,
        _db,
        http,
        _data_dir,
    };
    let got = download(&harness, Some("bob-token"), &mxc).await;
    assert_eq!(got.status, 200);
    assert!(got.body == bytes);
    harness.stop().await;
}
both_backends!(uploaded_media_survives_a_restart);

async fn uploads_over_the_limit_are_refused_with_m_too_large(backend: Backend) {
    let server = start(backend, |config| config.media.max_upload_bytes = 1_000).await;
    seed_users(&server).await;
    let answer = send(
        &server,
        Method::POST,
        "/_matrix/media/v3/upload",
        Some("alice-token"),
        Some("application/octet-stream"),
        Some(noise(1_001)),
    )
    .await;
    assert_error(&answer, 413, "M_TOO_LARGE");
    let config = send(
        &server,
        Method::GET,
        "/_matrix/client/v1/media/config",
        Some("alice-token"),
        None,
        None,
    )
    .await;
    assert_eq!(config.json()["m.upload.size"], 1_000);
    // Exactly the limit is fine; nothing of the refused upload was kept.
    upload(
        &server,
        "alice-token",
        "application/octet-stream",
        noise(1_000),
    )
    .await;
    assert_eq!(stored_blob_count(server._data_dir.path()), 1);
    let leftovers = std::fs::read_dir(server._data_dir.path().join("media/tmp"))
        .unwrap()
        .count();
    assert_eq!(leftovers, 0);
    server.stop().await;
}
both_backends!(uploads_over_the_limit_are_refused_with_m_too_large);

async fn per_user_quota_refuses_with_m_forbidden(backend: Backend) {
    let server = start(backend, |config| config.media.max_user_bytes = 1_500).await;
    seed_users(&server).await;
    upload(&server, "alice-token", "text/plain", noise(1_000)).await;
    let answer = send(
        &server,
        Method::POST,
        "/_matrix/media/v3/upload",
        Some("alice-token"),
        Some("text/plain"),
        Some(noise(1_000)),
    )
    .await;
    assert_error(&answer, 403, "M_FORBIDDEN");
    // Bob's quota is his own.
    upload(&server, "bob-token", "text/plain", noise(1_000)).await;
    server.stop().await;
}
both_backends!(per_user_quota_refuses_with_m_forbidden);

async fn media_endpoints_require_a_valid_access_token(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let mxc = upload(&server, "alice-token", "text/plain", b"hello".to_vec()).await;
    assert_error(&download(&server, None, &mxc).await, 401, "M_MISSING_TOKEN");
    assert_error(
        &download(&server, Some("wrong-token"), &mxc).await,
        401,
        "M_UNKNOWN_TOKEN",
    );
    for (method, path) in [
        (Method::POST, "/_matrix/media/v3/upload".to_owned()),
        (Method::POST, "/_matrix/media/v1/create".to_owned()),
        (Method::GET, "/_matrix/client/v1/media/config".to_owned()),
        (
            Method::GET,
            format!(
                "/_matrix/client/v1/media/thumbnail/{}?width=32&height=32",
                mxc_path(&mxc)
            ),
        ),
    ] {
        let answer = send(&server, method, &path, None, Some("text/plain"), None).await;
        assert_error(&answer, 401, "M_MISSING_TOKEN");
    }
    server.stop().await;
}
both_backends!(media_endpoints_require_a_valid_access_token);

async fn unknown_and_malformed_media_ids_are_not_found(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    for mxc in [
        "mxc://hearth.test/doesNotExist",
        "mxc://hearth.test/bad.id",
        "mxc://not a server/abc",
        "mxc://remote.test/abc",
    ] {
        let answer = download(&server, Some("alice-token"), &mxc.replace(' ', "%20")).await;
        assert_error(&answer, 404, "M_NOT_FOUND");
    }
    let answer = send(
        &server,
        Method::GET,
        "/_matrix/client/v1/media/thumbnail/hearth.test/doesNotExist?width=32&height=32",
        Some("alice-token"),
        None,
        None,
    )
    .await;
    assert_error(&answer, 404, "M_NOT_FOUND");
    server.stop().await;
}
both_backends!(unknown_and_malformed_media_ids_are_not_found);

async fn asynchronous_upload_follows_the_spec(backend: Backend) {
    let server = start(backend, |config| config.media.max_pending_uploads = 2).await;
    seed_users(&server).await;
    let created = send(
        &server,
        Method::POST,
        "/_matrix/media/v1/create",
        Some("alice-token"),
        None,
        None,
    )
    .await;
    assert_eq!(created.status, 200);
    let mxc = created.json()["content_uri"].as_str().unwrap().to_owned();
    assert!(created.json()["unused_expires_at"].as_i64().unwrap() > 0);
    let path = format!("/_matrix/media/v3/upload/{}", mxc_path(&mxc));

    // Not uploaded yet: a short wait ends in 504 M_NOT_YET_UPLOADED.
    let waiting = send(
        &server,
        Method::GET,
        &format!(
            "/_matrix/client/v1/media/download/{}?timeout_ms=100",
            mxc_path(&mxc)
        ),
        Some("bob-token"),
        None,
        None,
    )
    .await;
    assert_error(&waiting, 504, "M_NOT_YET_UPLOADED");

    // A download that waits gets the content as soon as it is uploaded.
    let waiter = {
        let http = server.http.clone();
        let url = server.url(&format!(
            "/_matrix/client/v1/media/download/{}?timeout_ms=10000",
            mxc_path(&mxc)
        ));
        tokio::spawn(async move {
            let response = http.get(url).bearer_auth("bob-token").send().await.unwrap();
            (response.status().as_u16(), response.bytes().await.unwrap())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Only the creator may upload.
    let by_bob = send(
        &server,
        Method::PUT,
        &path,
        Some("bob-token"),
        Some("text/plain"),
        Some(b"x".to_vec()),
    )
    .await;
    assert_error(&by_bob, 403, "M_FORBIDDEN");
    let put = send(
        &server,
        Method::PUT,
        &format!("{path}?filename=late.txt"),
        Some("alice-token"),
        Some("text/plain"),
        Some(b"late content".to_vec()),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.json());
    let (status, body) = waiter.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(&body[..], b"late content");

    // Uploading again is refused; unknown IDs are not found.
    let again = send(
        &server,
        Method::PUT,
        &path,
        Some("alice-token"),
        Some("text/plain"),
        Some(b"other".to_vec()),
    )
    .await;
    assert_error(&again, 409, "M_CANNOT_OVERWRITE_MEDIA");
    let unknown = send(
        &server,
        Method::PUT,
        "/_matrix/media/v3/upload/hearth.test/neverCreated",
        Some("alice-token"),
        Some("text/plain"),
        Some(b"x".to_vec()),
    )
    .await;
    assert_error(&unknown, 404, "M_NOT_FOUND");

    // At most max_pending_uploads unused IDs per user.
    for _ in 0..2 {
        let ok = send(
            &server,
            Method::POST,
            "/_matrix/media/v1/create",
            Some("alice-token"),
            None,
            None,
        )
        .await;
        assert_eq!(ok.status, 200);
    }
    let too_many = send(
        &server,
        Method::POST,
        "/_matrix/media/v1/create",
        Some("alice-token"),
        None,
        None,
    )
    .await;
    assert_error(&too_many, 429, "M_LIMIT_EXCEEDED");
    server.stop().await;
}
both_backends!(asynchronous_upload_follows_the_spec);

async fn legacy_endpoints_serve_only_media_from_before_the_freeze(backend: Backend) {
    // With authenticated media enforced, new media is not served unauthenticated.
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let mxc = upload(&server, "alice-token", "text/plain", b"frozen".to_vec()).await;
    let legacy = send(
        &server,
        Method::GET,
        &format!("/_matrix/media/v3/download/{}", mxc_path(&mxc)),
        None,
        None,
        None,
    )
    .await;
    assert_error(&legacy, 404, "M_NOT_FOUND");
    let config = send(
        &server,
        Method::GET,
        "/_matrix/media/v3/config",
        Some("alice-token"),
        None,
        None,
    )
    .await;
    assert_eq!(config.status, 200);
    server.stop().await;

    // Media created while enforcement is off stays available there.
    let server = start(backend, |config| {
        config.media.enable_authenticated_media = false
    })
    .await;
    seed_users(&server).await;
    let mxc = upload(&server, "alice-token", "text/plain", b"open".to_vec()).await;
    for prefix in ["/_matrix/media/v3", "/_matrix/media/r0"] {
        let legacy = send(
            &server,
            Method::GET,
            &format!("{prefix}/download/{}", mxc_path(&mxc)),
            None,
            None,
            None,
        )
        .await;
        assert_eq!(legacy.status, 200);
        assert_eq!(&legacy.body[..], b"open");
    }
    server.stop().await;
}
both_backends!(legacy_endpoints_serve_only_media_from_before_the_freeze);
