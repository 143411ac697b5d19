//! Media repository metadata: media IDs (local uploads, pending asynchronous uploads, cached remote media),
//! their thumbnails, and the content-addressed blobs both point at.
//!
//! The bytes are files the media service keeps on disk; this module only records which media and thumbnails
//! reference which SHA-256. Every change that adds or drops a reference to a blob locks that blob's row in the
//! same transaction (an upsert or a delete of `media_blobs`), and the caller's file step (placing a new file,
//! unlinking an unreferenced one) runs inside that transaction. So an upload of bytes that are being deleted at
//! the same moment either waits for the delete or makes it keep the file: a referenced blob is never unlinked.

use super::users::expect_one_row;
use super::{Result, Storage, StorageError, in_write_tx, on_reader, on_writer};

/// A media ID as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MediaRecord {
    /// The server that created the `mxc://` URI.
    pub origin: String,
    /// The opaque ID (`[A-Za-z0-9_-]`).
    pub media_id: String,
    /// A cached copy of another server's media.
    pub is_remote: bool,
    /// The local user who created it; `None` for remote media.
    pub uploader: Option<String>,
    /// The `Content-Type` it was uploaded with.
    pub content_type: String,
    /// The file name it was uploaded with.
    pub upload_name: Option<String>,
    /// Size in bytes; `None` while an asynchronous upload is pending.
    pub size: Option<i64>,
    /// SHA-256 (hex) of the content; `None` while an asynchronous upload is pending.
    pub sha256: Option<String>,
    /// When the ID was created (ms).
    pub created_ts: i64,
    /// When the content arrived (ms); `None` while pending.
    pub uploaded_ts: Option<i64>,
    /// When a pending upload expires (ms).
    pub unused_expires_ts: Option<i64>,
    /// Hidden from everyone by an administrator (`hearth admin media quarantine`).
    pub quarantined: bool,
    /// Created while authenticated media was enforced: the legacy unauthenticated endpoints refuse it.
    pub authenticated: bool,
    /// Last time it was served (ms), for purging old remote media.
    pub last_access_ts: i64,
}

impl MediaRecord {
    /// Whether the content has arrived.
    pub fn is_uploaded(&self) -> bool {
        self.sha256.is_some()
    }
}

/// A stored thumbnail of a media item.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ThumbnailRecord {
    /// Width in pixels as generated.
    pub width: i64,
    /// Height in pixels as generated.
    pub height: i64,
    /// The `Content-Type` of the thumbnail.
    pub content_type: String,
    /// Size in bytes.
    pub size: i64,
    /// SHA-256 (hex) of its bytes.
    pub sha256: String,
}

/// Content that has been written to a temporary file and hashed, about to be recorded.
#[derive(Debug, Clone, Copy)]
pub struct NewMediaContent<'a> {
    /// Origin server of the `mxc://` URI.
    pub origin: &'a str,
    /// Media ID.
    pub media_id: &'a str,
    /// A cached copy of another server's media.
    pub is_remote: bool,
    /// The local uploader (`None` for remote media).
    pub uploader: Option<&'a str>,
    /// `Content-Type`.
    pub content_type: &'a str,
    /// The file name, if any.
    pub upload_name: Option<&'a str>,
    /// Size in bytes.
    pub size: i64,
    /// SHA-256 (hex).
    pub sha256: &'a str,
    /// Now (ms).
    pub now: i64,
    /// Whether `[media] enable_authenticated_media` is on at creation.
    pub authenticated: bool,
    /// The uploader's quota in bytes (sum of their media sizes); `None` for no quota.
    pub quota_bytes: Option<i64>,
}

/// What recording uploaded content did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentOutcome {
    /// Recorded; the file step ran.
    Stored,
    /// The uploader's quota would be exceeded; nothing changed.
    QuotaExceeded,
    /// (Pending uploads) no such pending media ID, or it expired.
    UnknownId,
    /// (Pending uploads) the ID belongs to another user.
    NotUploader,
    /// (Pending uploads) the content was uploaded already.
    AlreadyUploaded,
}

const MEDIA_COLUMNS: &str = "origin, media_id, is_remote, uploader, content_type, upload_name, size, \
     sha256, created_ts, uploaded_ts, unused_expires_ts, quarantined, authenticated, last_access_ts";

/// Records `sha256` as a blob, locking its row for the rest of the transaction.
const UPSERT_BLOB: &str = "INSERT INTO media_blobs (sha256, size, created_ts) VALUES ($1, $2, $3) \
     ON CONFLICT (sha256) DO UPDATE SET size = excluded.size";

const INSERT_CONTENT: &str = "INSERT INTO media (origin, media_id, is_remote, uploader, content_type, \
     upload_name, size, sha256, created_ts, uploaded_ts, authenticated, last_access_ts) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $9)";

/// [`INSERT_CONTENT`] for remote media: also fills in a stub row (thumbnails only, no content yet). Affects no
/// row when the content is cached already.
const INSERT_REMOTE_CONTENT: &str = "INSERT INTO media (origin, media_id, is_remote, uploader, \
     content_type, upload_name, size, sha256, created_ts, uploaded_ts, authenticated, last_access_ts) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $9) \
     ON CONFLICT (origin, media_id) DO UPDATE SET content_type = excluded.content_type, \
     upload_name = excluded.upload_name, size = excluded.size, sha256 = excluded.sha256, \
     uploaded_ts = excluded.uploaded_ts, last_access_ts = excluded.last_access_ts \
     WHERE media.sha256 IS NULL AND media.is_remote = TRUE";

/// Bytes of media the user created (pending uploads count as 0).
/// (PostgreSQL sums BIGINTs as NUMERIC, hence the cast.)
const USER_BYTES: &str =
    "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM media WHERE uploader = $1";

/// How many media and thumbnails still point at a blob.
const BLOB_REFERENCES: &str = "SELECT (SELECT COUNT(*) FROM media WHERE sha256 = $1) + \
     (SELECT COUNT(*) FROM media_thumbnails WHERE sha256 = $1)";

impl Storage {
    /// Creates a pending media ID for an asynchronous upload, created at `now` and expiring at `expires_ts`, unless `uploader` already has `max_pending`
    /// unexpired pending uploads. Returns false (and changes nothing) in that case.
    pub async fn create_pending_media(
        &self,
        origin: &str,
        media_id: &str,
        uploader: &str,
        (now, expires_ts): (i64, i64),
        max_pending: i64,
        authenticated: bool,
    ) -> Result<bool> {
        in_write_tx!(self, |tx| {
            let pending: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM media WHERE uploader = $1 AND sha256 IS NULL \
                 AND unused_expires_ts > $2",
            )
            .bind(uploader)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            if pending >= max_pending {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO media (origin, media_id, is_remote, uploader, content_type, created_ts, \
                 unused_expires_ts, authenticated, last_access_ts) \
                 VALUES ($1, $2, FALSE, $3, 'application/octet-stream', $4, $5, $6, $4)",
            )
            .bind(origin)
            .bind(media_id)
            .bind(uploader)
            .bind(now)
            .bind(expires_ts)
            .bind(authenticated)
            .execute(&mut *tx)
            .await
            .map_err(|e| StorageError::from_write(e, "media ID", "media ID"))?;
        });
        Ok(true)
    }

    /// Records new content under a new media ID (a direct upload or a remote media fetch) and runs `place`
    /// (which moves the file into the blob store) inside the same transaction. `Conflict("media ID")` if the
    /// ID exists — except that remote content fills in a row [`Storage::insert_remote_media_stub`] created
    /// (a remote item of which only thumbnails were cached).
    pub async fn insert_media_content(
        &self,
        new: &NewMediaContent<'_>,
        place: impl AsyncFnOnce() -> std::io::Result<()>,
    ) -> Result<ContentOutcome> {
        in_write_tx!(self, |tx| {
            if let (Some(quota), Some(uploader)) = (new.quota_bytes, new.uploader) {
                let used: i64 = sqlx::query_scalar(USER_BYTES)
                    .bind(uploader)
                    .fetch_one(&mut *tx)
                    .await?;
                if used.saturating_add(new.size) > quota {
                    return Ok(ContentOutcome::QuotaExceeded);
                }
            }
            sqlx::query(UPSERT_BLOB)
                .bind(new.sha256)
                .bind(new.size)
                .bind(new.now)
                .execute(&mut *tx)
                .await?;
            let inserted = sqlx::query(if new.is_remote {
                INSERT_REMOTE_CONTENT
            } else {
                INSERT_CONTENT
            })
            .bind(new.origin)
            .bind(new.media_id)
            .bind(new.is_remote)
            .bind(new.uploader)
            .bind(new.content_type)
            .bind(new.upload_name)
            .bind(new.size)
            .bind(new.sha256)
            .bind(new.now)
            .bind(new.authenticated)
            .execute(&mut *tx)
            .await
            .map_err(|e| StorageError::from_write(e, "media ID", "media blob"))?;
            if inserted.rows_affected() == 0 {
                // Remote content cached meanwhile by another request; the transaction rolls back.
                return Err(StorageError::Conflict("media ID"));
            }
            place().await.map_err(media_file_error)?;
        });
        Ok(ContentOutcome::Stored)
    }

    /// Records remote media `origin/media_id` without its content (yet), so thumbnails fetched from its origin
    /// can be cached under it; nothing happens if the item is known. `purge-remote` deletes such rows too.
    pub async fn insert_remote_media_stub(
        &self,
        origin: &str,
        media_id: &str,
        now: i64,
        authenticated: bool,
    ) -> Result<()> {
        on_writer!(self, |pool| {
            sqlx::query(
                "INSERT INTO media (origin, media_id, is_remote, content_type, created_ts, authenticated, \
                 last_access_ts) VALUES ($1, $2, TRUE, 'application/octet-stream', $3, $4, $3) \
                 ON CONFLICT (origin, media_id) DO NOTHING",
            )
            .bind(origin)
            .bind(media_id)
            .bind(now)
            .bind(authenticated)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Completes a pending asynchronous upload created by `new.uploader`, running `place` inside the
    /// transaction. Checks, in the spec's order: the ID exists and has not expired, belongs to the uploader,
    /// has no content yet, and the quota allows it.
    pub async fn complete_pending_media(
        &self,
        new: &NewMediaContent<'_>,
        place: impl AsyncFnOnce() -> std::io::Result<()>,
    ) -> Result<ContentOutcome> {
        let select = format!(
            "SELECT {MEDIA_COLUMNS} FROM media WHERE origin = $1 AND media_id = $2{}",
            self.for_update()
        );
        in_write_tx!(self, |tx| {
            let existing: Option<MediaRecord> = sqlx::query_as(&select)
                .bind(new.origin)
                .bind(new.media_id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(existing) = existing else {
                return Ok(ContentOutcome::UnknownId);
            };
            if existing.uploader.as_deref() != new.uploader || existing.is_remote {
                return Ok(ContentOutcome::NotUploader);
            }
            if existing.is_uploaded() {
                return Ok(ContentOutcome::AlreadyUploaded);
            }
            if existing.unused_expires_ts.is_some_and(|ts| ts <= new.now) {
                return Ok(ContentOutcome::UnknownId);
            }
            if let (Some(quota), Some(uploader)) = (new.quota_bytes, new.uploader) {
                let used: i64 = sqlx::query_scalar(USER_BYTES)
                    .bind(uploader)
                    .fetch_one(&mut *tx)
                    .await?;
                if used.saturating_add(new.size) > quota {
                    return Ok(ContentOutcome::QuotaExceeded);
                }
            }
            sqlx::query(UPSERT_BLOB)
                .bind(new.sha256)
                .bind(new.size)
                .bind(new.now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE media SET content_type = $3, upload_name = $4, size = $5, sha256 = $6, \
                 uploaded_ts = $7, unused_expires_ts = NULL, last_access_ts = $7 \
                 WHERE origin = $1 AND media_id = $2",
            )
            .bind(new.origin)
            .bind(new.media_id)
            .bind(new.content_type)
            .bind(new.upload_name)
            .bind(new.size)
            .bind(new.sha256)
            .bind(new.now)
            .execute(&mut *tx)
            .await?;
            place().await.map_err(media_file_error)?;
        });
        Ok(ContentOutcome::Stored)
    }

    /// Looks a media ID up.
    pub async fn get_media(&self, origin: &str, media_id: &str) -> Result<Option<MediaRecord>> {
        let sql = format!("SELECT {MEDIA_COLUMNS} FROM media WHERE origin = $1 AND media_id = $2");
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(&sql)
                .bind(origin)
                .bind(media_id)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// Notes that a media item was served at `now`; writes at most once a minute per item.
    pub async fn touch_media(&self, origin: &str, media_id: &str, now: i64) -> Result<()> {
        on_writer!(self, |pool| {
            sqlx::query(
                "UPDATE media SET last_access_ts = $3 WHERE origin = $1 AND media_id = $2 \
                 AND last_access_ts < $3 - 60000",
            )
            .bind(origin)
            .bind(media_id)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Quarantines or releases a media item. `NotFound("media")` if it does not exist.
    pub async fn set_media_quarantined(
        &self,
        origin: &str,
        media_id: &str,
        quarantined: bool,
    ) -> Result<()> {
        let affected = on_writer!(self, |pool| {
            sqlx::query("UPDATE media SET quarantined = $3 WHERE origin = $1 AND media_id = $2")
                .bind(origin)
                .bind(media_id)
                .bind(quarantined)
                .execute(pool)
                .await?
                .rows_affected()
        });
        expect_one_row(affected, "media")
    }

    /// Every media item, or those `uploader` created, oldest first.
    pub async fn list_media(&self, uploader: Option<&str>) -> Result<Vec<MediaRecord>> {
        let sql = format!(
            "SELECT {MEDIA_COLUMNS} FROM media WHERE (CAST($1 AS TEXT) IS NULL OR uploader = $1) \
             ORDER BY created_ts, origin, media_id"
        );
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(&sql).bind(uploader).fetch_all(pool).await?)
        })
    }

    /// Cached remote media not served since `before_ts` (ms), as `(origin, media_id)`.
    pub async fn remote_media_unused_since(&self, before_ts: i64) -> Result<Vec<(String, String)>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(
                "SELECT origin, media_id FROM media WHERE is_remote = TRUE AND last_access_ts < $1 \
                 ORDER BY last_access_ts",
            )
            .bind(before_ts)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Pending uploads whose time ran out, as `(origin, media_id)`.
    pub async fn expired_pending_media(&self, now: i64) -> Result<Vec<(String, String)>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(
                "SELECT origin, media_id FROM media WHERE sha256 IS NULL AND unused_expires_ts <= $1",
            )
            .bind(now)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Deletes a media item and its thumbnails. Blobs no longer referenced lose their row and are passed to
    /// `unlink` (which removes the files) inside the same transaction. `NotFound("media")` if absent.
    pub async fn delete_media(
        &self,
        origin: &str,
        media_id: &str,
        unlink: impl AsyncFnOnce(Vec<String>) -> std::io::Result<()>,
    ) -> Result<()> {
        in_write_tx!(self, |tx| {
            let mut blobs: Vec<String> = sqlx::query_scalar(
                "SELECT sha256 FROM media_thumbnails WHERE origin = $1 AND media_id = $2",
            )
            .bind(origin)
            .bind(media_id)
            .fetch_all(&mut *tx)
            .await?;
            let content: Option<Option<String>> =
                sqlx::query_scalar("SELECT sha256 FROM media WHERE origin = $1 AND media_id = $2")
                    .bind(origin)
                    .bind(media_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(content) = content else {
                return Err(StorageError::NotFound("media"));
            };
            blobs.extend(content);
            blobs.sort();
            blobs.dedup();
            sqlx::query("DELETE FROM media_thumbnails WHERE origin = $1 AND media_id = $2")
                .bind(origin)
                .bind(media_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM media WHERE origin = $1 AND media_id = $2")
                .bind(origin)
                .bind(media_id)
                .execute(&mut *tx)
                .await?;
            let mut unreferenced = Vec::new();
            for sha256 in blobs {
                // Lock the blob row first, so a concurrent upload of the same bytes waits for this decision.
                let locked: Option<String> = sqlx::query_scalar(&format!(
                    "SELECT sha256 FROM media_blobs WHERE sha256 = $1{}",
                    self.for_update()
                ))
                .bind(&sha256)
                .fetch_optional(&mut *tx)
                .await?;
                if locked.is_none() {
                    continue;
                }
                let references: i64 = sqlx::query_scalar(BLOB_REFERENCES)
                    .bind(&sha256)
                    .fetch_one(&mut *tx)
                    .await?;
                if references == 0 {
                    sqlx::query("DELETE FROM media_blobs WHERE sha256 = $1")
                        .bind(&sha256)
                        .execute(&mut *tx)
                        .await?;
                    unreferenced.push(sha256);
                }
            }
            unlink(unreferenced).await.map_err(media_file_error)?;
        });
        Ok(())
    }

    /// A stored thumbnail of exactly this size and method.
    pub async fn get_thumbnail(
        &self,
        origin: &str,
        media_id: &str,
        width: u32,
        height: u32,
        method: &str,
    ) -> Result<Option<ThumbnailRecord>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(
                "SELECT width, height, content_type, size, sha256 FROM media_thumbnails \
                 WHERE origin = $1 AND media_id = $2 AND width = $3 AND height = $4 AND method = $5",
            )
            .bind(origin)
            .bind(media_id)
            .bind(i64::from(width))
            .bind(i64::from(height))
            .bind(method)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// How many thumbnails are stored for a media item (the service caps it).
    pub async fn count_thumbnails(&self, origin: &str, media_id: &str) -> Result<i64> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_scalar(
                "SELECT COUNT(*) FROM media_thumbnails WHERE origin = $1 AND media_id = $2",
            )
            .bind(origin)
            .bind(media_id)
            .fetch_one(pool)
            .await?)
        })
    }

    /// Records a generated thumbnail (requested as `width`×`height`, `method`) and runs `place` inside the
    /// transaction. A thumbnail stored meanwhile by a concurrent request is kept; `NotFound("media")` if the
    /// media item was deleted.
    pub async fn insert_thumbnail(
        &self,
        origin: &str,
        media_id: &str,
        (width, height, method): (u32, u32, &str),
        stored: &ThumbnailRecord,
        now: i64,
        place: impl AsyncFnOnce() -> std::io::Result<()>,
    ) -> Result<()> {
        in_write_tx!(self, |tx| {
            sqlx::query(UPSERT_BLOB)
                .bind(&stored.sha256)
                .bind(stored.size)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO media_thumbnails (origin, media_id, width, height, method, content_type, \
                 size, sha256, created_ts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (origin, media_id, width, height, method) DO NOTHING",
            )
            .bind(origin)
            .bind(media_id)
            .bind(i64::from(width))
            .bind(i64::from(height))
            .bind(method)
            .bind(&stored.content_type)
            .bind(stored.size)
            .bind(&stored.sha256)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| StorageError::from_write(e, "thumbnail", "media"))?;
            place().await.map_err(media_file_error)?;
        });
        Ok(())
    }

    /// ` FOR UPDATE` on PostgreSQL (row lock); nothing on SQLite, whose write transactions are exclusive.
    fn for_update(&self) -> &'static str {
        match self.backend() {
            super::Backend::Postgres => " FOR UPDATE",
            super::Backend::Sqlite => "",
        }
    }
}

/// A failed file step of a media transaction; the transaction rolls back.
fn media_file_error(source: std::io::Error) -> StorageError {
    StorageError::MediaFile(source)
}
