//! Shared test harness: configuration for a throw-away server, start/stop helpers and HTTP clients.

use std::path::Path;
use std::time::Duration;

use hearth::config::Config;
use hearth::{RunningServer, start};

/// A configuration for a test server in `data_dir`: random loopback ports, SQLite in the data dir, a short
/// shutdown grace period.
pub fn test_config(data_dir: &Path) -> Config {
    let mut config = Config {
        server_name: "hearth.test".to_owned(),
        data_dir: data_dir.to_owned(),
        ..Config::default()
    };
    config.listen.client = "127.0.0.1:0".parse().unwrap();
    config.listen.federation = "127.0.0.1:0".parse().unwrap();
    config.listen.shutdown_grace_period = "2s".parse().unwrap();
    config.rate_limits.enabled = false;
    config
}

/// Starts a server with [`test_config`] after `adjust` has changed it.
pub async fn start_with(data_dir: &Path, adjust: impl FnOnce(&mut Config)) -> RunningServer {
    init_test_logging();
    let mut config = test_config(data_dir);
    adjust(&mut config);
    start(config).await.expect("test server starts")
}

/// Starts a server with the unchanged [`test_config`].
pub async fn start_in(data_dir: &Path) -> RunningServer {
    start_with(data_dir, |_| {}).await
}

/// `http://<client listener><path>`.
pub fn client_url(server: &RunningServer, path: &str) -> String {
    format!("http://{}{path}", server.client_addr)
}

/// `https://<federation listener><path>`.
pub fn federation_url(server: &RunningServer, path: &str) -> String {
    let address = server
        .federation_addr
        .expect("federation listener is running");
    format!("https://{address}{path}")
}

/// A plain HTTP client with a timeout, so a hung server fails the test instead of hanging it.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// An HTTPS client that trusts exactly the self-signed certificate the server generated in `data_dir`, so the
/// test also proves the certificate is valid for 127.0.0.1.
pub fn https_client_trusting(data_dir: &Path) -> reqwest::Client {
    let pem = std::fs::read(
        data_dir
            .join("tls")
            .join(hearth::tls::GENERATED_CERTIFICATE_FILE),
    )
    .expect("generated certificate exists");
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap()
}

/// GETs `url` and returns the status and the JSON body.
pub async fn get_json(client: &reqwest::Client, url: &str) -> (u16, serde_json::Value) {
    let response = client.get(url).send().await.expect("request succeeds");
    let status = response.status().as_u16();
    let body = response.json().await.expect("body is JSON");
    (status, body)
}

/// Server logs go to the test output (shown for failing tests); `RUST_LOG` picks the level.
fn init_test_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_test_writer()
        .try_init();
}
