//! The whole outbound path of a running server: a message sent over the client API reaches a peer (a TLS
//! server on loopback standing in for another homeserver) as `PUT /_matrix/federation/v1/send/{txnId}` whose
//! X-Matrix signature verifies with the key the server publishes, with exactly `Content-Type: application/json`.

use std::collections::HashMap;
use std::time::Duration;

use hearth::storage::Backend;
use hearth_crypto::VerifyKey;
use hearth_federation::auth::authenticate_request;
use hearth_types::ServerName;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::both_backends;
use crate::common::start;

/// One request the fake peer received.
struct Received {
    method: String,
    target: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// A TLS server on 127.0.0.1 (Hearth's own self-signed certificate set-up) that answers every request with
/// `{"pdus": {}}` and reports it.
async fn fake_peer(dir: &std::path::Path) -> (u16, mpsc::UnboundedReceiver<Received>) {
    let config = hearth::Config {
        server_name: "127.0.0.1".into(),
        data_dir: dir.to_owned(),
        ..hearth::Config::default()
    };
    let acceptor = hearth::tls::federation_tls_acceptor(&config).expect("TLS for the fake peer");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut data = Vec::new();
                let mut buf = [0u8; 8192];
                let head_end = loop {
                    if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i;
                    }
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => data.extend_from_slice(&buf[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
                let mut lines = head.split("\r\n");
                let mut request_line = lines.next().unwrap_or_default().split(' ');
                let method = request_line.next().unwrap_or_default().to_owned();
                let target = request_line.next().unwrap_or_default().to_owned();
                let headers: HashMap<String, String> = lines
                    .filter_map(|line| line.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                let length: usize = headers
                    .get("content-length")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0);
                let mut body = data[head_end + 4..].to_vec();
                while body.len() < length {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => body.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tx.send(Received {
                    method,
                    target,
                    headers,
                    body,
                });
                let answer = "{\"pdus\":{}}";
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, rx)
}

async fn a_local_message_reaches_a_peer_as_a_signed_transaction(backend: Backend) {
    let peer_dir = tempfile::tempdir().unwrap();
    let (peer_port, mut received) = fake_peer(peer_dir.path()).await;
    let peer = ServerName::parse(&format!("127.0.0.1:{peer_port}")).unwrap();
    let server = start(backend, |config| {
        config.federation.enabled = true;
        config.listen.federation = "127.0.0.1:0".parse().unwrap();
        config.federation.verify_peer_certificates = false;
        config.federation.allowed_ip_ranges = vec!["127.0.0.0/8".parse().unwrap()];
        config.registration.open = true;
        config.registration.token_required = false;
    })
    .await;
    let token = server
        .register_open("alice", "a long enough password")
        .await;
    let (status, created) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/createRoom",
            Some(&token),
            Some(&json!({"preset": "public_chat"})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let room_id = created["room_id"].as_str().unwrap().to_owned();
    // A user of the peer is in the room (in production their join arrives over federation).
    server
        ._db
        .raw_execute(&format!(
            "INSERT INTO room_memberships (room_id, user_id, membership, event_id, sender, \
             stream_ordering, forgotten) VALUES ('{room_id}', '@bob:{peer}', 'join', '$x', \
             '@bob:{peer}', 0, FALSE)"
        ))
        .await;
    let encoded = url::form_urlencoded::byte_serialize(room_id.as_bytes()).collect::<String>();
    let (status, sent) = server
        .call(
            Method::PUT,
            &format!("/_matrix/client/v3/rooms/{encoded}/send/m.room.message/t1"),
            Some(&token),
            Some(&json!({"msgtype": "m.text", "body": "over the wire"})),
        )
        .await;
    assert_eq!(status, 200, "{sent}");

    // The transaction carrying the message (earlier ones may carry the room's creation).
    let mut found = None;
    while found.is_none() {
        let request = tokio::time::timeout(Duration::from_secs(20), received.recv())
            .await
            .expect("a transaction within 20 s")
            .expect("the peer is running");
        let body: Value = serde_json::from_slice(&request.body).expect("JSON body");
        let carries = body["pdus"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|pdu| pdu["content"]["body"] == "over the wire");
        if carries {
            found = Some((request, body));
        }
    }
    let (request, body) = found.unwrap();
    assert_eq!(request.method, "PUT");
    assert!(
        request.target.starts_with("/_matrix/federation/v1/send/"),
        "{}",
        request.target
    );
    assert_eq!(
        request.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    assert_eq!(body["origin"], "hearth.test");

    // The signature verifies with the key the server publishes.
    let (status, keys) = server
        .call(Method::GET, "/_matrix/key/v2/server", None, None)
        .await;
    assert_eq!(status, 200);
    let key = keys["verify_keys"]
        .as_object()
        .and_then(|keys| keys.values().next())
        .and_then(|key| key["key"].as_str())
        .expect("a published key");
    let verify_key = VerifyKey::from_base64(key).expect("key decodes");
    let origin = authenticate_request(
        &request.method,
        &request.target,
        Some(&body),
        request
            .headers
            .get("authorization")
            .map_or("", String::as_str),
        &peer,
        |_, _| async move { Some(verify_key) },
    )
    .await
    .expect("X-Matrix verifies");
    assert_eq!(origin.as_str(), "hearth.test");
    server.stop().await;
}
both_backends!(a_local_message_reaches_a_peer_as_a_signed_transaction);
