//! Server discovery against a real hickory resolver talking to a test DNS server on 127.0.0.1, with
//! well-known answers from an in-memory fetcher: each step of the spec's order, the well-known cache,
//! malformed documents and the IP policy.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hearth_federation::Error;
use hearth_federation::discovery::dns::BoxFuture;
use hearth_federation::discovery::well_known_cache::WellKnownResponse;
use hearth_federation::discovery::{
    Destination, HickoryDns, ServerResolver, TlsHost, WellKnownFetcher,
};
use hearth_federation::ip_policy::IpPolicy;
use hearth_types::ServerName;

mod common;
use common::{TestRecord, start_dns};

/// Well-known answers by host, counting fetches.
#[derive(Default)]
struct FakeWellKnown {
    answers: Mutex<HashMap<String, Result<WellKnownResponse, String>>>,
    fetches: AtomicUsize,
}

impl FakeWellKnown {
    fn with(host: &str, answer: Result<WellKnownResponse, String>) -> Arc<Self> {
        let fake = Self::default();
        if let Ok(mut answers) = fake.answers.lock() {
            answers.insert(host.to_owned(), answer);
        }
        Arc::new(fake)
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl WellKnownFetcher for FakeWellKnown {
    fn fetch<'a>(&'a self, host: &'a str) -> BoxFuture<'a, Result<WellKnownResponse, String>> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let answer = self
            .answers
            .lock()
            .ok()
            .and_then(|answers| answers.get(host).cloned())
            .unwrap_or_else(|| Err("connection refused".to_owned()));
        Box::pin(async move { answer })
    }
}

fn delegation(m_server: &str) -> Result<WellKnownResponse, String> {
    Ok(WellKnownResponse {
        status: 200,
        body: format!(r#"{{"m.server": "{m_server}"}}"#).into_bytes(),
        ..Default::default()
    })
}

fn name(s: &str) -> ServerName {
    match ServerName::parse(s) {
        Ok(n) => n,
        Err(e) => panic!("{s}: {e}"),
    }
}

fn sock(s: &str) -> SocketAddr {
    match s.parse() {
        Ok(a) => a,
        Err(e) => panic!("{s}: {e}"),
    }
}

async fn resolver(
    records: Vec<(&'static str, TestRecord)>,
    well_known: Arc<FakeWellKnown>,
    policy: IpPolicy,
) -> ServerResolver {
    let dns = start_dns(records).await;
    ServerResolver::new(
        Arc::new(HickoryDns::with_name_server(dns)),
        well_known,
        policy,
    )
}

async fn resolve(resolver: &ServerResolver, server: &str) -> Destination {
    match resolver.resolve(&name(server)).await {
        Ok(d) => d,
        Err(e) => panic!("{server}: {e}"),
    }
}

fn destination(addresses: &[&str], host_header: &str, tls: &str) -> Destination {
    Destination {
        addresses: addresses.iter().map(|a| sock(a)).collect(),
        host_header: host_header.to_owned(),
        tls_host: match tls.parse::<IpAddr>() {
            Ok(ip) => TlsHost::Ip(ip),
            Err(_) => TlsHost::Name(tls.to_owned()),
        },
    }
}

const PUBLIC_1: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const PUBLIC_2: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);

#[tokio::test]
async fn ip_literals_are_used_directly_with_their_port_or_8448() {
    let wk = Arc::new(FakeWellKnown::default());
    let r = resolver(vec![], wk.clone(), IpPolicy::new(Vec::new(), Vec::new())).await;
    assert_eq!(
        resolve(&r, "203.0.113.9").await,
        destination(&["203.0.113.9:8448"], "203.0.113.9", "203.0.113.9")
    );
    assert_eq!(
        resolve(&r, "127.0.0.1:8500").await,
        destination(&["127.0.0.1:8500"], "127.0.0.1:8500", "127.0.0.1")
    );
    assert_eq!(
        resolve(&r, "[::1]:9000").await,
        destination(&["[::1]:9000"], "[::1]:9000", "::1")
    );
    assert_eq!(
        TlsHost::Ip("::1".parse().unwrap_or(IpAddr::V4(PUBLIC_1))).url_host(),
        "[::1]"
    );
    assert_eq!(wk.fetches(), 0, "IP literals never fetch a well-known");
}

#[tokio::test]
async fn an_explicit_port_skips_well_known_and_srv() {
    let wk = FakeWellKnown::with("example.test", delegation("elsewhere.test"));
    let records = vec![
        ("example.test", TestRecord::A(PUBLIC_1)),
        (
            "example.test",
            TestRecord::Aaaa("2001:db8::1".parse().unwrap_or(Ipv6Addr::LOCALHOST)),
        ),
        (
            "_matrix-fed._tcp.example.test",
            TestRecord::Srv(0, 0, 9999, "srv.test"),
        ),
    ];
    let r = resolver(records, wk.clone(), IpPolicy::default()).await;
    let mut d = resolve(&r, "example.test:8443").await;
    d.addresses.sort();
    assert_eq!(
        d,
        destination(
            &["203.0.113.1:8443", "[2001:db8::1]:8443"],
            "example.test:8443",
            "example.test"
        )
    );
    assert_eq!(wk.fetches(), 0);
}

#[tokio::test]
async fn well_known_delegation_to_an_ip_literal_or_an_explicit_port() {
    let wk = FakeWellKnown::with("ip.test", delegation("203.0.113.7:7777"));
    if let Ok(mut answers) = wk.answers.lock() {
        answers.insert("port.test".into(), delegation("fed.port.test:4443"));
        answers.insert("bare-ip.test".into(), delegation("203.0.113.8"));
    }
    let records = vec![("fed.port.test", TestRecord::A(PUBLIC_2))];
    let r = resolver(records, wk, IpPolicy::default()).await;
    assert_eq!(
        resolve(&r, "ip.test").await,
        destination(&["203.0.113.7:7777"], "203.0.113.7:7777", "203.0.113.7")
    );
    assert_eq!(
        resolve(&r, "bare-ip.test").await,
        destination(&["203.0.113.8:8448"], "203.0.113.8", "203.0.113.8")
    );
    assert_eq!(
        resolve(&r, "port.test").await,
        destination(&["203.0.113.2:4443"], "fed.port.test:4443", "fed.port.test")
    );
}

#[tokio::test]
async fn well_known_delegation_then_srv_then_deprecated_srv_then_8448() {
    let wk = FakeWellKnown::with("a.test", delegation("fed-a.test"));
    if let Ok(mut answers) = wk.answers.lock() {
        answers.insert("b.test".into(), delegation("fed-b.test"));
        answers.insert("c.test".into(), delegation("fed-c.test"));
    }
    let records = vec![
        (
            "_matrix-fed._tcp.fed-a.test",
            TestRecord::Srv(10, 0, 1111, "target-a.test"),
        ),
        (
            "_matrix._tcp.fed-a.test",
            TestRecord::Srv(10, 0, 2222, "wrong.test"),
        ),
        ("target-a.test", TestRecord::A(PUBLIC_1)),
        (
            "_matrix._tcp.fed-b.test",
            TestRecord::Srv(10, 0, 3333, "target-b.test"),
        ),
        ("target-b.test", TestRecord::A(PUBLIC_2)),
        ("fed-c.test", TestRecord::A(PUBLIC_1)),
    ];
    let r = resolver(records, wk, IpPolicy::default()).await;
    // The Host header and certificate name are the delegated name, never the SRV target.
    assert_eq!(
        resolve(&r, "a.test").await,
        destination(&["203.0.113.1:1111"], "fed-a.test", "fed-a.test")
    );
    assert_eq!(
        resolve(&r, "b.test").await,
        destination(&["203.0.113.2:3333"], "fed-b.test", "fed-b.test")
    );
    assert_eq!(
        resolve(&r, "c.test").await,
        destination(&["203.0.113.1:8448"], "fed-c.test", "fed-c.test")
    );
}

#[tokio::test]
async fn without_well_known_srv_records_of_the_hostname_are_used_in_priority_order() {
    let wk = Arc::new(FakeWellKnown::default());
    let records = vec![
        (
            "_matrix-fed._tcp.srv.test",
            TestRecord::Srv(20, 0, 2000, "backup.test"),
        ),
        (
            "_matrix-fed._tcp.srv.test",
            TestRecord::Srv(10, 0, 1000, "primary.test"),
        ),
        ("primary.test", TestRecord::A(PUBLIC_1)),
        ("backup.test", TestRecord::A(PUBLIC_2)),
        (
            "_matrix._tcp.old.test",
            TestRecord::Srv(0, 0, 4000, "primary.test"),
        ),
        ("plain.test", TestRecord::A(PUBLIC_2)),
    ];
    let r = resolver(records, wk.clone(), IpPolicy::default()).await;
    assert_eq!(
        resolve(&r, "srv.test").await,
        destination(
            &["203.0.113.1:1000", "203.0.113.2:2000"],
            "srv.test",
            "srv.test"
        )
    );
    assert_eq!(
        resolve(&r, "old.test").await,
        destination(&["203.0.113.1:4000"], "old.test", "old.test")
    );
    assert_eq!(
        resolve(&r, "plain.test").await,
        destination(&["203.0.113.2:8448"], "plain.test", "plain.test")
    );
    assert_eq!(wk.fetches(), 3);
}

#[tokio::test]
async fn malformed_well_known_documents_fall_through_to_srv_and_are_cached() {
    let bad = Ok(WellKnownResponse {
        status: 200,
        cache_control: Some("max-age=86400".into()),
        body: br#"{"m.server": "not a server name"}"#.to_vec(),
        ..Default::default()
    });
    let wk = FakeWellKnown::with("bad.test", bad);
    let records = vec![
        (
            "_matrix-fed._tcp.bad.test",
            TestRecord::Srv(0, 0, 5555, "t.test"),
        ),
        ("t.test", TestRecord::A(PUBLIC_1)),
    ];
    let r = resolver(records, wk.clone(), IpPolicy::default()).await;
    assert_eq!(
        resolve(&r, "bad.test").await,
        destination(&["203.0.113.1:5555"], "bad.test", "bad.test")
    );
    assert_eq!(
        resolve(&r, "bad.test").await.addresses,
        vec![sock("203.0.113.1:5555")]
    );
    assert_eq!(wk.fetches(), 1, "an invalid answer is cached like an error");
}

#[tokio::test]
async fn a_valid_well_known_is_fetched_once_and_served_from_the_cache() {
    let wk = FakeWellKnown::with("cached.test", delegation("203.0.113.5:1"));
    let r = resolver(vec![], wk.clone(), IpPolicy::default()).await;
    for _ in 0..3 {
        assert_eq!(
            resolve(&r, "cached.test").await.addresses,
            vec![sock("203.0.113.5:1")]
        );
    }
    assert_eq!(wk.fetches(), 1);
}

#[tokio::test]
async fn denied_addresses_are_never_returned() {
    let wk = FakeWellKnown::with("sneaky.test", delegation("127.0.0.1:8448"));
    let records = vec![
        ("internal.test", TestRecord::A(Ipv4Addr::new(10, 0, 0, 1))),
        ("mixed.test", TestRecord::A(Ipv4Addr::new(192, 168, 1, 1))),
        ("mixed.test", TestRecord::A(PUBLIC_1)),
    ];
    let r = resolver(records, wk, IpPolicy::default()).await;
    for server in [
        "127.0.0.1:8448",
        "[::1]",
        "internal.test",
        "internal.test:443",
        "sneaky.test",
    ] {
        assert!(
            matches!(
                r.resolve(&name(server)).await,
                Err(Error::DeniedAddress { .. })
            ),
            "{server}"
        );
    }
    assert_eq!(
        resolve(&r, "mixed.test").await.addresses,
        vec![sock("203.0.113.1:8448")]
    );
}

#[tokio::test]
async fn unknown_names_are_a_resolution_error() {
    let r = resolver(
        vec![],
        Arc::new(FakeWellKnown::default()),
        IpPolicy::default(),
    )
    .await;
    assert!(matches!(
        r.resolve(&name("nowhere.test")).await,
        Err(Error::Resolution { .. })
    ));
    assert!(matches!(
        r.resolve(&name("nowhere.test:1")).await,
        Err(Error::Resolution { .. })
    ));
}
