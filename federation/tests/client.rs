//! The outbound client against a local HTTPS server (rustls, rcgen certificates) on 127.0.0.1: signed
//! requests verify on the receiving side, `Content-Type` is exact, the `Host` header and SNI follow
//! discovery, certificate checks and the extra CA work, and answers are bounded.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use hearth_crypto::SigningKey;
use hearth_federation::Error;
use hearth_federation::auth::authenticate_request;
use hearth_federation::client::{FederationClient, HttpsWellKnownFetcher, Limits, TlsSettings};
use hearth_federation::discovery::{HickoryDns, ServerResolver, TlsHost};
use hearth_federation::ip_policy::IpPolicy;
use hearth_types::ServerName;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use common::{TestRecord, start_dns};

/// What the test server saw of one request.
#[derive(Debug)]
struct Seen {
    method: String,
    target: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
    sni: Option<String>,
}

fn must<T, E: std::fmt::Display>(result: Result<T, E>, what: &str) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e}"),
    }
}

/// A leaf certificate for `names`, self-signed or signed by a CA; returns (cert chain, key, CA PEM).
fn certificate(
    names: &[&str],
    with_ca: bool,
) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String) {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let leaf_key = must(rcgen::KeyPair::generate(), "key");
    let leaf_params = must(rcgen::CertificateParams::new(names), "params");
    let (leaf, ca_pem) = if with_ca {
        let mut ca_params = must(
            rcgen::CertificateParams::new(Vec::<String>::new()),
            "ca params",
        );
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Hearth test CA");
        let ca_key = must(rcgen::KeyPair::generate(), "ca key");
        let ca = must(ca_params.self_signed(&ca_key), "ca cert");
        (
            must(leaf_params.signed_by(&leaf_key, &ca, &ca_key), "leaf"),
            ca.pem(),
        )
    } else {
        let leaf = must(leaf_params.self_signed(&leaf_key), "self-signed");
        let pem = leaf.pem();
        (leaf, pem)
    };
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    (vec![leaf.der().clone()], key, ca_pem)
}

/// Starts an HTTPS server answering every request with `status` and `body`, reporting what it saw.
async fn start_server(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    status: u16,
    body: String,
) -> (SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    let config = must(
        ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain, key),
        "tls config",
    );
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = must(TcpListener::bind("127.0.0.1:0").await, "bind");
    let addr = must(listener.local_addr(), "addr");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, tx, body) = (acceptor.clone(), tx.clone(), body.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let sni = tls.get_ref().1.server_name().map(str::to_owned);
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
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
                let mut request_line = lines.next().unwrap_or("").split(' ');
                let method = request_line.next().unwrap_or("").to_owned();
                let target = request_line.next().unwrap_or("").to_owned();
                let headers: HashMap<String, String> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                let length: usize = headers
                    .get("content-length")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0);
                let mut request_body = data[head_end + 4..].to_vec();
                while request_body.len() < length {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request_body.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tx.send(Seen {
                    method,
                    target,
                    headers,
                    body: request_body,
                    sni,
                });
                // A 3xx answer redirects to `body`.
                let answer = if (300..400).contains(&status) {
                    format!(
                        "HTTP/1.1 {status} X\r\nLocation: {body}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                } else {
                    format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nCache-Control: max-age=7200\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, rx)
}

struct Setup {
    client: FederationClient,
    origin: ServerName,
    key: SigningKey,
}

async fn setup(
    tls: TlsSettings,
    limits: Limits,
    policy: IpPolicy,
    dns: Vec<(&'static str, TestRecord)>,
) -> Setup {
    let dns_addr = start_dns(dns).await;
    let dns = Arc::new(HickoryDns::with_name_server(dns_addr));
    let fetcher = must(
        HttpsWellKnownFetcher::new(dns.clone(), policy.clone(), &tls),
        "fetcher",
    );
    let resolver = Arc::new(ServerResolver::new(dns, Arc::new(fetcher), policy));
    let origin = must(ServerName::parse("origin.test"), "name");
    let key = must(SigningKey::from_seed("c1", &[7; 32]), "key");
    let client = must(
        FederationClient::new(origin.clone(), key.clone(), resolver, &tls, limits),
        "client",
    );
    Setup {
        client,
        origin,
        key,
    }
}

fn loopback() -> IpPolicy {
    match IpPolicy::from_strings(
        &["127.0.0.0/8"],
        hearth_federation::ip_policy::DEFAULT_DENIED_RANGES,
    ) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn insecure() -> TlsSettings {
    TlsSettings {
        verify_peer_certificates: false,
        extra_ca_file: None,
    }
}

/// Verifies what the server saw as the homeserver will: X-Matrix against the origin's key.
async fn verify_seen(
    seen: &Seen,
    destination: &ServerName,
    setup: &Setup,
) -> Result<ServerName, Error> {
    let body: Option<Value> = if seen.body.is_empty() {
        None
    } else {
        serde_json::from_slice(&seen.body).ok()
    };
    let header = seen
        .headers
        .get("authorization")
        .cloned()
        .unwrap_or_default();
    let key = setup.key.verify_key();
    authenticate_request(
        &seen.method,
        &seen.target,
        body.as_ref(),
        &header,
        destination,
        |_, _| async move { Some(key) },
    )
    .await
}

#[tokio::test]
async fn signed_put_verifies_on_the_receiver_with_exact_content_type_and_host() {
    let (chain, key, _) = certificate(&["127.0.0.1"], false);
    let (addr, mut seen) = start_server(chain, key, 200, r#"{"pdus": {}}"#.into()).await;
    let s = setup(insecure(), Limits::default(), loopback(), vec![]).await;
    let destination = must(
        ServerName::parse(&format!("127.0.0.1:{}", addr.port())),
        "dest",
    );
    let body = json!({"origin": "origin.test", "origin_server_ts": 1, "pdus": [], "edus": []});
    let path = "/_matrix/federation/v1/send/txn%201?x=y";
    let answer: Result<Value, _> = s.client.put_json(&destination, path, &body).await;
    assert_eq!(answer.ok(), Some(json!({"pdus": {}})));
    let Some(request) = seen.recv().await else {
        panic!("no request seen")
    };
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("PUT", path)
    );
    assert_eq!(
        request.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    assert_eq!(request.headers.get("host"), Some(&destination.to_string()));
    assert_eq!(request.sni, None, "no SNI for an IP address");
    assert_eq!(
        verify_seen(&request, &destination, &s).await.ok(),
        Some(s.origin.clone())
    );
    // The same request presented to another server does not authenticate.
    let other = must(ServerName::parse("127.0.0.1:1"), "other");
    assert!(verify_seen(&request, &other, &s).await.is_err());
}

#[tokio::test]
async fn get_requests_are_signed_without_content() {
    let (chain, key, _) = certificate(&["127.0.0.1"], false);
    let (addr, mut seen) = start_server(
        chain,
        key,
        200,
        r#"{"server": {"name": "x", "version": "1"}}"#.into(),
    )
    .await;
    let s = setup(insecure(), Limits::default(), loopback(), vec![]).await;
    let destination = must(
        ServerName::parse(&format!("127.0.0.1:{}", addr.port())),
        "dest",
    );
    let answer: Result<Value, _> = s
        .client
        .get_json(
            &destination,
            "/_matrix/federation/v1/query/profile?user_id=@a b:c",
        )
        .await;
    assert!(answer.is_ok());
    let Some(request) = seen.recv().await else {
        panic!("no request seen")
    };
    // The raw space was encoded on the wire, and the signature covers the encoded target.
    assert_eq!(
        request.target,
        "/_matrix/federation/v1/query/profile?user_id=@a%20b:c"
    );
    assert_eq!(request.headers.get("content-type"), None);
    assert!(verify_seen(&request, &destination, &s).await.is_ok());
}

#[tokio::test]
async fn self_signed_certificates_are_refused_when_verification_is_on() {
    let (chain, key, _) = certificate(&["127.0.0.1"], false);
    let (addr, _seen) = start_server(chain, key, 200, "{}".into()).await;
    let s = setup(
        TlsSettings::default(),
        Limits::default(),
        loopback(),
        vec![],
    )
    .await;
    let destination = must(
        ServerName::parse(&format!("127.0.0.1:{}", addr.port())),
        "dest",
    );
    let answer: Result<Value, _> = s.client.get_json(&destination, "/x").await;
    assert!(matches!(answer, Err(Error::Request { .. })), "{answer:?}");
}

#[tokio::test]
async fn an_extra_ca_file_is_trusted_and_sni_is_the_discovered_name() {
    let (chain, key, ca_pem) = certificate(&["fed.test"], true);
    let (addr, mut seen) = start_server(chain, key, 200, "{}".into()).await;
    let dir = must(tempfile::tempdir(), "tempdir");
    let ca_file = dir.path().join("ca.pem");
    must(std::fs::write(&ca_file, ca_pem), "write CA");
    let tls = TlsSettings {
        verify_peer_certificates: true,
        extra_ca_file: Some(ca_file),
    };
    let dns = vec![("fed.test", TestRecord::A(std::net::Ipv4Addr::LOCALHOST))];
    let s = setup(tls, Limits::default(), loopback(), dns).await;
    let destination = must(
        ServerName::parse(&format!("fed.test:{}", addr.port())),
        "dest",
    );
    let answer: Result<Value, _> = s
        .client
        .post_json(&destination, "/_matrix/x", &json!({}))
        .await;
    assert_eq!(answer.ok(), Some(json!({})));
    let Some(request) = seen.recv().await else {
        panic!("no request seen")
    };
    assert_eq!(request.sni.as_deref(), Some("fed.test"));
    assert_eq!(request.headers.get("host"), Some(&destination.to_string()));
    assert!(verify_seen(&request, &destination, &s).await.is_ok());
}

#[tokio::test]
async fn a_missing_or_empty_ca_file_is_a_configuration_error() {
    let dir = must(tempfile::tempdir(), "tempdir");
    let empty = dir.path().join("empty.pem");
    must(std::fs::write(&empty, ""), "write");
    for path in [dir.path().join("absent.pem"), empty] {
        let tls = TlsSettings {
            verify_peer_certificates: true,
            extra_ca_file: Some(path),
        };
        let dns = Arc::new(HickoryDns::with_name_server(must(
            "127.0.0.1:9".parse::<SocketAddr>(),
            "addr",
        )));
        assert!(matches!(
            HttpsWellKnownFetcher::new(dns, IpPolicy::default(), &tls),
            Err(Error::ClientConfig(_))
        ));
    }
}

#[tokio::test]
async fn oversized_answers_and_error_statuses_fail_cleanly() {
    let (chain, key, _) = certificate(&["127.0.0.1"], false);
    let big = format!(r#"{{"x": "{}"}}"#, "a".repeat(4096));
    let (addr, _seen) = start_server(chain.clone(), key.clone_key(), 200, big).await;
    let limits = Limits {
        max_response_bytes: 1024,
        ..Limits::default()
    };
    let s = setup(insecure(), limits, loopback(), vec![]).await;
    let destination = must(
        ServerName::parse(&format!("127.0.0.1:{}", addr.port())),
        "dest",
    );
    let answer: Result<Value, _> = s.client.get_json(&destination, "/big").await;
    assert!(
        matches!(&answer, Err(Error::Request { reason, .. }) if reason.contains("larger")),
        "{answer:?}"
    );

    let (addr, _seen) = start_server(chain, key, 403, r#"{"errcode": "M_FORBIDDEN"}"#.into()).await;
    let destination = must(
        ServerName::parse(&format!("127.0.0.1:{}", addr.port())),
        "dest",
    );
    let answer: Result<Value, _> = s.client.get_json(&destination, "/forbidden").await;
    assert!(
        matches!(&answer, Err(Error::PeerStatus { status: 403, body, .. }) if body.contains("M_FORBIDDEN"))
    );
}

#[tokio::test]
async fn loopback_destinations_are_refused_by_the_default_policy_without_connecting() {
    let (chain, key, _) = certificate(&["127.0.0.1"], false);
    let (addr, mut seen) = start_server(chain, key, 200, "{}".into()).await;
    let s = setup(insecure(), Limits::default(), IpPolicy::default(), vec![]).await;
    let destination = must(
        ServerName::parse(&format!("127.0.0.1:{}", addr.port())),
        "dest",
    );
    let answer: Result<Value, _> = s.client.get_json(&destination, "/x").await;
    assert!(matches!(answer, Err(Error::DeniedAddress { .. })));
    assert!(seen.try_recv().is_err(), "no request reached the server");
}

/// A resolver whose well-known fetcher is the real HTTPS one, pointed at `port` instead of 443.
async fn resolver_with_real_fetcher(port: u16, policy: IpPolicy) -> ServerResolver {
    let dns_addr = start_dns(vec![
        ("wk.test", TestRecord::A(std::net::Ipv4Addr::LOCALHOST)),
        ("wk2.test", TestRecord::A(std::net::Ipv4Addr::LOCALHOST)),
    ])
    .await;
    let dns = Arc::new(HickoryDns::with_name_server(dns_addr));
    let fetcher = must(
        HttpsWellKnownFetcher::with_port(dns.clone(), policy.clone(), &insecure(), port),
        "fetcher",
    );
    ServerResolver::new(dns, Arc::new(fetcher), policy)
}

#[tokio::test]
async fn well_known_is_fetched_over_https_with_sni_and_cached() {
    let (chain, key, _) = certificate(&["wk.test"], false);
    let (addr, mut seen) =
        start_server(chain, key, 200, r#"{"m.server": "127.0.0.1:4321"}"#.into()).await;
    let resolver = resolver_with_real_fetcher(addr.port(), loopback()).await;
    let server = must(ServerName::parse("wk.test"), "name");
    for _ in 0..2 {
        let destination = must(resolver.resolve(&server).await, "resolve");
        assert_eq!(
            destination.addresses,
            vec![must("127.0.0.1:4321".parse::<SocketAddr>(), "addr")]
        );
        assert_eq!(destination.host_header, "127.0.0.1:4321");
        assert_eq!(
            destination.tls_host,
            TlsHost::Ip(std::net::Ipv4Addr::LOCALHOST.into())
        );
    }
    let Some(request) = seen.recv().await else {
        panic!("no well-known request")
    };
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("GET", "/.well-known/matrix/server")
    );
    assert_eq!(request.sni.as_deref(), Some("wk.test"));
    assert!(
        seen.try_recv().is_err(),
        "the second resolution used the cache"
    );
}

#[tokio::test]
async fn oversized_well_known_answers_are_ignored() {
    let (chain, key, _) = certificate(&["wk.test"], false);
    let huge = format!(
        r#"{{"m.server": "127.0.0.1:4321", "pad": "{}"}}"#,
        "x".repeat(60 * 1024)
    );
    let (addr, _seen) = start_server(chain, key, 200, huge).await;
    let resolver = resolver_with_real_fetcher(addr.port(), loopback()).await;
    let destination = must(
        resolver
            .resolve(&must(ServerName::parse("wk.test"), "name"))
            .await,
        "resolve",
    );
    assert_eq!(
        destination.addresses,
        vec![must("127.0.0.1:8448".parse::<SocketAddr>(), "addr")]
    );
    assert_eq!(destination.host_header, "wk.test");
}

#[tokio::test]
async fn well_known_is_not_fetched_from_denied_addresses() {
    let (chain, key, _) = certificate(&["wk.test"], false);
    let (addr, mut seen) = start_server(chain, key, 200, r#"{"m.server": "8.8.8.8"}"#.into()).await;
    let resolver = resolver_with_real_fetcher(addr.port(), IpPolicy::default()).await;
    let result = resolver
        .resolve(&must(ServerName::parse("wk.test"), "name"))
        .await;
    assert!(
        matches!(result, Err(Error::DeniedAddress { .. })),
        "{result:?}"
    );
    assert!(
        seen.try_recv().is_err(),
        "no request reached the loopback server"
    );
}

#[tokio::test]
async fn well_known_redirects_are_followed_but_not_to_denied_addresses() {
    let (chain, key, _) = certificate(&["wk.test", "wk2.test"], false);
    let (target, _) = start_server(
        chain.clone(),
        key.clone_key(),
        200,
        r#"{"m.server": "127.0.0.1:4321"}"#.into(),
    )
    .await;
    let location = format!(
        "https://wk2.test:{}/.well-known/matrix/server",
        target.port()
    );
    let (redirecting, _) = start_server(chain.clone(), key.clone_key(), 302, location).await;
    let resolver = resolver_with_real_fetcher(redirecting.port(), loopback()).await;
    let server = must(ServerName::parse("wk.test"), "name");
    let destination = must(resolver.resolve(&server).await, "resolve");
    assert_eq!(destination.host_header, "127.0.0.1:4321");

    let denied = "https://10.0.0.1/.well-known/matrix/server".to_owned();
    let (redirecting, _) = start_server(chain, key, 302, denied).await;
    let resolver = resolver_with_real_fetcher(redirecting.port(), loopback()).await;
    let destination = must(resolver.resolve(&server).await, "resolve");
    assert_eq!(
        destination.host_header, "wk.test",
        "the redirect was refused"
    );
    assert_eq!(
        destination.addresses,
        vec![must("127.0.0.1:8448".parse::<SocketAddr>(), "addr")]
    );
}

#[tokio::test]
async fn the_system_dns_set_up_builds() {
    let origin = must(ServerName::parse("origin.test"), "name");
    let key = must(SigningKey::from_seed("c1", &[7; 32]), "key");
    let client = FederationClient::with_system_dns(
        origin,
        key,
        IpPolicy::default(),
        &TlsSettings::default(),
        Limits::default(),
    );
    // Without /etc/resolv.conf the error must say so rather than panic.
    match client {
        Ok(client) => assert!(
            client.resolver().policy().permits(
                "8.8.8.8"
                    .parse()
                    .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into())
            )
        ),
        Err(e) => assert!(matches!(e, Error::ClientConfig(_))),
    }
}
