//! Remote media: how the media service gets another server's content (or a thumbnail of it) when a local user
//! asks for it, caches it, and keeps concurrent requests for the same item from fetching it twice.
//!
//! The service depends only on [`RemoteMediaSource`]; federation supplies the implementation
//! ([`super::fetch::FederationMediaSource`]), so the media service works (answering 404 for remote media) on a
//! server with federation disabled and in tests.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hearth_client_api::media::thumbnail::{self, Size};
use hearth_client_api::media::{disposition, is_valid_media_id};
use hearth_types::ServerName;

use super::error::MediaError;
use super::store::{BlobStore, TempBlob};
use super::{Access, Content, ContentBody, MAX_CACHED_THUMBNAILS, MediaService, now_ms, size_i64};
use crate::storage::{MediaRecord, NewMediaContent, StorageError, ThumbnailRecord};

/// A boxed future, as trait objects need.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What is fetched from the origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RemoteRequest {
    /// The content itself (`/media/download`).
    Content,
    /// A thumbnail for this box (`/media/thumbnail`).
    Thumbnail(Size),
}

/// Remote content written to a temporary file of the store, with what its origin said about it.
#[derive(Debug)]
pub struct RemoteContent {
    /// The bytes, hashed, not yet in the store.
    pub blob: TempBlob,
    /// The `Content-Type` the origin sent.
    pub content_type: Option<String>,
    /// The file name from the origin's `Content-Disposition`.
    pub file_name: Option<String>,
}

/// Fetches `mxc://origin/media_id` (or a thumbnail of it) from its origin.
pub trait RemoteMediaSource: Send + Sync {
    /// Downloads into a temporary file of `store`, failing with [`MediaError::RemoteTooLarge`] past `limit`
    /// bytes, [`MediaError::NotFound`] when the origin does not have it, [`MediaError::NotYetUploaded`] when
    /// it is still pending there after `wait`, and [`MediaError::Remote`] when the origin cannot be reached,
    /// answers badly or too slowly.
    fn fetch<'a>(
        &'a self,
        origin: &'a ServerName,
        media_id: &'a str,
        request: RemoteRequest,
        wait: Duration,
        limit: u64,
        store: &'a BlobStore,
    ) -> BoxFuture<'a, Result<RemoteContent, MediaError>>;
}

/// What one fetch is for: the item and whether content or which thumbnail.
type FetchKey = (String, String, RemoteRequest);

/// One fetch at a time per item and request: later requests wait for the first and then find its result in
/// the cache (Synapse's linearizer per media ID). Entries go when their last holder does.
#[derive(Clone, Debug, Default)]
pub struct SingleFlight {
    turns: Arc<Mutex<HashMap<FetchKey, Arc<tokio::sync::Mutex<()>>>>>,
}

/// The right to fetch one item; dropping it lets the next waiter in.
pub struct FetchTurn {
    key: FetchKey,
    turns: Arc<Mutex<HashMap<FetchKey, Arc<tokio::sync::Mutex<()>>>>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl SingleFlight {
    /// Waits until no other fetch of `(origin, media_id, request)` runs, and holds off the others until the
    /// returned turn is dropped.
    pub async fn turn(&self, origin: &str, media_id: &str, request: RemoteRequest) -> FetchTurn {
        let key = (origin.to_owned(), media_id.to_owned(), request);
        let lock = self
            .turns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(key.clone())
            .or_default()
            .clone();
        let guard = lock.lock_owned().await;
        FetchTurn {
            key,
            turns: self.turns.clone(),
            guard: Some(guard),
        }
    }

    /// How many items have a fetch running or waiting (tests, metrics).
    pub fn in_flight(&self) -> usize {
        self.turns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}

impl Drop for FetchTurn {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut turns = self
            .turns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Only the map holds the lock now: nobody waits for this item any more.
        if turns
            .get(&self.key)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            turns.remove(&self.key);
        }
    }
}

impl MediaService {
    /// Fetches remote media into the cache and returns its new record. One fetch per item at a time: a
    /// request that waited for another's fetch finds the result in the cache.
    pub(super) async fn fetch_remote(
        &self,
        origin: &ServerName,
        media_id: &str,
        wait: Duration,
    ) -> Result<MediaRecord, MediaError> {
        let Some(remote) = &self.remote else {
            return Err(MediaError::NotFound(
                "remote media is not available (federation is disabled)".to_owned(),
            ));
        };
        let _turn = self
            .fetches
            .turn(origin.as_str(), media_id, RemoteRequest::Content)
            .await;
        if let Some(record) = self.storage.get_media(origin.as_str(), media_id).await?
            && record.is_uploaded()
        {
            return Ok(record);
        }
        let limit = self.config.max_upload_bytes;
        let fetched = remote
            .fetch(
                origin,
                media_id,
                RemoteRequest::Content,
                wait,
                limit,
                &self.store,
            )
            .await?;
        let content_type = disposition::stored_content_type(fetched.content_type.as_deref());
        let file_name = fetched
            .file_name
            .as_deref()
            .and_then(disposition::sanitize_file_name);
        let new = NewMediaContent {
            origin: origin.as_str(),
            media_id,
            is_remote: true,
            uploader: None,
            content_type: &content_type,
            upload_name: file_name.as_deref(),
            size: size_i64(fetched.blob.size),
            sha256: &fetched.blob.sha256,
            now: now_ms(),
            authenticated: self.config.enable_authenticated_media,
            quota_bytes: None,
        };
        match self
            .storage
            .insert_media_content(&new, async || fetched.blob.place(&self.store).await)
            .await
        {
            // A concurrent request cached it first: use theirs.
            Ok(_) | Err(StorageError::Conflict(_)) => {}
            Err(error) => return Err(error.into()),
        }
        tracing::info!(%origin, media_id, size = fetched.blob.size, "remote media cached");
        self.storage
            .get_media(origin.as_str(), media_id)
            .await?
            .filter(MediaRecord::is_uploaded)
            .ok_or_else(|| MediaError::NotFound("unknown media".to_owned()))
    }

    /// A thumbnail of another server's media in the box `size`: from the cache, else asked of the origin and
    /// cached. When the origin cannot deliver one but the original is cached, it is generated here (what
    /// Synapse does for every remote thumbnail).
    pub(super) async fn remote_thumbnail(
        &self,
        origin: &ServerName,
        media_id: &str,
        size: thumbnail::Size,
        wait: Duration,
        access: Access,
    ) -> Result<Content, MediaError> {
        if !is_valid_media_id(media_id) {
            return Err(MediaError::NotFound("unknown media".to_owned()));
        }
        let method = size.method.as_str();
        let cached = self.storage.get_media(origin.as_str(), media_id).await?;
        self.may_fetch(cached.as_ref(), access)?;
        if let Some(record) = &cached
            && let Some(stored) = self
                .storage
                .get_thumbnail(origin.as_str(), media_id, size.width, size.height, method)
                .await?
        {
            self.touch(record).await;
            return self.serve_thumbnail(&stored).await;
        }
        let original = cached.filter(MediaRecord::is_uploaded);
        let Some(remote) = &self.remote else {
            return match original {
                Some(record) => self.generated_thumbnail(&record, size).await,
                None => Err(MediaError::NotFound(
                    "remote media is not available (federation is disabled)".to_owned(),
                )),
            };
        };
        let request = RemoteRequest::Thumbnail(size);
        let _turn = self.fetches.turn(origin.as_str(), media_id, request).await;
        if let Some(stored) = self
            .storage
            .get_thumbnail(origin.as_str(), media_id, size.width, size.height, method)
            .await?
        {
            return self.serve_thumbnail(&stored).await;
        }
        let limit = self.config.max_upload_bytes;
        let fetched = remote
            .fetch(origin, media_id, request, wait, limit, &self.store)
            .await
            .and_then(|fetched| {
                let content_type =
                    disposition::stored_content_type(fetched.content_type.as_deref());
                if disposition::essence(&content_type).starts_with("image/") {
                    Ok((fetched.blob, content_type))
                } else {
                    Err(MediaError::Remote(format!(
                        "{origin} sent a thumbnail of type {content_type}"
                    )))
                }
            });
        let (blob, content_type) = match (fetched, original) {
            (Ok(fetched), _) => fetched,
            (Err(error), Some(record)) => {
                tracing::info!(%origin, media_id, %error, "remote thumbnail unavailable; generating one");
                return self.generated_thumbnail(&record, size).await;
            }
            (Err(error), None) => return Err(error),
        };
        let now = now_ms();
        self.storage
            .insert_remote_media_stub(
                origin.as_str(),
                media_id,
                now,
                self.config.enable_authenticated_media,
            )
            .await?;
        let record = self
            .storage
            .get_media(origin.as_str(), media_id)
            .await?
            .ok_or_else(|| MediaError::NotFound("media was deleted".to_owned()))?;
        let stored = ThumbnailRecord {
            width: i64::from(size.width),
            height: i64::from(size.height),
            content_type,
            size: size_i64(blob.size),
            sha256: blob.sha256.clone(),
        };
        let cached = self
            .storage
            .count_thumbnails(origin.as_str(), media_id)
            .await?;
        if cached >= MAX_CACHED_THUMBNAILS {
            // Not cached: served from the temporary file, which goes when the answer is sent.
            return Ok(Content {
                body: ContentBody::File(blob.open().await?),
                size: blob.size,
                content_type: stored.content_type,
                file_name: None,
            });
        }
        self.store_thumbnail(&record, size, &stored, &blob).await?;
        self.serve_thumbnail(&stored).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_fetch_per_item_at_a_time_and_entries_are_dropped() {
        let flights = SingleFlight::default();
        let first = flights.turn("a.test", "x", RemoteRequest::Content).await;
        // Another item proceeds at once.
        let other = flights.turn("a.test", "y", RemoteRequest::Content).await;
        let waiting = {
            let flights = flights.clone();
            tokio::spawn(async move {
                let _turn = flights.turn("a.test", "x", RemoteRequest::Content).await;
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        drop(first);
        waiting.await.unwrap();
        drop(other);
        assert_eq!(flights.in_flight(), 0);
    }
}
