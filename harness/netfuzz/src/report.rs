//! Reproducer files and the run report (JSON, in the style of the suite reports: tool, target,
//! options, counts, findings with clause ids).

use crate::exec::{FoundViolation, LaneOutcome};
use crate::ops::Op;
use crate::oracle::{Invariant, Violation};
use crate::{Budget, FuzzOptions};
use amp_core::PayloadProfile;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// Format tag of reproducer files.
pub const REPRODUCER_FORMAT: &str = "amp-netfuzz/reproducer/v1";
/// Largest reproducer file [`Reproducer::load`] reads.
pub const MAX_REPRODUCER_BYTES: u64 = 64 * 1024 * 1024;

/// A saved violation: everything needed to replay it against a fresh target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reproducer {
    pub format: String,
    pub seed: u64,
    pub lane: u32,
    /// Agents the lane registers (keys derive from seed and lane).
    pub agents: u8,
    /// Payload profile name (`sorted`, `jcs`, ...).
    pub profile: String,
    pub tenant: String,
    pub request_timeout_ms: u64,
    pub invariant: Invariant,
    pub clause: Option<String>,
    pub description: String,
    pub detail: String,
    /// Operations before shrinking.
    pub original_operations: usize,
    pub shrink_attempts: usize,
    /// The violation reproduced when replayed (false: timing-dependent, saved unshrunk).
    pub replays: bool,
    pub operations: Vec<Op>,
}

impl Reproducer {
    pub fn new(opts: &FuzzOptions, lane: u32, agents: u8, found: &FoundViolation) -> Reproducer {
        let v = &found.violation;
        Reproducer {
            format: REPRODUCER_FORMAT.to_string(),
            seed: opts.seed,
            lane,
            agents,
            profile: opts.profile.name().to_string(),
            tenant: opts.tenant.clone(),
            request_timeout_ms: u64::try_from(opts.request_timeout.as_millis()).unwrap_or(u64::MAX),
            invariant: v.invariant,
            clause: v.clause.clone(),
            description: v.invariant.description().to_string(),
            detail: v.detail.clone(),
            original_operations: found.ops.len(),
            shrink_attempts: 0,
            replays: false,
            operations: found.ops.clone(),
        }
    }

    pub fn profile(&self) -> PayloadProfile {
        PayloadProfile::from_str(&self.profile).unwrap_or_default()
    }

    /// Same invariant and clause.
    pub fn matches(&self, v: &Violation) -> bool {
        v.invariant == self.invariant && v.clause == self.clause
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text + "\n")
    }

    /// Read a reproducer (size-capped); the error says what is wrong.
    pub fn load(path: &Path) -> Result<Reproducer, String> {
        use std::io::Read;
        let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let mut bytes = Vec::new();
        f.take(MAX_REPRODUCER_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| e.to_string())?;
        if bytes.len() as u64 > MAX_REPRODUCER_BYTES {
            return Err(format!("file is larger than {MAX_REPRODUCER_BYTES} bytes"));
        }
        let r: Reproducer =
            serde_json::from_slice(&bytes).map_err(|e| format!("not a reproducer: {e}"))?;
        if r.format != REPRODUCER_FORMAT {
            return Err(format!(
                "format is `{}`, expected `{REPRODUCER_FORMAT}`",
                r.format
            ));
        }
        if r.agents == 0 {
            return Err("`agents` must be at least 1".into());
        }
        Ok(r)
    }
}

/// One finding in the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ViolationSummary {
    pub invariant: Invariant,
    pub clause: Option<String>,
    pub description: String,
    pub detail: String,
    pub reproducer: String,
    pub operations_before_shrink: usize,
    pub operations_after_shrink: usize,
    pub replays: bool,
    /// Further occurrences of the same invariant and clause in other lanes.
    pub duplicates: u64,
}

/// The run report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FuzzReport {
    pub tool: String,
    pub version: String,
    pub target: String,
    pub seed: u64,
    pub profile: String,
    pub budget: Budget,
    pub lanes: usize,
    pub agents: u64,
    pub operations: u64,
    /// HTTP requests plus WebSocket frames sent.
    pub requests: u64,
    pub ws_frames: u64,
    pub rate_limited: u64,
    #[serde(with = "secs")]
    pub fuzz_elapsed: Duration,
    #[serde(with = "secs")]
    pub total_elapsed: Duration,
    pub requests_per_second: f64,
    pub statuses: BTreeMap<u16, u64>,
    pub operations_by_kind: BTreeMap<String, u64>,
    /// Every violation seen, by invariant name (including repeats).
    pub violation_counts: BTreeMap<String, u64>,
    pub violations: Vec<ViolationSummary>,
    pub notes: Vec<String>,
}

mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let f = f64::deserialize(d)?;
        Ok(Duration::try_from_secs_f64(f).unwrap_or_default())
    }
}

impl FuzzReport {
    pub fn new(opts: &FuzzOptions, elapsed: Duration, lanes: &[LaneOutcome]) -> FuzzReport {
        let mut r = FuzzReport {
            tool: "amp-netfuzz".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            target: opts.base_url.clone(),
            seed: opts.seed,
            profile: opts.profile.name().into(),
            budget: opts.budget,
            lanes: lanes.len(),
            agents: 0,
            operations: 0,
            requests: 0,
            ws_frames: 0,
            rate_limited: 0,
            fuzz_elapsed: elapsed,
            total_elapsed: elapsed,
            requests_per_second: 0.0,
            statuses: BTreeMap::new(),
            operations_by_kind: BTreeMap::new(),
            violation_counts: BTreeMap::new(),
            violations: Vec::new(),
            notes: Vec::new(),
        };
        for l in lanes {
            r.agents += u64::from(l.agents);
            r.operations += l.operations;
            r.requests += l.requests;
            r.ws_frames += l.ws_frames;
            r.rate_limited += l.rate_limited;
            for (k, n) in &l.statuses {
                *r.statuses.entry(*k).or_default() += n;
            }
            for (k, n) in &l.ops_by_kind {
                *r.operations_by_kind.entry((*k).to_string()).or_default() += n;
            }
            for (k, n) in &l.violation_counts {
                *r.violation_counts.entry(k.clone()).or_default() += n;
            }
        }
        let secs = elapsed.as_secs_f64();
        r.requests_per_second = if secs > 0.0 {
            (r.requests as f64 / secs * 10.0).round() / 10.0
        } else {
            0.0
        };
        r
    }

    pub fn add_violation(&mut self, repro: &Reproducer, path: &Path) {
        self.violations.push(ViolationSummary {
            invariant: repro.invariant,
            clause: repro.clause.clone(),
            description: repro.description.clone(),
            detail: repro.detail.clone(),
            reproducer: path.display().to_string(),
            operations_before_shrink: repro.original_operations,
            operations_after_shrink: repro.operations.len(),
            replays: repro.replays,
            duplicates: 0,
        });
    }

    pub fn count_duplicate(&mut self, v: &Violation) {
        if let Some(s) = self
            .violations
            .iter_mut()
            .find(|s| s.invariant == v.invariant && s.clause == v.clause)
        {
            s.duplicates += 1;
        }
    }

    /// True when nothing was found.
    pub fn clean(&self) -> bool {
        self.violations.is_empty()
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text + "\n")
    }

    /// Terminal summary, ending in a `N violations` line.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "amp-netfuzz seed {} against {}: {} requests ({} WebSocket frames) in {:.1} s, {:.0} req/s, {} lanes\n",
            self.seed,
            self.target,
            self.requests,
            self.ws_frames,
            self.fuzz_elapsed.as_secs_f64(),
            self.requests_per_second,
            self.lanes
        );
        for v in &self.violations {
            s.push_str(&format!(
                "  VIOLATION {} [{}]: {}\n    reproducer {} ({} → {} ops{})\n",
                v.invariant.name(),
                v.clause.as_deref().unwrap_or("-"),
                v.detail,
                v.reproducer,
                v.operations_before_shrink,
                v.operations_after_shrink,
                if v.replays { "" } else { ", did not replay" }
            ));
        }
        s.push_str(&format!("{} violations\n", self.violations.len()));
        s
    }
}
