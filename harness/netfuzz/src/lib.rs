//! amp-netfuzz: a structure-aware network fuzzer for AMP providers.
//!
//! A run registers its own agents (2–4 per lane), then generates operations from a seed with
//! `arbitrary` over a ChaCha byte stream: signed route bodies (valid, or mutated after signing,
//! with broken signature text, spoofed `from`, wrong types, missing fields, boundary sizes,
//! duplicate keys in the raw text, unicode edge cases), resends of the same body, pending/ack
//! sequences (ack twice, ack unknown, ack another agent's id, ack everything picked up),
//! malformed JSON to every JSON endpoint, and WebSocket frame sequences.
//!
//! Every response goes through an oracle that knows what was sent (see [`oracle`]): no 5xx, no
//! hang or reset, every 4xx in the API-007 error shape, nothing with a missing or invalid
//! signature accepted, no duplicate or misdirected delivery, an acked message never returns.
//! Each violation is saved as a JSON reproducer (seed, invariant, clause, operations), shrunk by
//! delta debugging over the operation list, and can be replayed with [`replay`].
//!
//! Lanes: `concurrency` independent lanes run in parallel, each with its own agents and its own
//! operation stream derived from `(seed, lane)`, so a lane's history alone explains a violation
//! and replays need no other lane. Lanes share only the HTTP client's connection pool; none
//! waits for another, and a lane itself waits only for answers (`benches/fuzz_vs_mock.rs`
//! measures its request rate next to the mock's own `route_pickup` load).
//!
//! Safety: only agents the run registered are used (and deregistered at the end), `429` answers
//! are retried after `Retry-After` (bounded), request bodies are capped at just over the 1 MiB
//! API limit, response bodies at 256 KiB, and every request and frame has a timeout.

#![forbid(unsafe_code)]

pub mod exec;
pub mod generate;
pub mod ops;
pub mod oracle;
pub mod report;
pub mod shrink;
pub mod ws_session;

pub use exec::{ExecError, Lane, LaneConfig};
pub use ops::Op;
pub use oracle::{Invariant, Violation};
pub use report::{FuzzReport, Reproducer, ViolationSummary};

use amp_core::PayloadProfile;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a run goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Budget {
    /// Wall-clock time (shrinking afterwards is not counted).
    Duration(Duration),
    /// Requests sent (HTTP requests plus WebSocket frames), over all lanes.
    Requests(u64),
}

/// Options of one fuzzing run.
#[derive(Debug, Clone)]
pub struct FuzzOptions {
    /// Target base URL including the version path, e.g. `http://127.0.0.1:8080/v1`.
    pub base_url: String,
    pub seed: u64,
    pub budget: Budget,
    /// Payload profile used to sign (and, in the oracle, to verify) route bodies.
    pub profile: PayloadProfile,
    /// Where reproducers and `report.json` are written (created if missing).
    pub out_dir: PathBuf,
    pub request_timeout: Duration,
    /// Independent lanes running in parallel.
    pub concurrency: usize,
    /// Bound on replays spent shrinking one violation.
    pub shrink_attempts: usize,
    /// Tenant for the fuzzer's agents (a fresh random suffix is added per lane).
    pub tenant: String,
    /// Refuse non-loopback targets unless set: fuzzing sends hostile traffic.
    pub allow_remote: bool,
}

impl FuzzOptions {
    /// Defaults for `base_url`: seed 1, 2000 requests, sorted profile, 8 lanes (on two cores,
    /// 8 lanes reach about twice the request rate of 4: a lane waits for each answer, so more
    /// lanes keep the CPU busy).
    pub fn new(base_url: impl Into<String>, out_dir: impl Into<PathBuf>) -> FuzzOptions {
        FuzzOptions {
            base_url: base_url.into(),
            seed: 1,
            budget: Budget::Requests(2000),
            profile: PayloadProfile::Sorted,
            out_dir: out_dir.into(),
            request_timeout: Duration::from_secs(5),
            concurrency: 8,
            shrink_attempts: 200,
            tenant: "ampfuzz".to_string(),
            allow_remote: false,
        }
    }
}

/// Why a run could not start at all (violations are results, not errors).
#[derive(Debug, thiserror::Error)]
pub enum FuzzError {
    #[error(
        "target {0} is not loopback: netfuzz sends hostile traffic; pass allow_remote (--allow-remote) only for a provider you run yourself"
    )]
    NotLoopback(String),
    #[error("target base URL `{0}` is not an http(s) URL: give e.g. http://127.0.0.1:8080/v1")]
    BadUrl(String),
    #[error("cannot set up the fuzzer's agents: {0}")]
    Setup(#[from] ExecError),
    #[error("cannot write to {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("reproducer {path} is not valid: {reason}")]
    BadReproducer { path: String, reason: String },
}

/// True when `base_url`'s host is a loopback name or address.
pub fn is_loopback_url(base_url: &str) -> bool {
    let rest = base_url
        .strip_prefix("http://")
        .or_else(|| base_url.strip_prefix("https://"))
        .unwrap_or("");
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn check_target(base_url: &str, allow_remote: bool) -> Result<(), FuzzError> {
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(FuzzError::BadUrl(base_url.to_string()));
    }
    if !allow_remote && !is_loopback_url(base_url) {
        return Err(FuzzError::NotLoopback(base_url.to_string()));
    }
    Ok(())
}

/// Run the fuzzer. Violations are saved under `out_dir` (one reproducer per distinct
/// invariant and clause, shrunk) and summarised in the report, which is also written to
/// `out_dir/report.json`.
pub async fn fuzz(opts: FuzzOptions) -> Result<FuzzReport, FuzzError> {
    check_target(&opts.base_url, opts.allow_remote)?;
    std::fs::create_dir_all(&opts.out_dir).map_err(|source| FuzzError::Io {
        path: opts.out_dir.display().to_string(),
        source,
    })?;
    let started = Instant::now();
    let lanes = opts.concurrency.max(1);
    let per_lane_budget = match opts.budget {
        Budget::Duration(d) => exec::LaneBudget::Until(started + d),
        Budget::Requests(n) => exec::LaneBudget::Requests(n.div_ceil(lanes as u64).max(1)),
    };
    let http = exec::lane_http(opts.request_timeout)?;
    let mut tasks = Vec::new();
    for lane in 0..lanes {
        let cfg = LaneConfig::from_options(&opts, lane as u32);
        tasks.push(tokio::spawn(exec::run_lane(
            cfg,
            http.clone(),
            per_lane_budget,
        )));
    }
    let mut outcomes = Vec::new();
    let mut setup_error = None;
    for t in tasks {
        match t.await {
            Ok(Ok(o)) => outcomes.push(o),
            Ok(Err(e)) => setup_error = Some(e),
            Err(join) => setup_error = Some(ExecError::Internal(join.to_string())),
        }
    }
    if outcomes.is_empty()
        && let Some(e) = setup_error
    {
        return Err(FuzzError::Setup(e));
    }
    let fuzz_elapsed = started.elapsed();
    let mut report = FuzzReport::new(&opts, fuzz_elapsed, &outcomes);
    if let Some(e) = setup_error {
        report.notes.push(format!("a lane failed to start: {e}"));
    }
    // One reproducer per distinct (invariant, clause): the first found, shrunk.
    let mut saved = std::collections::BTreeSet::new();
    for o in &outcomes {
        for v in &o.violations {
            let key = (v.violation.invariant, v.violation.clause.clone());
            if !saved.insert(key) {
                report.count_duplicate(&v.violation);
                continue;
            }
            let repro = Reproducer::new(&opts, o.lane, o.agents, v);
            let shrunk = shrink::shrink(&opts, &http, repro).await;
            let path = opts.out_dir.join(format!(
                "violation-{:02}-{}.json",
                saved.len(),
                v.violation.invariant.name()
            ));
            shrunk.save(&path).map_err(|source| FuzzError::Io {
                path: path.display().to_string(),
                source,
            })?;
            report.add_violation(&shrunk, &path);
        }
    }
    report.total_elapsed = started.elapsed();
    let rp = opts.out_dir.join("report.json");
    report.save(&rp).map_err(|source| FuzzError::Io {
        path: rp.display().to_string(),
        source,
    })?;
    Ok(report)
}

/// What replaying a reproducer showed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplayResult {
    /// The reproducer's invariant (and clause) was violated again.
    pub reproduced: bool,
    pub invariant: Invariant,
    pub clause: Option<String>,
    /// Every violation seen during the replay.
    pub violations: Vec<Violation>,
    pub requests: u64,
}

/// Replay a saved reproducer against `base_url` (fresh agents, same keys and operations).
pub async fn replay(file: &Path, base_url: &str) -> Result<ReplayResult, FuzzError> {
    replay_with(file, base_url, false).await
}

/// [`replay`], with `allow_remote` for non-loopback targets.
pub async fn replay_with(
    file: &Path,
    base_url: &str,
    allow_remote: bool,
) -> Result<ReplayResult, FuzzError> {
    check_target(base_url, allow_remote)?;
    let repro = Reproducer::load(file).map_err(|reason| FuzzError::BadReproducer {
        path: file.display().to_string(),
        reason,
    })?;
    let http = exec::lane_http(Duration::from_millis(repro.request_timeout_ms.max(100)))?;
    let out = shrink::replay_ops(&repro, &http, base_url, &repro.operations).await?;
    let reproduced = out.violations.iter().any(|v| repro.matches(v));
    Ok(ReplayResult {
        reproduced,
        invariant: repro.invariant,
        clause: repro.clause.clone(),
        violations: out.violations,
        requests: out.requests,
    })
}
