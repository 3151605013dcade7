//! State shared by all cases of one run: options, HTTP client, redactor, the agents to clean
//! up, the prerequisite probes and the findings.

use crate::facts::{ProbeRecord, Probes};
use crate::options::RunOptions;
use crate::prereq::Prereq;
use amp_client::{Http, Redactor, Secret, WsConfig};
use amp_core::signing::SecretKey;
use futures_util::future::BoxFuture;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::any::{Any, TypeId};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The address recorded for a registration whose answer named none.
pub(crate) const UNKNOWN_ADDRESS: &str = "<unknown address>";

/// Runs the probe for one prerequisite (`crate::probe::run`, injected by the session so this
/// module does not depend on the probes, which depend on the context).
pub(crate) type ProbeFn = fn(Arc<RunShared>, Prereq) -> BoxFuture<'static, ProbeRecord>;

/// An agent created during the run, to be deregistered at the end. Tracked until then even
/// when a case rotated or revoked its key: cleanup tries every credential it learnt, newest
/// first, and a leftover names the agent when none works.
#[derive(Debug, Clone)]
pub(crate) struct Created {
    pub address: String,
    /// Every API key the agent was given (registration, rotations), oldest first.
    pub keys: Vec<Secret>,
    pub case_id: String,
    /// A case said it revoked the key (`Ctx::forget_agent`).
    pub revoked: bool,
    /// The registration got no answer (why): the agent may exist, and no key is known.
    pub unanswered: Option<String>,
}

impl Created {
    fn holds(&self, key: &Secret) -> bool {
        self.keys.iter().any(|k| k == key)
    }
}
/// State shared by all cases of one run.
pub(crate) struct RunShared {
    pub opts: RunOptions,
    pub http: Http,
    pub redactor: Redactor,
    pub run_id: String,
    pub seed: u64,
    pub counter: AtomicU64,
    pub info: Option<Value>,
    /// `/info.capabilities` (empty without `/info`).
    pub caps: Vec<String>,
    pub created: Mutex<Vec<Created>>,
    pub ws: WsConfig,
    pub probes: Probes,
    pub prober: ProbeFn,
    pub findings: Mutex<BTreeMap<String, FindingRec>>,
    /// Values shared by all cases of the run (`Ctx::run_scoped`), one per type; dropped with
    /// the run.
    pub scoped: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

/// A run-level finding: every case reporting the same key is one root cause.
#[derive(Debug, Clone)]
pub(crate) struct FindingRec {
    pub clause: &'static str,
    pub summary: String,
    pub cases: BTreeSet<String>,
}

impl RunShared {
    /// Run the probe for `p` unless it ran already (concurrent callers wait for the first);
    /// returns its record.
    pub(crate) async fn establish(self: &Arc<Self>, p: Prereq) -> &ProbeRecord {
        let run = self.prober;
        self.probes
            .cell(p)
            .get_or_init(|| run(self.clone(), p))
            .await
    }

    fn created(&self) -> std::sync::MutexGuard<'_, Vec<Created>> {
        match self.created.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Track a new agent (once per key). A registration answered with the address of an agent
    /// already tracked (a re-registration of the same name) adds a key to that agent: one
    /// agent, one cleanup, whichever of its keys still works.
    pub(crate) fn track(&self, address: String, key: Secret, case_id: &str) {
        let mut c = self.created();
        if c.iter().any(|x| x.holds(&key)) {
            return;
        }
        let known = address != UNKNOWN_ADDRESS;
        if let Some(x) = c
            .iter_mut()
            .find(|x| known && x.unanswered.is_none() && x.address == address)
        {
            x.keys.push(key);
        } else {
            c.push(Created {
                address,
                keys: vec![key],
                case_id: case_id.to_string(),
                revoked: false,
                unanswered: None,
            });
        }
    }

    /// A registration that got no answer (`why`): the agent may exist without the run holding a
    /// key for it.
    pub(crate) fn track_unanswered(&self, name: String, why: &str, case_id: &str) {
        self.created().push(Created {
            address: name,
            keys: Vec::new(),
            case_id: case_id.to_string(),
            revoked: false,
            unanswered: Some(why.to_string()),
        });
    }

    /// `new` is a further key of the agent that holds `old` (a rotation).
    pub(crate) fn add_key(&self, old: &Secret, new: &Secret) {
        self.redactor.add_secret("api_key", new);
        for x in self.created().iter_mut().filter(|x| x.holds(old)) {
            if !x.holds(new) {
                x.keys.push(new.clone());
            }
        }
    }

    /// The agent holding `key` was deregistered: nothing left to clean up.
    pub(crate) fn untrack(&self, key: &Secret) {
        self.created().retain(|x| !x.holds(key));
    }

    /// A case revoked `key`: cleanup still tries every key of the agent.
    pub(crate) fn mark_revoked(&self, key: &Secret) {
        for x in self.created().iter_mut().filter(|x| x.holds(key)) {
            x.revoked = true;
        }
    }

    /// What cleanup must still deregister.
    pub(crate) fn tracked(&self) -> Vec<Created> {
        self.created().clone()
    }

    /// Record finding `key` (the first summary wins), attributed to `case` if given.
    pub(crate) fn record_finding(
        &self,
        key: &str,
        clause: &'static str,
        summary: &str,
        case: Option<&str>,
    ) {
        let mut m = match self.findings.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let rec = m.entry(key.to_string()).or_insert_with(|| FindingRec {
            clause,
            summary: self.redactor.redact(summary),
            cases: BTreeSet::new(),
        });
        if let Some(c) = case.filter(|c| !c.starts_with("probe.")) {
            rec.cases.insert(c.to_string());
        }
    }

    pub(crate) fn next_n(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// A key derived from the run seed and a counter: deterministic under `--seed`.
    pub(crate) fn derive_key(&self, n: u64) -> SecretKey {
        let mut h = Sha256::new();
        h.update(b"amp-conformance agent key");
        h.update(self.seed.to_be_bytes());
        h.update(n.to_be_bytes());
        let seed: [u8; 32] = h.finalize().into();
        SecretKey::from_seed(seed)
    }

    pub(crate) fn tenant(&self) -> String {
        self.opts
            .tenant
            .clone()
            .unwrap_or_else(|| format!("ampc{}", self.run_id))
    }
}

pub(crate) fn info_capabilities(info: Option<&Value>) -> Vec<String> {
    amp_core::json::str_items(info.and_then(|v| v.get("capabilities")))
        .map(str::to_string)
        .collect()
}
