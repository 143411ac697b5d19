//! The accounts test harness: a server on a fresh SQLite or PostgreSQL database, a second storage handle on the
//! same database (to seed users and tokens the way the admin CLI would), and JSON request helpers.

use std::path::Path;
use std::time::Duration;

use hearth::RunningServer;
use hearth::config::Config;
use hearth::storage::{Backend, Storage};
use serde_json::Value;

#[allow(dead_code)]
#[path = "../storage/harness.rs"]
mod harness;

pub use harness::TestDb;

/// A running test server with its database.
pub struct TestServer {
    pub server: RunningServer,
    pub storage: Storage,
    pub _db: TestDb,
    pub http: reqwest::Client,
    /// Keeps the data directory (signing key) alive.
    pub _data_dir: tempfile::TempDir,
}

/// A fresh database of the given backend.
pub async fn fresh_db(backend: Backend) -> TestDb {
    match backend {
        Backend::Sqlite => TestDb::sqlite(),
        Backend::Postgres => TestDb::postgres().await,
    }
}

/// The configuration of a test server in `data_dir` on `database_url`.
pub fn test_config(data_dir: &Path, database_url: &str) -> Config {
    let mut config = Config {
        server_name: "hearth.test".to_owned(),
        data_dir: data_dir.to_owned(),
        ..Config::default()
    };
    config.database.url = database_url.to_owned();
    config.federation.enabled = false;
    config.listen.client = "127.0.0.1:0".parse().unwrap();
    config.listen.shutdown_grace_period = "2s".parse().unwrap();
    // Tests act far faster than people; the rate-limit tests switch the limits back on.
    config.rate_limits.enabled = false;
    config
}

/// Open registration (`m.login.dummy`), no token.
pub fn open_registration(config: &mut Config) {
    config.registration.open = true;
    config.registration.token_required = false;
}

/// Starts a server on a fresh `backend` database after `adjust` changed its configuration.
pub async fn start(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestServer {
    let db = fresh_db(backend).await;
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = test_config(data_dir.path(), &db.url);
    adjust(&mut config);
    let server = hearth::start(config).await.expect("test server starts");
    let storage = db.connect().await;
    TestServer {
        server,
        storage,
        _db: db,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap(),
        _data_dir: data_dir,
    }
}

impl TestServer {
    /// `http://<client listener><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.client_addr)
    }

    /// Sends `method path` with an optional bearer token and JSON body; returns status and JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request is answered");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body reads");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("body is JSON: {text}"))
        };
        (status, json)
    }

    /// The URL of the server's database (for the admin CLI).
    pub fn database_url(&self) -> String {
        self._db.url.clone()
    }

    /// Sends a raw body (to test malformed JSON); returns status and JSON body.
    pub async fn call_raw(&self, method: reqwest::Method, path: &str, body: &str) -> (u16, Value) {
        let response = self
            .http
            .request(method, self.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("request is answered");
        let status = response.status().as_u16();
        (status, response.json().await.expect("body is JSON"))
    }

    /// Registers `username` with `password` through open registration (the server must allow it) and returns
    /// the access token.
    pub async fn register_open(&self, username: &str, password: &str) -> String {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/_matrix/client/v3/register",
                None,
                Some(&serde_json::json!({
                    "username": username,
                    "password": password,
                    "auth": {"type": "m.login.dummy"},
                })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"]
            .as_str()
            .expect("access token")
            .to_owned()
    }

    /// Stops the server and closes the extra storage handle.
    pub async fn stop(self) {
        self.storage.close().await;
        self.server.shutdown().await;
    }
}

/// Runs `$body` (an async fn taking a `Backend`) as one test per backend.
#[macro_export]
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(hearth::storage::Backend::Sqlite).await;
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(hearth::storage::Backend::Postgres).await;
            }
        }
    };
}
