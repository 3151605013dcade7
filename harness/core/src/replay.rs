//! Replay protection decisions (REPLAY-001..005, C-45, C-74).
//!
//! [`decide`] is the pure rule; [`ReplayCache`] adds the "seen ids" memory a recipient keeps.
//! Both take `now` as a parameter so tests and fuzzers control time.

use sha2::Digest as _;
use std::collections::{BTreeMap, HashMap};

/// Replay limits. Defaults follow the spec: ids remembered 24 h (REPLAY-001), timestamps older
/// than 5 min rejected (REPLAY-002), more than 60 s in the future rejected (REPLAY-003).
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

/// What a replay decision looks at, all times in unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayInput<'a> {
    pub id: &'a str,
    /// The envelope `timestamp` (sender's clock).
    pub timestamp: i64,
    /// When a relay queue took the message; when present it is "the relevant time" for the
    /// staleness rule (REPLAY-002, C-45).
    pub queued_at: Option<i64>,
    /// The envelope `expires_at`, if any.
    pub expires_at: Option<i64>,
}

/// The outcome for one incoming message. `Stale`/`Future` carry the measured distance so reports
/// can say by how much a window was missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayDecision {
    Accept,
    /// The id was seen within the dedup window (REPLAY-001, REPLAY-005).
    Duplicate,
    /// Older than `max_age_secs` (REPLAY-002).
    Stale {
        age_secs: i64,
    },
    /// More than `future_tolerance_secs` ahead (REPLAY-003, `400 timestamp_future`).
    Future {
        ahead_secs: i64,
    },
    /// `expires_at` has passed.
    Expired,
}

impl ReplayDecision {
    pub fn is_accept(self) -> bool {
        self == ReplayDecision::Accept
    }

    /// The catalogue clause behind a rejection, for reports.
    pub fn rule(self) -> Option<&'static str> {
        match self {
            ReplayDecision::Accept => None,
            ReplayDecision::Duplicate => Some("REPLAY-001"),
            ReplayDecision::Stale { .. } => Some("REPLAY-002"),
            ReplayDecision::Future { .. } => Some("REPLAY-003"),
            ReplayDecision::Expired => Some("MSG-expires_at"),
        }
    }
}

/// Decide whether to accept a message.
///
/// Checks run in a fixed order so that one input always yields one answer: expired (a message
/// whose `expires_at` is at or before `now` is dead whatever else holds), duplicate, future,
/// stale. Staleness is measured from `queued_at` when present, else from `timestamp` (C-45).
/// A distance exactly equal to a limit is still accepted: the spec rejects only "older than" and
/// "more than".
pub fn decide(
    policy: &ReplayPolicy,
    input: &ReplayInput,
    now: i64,
    seen_before: bool,
) -> ReplayDecision {
    if input.expires_at.is_some_and(|e| e <= now) {
        return ReplayDecision::Expired;
    }
    if seen_before {
        return ReplayDecision::Duplicate;
    }
    let ahead = input.timestamp.saturating_sub(now);
    if ahead > policy.future_tolerance_secs {
        return ReplayDecision::Future { ahead_secs: ahead };
    }
    let reference = input.queued_at.unwrap_or(input.timestamp);
    let age = now.saturating_sub(reference);
    if age > policy.max_age_secs {
        return ReplayDecision::Stale { age_secs: age };
    }
    ReplayDecision::Accept
}

/// Ids up to this many bytes are stored verbatim; longer (hostile) ids are stored as their
/// SHA-256 so one entry never costs more than about this much key memory.
const MAX_STORED_ID_BYTES: usize = 128;

/// The stored form of an id: a tag byte keeps verbatim ids and digests from ever colliding.
fn stored_key(id: &str) -> Box<[u8]> {
    let mut key = Vec::with_capacity(MAX_STORED_ID_BYTES.min(id.len()) + 1);
    if id.len() <= MAX_STORED_ID_BYTES {
        key.push(0);
        key.extend_from_slice(id.as_bytes());
    } else {
        key.push(1);
        key.extend_from_slice(&sha2::Sha256::digest(id.as_bytes()));
    }
    key.into_boxed_slice()
}

/// Seen-id memory with a hard bound on entries.
///
/// Each accepted id is remembered until `max(now + dedup_window_secs, expires_at)` (REPLAY-001:
/// at least 24 h and at least the message's lifetime). Memory is bounded by `capacity` entries of
/// at most ~128 key bytes each. When full, the entry that would be forgotten soonest is evicted
/// first; every eviction weakens the dedup guarantee, so the count is exposed through
/// [`ReplayCache::evicted`] for reports. Only accepted messages are recorded, so a rejected
/// (stale, future, expired) delivery does not poison a later legitimate retry with the same id.
#[derive(Debug, Clone)]
pub struct ReplayCache {
    policy: ReplayPolicy,
    capacity: usize,
    /// id → (forget_at, seq)
    entries: HashMap<Box<[u8]>, (i64, u64)>,
    /// (forget_at, seq) → id, for pruning and eviction in expiry order.
    by_expiry: BTreeMap<(i64, u64), Box<[u8]>>,
    next_seq: u64,
    evicted: u64,
}

impl ReplayCache {
    /// Default bound on remembered ids.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    pub fn new(policy: ReplayPolicy) -> ReplayCache {
        ReplayCache::with_capacity(policy, ReplayCache::DEFAULT_CAPACITY)
    }

    /// A cache holding at most `capacity` ids (at least 1).
    pub fn with_capacity(policy: ReplayPolicy, capacity: usize) -> ReplayCache {
        ReplayCache {
            policy,
            capacity: capacity.max(1),
            entries: HashMap::new(),
            by_expiry: BTreeMap::new(),
            next_seq: 0,
            evicted: 0,
        }
    }

    pub fn policy(&self) -> &ReplayPolicy {
        &self.policy
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many ids were forgotten early because the cache was full.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Whether `id` is remembered at `now` (without recording anything).
    pub fn contains(&self, id: &str, now: i64) -> bool {
        self.entries
            .get(&stored_key(id))
            .is_some_and(|&(forget_at, _)| forget_at > now)
    }

    /// Decide for `input` and, when accepted, remember its id.
    pub fn check_and_record(&mut self, input: &ReplayInput, now: i64) -> ReplayDecision {
        self.prune(now);
        let key = stored_key(input.id);
        let seen = self
            .entries
            .get(&key)
            .is_some_and(|&(forget_at, _)| forget_at > now);
        let decision = decide(&self.policy, input, now, seen);
        if decision.is_accept() {
            let forget_at = now
                .saturating_add(self.policy.dedup_window_secs)
                .max(input.expires_at.unwrap_or(i64::MIN));
            self.insert(key, forget_at);
        }
        decision
    }

    fn insert(&mut self, key: Box<[u8]>, forget_at: i64) {
        if let Some(old) = self.entries.remove(&key) {
            self.by_expiry.remove(&old);
        }
        while self.entries.len() >= self.capacity {
            match self.by_expiry.pop_first() {
                Some((_, victim)) => {
                    self.entries.remove(&victim);
                    self.evicted += 1;
                }
                None => break,
            }
        }
        let slot = (forget_at, self.next_seq);
        self.next_seq = self.next_seq.wrapping_add(1);
        self.by_expiry.insert(slot, key.clone());
        self.entries.insert(key, slot);
    }

    /// Forget every id whose retention ended at or before `now`.
    pub fn prune(&mut self, now: i64) {
        while let Some(entry) = self.by_expiry.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let victim = entry.remove();
            self.entries.remove(&victim);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_767_225_600;

    fn input(id: &str, timestamp: i64) -> ReplayInput<'_> {
        ReplayInput {
            id,
            timestamp,
            queued_at: None,
            expires_at: None,
        }
    }

    #[test]
    fn decision_table() {
        let p = ReplayPolicy::default();
        use ReplayDecision::*;
        let rows: Vec<(&str, ReplayInput, bool, ReplayDecision)> = vec![
            ("fresh", input("a", NOW), false, Accept),
            ("at max age", input("a", NOW - 300), false, Accept),
            (
                "just stale",
                input("a", NOW - 301),
                false,
                Stale { age_secs: 301 },
            ),
            (
                "hour old",
                input("a", NOW - 3600),
                false,
                Stale { age_secs: 3600 },
            ),
            ("at future limit", input("a", NOW + 60), false, Accept),
            (
                "just future",
                input("a", NOW + 61),
                false,
                Future { ahead_secs: 61 },
            ),
            ("duplicate", input("a", NOW), true, Duplicate),
            // Duplicate is reported before the clock checks.
            (
                "duplicate and stale",
                input("a", NOW - 3600),
                true,
                Duplicate,
            ),
            (
                "duplicate and future",
                input("a", NOW + 3600),
                true,
                Duplicate,
            ),
            // Relay queue: staleness counts from queued_at (C-45).
            (
                "old but recently queued",
                ReplayInput {
                    queued_at: Some(NOW - 10),
                    ..input("a", NOW - 7200)
                },
                false,
                Accept,
            ),
            (
                "queued long ago",
                ReplayInput {
                    queued_at: Some(NOW - 400),
                    ..input("a", NOW - 400)
                },
                false,
                Stale { age_secs: 400 },
            ),
            (
                "future even when queued",
                ReplayInput {
                    queued_at: Some(NOW),
                    ..input("a", NOW + 120)
                },
                false,
                Future { ahead_secs: 120 },
            ),
            // Expiry wins over everything.
            (
                "expired",
                ReplayInput {
                    expires_at: Some(NOW),
                    ..input("a", NOW)
                },
                false,
                Expired,
            ),
            (
                "expired duplicate",
                ReplayInput {
                    expires_at: Some(NOW - 1),
                    ..input("a", NOW + 3600)
                },
                true,
                Expired,
            ),
            (
                "not yet expired",
                ReplayInput {
                    expires_at: Some(NOW + 1),
                    ..input("a", NOW)
                },
                false,
                Accept,
            ),
            (
                "extreme past",
                input("a", i64::MIN),
                false,
                Stale { age_secs: i64::MAX },
            ),
            (
                "extreme future",
                input("a", i64::MAX),
                false,
                Future {
                    ahead_secs: i64::MAX - NOW,
                },
            ),
        ];
        for (name, inp, seen, want) in rows {
            assert_eq!(decide(&p, &inp, NOW, seen), want, "{name}");
        }
    }

    #[test]
    fn rules_named() {
        assert_eq!(ReplayDecision::Accept.rule(), None);
        assert_eq!(ReplayDecision::Duplicate.rule(), Some("REPLAY-001"));
        assert_eq!(
            ReplayDecision::Future { ahead_secs: 1 }.rule(),
            Some("REPLAY-003")
        );
    }

    #[test]
    fn cache_detects_duplicates_within_window_only() {
        let mut c = ReplayCache::new(ReplayPolicy::default());
        assert_eq!(
            c.check_and_record(&input("m1", NOW), NOW),
            ReplayDecision::Accept
        );
        assert_eq!(
            c.check_and_record(&input("m1", NOW), NOW + 1),
            ReplayDecision::Duplicate
        );
        assert_eq!(
            c.check_and_record(&input("m2", NOW), NOW + 1),
            ReplayDecision::Accept
        );
        assert!(c.contains("m1", NOW + 86_399));
        assert!(!c.contains("m1", NOW + 86_400));
        // After the window the id is forgotten (a fresh timestamp is needed to pass the age check).
        let later = NOW + 86_400;
        assert_eq!(
            c.check_and_record(&input("m1", later), later),
            ReplayDecision::Accept
        );
        // m2 was recorded one second after m1, so it is still remembered.
        assert!(c.contains("m2", later));
        assert_eq!(c.len(), 2);
        assert!(!c.contains("m2", later + 1));
    }

    #[test]
    fn retention_covers_message_ttl() {
        let policy = ReplayPolicy {
            dedup_window_secs: 100,
            ..ReplayPolicy::default()
        };
        let mut c = ReplayCache::new(policy);
        let long_lived = ReplayInput {
            expires_at: Some(NOW + 1000),
            ..input("m", NOW)
        };
        assert_eq!(c.check_and_record(&long_lived, NOW), ReplayDecision::Accept);
        // Past the dedup window but before expiry: still a duplicate (REPLAY-001 max(24h, TTL)).
        let replay = ReplayInput {
            queued_at: Some(NOW + 500),
            ..long_lived
        };
        assert_eq!(
            c.check_and_record(&replay, NOW + 500),
            ReplayDecision::Duplicate
        );
    }

    #[test]
    fn rejected_messages_are_not_recorded() {
        let mut c = ReplayCache::new(ReplayPolicy::default());
        assert!(matches!(
            c.check_and_record(&input("m", NOW + 600), NOW),
            ReplayDecision::Future { .. }
        ));
        assert!(c.is_empty());
        assert_eq!(
            c.check_and_record(&input("m", NOW), NOW),
            ReplayDecision::Accept
        );
    }

    #[test]
    fn memory_is_bounded() {
        let mut c = ReplayCache::with_capacity(ReplayPolicy::default(), 1000);
        for i in 0..5000 {
            let id = format!("msg_{i}");
            assert_eq!(
                c.check_and_record(&input(&id, NOW), NOW),
                ReplayDecision::Accept
            );
            assert!(c.len() <= 1000);
        }
        assert_eq!(c.len(), 1000);
        assert_eq!(c.evicted(), 4000);
        // The oldest were evicted first (equal expiry, insertion order breaks ties).
        assert!(!c.contains("msg_0", NOW) && c.contains("msg_4999", NOW));
        assert_eq!(
            c.check_and_record(&input("msg_4999", NOW), NOW),
            ReplayDecision::Duplicate
        );
        // Huge ids cost a bounded key, and still deduplicate.
        let huge = "x".repeat(1 << 20);
        assert_eq!(
            c.check_and_record(&input(&huge, NOW), NOW),
            ReplayDecision::Accept
        );
        assert_eq!(
            c.check_and_record(&input(&huge, NOW), NOW),
            ReplayDecision::Duplicate
        );
        assert!(c.entries.keys().all(|k| k.len() <= MAX_STORED_ID_BYTES + 1));
        let mut other = huge.clone();
        other.push('y');
        assert_eq!(
            c.check_and_record(&input(&other, NOW), NOW),
            ReplayDecision::Accept
        );
        assert_eq!(
            ReplayCache::with_capacity(ReplayPolicy::default(), 0).capacity(),
            1
        );
    }

    #[test]
    fn prune_forgets_expired_entries() {
        let mut c = ReplayCache::new(ReplayPolicy {
            dedup_window_secs: 10,
            ..Default::default()
        });
        for (i, t) in [0, 5, 20].iter().enumerate() {
            let id = format!("m{i}");
            c.check_and_record(&input(&id, NOW + t), NOW + t);
        }
        // m0 (forget at +10) and m1 (+15) were pruned when m2 arrived at +20.
        assert_eq!(c.len(), 1);
        assert!(c.contains("m2", NOW + 29));
        c.prune(NOW + 29);
        assert_eq!(c.len(), 1);
        c.prune(NOW + 30);
        assert!(c.is_empty());
        assert_eq!(c.evicted(), 0);
    }

    proptest! {
        #[test]
        fn cache_invariants(ops in proptest::collection::vec((0u8..20, -400i64..400, 0i64..200), 1..300), cap in 1usize..16) {
            let mut c = ReplayCache::with_capacity(ReplayPolicy::default(), cap);
            let mut now = NOW;
            for (id, skew, step) in ops {
                now += step;
                let id = format!("m{id}");
                let was = c.contains(&id, now);
                let d = c.check_and_record(&input(&id, now + skew), now);
                prop_assert!(c.len() <= cap);
                prop_assert_eq!(c.entries.len(), c.by_expiry.len());
                if was {
                    prop_assert_eq!(d, ReplayDecision::Duplicate);
                }
                if d.is_accept() {
                    prop_assert!(c.contains(&id, now));
                }
            }
        }

        #[test]
        fn decide_never_panics(ts in any::<i64>(), q in any::<Option<i64>>(), e in any::<Option<i64>>(), now in any::<i64>(), seen in any::<bool>(),
                               a in any::<i64>(), b in any::<i64>(), d in any::<i64>()) {
            let p = ReplayPolicy { dedup_window_secs: d, max_age_secs: a, future_tolerance_secs: b };
            let inp = ReplayInput { id: "x", timestamp: ts, queued_at: q, expires_at: e };
            let _ = decide(&p, &inp, now, seen);
            let mut c = ReplayCache::with_capacity(p, 4);
            let _ = c.check_and_record(&inp, now);
            let _ = c.check_and_record(&inp, now);
        }
    }
}
