//! Media between two Hearths over real TLS federation: the `/_matrix/federation/v1/media/*` answers (two-part
//! `multipart/mixed`, X-Matrix only, 404 for unknown and quarantined media), a user of one server downloading
//! and thumbnailing media of the other with identical bytes, the cache surviving the origin going away, and
//! `hearth admin media purge-remote` removing the cached copies.

use hearth::storage::Backend;
use hearth_crypto::SigningKey;
use hearth_federation::auth::sign_request;
use hearth_federation::media::multipart::{self, HeadReader};
use hearth_types::ServerName;
use image::ImageFormat;
use reqwest::Method;
use serde_json::Value;

use crate::cli::{admin, config_file};
use crate::common::{TestServer, start};
use crate::thumbnails::{dimensions, image_bytes};
use crate::{
    Answer, assert_error, both_backends, mxc_path, noise, send, stored_blob_count, upload,
};

/// A Hearth named `127.0.0.1:<federation port>`, so other servers reach it by name; alice and bob seeded.
async fn named_server(backend: Backend) -> (TestServer, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let name = format!("127.0.0.1:{port}");
    let server = start(backend, |config| {
        config.server_name = name.clone();
        config.federation.enabled = true;
        config.listen.federation = format!("127.0.0.1:{port}").parse().unwrap();
        config.federation.verify_peer_certificates = false;
        config.federation.allowed_ip_ranges = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    for (user, token) in [("alice", "alice-token"), ("bob", "bob-token")] {
        crate::seed::user_with_token(&server.storage, &format!("@{user}:{name}"), token).await;
    }
    (server, name)
}

/// A server's signing key, read from its data directory.
fn signing_key(server: &TestServer) -> SigningKey {
    let file = std::fs::read_to_string(server._data_dir.path().join("signing.key")).unwrap();
    hearth_crypto::keys::decode_key_file(&file).unwrap()
}

/// `GET path` on `to`'s federation listener, signed as `from` (or unsigned).
async fn federation_get(
    to: (&TestServer, &str),
    from: Option<(&TestServer, &str)>,
    path: &str,
) -> Answer {
    let https = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let address = to.0.server.federation_addr.expect("federation runs");
    let mut request = https.get(format!("https://{address}{path}"));
    if let Some((origin, origin_name)) = from {
        let header = sign_request(
            &signing_key(origin),
            &ServerName::parse(origin_name).unwrap(),
            &ServerName::parse(to.1).unwrap(),
            "GET",
            path,
            None,
        )
        .unwrap();
        request = request.header("authorization", header.to_header_value());
    }
    let response = request.send().await.expect("answered");
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

fn media_id(mxc: &str) -> &str {
    mxc_path(mxc).split_once('/').unwrap().1
}

async fn federation_media_endpoints_answer_signed_requests_with_two_parts(backend: Backend) {
    let (origin, origin_name) = named_server(backend).await;
    let (asker, asker_name) = named_server(backend).await;
    let text = send(
        &origin,
        Method::POST,
        "/_matrix/media/v3/upload?filename=notes.txt",
        Some("alice-token"),
        Some("text/plain"),
        Some(b"hello over federation\r\n--not a boundary".to_vec()),
    )
    .await
    .json()["content_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/_matrix/federation/v1/media/download/{}", media_id(&text));

    let answer = federation_get((&origin, &origin_name), Some((&asker, &asker_name)), &path).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let content_type = answer.header("content-type").unwrap();
    let boundary = multipart::boundary(content_type).expect("multipart/mixed with a boundary");
    assert_eq!(
        String::from_utf8(answer.body.clone()).unwrap(),
        format!(
            "--{boundary}\r\nContent-Type: application/json\r\n\r\n{{}}\r\n--{boundary}\r\n\
             Content-Type: text/plain\r\nContent-Disposition: inline; filename=\"notes.txt\"\r\n\r\n\
             hello over federation\r\n--not a boundary\r\n--{boundary}--\r\n"
        )
    );
    assert_eq!(
        answer.header("content-length"),
        Some(answer.body.len().to_string().as_str())
    );

    let unsigned = federation_get((&origin, &origin_name), None, &path).await;
    assert_error(&unsigned, 401, "M_UNAUTHORIZED");
    let unknown = federation_get(
        (&origin, &origin_name),
        Some((&asker, &asker_name)),
        "/_matrix/federation/v1/media/download/nothingHere",
    )
    .await;
    assert_error(&unknown, 404, "M_NOT_FOUND");

    let picture = upload(
        &origin,
        "alice-token",
        "image/png",
        image_bytes(400, 300, ImageFormat::Png),
    )
    .await;
    let thumbnail_path = format!(
        "/_matrix/federation/v1/media/thumbnail/{}?width=96&height=96&method=crop",
        media_id(&picture)
    );
    let answer = federation_get(
        (&origin, &origin_name),
        Some((&asker, &asker_name)),
        &thumbnail_path,
    )
    .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let boundary = multipart::boundary(answer.header("content-type").unwrap()).unwrap();
    let mut head = HeadReader::new(&boundary)
        .push(&answer.body)
        .unwrap()
        .expect("complete");
    assert_eq!(head.part.metadata, serde_json::json!({}));
    assert_eq!(head.part.content_type.as_deref(), Some("image/png"));
    assert!(head.content.is_done());
    let thumbnail = Answer {
        status: 200,
        headers: Default::default(),
        body: std::mem::take(&mut head.first_content),
    };
    assert_eq!(dimensions(&thumbnail), (96, 96));
    let missing_width = federation_get(
        (&origin, &origin_name),
        Some((&asker, &asker_name)),
        &format!(
            "/_matrix/federation/v1/media/thumbnail/{}?height=96",
            media_id(&picture)
        ),
    )
    .await;
    assert_error(&missing_width, 400, "M_MISSING_PARAM");

    origin
        .storage
        .set_media_quarantined(&origin_name, media_id(&text), true)
        .await
        .unwrap();
    let quarantined =
        federation_get((&origin, &origin_name), Some((&asker, &asker_name)), &path).await;
    assert_error(&quarantined, 404, "M_NOT_FOUND");
    asker.stop().await;
    origin.stop().await;
}
both_backends!(federation_media_endpoints_answer_signed_requests_with_two_parts);

async fn a_user_downloads_and_thumbnails_media_of_another_hearth_which_is_cached_and_purged(
    backend: Backend,
) {
    let (origin, _) = named_server(backend).await;
    let (home, _) = named_server(backend).await;
    let document = noise(300_000);
    let file = send(
        &origin,
        Method::POST,
        "/_matrix/media/v3/upload?filename=Bericht%20M%C3%A4rz.pdf",
        Some("alice-token"),
        Some("application/pdf"),
        Some(document.clone()),
    )
    .await
    .json()["content_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let picture = upload(
        &origin,
        "alice-token",
        "image/png",
        image_bytes(400, 300, ImageFormat::Png),
    )
    .await;

    let download = |mxc: String| {
        let home = &home;
        async move {
            send(
                home,
                Method::GET,
                &format!("/_matrix/client/v1/media/download/{}", mxc_path(&mxc)),
                Some("bob-token"),
                None,
                None,
            )
            .await
        }
    };
    let got = download(file.clone()).await;
    assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));
    assert_eq!(got.body, document);
    assert_eq!(got.header("content-type"), Some("application/pdf"));
    assert!(
        got.header("content-disposition")
            .unwrap()
            .ends_with("filename*=utf-8''Bericht%20M%C3%A4rz.pdf")
    );
    let thumbnail = send(
        &home,
        Method::GET,
        &format!(
            "/_matrix/client/v1/media/thumbnail/{}?width=96&height=96&method=crop",
            mxc_path(&picture)
        ),
        Some("bob-token"),
        None,
        None,
    )
    .await;
    assert_eq!(dimensions(&thumbnail), (96, 96));

    // The origin goes away; the cached copy is still served.
    origin.stop().await;
    let cached = download(file.clone()).await;
    assert_eq!(cached.status, 200);
    assert_eq!(cached.body, document);
    assert_eq!(stored_blob_count(home._data_dir.path()), 2);

    let (ok, out, err) = admin(&config_file(&home), &["purge-remote", "--older-than", "0s"]);
    assert!(ok, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["purged_remote"],
        2
    );
    assert_eq!(stored_blob_count(home._data_dir.path()), 0);
    assert_error(&download(file).await, 502, "M_UNKNOWN");
    home.stop().await;
}
both_backends!(a_user_downloads_and_thumbnails_media_of_another_hearth_which_is_cached_and_purged);
