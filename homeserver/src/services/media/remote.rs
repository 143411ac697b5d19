//! Remote media: how the media service gets another server's content when a local user asks for it.
//!
//! The service depends only on [`RemoteMediaSource`]; federation supplies the implementation, so the media
//! service works (answering 404 for remote media) on a server with federation disabled and in tests.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use hearth_types::ServerName;

use super::error::MediaError;
use super::store::{BlobStore, TempBlob};

/// A boxed future, as trait objects need.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

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

/// Fetches `mxc://origin/media_id` from its origin.
pub trait RemoteMediaSource: Send + Sync {
    /// Downloads the content into a temporary file of `store`, failing with [`MediaError::RemoteTooLarge`]
    /// past `limit` bytes, [`MediaError::NotFound`] when the origin does not have it, and
    /// [`MediaError::NotYetUploaded`] when it is still pending there after `wait`.
    fn fetch<'a>(
        &'a self,
        origin: &'a ServerName,
        media_id: &'a str,
        wait: Duration,
        limit: u64,
        store: &'a BlobStore,
    ) -> BoxFuture<'a, Result<RemoteContent, MediaError>>;
}
