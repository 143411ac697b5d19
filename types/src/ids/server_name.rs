//! `ServerName`: the name a homeserver is known by, `hostname [":" port]`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::IdError;

/// A server name: a DNS name, a dotted-quad IPv4 literal or a bracketed IPv6 literal, with an optional
/// port (spec appendices, "Server Name").
///
/// Server names are case-sensitive and kept exactly as written. Invariants: the host part matches the
/// spec's grammar (at most 255 characters), an IPv6 literal parses as an IPv6 address, and a port, if
/// present, is 1–5 digits that fit a `u16`.
#[derive(Clone)]
pub struct ServerName {
    id: Arc<str>,
}

crate::ids::impl_identifier!(ServerName);

/// The longest host part the grammar allows (`dns-name = 1*255dns-char`).
const MAX_HOST_BYTES: usize = 255;

impl ServerName {
    /// Parses a server name with the spec's grammar.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.is_empty() {
            return Err(IdError::InvalidLength);
        }
        let (host, port) = split_host_port(s)?;
        if let Some(port) = port {
            parse_port(port)?;
        }
        if let Some(inner) = host.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or(IdError::InvalidServerName)?;
            if !(2..=45).contains(&inner.len()) || inner.parse::<Ipv6Addr>().is_err() {
                return Err(IdError::InvalidServerName);
            }
        } else {
            // Dotted quads are a subset of the DNS-name characters, so one check covers both forms.
            if host.is_empty() || host.len() > MAX_HOST_BYTES {
                return Err(IdError::InvalidLength);
            }
            if !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            {
                return Err(IdError::InvalidCharacter);
            }
        }
        Ok(Self { id: Arc::from(s) })
    }

    /// The host part as written: a DNS name, an IPv4 literal, or an IPv6 literal *with* its brackets
    /// (the form URLs and `Host` headers need).
    pub fn host(&self) -> &str {
        split_host_port(&self.id)
            .map(|(host, _)| host)
            .unwrap_or(&self.id)
    }

    /// The explicit port, if the server name has one.
    pub fn port(&self) -> Option<u16> {
        split_host_port(&self.id)
            .ok()?
            .1
            .and_then(|port| parse_port(port).ok())
    }

    /// The IP address if the host is an IP literal (server discovery skips DNS for these).
    pub fn ip_literal(&self) -> Option<IpAddr> {
        let host = self.host();
        match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(inner) => inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
            None => host.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
        }
    }
}

/// Splits `host[:port]`; a bracketed IPv6 host may itself contain colons.
fn split_host_port(s: &str) -> Result<(&str, Option<&str>), IdError> {
    if s.starts_with('[') {
        let close = s.find(']').ok_or(IdError::InvalidServerName)?;
        let (host, rest) = s.split_at(close + 1);
        match rest {
            "" => Ok((host, None)),
            _ => rest
                .strip_prefix(':')
                .map(|port| (host, Some(port)))
                .ok_or(IdError::InvalidServerName),
        }
    } else {
        Ok(match s.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        })
    }
}

/// `port = 1*5DIGIT`, and it must fit a TCP port.
fn parse_port(port: &str) -> Result<u16, IdError> {
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdError::InvalidServerName);
    }
    port.parse().map_err(|_| IdError::InvalidServerName)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_spec_examples() {
        for name in [
            "matrix.org",
            "matrix.org:8888",
            "1.2.3.4",
            "1.2.3.4:1234",
            "[1234:5678::abcd]",
            "[1234:5678::abcd]:5678",
        ] {
            assert_eq!(
                ServerName::parse(name).map(|s| s.to_string()).as_deref(),
                Ok(name)
            );
        }
    }

    #[test]
    fn splits_host_and_port() {
        let name = ServerName::parse("matrix.org:8888").unwrap();
        assert_eq!((name.host(), name.port()), ("matrix.org", Some(8888)));
        let name = ServerName::parse("localhost").unwrap();
        assert_eq!((name.host(), name.port()), ("localhost", None));
    }

    #[test]
    fn ipv6_literal_with_port_keeps_brackets_in_host() {
        let name = ServerName::parse("[::1]:8448").unwrap();
        assert_eq!(name.host(), "[::1]");
        assert_eq!(name.port(), Some(8448));
        assert_eq!(name.ip_literal(), Some("::1".parse().unwrap()));
    }

    #[test]
    fn recognises_ip_literals_and_dns_names() {
        assert_eq!(
            ServerName::parse("1.2.3.4:5").unwrap().ip_literal(),
            Some("1.2.3.4".parse().unwrap())
        );
        assert_eq!(ServerName::parse("example.org").unwrap().ip_literal(), None);
        // Not an IPv4 address, but still a grammatical DNS name.
        assert_eq!(ServerName::parse("1.2.3.999").unwrap().ip_literal(), None);
    }

    #[test]
    fn rejects_bad_ports() {
        for name in [
            "example.org:",
            "example.org:65536",
            "example.org:123456",
            "example.org:8a",
            "[::1]:",
        ] {
            assert_eq!(
                ServerName::parse(name),
                Err(IdError::InvalidServerName),
                "{name}"
            );
        }
    }

    #[test]
    fn rejects_malformed_ipv6_literals() {
        for name in [
            "[::1",
            "[]",
            "[:]",
            "[1234:5678::abcd:xyz]",
            "[::1]8448",
            "[fe80::1%eth0]",
        ] {
            assert!(ServerName::parse(name).is_err(), "{name}");
        }
        // An IPv6 address must be bracketed.
        assert!(ServerName::parse("::1").is_err());
    }

    #[test]
    fn rejects_characters_outside_the_grammar() {
        for name in [
            "exa mple.org",
            "example.org/",
            "ex_ample.org",
            "éxample.org",
            "@example.org",
        ] {
            assert_eq!(
                ServerName::parse(name),
                Err(IdError::InvalidCharacter),
                "{name}"
            );
        }
    }

    #[test]
    fn rejects_empty_and_overlong_hosts() {
        assert_eq!(ServerName::parse(""), Err(IdError::InvalidLength));
        assert_eq!(ServerName::parse(":8448"), Err(IdError::InvalidLength));
        assert!(ServerName::parse(&"a".repeat(255)).is_ok());
        assert_eq!(
            ServerName::parse(&"a".repeat(256)),
            Err(IdError::InvalidLength)
        );
    }

    #[test]
    fn is_case_sensitive() {
        assert_ne!(
            ServerName::parse("Matrix.org").unwrap(),
            ServerName::parse("matrix.org").unwrap()
        );
    }
}
