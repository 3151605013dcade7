//! Checks a parsed corpus for mistakes a type cannot rule out.

use std::collections::HashSet;
use std::fmt;

use amp_catalogue::Catalogue;
use amp_core::PayloadProfile;

use crate::model::{Kind, ProfileExpectation, VectorFile, Verdict};

/// One problem found by [`lint`]; `case` is `None` for file-level problems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintError {
    pub file: String,
    pub case: Option<String>,
    pub message: String,
}

impl fmt::Display for LintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.case {
            Some(c) => write!(f, "{}::{}: {}", self.file, c, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Lints every file: unique case ids per file; clause ids known to the catalogue; every case
/// flag defined in the file's `flags`; required input fields per kind; always-present expected
/// fields; `profiles` only on profile-dependent kinds and only with known profile names; test
/// keys flagged `test-key`. (Kind and result values are already enforced by [`crate::parse`].)
pub fn lint(files: &[VectorFile]) -> Vec<LintError> {
    let catalogue = Catalogue::try_embedded();
    let mut out = Vec::new();
    if let Err(e) = catalogue {
        out.push(LintError {
            file: "<catalogue>".into(),
            case: None,
            message: format!(
                "the requirement catalogue does not load, clause ids cannot be checked: {e}"
            ),
        });
    }
    let mut stems = HashSet::new();
    for file in files {
        let stem = file.stem().to_string();
        let mut err = |case: Option<&str>, message: String| {
            out.push(LintError {
                file: stem.clone(),
                case: case.map(str::to_string),
                message,
            })
        };
        if !stems.insert(file.stem().to_string()) {
            err(
                None,
                "two files share this name: trial names would collide".into(),
            );
        }
        if file.cases.is_empty() {
            err(None, "file has no cases".into());
        }
        if let Some(m) = live_problem(file.live, file.live_reason.as_deref()) {
            err(None, m);
        }
        if file.live && !file.kind.runs_live() {
            err(
                None,
                format!(
                    "kind {} has no live trial: set \"live\": false and say in \"live_reason\" \
                     why a provider's behaviour cannot reveal its outcome",
                    file.kind
                ),
            );
        }
        for (name, key) in &file.keys {
            let flagged = key
                .get("flags")
                .and_then(|f| f.as_array())
                .is_some_and(|a| a.iter().any(|v| v == "test-key"));
            if !flagged {
                err(
                    None,
                    format!(
                        "key `{name}` must carry the flag test-key (seeds are public test data)"
                    ),
                );
            }
        }
        for (flag, why) in &file.flags {
            if why.as_str().is_none_or(|s| s.trim().is_empty()) {
                err(None, format!("flag `{flag}` needs a string explaining it"));
            }
        }
        let mut ids = HashSet::new();
        for case in &file.cases {
            let cid = Some(case.id.as_str());
            if case.id.is_empty()
                || !case
                    .id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                err(cid, "case id must be non-empty [a-z0-9-]".into());
            }
            if !ids.insert(case.id.as_str()) {
                err(cid, "duplicate case id in this file".into());
            }
            if case.clauses.is_empty() {
                err(cid, "case cites no clause".into());
            }
            if let Some(m) = live_problem(case.live, case.live_reason.as_deref()) {
                err(cid, m);
            }
            if file.kind == Kind::Routing {
                for m in routing_problems(&case.input) {
                    err(cid, m);
                }
            }
            if let Ok(cat) = catalogue {
                for cl in &case.clauses {
                    if !cat.is_known(cl) {
                        err(
                            cid,
                            format!(
                                "clause `{cl}` is not in the catalogue (suites/requirements.toml)"
                            ),
                        );
                    }
                }
            }
            for fl in &case.flags {
                if !file.flags.contains_key(fl) {
                    err(
                        cid,
                        format!("flag `{fl}` is not defined in the file's `flags`"),
                    );
                }
            }
            let alts = file.kind.required_inputs();
            if !alts
                .iter()
                .any(|alt| alt.iter().all(|k| case.input.contains_key(*k)))
            {
                let want: Vec<String> = alts.iter().map(|a| a.join(" + ")).collect();
                err(
                    cid,
                    format!(
                        "input lacks required fields for kind {}: need {}",
                        file.kind,
                        want.join(" or ")
                    ),
                );
            }
            if file.kind == Kind::Signature {
                let fields = case.input.get("fields").and_then(|f| f.as_object());
                let ok = fields.is_some_and(|f| {
                    ["from", "to", "subject"].iter().all(|k| f.contains_key(*k))
                        && (f.contains_key("payload") || f.contains_key("payload_hash"))
                });
                if !ok {
                    err(cid, "signature input.fields needs from, to, subject and payload or payload_hash".into());
                }
            }
            let check_expected = |exp: &serde_json::Map<String, serde_json::Value>, r: Verdict| {
                let mut missing: Vec<&str> = file
                    .kind
                    .always_expected()
                    .iter()
                    .copied()
                    .filter(|k| !exp.contains_key(*k))
                    .collect();
                if r == Verdict::Valid && exp.is_empty() && !matches!(file.kind, Kind::Attachment) {
                    missing.push("(any output: a valid case must say what it produces)");
                }
                missing
            };
            let missing = check_expected(&case.expected, case.result);
            if !missing.is_empty() {
                err(cid, format!("expected lacks {}", missing.join(", ")));
            }
            if !case.profiles.is_empty() && !file.kind.profile_dependent() {
                err(
                    cid,
                    format!(
                        "`profiles` given but kind {} does not depend on the payload profile",
                        file.kind
                    ),
                );
            }
            for (p, v) in &case.profiles {
                if p.parse::<PayloadProfile>().is_err() {
                    err(
                        cid,
                        format!(
                            "unknown payload profile `{p}` in profiles (sorted, jcs, insertion, python-ascii)"
                        ),
                    );
                }
                match serde_json::from_value::<ProfileExpectation>(v.clone()) {
                    Ok(pe) => {
                        let missing = check_expected(&pe.expected, pe.result);
                        if !missing.is_empty() {
                            err(
                                cid,
                                format!("profiles.{p}.expected lacks {}", missing.join(", ")),
                            );
                        }
                    }
                    Err(e) => err(
                        cid,
                        format!("profiles.{p} is not {{result, expected}}: {e}"),
                    ),
                }
            }
        }
    }
    out
}

/// `live: false` needs a reason, and a reason only makes sense on `live: false`.
fn live_problem(live: bool, reason: Option<&str>) -> Option<String> {
    match (live, reason.map(str::trim)) {
        (false, None | Some("")) => Some(
            "\"live\": false needs a \"live_reason\" saying why no provider can reveal the outcome"
                .into(),
        ),
        (true, Some(_)) => {
            Some("\"live_reason\" is given but \"live\" is not false: drop one of them".into())
        }
        _ => None,
    }
}

/// A routing case's provider, sender and agents must describe a real provider: the sender and
/// every registered agent are full addresses at the provider's own domain.
fn routing_problems(input: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
    use amp_core::{Address, ProviderSplit};
    let mut out = Vec::new();
    let Some(provider) = input.get("provider").and_then(|v| v.as_str()) else {
        return vec!["routing input `provider` must be the provider's own domain".into()];
    };
    let split = ProviderSplit::Known(vec![provider.to_string()]);
    let mut check = |what: &str, v: Option<&serde_json::Value>| match v.and_then(|v| v.as_str()) {
        None => out.push(format!("routing input {what} must be an address string")),
        Some(a) => match Address::parse_with(a, &split) {
            Ok(x) if x.provider() == provider.to_ascii_lowercase() => {}
            Ok(_) => out.push(format!(
                "routing input {what} `{a}` is not an address at the provider `{provider}`"
            )),
            Err(e) => out.push(format!(
                "routing input {what} `{a}` is not a full address: {e}"
            )),
        },
    };
    check("`sender`", input.get("sender"));
    match input.get("agents").and_then(|v| v.as_array()) {
        Some(list) => {
            for a in list {
                check("`agents` entry", Some(a));
            }
        }
        None => {
            out.push("routing input `agents` must list the provider's registered addresses".into())
        }
    }
    out
}
