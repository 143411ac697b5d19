//! Hostile input: HTML served as an attachment, crafted file names, a decompression bomb, quarantined media.

use hearth::storage::Backend;
use reqwest::Method;

use crate::common::start;
use crate::{assert_error, both_backends, download, mxc_path, seed_users, send, upload};

async fn html_is_served_as_an_attachment_in_a_sandbox(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    for content_type in ["text/html", "image/svg+xml", "application/javascript"] {
        let mxc = upload(
            &server,
            "alice-token",
            content_type,
            b"<script>alert(1)</script>".to_vec(),
        )
        .await;
        let got = download(&server, Some("bob-token"), &mxc).await;
        assert_eq!(got.status, 200);
        assert_eq!(
            got.header("content-disposition"),
            Some("attachment"),
            "{content_type}"
        );
        assert_eq!(got.header("x-content-type-options"), Some("nosniff"));
        let csp = got.header("content-security-policy").unwrap();
        assert!(
            csp.contains("sandbox") && csp.contains("script-src 'none'"),
            "{csp}"
        );
    }
    // Types on the spec's inline list are inline.
    let mxc = upload(&server, "alice-token", "image/png", b"x".to_vec()).await;
    assert_eq!(
        download(&server, Some("bob-token"), &mxc)
            .await
            .header("content-disposition"),
        Some("inline")
    );
    server.stop().await;
}
both_backends!(html_is_served_as_an_attachment_in_a_sandbox);

async fn crafted_file_names_are_sanitised_and_encoded(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let name = "we\"ird\r\nSet-Cookie: a=b/../..\\Grüße.html";
    let query: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    let answer = send(
        &server,
        Method::POST,
        &format!("/_matrix/media/v3/upload?filename={query}"),
        Some("alice-token"),
        Some("text/html"),
        Some(b"<b>hi</b>".to_vec()),
    )
    .await;
    assert_eq!(answer.status, 200);
    let mxc = answer.json()["content_uri"].as_str().unwrap().to_owned();
    let got = download(&server, Some("bob-token"), &mxc).await;
    assert_eq!(got.status, 200);
    assert!(got.header("set-cookie").is_none());
    assert_eq!(
        got.header("content-disposition"),
        Some(
            "attachment; filename=\"we_irdSet-Cookie: a=b_.._.._Gr__e.html\"; \
             filename*=utf-8''we%22irdSet-Cookie%3A%20a%3Db_.._.._Gr%C3%BC%C3%9Fe.html"
        )
    );
    // The same rules apply to the name in the download path.
    let got = send(
        &server,
        Method::GET,
        &format!(
            "/_matrix/client/v1/media/download/{}/..%2F..%2Fetc%2Fpasswd",
            mxc_path(&mxc)
        ),
        Some("bob-token"),
        None,
        None,
    )
    .await;
    assert_eq!(got.status, 200);
    assert_eq!(
        got.header("content-disposition"),
        Some("attachment; filename=\"_.._etc_passwd\"")
    );
    server.stop().await;
}
both_backends!(crafted_file_names_are_sanitised_and_encoded);

/// A valid 1x1 PNG whose header claims `width`×`height` pixels.
fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::DynamicImage::new_rgb8(1, 1)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let mut crc = 0xffff_ffffu32;
    for &byte in &bytes[12..29] {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    bytes[29..33].copy_from_slice(&(!crc).to_be_bytes());
    bytes
}

async fn decompression_bomb_is_refused_cleanly(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let bomb = png_bomb(100_000, 100_000);
    assert!(bomb.len() < 100);
    let mxc = upload(&server, "alice-token", "image/png", bomb.clone()).await;
    let answer = send(
        &server,
        Method::GET,
        &format!(
            "/_matrix/client/v1/media/thumbnail/{}?width=32&height=32&method=crop",
            mxc_path(&mxc)
        ),
        Some("bob-token"),
        None,
        None,
    )
    .await;
    assert_error(&answer, 413, "M_TOO_LARGE");
    // Under the pixel limit but over the decoder's allocation limit.
    let wide = upload(&server, "alice-token", "image/png", png_bomb(30_000, 1_000)).await;
    let answer = send(
        &server,
        Method::GET,
        &format!(
            "/_matrix/client/v1/media/thumbnail/{}?width=32&height=32",
            mxc_path(&wide)
        ),
        Some("bob-token"),
        None,
        None,
    )
    .await;
    assert!(matches!(answer.status, 400 | 413), "{}", answer.status);
    // The server is fine, and the file itself can still be downloaded.
    assert!(download(&server, Some("bob-token"), &mxc).await.body == bomb);
    server.stop().await;
}
both_backends!(decompression_bomb_is_refused_cleanly);

async fn quarantined_media_is_not_served(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let mxc = upload(&server, "alice-token", "image/png", b"secret".to_vec()).await;
    let (origin, media_id) = mxc_path(&mxc).split_once('/').unwrap();
    server
        .storage
        .set_media_quarantined(origin, media_id, true)
        .await
        .unwrap();
    assert_error(
        &download(&server, Some("bob-token"), &mxc).await,
        404,
        "M_NOT_FOUND",
    );
    let thumb = send(
        &server,
        Method::GET,
        &format!(
            "/_matrix/client/v1/media/thumbnail/{}?width=32&height=32",
            mxc_path(&mxc)
        ),
        Some("alice-token"),
        None,
        None,
    )
    .await;
    assert_error(&thumb, 404, "M_NOT_FOUND");
    server
        .storage
        .set_media_quarantined(origin, media_id, false)
        .await
        .unwrap();
    assert_eq!(download(&server, Some("bob-token"), &mxc).await.status, 200);
    server.stop().await;
}
both_backends!(quarantined_media_is_not_served);
