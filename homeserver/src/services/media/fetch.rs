//! [`FederationMediaSource`]: other servers' media fetched over federation for local users.
//!
//! `GET /_matrix/federation/v1/media/download|thumbnail/{mediaId}` through the signed federation client; the
//! `multipart/mixed` answer is read as it arrives ([`hearth_federation::media::multipart`]) and the content
//! streamed into a temporary file of the blob store, never held whole in memory. A `Location` part is followed
//! with a plain `GET` under the federation IP policy. Servers that predate the federation endpoints (404
//! `M_UNRECOGNIZED`, 404 without a Matrix error, 405) are asked at the legacy
//! `/_matrix/media/v3/download|thumbnail/{serverName}/{mediaId}?allow_remote=false&allow_redirect=true`.
//!
//! Bounds: the configured size limit on the content (a declared larger `Content-Length` is refused before
//! reading), 64 KiB for everything before it, and one deadline — the client's wait plus
//! `[media] remote_fetch_timeout` — over the whole fetch, redirects included.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use futures_util::{Stream, StreamExt};
use hearth_client_api::media::disposition;
use hearth_federation::client::{FederationClient, describe};
use hearth_federation::ip_policy::IpPolicy;
use hearth_federation::media::multipart::{self, ContentReader, HeadReader, MediaHead};
use hearth_federation::media::{self as wire, ThumbnailSpec};
use hearth_types::ServerName;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, LOCATION};

use super::error::MediaError;
use super::preview::{guarded_client, url_permitted};
use super::remote::{BoxFuture, RemoteContent, RemoteMediaSource, RemoteRequest};
use super::store::BlobStore;

/// Most bytes of an error answer read (to tell "unknown endpoint" from "unknown media").
const MAX_ERROR_BYTES: usize = 4096;

/// Fetches remote media through the federation client.
pub struct FederationMediaSource {
    client: Arc<FederationClient>,
    /// Plain HTTP(S) client for `Location` URLs: policy-filtered DNS, policy-checked redirects.
    plain: reqwest::Client,
    policy: IpPolicy,
    timeout: Duration,
}

impl std::fmt::Debug for FederationMediaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FederationMediaSource")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl FederationMediaSource {
    /// A source over `client`; `Location` URLs are fetched only at addresses `policy` permits, with
    /// certificates checked unless `verify_certificates` is false (tests, private federations). Each fetch
    /// gets the client's wait plus `timeout`.
    pub fn new(
        client: Arc<FederationClient>,
        policy: IpPolicy,
        verify_certificates: bool,
        timeout: Duration,
    ) -> Result<FederationMediaSource, MediaError> {
        let plain = guarded_client(
            &policy,
            timeout,
            verify_certificates,
            concat!("Hearth/", env!("CARGO_PKG_VERSION")),
        )
        .map_err(|e| MediaError::Internal(format!("remote media client: {e}")))?;
        Ok(FederationMediaSource {
            client,
            plain,
            policy,
            timeout,
        })
    }

    async fn fetch_now(
        &self,
        origin: &ServerName,
        media_id: &str,
        request: RemoteRequest,
        (wait, deadline): (Duration, Duration),
        limit: u64,
        store: &BlobStore,
    ) -> Result<RemoteContent, MediaError> {
        let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        let path = match request {
            RemoteRequest::Content => wire::download_path(media_id, wait_ms),
            RemoteRequest::Thumbnail(size) => {
                wire::thumbnail_path(media_id, thumbnail_spec(size), wait_ms)
            }
        };
        let response = self
            .client
            .get_response(origin, &path, deadline)
            .await
            .map_err(|error| unreachable(origin, &error))?;
        let status = response.status().as_u16();
        if status == 200 {
            return self.read_multipart(origin, response, limit, store).await;
        }
        let body = error_body(response).await;
        if !wire::is_unknown_endpoint(status, &body) {
            return Err(answer_error(origin, status, &body, request));
        }
        tracing::debug!(%origin, media_id, "no federation media endpoint; trying the legacy one");
        let legacy = match request {
            RemoteRequest::Content => {
                wire::legacy_download_path(origin.as_str(), media_id, wait_ms)
            }
            RemoteRequest::Thumbnail(size) => wire::legacy_thumbnail_path(
                origin.as_str(),
                media_id,
                thumbnail_spec(size),
                wait_ms,
            ),
        };
        let response = self
            .client
            .get_response(origin, &legacy, deadline)
            .await
            .map_err(|error| unreachable(origin, &error))?;
        let status = response.status();
        if status.is_redirection()
            && let Some(location) = header(&response, LOCATION)
        {
            return self.follow(origin, &location, limit, store).await;
        }
        if status.as_u16() != 200 {
            let body = error_body(response).await;
            return Err(answer_error(origin, status.as_u16(), &body, request));
        }
        read_plain(origin, response, limit, store).await
    }

    /// Reads a `multipart/mixed` answer: the content streamed to disk, or the `Location` it names followed.
    async fn read_multipart(
        &self,
        origin: &ServerName,
        response: reqwest::Response,
        limit: u64,
        store: &BlobStore,
    ) -> Result<RemoteContent, MediaError> {
        let boundary = header(&response, CONTENT_TYPE)
            .as_deref()
            .and_then(multipart::boundary)
            .ok_or_else(|| {
                MediaError::Remote(format!(
                    "{origin} answered without a multipart/mixed boundary"
                ))
            })?;
        refuse_declared_oversize(&response, limit + multipart::MAX_HEAD_BYTES as u64, limit)?;
        let mut body = body_chunks(response);
        let mut head_reader = HeadReader::new(&boundary);
        let head = loop {
            let chunk = match body.next().await {
                Some(chunk) => chunk.map_err(|error| read_failed(origin, &error))?,
                None => return Err(malformed(origin, &HeadReader::truncated())),
            };
            if let Some(head) = head_reader
                .push(&chunk)
                .map_err(|error| malformed(origin, &error))?
            {
                break head;
            }
        };
        if let Some(location) = &head.part.location {
            drop(body);
            return self.follow(origin, location, limit, store).await;
        }
        let content_type = head.part.content_type.clone();
        let disposition = head.part.content_disposition.clone();
        let content = content_stream(head, body);
        store_content(origin, content, (content_type, disposition), limit, store).await
    }

    /// A plain `GET` of a URL the origin pointed at (not signed: it is not a homeserver).
    async fn follow(
        &self,
        origin: &ServerName,
        location: &str,
        limit: u64,
        store: &BlobStore,
    ) -> Result<RemoteContent, MediaError> {
        let url = reqwest::Url::parse(location)
            .map_err(|_| MediaError::Remote(format!("{origin} redirected to an invalid URL")))?;
        url_permitted(&url, &self.policy).map_err(|_| {
            MediaError::Remote(format!("{origin} redirected to a forbidden address"))
        })?;
        let response = self.plain.get(url).send().await.map_err(|error| {
            MediaError::Remote(format!(
                "fetching {origin}'s media redirect failed: {}",
                describe(&error)
            ))
        })?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(MediaError::Remote(format!(
                "{origin}'s media redirect answered {status}"
            )));
        }
        read_plain(origin, response, limit, store).await
    }
}

impl RemoteMediaSource for FederationMediaSource {
    fn fetch<'a>(
        &'a self,
        origin: &'a ServerName,
        media_id: &'a str,
        request: RemoteRequest,
        wait: Duration,
        limit: u64,
        store: &'a BlobStore,
    ) -> BoxFuture<'a, Result<RemoteContent, MediaError>> {
        Box::pin(async move {
            let deadline = wait.saturating_add(self.timeout);
            let fetch = self.fetch_now(origin, media_id, request, (wait, deadline), limit, store);
            match tokio::time::timeout(deadline, fetch).await {
                Ok(result) => result,
                Err(_) => Err(MediaError::Remote(format!(
                    "{origin} did not deliver the media within {} s",
                    deadline.as_secs()
                ))),
            }
        })
    }
}

fn thumbnail_spec(size: hearth_client_api::media::thumbnail::Size) -> ThumbnailSpec<'static> {
    ThumbnailSpec {
        width: size.width,
        height: size.height,
        method: size.method.as_str(),
    }
}

fn header(response: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// The answer's body as a stream of chunks, as they arrive.
fn body_chunks(response: reqwest::Response) -> impl Stream<Item = reqwest::Result<Bytes>> + Unpin {
    Box::pin(futures_util::stream::unfold(
        Some(response),
        |state| async move {
            let mut response = state?;
            match response.chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some(response))),
                Ok(None) => None,
                Err(error) => Some((Err(error), None)),
            }
        },
    ))
}

/// A non-multipart answer with the content as its body (legacy endpoints, `Location` targets).
async fn read_plain(
    origin: &ServerName,
    response: reqwest::Response,
    limit: u64,
    store: &BlobStore,
) -> Result<RemoteContent, MediaError> {
    refuse_declared_oversize(&response, limit, limit)?;
    let labels = (
        header(&response, CONTENT_TYPE),
        header(&response, CONTENT_DISPOSITION),
    );
    let body = body_chunks(response).map(|chunk| chunk.map_err(|error| describe(&error)));
    store_content(origin, body, labels, limit, store).await
}

/// Streams `content` into a temporary blob (at most `limit` bytes) with the origin's `(Content-Type,
/// Content-Disposition)`.
async fn store_content(
    origin: &ServerName,
    content: impl Stream<Item = Result<Bytes, String>> + Unpin,
    (content_type, content_disposition): (Option<String>, Option<String>),
    limit: u64,
    store: &BlobStore,
) -> Result<RemoteContent, MediaError> {
    let blob = store
        .write_stream(content, limit)
        .await
        .map_err(|error| as_remote(origin, error))?;
    Ok(RemoteContent {
        blob,
        content_type,
        file_name: content_disposition
            .as_deref()
            .and_then(disposition::file_name_from_disposition),
    })
}

/// The content part of a multipart answer as a stream of chunks; fails if the answer ends before the closing
/// delimiter, stops reading once it has been seen.
fn content_stream(
    head: MediaHead,
    body: impl Stream<Item = reqwest::Result<Bytes>> + Unpin,
) -> impl Stream<Item = Result<Bytes, String>> + Unpin {
    let MediaHead {
        content,
        first_content,
        ..
    } = head;
    Box::pin(futures_util::stream::unfold(
        (body, content, Some(first_content), false),
        |(mut body, mut reader, first, failed)| async move {
            if failed {
                return None;
            }
            if let Some(first) = first {
                return Some((Ok(Bytes::from(first)), (body, reader, None, false)));
            }
            if reader.is_done() {
                return None;
            }
            match body.next().await {
                Some(Ok(chunk)) => {
                    let bytes = Bytes::from(reader.push(&chunk));
                    Some((Ok(bytes), (body, reader, None, false)))
                }
                Some(Err(error)) => Some((Err(describe(&error)), (body, reader, None, true))),
                None => Some((
                    Err(ContentReader::unterminated().to_string()),
                    (body, reader, None, true),
                )),
            }
        },
    ))
}

/// 502 `M_TOO_LARGE` before reading an answer whose declared length is over `declared_limit`.
fn refuse_declared_oversize(
    response: &reqwest::Response,
    declared_limit: u64,
    limit: u64,
) -> Result<(), MediaError> {
    match response.content_length() {
        Some(length) if length > declared_limit => Err(MediaError::RemoteTooLarge { limit }),
        _ => Ok(()),
    }
}

/// The start of an error answer's body.
async fn error_body(mut response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(MAX_ERROR_BYTES);
    body
}

/// What a non-success answer of the origin means for the local client. Synapse passes 404s through and answers
/// 502 for the rest; a remote 504 `M_NOT_YET_UPLOADED` and a thumbnail the origin cannot make keep their
/// meaning.
fn answer_error(
    origin: &ServerName,
    status: u16,
    body: &[u8],
    request: RemoteRequest,
) -> MediaError {
    let error: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let errcode = error.get("errcode").and_then(|code| code.as_str());
    let message = error
        .get("error")
        .and_then(|message| message.as_str())
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect::<String>();
    let thumbnail = matches!(request, RemoteRequest::Thumbnail(_));
    match (status, errcode) {
        (404, _) => MediaError::NotFound(format!("{origin} does not have this media")),
        (504, Some("M_NOT_YET_UPLOADED")) => MediaError::NotYetUploaded,
        (400, _) if thumbnail => {
            MediaError::CannotThumbnail(format!("{origin} cannot thumbnail this media: {message}"))
        }
        (413, _) if thumbnail => MediaError::TooLargeToThumbnail(format!(
            "{origin} says the media is too large to thumbnail"
        )),
        _ => MediaError::Remote(format!(
            "{origin} answered {status} {}",
            errcode.unwrap_or("without a Matrix error")
        )),
    }
}

fn unreachable(origin: &ServerName, error: &hearth_federation::Error) -> MediaError {
    tracing::info!(%origin, %error, "remote media fetch failed");
    MediaError::Remote(format!("could not fetch media from {origin}"))
}

fn read_failed(origin: &ServerName, error: &reqwest::Error) -> MediaError {
    tracing::info!(%origin, error = describe(error), "reading remote media failed");
    MediaError::Remote(format!("reading media from {origin} failed"))
}

fn malformed(origin: &ServerName, error: &multipart::MultipartError) -> MediaError {
    MediaError::Remote(format!("{origin}: {error}"))
}

/// Errors of writing the remote stream into the store, as the local client sees them.
fn as_remote(origin: &ServerName, error: MediaError) -> MediaError {
    match error {
        MediaError::TooLarge { limit } => MediaError::RemoteTooLarge { limit },
        MediaError::BodyRead(reason) => {
            tracing::info!(%origin, reason, "reading remote media failed");
            MediaError::Remote(format!("reading media from {origin} failed: {reason}"))
        }
        other => other,
    }
}
