//! The connection loop shared by both listeners: accept TCP connections (optionally completing a TLS handshake),
//! serve HTTP/1.1 or HTTP/2 with the router, and shut down gracefully.
//!
//! Shutdown: stop accepting at once, let in-flight requests finish (idle keep-alive connections close
//! immediately), and after the grace period abort whatever is still running. Every stage that waits on a peer
//! is bounded (TLS handshake, request headers), so a slow or hostile client cannot hold a connection open.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

/// How long a client has to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client has to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// One listener's serving parameters.
pub struct ListenerTask {
    /// Which listener, for logs (`client`, `federation`).
    pub purpose: &'static str,
    /// The bound socket.
    pub listener: TcpListener,
    /// TLS for this listener, if any.
    pub tls: Option<TlsAcceptor>,
    /// The routes to serve.
    pub router: Router,
    /// Becomes `true` when the server should stop.
    pub shutdown: watch::Receiver<bool>,
    /// How long in-flight requests may take to finish after shutdown begins.
    pub grace_period: Duration,
}

impl ListenerTask {
    /// Serves until `shutdown` turns `true` (or its sender is dropped), then drains connections and returns.
    pub async fn run(mut self) {
        let graceful = GracefulShutdown::new();
        let mut connections = JoinSet::new();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);

        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, remote)) => {
                        let connection = serve_connection(
                            stream,
                            remote,
                            self.tls.clone(),
                            self.router.clone(),
                            builder.clone(),
                            graceful.watcher(),
                        );
                        connections.spawn(connection);
                    }
                    Err(error) => {
                        tracing::warn!(listener = self.purpose, %error, "accept failed");
                        tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                _ = wait_for_shutdown(&mut self.shutdown) => break,
            }
        }

        drop(self.listener);
        let open = graceful.count();
        tracing::debug!(
            listener = self.purpose,
            open,
            "stopped accepting; draining connections"
        );
        if tokio::time::timeout(self.grace_period, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                listener = self.purpose,
                grace_period = ?self.grace_period,
                "requests still running after the grace period; closing their connections"
            );
        }
        connections.abort_all();
        while connections.join_next().await.is_some() {}
        tracing::info!(listener = self.purpose, "listener stopped");
    }
}

/// Resolves once shutdown is requested; a dropped sender counts as a request.
async fn wait_for_shutdown(shutdown: &mut watch::Receiver<bool>) {
    while !*shutdown.borrow_and_update() {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

/// Completes the optional TLS handshake and serves HTTP on one connection until it closes.
async fn serve_connection(
    stream: TcpStream,
    remote: SocketAddr,
    tls: Option<TlsAcceptor>,
    router: Router,
    builder: auto::Builder<TokioExecutor>,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(remote));
        router.clone().oneshot(request)
    });
    let result = match tls {
        None => {
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            watcher.watch(connection).await
        }
        Some(acceptor) => {
            let stream =
                match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(error)) => {
                        tracing::debug!(%remote, %error, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%remote, "TLS handshake timed out");
                        return;
                    }
                };
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            watcher.watch(connection).await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%remote, %error, "connection ended with an error");
    }
}
