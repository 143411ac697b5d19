//! A fake origin server for remote media: TLS on loopback, answering each request with raw bytes from a test's
//! responder (multipart answers, legacy answers, redirects, errors, slow answers) and counting what it got.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hearth::storage::Backend;
use hearth_federation::media::MultipartFrame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::common::{TestServer, start};

/// One answer of the fake origin.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Reply {
    /// A JSON error.
    pub fn error(status: u16, errcode: &str) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: format!(r#"{{"errcode":"{errcode}","error":"fake"}}"#).into_bytes(),
            delay: Duration::ZERO,
        }
    }

    /// The spec's two-part answer with `content`.
    pub fn multipart(content_type: &str, disposition: &str, content: &[u8]) -> Reply {
        let frame = MultipartFrame::new();
        let mut body = frame.head(content_type, disposition).into_bytes();
        body.extend_from_slice(content);
        body.extend_from_slice(frame.tail().as_bytes());
        Reply {
            status: 200,
            headers: vec![("Content-Type".into(), frame.content_type())],
            body,
            delay: Duration::ZERO,
        }
    }

    /// A two-part answer whose second part redirects to `location`.
    pub fn multipart_location(location: &str) -> Reply {
        let body = format!(
            "--B\r\nContent-Type: application/json\r\n\r\n{{}}\r\n--B\r\nLocation: {location}\r\n\r\n\r\n--B--\r\n"
        );
        Reply {
            status: 200,
            headers: vec![("Content-Type".into(), "multipart/mixed; boundary=B".into())],
            body: body.into_bytes(),
            delay: Duration::ZERO,
        }
    }

    /// Plain content (legacy endpoints, redirect targets).
    pub fn plain(content_type: &str, disposition: &str, content: &[u8]) -> Reply {
        Reply {
            status: 200,
            headers: vec![
                ("Content-Type".into(), content_type.into()),
                ("Content-Disposition".into(), disposition.into()),
            ],
            body: content.to_vec(),
            delay: Duration::ZERO,
        }
    }

    /// The same answer after `delay`.
    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// How the fake origin answers a request target.
pub type Responder = Arc<dyn Fn(&str) -> Reply + Send + Sync>;

/// A running fake origin.
pub struct Origin {
    /// Its server name (`127.0.0.1:<port>`).
    pub name: String,
    /// Every request target received, in order.
    pub received: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Origin {
    /// Starts a fake origin answering with `respond`.
    pub async fn start(respond: Responder) -> Origin {
        let dir = tempfile::tempdir().unwrap();
        let config = hearth::Config {
            server_name: "127.0.0.1".into(),
            data_dir: dir.path().to_owned(),
            ..hearth::Config::default()
        };
        let acceptor = hearth::tls::federation_tls_acceptor(&config).expect("TLS for the fake");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, log, respond) = (acceptor.clone(), log.clone(), respond.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let target = text.split(' ').nth(1).unwrap_or_default().to_owned();
                    log.lock().unwrap().push(target.clone());
                    let answer = respond(&target);
                    tokio::time::sleep(answer.delay).await;
                    let mut response = format!("HTTP/1.1 {} X\r\n", answer.status);
                    for (name, value) in &answer.headers {
                        response.push_str(&format!("{name}: {value}\r\n"));
                    }
                    response.push_str(&format!(
                        "Content-Length: {}\r\nConnection: close\r\n\r\n",
                        answer.body.len()
                    ));
                    let _ = tls.write_all(response.as_bytes()).await;
                    let _ = tls.write_all(&answer.body).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        Origin {
            name: format!("127.0.0.1:{port}"),
            received,
            _dir: dir,
        }
    }

    /// The request targets received so far.
    pub fn targets(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }
}

/// A Hearth that may fetch media from loopback origins with self-signed certificates; alice and bob seeded.
pub async fn fetching_server(backend: Backend, max_upload_bytes: u64) -> TestServer {
    let server = start(backend, |config| {
        config.federation.enabled = true;
        config.listen.federation = "127.0.0.1:0".parse().unwrap();
        config.federation.verify_peer_certificates = false;
        config.federation.allowed_ip_ranges = vec!["127.0.0.0/8".parse().unwrap()];
        config.media.max_upload_bytes = max_upload_bytes;
        config.media.remote_fetch_timeout = "5s".parse().unwrap();
    })
    .await;
    crate::seed_users(&server).await;
    server
}
