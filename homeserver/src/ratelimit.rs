//! Request rate limiting: one token bucket per (action, user or client IP), in memory.
//!
//! A bucket holds up to `burst_count` tokens and refills at `per_second`; an action takes one token, and with
//! none left the request is refused with 429 `M_LIMIT_EXCEEDED` and `retry_after_ms` (the time until a token is
//! back). The arithmetic ([`TokenBucket`]) is pure and takes the time as an argument; [`RateLimiter`] keeps the
//! buckets of one process behind a mutex (the critical section is a hash lookup and a few float operations).
//! Buckets that have refilled completely carry no information and are dropped when the map grows large.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use hearth_client_api::MatrixError;

use crate::config::{RateLimit, RateLimitsConfig};

/// Above this many buckets, full ones are swept out before a new one is added.
const SWEEP_ABOVE: usize = 50_000;

/// What a request is about to do; each action has its own limit in `[rate_limits]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Sending an event (message, state, redaction); keyed by user.
    Message,
    /// Creating an account through `/register`; keyed by client IP.
    Registration,
    /// Any login attempt; keyed by client IP.
    LoginAddress,
    /// Any login attempt; keyed by account.
    LoginAccount,
    /// A failed login; keyed by account.
    LoginFailure,
    /// Joining a room; keyed by user.
    Join,
    /// Inviting someone; keyed by user.
    Invite,
    /// Creating a room; keyed by user.
    RoomCreation,
}

impl Action {
    fn limit(self, config: &RateLimitsConfig) -> RateLimit {
        match self {
            Self::Message => config.message,
            Self::Registration => config.registration,
            Self::LoginAddress => config.login_address,
            Self::LoginAccount => config.login_account,
            Self::LoginFailure => config.login_failures,
            Self::Join => config.joins,
            Self::Invite => config.invites,
            Self::RoomCreation => config.room_creation,
        }
    }
}

/// One bucket's state: `tokens` as of `updated`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TokenBucket {
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn full(limit: RateLimit, now: Instant) -> Self {
        Self {
            tokens: limit.burst_count,
            updated: now,
        }
    }

    fn refill(&mut self, limit: RateLimit, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limit.per_second).min(limit.burst_count);
        self.updated = now;
    }

    /// Milliseconds until one token is available (0 if one is).
    fn wait_ms(&self, limit: RateLimit) -> u64 {
        if self.tokens >= 1.0 {
            return 0;
        }
        let seconds = (1.0 - self.tokens) / limit.per_second;
        // Saturating float-to-int conversion; at least 1 ms so a refusal never says "retry now".
        ((seconds * 1000.0).ceil() as u64).max(1)
    }

    /// Takes a token at `now`; `Err(ms to wait)` when there is none.
    pub fn acquire(&mut self, limit: RateLimit, now: Instant) -> Result<(), u64> {
        self.refill(limit, now);
        match self.wait_ms(limit) {
            0 => {
                self.tokens -= 1.0;
                Ok(())
            }
            wait => Err(wait),
        }
    }

    /// Whether a token is available at `now`, without taking it; `Err(ms to wait)` when not.
    pub fn peek(&mut self, limit: RateLimit, now: Instant) -> Result<(), u64> {
        self.refill(limit, now);
        match self.wait_ms(limit) {
            0 => Ok(()),
            wait => Err(wait),
        }
    }

    /// Records an action that already happened: takes a token if there is one.
    pub fn record(&mut self, limit: RateLimit, now: Instant) {
        self.refill(limit, now);
        self.tokens = (self.tokens - 1.0).max(0.0);
    }

    fn is_full(&self, limit: RateLimit, now: Instant) -> bool {
        let mut copy = *self;
        copy.refill(limit, now);
        copy.tokens >= limit.burst_count
    }
}

/// The process's buckets. Shared as `Arc<RateLimiter>` in the HTTP state.
#[derive(Debug)]
pub struct RateLimiter {
    config: RateLimitsConfig,
    buckets: Mutex<HashMap<(Action, String), TokenBucket>>,
}

impl RateLimiter {
    /// A limiter applying `config` (`enabled = false` allows everything).
    pub fn new(config: RateLimitsConfig) -> Self {
        Self {
            config,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token of `action` for `key` (a user ID or an IP address); 429 `M_LIMIT_EXCEEDED` with
    /// `retry_after_ms` when the bucket is empty.
    pub fn acquire(&self, action: Action, key: &str) -> Result<(), MatrixError> {
        self.with_bucket(action, key, |bucket, limit, now| bucket.acquire(limit, now))
    }

    /// Refuses like [`Self::acquire`] when the bucket is empty, but takes nothing: for actions counted only
    /// when they succeed (registrations) or fail (logins), with [`Self::record`] afterwards.
    pub fn check(&self, action: Action, key: &str) -> Result<(), MatrixError> {
        self.with_bucket(action, key, |bucket, limit, now| bucket.peek(limit, now))
    }

    /// Counts an action that happened.
    pub fn record(&self, action: Action, key: &str) {
        let _ = self.with_bucket(action, key, |bucket, limit, now| {
            bucket.record(limit, now);
            Ok(())
        });
    }

    fn with_bucket(
        &self,
        action: Action,
        key: &str,
        operation: impl FnOnce(&mut TokenBucket, RateLimit, Instant) -> Result<(), u64>,
    ) -> Result<(), MatrixError> {
        if !self.config.enabled {
            return Ok(());
        }
        let limit = action.limit(&self.config);
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > SWEEP_ABOVE {
            let config = &self.config;
            buckets.retain(|(action, _), bucket| !bucket.is_full(action.limit(config), now));
        }
        let bucket = buckets
            .entry((action, key.to_owned()))
            .or_insert_with(|| TokenBucket::full(limit, now));
        operation(bucket, limit, now).map_err(|wait| MatrixError::limit_exceeded(Some(wait)))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const LIMIT: RateLimit = RateLimit::new(0.5, 3.0);

    #[test]
    fn a_full_bucket_allows_the_burst_then_refuses_with_the_wait() {
        let start = Instant::now();
        let mut bucket = TokenBucket::full(LIMIT, start);
        for _ in 0..3 {
            assert_eq!(bucket.acquire(LIMIT, start), Ok(()));
        }
        assert_eq!(bucket.acquire(LIMIT, start), Err(2000));
        assert_eq!(
            bucket.acquire(LIMIT, start + Duration::from_millis(500)),
            Err(1500)
        );
        assert_eq!(
            bucket.acquire(LIMIT, start + Duration::from_secs(2)),
            Ok(())
        );
    }

    #[test]
    fn refill_never_exceeds_the_burst() {
        let start = Instant::now();
        let mut bucket = TokenBucket::full(LIMIT, start);
        let later = start + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(bucket.acquire(LIMIT, later), Ok(()));
        }
        assert!(bucket.acquire(LIMIT, later).is_err());
    }

    #[test]
    fn peek_takes_nothing_and_record_takes_one() {
        let now = Instant::now();
        let mut bucket = TokenBucket::full(LIMIT, now);
        for _ in 0..10 {
            assert_eq!(bucket.peek(LIMIT, now), Ok(()));
        }
        for _ in 0..5 {
            bucket.record(LIMIT, now);
        }
        assert_eq!(bucket.peek(LIMIT, now), Err(2000));
    }

    #[test]
    fn limiter_keys_buckets_by_action_and_key_and_answers_m_limit_exceeded() {
        let config = RateLimitsConfig {
            message: RateLimit::new(0.001, 2.0),
            ..RateLimitsConfig::default()
        };
        let limiter = RateLimiter::new(config);
        assert!(limiter.acquire(Action::Message, "@a:x").is_ok());
        assert!(limiter.acquire(Action::Message, "@a:x").is_ok());
        let error = limiter.acquire(Action::Message, "@a:x").unwrap_err();
        assert_eq!(error.status, 429);
        assert_eq!(error.errcode.as_str(), "M_LIMIT_EXCEEDED");
        let wait = error.extra["retry_after_ms"].as_u64().unwrap();
        assert!((999_000..=1_000_000).contains(&wait), "{wait}");
        assert!(limiter.acquire(Action::Message, "@b:x").is_ok());
        assert!(limiter.acquire(Action::Join, "@a:x").is_ok());
    }

    #[test]
    fn a_disabled_limiter_allows_everything() {
        let limiter = RateLimiter::new(RateLimitsConfig {
            enabled: false,
            ..RateLimitsConfig::default()
        });
        for _ in 0..1000 {
            assert!(limiter.acquire(Action::Registration, "127.0.0.1").is_ok());
        }
    }
}
