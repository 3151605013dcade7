//! Replay protection decisions (REPLAY-001..005, C-45, C-74).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayPolicy {
    pub dedup_window_secs: i64,
    pub max_age_secs: i64,
    pub future_tolerance_secs: i64,
}

impl Default for ReplayPolicy {
    fn default() -> Self {
        ReplayPolicy {
            dedup_window_secs: 86_400,
            max_age_secs: 300,
            future_tolerance_secs: 60,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayInput<'a> {
    pub id: &'a str,
    pub timestamp: i64,
    pub queued_at: Option<i64>,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayDecision {
    Accept,
    Duplicate,
    Stale { age_secs: i64 },
    Future { ahead_secs: i64 },
    Expired,
}

pub fn decide(
    _policy: &ReplayPolicy,
    _input: &ReplayInput,
    _now: i64,
    _seen_before: bool,
) -> ReplayDecision {
    todo!()
}

#[derive(Debug, Clone)]
pub struct ReplayCache {
    policy: ReplayPolicy,
}

impl ReplayCache {
    pub fn new(policy: ReplayPolicy) -> ReplayCache {
        ReplayCache { policy }
    }
    pub fn policy(&self) -> &ReplayPolicy {
        &self.policy
    }
    pub fn check_and_record(&mut self, _input: &ReplayInput, _now: i64) -> ReplayDecision {
        todo!()
    }
    pub fn prune(&mut self, _now: i64) {
        todo!()
    }
}
