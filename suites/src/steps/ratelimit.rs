//! Steps that read rate-limit headers (spec 07 Rate Limit Headers, 08 Rate Limits): which
//! headers must be present, and whether a `Retry-After` value is valid (seconds or an HTTP date).

use amp_runner::Resp;
use std::time::Duration;

/// RL-003: `GET /v1/messages/pending` is limited to 30 requests per minute.
pub(crate) const PENDING_PER_MINUTE: u64 = 30;

/// A burst stops after this long (a distant target must not push a case past the runner's
/// per-case timeout): a minute-long budget is only exceeded by requests sent well within it.
pub(crate) const BURST_WINDOW: Duration = Duration::from_secs(20);

/// How many requests a burst may send to see a per-minute `budget` enforced. A limiter with
/// fixed windows aligned to the clock splits a burst that straddles a window boundary into two
/// windows, each under the budget; `2 × budget + 1` requests put more than the budget into one of
/// them, so a limit in force always shows, whatever the moment the burst starts (it lasts less
/// than [`BURST_WINDOW`], so it never spans three windows).
pub(crate) fn burst_bound(budget: u64) -> u64 {
    2 * budget + 1
}

pub(crate) const HEADERS: [&str; 3] = [
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
];

/// Problems with the `X-RateLimit-*` headers of `resp` (missing, not a non-negative integer,
/// remaining above limit).
pub(crate) fn header_problems(resp: &Resp, what: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut nums = [None; 3];
    for (i, h) in HEADERS.iter().enumerate() {
        match resp.header(h) {
            None => problems.push(format!("{what} lacks {h}")),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) => nums[i] = Some(n),
                Err(_) => problems.push(format!("{what}: {h} `{v}` is not a non-negative integer")),
            },
        }
    }
    if let (Some(limit), Some(remaining)) = (nums[0], nums[1]) {
        if remaining > limit {
            problems.push(format!(
                "{what}: X-RateLimit-Remaining {remaining} exceeds X-RateLimit-Limit {limit}"
            ));
        }
    }
    problems
}

/// `Retry-After` is delta-seconds or an HTTP date (RFC 9110 §10.2.3).
pub(crate) fn retry_after_valid(v: &str) -> bool {
    let v = v.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    // IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
    v.len() == 29 && v.ends_with(" GMT") && v.as_bytes().get(3) == Some(&b',')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert!(retry_after_valid("30"));
        assert!(retry_after_valid(" 0 "));
        assert!(retry_after_valid("Sun, 06 Nov 1994 08:49:37 GMT"));
        assert!(!retry_after_valid("soon"));
        assert!(!retry_after_valid("-1"));
        assert!(!retry_after_valid(""));
    }

    #[test]
    fn header_checks() {
        let ok = Resp::new(
            200,
            vec![
                ("x-ratelimit-limit".into(), "100".into()),
                ("x-ratelimit-remaining".into(), "99".into()),
                ("x-ratelimit-reset".into(), "1700000000".into()),
            ],
            b"{}".to_vec(),
        );
        assert!(header_problems(&ok, "r").is_empty());
        let bad = Resp::new(
            200,
            vec![
                ("x-ratelimit-limit".into(), "10".into()),
                ("x-ratelimit-remaining".into(), "11".into()),
            ],
            b"{}".to_vec(),
        );
        assert_eq!(header_problems(&bad, "r").len(), 2);
    }
}
