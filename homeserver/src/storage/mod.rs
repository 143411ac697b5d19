//! Storage: the one API over Hearth's database, SQLite (embedded default) or PostgreSQL (scale).
//!
//! This module owns every line of SQL in Hearth, the connection pools and the schema migrations.
//! Callers see typed methods on [`Storage`] and never learn which backend is underneath.
//!
//! # How the two backends are kept apart
//!
//! [`Storage`] holds an enum of concrete sqlx pools (`SqlitePool` / `PgPool`), not `sqlx::Any`:
//!
//! - Each backend gets the pool shape it needs. SQLite allows one writer at a time, so it gets a
//!   single-connection writer pool (writes queue in-process instead of spinning on `SQLITE_BUSY`,
//!   and write transactions start with `BEGIN IMMEDIATE`) plus a pool of `query_only` readers that
//!   WAL lets run beside the writer. PostgreSQL gets one ordinary pool.
//! - Backend-only features stay reachable: advisory locks now, `LISTEN/NOTIFY` and `COPY` later
//!   (DESIGN §7, several processes on one PostgreSQL). `Any` hides those and adds a dynamic
//!   value-conversion layer on every row.
//! - Most SQL is portable: SQLite accepts PostgreSQL-style `$1` placeholders, and both support
//!   `ON CONFLICT` and `RETURNING`. The [`on_reader!`], [`on_writer!`] and [`in_write_tx!`]
//!   macros expand one query text into both match arms, so it is type-checked once per backend;
//!   where the dialects differ, a method matches on the pools itself and spells out each query.
//!
//! Timestamps are integer milliseconds since the Unix epoch (`BIGINT`), passed in by the caller
//! so that the storage layer never reads the clock and tests are deterministic.
//!
//! # Invariants
//!
//! - Never hold a SQLite write transaction while waiting for another writer: the writer pool has
//!   exactly one connection, so that would wait forever (until the acquire timeout).
//! - Every multi-row change that must be all-or-nothing runs in one transaction.

mod account_data;
mod backfill;
mod cross_signing;
mod device_lists;
mod devices;
mod e2e_keys;
mod error;
mod events;
mod filters;
mod key_backup;
mod keys;
mod media;
mod migrate;
mod outbound;
mod presence;
mod receipts;
mod registration_tokens;
mod relations;
mod remote_devices;
mod remote_events;
mod rooms;
mod state;
mod streams;
mod to_device;
mod tokens;
mod transactions;
mod users;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use account_data::AccountData;
pub use cross_signing::{CrossSigningKey, KeySignature};
pub use devices::Device;
pub use e2e_keys::{DeviceWithKeys, UploadedKey};
pub use error::StorageError;
pub use events::{Direction, NewEvent, NewRelation, NewRoom, StoredEvent, TxnKey};
pub use key_backup::{BackedUpKey, BackupVersion, BackupWrite, KeepOrReplace};
pub use keys::{RemoteServerKey, ServerSigningKey};
pub use media::{ContentOutcome, MediaRecord, NewMediaContent, ThumbnailRecord};
pub use migrate::LATEST_SCHEMA_VERSION;
pub use outbound::{DestinationRetry, OutboundBatch, QueuedEdu, QueuedPdu};
pub use presence::Presence;
pub use receipts::{NewReceipt, Receipt};
pub use registration_tokens::{NewRegistrationToken, RegistrationToken};
pub use relations::Relation;
pub use remote_devices::{RemoteDevice, RemoteUpdate};
pub use remote_events::{MembershipRow, NewCurrentState, RemoteEventWrite, StateBefore};
pub use rooms::{Membership, Room};
pub use state::StateMapIds;
pub use streams::StreamPositions;
pub use to_device::{NewToDevice, ToDeviceMessage};
pub use tokens::{AccessToken, NewAccessToken, TokenHash};
pub use users::{NewUser, User};

/// Result alias used by every storage method.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Which database engine a [`Storage`] talks to; for logs, metrics and backend-specific tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file (the default for small servers).
    Sqlite,
    /// A PostgreSQL server (for large servers and, later, several Hearth processes).
    Postgres,
}

/// How long a SQLite connection waits for a lock held by another process (e.g. the admin CLI
/// while the server runs) before giving up with `SQLITE_BUSY`.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Number of concurrent SQLite readers; WAL lets them run alongside the single writer.
const SQLITE_READERS: u32 = 4;
/// Size of the PostgreSQL pool per Hearth process.
const POSTGRES_CONNECTIONS: u32 = 16;
/// How long a caller waits for a free pooled connection before the request fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// The concrete pools behind a [`Storage`]; private so backend choice never leaks to callers.
#[derive(Clone)]
enum Pools {
    /// `writer` has exactly one connection; `reader` connections are `query_only`.
    /// For an in-memory database both are the same one-connection pool.
    Sqlite {
        writer: SqlitePool,
        reader: SqlitePool,
    },
    Postgres(PgPool),
}

/// Handle to Hearth's database. Cheap to clone (the pools are reference-counted); share one per
/// process and pass it explicitly to the services that need it.
#[derive(Clone)]
pub struct Storage {
    pools: Pools,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("backend", &self.backend())
            .finish()
    }
}

/// Runs `$body` with `$pool` bound to a pool that may serve reads (SQLite: a reader).
macro_rules! on_reader {
    ($storage:expr, |$pool:ident| $body:expr) => {
        match &$storage.pools {
            $crate::storage::Pools::Sqlite { reader: $pool, .. } => $body,
            $crate::storage::Pools::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$pool` bound to a pool that may write (SQLite: the single writer).
/// Use for single-statement writes; several statements belong in [`in_write_tx!`].
macro_rules! on_writer {
    ($storage:expr, |$pool:ident| $body:expr) => {
        match &$storage.pools {
            $crate::storage::Pools::Sqlite { writer: $pool, .. } => $body,
            $crate::storage::Pools::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` inside a write transaction bound to `$tx` and commits it when `$body` finishes;
/// an early `?` return drops the transaction, which rolls it back. Use `&mut *$tx` as executor.
macro_rules! in_write_tx {
    ($storage:expr, |$tx:ident| $body:expr) => {
        match &$storage.pools {
            $crate::storage::Pools::Sqlite { writer, .. } => {
                let mut $tx = writer.begin_with("BEGIN IMMEDIATE").await?;
                let value = $body;
                $tx.commit().await?;
                value
            }
            $crate::storage::Pools::Postgres(pool) => {
                let mut $tx = pool.begin().await?;
                let value = $body;
                $tx.commit().await?;
                value
            }
        }
    };
}

pub(crate) use {in_write_tx, on_reader, on_writer};

impl Storage {
    /// Opens the database at `url`, creating it if needed, and brings its schema up to date.
    ///
    /// Accepted URLs: `sqlite://path/to/file.db` (relative paths are relative to the working
    /// directory; missing parent directories are created), `sqlite::memory:` (tests), and
    /// `postgres://…` / `postgresql://…`. Fails with [`StorageError::SchemaTooNew`], without
    /// changing the database, if it was migrated by a newer Hearth.
    pub async fn connect(url: &str) -> Result<Storage> {
        let pools = if url.starts_with("sqlite:") {
            connect_sqlite(url).await?
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            connect_postgres(url).await?
        } else {
            return Err(StorageError::InvalidUrl(format!(
                "unsupported database URL scheme in {:?}: use sqlite:// or postgres://",
                redact_url(url)
            )));
        };
        let storage = Storage { pools };
        if let Err(e) = migrate::migrate(&storage).await {
            storage.close().await;
            return Err(e);
        }
        Ok(storage)
    }

    /// Which engine this storage talks to.
    pub fn backend(&self) -> Backend {
        match self.pools {
            Pools::Sqlite { .. } => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    /// The schema version recorded in the database (equal to [`LATEST_SCHEMA_VERSION`] after a
    /// successful [`Storage::connect`]).
    pub async fn schema_version(&self) -> Result<i64> {
        migrate::current_version(self).await
    }

    /// Waits for in-flight queries, then closes every connection (SQLite checkpoints its WAL).
    /// Clones of this handle fail afterwards.
    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite { writer, reader } => {
                reader.close().await;
                writer.close().await;
            }
            Pools::Postgres(pool) => pool.close().await,
        }
    }
}

/// Opens the SQLite writer and reader pools with WAL, `synchronous=NORMAL` and foreign keys.
async fn connect_sqlite(url: &str) -> Result<Pools> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| StorageError::InvalidUrl(format!("{url:?}: {e}")))?
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    let in_memory = is_sqlite_memory_url(url);
    if in_memory {
        // An in-memory database lives as long as its one connection: never recycle it.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        return Ok(Pools::Sqlite {
            writer: pool.clone(),
            reader: pool,
        });
    }
    if let Some(parent) = options.get_filename().parent() {
        create_parent_dir(parent).await?;
    }
    let options = options
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options.clone())
        .await?;
    let reader = SqlitePoolOptions::new()
        .max_connections(SQLITE_READERS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options.pragma("query_only", "ON"))
        .await;
    match reader {
        Ok(reader) => Ok(Pools::Sqlite { writer, reader }),
        Err(e) => {
            writer.close().await;
            Err(e.into())
        }
    }
}

/// Creates the directory that will hold the SQLite file (and its `-wal`/`-shm` companions).
async fn create_parent_dir(parent: &Path) -> Result<()> {
    if parent.as_os_str().is_empty() {
        return Ok(());
    }
    tokio::fs::create_dir_all(parent)
        .await
        .map_err(|source| StorageError::Io {
            path: parent.to_path_buf(),
            source,
        })
}

/// True for the URL forms sqlx treats as a private in-memory database.
fn is_sqlite_memory_url(url: &str) -> bool {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    path == ":memory:" || url.contains("mode=memory")
}

/// Opens the PostgreSQL pool.
async fn connect_postgres(url: &str) -> Result<Pools> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| StorageError::InvalidUrl(format!("{:?}: {e}", redact_url(url))))?;
    let pool = PgPoolOptions::new()
        .max_connections(POSTGRES_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await?;
    Ok(Pools::Postgres(pool))
}

/// The URL with any password replaced, safe to put into error messages and logs.
fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // `set_password` only fails for URLs that cannot carry credentials at all.
            let _ = parsed.set_password(Some("REDACTED"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password_in_database_url() {
        let redacted = redact_url("postgres://hearth:secret@db.example/hearth");
        assert!(!redacted.contains("secret"));
        assert!(redacted.contains("REDACTED"));
    }

    #[test]
    fn recognises_in_memory_sqlite_urls() {
        assert!(is_sqlite_memory_url("sqlite::memory:"));
        assert!(is_sqlite_memory_url("sqlite://:memory:"));
        assert!(is_sqlite_memory_url("sqlite://x.db?mode=memory"));
        assert!(!is_sqlite_memory_url("sqlite://data/hearth.db"));
    }

    #[tokio::test]
    async fn rejects_unknown_url_scheme() {
        let err = Storage::connect("mysql://localhost/hearth")
            .await
            .expect_err("mysql is not a supported backend");
        assert!(matches!(err, StorageError::InvalidUrl(_)), "{err}");
    }
}
