//! Reading `/.well-known/matrix/server` answers and caching them by the spec's rules.
//!
//! Successful answers are cached as their `Cache-Control`/`Expires` headers say, bounded to
//! [`MIN_CACHE`]..=[`MAX_CACHE`], [`DEFAULT_CACHE`] without headers; invalid documents and error
//! statuses (a real answer: "no delegation here") for [`ERROR_CACHE`]. A fetch that got no answer at
//! all (connection refused, TLS, time limit) may be transient, so it is cached for
//! [`FIRST_FAILURE_CACHE`], doubling with each consecutive failure up to [`ERROR_CACHE`] — the spec's
//! "exponentially back off for repeated failures". Pure: the caller passes the current time.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use hearth_types::ServerName;

use super::well_known::ServerWellKnown;

/// Cache time when the answer carries no cache headers (the spec's recommendation).
pub const DEFAULT_CACHE: Duration = Duration::from_secs(24 * 60 * 60);
/// Longest cache time, whatever the headers say (the spec's recommendation).
pub const MAX_CACHE: Duration = Duration::from_secs(48 * 60 * 60);
/// Shortest cache time for a valid answer, so `no-cache` cannot make us fetch on every request.
pub const MIN_CACHE: Duration = Duration::from_secs(5 * 60);
/// Cache time of a failed fetch or an invalid document (the spec: "up to an hour").
pub const ERROR_CACHE: Duration = Duration::from_secs(60 * 60);
/// Cache time of the first failed fetch of a host (no answer at all); doubles per consecutive failure.
pub const FIRST_FAILURE_CACHE: Duration = Duration::from_secs(2 * 60);
/// Largest well-known body read; larger answers are invalid.
pub const MAX_BODY_BYTES: usize = 50 * 1024;

/// A raw well-known answer, as the fetcher got it.
#[derive(Clone, Debug, Default)]
pub struct WellKnownResponse {
    /// HTTP status after redirects.
    pub status: u16,
    /// The `Cache-Control` header, if any.
    pub cache_control: Option<String>,
    /// The `Expires` header, if any.
    pub expires: Option<String>,
    /// The body (the fetcher stops reading past [`MAX_BODY_BYTES`] and reports an error instead).
    pub body: Vec<u8>,
}

/// The delegated server name of a well-known answer, or `None` when the answer is not valid (non-200,
/// not JSON, no string `m.server`, or `m.server` not a server name): the spec then skips to SRV.
pub fn parse_well_known(response: &WellKnownResponse) -> Option<ServerName> {
    if response.status != 200 || response.body.len() > MAX_BODY_BYTES {
        return None;
    }
    let document: ServerWellKnown = serde_json::from_slice(&response.body).ok()?;
    ServerName::parse(&document.server).ok()
}

/// How long to cache a valid answer with these headers, received at `now`.
///
/// `max-age` (or `s-maxage`) wins over `Expires`; `no-store`/`no-cache` mean the minimum; the result is
/// clamped to [`MIN_CACHE`]..=[`MAX_CACHE`].
pub fn cache_lifetime(
    cache_control: Option<&str>,
    expires: Option<&str>,
    now: SystemTime,
) -> Duration {
    let mut lifetime = None;
    if let Some(cache_control) = cache_control {
        for directive in cache_control.split(',').map(str::trim) {
            let lower = directive.to_ascii_lowercase();
            if lower == "no-store" || lower == "no-cache" {
                return MIN_CACHE;
            }
            if let Some(seconds) = lower
                .strip_prefix("max-age=")
                .or_else(|| lower.strip_prefix("s-maxage="))
                && let Ok(seconds) = seconds.trim_matches('"').parse::<u64>()
            {
                lifetime = Some(Duration::from_secs(seconds));
            }
        }
    }
    if lifetime.is_none()
        && let Some(expires) = expires
    {
        lifetime = Some(match httpdate::parse_http_date(expires.trim()) {
            Ok(at) => at.duration_since(now).unwrap_or(Duration::ZERO),
            // An invalid Expires means "already expired" (RFC 9111 §5.3).
            Err(_) => Duration::ZERO,
        });
    }
    lifetime
        .unwrap_or(DEFAULT_CACHE)
        .clamp(MIN_CACHE, MAX_CACHE)
}

/// A cached outcome: the delegated name, or `None` for "no valid well-known".
#[derive(Clone, Debug)]
struct Entry {
    delegated: Option<ServerName>,
    expires_at: Instant,
    /// Consecutive fetches that got no answer, for the failure backoff.
    failures: u32,
}

/// Well-known outcomes by hostname. Not synchronised: the resolver keeps it behind a mutex.
#[derive(Debug, Default)]
pub struct WellKnownCache {
    entries: HashMap<String, Entry>,
}

/// Entries kept at most; when full, expired entries are dropped, then everything (the cache refills).
const MAX_ENTRIES: usize = 10_000;

impl WellKnownCache {
    /// The cached outcome for `host` if still fresh at `now`: `Some(Some(name))` delegated,
    /// `Some(None)` known to have no valid well-known, `None` not cached.
    pub fn get(&self, host: &str, now: Instant) -> Option<Option<ServerName>> {
        self.entries
            .get(host)
            .filter(|entry| entry.expires_at > now)
            .map(|entry| entry.delegated.clone())
    }

    /// Records the outcome of a fetch of `host` at `now` (`wall_now` for `Expires`): `response` is
    /// `None` when the fetch got no answer. Returns the delegated name, if any.
    pub fn record(
        &mut self,
        host: &str,
        response: Option<&WellKnownResponse>,
        now: Instant,
        wall_now: SystemTime,
    ) -> Option<ServerName> {
        let delegated = response.and_then(parse_well_known);
        let failures = match response {
            None => self
                .entries
                .get(host)
                .map_or(0, |entry| entry.failures)
                .saturating_add(1),
            Some(_) => 0,
        };
        let lifetime = match (response, &delegated) {
            (Some(response), Some(_)) => cache_lifetime(
                response.cache_control.as_deref(),
                response.expires.as_deref(),
                wall_now,
            ),
            (Some(_), None) => ERROR_CACHE,
            (None, _) => FIRST_FAILURE_CACHE
                .saturating_mul(1u32 << (failures - 1).min(16))
                .min(ERROR_CACHE),
        };
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.retain(|_, entry| entry.expires_at > now);
            if self.entries.len() >= MAX_ENTRIES {
                self.entries.clear();
            }
        }
        self.entries.insert(
            host.to_owned(),
            Entry {
                delegated: delegated.clone(),
                expires_at: now + lifetime,
                failures,
            },
        );
        delegated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> WellKnownResponse {
        WellKnownResponse {
            status: 200,
            body: body.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn reads_m_server_and_ignores_other_fields() {
        let parsed = parse_well_known(&ok(r#"{"m.server": "fed.example.org:443", "x": 1}"#));
        assert_eq!(
            parsed.map(|n| n.to_string()).as_deref(),
            Some("fed.example.org:443")
        );
    }

    #[test]
    fn malformed_documents_are_invalid() {
        for body in [
            "",
            "not json",
            "[]",
            "{}",
            r#"{"m.server": 5}"#,
            r#"{"m.server": ""}"#,
            r#"{"m.server": "bad host!"}"#,
            r#"{"m.server": "host:99999"}"#,
            r#"{"m.server": "a.example"#,
        ] {
            assert_eq!(parse_well_known(&ok(body)), None, "{body}");
        }
        let not_200 = WellKnownResponse {
            status: 404,
            ..ok(r#"{"m.server": "a.example"}"#)
        };
        assert_eq!(parse_well_known(&not_200), None);
        let huge = format!(
            r#"{{"m.server": "a.example", "pad": "{}"}}"#,
            "x".repeat(MAX_BODY_BYTES)
        );
        assert_eq!(parse_well_known(&ok(&huge)), None);
    }

    #[test]
    fn cache_lifetime_follows_headers_within_bounds() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(cache_lifetime(None, None, now), DEFAULT_CACHE);
        assert_eq!(
            cache_lifetime(Some("public, max-age=3600"), None, now),
            Duration::from_secs(3600)
        );
        assert_eq!(cache_lifetime(Some("max-age=10"), None, now), MIN_CACHE);
        assert_eq!(
            cache_lifetime(Some("max-age=999999999"), None, now),
            MAX_CACHE
        );
        assert_eq!(cache_lifetime(Some("no-cache"), None, now), MIN_CACHE);
        assert_eq!(
            cache_lifetime(Some("No-Store"), Some("garbage"), now),
            MIN_CACHE
        );
        let in_two_hours = httpdate::fmt_http_date(now + Duration::from_secs(7200));
        assert_eq!(
            cache_lifetime(None, Some(&in_two_hours), now),
            Duration::from_secs(7200)
        );
        assert_eq!(
            cache_lifetime(
                Some("max-age=7200"),
                Some("Thu, 01 Jan 1970 00:00:00 GMT"),
                now
            ),
            Duration::from_secs(7200),
            "max-age wins over Expires"
        );
        assert_eq!(cache_lifetime(None, Some("not a date"), now), MIN_CACHE);
    }

    #[test]
    fn cache_serves_fresh_entries_and_expires_them() {
        let mut cache = WellKnownCache::default();
        let (t0, wall) = (Instant::now(), SystemTime::now());
        let answer = WellKnownResponse {
            cache_control: Some("max-age=3600".into()),
            ..ok(r#"{"m.server": "fed.example.org"}"#)
        };
        let delegated = cache.record("example.org", Some(&answer), t0, wall);
        assert_eq!(
            delegated.as_ref().map(ServerName::as_str),
            Some("fed.example.org")
        );
        let fresh = cache.get("example.org", t0 + Duration::from_secs(3599));
        assert_eq!(fresh, Some(delegated));
        assert_eq!(
            cache.get("example.org", t0 + Duration::from_secs(3600)),
            None
        );
        assert_eq!(cache.get("other.org", t0), None);
    }

    #[test]
    fn invalid_answers_are_cached_for_an_hour() {
        let mut cache = WellKnownCache::default();
        let (t0, wall) = (Instant::now(), SystemTime::now());
        let invalid = WellKnownResponse {
            cache_control: Some("max-age=86400".into()),
            ..ok("{}")
        };
        let not_found = WellKnownResponse {
            status: 404,
            ..ok(r#"{"m.server": "a.example"}"#)
        };
        assert_eq!(cache.record("bad.example", Some(&invalid), t0, wall), None);
        assert_eq!(
            cache.record("none.example", Some(&not_found), t0, wall),
            None
        );
        for host in ["bad.example", "none.example"] {
            let before = t0 + ERROR_CACHE - Duration::from_secs(1);
            assert_eq!(cache.get(host, before), Some(None));
            assert_eq!(cache.get(host, t0 + ERROR_CACHE), None);
        }
    }

    #[test]
    fn failed_fetches_back_off_exponentially_up_to_an_hour_and_reset_on_an_answer() {
        let mut cache = WellKnownCache::default();
        let (mut now, wall) = (Instant::now(), SystemTime::now());
        let mut lifetimes = Vec::new();
        for _ in 0..7 {
            assert_eq!(cache.record("down.example", None, now, wall), None);
            let mut lifetime = Duration::ZERO;
            while cache.get("down.example", now + lifetime).is_some() {
                lifetime += Duration::from_secs(60);
            }
            lifetimes.push(lifetime.as_secs() / 60);
            now += lifetime;
        }
        assert_eq!(lifetimes, [2, 4, 8, 16, 32, 60, 60]);
        let answer = ok(r#"{"m.server": "up.example"}"#);
        assert!(
            cache
                .record("down.example", Some(&answer), now, wall)
                .is_some()
        );
        assert_eq!(cache.record("down.example", None, now, wall), None);
        let after_first_failure = now + FIRST_FAILURE_CACHE;
        assert_eq!(
            cache.get("down.example", after_first_failure),
            None,
            "backoff restarted"
        );
    }
}
