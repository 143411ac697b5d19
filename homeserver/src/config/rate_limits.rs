//! `[rate_limits]`: how fast one user (or one client IP address) may do the actions the spec lets a server
//! refuse with 429 `M_LIMIT_EXCEEDED`. The defaults are Synapse's.

use serde::{Deserialize, Serialize};

/// One token bucket: `burst_count` actions at once, refilled at `per_second` actions per second.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained rate, in actions per second (must be > 0).
    pub per_second: f64,
    /// How many actions may happen at once after a quiet period (must be ≥ 1).
    pub burst_count: f64,
}

impl RateLimit {
    /// A limit of `burst_count` at once, refilled at `per_second`.
    pub const fn new(per_second: f64, burst_count: f64) -> Self {
        Self {
            per_second,
            burst_count,
        }
    }
}

/// `[rate_limits]`. Server admins are never limited (appservices will not be either, once they exist).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitsConfig {
    /// `false` turns every limit off (test harnesses and benchmarks).
    pub enabled: bool,
    /// Events a user sends: messages, state events, redactions (per user).
    pub message: RateLimit,
    /// Accounts created through `/register` (per client IP address).
    pub registration: RateLimit,
    /// Login attempts (per client IP address).
    pub login_address: RateLimit,
    /// Login attempts (per account).
    pub login_account: RateLimit,
    /// Failed login attempts (per account).
    pub login_failures: RateLimit,
    /// Room joins (per user).
    pub joins: RateLimit,
    /// Invites sent (per user).
    pub invites: RateLimit,
    /// Rooms created (per user).
    pub room_creation: RateLimit,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            message: RateLimit::new(0.2, 10.0),
            registration: RateLimit::new(0.17, 3.0),
            login_address: RateLimit::new(0.003, 5.0),
            login_account: RateLimit::new(0.003, 5.0),
            login_failures: RateLimit::new(0.17, 3.0),
            joins: RateLimit::new(0.1, 10.0),
            invites: RateLimit::new(0.003, 5.0),
            room_creation: RateLimit::new(0.016, 10.0),
        }
    }
}

impl RateLimitsConfig {
    /// Every limit with its config key, for validation.
    pub fn named(&self) -> [(&'static str, RateLimit); 8] {
        [
            ("message", self.message),
            ("registration", self.registration),
            ("login_address", self.login_address),
            ("login_account", self.login_account),
            ("login_failures", self.login_failures),
            ("joins", self.joins),
            ("invites", self.invites),
            ("room_creation", self.room_creation),
        ]
    }

    /// Why the section is invalid, naming the key; `None` when it is fine.
    pub fn problem(&self) -> Option<String> {
        self.named().into_iter().find_map(|(name, limit)| {
            let valid = limit.per_second.is_finite()
                && limit.per_second > 0.0
                && limit.burst_count.is_finite()
                && limit.burst_count >= 1.0;
            (!valid).then(|| {
                format!(
                    "rate_limits.{name}: per_second must be > 0 and burst_count ≥ 1 (got {} and {})",
                    limit.per_second, limit.burst_count
                )
            })
        })
    }
}
