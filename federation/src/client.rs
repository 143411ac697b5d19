//! The outbound HTTPS client for federation: discovery, TLS, request signing, limits.
//!
//! Every request resolves its destination with [`ServerResolver`] (which applies the [`IpPolicy`]),
//! connects only to the addresses discovery returned (reqwest's own DNS is replaced), sends the `Host`
//! header and SNI the spec asks for, signs the request with `X-Matrix`, and sends JSON bodies with
//! exactly `Content-Type: application/json` (some peers reject a charset suffix). Answers are bounded in
//! time and size. Redirects are not followed for federation requests; well-known fetches follow up to
//! [`MAX_WELL_KNOWN_REDIRECTS`], re-checking every target against the policy.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hearth_crypto::SigningKey;
use hearth_types::ServerName;
use reqwest::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, EXPIRES, HOST, HeaderValue};
use reqwest::{Method, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Error;
use crate::auth::sign_request;
use crate::discovery::dns::{BoxFuture, Dns};
use crate::discovery::resolve::{ServerResolver, TlsHost, WellKnownFetcher};
use crate::discovery::well_known_cache::{MAX_BODY_BYTES, WellKnownResponse};
use crate::ip_policy::IpPolicy;

/// Most redirects a well-known fetch follows (the spec: follow them, avoid loops).
pub const MAX_WELL_KNOWN_REDIRECTS: usize = 5;

/// TLS and limit settings shared by the federation client and the well-known fetcher; mirrors
/// `[federation]` in `config.toml`.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    /// Check peers' certificates against the trusted roots; `false` accepts any certificate (tests,
    /// private federations).
    pub verify_peer_certificates: bool,
    /// A PEM file of extra CA certificates to trust besides the built-in roots.
    pub extra_ca_file: Option<PathBuf>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            verify_peer_certificates: true,
            extra_ca_file: None,
        }
    }
}

/// Limits of outbound federation requests.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Time to establish a TCP + TLS connection.
    pub connect_timeout: Duration,
    /// Time for a whole request, from sending to the last byte of the answer.
    pub request_timeout: Duration,
    /// Largest answer body read; larger answers fail.
    pub max_response_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            // Large enough for /send_join state of big rooms, small enough to bound memory.
            max_response_bytes: 100 * 1024 * 1024,
        }
    }
}

/// A reqwest client builder with Hearth's common TLS settings, no proxy and HTTP/1.1.
fn base_builder(tls: &TlsSettings) -> Result<reqwest::ClientBuilder, Error> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .no_proxy()
        .http1_only()
        .danger_accept_invalid_certs(!tls.verify_peer_certificates)
        .user_agent(concat!("Hearth/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &tls.extra_ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| Error::ClientConfig(format!("reading CA file {}: {e}", path.display())))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| Error::ClientConfig(format!("CA file {}: {e}", path.display())))?;
        if certificates.is_empty() {
            return Err(Error::ClientConfig(format!(
                "CA file {} holds no certificate",
                path.display()
            )));
        }
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    Ok(builder)
}

/// reqwest DNS for federation requests: only names discovery has just resolved, to the addresses it
/// returned. Any other name fails, so no connection bypasses discovery and the IP policy.
#[derive(Default)]
struct DiscoveredAddresses {
    by_name: Mutex<HashMap<String, Vec<SocketAddr>>>,
}

impl DiscoveredAddresses {
    fn set(&self, name: &str, addresses: Vec<SocketAddr>) {
        let mut map = self
            .by_name
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert(name.to_ascii_lowercase(), addresses);
    }
}

impl reqwest::dns::Resolve for DiscoveredAddresses {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let found = self
            .by_name
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&name.as_str().to_ascii_lowercase())
            .cloned();
        let name = name.as_str().to_owned();
        Box::pin(async move {
            match found {
                Some(addresses) => Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs),
                None => Err(format!("{name} was not resolved by server discovery").into()),
            }
        })
    }
}

/// Reads `response`'s body, failing past `limit` bytes.
async fn read_bounded(mut response: Response, limit: usize) -> Result<Vec<u8>, String> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(format!("answer larger than {limit} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > limit {
            return Err(format!("answer larger than {limit} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Signed, discovered, bounded requests to other homeservers.
pub struct FederationClient {
    http: reqwest::Client,
    discovered: Arc<DiscoveredAddresses>,
    resolver: Arc<ServerResolver>,
    server_name: ServerName,
    signing_key: SigningKey,
    limits: Limits,
}

impl std::fmt::Debug for FederationClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FederationClient")
            .field("server_name", &self.server_name)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl FederationClient {
    /// A client that signs as `server_name` with `signing_key` and resolves through `resolver`.
    pub fn new(
        server_name: ServerName,
        signing_key: SigningKey,
        resolver: Arc<ServerResolver>,
        tls: &TlsSettings,
        limits: Limits,
    ) -> Result<Self, Error> {
        let discovered = Arc::new(DiscoveredAddresses::default());
        let http = base_builder(tls)?
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(discovered.clone())
            .connect_timeout(limits.connect_timeout)
            .timeout(limits.request_timeout)
            .build()
            .map_err(|e| Error::ClientConfig(e.to_string()))?;
        Ok(Self {
            http,
            discovered,
            resolver,
            server_name,
            signing_key,
            limits,
        })
    }

    /// The production set-up in one call: system DNS (`/etc/resolv.conf`), the HTTPS well-known
    /// fetcher and a resolver, all under `policy` and `tls`.
    pub fn with_system_dns(
        server_name: ServerName,
        signing_key: SigningKey,
        policy: IpPolicy,
        tls: &TlsSettings,
        limits: Limits,
    ) -> Result<Self, Error> {
        let dns: Arc<dyn Dns> = Arc::new(
            crate::discovery::HickoryDns::from_system_conf()
                .map_err(|e| Error::ClientConfig(format!("system DNS configuration: {e}")))?,
        );
        let fetcher = HttpsWellKnownFetcher::new(dns.clone(), policy.clone(), tls)?;
        let resolver = Arc::new(ServerResolver::new(dns, Arc::new(fetcher), policy));
        Self::new(server_name, signing_key, resolver, tls, limits)
    }

    /// The resolver, e.g. to resolve a destination for logging or to share its well-known cache.
    pub fn resolver(&self) -> &Arc<ServerResolver> {
        &self.resolver
    }

    /// `GET path_and_query` on `destination`, parsing the JSON answer as `T`.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        destination: &ServerName,
        path_and_query: &str,
    ) -> Result<T, Error> {
        self.request_json(Method::GET, destination, path_and_query, None)
            .await
    }

    /// `PUT path_and_query` with a JSON `body` on `destination`, parsing the JSON answer as `T`.
    pub async fn put_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        destination: &ServerName,
        path_and_query: &str,
        body: &B,
    ) -> Result<T, Error> {
        let body = to_value(destination, body)?;
        self.request_json(Method::PUT, destination, path_and_query, Some(&body))
            .await
    }

    /// `POST path_and_query` with a JSON `body` on `destination`, parsing the JSON answer as `T`.
    pub async fn post_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        destination: &ServerName,
        path_and_query: &str,
        body: &B,
    ) -> Result<T, Error> {
        let body = to_value(destination, body)?;
        self.request_json(Method::POST, destination, path_and_query, Some(&body))
            .await
    }

    /// Any method. `path_and_query` is the request target, percent-encoded by the caller; characters a
    /// URL cannot carry raw are encoded, and the signature covers the target as finally sent.
    ///
    /// When discovery returns addresses on several ports (SRV records with different ports), only those
    /// on the first address's port are tried.
    pub async fn request_json<T: DeserializeOwned>(
        &self,
        method: Method,
        destination: &ServerName,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<T, Error> {
        let response = self
            .send_signed(method, destination, path_and_query, body, None)
            .await?;
        let status = response.status();
        let bytes = read_bounded(response, self.limits.max_response_bytes)
            .await
            .map_err(|reason| Error::Request {
                destination: destination.to_string(),
                reason,
            })?;
        if !status.is_success() {
            let shown = &bytes[..bytes.len().min(1024)];
            return Err(Error::PeerStatus {
                destination: destination.to_string(),
                status: status.as_u16(),
                body: String::from_utf8_lossy(shown).into_owned(),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| Error::PeerJson {
            destination: destination.to_string(),
            reason: e.to_string(),
        })
    }

    /// A signed `GET` whose answer the caller reads itself (media, streamed to disk): any status, the body
    /// unread. `timeout` replaces the client's request timeout and covers reading the body too.
    pub async fn get_response(
        &self,
        destination: &ServerName,
        path_and_query: &str,
        timeout: Duration,
    ) -> Result<Response, Error> {
        self.send_signed(
            Method::GET,
            destination,
            path_and_query,
            None,
            Some(timeout),
        )
        .await
    }

    /// Resolves `destination`, signs the request and sends it; the answer's status is not checked.
    async fn send_signed(
        &self,
        method: Method,
        destination: &ServerName,
        path_and_query: &str,
        body: Option<&Value>,
        timeout: Option<Duration>,
    ) -> Result<Response, Error> {
        let failed = |reason: String| Error::Request {
            destination: destination.to_string(),
            reason,
        };
        if !path_and_query.starts_with('/') {
            return Err(failed(format!(
                "request target {path_and_query:?} is not a path"
            )));
        }
        let target = self.resolver.resolve(destination).await?;
        let port = target
            .addresses
            .first()
            .map(SocketAddr::port)
            .ok_or_else(|| failed("discovery returned no address".to_owned()))?;
        if let TlsHost::Name(name) = &target.tls_host {
            let same_port = target
                .addresses
                .iter()
                .copied()
                .filter(|a| a.port() == port)
                .collect();
            self.discovered.set(name, same_port);
        }
        let url = reqwest::Url::parse(&format!(
            "https://{}:{port}{path_and_query}",
            target.tls_host.url_host()
        ))
        .map_err(|e| failed(format!("request URL: {e}")))?;
        // Sign the target exactly as it goes on the wire: the URL parser may percent-encode characters
        // the caller left raw, and the receiver verifies against what it received.
        let sent_target = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let header = sign_request(
            &self.signing_key,
            &self.server_name,
            destination,
            method.as_str(),
            &sent_target,
            body,
        )?;
        let authorization = HeaderValue::from_str(&header.to_header_value())
            .map_err(|e| failed(format!("authorization header: {e}")))?;
        let host = HeaderValue::from_str(&target.host_header)
            .map_err(|e| failed(format!("host header: {e}")))?;
        let mut request = self
            .http
            .request(method, url)
            .header(AUTHORIZATION, authorization)
            .header(HOST, host);
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        if let Some(body) = body {
            let bytes = serde_json::to_vec(body).map_err(|e| failed(e.to_string()))?;
            request = request
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(bytes);
        }
        request.send().await.map_err(|e| failed(describe(&e)))
    }
}

fn to_value<B: Serialize + ?Sized>(destination: &ServerName, body: &B) -> Result<Value, Error> {
    serde_json::to_value(body).map_err(|e| Error::Request {
        destination: destination.to_string(),
        reason: format!("request body: {e}"),
    })
}

/// reqwest's error with its causes (the top level alone often says only "error sending request").
pub fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// reqwest DNS for well-known fetches: a [`Dns`] lookup filtered by the [`IpPolicy`].
struct PolicyDns {
    dns: Arc<dyn Dns>,
    policy: IpPolicy,
}

impl reqwest::dns::Resolve for PolicyDns {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let dns = self.dns.clone();
        let policy = self.policy.clone();
        let name = name.as_str().to_owned();
        Box::pin(async move {
            let ips = dns.lookup_ip(&name).await?;
            let permitted: Vec<SocketAddr> = ips
                .into_iter()
                .filter(|ip| policy.permits(*ip))
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            if permitted.is_empty() {
                return Err(format!("{name} has no permitted address").into());
            }
            Ok(Box::new(permitted.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Fetches `https://<host>/.well-known/matrix/server` on port 443, following a few redirects, within
/// the IP policy, a time limit and [`MAX_BODY_BYTES`].
pub struct HttpsWellKnownFetcher {
    http: reqwest::Client,
    policy: IpPolicy,
    port: u16,
}

impl HttpsWellKnownFetcher {
    /// Time for the whole fetch, redirects included.
    pub const TIMEOUT: Duration = Duration::from_secs(10);

    /// A fetcher resolving through `dns`, connecting only where `policy` permits.
    pub fn new(dns: Arc<dyn Dns>, policy: IpPolicy, tls: &TlsSettings) -> Result<Self, Error> {
        Self::with_port(dns, policy, tls, 443)
    }

    /// Like [`HttpsWellKnownFetcher::new`] but on another port than 443 (tests).
    pub fn with_port(
        dns: Arc<dyn Dns>,
        policy: IpPolicy,
        tls: &TlsSettings,
        port: u16,
    ) -> Result<Self, Error> {
        let redirect_policy = policy.clone();
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_WELL_KNOWN_REDIRECTS {
                return attempt.error("too many redirects");
            }
            if attempt.url().scheme() != "https" {
                return attempt.error("redirect away from https");
            }
            // IP-literal targets skip DNS, so the policy is applied here.
            let literal = match attempt.url().host() {
                Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
                Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
                _ => None,
            };
            match literal {
                Some(ip) if !redirect_policy.permits(ip) => {
                    attempt.error("redirect to a denied address")
                }
                _ => attempt.follow(),
            }
        });
        let http = base_builder(tls)?
            .redirect(redirects)
            .dns_resolver(Arc::new(PolicyDns {
                dns,
                policy: policy.clone(),
            }))
            .timeout(Self::TIMEOUT)
            .build()
            .map_err(|e| Error::ClientConfig(e.to_string()))?;
        Ok(Self { http, policy, port })
    }
}

impl WellKnownFetcher for HttpsWellKnownFetcher {
    fn fetch<'a>(&'a self, host: &'a str) -> BoxFuture<'a, Result<WellKnownResponse, String>> {
        Box::pin(async move {
            if let Ok(ip) = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                && !self.policy.permits(ip)
            {
                return Err(format!("{host} is a denied address"));
            }
            let url = format!("https://{host}:{}/.well-known/matrix/server", self.port);
            let response = self.http.get(&url).send().await.map_err(|e| describe(&e))?;
            let header = |name| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v: &HeaderValue| v.to_str().ok())
                    .map(str::to_owned)
            };
            let (cache_control, expires) = (header(CACHE_CONTROL), header(EXPIRES));
            let status = response.status().as_u16();
            let body = read_bounded(response, MAX_BODY_BYTES).await?;
            Ok(WellKnownResponse {
                status,
                cache_control,
                expires,
                body,
            })
        })
    }
}
