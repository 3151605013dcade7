//! Replaying and shrinking reproducers.
//!
//! Shrinking is delta debugging (ddmin) over the operation list: remove chunks while the same
//! invariant and clause are still violated, refining the chunk size when nothing can go. Each
//! attempt replays the candidate list in a fresh lane (fresh agents, same keys), so the result
//! is a self-contained sequence. Attempts are bounded (`shrink_attempts`, and 60 s), so a slow
//! target costs a bounded amount of time; a violation that does not reproduce at all (timing
//! dependent) is saved unshrunk and marked as such.

use crate::exec::{ExecError, LaneConfig, run_ops};
use crate::ops::Op;
use crate::oracle::Violation;
use crate::report::Reproducer;
use amp_client::Http;
use std::time::{Duration, Instant};

const SHRINK_TIME: Duration = Duration::from_secs(60);

/// Result of replaying an operation list.
#[derive(Debug, Clone)]
pub struct ReplayOutcome {
    pub violations: Vec<Violation>,
    pub requests: u64,
}

/// Replay `ops` with the reproducer's seed, lane, agent count and profile against `base_url`.
pub async fn replay_ops(
    repro: &Reproducer,
    http: &Http,
    base_url: &str,
    ops: &[Op],
) -> Result<ReplayOutcome, ExecError> {
    let cfg = LaneConfig {
        base_url: base_url.trim_end_matches('/').to_string(),
        seed: repro.seed,
        lane: repro.lane,
        agents: repro.agents,
        profile: repro.profile(),
        request_timeout: Duration::from_millis(repro.request_timeout_ms.max(100)),
        tenant: repro.tenant.clone(),
    };
    let (violations, requests) = run_ops(cfg, http.clone(), ops).await?;
    Ok(ReplayOutcome {
        violations,
        requests,
    })
}

async fn reproduces(repro: &Reproducer, http: &Http, base_url: &str, ops: &[Op]) -> bool {
    match replay_ops(repro, http, base_url, ops).await {
        Ok(o) => o.violations.iter().any(|v| repro.matches(v)),
        Err(_) => false,
    }
}

/// Shrink `repro` against the run's target; returns the smallest list found (and notes).
pub async fn shrink(opts: &crate::FuzzOptions, http: &Http, mut repro: Reproducer) -> Reproducer {
    let base = opts.base_url.as_str();
    let started = Instant::now();
    let mut attempts = 0usize;
    let budget_left =
        |attempts: usize| attempts < opts.shrink_attempts && started.elapsed() < SHRINK_TIME;
    repro.original_operations = repro.operations.len();

    attempts += 1;
    if !reproduces(&repro, http, base, &repro.operations).await {
        repro.replays = false;
        repro.shrink_attempts = attempts;
        return repro;
    }
    repro.replays = true;

    // Cheap first step: most violations need only the last few operations.
    let n = repro.operations.len();
    let mut k = 1;
    while k < n && budget_left(attempts) {
        attempts += 1;
        let tail = repro.operations[n - k..].to_vec();
        if reproduces(&repro, http, base, &tail).await {
            repro.operations = tail;
            break;
        }
        k *= 2;
    }

    // ddmin over what is left.
    let mut granularity = 2usize;
    while repro.operations.len() >= 2 && budget_left(attempts) {
        let len = repro.operations.len();
        let chunk = len.div_ceil(granularity);
        let mut reduced = false;
        let mut start = 0;
        while start < len && budget_left(attempts) {
            let end = (start + chunk).min(len);
            let candidate: Vec<Op> = repro.operations[..start]
                .iter()
                .chain(repro.operations[end..].iter())
                .cloned()
                .collect();
            attempts += 1;
            if !candidate.is_empty() && reproduces(&repro, http, base, &candidate).await {
                repro.operations = candidate;
                granularity = (granularity - 1).max(2);
                reduced = true;
                break;
            }
            start = end;
        }
        if !reduced {
            if granularity >= len {
                break;
            }
            granularity = (granularity * 2).min(len);
        }
    }
    repro.shrink_attempts = attempts;
    repro
}
