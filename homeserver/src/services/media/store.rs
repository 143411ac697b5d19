//! The media files on disk: a content-addressed blob store under `<data_dir>/media`.
//!
//! ```text
//! media/blobs/ab/cd/abcdef0123…   one file per distinct content, named by its SHA-256 (hex)
//! media/tmp/<random>             uploads and downloads in progress (removed when they finish or fail)
//! ```
//!
//! Content is streamed into a temporary file and hashed on the way; [`TempBlob::place`] then fsyncs and
//! renames it into place (or drops it when the same bytes are stored already). Storage calls `place` and
//! [`BlobStore::unlink`] inside the database transaction that records or drops the last reference, so the
//! files and the metadata agree (see `storage::media`).

use std::path::{Path, PathBuf};

use axum::body::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::error::MediaError;

/// Characters of temporary file names.
const TEMP_ALPHABET: &str = "abcdefghijklmnopqrstuvwxyz0123456789";

/// The blob store's root and its two subdirectories.
#[derive(Clone, Debug)]
pub struct BlobStore {
    blobs: PathBuf,
    tmp: PathBuf,
}

/// Content written to a temporary file, hashed, not yet in the store. The temporary file is removed when
/// this is dropped without being placed.
#[derive(Debug)]
pub struct TempBlob {
    path: PathBuf,
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

impl BlobStore {
    /// The store under `root` (`<data_dir>/media`); creates its directories.
    pub fn open(root: &Path) -> std::io::Result<BlobStore> {
        let store = BlobStore {
            blobs: root.join("blobs"),
            tmp: root.join("tmp"),
        };
        std::fs::create_dir_all(&store.blobs)?;
        std::fs::create_dir_all(&store.tmp)?;
        Ok(store)
    }

    /// Where the blob with this SHA-256 (64 hex characters, checked by the caller) lives.
    pub fn path_of(&self, sha256: &str) -> PathBuf {
        let (a, b) = (
            &sha256[..2.min(sha256.len())],
            sha256.get(2..4).unwrap_or("00"),
        );
        self.blobs.join(a).join(b).join(sha256)
    }

    /// Streams `body` into a temporary file, hashing it; fails with `M_TOO_LARGE` past `limit` bytes (the
    /// partial file is removed). Never holds more than one chunk in memory.
    pub async fn write_stream<S, E>(&self, mut body: S, limit: u64) -> Result<TempBlob, MediaError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let name = hearth_crypto::random::random_string(24, TEMP_ALPHABET);
        let path = self.tmp.join(name);
        let mut file = tokio::fs::File::create(&path)
            .await
            .map_err(|error| MediaError::io("creating a temporary media file", error))?;
        let mut blob = TempBlob {
            path,
            sha256: String::new(),
            size: 0,
        };
        let mut hasher = Sha256::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|error| MediaError::BodyRead(error.to_string()))?;
            blob.size += chunk.len() as u64;
            if blob.size > limit {
                return Err(MediaError::TooLarge { limit });
            }
            hasher.update(&chunk);
            file.write_all(&chunk)
                .await
                .map_err(|error| MediaError::io("writing a temporary media file", error))?;
        }
        file.sync_all()
            .await
            .map_err(|error| MediaError::io("syncing a temporary media file", error))?;
        blob.sha256 = hex(&hasher.finalize());
        Ok(blob)
    }

    /// Writes `bytes` (a generated thumbnail) as a temporary blob.
    pub async fn write_bytes(&self, bytes: Vec<u8>) -> Result<TempBlob, MediaError> {
        let size = bytes.len() as u64;
        let stream =
            futures_util::stream::iter([Ok::<_, std::convert::Infallible>(Bytes::from(bytes))]);
        self.write_stream(stream, size).await
    }

    /// Removes the files of blobs no longer referenced; a file already gone is fine.
    pub async fn unlink(&self, sha256s: &[String]) -> std::io::Result<()> {
        for sha256 in sha256s {
            match tokio::fs::remove_file(self.path_of(sha256)).await {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Opens a blob for reading.
    pub async fn open_blob(&self, sha256: &str) -> Result<tokio::fs::File, MediaError> {
        tokio::fs::File::open(self.path_of(sha256))
            .await
            .map_err(|error| MediaError::io("opening a media file", error))
    }

    /// Reads a whole blob (for thumbnailing, which is bounded by the upload limit).
    pub async fn read_blob(&self, sha256: &str) -> Result<Vec<u8>, MediaError> {
        tokio::fs::read(self.path_of(sha256))
            .await
            .map_err(|error| MediaError::io("reading a media file", error))
    }
}

impl TempBlob {
    /// Moves the content into `store` under its hash (keeping an existing identical file) and makes the
    /// rename durable. Called inside the transaction that records the blob.
    pub async fn place(&self, store: &BlobStore) -> std::io::Result<()> {
        let target = store.path_of(&self.sha256);
        if tokio::fs::try_exists(&target).await? {
            return Ok(());
        }
        let parent = target
            .parent()
            .ok_or_else(|| std::io::Error::other("blob path has no parent"))?;
        tokio::fs::create_dir_all(parent).await?;
        tokio::fs::rename(&self.path, &target).await?;
        let parent = parent.to_owned();
        tokio::task::spawn_blocking(move || std::fs::File::open(parent)?.sync_all())
            .await
            .map_err(std::io::Error::other)?
    }
}

impl TempBlob {
    /// Opens the temporary file for reading (content served without being stored; the open file stays
    /// readable after the blob is dropped and the name removed).
    pub async fn open(&self) -> Result<tokio::fs::File, MediaError> {
        tokio::fs::File::open(&self.path)
            .await
            .map_err(|error| MediaError::io("opening a temporary media file", error))
    }
}

impl Drop for TempBlob {
    fn drop(&mut self) {
        // After `place` the file is gone (renamed) and this fails harmlessly.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn identical_content_is_stored_once_and_temp_files_are_cleaned_up() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let first = store.write_bytes(b"hello".to_vec()).await.unwrap();
        let second = store.write_bytes(b"hello".to_vec()).await.unwrap();
        assert_eq!(first.sha256, second.sha256);
        assert_eq!(
            first.sha256,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        first.place(&store).await.unwrap();
        second.place(&store).await.unwrap();
        drop((first, second));
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
        let path =
            store.path_of("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert!(
            path.ends_with(
                "2c/f2/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
            )
        );
        assert_eq!(std::fs::read(path).unwrap(), b"hello");
    }

    #[tokio::test]
    async fn oversized_streams_fail_and_leave_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let chunks = futures_util::stream::iter(
            (0..10).map(|_| Ok::<_, std::convert::Infallible>(Bytes::from_static(&[0; 100]))),
        );
        let error = store.write_stream(chunks, 950).await.unwrap_err();
        assert!(matches!(error, MediaError::TooLarge { limit: 950 }));
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }
}
