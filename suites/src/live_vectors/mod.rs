//! Live vector trials: every vector a provider's behaviour can reveal becomes a case of `run`.
//!
//! The vector files (`vectors/*.json`, crate amp-vectors) state what the pure protocol
//! functions compute. Here each case of a live kind ([`amp_vectors::Kind::runs_live`]) is
//! turned into a trial `vector.<kind>.<case-id>` with the case's clauses, a level from its
//! primary clause and one shared async function that finds its vector by
//! [`Ctx::case_id`] in a registry and runs the kind's trial (one module per kind). The trials
//! are ordinary [`Case`]s, so selection (`--run 'vector.payload_hash.*'`), expected failures,
//! reports and the selftest treat them like any other case.
//!
//! How each kind runs live is described in `vectors/README.md`; the shared machinery:
//! - [`pool`]: the agents trials borrow (created once per run, lazily) and batched pickups;
//! - [`wire`]: route bodies written as raw JSON text, so a vector's payload reaches the
//!   provider byte for byte (key order, number text);
//! - [`verdict`]: how a deviation from a vector is graded (a fail of its primary clause, or a
//!   warning citing the contradiction record it names);
//! - [`mapping`]: moving an address vector onto the target's domain and the run's tenants,
//!   checked with amp-core's routing decision so the mapping cannot change the vector's point.
//!
//! A trial whose prerequisite is unavailable (a registration refused, a delivery that cannot
//! be observed) does not fail its clause: it is `blocked` (`Failure::Blocked`), and a vector
//! that cannot be carried to the target without changing its meaning is skipped as `not
//! judged`.

mod address;
mod canonical_string;
mod federation;
mod mapping;
mod payload_hash;
mod pool;
mod routing;
mod signature;
mod sigtext;
mod verdict;
mod webhook_hmac;
mod wire;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use amp_catalogue::Catalogue;
use amp_runner::{BoxFuture, Case, CaseResult, Ctx, Failure, Level, Need, Prereq};
use amp_vectors::{Kind, Live, VectorFile};

/// One live trial: a case of a vector file.
pub(crate) struct Trial {
    pub file: Arc<VectorFile>,
    pub index: usize,
    /// The trial's clauses: requirements first, then contradiction records.
    pub clauses: &'static [&'static str],
}

impl Trial {
    pub fn case(&self) -> &amp_vectors::Case {
        &self.file.cases[self.index]
    }

    pub fn kind(&self) -> Kind {
        self.file.kind
    }

    /// `<file-stem>::<case-id>`, as the core vector runner names it.
    pub fn name(&self) -> String {
        self.file.trial_name(self.case())
    }

    /// The string input field `k` (a malformed vector is a harness error, not a verdict).
    pub fn input_str(&self, k: &str) -> Result<&str, Failure> {
        self.case()
            .input
            .get(k)
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| Failure::Error(format!("{}: input `{k}` is not a string", self.name())))
    }

    /// The raw JSON text of input field `k`.
    pub fn input_raw(&self, k: &str) -> Result<&str, Failure> {
        self.case()
            .raw(k)
            .ok_or_else(|| Failure::Error(format!("{}: input `{k}` is missing", self.name())))
    }

    /// The string expected field `k`, or `""`.
    pub fn expected_str(&self, k: &str) -> &str {
        self.case()
            .expected
            .get(k)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
    }
}

/// The trial of case `index` of the embedded file of `kind` (for unit tests of the kinds).
#[cfg(test)]
pub(crate) fn corpus_trials(kind: Kind) -> Vec<Trial> {
    let files = amp_vectors::embedded().expect("corpus parses");
    let file = Arc::new(
        files
            .into_iter()
            .find(|f| f.kind == kind)
            .expect("a file of the kind"),
    );
    (0..file.cases.len())
        .map(|index| Trial {
            file: file.clone(),
            index,
            clauses: &["SIG-010"],
        })
        .collect()
}

type Registry = RwLock<HashMap<&'static str, Arc<Trial>>>;

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(Registry::default)
}

fn lookup(id: &str) -> Option<Arc<Trial>> {
    registry().read().ok()?.get(id).cloned()
}

/// The trial id of a vector case: `vector.<kind>.<case-id>`.
pub fn trial_id(kind: Kind, case_id: &str) -> String {
    format!("vector.{kind}.{case_id}")
}

/// Is `id` a live vector trial (`vector.<kind>.<case-id>`)?
pub fn is_trial(id: &str) -> bool {
    id.starts_with("vector.")
}

/// Why a vector file's cases cannot become trials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrialError {
    #[error(
        "vector trial id `{0}` is defined twice (two files of one kind share a case id): rename one case"
    )]
    Duplicate(String),
    #[error("{file}::{case}: {reason}")]
    Unusable {
        file: String,
        case: String,
        reason: String,
    },
}

/// The trials of `files`: one per case of a live kind that is not marked core-only. Leaks each
/// trial's strings once (a case is static data); call it once per set of files.
pub fn trials(files: &[VectorFile]) -> Result<Vec<Case>, TrialError> {
    let catalogue = Catalogue::try_embedded().ok();
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for file in files {
        if !file.kind.runs_live() {
            continue;
        }
        let shared = Arc::new(file.clone());
        for (index, case) in file.cases.iter().enumerate() {
            if file.case_live(case) != Live::Runs {
                continue;
            }
            let id = trial_id(file.kind, &case.id);
            if !seen.insert(id.clone()) {
                return Err(TrialError::Duplicate(id));
            }
            let unusable = |reason: &str| TrialError::Unusable {
                file: file.stem().to_string(),
                case: case.id.clone(),
                reason: reason.to_string(),
            };
            let clauses = ordered_clauses(&case.clauses, catalogue);
            let primary = clauses
                .first()
                .ok_or_else(|| unusable("cites no requirement, only contradiction records"))?;
            let level = catalogue
                .and_then(|c| c.requirement(primary))
                .map_or(Level::Must, |r| runner_level(r.level));
            let id: &'static str = Box::leak(id.into_boxed_str());
            let clauses: &'static [&'static str] = Box::leak(
                clauses
                    .into_iter()
                    .map(|c| &*Box::leak(c.into_boxed_str()))
                    .collect::<Vec<&'static str>>()
                    .into_boxed_slice(),
            );
            let title: &'static str = Box::leak(case.description.clone().into_boxed_str());
            let expectation: &'static str =
                Box::leak(expectation(file.kind, case).into_boxed_str());
            if let Ok(mut r) = registry().write() {
                r.insert(
                    id,
                    Arc::new(Trial {
                        file: shared.clone(),
                        index,
                        clauses,
                    }),
                );
            }
            out.push(Case {
                id,
                title,
                clauses,
                level,
                needs: needs(file.kind),
                expectation,
                module: module_path!(),
                run: run_trial,
            });
        }
    }
    out.sort_by_key(|c| c.id);
    Ok(out)
}

/// The trials of the embedded corpus, built once per process.
pub fn embedded() -> &'static [Case] {
    static E: OnceLock<Vec<Case>> = OnceLock::new();
    E.get_or_init(|| {
        amp_vectors::embedded()
            .ok()
            .and_then(|files| trials(&files).ok())
            .unwrap_or_default()
    })
}

/// The vectors that run against amp-core only, with the reason: whole files first
/// (`fingerprint: …`), then single cases (`payload_hash::hash-002: …`).
pub fn core_only(files: &[VectorFile]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for file in files {
        if let Live::CoreOnly(why) = file.live() {
            out.push((
                format!("{} ({} cases)", file.stem(), file.cases.len()),
                why.to_string(),
            ));
            continue;
        }
        for case in &file.cases {
            if let Live::CoreOnly(why) = case.live() {
                out.push((file.trial_name(case), why.to_string()));
            }
        }
    }
    out
}

/// Requirement ids first (the first is the primary clause the verdict is about), then the
/// contradiction records, each group in the vector's order.
fn ordered_clauses(clauses: &[String], catalogue: Option<&Catalogue>) -> Vec<String> {
    let is_requirement = |c: &String| match catalogue {
        Some(cat) => cat.requirement(c).is_some(),
        None => !c.starts_with("C-"),
    };
    let mut v: Vec<String> = clauses
        .iter()
        .filter(|c| is_requirement(c))
        .cloned()
        .collect();
    v.extend(clauses.iter().filter(|c| !is_requirement(c)).cloned());
    if v.first().is_some_and(|c| !is_requirement(c)) {
        v.clear();
    }
    v
}

/// MUST NOT grades like MUST, SHOULD NOT like SHOULD.
fn runner_level(l: amp_catalogue::Level) -> Level {
    use amp_catalogue::Level as L;
    match l {
        L::Must | L::MustNot => Level::Must,
        L::Should | L::ShouldNot => Level::Should,
        L::May => Level::May,
    }
}

/// What a trial builds on: a registration (the runner's probe; when it failed, the trial is
/// reported blocked instead of run), and for federated and webhook kinds the configured peer
/// or loopback receiver. Route acceptance and delivery are not declared as prerequisites: for
/// most vectors they are what the trial judges (a provider that refuses the probe's message
/// for its payload hash must still be shown which vectors it refuses); a trial that cannot
/// observe a delivery it needs reports itself blocked.
fn needs(kind: Kind) -> &'static [Need] {
    match kind {
        Kind::FederationSignature | Kind::Replay | Kind::MessageId => {
            &[Need::FederationPeer, Need::Prereq(Prereq::Registration)]
        }
        Kind::WebhookHmac => &[Need::LoopbackWebhooks, Need::Prereq(Prereq::Registration)],
        _ => &[Need::Prereq(Prereq::Registration)],
    }
}

/// One sentence: what a correct provider does with this vector.
fn expectation(kind: Kind, case: &amp_vectors::Case) -> String {
    let verdict = case.result.name();
    match kind {
        Kind::PayloadHash => {
            "A message carrying this payload as its exact JSON text, signed over the \
             vector's payload hash, is accepted and delivered so that the delivered payload \
             hashes to the vector's hash."
                .to_string()
        }
        Kind::CanonicalString => format!(
            "A message with these fields, signed over the vector's canonical string (with the \
             run's own from/to), is {}.",
            if verdict == "valid" {
                "accepted and delivered with fields the recipient can verify"
            } else {
                "refused"
            }
        ),
        Kind::Signature => format!(
            "A message carrying the vector's signature (re-made for the run's agents the same \
             way) is {}.",
            match verdict {
                "valid" => "accepted and delivered with the signature unchanged",
                "invalid" => "refused",
                _ => "refused by a strict provider (a lax acceptance is a warning)",
            }
        ),
        Kind::Routing | Kind::Address => format!(
            "A message to the vector's `to` (mapped onto the target's domain and the run's \
             tenants) is routed as the vector decides ({verdict})."
        ),
        Kind::FederationSignature => format!(
            "A federation delivery authenticated the way the vector describes is {}.",
            if verdict == "valid" {
                "accepted"
            } else {
                "refused"
            }
        ),
        Kind::Replay => format!(
            "A federated envelope with the vector's timing and history is {}.",
            if verdict == "valid" {
                "accepted and delivered once"
            } else {
                "refused and not delivered"
            }
        ),
        Kind::MessageId => format!(
            "A federated envelope with this id is {}.",
            match verdict {
                "valid" => "accepted and delivered with the id unchanged",
                "invalid" => "refused",
                _ => "accepted or refused (C-12)",
            }
        ),
        Kind::WebhookHmac => "Every webhook delivery the provider signs passes this vector's rule \
             (sha256= + lowercase hex HMAC over \"<timestamp>.<raw body>\", fresh timestamp)."
            .to_string(),
        _ => "Checked against amp-core only.".to_string(),
    }
}

fn run_trial(ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        let Some(t) = lookup(ctx.case_id()) else {
            return Err(Failure::Error(format!(
                "no vector is registered for trial `{}` (harness bug)",
                ctx.case_id()
            )));
        };
        ctx.note(format!(
            "vector {} ({}): {}",
            t.name(),
            t.case().result,
            t.case().description
        ));
        match t.kind() {
            Kind::PayloadHash => payload_hash::run(ctx, &t).await,
            Kind::CanonicalString => canonical_string::run(ctx, &t).await,
            Kind::Signature => signature::run(ctx, &t).await,
            Kind::Routing => routing::run(ctx, &t).await,
            Kind::Address => address::run(ctx, &t).await,
            Kind::FederationSignature => federation::run_signature(ctx, &t).await,
            Kind::Replay => federation::run_replay(ctx, &t).await,
            Kind::MessageId => federation::run_message_id(ctx, &t).await,
            Kind::WebhookHmac => webhook_hmac::run(ctx, &t).await,
            other => Err(Failure::Error(format!(
                "kind {other} has no live trial (harness bug: it should have been left out)"
            ))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_live_case_of_the_corpus_becomes_one_trial() {
        let files = amp_vectors::embedded().expect("corpus parses");
        let cases = trials(&files).expect("trials build");
        let live: usize = files
            .iter()
            .filter(|f| f.kind.runs_live())
            .map(|f| {
                f.cases
                    .iter()
                    .filter(|c| f.case_live(c) == Live::Runs)
                    .count()
            })
            .sum();
        assert_eq!(cases.len(), live);
        assert!(cases.len() >= 200, "only {} trials", cases.len());
        let t = cases
            .iter()
            .find(|c| c.id == "vector.payload_hash.hash-018")
            .expect("hash-018 is a trial");
        assert_eq!(t.clauses[0], "SIG-008");
        assert_eq!(t.level, Level::Must);
        assert!(lookup(t.id).is_some());
        // Core-only cases and kinds are not trials, and are listed with their reason.
        assert!(
            !cases
                .iter()
                .any(|c| c.id.starts_with("vector.fingerprint."))
        );
        assert!(!cases.iter().any(|c| c.id == "vector.payload_hash.hash-035"));
        let listed = core_only(&files);
        assert!(
            listed
                .iter()
                .any(|(what, _)| what.starts_with("fingerprint"))
        );
        assert!(
            listed
                .iter()
                .any(|(what, _)| what == "payload_hash::hash-035")
        );
    }

    #[test]
    fn a_case_id_defined_twice_is_refused() {
        let files = amp_vectors::embedded().expect("corpus parses");
        let hash = files
            .iter()
            .find(|f| f.kind == Kind::PayloadHash)
            .expect("payload_hash.json")
            .clone();
        let mut twin = hash.clone();
        twin.name = "more_hashes.json".into();
        assert!(matches!(
            trials(&[hash, twin]),
            Err(TrialError::Duplicate(id)) if id.starts_with("vector.payload_hash.")
        ));
    }
}
