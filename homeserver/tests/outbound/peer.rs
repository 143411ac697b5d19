//! A TLS server on loopback standing in for another homeserver: it answers with a test's responder and
//! reports every request it received. Plus a server configured to federate with it.

use std::collections::HashMap;
use std::sync::Arc;

use hearth::storage::Backend;
use hearth_types::ServerName;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::common::{TestServer, start};

/// A server on `backend` with federation on, allowed to reach loopback peers with self-signed certificates,
/// and open registration.
pub async fn federating_server(backend: Backend) -> TestServer {
    start(backend, |config| {
        config.federation.enabled = true;
        config.listen.federation = "127.0.0.1:0".parse().unwrap();
        config.federation.verify_peer_certificates = false;
        config.federation.allowed_ip_ranges = vec!["127.0.0.0/8".parse().unwrap()];
        config.registration.open = true;
        config.registration.token_required = false;
    })
    .await
}

/// One request the fake peer received.
pub struct Received {
    pub method: String,
    pub target: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

/// How the fake peer answers a request: (status, JSON body) from (method, target, JSON body).
pub type Responder = Arc<dyn Fn(&str, &str, &Value) -> (u16, Value) + Send + Sync>;

/// A responder answering every request like a `/send` that accepted everything.
pub fn accept_all() -> Responder {
    Arc::new(|_, _, _| (200, json!({"pdus": {}})))
}

/// A TLS server on 127.0.0.1 (Hearth's own self-signed certificate set-up) standing in for another
/// homeserver: answers each request with `respond` and reports it.
pub async fn fake_peer(
    dir: &std::path::Path,
    respond: Responder,
) -> (ServerName, mpsc::UnboundedReceiver<Received>) {
    let config = hearth::Config {
        server_name: "127.0.0.1".into(),
        data_dir: dir.to_owned(),
        ..hearth::Config::default()
    };
    let acceptor = hearth::tls::federation_tls_acceptor(&config).expect("TLS for the fake peer");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, tx, respond) = (acceptor.clone(), tx.clone(), respond.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut data = Vec::new();
                let mut buf = [0u8; 8192];
                let head_end = loop {
                    if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i;
                    }
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => data.extend_from_slice(&buf[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
                let mut lines = head.split("\r\n");
                let mut request_line = lines.next().unwrap_or_default().split(' ');
                let method = request_line.next().unwrap_or_default().to_owned();
                let target = request_line.next().unwrap_or_default().to_owned();
                let headers: HashMap<String, String> = lines
                    .filter_map(|line| line.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                let length: usize = headers
                    .get("content-length")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0);
                let mut body = data[head_end + 4..].to_vec();
                while body.len() < length {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => body.extend_from_slice(&buf[..n]),
                    }
                }
                let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let (status, answer) = respond(&method, &target, &json);
                let _ = tx.send(Received {
                    method,
                    target,
                    headers,
                    body,
                });
                let answer = answer.to_string();
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (ServerName::parse(&format!("127.0.0.1:{port}")).unwrap(), rx)
}
