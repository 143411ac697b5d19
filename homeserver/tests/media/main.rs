//! The media repository over real HTTP on both backends: uploads (direct and asynchronous) and downloads with
//! identical bytes, thumbnails of PNG/JPEG/WebP/GIF, limits and quotas, authentication, unknown IDs,
//! quarantine, decompression bombs, crafted file names, safe headers, the legacy endpoints, the admin CLI, and
//! media over federation (served to other servers, fetched from a fake origin and between two Hearths).

#[allow(dead_code)]
#[path = "../accounts/common.rs"]
mod common;

#[path = "../user_data/seed.rs"]
mod seed;

mod cli;
mod federation;
mod origin;
mod remote;
mod safety;
mod thumbnails;
mod transfer;

use common::TestServer;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// Seeds alice (token `alice-token`) and bob (token `bob-token`).
pub async fn seed_users(server: &TestServer) {
    for (user_id, token) in [
        ("@alice:hearth.test", "alice-token"),
        ("@bob:hearth.test", "bob-token"),
    ] {
        seed::user_with_token(&server.storage, user_id, token).await;
    }
}

/// A raw HTTP answer.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON (errors and upload answers).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends `method path` with an optional token, content type and body.
pub async fn send(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Option<Vec<u8>>,
) -> Answer {
    let mut request = server.http.request(method, server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request.send().await.expect("request is answered");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("body reads").to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

/// Uploads `bytes` as `token` and returns the `mxc://` URI.
pub async fn upload(
    server: &TestServer,
    token: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> String {
    let answer = send(
        server,
        reqwest::Method::POST,
        "/_matrix/media/v3/upload",
        Some(token),
        Some(content_type),
        Some(bytes),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.json());
    answer.json()["content_uri"]
        .as_str()
        .expect("content_uri")
        .to_owned()
}

/// `server/mediaId` of an `mxc://` URI.
pub fn mxc_path(mxc: &str) -> &str {
    mxc.strip_prefix("mxc://").expect("an mxc URI")
}

/// Downloads through the authenticated endpoint as `token`.
pub async fn download(server: &TestServer, token: Option<&str>, mxc: &str) -> Answer {
    send(
        server,
        reqwest::Method::GET,
        &format!("/_matrix/client/v1/media/download/{}", mxc_path(mxc)),
        token,
        None,
        None,
    )
    .await
}

/// Asserts an error answer's status and errcode.
pub fn assert_error(answer: &Answer, status: u16, errcode: &str) {
    assert_eq!(
        answer.status,
        status,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.json()["errcode"], errcode);
}

/// Pseudo-random bytes (deterministic), so round trips compare more than zeros.
pub fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// Number of content files in the server's media store.
pub fn stored_blob_count(data_dir: &std::path::Path) -> usize {
    fn count(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| {
                        let path = entry.path();
                        if path.is_dir() { count(&path) } else { 1 }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    count(&data_dir.join("media/blobs"))
}
