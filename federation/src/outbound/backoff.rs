//! When to retry a destination after failed transactions: exponential backoff with a cap and jitter.
//!
//! Pure: [`Backoff::delay`] takes the jitter as an argument, [`Backoff::next_retry`] draws it. Jitter
//! spreads retries of many queues that failed together (e.g. after our own network outage).

use std::time::Duration;

/// Exponential backoff: `initial × multiplier^(attempts−1)`, capped at `max`, scaled by a random factor
/// in `[1 − jitter, 1 + jitter)` and capped again.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// Delay after the first failure.
    pub initial: Duration,
    /// Growth per further failure (≥ 1).
    pub multiplier: f64,
    /// Longest delay, jitter included.
    pub max: Duration,
    /// Relative jitter, in `[0, 1)`.
    pub jitter: f64,
}

impl Default for Backoff {
    /// 5 s, doubling, at most 1 hour, ±20 %: a restarted peer is retried within minutes at first.
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(5),
            multiplier: 2.0,
            max: Duration::from_secs(60 * 60),
            jitter: 0.2,
        }
    }
}

impl Backoff {
    /// The delay after `attempts` consecutive failures (0 → no delay), with `unit` in `[0, 1)` choosing
    /// the point in the jitter range (0.5 = no jitter).
    pub fn delay(&self, attempts: u32, unit: f64) -> Duration {
        if attempts == 0 {
            return Duration::ZERO;
        }
        let exponent = i32::try_from(attempts - 1).unwrap_or(i32::MAX);
        let max = self.max.as_secs_f64();
        let base = (self.initial.as_secs_f64() * self.multiplier.max(1.0).powi(exponent)).min(max);
        let jitter = self.jitter.clamp(0.0, 0.99);
        let factor = 1.0 - jitter + 2.0 * jitter * unit.clamp(0.0, 1.0);
        let seconds = (base * factor).min(max);
        if seconds.is_finite() && seconds > 0.0 {
            Duration::from_secs_f64(seconds)
        } else {
            Duration::ZERO
        }
    }

    /// The delay after `attempts` consecutive failures, with random jitter.
    pub fn next_retry(&self, attempts: u32) -> Duration {
        self.delay(attempts, rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_JITTER: f64 = 0.5;

    #[test]
    fn grows_exponentially_from_the_initial_delay() {
        let b = Backoff::default();
        assert_eq!(b.delay(0, NO_JITTER), Duration::ZERO);
        assert_eq!(b.delay(1, NO_JITTER), Duration::from_secs(5));
        assert_eq!(b.delay(2, NO_JITTER), Duration::from_secs(10));
        assert_eq!(b.delay(5, NO_JITTER), Duration::from_secs(80));
    }

    #[test]
    fn never_exceeds_the_cap_even_with_jitter_or_huge_attempt_counts() {
        let b = Backoff::default();
        for attempts in [10, 11, 100, u32::MAX] {
            for unit in [0.0, 0.5, 0.999] {
                assert!(b.delay(attempts, unit) <= b.max, "{attempts} {unit}");
            }
        }
        assert_eq!(b.delay(u32::MAX, NO_JITTER), b.max);
    }

    #[test]
    fn jitter_stays_within_its_range() {
        let b = Backoff::default();
        assert_eq!(b.delay(3, 0.0), Duration::from_secs(16));
        assert!(b.delay(3, 0.999) < Duration::from_secs(24));
        for _ in 0..1000 {
            let d = b.next_retry(3);
            assert!(
                d >= Duration::from_secs(16) && d < Duration::from_secs(24),
                "{d:?}"
            );
        }
    }

    #[test]
    fn odd_parameters_do_not_panic() {
        let b = Backoff {
            initial: Duration::from_secs(1),
            multiplier: 0.5,
            max: Duration::from_secs(3),
            jitter: 5.0,
        };
        assert!(b.delay(4, 0.9) <= Duration::from_secs(3));
        assert!(b.delay(4, f64::NAN) <= Duration::from_secs(3));
    }
}
