//! The media repository: uploads (direct and asynchronous), downloads, thumbnails, and the administrator's
//! delete, quarantine and purge. Depends on storage (metadata) and the blob store on disk ([`store`]); remote
//! media comes through a [`RemoteMediaSource`] when federation provides one ([`fetch`]), and is cached like
//! local media (same blobs, `is_remote` rows).
//!
//! Invariants:
//! - Uploads are streamed to a temporary file and hashed on the way, never held whole in memory; the metadata
//!   row is committed (and the file renamed into place and synced) before the client gets its `mxc://` URI.
//! - The same bytes are stored once (files are named by SHA-256), however many media IDs point at them.
//! - Thumbnails are generated off the async threads, a bounded number at a time, from bounded inputs.
//! - Remote media is fetched once per item at a time ([`remote::SingleFlight`]); later requests are served
//!   from the cache.

mod error;
pub mod fetch;
pub mod preview;
pub mod remote;
mod store;
mod thumbnailer;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use futures_util::Stream;
use hearth_client_api::media::thumbnail::{self, Method, Target};
use hearth_client_api::media::{disposition, is_valid_media_id, mxc_uri};
use hearth_types::{ServerName, UserId};
use tokio::sync::{Semaphore, watch};

pub use error::MediaError;
pub use fetch::FederationMediaSource;
pub use preview::UrlPreviewService;
pub use remote::{RemoteContent, RemoteMediaSource, RemoteRequest};
pub use store::{BlobStore, TempBlob};

use crate::config::MediaConfig;
use crate::services::accounts::now_ms;
use crate::storage::{
    ContentOutcome, MediaRecord, NewMediaContent, Storage, StorageError, ThumbnailRecord,
};

/// Characters of generated media IDs (the spec's alphabet minus `_` and `-`).
const MEDIA_ID_ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Length of generated media IDs (Synapse's, 143 bits of randomness).
const MEDIA_ID_LENGTH: usize = 24;
/// Most thumbnails cached per media item; further sizes are generated for each request.
const MAX_CACHED_THUMBNAILS: i64 = 16;

/// Which endpoint family a download came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `/_matrix/client/v1/media/*` (access token) or federation (signed request).
    Authenticated,
    /// The deprecated unauthenticated `/_matrix/media/v3/download|thumbnail`.
    Legacy,
}

/// The bytes of a download or thumbnail.
#[derive(Debug)]
pub enum ContentBody {
    /// A stored file, streamed.
    File(tokio::fs::File),
    /// Bytes generated for this request (a thumbnail that is not cached).
    Bytes(Bytes),
}

/// Content ready to be served.
#[derive(Debug)]
pub struct Content {
    /// The bytes.
    pub body: ContentBody,
    /// Length in bytes.
    pub size: u64,
    /// The content type it was uploaded with (or of the thumbnail).
    pub content_type: String,
    /// The file name it was uploaded with.
    pub file_name: Option<String>,
}

/// The media service. Cheap to clone.
#[derive(Clone)]
pub struct MediaService {
    storage: Storage,
    store: BlobStore,
    server_name: ServerName,
    config: Arc<MediaConfig>,
    thumbnail_slots: Arc<Semaphore>,
    /// Bumped after each asynchronous upload completes, to wake downloads waiting for it.
    uploads: Arc<watch::Sender<u64>>,
    remote: Option<Arc<dyn RemoteMediaSource>>,
    fetches: remote::SingleFlight,
}

impl std::fmt::Debug for MediaService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaService")
            .field("store", &self.store)
            .field("server_name", &self.server_name)
            .field("remote", &self.remote.is_some())
            .finish_non_exhaustive()
    }
}

impl MediaService {
    /// The service over `storage` with its files under `media_dir` (created if missing).
    pub fn new(
        storage: Storage,
        server_name: ServerName,
        media_dir: &Path,
        config: MediaConfig,
    ) -> Result<MediaService, MediaError> {
        let store =
            BlobStore::open(media_dir).map_err(|e| MediaError::io("opening the media store", e))?;
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(MediaService {
            storage,
            store,
            server_name,
            config: Arc::new(config),
            thumbnail_slots: Arc::new(Semaphore::new(workers)),
            uploads: Arc::new(watch::channel(0).0),
            remote: None,
            fetches: remote::SingleFlight::default(),
        })
    }

    /// Fetches other servers' media through `remote` (federation) instead of answering 404.
    pub fn with_remote(mut self, remote: Arc<dyn RemoteMediaSource>) -> MediaService {
        self.remote = Some(remote);
        self
    }

    /// The largest upload accepted, in bytes (`m.upload.size`).
    pub fn max_upload_bytes(&self) -> u64 {
        self.config.max_upload_bytes
    }

    /// The media configuration.
    pub fn config(&self) -> &MediaConfig {
        &self.config
    }

    /// The longest wait for not-yet-uploaded content, given the client's `timeout_ms`.
    pub fn wait_for(&self, timeout_ms: Option<u64>) -> Duration {
        let asked = Duration::from_millis(
            timeout_ms.unwrap_or(hearth_client_api::media::DEFAULT_TIMEOUT_MS),
        );
        asked.min(self.config.max_wait.as_duration())
    }

    /// `POST /upload`: stores `body` as new media of `uploader` and returns its `mxc://` URI.
    pub async fn upload<S, E>(
        &self,
        uploader: &UserId,
        content_type: Option<&str>,
        file_name: Option<&str>,
        body: S,
    ) -> Result<String, MediaError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let blob = self
            .store
            .write_stream(body, self.config.max_upload_bytes)
            .await?;
        let media_id = hearth_crypto::random::random_string(MEDIA_ID_LENGTH, MEDIA_ID_ALPHABET);
        let content_type = disposition::stored_content_type(content_type);
        let file_name = file_name.and_then(disposition::sanitize_file_name);
        let new = self.local_content(
            &media_id,
            uploader,
            &content_type,
            file_name.as_deref(),
            &blob,
        );
        let outcome = self
            .storage
            .insert_media_content(&new, async || blob.place(&self.store).await)
            .await?;
        content_outcome(outcome)?;
        tracing::info!(%uploader, media_id, size = blob.size, "media uploaded");
        Ok(mxc_uri(self.server_name.as_str(), &media_id))
    }

    /// `POST /media/v1/create`: reserves a media ID for a later upload by `uploader`; returns the `mxc://`
    /// URI and its expiry (ms).
    pub async fn create(&self, uploader: &UserId) -> Result<(String, i64), MediaError> {
        let media_id = hearth_crypto::random::random_string(MEDIA_ID_LENGTH, MEDIA_ID_ALPHABET);
        let now = now_ms();
        let expires =
            now.saturating_add(duration_ms(self.config.unused_expires_after.as_duration()));
        let created = self
            .storage
            .create_pending_media(
                self.server_name.as_str(),
                &media_id,
                uploader.as_str(),
                (now, expires),
                i64::from(self.config.max_pending_uploads),
                self.config.enable_authenticated_media,
            )
            .await?;
        if !created {
            return Err(MediaError::LimitExceeded(format!(
                "at most {} pending uploads per user",
                self.config.max_pending_uploads
            )));
        }
        Ok((mxc_uri(self.server_name.as_str(), &media_id), expires))
    }

    /// `PUT /upload/{serverName}/{mediaId}`: the content of a media ID created by [`MediaService::create`].
    pub async fn upload_pending<S, E>(
        &self,
        uploader: &UserId,
        server_name: &str,
        media_id: &str,
        content_type: Option<&str>,
        file_name: Option<&str>,
        body: S,
    ) -> Result<(), MediaError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        if server_name != self.server_name.as_str() || !is_valid_media_id(media_id) {
            return Err(MediaError::NotFound("unknown media ID".to_owned()));
        }
        // Cheap refusals before reading the body; the transaction below checks again.
        match self.storage.get_media(server_name, media_id).await? {
            None => return Err(MediaError::NotFound("unknown media ID".to_owned())),
            Some(record) if record.uploader.as_deref() != Some(uploader.as_str()) => {
                return Err(MediaError::Forbidden(
                    "this media ID was created by another user".to_owned(),
                ));
            }
            Some(record) if record.is_uploaded() => return Err(MediaError::CannotOverwrite),
            Some(_) => {}
        }
        let blob = self
            .store
            .write_stream(body, self.config.max_upload_bytes)
            .await?;
        let content_type = disposition::stored_content_type(content_type);
        let file_name = file_name.and_then(disposition::sanitize_file_name);
        let new = self.local_content(
            media_id,
            uploader,
            &content_type,
            file_name.as_deref(),
            &blob,
        );
        let outcome = self
            .storage
            .complete_pending_media(&new, async || blob.place(&self.store).await)
            .await?;
        content_outcome(outcome)?;
        self.uploads
            .send_modify(|count| *count = count.wrapping_add(1));
        Ok(())
    }

    /// The content of `mxc://server_name/media_id`, waiting up to `wait` for a pending upload and fetching
    /// remote media through federation when it is not cached.
    pub async fn download(
        &self,
        server_name: &str,
        media_id: &str,
        wait: Duration,
        access: Access,
    ) -> Result<Content, MediaError> {
        let record = self.available(server_name, media_id, wait, access).await?;
        self.serve_record(&record).await
    }

    /// A thumbnail of `mxc://server_name/media_id` for a `width`×`height` box (see the spec's rules in
    /// `hearth_client_api::media::thumbnail`).
    pub async fn thumbnail(
        &self,
        server_name: &str,
        media_id: &str,
        (width, height, method): (u32, u32, Method),
        wait: Duration,
        access: Access,
    ) -> Result<Content, MediaError> {
        if width == 0 || height == 0 {
            return Err(MediaError::InvalidParam(
                "width and height must be positive".to_owned(),
            ));
        }
        let target = thumbnail::choose_target(width, height, method);
        if let (Some(origin), Target::Thumbnail(size)) = (self.remote_origin(server_name), target) {
            return self
                .remote_thumbnail(&origin, media_id, size, wait, access)
                .await;
        }
        let record = self.available(server_name, media_id, wait, access).await?;
        match target {
            Target::Thumbnail(size) => self.generated_thumbnail(&record, size).await,
            Target::Original => self.original_as_thumbnail(&record).await,
        }
    }

    /// A thumbnail of `record`'s content (which is here) in the box `size`, generated or from the cache.
    async fn generated_thumbnail(
        &self,
        record: &MediaRecord,
        size: thumbnail::Size,
    ) -> Result<Content, MediaError> {
        if let Some(stored) = self
            .storage
            .get_thumbnail(
                &record.origin,
                &record.media_id,
                size.width,
                size.height,
                size.method.as_str(),
            )
            .await?
        {
            return self.serve_thumbnail(&stored).await;
        }
        let permit = self
            .thumbnail_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| MediaError::Internal(e.to_string()))?;
        let sha256 = record.sha256.as_deref().unwrap_or_default();
        let original = self.store.read_blob(sha256).await?;
        let max_pixels = self.config.max_thumbnail_pixels;
        let generated = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            thumbnailer::generate(&original, size, max_pixels)
        })
        .await
        .map_err(|e| MediaError::Internal(format!("thumbnail worker: {e}")))??;
        let Some(generated) = generated else {
            return self.serve_record(record).await;
        };
        let cached = self
            .storage
            .count_thumbnails(&record.origin, &record.media_id)
            .await?;
        if cached >= MAX_CACHED_THUMBNAILS {
            let size = generated.bytes.len() as u64;
            return Ok(Content {
                body: ContentBody::Bytes(Bytes::from(generated.bytes)),
                size,
                content_type: generated.content_type.to_owned(),
                file_name: None,
            });
        }
        let blob = self.store.write_bytes(generated.bytes).await?;
        let stored = ThumbnailRecord {
            width: i64::from(generated.width),
            height: i64::from(generated.height),
            content_type: generated.content_type.to_owned(),
            size: size_i64(blob.size),
            sha256: blob.sha256.clone(),
        };
        self.store_thumbnail(record, size, &stored, &blob).await?;
        self.serve_thumbnail(&stored).await
    }

    /// Records a thumbnail of `record` in the box `size` and moves its file into the store.
    async fn store_thumbnail(
        &self,
        record: &MediaRecord,
        size: thumbnail::Size,
        stored: &ThumbnailRecord,
        blob: &TempBlob,
    ) -> Result<(), MediaError> {
        self.storage
            .insert_thumbnail(
                &record.origin,
                &record.media_id,
                (size.width, size.height, size.method.as_str()),
                stored,
                now_ms(),
                async || blob.place(&self.store).await,
            )
            .await
            .map_err(|error| match error {
                StorageError::NotFound(_) => MediaError::NotFound("media was deleted".to_owned()),
                other => other.into(),
            })
    }

    /// Deletes a media item, its thumbnails, and every file no longer referenced.
    pub async fn delete(&self, origin: &str, media_id: &str) -> Result<(), MediaError> {
        let store = &self.store;
        self.storage
            .delete_media(origin, media_id, async |unreferenced: Vec<String>| {
                store.unlink(&unreferenced).await
            })
            .await
            .map_err(not_found_as_media)
    }

    /// Quarantines (hides from everyone) or releases a media item; its files are kept.
    pub async fn set_quarantined(
        &self,
        origin: &str,
        media_id: &str,
        quarantined: bool,
    ) -> Result<(), MediaError> {
        self.storage
            .set_media_quarantined(origin, media_id, quarantined)
            .await
            .map_err(not_found_as_media)
    }

    /// Deletes cached remote media not served for `older_than`; returns how many items went.
    pub async fn purge_remote(&self, older_than: Duration) -> Result<usize, MediaError> {
        let before = now_ms().saturating_sub(duration_ms(older_than));
        let stale = self.storage.remote_media_unused_since(before).await?;
        let mut purged = 0;
        for (origin, media_id) in stale {
            match self.delete(&origin, &media_id).await {
                Ok(()) => purged += 1,
                Err(MediaError::NotFound(_)) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(purged)
    }

    /// Deletes pending uploads whose time ran out; returns how many.
    pub async fn purge_expired_pending(&self) -> Result<usize, MediaError> {
        let expired = self.storage.expired_pending_media(now_ms()).await?;
        let mut purged = 0;
        for (origin, media_id) in expired {
            if self.delete(&origin, &media_id).await.is_ok() {
                purged += 1;
            }
        }
        Ok(purged)
    }

    /// The record of media whose content is available to `access`, after waiting for a pending upload or
    /// fetching it from its origin.
    async fn available(
        &self,
        server_name: &str,
        media_id: &str,
        wait: Duration,
        access: Access,
    ) -> Result<MediaRecord, MediaError> {
        let unknown = || MediaError::NotFound("unknown media".to_owned());
        if !is_valid_media_id(media_id) {
            return Err(unknown());
        }
        let origin = ServerName::parse(server_name).map_err(|_| unknown())?;
        let record = if origin == self.server_name {
            self.wait_for_upload(media_id, wait).await?
        } else {
            match self.storage.get_media(origin.as_str(), media_id).await? {
                Some(record) if record.is_uploaded() => record,
                cached => {
                    self.may_fetch(cached.as_ref(), access)?;
                    self.fetch_remote(&origin, media_id, wait).await?
                }
            }
        };
        self.servable(&record, access)?;
        self.touch(&record).await;
        Ok(record)
    }

    /// Refuses quarantined media, and media the legacy endpoints no longer serve.
    fn servable(&self, record: &MediaRecord, access: Access) -> Result<(), MediaError> {
        if record.quarantined {
            return Err(MediaError::NotFound("this media is quarantined".to_owned()));
        }
        if access == Access::Legacy
            && record.authenticated
            && self.config.enable_authenticated_media
        {
            return Err(MediaError::NotFound(
                "this media is only served through the authenticated /_matrix/client/v1/media endpoints"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    /// Whether remote media that is not cached (`cached`: a thumbnails-only row, or nothing) may be fetched for
    /// this request: not when quarantined, and not for the unauthenticated legacy endpoints while authenticated
    /// media is enforced (Synapse: they serve only what is cached).
    fn may_fetch(&self, cached: Option<&MediaRecord>, access: Access) -> Result<(), MediaError> {
        match cached {
            Some(record) => self.servable(record, access),
            None if access == Access::Legacy && self.config.enable_authenticated_media => {
                Err(MediaError::NotFound(
                    "remote media is only fetched for the authenticated /_matrix/client/v1/media endpoints"
                        .to_owned(),
                ))
            }
            None => Ok(()),
        }
    }

    /// Notes that `record` was served (for purging remote media nobody uses).
    async fn touch(&self, record: &MediaRecord) {
        if let Err(error) = self
            .storage
            .touch_media(&record.origin, &record.media_id, now_ms())
            .await
        {
            tracing::warn!(%error, "could not record a media access time");
        }
    }

    /// The origin of `server_name`'s media if it is another server (and a valid name).
    fn remote_origin(&self, server_name: &str) -> Option<ServerName> {
        ServerName::parse(server_name)
            .ok()
            .filter(|origin| *origin != self.server_name)
    }

    /// A local media record once its content is there, waiting up to `wait` for an asynchronous upload.
    async fn wait_for_upload(
        &self,
        media_id: &str,
        wait: Duration,
    ) -> Result<MediaRecord, MediaError> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut uploads = self.uploads.subscribe();
        loop {
            let record = self
                .storage
                .get_media(self.server_name.as_str(), media_id)
                .await?
                .ok_or_else(|| MediaError::NotFound("unknown media".to_owned()))?;
            if record.is_uploaded() {
                return Ok(record);
            }
            if record.unused_expires_ts.is_some_and(|ts| ts <= now_ms()) {
                return Err(MediaError::NotFound("unknown media".to_owned()));
            }
            match tokio::time::timeout_at(deadline, uploads.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return Err(MediaError::NotYetUploaded),
            }
        }
    }

    async fn serve_record(&self, record: &MediaRecord) -> Result<Content, MediaError> {
        let sha256 = record.sha256.as_deref().unwrap_or_default();
        Ok(Content {
            body: ContentBody::File(self.store.open_blob(sha256).await?),
            size: record.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
            content_type: record.content_type.clone(),
            file_name: record.upload_name.clone(),
        })
    }

    async fn serve_thumbnail(&self, stored: &ThumbnailRecord) -> Result<Content, MediaError> {
        Ok(Content {
            body: ContentBody::File(self.store.open_blob(&stored.sha256).await?),
            size: u64::try_from(stored.size).unwrap_or(0),
            content_type: stored.content_type.clone(),
            file_name: None,
        })
    }

    /// The original answers a thumbnail request larger than every generated size, if it is an image.
    async fn original_as_thumbnail(&self, record: &MediaRecord) -> Result<Content, MediaError> {
        let essence = disposition::essence(&record.content_type);
        if !matches!(
            essence.as_str(),
            "image/png" | "image/jpeg" | "image/webp" | "image/gif"
        ) {
            return Err(MediaError::CannotThumbnail(format!(
                "cannot thumbnail {essence} content"
            )));
        }
        self.serve_record(record).await
    }

    /// What a local upload of `blob` records.
    fn local_content<'a>(
        &'a self,
        media_id: &'a str,
        uploader: &'a UserId,
        content_type: &'a str,
        file_name: Option<&'a str>,
        blob: &'a TempBlob,
    ) -> NewMediaContent<'a> {
        NewMediaContent {
            origin: self.server_name.as_str(),
            media_id,
            is_remote: false,
            uploader: Some(uploader.as_str()),
            content_type,
            upload_name: file_name,
            size: size_i64(blob.size),
            sha256: &blob.sha256,
            now: now_ms(),
            authenticated: self.config.enable_authenticated_media,
            quota_bytes: (self.config.max_user_bytes > 0)
                .then(|| size_i64(self.config.max_user_bytes)),
        }
    }
}

/// Maps what a storage-side content check decided to the client's error.
fn content_outcome(outcome: ContentOutcome) -> Result<(), MediaError> {
    match outcome {
        ContentOutcome::Stored => Ok(()),
        ContentOutcome::QuotaExceeded => Err(MediaError::Forbidden(
            "this upload would exceed your media quota".to_owned(),
        )),
        ContentOutcome::UnknownId => Err(MediaError::NotFound("unknown media ID".to_owned())),
        ContentOutcome::NotUploader => Err(MediaError::Forbidden(
            "this media ID was created by another user".to_owned(),
        )),
        ContentOutcome::AlreadyUploaded => Err(MediaError::CannotOverwrite),
    }
}

fn not_found_as_media(error: StorageError) -> MediaError {
    match error {
        StorageError::NotFound(_) => MediaError::NotFound("unknown media".to_owned()),
        other => other.into(),
    }
}

fn size_i64(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
