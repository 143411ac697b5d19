//! Server discovery (spec: "Resolving server names"): from a server name to the addresses to connect to,
//! the `Host` header to send and the name the peer's certificate must be valid for.
//!
//! The order is the spec's: IP literal → explicit port → `/.well-known/matrix/server` (cached) → SRV
//! `_matrix-fed._tcp` → deprecated SRV `_matrix._tcp` → A/AAAA on port 8448. Every resolved address then
//! passes the [`IpPolicy`]; a name whose addresses are all denied is an error, never a connection.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use hearth_types::ServerName;

use super::dns::{BoxFuture, Dns, SrvRecord};
use super::well_known_cache::{WellKnownCache, WellKnownResponse};
use crate::Error;
use crate::ip_policy::IpPolicy;

/// The federation port when neither the server name, well-known nor SRV give one.
pub const DEFAULT_PORT: u16 = 8448;

/// Fetches `https://<host>/.well-known/matrix/server`. The real one is
/// [`crate::client::HttpsWellKnownFetcher`]; tests substitute their own.
pub trait WellKnownFetcher: Send + Sync {
    /// The answer (any status), or why there is none (connection, TLS, time or size limit).
    fn fetch<'a>(&'a self, host: &'a str) -> BoxFuture<'a, Result<WellKnownResponse, String>>;
}

/// The name a peer's TLS certificate must be valid for, which is also the SNI to send (none for IPs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsHost {
    /// The certificate must name this IP address; no SNI is sent.
    Ip(IpAddr),
    /// The certificate must name this DNS name; it is the SNI.
    Name(String),
}

impl TlsHost {
    /// The host as it goes in a URL (IPv6 in brackets).
    pub fn url_host(&self) -> String {
        match self {
            Self::Ip(IpAddr::V6(v6)) => format!("[{v6}]"),
            Self::Ip(IpAddr::V4(v4)) => v4.to_string(),
            Self::Name(name) => name.clone(),
        }
    }
}

/// Where and how to connect to a server.
///
/// Invariant: `addresses` is non-empty and every address is permitted by the resolver's [`IpPolicy`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    /// Addresses to try, in order.
    pub addresses: Vec<SocketAddr>,
    /// The `Host` header value.
    pub host_header: String,
    /// What the certificate must be valid for.
    pub tls_host: TlsHost,
}

/// Resolves server names; holds the well-known cache, so keep one per process.
pub struct ServerResolver {
    dns: Arc<dyn Dns>,
    well_known: Arc<dyn WellKnownFetcher>,
    policy: IpPolicy,
    cache: Mutex<WellKnownCache>,
}

impl ServerResolver {
    /// A resolver using `dns` for lookups, `well_known` for delegation documents and `policy` for
    /// the addresses it may return.
    pub fn new(dns: Arc<dyn Dns>, well_known: Arc<dyn WellKnownFetcher>, policy: IpPolicy) -> Self {
        Self {
            dns,
            well_known,
            policy,
            cache: Mutex::new(WellKnownCache::default()),
        }
    }

    /// The IP policy addresses are checked against.
    pub fn policy(&self) -> &IpPolicy {
        &self.policy
    }

    /// Resolves `server` by the spec's steps.
    pub async fn resolve(&self, server: &ServerName) -> Result<Destination, Error> {
        let unresolved = |reason: String| Error::Resolution {
            server: server.to_string(),
            reason,
        };
        // Step 1: IP literal.
        if let Some(ip) = server.ip_literal() {
            return self.permitted(
                server,
                vec![SocketAddr::new(ip, server.port().unwrap_or(DEFAULT_PORT))],
                server.to_string(),
                TlsHost::Ip(ip),
            );
        }
        let host = server.host();
        // Step 2: explicit port.
        if let Some(port) = server.port() {
            let ips = self.dns.lookup_ip(host).await.map_err(unresolved)?;
            return self.permitted(
                server,
                ips.into_iter()
                    .map(|ip| SocketAddr::new(ip, port))
                    .collect(),
                server.to_string(),
                TlsHost::Name(host.to_owned()),
            );
        }
        // Step 3: well-known delegation.
        if let Some(delegated) = self.well_known(host).await {
            if let Some(ip) = delegated.ip_literal() {
                return self.permitted(
                    server,
                    vec![SocketAddr::new(
                        ip,
                        delegated.port().unwrap_or(DEFAULT_PORT),
                    )],
                    delegated.to_string(),
                    TlsHost::Ip(ip),
                );
            }
            let delegated_host = delegated.host();
            if let Some(port) = delegated.port() {
                let ips = self
                    .dns
                    .lookup_ip(delegated_host)
                    .await
                    .map_err(unresolved)?;
                return self.permitted(
                    server,
                    ips.into_iter()
                        .map(|ip| SocketAddr::new(ip, port))
                        .collect(),
                    delegated.to_string(),
                    TlsHost::Name(delegated_host.to_owned()),
                );
            }
            return self.srv_or_default_port(server, delegated_host).await;
        }
        // Steps 4-6 on the original hostname.
        self.srv_or_default_port(server, host).await
    }

    /// Steps 3.3-3.5 and 4-6: SRV `_matrix-fed._tcp`, then `_matrix._tcp`, then A/AAAA on 8448. The
    /// `Host` header and certificate name are `host` in every case (never the SRV target).
    async fn srv_or_default_port(
        &self,
        server: &ServerName,
        host: &str,
    ) -> Result<Destination, Error> {
        for service in ["_matrix-fed._tcp", "_matrix._tcp"] {
            let Ok(mut records) = self.dns.lookup_srv(&format!("{service}.{host}")).await else {
                continue;
            };
            records.retain(|r| !r.target.is_empty());
            if records.is_empty() {
                continue;
            }
            sort_srv(&mut records);
            let mut addresses = Vec::new();
            for record in &records {
                if let Ok(ips) = self.dns.lookup_ip(&record.target).await {
                    addresses.extend(ips.into_iter().map(|ip| SocketAddr::new(ip, record.port)));
                }
            }
            return self.permitted(
                server,
                addresses,
                host.to_owned(),
                TlsHost::Name(host.to_owned()),
            );
        }
        let ips = self
            .dns
            .lookup_ip(host)
            .await
            .map_err(|reason| Error::Resolution {
                server: server.to_string(),
                reason,
            })?;
        self.permitted(
            server,
            ips.into_iter()
                .map(|ip| SocketAddr::new(ip, DEFAULT_PORT))
                .collect(),
            host.to_owned(),
            TlsHost::Name(host.to_owned()),
        )
    }

    /// The delegated name from `host`'s well-known, from the cache or fetched (and then cached).
    async fn well_known(&self, host: &str) -> Option<ServerName> {
        if let Some(cached) = self.lock_cache().get(host, Instant::now()) {
            return cached;
        }
        let response = self.well_known.fetch(host).await;
        if let Err(reason) = &response {
            tracing::debug!(host, %reason, "no well-known for server");
        }
        self.lock_cache().record(
            host,
            response.as_ref().ok(),
            Instant::now(),
            SystemTime::now(),
        )
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, WellKnownCache> {
        // A panic while holding the lock cannot leave the cache inconsistent (each operation is one
        // map access), so a poisoned lock is still usable.
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Filters `addresses` by the policy and builds the destination, or explains why there is none.
    fn permitted(
        &self,
        server: &ServerName,
        addresses: Vec<SocketAddr>,
        host_header: String,
        tls_host: TlsHost,
    ) -> Result<Destination, Error> {
        if addresses.is_empty() {
            return Err(Error::Resolution {
                server: server.to_string(),
                reason: "no addresses found".to_owned(),
            });
        }
        let permitted: Vec<SocketAddr> = addresses
            .into_iter()
            .filter(|addr| self.policy.permits(addr.ip()))
            .collect();
        if permitted.is_empty() {
            return Err(Error::DeniedAddress {
                server: server.to_string(),
            });
        }
        Ok(Destination {
            addresses: permitted,
            host_header,
            tls_host,
        })
    }
}

/// RFC 2782 order: ascending priority, then descending weight (a deterministic stand-in for the
/// weighted random choice, which only spreads load).
fn sort_srv(records: &mut [SrvRecord]) {
    records.sort_by(|a, b| a.priority.cmp(&b.priority).then(b.weight.cmp(&a.weight)));
}
