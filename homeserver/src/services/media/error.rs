//! [`MediaError`]: what the media service can refuse or fail with, and the spec's `errcode` and status of each.

use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;

use crate::storage::StorageError;

/// Why a media operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Unknown, expired, deleted or quarantined media: 404 `M_NOT_FOUND`.
    #[error("{0}")]
    NotFound(String),
    /// The upload exceeds `[media] max_upload_bytes`: 413 `M_TOO_LARGE`.
    #[error("content exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The image is too large to thumbnail (pixel count, or a decoder allocation limit): 413 `M_TOO_LARGE`.
    #[error("{0}")]
    TooLargeToThumbnail(String),
    /// Remote content exceeds the limit: 502 `M_TOO_LARGE`.
    #[error("remote content exceeds the limit of {limit} bytes")]
    RemoteTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// Not permitted (quota, someone else's pending upload): 403 `M_FORBIDDEN`.
    #[error("{0}")]
    Forbidden(String),
    /// The pending upload has content already: 409 `M_CANNOT_OVERWRITE_MEDIA`.
    #[error("media already uploaded")]
    CannotOverwrite,
    /// The content did not arrive within the wait: 504 `M_NOT_YET_UPLOADED`.
    #[error("content has not yet been uploaded")]
    NotYetUploaded,
    /// Too many pending uploads: 429 `M_LIMIT_EXCEEDED`.
    #[error("{0}")]
    LimitExceeded(String),
    /// A parameter is invalid: 400 `M_INVALID_PARAM`.
    #[error("{0}")]
    InvalidParam(String),
    /// A required parameter is missing: 400 `M_MISSING_PARAM`.
    #[error("{0}")]
    MissingParam(String),
    /// The content cannot be thumbnailed (not an image, undecodable): 400 `M_UNKNOWN`, as the spec shows.
    #[error("{0}")]
    CannotThumbnail(String),
    /// The request body broke off: 400 `M_UNKNOWN`.
    #[error("reading the request body failed: {0}")]
    BodyRead(String),
    /// The remote server could not be reached or answered badly: 502 `M_UNKNOWN`.
    #[error("{0}")]
    Remote(String),
    /// The feature is off (URL previews): 404 `M_UNRECOGNIZED`.
    #[error("{0}")]
    Disabled(String),
    /// A filesystem failure.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The operating system's complaint.
        source: std::io::Error,
    },
    /// A database failure.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A bug (a panicked worker thread, corrupt stored data).
    #[error("internal error: {0}")]
    Internal(String),
}

impl MediaError {
    /// An I/O failure while doing `what`.
    pub(crate) fn io(what: &'static str, source: std::io::Error) -> Self {
        Self::Io { what, source }
    }

    /// The Matrix error the client sees; internal details are logged, not sent.
    pub fn to_matrix(&self) -> MatrixError {
        let message = self.to_string();
        match self {
            MediaError::NotFound(_) => MatrixError::new(ErrorCode::NotFound, message),
            MediaError::TooLarge { .. } | MediaError::TooLargeToThumbnail(_) => {
                MatrixError::too_large(message)
            }
            MediaError::RemoteTooLarge { .. } => {
                MatrixError::new(ErrorCode::TooLarge, message).with_status(502)
            }
            MediaError::Forbidden(_) => MatrixError::new(ErrorCode::Forbidden, message),
            MediaError::CannotOverwrite => {
                MatrixError::new(ErrorCode::CannotOverwriteMedia, message)
            }
            MediaError::NotYetUploaded => MatrixError::new(ErrorCode::NotYetUploaded, message),
            MediaError::LimitExceeded(_) => MatrixError::new(ErrorCode::LimitExceeded, message),
            MediaError::InvalidParam(_) => MatrixError::new(ErrorCode::InvalidParam, message),
            MediaError::MissingParam(_) => MatrixError::new(ErrorCode::MissingParam, message),
            MediaError::CannotThumbnail(_) | MediaError::BodyRead(_) => {
                MatrixError::new(ErrorCode::Unknown, message).with_status(400)
            }
            MediaError::Remote(_) => MatrixError::new(ErrorCode::Unknown, message).with_status(502),
            MediaError::Disabled(_) => MatrixError::unrecognized(),
            MediaError::Io { .. } | MediaError::Storage(_) | MediaError::Internal(_) => {
                tracing::error!(error = %self, "media operation failed");
                MatrixError::internal()
            }
        }
    }
}
