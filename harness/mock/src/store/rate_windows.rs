//! Fixed-window request counters per bucket (RL-001..003). Which bucket and budget a request
//! spends is decided by the HTTP layer from the budget class its route carries.

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

/// Counts requests per bucket key in one-minute windows aligned to the clock.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, (i64, u32)>>,
}

impl RateLimiter {
    /// Count one request in `bucket` against `limit` per minute at time `now` (unix seconds).
    pub fn check(&self, bucket: &str, limit: u32, now: i64) -> Decision {
        let window = now.div_euclid(WINDOW_SECS);
        let reset_at = (window + 1) * WINDOW_SECS;
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            // Bound memory under hostile key churn: old windows are useless anyway.
            map.retain(|_, (w, _)| *w == window);
        }
        let slot = map.entry(bucket.to_string()).or_insert((window, 0));
        if slot.0 != window {
            *slot = (window, 0);
        }
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
}
