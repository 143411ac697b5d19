//! Server lifecycle: start everything a configuration describes, run until asked to stop, stop in order.
//!
//! Start-up order: data directory → signing key → federation TLS → database (migrations) → record the signing
//! key → bind listeners → serve. Shutdown order: stop accepting → let in-flight requests finish (bounded by
//! `[listen] shutdown_grace_period`) → close the database. Tests drive the same code through [`start`] and
//! [`RunningServer::shutdown`] on random loopback ports.

use std::net::SocketAddr;
use std::sync::Arc;

use hearth_federation::client::{FederationClient, Limits, TlsSettings};
use hearth_federation::ip_policy::IpPolicy;
use hearth_types::ServerName;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::error::Error;
use crate::http::serve::ListenerTask;
use crate::http::{self, AppState};
use crate::notifier::Notifier;
use crate::services::account_data::AccountDataService;
use crate::services::accounts::AccountsService;
use crate::services::e2ee::E2eeService;
use crate::services::federation::{FederationDeps, FederationService};
use crate::services::keys::KeyService;
use crate::services::media::{FederationMediaSource, MediaService, UrlPreviewService};
use crate::services::outbound::{FederationSender, SenderSettings, TransactionTransport};
use crate::services::remote::RemoteRooms;
use crate::services::rooms::RoomService;
use crate::services::sync::{PresenceService, ReceiptService, SyncService, TypingService};
use crate::signing_key::{self, OldVerifyKeys};
use crate::storage::Storage;
use crate::tls;

/// A started server: where it listens, and the handle to stop it.
#[derive(Debug)]
pub struct RunningServer {
    /// The client listener's bound address (the real port when the config asked for port 0).
    pub client_addr: SocketAddr,
    /// The federation listener's bound address; `None` when federation is disabled.
    pub federation_addr: Option<SocketAddr>,
    /// The server name the server runs as.
    pub server_name: ServerName,
    shutdown: watch::Sender<bool>,
    listeners: Vec<JoinHandle<()>>,
    storage: Storage,
    federation_sender: Option<FederationSender>,
}

/// Starts the server described by `config` and returns once both listeners accept connections.
///
/// Everything that can fail on a bad configuration or environment (key file, certificate, database, ports)
/// fails here, before any request is served; whatever was opened by then is closed again.
pub async fn start(config: Config) -> Result<RunningServer, Error> {
    config.validate()?;
    let server_name = ServerName::parse(&config.server_name).map_err(|error| {
        crate::config::ConfigError::Invalid {
            problems: vec![format!("server_name `{}`: {error}", config.server_name)],
        }
    })?;
    std::fs::create_dir_all(&config.data_dir).map_err(|source| Error::CreateDir {
        path: config.data_dir.clone(),
        source,
    })?;

    let signing_key = signing_key::load_or_generate_signing_key(&config.signing_key_path())?;
    let federation_tls = if config.federation.enabled {
        Some(tls::federation_tls_acceptor(&config)?)
    } else {
        None
    };

    let storage = Storage::connect(&config.database_url()).await?;
    tracing::info!(backend = ?storage.backend(), "database ready");

    match bind_and_serve(&config, server_name, signing_key, federation_tls, &storage).await {
        Ok(server) => Ok(server),
        Err(error) => {
            storage.close().await;
            Err(error)
        }
    }
}

/// Starts `config`'s server and runs it until SIGTERM or SIGINT, then shuts down gracefully.
pub async fn run(config: Config) -> Result<(), Error> {
    let server = start(config).await?;
    wait_for_termination_signal().await;
    tracing::info!("shutdown requested; finishing in-flight requests");
    server.shutdown().await;
    tracing::info!("shutdown complete");
    Ok(())
}

/// The part of start-up that happens with the database open: record the key, bind, spawn the listeners.
async fn bind_and_serve(
    config: &Config,
    server_name: ServerName,
    signing_key: hearth_crypto::SigningKey,
    federation_tls: Option<tokio_rustls::TlsAcceptor>,
    storage: &Storage,
) -> Result<RunningServer, Error> {
    let key_validity = config.keys.valid_for.as_duration();
    let now = signing_key::now_millis();
    let old_verify_keys: OldVerifyKeys = signing_key::record_signing_key(
        storage,
        &signing_key,
        signing_key::valid_until(now, key_validity),
        now,
    )
    .await?;

    let (shutdown, shutdown_receiver) = watch::channel(false);
    let grace_period = config.listen.shutdown_grace_period.as_duration();
    let client_listener = bind(config.listen.client, "client").await?;
    let client_addr = local_addr(&client_listener, config.listen.client, "client")?;
    let federation = match federation_tls {
        Some(acceptor) => {
            let listener = bind(config.listen.federation, "federation").await?;
            let address = local_addr(&listener, config.listen.federation, "federation")?;
            Some((listener, address, acceptor))
        }
        None => None,
    };

    let old_verify_keys = Arc::new(old_verify_keys);
    let federation_client = if config.federation.enabled {
        Some(Arc::new(federation_client(
            config,
            &server_name,
            &signing_key,
        )?))
    } else {
        None
    };
    let notifier = Notifier::new();
    let account_data = AccountDataService::new(storage.clone(), notifier.clone());
    let typing = TypingService::new(notifier.clone());
    let signing_key = Arc::new(signing_key);
    let rooms = Arc::new(RoomService::new(
        storage.clone(),
        notifier.clone(),
        server_name.clone(),
        signing_key.clone(),
        config.rooms.default_version.clone(),
    ));
    let federation_sender = match &federation_client {
        Some(client) => {
            let transport: Arc<dyn TransactionTransport> = client.clone();
            let sender = FederationSender::new(
                storage.clone(),
                server_name.clone(),
                transport,
                SenderSettings::default(),
            );
            rooms.signal_persisted_events(sender.events_persisted_signal());
            sender.start().await?;
            Some(sender)
        }
        None => None,
    };
    let e2ee = Arc::new(E2eeService::new(
        storage.clone(),
        notifier.clone(),
        server_name.clone(),
    ));
    if let (Some(sender), Some(client)) = (&federation_sender, &federation_client) {
        e2ee.set_federation(sender.clone(), client.clone());
    }
    let sync = Arc::new(SyncService::new(
        storage.clone(),
        notifier.clone(),
        rooms.clone(),
        account_data.clone(),
        typing.clone(),
        e2ee.clone(),
    ));
    let receipts = ReceiptService::new(storage.clone(), notifier.clone(), account_data.clone());
    let presence = PresenceService::new(storage.clone(), notifier.clone());
    let keys = Arc::new(KeyService::new(
        storage.clone(),
        federation_client.clone(),
        server_name.clone(),
        signing_key.clone(),
        old_verify_keys.clone(),
        config
            .federation
            .trusted_key_servers
            .iter()
            .filter_map(|name| ServerName::parse(name).ok())
            .collect(),
    ));
    let federation_service = Arc::new(FederationService::new(FederationDeps {
        storage: storage.clone(),
        rooms: rooms.clone(),
        keys: keys.clone(),
        client: federation_client.clone(),
        typing: typing.clone(),
        receipts: receipts.clone(),
        presence: presence.clone(),
        e2ee: e2ee.clone(),
    }));
    if federation_client.is_some() {
        rooms.set_history_backfill(federation_service.clone());
    }
    let remote_rooms = match (&federation_client, &federation_sender) {
        (Some(client), Some(sender)) => {
            let remote = Arc::new(RemoteRooms::new(
                client.clone(),
                rooms.clone(),
                storage.clone(),
                signing_key.clone(),
                sender.clone(),
                federation_service.clone(),
                notifier.clone(),
            ));
            rooms.set_remote_invites(remote.clone());
            Some(remote)
        }
        _ => None,
    };
    let mut media = MediaService::new(
        storage.clone(),
        server_name.clone(),
        &config.media_dir(),
        config.media.clone(),
    )
    .map_err(|error| Error::Media(error.to_string()))?;
    if let Some(client) = &federation_client {
        let source = FederationMediaSource::new(
            client.clone(),
            IpPolicy::new(
                config.federation.allowed_ip_ranges.clone(),
                config.federation.denied_ip_ranges.clone(),
            ),
            config.federation.verify_peer_certificates,
            config.media.remote_fetch_timeout.as_duration(),
        )
        .map_err(|error| Error::Media(error.to_string()))?;
        media = media.with_remote(Arc::new(source));
    }
    let url_previews = UrlPreviewService::new(&config.media.url_preview)
        .map_err(|error| Error::Media(error.to_string()))?;
    let state = AppState {
        server_name: server_name.clone(),
        signing_key: signing_key.clone(),
        old_verify_keys: old_verify_keys.clone(),
        key_validity,
        well_known_client: Some(config.well_known.client.clone())
            .filter(|client| !client.is_empty()),
        well_known_server: federation
            .as_ref()
            .map(|(_, address, _)| config.well_known_server(address.port())),
        max_request_body_bytes: config.listen.max_request_body_bytes,
        storage: storage.clone(),
        accounts: Arc::new(AccountsService::new(
            storage.clone(),
            server_name.clone(),
            config.registration.clone(),
            &config.login.jwt,
        )),
        notifier: notifier.clone(),
        account_data: account_data.clone(),
        typing,
        receipts,
        presence,
        default_room_version: config.rooms.default_version.clone(),
        rooms: rooms.clone(),
        sync,
        federation_sender: federation_sender.clone(),
        e2ee,
        rate_limiter: Arc::new(crate::ratelimit::RateLimiter::new(
            config.rate_limits.clone(),
        )),
        federation_client,
        keys,
        federation: federation_service,
        remote_rooms,
        media,
        url_previews,
    };

    let mut listeners = vec![tokio::spawn(
        ListenerTask {
            purpose: "client",
            listener: client_listener,
            tls: None,
            router: http::client_router(state.clone()),
            shutdown: shutdown_receiver.clone(),
            grace_period,
        }
        .run(),
    )];
    tracing::info!(address = %client_addr, "client API listening (HTTP)");

    let federation_addr = match federation {
        Some((listener, address, acceptor)) => {
            listeners.push(tokio::spawn(
                ListenerTask {
                    purpose: "federation",
                    listener,
                    tls: Some(acceptor),
                    router: http::federation_router(state.clone()),
                    shutdown: shutdown_receiver,
                    grace_period,
                }
                .run(),
            ));
            tracing::info!(address = %address, "federation API listening (HTTPS)");
            Some(address)
        }
        None => {
            tracing::info!("federation is disabled");
            None
        }
    };

    tracing::info!(server_name = %server_name, "Hearth is running");
    Ok(RunningServer {
        client_addr,
        federation_addr,
        server_name,
        shutdown,
        listeners,
        storage: storage.clone(),
        federation_sender,
    })
}

impl RunningServer {
    /// Stops the server: no new connections, in-flight requests finish within the grace period, then the
    /// database is closed. Returns when all of that is done.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for listener in self.listeners {
            if let Err(error) = listener.await {
                tracing::error!(%error, "a listener task failed");
            }
        }
        if let Some(sender) = &self.federation_sender {
            // Unsent items stay queued for the next start.
            sender.shutdown();
        }
        self.storage.close().await;
        tracing::info!("database closed");
    }
}

/// The outbound federation client from `[federation]`: system DNS, the configured IP policy (loopback and
/// private ranges are reachable only when `allowed_ip_ranges` names them), certificate verification and the
/// extra CA file.
fn federation_client(
    config: &Config,
    server_name: &ServerName,
    signing_key: &hearth_crypto::SigningKey,
) -> Result<FederationClient, Error> {
    let federation = &config.federation;
    let policy = IpPolicy::new(
        federation.allowed_ip_ranges.clone(),
        federation.denied_ip_ranges.clone(),
    );
    let tls = TlsSettings {
        verify_peer_certificates: federation.verify_peer_certificates,
        extra_ca_file: Some(federation.extra_ca_file.clone())
            .filter(|path| !path.as_os_str().is_empty()),
    };
    Ok(FederationClient::with_system_dns(
        server_name.clone(),
        signing_key.clone(),
        policy,
        &tls,
        Limits::default(),
    )?)
}

async fn bind(address: SocketAddr, purpose: &'static str) -> Result<TcpListener, Error> {
    TcpListener::bind(address)
        .await
        .map_err(|source| Error::Bind {
            address,
            purpose,
            source,
        })
}

fn local_addr(
    listener: &TcpListener,
    address: SocketAddr,
    purpose: &'static str,
) -> Result<SocketAddr, Error> {
    listener.local_addr().map_err(|source| Error::Bind {
        address,
        purpose,
        source,
    })
}

/// Resolves on SIGTERM (service managers, containers) or SIGINT (Ctrl-C).
async fn wait_for_termination_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
