//! Remote media fetched for local users from a fake origin: the federation endpoint's multipart answer, a
//! `Location` part, the legacy fallback for old servers, unknown media, too-large files, unreachable origins,
//! one fetch for concurrent requests, the cache, and remote thumbnails.

use std::sync::Arc;
use std::time::Duration;

use hearth::storage::Backend;
use reqwest::Method;

use image::ImageFormat;

use crate::origin::{Origin, Reply, fetching_server};
use crate::thumbnails::{dimensions, image_bytes};
use crate::{assert_error, both_backends, noise, send, stored_blob_count};

fn is_download(target: &str) -> bool {
    target.starts_with("/_matrix/federation/v1/media/download/")
}

async fn client_download(
    server: &crate::common::TestServer,
    origin: &str,
    media_id: &str,
) -> crate::Answer {
    send(
        server,
        Method::GET,
        &format!("/_matrix/client/v1/media/download/{origin}/{media_id}"),
        Some("bob-token"),
        None,
        None,
    )
    .await
}

async fn remote_media_is_fetched_once_for_concurrent_requests_and_then_served_from_the_cache(
    backend: Backend,
) {
    let content = noise(200_000);
    let served = content.clone();
    let origin = Origin::start(Arc::new(move |target| {
        if is_download(target) {
            Reply::multipart("application/pdf", "attachment; filename=\"r.pdf\"", &served)
                .after(Duration::from_millis(300))
        } else {
            Reply::error(404, "M_NOT_FOUND")
        }
    }))
    .await;
    let server = fetching_server(backend, 1_000_000).await;

    let downloads = (0..3).map(|_| client_download(&server, &origin.name, "remoteFile"));
    for answer in futures_util::future::join_all(downloads).await {
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        assert_eq!(answer.body, content);
        assert_eq!(answer.header("content-type"), Some("application/pdf"));
        assert_eq!(
            answer.header("content-disposition"),
            Some("attachment; filename=\"r.pdf\"")
        );
    }
    let again = client_download(&server, &origin.name, "remoteFile").await;
    assert_eq!(again.body, content);
    let targets = origin.targets();
    assert_eq!(targets.len(), 1, "{targets:?}");
    assert!(
        targets[0].starts_with("/_matrix/federation/v1/media/download/remoteFile?timeout_ms="),
        "{targets:?}"
    );
    let record = server
        .storage
        .get_media(&origin.name, "remoteFile")
        .await
        .unwrap()
        .expect("cached");
    assert!(record.is_remote);
    assert_eq!(record.size, Some(200_000));
    assert_eq!(stored_blob_count(server._data_dir.path()), 1);
    // The cached copy is not served to the unauthenticated legacy endpoints (authenticated media).
    let legacy = send(
        &server,
        Method::GET,
        &format!("/_matrix/media/v3/download/{}/remoteFile", origin.name),
        None,
        None,
        None,
    )
    .await;
    assert_error(&legacy, 404, "M_NOT_FOUND");
    // ... and they never make the server fetch anything.
    let uncached = send(
        &server,
        Method::GET,
        &format!("/_matrix/media/v3/download/{}/neverFetched", origin.name),
        None,
        None,
        None,
    )
    .await;
    assert_error(&uncached, 404, "M_NOT_FOUND");
    assert_eq!(origin.targets().len(), 1);
    server.stop().await;
}
both_backends!(remote_media_is_fetched_once_for_concurrent_requests_and_then_served_from_the_cache);

async fn a_location_part_is_followed_with_a_plain_get(backend: Backend) {
    let content = noise(5_000);
    let served = content.clone();
    let name = Arc::new(std::sync::OnceLock::<String>::new());
    let own_name = name.clone();
    let origin = Origin::start(Arc::new(move |target| {
        if is_download(target) {
            let me = own_name.get().cloned().unwrap_or_default();
            Reply::multipart_location(&format!("https://{me}/cdn/blob"))
        } else if target == "/cdn/blob" {
            Reply::plain(
                "image/png",
                "inline; filename*=utf-8''Gr%C3%BC%C3%9Fe.png",
                &served,
            )
        } else {
            Reply::error(404, "M_NOT_FOUND")
        }
    }))
    .await;
    name.set(origin.name.clone()).unwrap();
    let server = fetching_server(backend, 1_000_000).await;
    let answer = client_download(&server, &origin.name, "redirected").await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.body, content);
    assert_eq!(answer.header("content-type"), Some("image/png"));
    assert!(
        answer
            .header("content-disposition")
            .unwrap()
            .contains("filename*=utf-8''Gr%C3%BC%C3%9Fe.png")
    );
    assert_eq!(origin.targets().len(), 2);
    server.stop().await;
}
both_backends!(a_location_part_is_followed_with_a_plain_get);

async fn servers_without_federation_media_are_asked_at_the_legacy_endpoint(backend: Backend) {
    let content = noise(10_000);
    let served = content.clone();
    let origin = Origin::start(Arc::new(move |target| {
        if target.starts_with("/_matrix/federation/v1/media/") {
            Reply::error(404, "M_UNRECOGNIZED")
        } else if target.starts_with("/_matrix/media/v3/download/") {
            Reply::plain("text/plain", "inline; filename=\"old.txt\"", &served)
        } else {
            Reply::error(404, "M_NOT_FOUND")
        }
    }))
    .await;
    let server = fetching_server(backend, 1_000_000).await;
    let answer = client_download(&server, &origin.name, "oldServer").await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.body, content);
    assert_eq!(
        answer.header("content-disposition"),
        Some("inline; filename=\"old.txt\"")
    );
    let targets = origin.targets();
    assert_eq!(targets.len(), 2, "{targets:?}");
    assert!(
        targets[1].starts_with(&format!(
            "/_matrix/media/v3/download/{}/oldServer?allow_remote=false&allow_redirect=true&timeout_ms=",
            origin.name
        )),
        "{targets:?}"
    );
    server.stop().await;
}
both_backends!(servers_without_federation_media_are_asked_at_the_legacy_endpoint);

async fn unknown_too_large_and_unreachable_remote_media_fail_without_caching(backend: Backend) {
    let origin = Origin::start(Arc::new(|target| {
        if target.starts_with("/_matrix/federation/v1/media/download/big") {
            Reply::multipart("application/octet-stream", "attachment", &noise(3_000))
        } else {
            Reply::error(404, "M_NOT_FOUND")
        }
    }))
    .await;
    let server = fetching_server(backend, 2_000).await;

    assert_error(
        &client_download(&server, &origin.name, "missing").await,
        404,
        "M_NOT_FOUND",
    );
    // A real "not found" is not mistaken for an old server: no legacy request.
    assert_eq!(origin.targets().len(), 1);

    assert_error(
        &client_download(&server, &origin.name, "big").await,
        502,
        "M_TOO_LARGE",
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    assert_error(
        &client_download(&server, &dead, "x").await,
        502,
        "M_UNKNOWN",
    );

    assert!(
        server
            .storage
            .get_media(&origin.name, "big")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(stored_blob_count(server._data_dir.path()), 0);
    let temporary = std::fs::read_dir(server._data_dir.path().join("media/tmp"))
        .unwrap()
        .count();
    assert_eq!(temporary, 0, "partial downloads are removed");
    server.stop().await;
}
both_backends!(unknown_too_large_and_unreachable_remote_media_fail_without_caching);

async fn a_slow_origin_is_cut_off_with_502(backend: Backend) {
    let origin = Origin::start(Arc::new(|_| {
        Reply::multipart("text/plain", "inline", b"late").after(Duration::from_secs(30))
    }))
    .await;
    let server = fetching_server(backend, 1_000).await;
    let started = std::time::Instant::now();
    let answer = send(
        &server,
        Method::GET,
        &format!(
            "/_matrix/client/v1/media/download/{}/slow?timeout_ms=0",
            origin.name
        ),
        Some("bob-token"),
        None,
        None,
    )
    .await;
    assert_error(&answer, 502, "M_UNKNOWN");
    assert!(started.elapsed() < Duration::from_secs(15));
    server.stop().await;
}
both_backends!(a_slow_origin_is_cut_off_with_502);

async fn remote_thumbnails_are_asked_of_the_origin_and_cached(backend: Backend) {
    let thumbnail = image_bytes(96, 96, ImageFormat::Png);
    let served = thumbnail.clone();
    let origin = Origin::start(Arc::new(move |target| {
        if target.starts_with("/_matrix/federation/v1/media/thumbnail/pic?") {
            Reply::multipart("image/png", "inline; filename=\"thumbnail.png\"", &served)
        } else {
            Reply::error(404, "M_NOT_FOUND")
        }
    }))
    .await;
    let server = fetching_server(backend, 1_000_000).await;
    let path = format!(
        "/_matrix/client/v1/media/thumbnail/{}/pic?width=90&height=90&method=crop",
        origin.name
    );
    for _ in 0..2 {
        let answer = send(&server, Method::GET, &path, Some("bob-token"), None, None).await;
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        assert_eq!(answer.body, thumbnail);
        assert_eq!(answer.header("content-type"), Some("image/png"));
    }
    let targets = origin.targets();
    assert_eq!(targets.len(), 1, "{targets:?}");
    // The box asked for is the spec's default size the request falls into.
    assert!(
        targets[0].starts_with(
            "/_matrix/federation/v1/media/thumbnail/pic?width=96&height=96&method=crop"
        ),
        "{targets:?}"
    );
    // The original was never fetched: only a row for the thumbnails exists.
    let record = server
        .storage
        .get_media(&origin.name, "pic")
        .await
        .unwrap()
        .unwrap();
    assert!(record.is_remote && record.sha256.is_none());
    assert_error(
        &client_download(&server, &origin.name, "pic").await,
        404,
        "M_NOT_FOUND",
    );
    server.stop().await;
}
both_backends!(remote_thumbnails_are_asked_of_the_origin_and_cached);

async fn a_thumbnail_is_generated_locally_when_the_origin_cannot_make_one(backend: Backend) {
    let original = image_bytes(400, 300, ImageFormat::Png);
    let served = original.clone();
    let origin = Origin::start(Arc::new(move |target| {
        if is_download(target) {
            Reply::multipart("image/png", "inline", &served)
        } else {
            Reply::error(500, "M_UNKNOWN")
        }
    }))
    .await;
    let server = fetching_server(backend, 1_000_000).await;
    assert_eq!(
        client_download(&server, &origin.name, "photo").await.status,
        200
    );
    let answer = send(
        &server,
        Method::GET,
        &format!(
            "/_matrix/client/v1/media/thumbnail/{}/photo?width=32&height=32&method=crop",
            origin.name
        ),
        Some("bob-token"),
        None,
        None,
    )
    .await;
    assert_eq!(dimensions(&answer), (32, 32));
    assert!(origin.targets()[1].starts_with("/_matrix/federation/v1/media/thumbnail/photo?"));

    // Without a cached original the origin's failure is the answer.
    let failed = send(
        &server,
        Method::GET,
        &format!(
            "/_matrix/client/v1/media/thumbnail/{}/other?width=32&height=32",
            origin.name
        ),
        Some("bob-token"),
        None,
        None,
    )
    .await;
    assert_error(&failed, 502, "M_UNKNOWN");
    server.stop().await;
}
both_backends!(a_thumbnail_is_generated_locally_when_the_origin_cannot_make_one);
