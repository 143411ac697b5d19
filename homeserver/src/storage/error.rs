//! The storage error type: the outcomes a caller can act on, kept apart from raw driver failures.

use std::path::PathBuf;

/// Why a storage operation failed.
///
/// `NotFound` and `Conflict` are expected outcomes that callers map to API errors (e.g.
/// `M_NOT_FOUND`, `M_USER_IN_USE`); the others mean the database is unusable or misconfigured.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The row the operation needs does not exist; names what was missing ("user", "device", …).
    #[error("{0} not found")]
    NotFound(&'static str),

    /// A row with the same unique key already exists; names what was duplicated.
    #[error("{0} already exists")]
    Conflict(&'static str),

    /// The database was migrated by a newer Hearth; it was left untouched.
    #[error(
        "database schema version {db} is newer than this Hearth binary supports ({binary}); \
         upgrade Hearth"
    )]
    SchemaTooNew {
        /// Version recorded in the database.
        db: i64,
        /// Newest version this binary knows.
        binary: i64,
    },

    /// An applied migration's text differs from the one embedded in this binary: the database
    /// was created by a different build and its schema cannot be trusted.
    #[error(
        "migration {version} ({name}) applied to this database differs from the one in this \
         Hearth binary; the database was created by an incompatible build"
    )]
    MigrationChanged {
        /// Version of the mismatching migration.
        version: i64,
        /// Its name in this binary.
        name: &'static str,
    },

    /// A migration failed to apply; the transaction was rolled back.
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        /// Version of the failed migration.
        version: i64,
        /// Its name.
        name: &'static str,
        /// The database's complaint.
        source: sqlx::Error,
    },

    /// The database URL is malformed or names an unsupported backend.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),

    /// A filesystem operation around the database (creating its directory) failed.
    #[error("cannot create database directory {path}: {source}")]
    Io {
        /// The directory in question.
        path: PathBuf,
        /// The operating system's complaint.
        source: std::io::Error,
    },

    /// The file step of a media transaction (placing or removing a blob) failed; the transaction was rolled
    /// back.
    #[error("media file: {0}")]
    MediaFile(std::io::Error),

    /// Any other failure reported by the database driver (connection lost, disk full, …).
    #[error("database error: {0}")]
    Backend(#[from] sqlx::Error),
}

impl StorageError {
    /// Maps a unique-key violation to `Conflict(what)` and a foreign-key violation to
    /// `NotFound(parent)`; everything else stays a backend error.
    pub(crate) fn from_write(e: sqlx::Error, what: &'static str, parent: &'static str) -> Self {
        if let Some(db) = e.as_database_error() {
            if db.is_unique_violation() {
                return StorageError::Conflict(what);
            }
            if db.is_foreign_key_violation() {
                return StorageError::NotFound(parent);
            }
        }
        StorageError::Backend(e)
    }
}
