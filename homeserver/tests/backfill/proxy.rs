//! A TLS reverse proxy standing in front of a Hearth's federation listener under the server's own name, so a
//! test can see and tamper with what that server answers (`/backfill`), while every signature it makes stays
//! real.
//!
//! The proxy binds first; its address is the server name the Hearth behind it runs as, so other servers reach
//! the Hearth through it by name alone.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hearth::http::serve::ListenerTask;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Rewrites a `/backfill` answer (the request target and the parsed JSON body).
pub type Tamper = Arc<dyn Fn(&str, Value) -> Value + Send + Sync>;

/// What the proxy does besides forwarding.
#[derive(Default)]
pub struct ProxyState {
    /// The federation listener behind the proxy (set once the server started).
    pub target: OnceLock<SocketAddr>,
    /// Applied to every `/backfill` answer, when set.
    pub tamper: Mutex<Option<Tamper>>,
    /// `/backfill` requests seen.
    pub backfills: AtomicUsize,
    /// Answer every `/backfill` with 500 instead of forwarding it.
    pub refuse_backfill: std::sync::atomic::AtomicBool,
    /// Request targets of every `/backfill`, in order.
    pub backfill_targets: Mutex<Vec<String>>,
}

/// A running proxy.
pub struct Proxy {
    /// `127.0.0.1:<port>`: the server name of the Hearth behind it.
    pub name: String,
    pub state: Arc<ProxyState>,
    _shutdown: watch::Sender<bool>,
}

impl Proxy {
    /// Binds a TLS listener on loopback (the certificate is generated in `dir`); forwarding starts once
    /// [`ProxyState::target`] is set.
    pub async fn start(dir: &std::path::Path) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let name = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
        let config = hearth::Config {
            server_name: name.clone(),
            data_dir: dir.to_owned(),
            ..hearth::Config::default()
        };
        let tls = hearth::tls::federation_tls_acceptor(&config).expect("TLS for the proxy");
        let state = Arc::new(ProxyState::default());
        let router = Router::new().fallback(forward).with_state(state.clone());
        let (shutdown, receiver) = watch::channel(false);
        tokio::spawn(
            ListenerTask {
                purpose: "test proxy",
                listener,
                tls: Some(tls),
                router,
                shutdown: receiver,
                grace_period: Duration::from_secs(1),
            }
            .run(),
        );
        Self {
            name,
            state,
            _shutdown: shutdown,
        }
    }

    /// Tampers with every `/backfill` answer from now on.
    pub fn tamper_backfill(&self, tamper: Tamper) {
        *self.state.tamper.lock().unwrap() = Some(tamper);
    }

    /// How many `/backfill` requests reached the proxy.
    pub fn backfill_requests(&self) -> usize {
        self.state.backfills.load(Ordering::SeqCst)
    }
}

async fn forward(
    State(state): State<Arc<ProxyState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target_path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let is_backfill = target_path.starts_with("/_matrix/federation/v1/backfill/");
    if is_backfill {
        state.backfills.fetch_add(1, Ordering::SeqCst);
        state
            .backfill_targets
            .lock()
            .unwrap()
            .push(target_path.clone());
        if state.refuse_backfill.load(Ordering::SeqCst) {
            return (StatusCode::INTERNAL_SERVER_ERROR, "refused by the test").into_response();
        }
    }
    let Some(target) = state.target.get() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "not started").into_response();
    };
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut request = client.request(
        reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap(),
        format!("https://{target}{target_path}"),
    );
    for name in ["authorization", "content-type"] {
        if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
            request = request.header(name, value);
        }
    }
    let answer = match request.body(body.to_vec()).send().await {
        Ok(answer) => answer,
        Err(error) => return (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let mut bytes = answer.bytes().await.unwrap_or_default().to_vec();
    let tamper = state.tamper.lock().unwrap().clone();
    if is_backfill
        && status.is_success()
        && let Some(tamper) = tamper
        && let Ok(json) = serde_json::from_slice::<Value>(&bytes)
    {
        bytes = serde_json::to_vec(&tamper(&target_path, json)).unwrap();
    }
    (status, [("content-type", "application/json")], bytes).into_response()
}
