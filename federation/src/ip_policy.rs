//! Which IP addresses outbound federation may connect to (SSRF protection).
//!
//! Other servers choose the names we resolve and connect to, so without a policy a peer could make this
//! server send requests into its own private network. Every address that discovery produces passes
//! [`IpPolicy::permits`] before any connection is made; this includes well-known fetches and redirects.

use std::net::IpAddr;

use ipnet::IpNet;

/// The ranges `[federation] denied_ip_ranges` lists by default: private, loopback, link-local, CGNAT and
/// "this network" ranges.
pub const DEFAULT_DENIED_RANGES: &[&str] = &[
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "127.0.0.0/8",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "0.0.0.0/8",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
];

/// An allow list that overrides a deny list, as in `[federation] allowed_ip_ranges` / `denied_ip_ranges`.
///
/// Invariants: an address in an allowed range is permitted; otherwise one in a denied range is refused;
/// unspecified (`0.0.0.0`, `::`), multicast and broadcast addresses are always refused because nothing
/// legitimate listens there. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are judged as their IPv4 form,
/// so a mapped loopback address cannot slip past an IPv4 deny range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpPolicy {
    allowed: Vec<IpNet>,
    denied: Vec<IpNet>,
}

impl Default for IpPolicy {
    /// The default config: nothing explicitly allowed, [`DEFAULT_DENIED_RANGES`] denied.
    fn default() -> Self {
        let denied = DEFAULT_DENIED_RANGES
            .iter()
            .filter_map(|r| r.parse().ok())
            .collect();
        Self {
            allowed: Vec::new(),
            denied,
        }
    }
}

impl IpPolicy {
    /// A policy from explicit lists.
    pub fn new(allowed: Vec<IpNet>, denied: Vec<IpNet>) -> Self {
        Self { allowed, denied }
    }

    /// A policy from the config's string lists; the error names the first range that does not parse.
    pub fn from_strings<A: AsRef<str>, D: AsRef<str>>(
        allowed: &[A],
        denied: &[D],
    ) -> Result<Self, String> {
        let parse = |r: &str| r.parse::<IpNet>().map_err(|_| r.to_owned());
        Ok(Self {
            allowed: allowed
                .iter()
                .map(|r| parse(r.as_ref()))
                .collect::<Result<_, _>>()?,
            denied: denied
                .iter()
                .map(|r| parse(r.as_ref()))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Whether outbound federation may connect to `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        let never = match ip {
            IpAddr::V4(v4) => v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast(),
            IpAddr::V6(v6) => v6.is_unspecified() || v6.is_multicast(),
        };
        if never {
            return false;
        }
        if self.allowed.iter().any(|net| net.contains(&ip)) {
            return true;
        }
        !self.denied.iter().any(|net| net.contains(&ip))
    }
}

/// IPv4-mapped IPv6 addresses as IPv4; everything else unchanged.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        match s.parse() {
            Ok(ip) => ip,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn default_policy_denies_private_and_loopback_and_permits_public_addresses() {
        let policy = IpPolicy::default();
        for denied in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.1.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "0.0.0.0",
            "::",
        ] {
            assert!(!policy.permits(ip(denied)), "{denied}");
        }
        for permitted in [
            "1.1.1.1",
            "172.32.0.1",
            "8.8.8.8",
            "2001:db8::1",
            "2606:4700::1111",
        ] {
            assert!(policy.permits(ip(permitted)), "{permitted}");
        }
    }

    #[test]
    fn loopback_is_permitted_only_when_allowed_explicitly() {
        let policy = IpPolicy::from_strings(&["127.0.0.0/8", "::1/128"], DEFAULT_DENIED_RANGES);
        let Ok(policy) = policy else {
            panic!("ranges parse")
        };
        assert!(policy.permits(ip("127.0.0.1")));
        assert!(policy.permits(ip("::1")));
        assert!(!policy.permits(ip("10.0.0.1")));
        assert!(!policy.permits(ip("192.168.0.1")));
    }

    #[test]
    fn ipv4_mapped_ipv6_addresses_are_judged_as_ipv4() {
        let policy = IpPolicy::default();
        assert!(!policy.permits(ip("::ffff:127.0.0.1")));
        assert!(!policy.permits(ip("::ffff:10.0.0.1")));
        assert!(policy.permits(ip("::ffff:8.8.8.8")));
    }

    #[test]
    fn multicast_broadcast_and_unspecified_are_refused_even_when_allowed() {
        let policy = IpPolicy::from_strings(&["0.0.0.0/0", "::/0"], &[] as &[&str]);
        let Ok(policy) = policy else {
            panic!("ranges parse")
        };
        for never in ["0.0.0.0", "255.255.255.255", "224.0.0.1", "ff02::1", "::"] {
            assert!(!policy.permits(ip(never)), "{never}");
        }
        assert!(policy.permits(ip("10.0.0.1")));
    }

    #[test]
    fn rejects_unparsable_ranges_by_name() {
        assert_eq!(
            IpPolicy::from_strings(&["10.0.0.0/33"], &[] as &[&str]),
            Err("10.0.0.0/33".to_owned())
        );
        assert_eq!(
            IpPolicy::from_strings(&[] as &[&str], &["nonsense"]),
            Err("nonsense".to_owned())
        );
    }

    #[test]
    fn an_empty_policy_permits_everything_routable() {
        let policy = IpPolicy::new(Vec::new(), Vec::new());
        assert!(policy.permits(ip("127.0.0.1")));
        assert!(policy.permits(ip("10.0.0.1")));
    }
}
