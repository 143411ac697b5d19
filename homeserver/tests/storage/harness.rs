//! The test harness: a fresh database per test on either backend, raw SQL access for tampering
//! with a schema the way another Hearth binary would, and fixtures shared by the test files.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hearth::storage::{Backend, NewAccessToken, NewUser, Storage, TokenHash};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, PgConnection, SqliteConnection};

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432";

/// A fresh, empty database for one test; dropped (PostgreSQL) or deleted (SQLite) afterwards.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    /// Keeps the SQLite directory alive for the test's duration.
    _dir: Option<tempfile::TempDir>,
    /// PostgreSQL: (maintenance-database URL, database name) to drop on `Drop`.
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A SQLite database in a nested, not yet existing directory (proves parent creation).
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("create temp dir");
        let url = format!("sqlite://{}/nested/dir/hearth.db", dir.path().display());
        TestDb {
            backend: Backend::Sqlite,
            url,
            _dir: Some(dir),
            postgres: None,
        }
    }

    /// A uniquely named, newly created PostgreSQL database.
    pub async fn postgres() -> TestDb {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let base = std::env::var("HEARTH_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let random = RandomState::new().hash_one(std::time::SystemTime::now()) as u32;
        let name = format!(
            "hearth_test_{}_{}_{random:08x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let maintenance = database_url(&base, "postgres");
        let mut conn = tokio::time::timeout(
            Duration::from_secs(10),
            PgConnection::connect(&maintenance),
        )
        .await
        .map_err(|_| "timed out after 10 s".to_owned())
        .and_then(|r| r.map_err(|e| e.to_string()))
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is required for the storage tests but {maintenance} is unreachable: \
                 {e}. Run scripts/check (it starts PostgreSQL) or set HEARTH_TEST_POSTGRES_URL."
            )
        });
        sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let _ = conn.close().await;
        TestDb {
            backend: Backend::Postgres,
            url: database_url(&base, &name),
            _dir: None,
            postgres: Some((maintenance, name)),
        }
    }

    pub async fn connect(&self) -> Storage {
        let storage = Storage::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.url));
        assert_eq!(storage.backend(), self.backend);
        storage
    }

    /// Runs SQL outside the storage API (to tamper with the schema like another binary would).
    pub async fn raw_execute(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_str(&self.url)
                    .expect("sqlite URL")
                    .create_if_missing(true);
                if let Some(parent) = options.get_filename().parent() {
                    std::fs::create_dir_all(parent).expect("create database directory");
                }
                let mut conn = SqliteConnection::connect_with(&options)
                    .await
                    .expect("raw sqlite");
                sqlx::raw_sql(sql).execute(&mut conn).await.expect(sql);
                conn.close().await.expect("close raw sqlite");
            }
            Backend::Postgres => {
                let mut conn = PgConnection::connect(&self.url)
                    .await
                    .expect("raw postgres");
                sqlx::raw_sql(sql).execute(&mut conn).await.expect(sql);
                conn.close().await.expect("close raw postgres");
            }
        }
    }

    /// Table names and recorded schema versions: what a migration run would change.
    pub async fn schema_fingerprint(&self) -> (Vec<String>, Vec<(i64, String)>) {
        const VERSIONS: &str = "SELECT version, checksum FROM schema_version ORDER BY version";
        match self.backend {
            Backend::Sqlite => {
                let mut conn = SqliteConnection::connect(&self.url)
                    .await
                    .expect("raw sqlite");
                let tables = sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type IN ('table', 'index') \
                     ORDER BY name",
                )
                .fetch_all(&mut conn)
                .await
                .expect("list tables");
                let versions = sqlx::query_as(VERSIONS)
                    .fetch_all(&mut conn)
                    .await
                    .expect("versions");
                conn.close().await.expect("close raw sqlite");
                (tables, versions)
            }
            Backend::Postgres => {
                let mut conn = PgConnection::connect(&self.url)
                    .await
                    .expect("raw postgres");
                let tables = sqlx::query_scalar(
                    "SELECT tablename::TEXT FROM pg_tables WHERE schemaname = 'public' \
                     UNION ALL SELECT indexname::TEXT FROM pg_indexes WHERE schemaname = 'public' \
                     ORDER BY 1",
                )
                .fetch_all(&mut conn)
                .await
                .expect("list tables");
                let versions = sqlx::query_as(VERSIONS)
                    .fetch_all(&mut conn)
                    .await
                    .expect("versions");
                conn.close().await.expect("close raw postgres");
                (tables, versions)
            }
        }
    }

    /// For SQLite, the bytes of the database file (`None` for PostgreSQL).
    pub fn sqlite_file_bytes(&self) -> Option<Vec<u8>> {
        let path = self.url.strip_prefix("sqlite://")?;
        Some(std::fs::read(path).expect("read sqlite file"))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((maintenance, name)) = self.postgres.take() else {
            return;
        };
        // Best effort, on a separate thread because `drop` cannot await inside the test runtime.
        let dropper = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&maintenance).await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = sqlx::raw_sql(&sql).execute(&mut conn).await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

/// `base` with its path replaced by `/database`.
fn database_url(base: &str, database: &str) -> String {
    let mut url = url::Url::parse(base).expect("HEARTH_TEST_POSTGRES_URL is a URL");
    url.set_path(database);
    url.to_string()
}

pub fn user<'a>(user_id: &'a str) -> NewUser<'a> {
    NewUser {
        user_id,
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"),
        created_ts: 1_700_000_000_000,
        is_admin: false,
        is_guest: false,
        displayname: Some("Alice"),
    }
}

pub fn token_for<'a>(
    token: &str,
    user_id: &'a str,
    device_id: Option<&'a str>,
) -> NewAccessToken<'a> {
    NewAccessToken {
        token_hash: TokenHash::of(token),
        user_id,
        device_id,
        created_ts: 10,
        expires_ts: None,
    }
}
