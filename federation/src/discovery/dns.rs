//! The DNS lookups server discovery needs (SRV, and A/AAAA with CNAME chasing), behind a small trait so
//! tests and the homeserver can point discovery at any name server.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::time::Duration;

use hickory_resolver::TokioAsyncResolver;
use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfigGroup, ResolverConfig, ResolverOpts,
};

/// A boxed future, so [`Dns`] stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One SRV answer (RFC 2782).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrvRecord {
    /// Lower is tried first.
    pub priority: u16,
    /// Among equal priorities, higher is preferred.
    pub weight: u16,
    /// The port to connect to.
    pub port: u16,
    /// The host to resolve with A/AAAA, without the trailing dot; empty for the root name `.`, which means
    /// "no service here".
    pub target: String,
}

/// DNS as discovery uses it. Errors are strings: discovery treats every failure of a step as "no answer"
/// and only reports the reason.
pub trait Dns: Send + Sync {
    /// The SRV records of `name` (e.g. `_matrix-fed._tcp.example.org`).
    fn lookup_srv<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<SrvRecord>, String>>;
    /// The IPv4 and IPv6 addresses of `host`, following CNAMEs.
    fn lookup_ip<'a>(&'a self, host: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, String>>;
}

/// [`Dns`] over hickory-resolver.
pub struct HickoryDns {
    resolver: TokioAsyncResolver,
}

impl HickoryDns {
    /// A resolver configured from the system (`/etc/resolv.conf`), asking for both A and AAAA.
    pub fn from_system_conf() -> Result<Self, String> {
        let (config, mut options) =
            hickory_resolver::system_conf::read_system_conf().map_err(|e| e.to_string())?;
        options.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        Ok(Self {
            resolver: TokioAsyncResolver::tokio(config, options),
        })
    }

    /// A resolver that asks only `name_server` (plain UDP/TCP), without caching or the hosts file: for
    /// tests with a local DNS server, and for deployments that want a specific resolver.
    pub fn with_name_server(name_server: SocketAddr) -> Self {
        let group =
            NameServerConfigGroup::from_ips_clear(&[name_server.ip()], name_server.port(), true);
        let config = ResolverConfig::from_parts(None, Vec::new(), group);
        let mut options = ResolverOpts::default();
        options.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        options.cache_size = 0;
        options.use_hosts_file = false;
        options.attempts = 1;
        options.timeout = Duration::from_secs(2);
        Self {
            resolver: TokioAsyncResolver::tokio(config, options),
        }
    }
}

/// `name` as a fully qualified name, so no search domain is appended.
fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    }
}

impl Dns for HickoryDns {
    fn lookup_srv<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<SrvRecord>, String>> {
        Box::pin(async move {
            let lookup = self
                .resolver
                .srv_lookup(fqdn(name))
                .await
                .map_err(|e| e.to_string())?;
            Ok(lookup
                .iter()
                .map(|srv| SrvRecord {
                    priority: srv.priority(),
                    weight: srv.weight(),
                    port: srv.port(),
                    target: srv.target().to_utf8().trim_end_matches('.').to_owned(),
                })
                .collect())
        })
    }

    fn lookup_ip<'a>(&'a self, host: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, String>> {
        Box::pin(async move {
            let lookup = self
                .resolver
                .lookup_ip(fqdn(host))
                .await
                .map_err(|e| e.to_string())?;
            Ok(lookup.iter().collect())
        })
    }
}
