//! Server access control lists (`m.room.server_acl`): which servers may take part in a room.
//!
//! The spec: the server name is compared without its port; an IP-literal name is denied when
//! `allow_ip_literals` is false; then any `deny` glob match denies, then any `allow` glob match allows, and
//! everything else is denied. Globs use `*` (any run of characters) and `?` (one character); matching is
//! ASCII case-insensitive, as host names are. Malformed content fields count as absent (an absent `allow`
//! allows nobody), and at most [`MAX_ENTRIES`] globs of each list are read, so a hostile ACL cannot make
//! every request expensive.

use hearth_types::ServerName;
use serde_json::Value;

/// Most globs read from each of `allow` and `deny`.
pub const MAX_ENTRIES: usize = 1_000;

/// A parsed `m.room.server_acl` content.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerAcl {
    allow: Vec<String>,
    deny: Vec<String>,
    allow_ip_literals: bool,
}

impl ServerAcl {
    /// Reads an ACL event's `content`.
    pub fn from_content(content: &Value) -> Self {
        let globs = |field: &str| -> Vec<String> {
            content
                .get(field)
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(Value::as_str)
                        .take(MAX_ENTRIES)
                        .map(str::to_ascii_lowercase)
                        .collect()
                })
                .unwrap_or_default()
        };
        Self {
            allow: globs("allow"),
            deny: globs("deny"),
            allow_ip_literals: content
                .get("allow_ip_literals")
                .and_then(Value::as_bool)
                .unwrap_or(true),
        }
    }

    /// Whether `server` may take part in the room.
    pub fn allows(&self, server: &ServerName) -> bool {
        let host = host_of(server.as_str()).to_ascii_lowercase();
        let is_ip_literal = host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok();
        if is_ip_literal && !self.allow_ip_literals {
            return false;
        }
        if self.deny.iter().any(|glob| glob_matches(glob, &host)) {
            return false;
        }
        self.allow.iter().any(|glob| glob_matches(glob, &host))
    }
}

/// The host part of a server name (an IPv6 literal keeps its brackets).
fn host_of(server: &str) -> &str {
    if server.starts_with('[') {
        return server.find(']').map_or(server, |end| &server[..=end]);
    }
    server.rsplit_once(':').map_or(server, |(host, _)| host)
}

/// `*`/`?` glob matching in O(pattern × text) time without recursion.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((star_p, star_t)) = star {
            pi = star_p + 1;
            ti = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn name(s: &str) -> ServerName {
        ServerName::parse(s).expect("server name")
    }

    #[test]
    fn deny_wins_over_allow_and_ports_are_ignored() {
        let acl = ServerAcl::from_content(
            &json!({"allow": ["*"], "deny": ["*.evil.example", "bad.example"]}),
        );
        assert!(acl.allows(&name("good.example:8448")));
        assert!(!acl.allows(&name("a.evil.example")));
        assert!(!acl.allows(&name("BAD.example:443")));
    }

    #[test]
    fn absent_allow_allows_nobody_and_ip_literals_follow_the_flag() {
        assert!(!ServerAcl::from_content(&json!({})).allows(&name("x.example")));
        let acl = ServerAcl::from_content(&json!({"allow": ["*"], "allow_ip_literals": false}));
        assert!(!acl.allows(&name("127.0.0.1:8448")));
        assert!(!acl.allows(&name("[::1]:8448")));
        assert!(acl.allows(&name("x.example")));
        let acl = ServerAcl::from_content(&json!({"allow": ["127.0.0.?"]}));
        assert!(acl.allows(&name("127.0.0.1:8448")));
    }

    #[test]
    fn globs_match_like_the_spec_says() {
        assert!(glob_matches("*.example", "a.b.example"));
        assert!(glob_matches("a?c", "abc"));
        assert!(!glob_matches("a?c", "ac"));
        assert!(glob_matches("**", ""));
        assert!(!glob_matches("*.example", "example"));
    }
}
