//! The homeserver's error type for start-up and shutdown: everything that stops `hearth serve` from running.
//!
//! Request-level failures never use this type; they are [`hearth_client_api::MatrixError`]s answered at the HTTP
//! edge. Each variant's message says what failed and on which file or address, so the operator can act on it.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::ConfigError;
use crate::storage::StorageError;

/// A failure to start or stop the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration could not be loaded or is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A directory Hearth needs could not be created.
    #[error("cannot create directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The signing key could not be read, parsed or generated.
    #[error("signing key {path}: {source}")]
    SigningKey {
        /// The key file.
        path: PathBuf,
        /// What the crypto layer reported.
        source: hearth_crypto::Error,
    },
    /// The federation TLS certificate or key could not be loaded or generated.
    #[error("federation TLS: {0}")]
    Tls(String),
    /// A listening socket could not be bound.
    #[error("cannot listen on {address} ({purpose}): {source}")]
    Bind {
        /// The address from the config.
        address: SocketAddr,
        /// Which listener (`client` or `federation`).
        purpose: &'static str,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The media store could not be opened, or the URL preview client built.
    #[error("media repository: {0}")]
    Media(String),
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Storage(#[from] StorageError),
    /// The outbound federation client could not be built (CA file, system DNS configuration, IP ranges).
    #[error("federation client: {0}")]
    FederationClient(#[from] hearth_federation::Error),
}
