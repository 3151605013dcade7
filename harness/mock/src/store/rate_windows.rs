//! Fixed-window request counters per bucket (RL-001..003). Which bucket and budget a request
//! spends is decided by the HTTP layer from the budget class its route carries.
//!
//! A bucket's window opens at its first request and lasts [`WINDOW_SECS`], rather than
//! following the clock's minutes: with minute-aligned windows, a budget spent across a minute
//! boundary reset half-way, so whether "spend the budget, then look" saw the limit depended on
//! the second a run started (`relay.count.floor` missed `count-rate-limited` about once in
//! ten selftests).

use std::collections::HashMap;
use std::sync::Mutex;

/// Window length in seconds.
pub const WINDOW_SECS: i64 = 60;

/// Result of counting one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// `X-RateLimit-Limit`.
    pub limit: u32,
    /// `X-RateLimit-Remaining` after this request.
    pub remaining: u32,
    /// `X-RateLimit-Reset`: unix seconds when the window resets.
    pub reset_at: i64,
    /// `Retry-After` seconds (when refused).
    pub retry_after: i64,
}

/// Counts requests per bucket key in one-minute windows, each opened by the bucket's first
/// request after the previous one closed.
#[derive(Debug, Default)]
pub struct RateLimiter {
    /// Bucket key → (window start in unix seconds, requests counted in it).
    buckets: Mutex<HashMap<String, (i64, u32)>>,
}

impl RateLimiter {
    /// Count one request in `bucket` against `limit` per minute at time `now` (unix seconds).
    pub fn check(&self, bucket: &str, limit: u32, now: i64) -> Decision {
        let open = |start: i64| now < start + WINDOW_SECS;
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            // Bound memory under hostile key churn: closed windows are useless anyway.
            map.retain(|_, (start, _)| open(*start));
        }
        let slot = map.entry(bucket.to_string()).or_insert((now, 0));
        if !open(slot.0) {
            *slot = (now, 0);
        }
        let reset_at = slot.0 + WINDOW_SECS;
        let allowed = slot.1 < limit;
        if allowed {
            slot.1 += 1;
        }
        Decision {
            allowed,
            limit,
            remaining: limit.saturating_sub(slot.1),
            reset_at,
            retry_after: (reset_at - now).max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_counts_and_resets() {
        let rl = RateLimiter::default();
        let now = 1_000_020;
        assert!(rl.check("k", 2, now).allowed);
        let d = rl.check("k", 2, now);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        let d = rl.check("k", 2, now + 1);
        assert!(!d.allowed);
        assert!(d.retry_after >= 1);
        assert!(rl.check("k", 2, now + 60).allowed);
        assert!(rl.check("other", 2, now).allowed);
    }

    #[test]
    fn a_window_opens_at_its_first_request_not_at_the_minute() {
        let rl = RateLimiter::default();
        let last_second_of_a_minute = 1_000_079;
        for _ in 0..2 {
            assert!(rl.check("k", 2, last_second_of_a_minute).allowed);
        }
        // One second later a new minute has begun, but the budget spent a second ago holds.
        let d = rl.check("k", 2, last_second_of_a_minute + 1);
        assert!(!d.allowed);
        assert_eq!(d.reset_at, last_second_of_a_minute + WINDOW_SECS);
        assert_eq!(d.retry_after, WINDOW_SECS - 1);
        assert!(
            rl.check("k", 2, last_second_of_a_minute + WINDOW_SECS)
                .allowed
        );
    }
}
