//! Schema migrations: the numbered SQL files under `migrations/{sqlite,postgres}/`, embedded in
//! the binary and applied at start-up.
//!
//! The applied versions are recorded in the `schema_version` table (version, name, SHA-256 of the
//! SQL text, time applied). Start-up reads that table first, without writing anything; only if
//! migrations are pending does it take the write lock (SQLite `BEGIN IMMEDIATE`, PostgreSQL an
//! advisory lock) and apply them all in one transaction, so several processes starting at once
//! apply each migration exactly once and a failed upgrade leaves the old schema intact.
//!
//! Adding a migration: put `NNNN_name.sql` into BOTH backend directories and append one line to
//! each list below; a unit test fails if a file and the lists disagree.

use sha2::{Digest, Sha256};

use super::{Pools, Result, Storage, StorageError};

/// One embedded migration.
struct Migration {
    /// Position in the sequence, starting at 1, without gaps.
    version: i64,
    /// The `NNNN` part of `NNNN_name.sql`: numbers were assigned to features up front, so the
    /// file numbers may skip one the sequence of versions does not.
    prefix: &'static str,
    /// The `name` part of `NNNN_name.sql`.
    name: &'static str,
    /// The SQL text, run as one multi-statement batch.
    sql: &'static str,
}

macro_rules! migration {
    ($backend:literal, $version:literal, $prefix:literal, $name:literal) => {
        Migration {
            version: $version,
            prefix: $prefix,
            name: $name,
            sql: include_str!(concat!(
                "../../../migrations/",
                $backend,
                "/",
                $prefix,
                "_",
                $name,
                ".sql"
            )),
        }
    };
}

/// SQLite migrations, in order: `migration!(backend, version, file prefix, name)` embeds
/// `migrations/<backend>/<prefix>_<name>.sql`.
const SQLITE_MIGRATIONS: &[Migration] = &[
    migration!("sqlite", 1, "0001", "accounts"),
    migration!("sqlite", 2, "0002", "server_keys"),
    migration!("sqlite", 3, "0004", "rooms"),
    migration!("sqlite", 4, "0005", "sync"),
    migration!("sqlite", 5, "0009", "federation_outbound"),
    migration!("sqlite", 6, "0006", "e2ee"),
    migration!("sqlite", 7, "0008", "federation_inbound"),
    migration!("sqlite", 8, "0007", "media"),
];

/// PostgreSQL migrations, in order; same versions and names as the SQLite list.
const POSTGRES_MIGRATIONS: &[Migration] = &[
    migration!("postgres", 1, "0001", "accounts"),
    migration!("postgres", 2, "0002", "server_keys"),
    migration!("postgres", 3, "0004", "rooms"),
    migration!("postgres", 4, "0005", "sync"),
    migration!("postgres", 5, "0009", "federation_outbound"),
    migration!("postgres", 6, "0006", "e2ee"),
    migration!("postgres", 7, "0008", "federation_inbound"),
    migration!("postgres", 8, "0007", "media"),
];

/// The newest schema version this binary knows; a database at a higher version is refused.
pub const LATEST_SCHEMA_VERSION: i64 = 8;

const _: () = {
    assert!(SQLITE_MIGRATIONS.len() == POSTGRES_MIGRATIONS.len());
    assert!(SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.len() - 1].version == LATEST_SCHEMA_VERSION);
    assert!(POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.len() - 1].version == LATEST_SCHEMA_VERSION);
};

/// Key for `pg_advisory_xact_lock`, so concurrent Hearth processes migrate one at a time
/// (the bytes spell "hearthmg").
const POSTGRES_MIGRATION_LOCK: i64 = 0x6865_6172_7468_6d67;

const CREATE_SCHEMA_VERSION: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version    BIGINT NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    checksum   TEXT   NOT NULL,
    applied_ts BIGINT NOT NULL
)";

const SELECT_VERSION: &str = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
const SELECT_APPLIED: &str = "SELECT version, checksum FROM schema_version ORDER BY version";
const INSERT_VERSION: &str =
    "INSERT INTO schema_version (version, name, checksum, applied_ts) VALUES ($1, $2, $3, $4)";

/// Brings the schema to [`LATEST_SCHEMA_VERSION`], or refuses a database that is newer.
pub(super) async fn migrate(storage: &Storage) -> Result<()> {
    let current = current_version(storage).await?;
    check_not_too_new(current)?;
    verify_applied_checksums(storage).await?;
    if current == LATEST_SCHEMA_VERSION {
        return Ok(());
    }
    apply_pending(storage).await
}

/// The recorded schema version; 0 for a database Hearth has never migrated.
pub(super) async fn current_version(storage: &Storage) -> Result<i64> {
    let version = match &storage.pools {
        Pools::Sqlite { reader, .. } => {
            let exists: bool = sqlx::query_scalar(
                "SELECT COUNT(*) > 0 FROM sqlite_master \
                 WHERE type = 'table' AND name = 'schema_version'",
            )
            .fetch_one(reader)
            .await?;
            if !exists {
                return Ok(0);
            }
            sqlx::query_scalar(SELECT_VERSION).fetch_one(reader).await?
        }
        Pools::Postgres(pool) => {
            let exists: bool =
                sqlx::query_scalar("SELECT to_regclass('schema_version') IS NOT NULL")
                    .fetch_one(pool)
                    .await?;
            if !exists {
                return Ok(0);
            }
            sqlx::query_scalar(SELECT_VERSION).fetch_one(pool).await?
        }
    };
    Ok(version)
}

fn check_not_too_new(current: i64) -> Result<()> {
    if current > LATEST_SCHEMA_VERSION {
        return Err(StorageError::SchemaTooNew {
            db: current,
            binary: LATEST_SCHEMA_VERSION,
        });
    }
    Ok(())
}

fn migrations(storage: &Storage) -> &'static [Migration] {
    match storage.pools {
        Pools::Sqlite { .. } => SQLITE_MIGRATIONS,
        Pools::Postgres(_) => POSTGRES_MIGRATIONS,
    }
}

fn checksum(sql: &str) -> String {
    Sha256::digest(sql.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Fails if a migration recorded as applied is not byte-identical to the embedded one.
async fn verify_applied_checksums(storage: &Storage) -> Result<()> {
    if current_version(storage).await? == 0 {
        return Ok(());
    }
    let applied: Vec<(i64, String)> = super::on_reader!(storage, |pool| {
        sqlx::query_as(SELECT_APPLIED).fetch_all(pool).await?
    });
    let known = migrations(storage);
    for (version, recorded) in applied {
        let Some(migration) = known.iter().find(|m| m.version == version) else {
            continue;
        };
        if checksum(migration.sql) != recorded {
            return Err(StorageError::MigrationChanged {
                version,
                name: migration.name,
            });
        }
    }
    Ok(())
}

/// Applies every migration newer than the recorded version, all in one locked transaction.
async fn apply_pending(storage: &Storage) -> Result<()> {
    let now = now_ms();
    let known = migrations(storage);
    super::in_write_tx!(storage, |tx| {
        if storage.backend() == super::Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(POSTGRES_MIGRATION_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(CREATE_SCHEMA_VERSION).execute(&mut *tx).await?;
        // Re-read under the lock: another process may have migrated meanwhile.
        let current: i64 = sqlx::query_scalar(SELECT_VERSION)
            .fetch_one(&mut *tx)
            .await?;
        check_not_too_new(current)?;
        for migration in known.iter().filter(|m| m.version > current) {
            sqlx::raw_sql(migration.sql)
                .execute(&mut *tx)
                .await
                .map_err(|source| StorageError::Migration {
                    version: migration.version,
                    name: migration.name,
                    source,
                })?;
            sqlx::query(INSERT_VERSION)
                .bind(migration.version)
                .bind(migration.name)
                .bind(checksum(migration.sql))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tracing::info!(
                version = migration.version,
                file = migration.prefix,
                name = migration.name,
                "applied database migration"
            );
        }
    });
    Ok(())
}

/// Wall-clock milliseconds, only for the `applied_ts` bookkeeping column.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `NNNN_name.sql` file on disk must be in the embedded list and vice versa. The list's order is the
    /// order features landed in, which need not follow the file prefixes (assigned per feature up front).
    fn assert_list_matches_directory(backend: &str, list: &[Migration]) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../migrations")
            .join(backend);
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        // File prefixes were assigned per feature up front, so a feature that landed later may sit before
        // an earlier one in file order: compare the sets; the order of application is the version order.
        let mut listed: Vec<String> = list
            .iter()
            .map(|m| format!("{}_{}.sql", m.prefix, m.name))
            .collect();
        listed.sort();
        assert_eq!(files, listed, "migrations/{backend} and the embedded list");
        for (index, migration) in list.iter().enumerate() {
            assert_eq!(migration.version, index as i64 + 1, "versions have no gaps");
        }
    }

    #[test]
    fn embedded_sqlite_migrations_match_directory() {
        assert_list_matches_directory("sqlite", SQLITE_MIGRATIONS);
    }

    #[test]
    fn embedded_postgres_migrations_match_directory() {
        assert_list_matches_directory("postgres", POSTGRES_MIGRATIONS);
    }

    #[test]
    fn both_backends_have_the_same_migration_sequence() {
        let sqlite: Vec<_> = SQLITE_MIGRATIONS
            .iter()
            .map(|m| (m.version, m.name))
            .collect();
        let postgres: Vec<_> = POSTGRES_MIGRATIONS
            .iter()
            .map(|m| (m.version, m.name))
            .collect();
        assert_eq!(sqlite, postgres);
    }
}
