//! Runs cases against amp-core. Each kind maps its `input` onto amp-core calls, renders what
//! amp-core produced in the same shape as `expected`, and compares exactly.

use std::fmt;
use std::str::FromStr;

use amp_core::address::{Address, AddressForm, ProviderSplit, parse_any};
use amp_core::msgid::{IdStrictness, MessageId};
use amp_core::signing::{FingerprintProfile, Priority, PublicKey, SigningFields, Strictness};
use amp_core::{PayloadHash, PayloadProfile};
use serde_json::{Map, Value, json};

use crate::model::{Case, Kind, VectorFile, Verdict};

/// The outcome of one case under one payload profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseOutcome {
    Pass,
    /// `expected` and `got` are short renderings (JSON where possible) for the report.
    Fail {
        expected: String,
        got: String,
    },
    Skip {
        reason: String,
    },
}

impl CaseOutcome {
    fn fail(expected: impl Into<String>, got: impl Into<String>) -> CaseOutcome {
        CaseOutcome::Fail {
            expected: expected.into(),
            got: got.into(),
        }
    }
}

/// One case's outcome with its trial name, as collected by [`run_all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseReport {
    /// `<file-stem>::<case-id>`.
    pub name: String,
    pub outcome: CaseOutcome,
}

/// Counts and details of a run. `Display` prints failures and skips, then a final line
/// `N passed, N failed, N skipped`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub profile: String,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub reports: Vec<CaseReport>,
}

impl Summary {
    pub fn is_success(&self) -> bool {
        self.failed == 0
    }

    pub fn failures(&self) -> impl Iterator<Item = &CaseReport> {
        self.reports
            .iter()
            .filter(|r| matches!(r.outcome, CaseOutcome::Fail { .. }))
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.reports {
            match &r.outcome {
                CaseOutcome::Fail { expected, got } => writeln!(
                    f,
                    "FAIL {} [{}]: expected {expected}, got {got}",
                    r.name, self.profile
                )?,
                CaseOutcome::Skip { reason } => writeln!(f, "skip {}: {reason}", r.name)?,
                CaseOutcome::Pass => {}
            }
        }
        write!(
            f,
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }
}

/// Runs every case of every file under `profile`.
pub fn run_all(files: &[VectorFile], profile: PayloadProfile) -> Summary {
    let mut s = Summary {
        profile: profile.name().to_string(),
        ..Summary::default()
    };
    for file in files {
        for case in &file.cases {
            let outcome = run_case(file, case, profile);
            match outcome {
                CaseOutcome::Pass => s.passed += 1,
                CaseOutcome::Fail { .. } => s.failed += 1,
                CaseOutcome::Skip { .. } => s.skipped += 1,
            }
            s.reports.push(CaseReport {
                name: file.trial_name(case),
                outcome,
            });
        }
    }
    s
}

/// Runs one case under `profile` (the profile matters only for payload_hash, canonical_string
/// and signature cases). Never panics on malformed cases: they fail with a message.
pub fn run_case(file: &VectorFile, case: &Case, profile: PayloadProfile) -> CaseOutcome {
    let (result, expected) = match case.expectation_for(file.kind, profile) {
        Ok(x) => x,
        Err(e) => return CaseOutcome::fail("a well-formed case", e),
    };
    if profile == PayloadProfile::PythonAscii
        && file.kind.profile_dependent()
        && case.input.values().any(contains_negative_zero)
    {
        // serde_json keeps no number text: `-0` and `-0.0` both become the double -0.0, and
        // Python prints the first as `0` (an int) and the second as `-0.0`. amp-core cannot
        // tell them apart, so this reading is not judged here (C-03); crosscheck.py checks it.
        return CaseOutcome::Skip {
            reason: "python-ascii: -0 vs -0.0 is lost when JSON is parsed into doubles (C-03)"
                .to_string(),
        };
    }
    let got = match file.kind {
        Kind::Address => address(&case.input),
        Kind::MessageId => message_id(&case.input),
        Kind::PayloadHash => payload_hash(&case.input, profile),
        Kind::CanonicalString => canonical(&case.input, profile),
        Kind::Signature => signature(&case.input, profile),
        Kind::Fingerprint => fingerprint(&case.input),
        Kind::WebhookHmac => webhook(&case.input),
        Kind::FederationSignature => federation(&case.input),
        Kind::Replay => replay(&case.input),
        Kind::Attachment => attachment(&case.input),
        Kind::ScanStatus => scan_status(&case.input),
        Kind::AgentCard => agent_card(&case.input),
        Kind::Routing => routing(&case.input),
    };
    match got {
        Ok(got) => grade(result, &expected, got),
        Err(Malformed(msg)) => CaseOutcome::fail("a well-formed case", msg),
    }
}

/// A case whose input cannot be read (missing field, wrong type).
struct Malformed(String);

/// What amp-core did with a case.
struct Got {
    /// `Ok(())` when the operation succeeded/accepted, `Err(reason)` when it failed/rejected.
    accepted: Result<(), String>,
    /// Outputs in the shape of `expected`, compared key by key.
    outputs: Map<String, Value>,
    /// Kinds with two readings (strict/lax, schema/strict ids) report the verdict they imply;
    /// an `acceptable` case must then be rejected strictly and accepted laxly.
    two_readings: Option<Verdict>,
    /// Catalogue rule amp-core named when it rejected, compared with `expected.rule`.
    rule: Option<String>,
    /// Expected keys amp-core's API cannot show (documented per kind); not compared.
    unobservable: &'static [&'static str],
}

impl Got {
    fn plain(accepted: Result<(), String>, outputs: Map<String, Value>) -> Got {
        Got {
            accepted,
            outputs,
            two_readings: None,
            rule: None,
            unobservable: &[],
        }
    }
}

fn render(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 600 {
        let cut: String = s.chars().take(600).collect();
        format!("{cut}…")
    } else {
        s
    }
}

fn grade(result: Verdict, expected: &Map<String, Value>, got: Got) -> CaseOutcome {
    let observable: Map<String, Value> = expected
        .iter()
        .filter(|(k, _)| !got.unobservable.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let expected = &observable;
    // Two-reading kinds: the verdict implied by both readings must equal the case's result, and
    // the per-reading outputs (part of `outputs`) must match exactly, whatever the result.
    if let Some(implied) = got.two_readings {
        if implied != result {
            return CaseOutcome::fail(
                format!(
                    "result {result} ({})",
                    render(&Value::Object(expected.clone()))
                ),
                format!("{implied} ({})", render(&Value::Object(got.outputs))),
            );
        }
        return compare_all(expected, &got.outputs);
    }
    match (result, &got.accepted) {
        (Verdict::Valid, Err(e)) => CaseOutcome::fail(
            format!("valid {}", render(&Value::Object(expected.clone()))),
            format!("rejected: {e}"),
        ),
        (Verdict::Invalid, Ok(())) => CaseOutcome::fail(
            "invalid (rejection)",
            format!("accepted {}", render(&Value::Object(got.outputs))),
        ),
        (Verdict::Invalid, Err(e)) => {
            if let Some(want) = expected.get("rule") {
                let have = got.rule.clone().map(Value::String).unwrap_or(Value::Null);
                if *want != have {
                    return CaseOutcome::fail(
                        format!("rejection naming rule {}", render(want)),
                        format!("rejection naming rule {} ({e})", render(&have)),
                    );
                }
            }
            compare_present(expected, &got.outputs)
        }
        (Verdict::Valid, Ok(())) => compare_all(expected, &got.outputs),
        // Either outcome is allowed; an acceptance must still produce the recorded outputs.
        (Verdict::Acceptable, Ok(())) => compare_present(expected, &got.outputs),
        (Verdict::Acceptable, Err(_)) => CaseOutcome::Pass,
    }
}

/// Every expected key must match; outputs with no expectation are ignored only when the kind
/// reports extra diagnostics (none currently), so this is an exact comparison of `expected`.
fn compare_all(expected: &Map<String, Value>, got: &Map<String, Value>) -> CaseOutcome {
    let mut want = Map::new();
    let mut have = Map::new();
    for (k, v) in expected {
        let g = got.get(k).cloned().unwrap_or(Value::Null);
        if g != *v || !got.contains_key(k) {
            want.insert(k.clone(), v.clone());
            have.insert(k.clone(), g);
        }
    }
    if want.is_empty() {
        CaseOutcome::Pass
    } else {
        CaseOutcome::fail(render(&Value::Object(want)), render(&Value::Object(have)))
    }
}

/// Like [`compare_all`] but skips `rule` (checked separately) and keys amp-core has no output
/// for in this outcome (a rejection produces no canonical form).
fn compare_present(expected: &Map<String, Value>, got: &Map<String, Value>) -> CaseOutcome {
    let filtered: Map<String, Value> = expected
        .iter()
        .filter(|(k, _)| k.as_str() != "rule" && got.contains_key(k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    compare_all(&filtered, got)
}

// ------------------------------------------------------------------------------------------
// input helpers
// ------------------------------------------------------------------------------------------

fn get<'a>(m: &'a Map<String, Value>, k: &str) -> Result<&'a Value, Malformed> {
    m.get(k)
        .ok_or_else(|| Malformed(format!("input lacks `{k}`")))
}

fn s<'a>(m: &'a Map<String, Value>, k: &str) -> Result<&'a str, Malformed> {
    get(m, k)?
        .as_str()
        .ok_or_else(|| Malformed(format!("input `{k}` must be a string")))
}

fn int(m: &Map<String, Value>, k: &str) -> Result<i64, Malformed> {
    get(m, k)?
        .as_i64()
        .ok_or_else(|| Malformed(format!("input `{k}` must be an integer")))
}

fn obj<'a>(m: &'a Map<String, Value>, k: &str) -> Result<&'a Map<String, Value>, Malformed> {
    get(m, k)?
        .as_object()
        .ok_or_else(|| Malformed(format!("input `{k}` must be an object")))
}

/// `"x"` → Some("x"); absent or null → None; anything else is malformed.
fn opt_s<'a>(m: &'a Map<String, Value>, k: &str) -> Result<Option<&'a str>, Malformed> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(v)) => Ok(Some(v)),
        Some(_) => Err(Malformed(format!("input `{k}` must be a string or null"))),
    }
}

fn verdict_word(ok: bool) -> Value {
    Value::String(if ok { "valid" } else { "invalid" }.into())
}

/// Strict rejects + lax accepts = acceptable; equal verdicts stand; the reverse is impossible
/// for a correct implementation and is reported as such.
fn combine(strict: bool, lax: bool) -> Verdict {
    match (strict, lax) {
        (true, true) => Verdict::Valid,
        (false, false) => Verdict::Invalid,
        (false, true) => Verdict::Acceptable,
        // Strict accepting what lax rejects is a bug; `Invalid` plus the per-reading outputs
        // makes the mismatch visible in the report.
        (true, false) => Verdict::Invalid,
    }
}

// ------------------------------------------------------------------------------------------
// kinds
// ------------------------------------------------------------------------------------------

fn full_address_outputs(a: &Address) -> Map<String, Value> {
    let v = json!({
        "form": "full",
        "address": a.as_str(),
        "name": a.name(),
        "tenant": a.tenant(),
        "provider": a.provider(),
        "is_local": a.is_local(),
        "local_tld": a.local_tld(),
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn address(input: &Map<String, Value>) -> Result<Got, Malformed> {
    let text = s(input, "address")?;
    let split = match input.get("split") {
        None | Some(Value::Null) => ProviderSplit::Last2,
        Some(Value::Object(o)) => {
            let known = o
                .get("known")
                .and_then(Value::as_array)
                .ok_or_else(|| Malformed("input `split` must be {\"known\": [domains]}".into()))?;
            let list = known
                .iter()
                .map(|d| d.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Malformed("split.known must list strings".into()))?;
            ProviderSplit::Known(list)
        }
        Some(_) => return Err(Malformed("input `split` must be an object".into())),
    };
    let parsed = match input.get("parse").and_then(Value::as_str).unwrap_or("full") {
        "full" => Address::parse_with(text, &split).map(AddressForm::Full),
        "any" => parse_any(text),
        other => {
            return Err(Malformed(format!(
                "input `parse` must be full or any, not {other:?}"
            )));
        }
    };
    Ok(match parsed {
        Ok(AddressForm::Full(a)) => Got::plain(Ok(()), full_address_outputs(&a)),
        Ok(AddressForm::Short { name, tenant }) => {
            let m = match json!({"form": "short", "name": name, "tenant": tenant, "provider": null, "is_local": null})
            {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            Got::plain(Ok(()), m)
        }
        Err(e) => Got {
            accepted: Err(e.to_string()),
            outputs: Map::new(),
            two_readings: None,
            rule: Some(e.rule().to_string()),
            unobservable: &[],
        },
    })
}

fn message_id(input: &Map<String, Value>) -> Result<Got, Malformed> {
    let id = s(input, "id")?;
    let schema = MessageId::parse(id, IdStrictness::Schema).is_ok();
    let strict = MessageId::parse(id, IdStrictness::Strict).is_ok();
    let mut outputs = Map::new();
    outputs.insert("schema".into(), verdict_word(schema));
    outputs.insert("strict".into(), verdict_word(strict));
    Ok(Got {
        accepted: if schema {
            Ok(())
        } else {
            Err("schema regex rejects".into())
        },
        outputs,
        two_readings: Some(combine(strict, schema)),
        rule: None,
        unobservable: &[],
    })
}

fn payload_hash(input: &Map<String, Value>, profile: PayloadProfile) -> Result<Got, Malformed> {
    if let Some(text) = input.get("serialized") {
        let text = text
            .as_str()
            .ok_or_else(|| Malformed("input `serialized` must be a string".into()))?;
        let mut m = Map::new();
        m.insert(
            "hash".into(),
            Value::String(amp_core::hash_serialized_text(text).as_str().to_string()),
        );
        return Ok(Got::plain(Ok(()), m));
    }
    let payload = get(input, "payload")?;
    let canonical = match amp_core::canonical_payload(payload, profile) {
        Ok(b) => b,
        Err(e) => return Ok(Got::plain(Err(e.to_string()), Map::new())),
    };
    let hash = match amp_core::payload_hash(payload, profile) {
        Ok(h) => h,
        Err(e) => return Ok(Got::plain(Err(e.to_string()), Map::new())),
    };
    let mut m = Map::new();
    m.insert(
        "canonical".into(),
        Value::String(String::from_utf8_lossy(&canonical).into_owned()),
    );
    m.insert("hash".into(), Value::String(hash.as_str().to_string()));
    Ok(Got::plain(Ok(()), m))
}

/// The canonical signing string for `fields` under `profile`, or the reason amp-core refused
/// the fields (e.g. an unknown priority).
fn build_canonical(
    fields: &Map<String, Value>,
    profile: PayloadProfile,
) -> Result<Result<String, String>, Malformed> {
    let priority = match opt_s(fields, "priority")? {
        None => Priority::default(),
        Some(p) => match Priority::from_str(p) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e.to_string())),
        },
    };
    let hash: PayloadHash = match fields.get("payload_hash") {
        Some(h) => {
            let text = h
                .as_str()
                .ok_or_else(|| Malformed("payload_hash must be a string".into()))?;
            // PayloadHash is serde-transparent over its text; this is the only public way to
            // carry a recorded hash (e.g. canon-002's, which has no source payload).
            serde_json::from_value(Value::String(text.to_string()))
                .map_err(|e| Malformed(format!("payload_hash not accepted: {e}")))?
        }
        None => match amp_core::payload_hash(get(fields, "payload")?, profile) {
            Ok(h) => h,
            Err(e) => return Ok(Err(e.to_string())),
        },
    };
    let f = SigningFields {
        from: s(fields, "from")?,
        to: s(fields, "to")?,
        subject: s(fields, "subject")?,
        priority,
        in_reply_to: opt_s(fields, "in_reply_to")?,
        payload_hash: &hash,
    };
    Ok(Ok(amp_core::canonical_string(&f)))
}

fn canonical(input: &Map<String, Value>, profile: PayloadProfile) -> Result<Got, Malformed> {
    Ok(match build_canonical(input, profile)? {
        Ok(c) => {
            let mut m = Map::new();
            m.insert("canonical".into(), Value::String(c));
            Got::plain(Ok(()), m)
        }
        Err(e) => Got::plain(Err(e), Map::new()),
    })
}

fn signature(input: &Map<String, Value>, profile: PayloadProfile) -> Result<Got, Malformed> {
    let fields = obj(input, "fields")?;
    if let Some(signed) = input.get("signed_fields") {
        // Tampering cases record what the signature was really made over; it must verify there
        // (strictly, under the default profile the corpus signs with), or the case is wrong.
        let signed = signed
            .as_object()
            .ok_or_else(|| Malformed("input `signed_fields` must be an object".into()))?;
        let text = match build_canonical(signed, PayloadProfile::Sorted)? {
            Ok(t) => t,
            Err(e) => return Err(Malformed(format!("signed_fields cannot be signed: {e}"))),
        };
        let ok = PublicKey::from_hex(s(input, "public_key")?).is_ok_and(|pk| {
            amp_core::verify(
                &pk,
                text.as_bytes(),
                s(input, "signature").unwrap_or(""),
                Strictness::Strict,
            )
            .is_ok()
        });
        if !ok {
            return Err(Malformed(
                "the signature does not verify over input.signed_fields".into(),
            ));
        }
    }
    let sig = s(input, "signature")?;
    let key = PublicKey::from_hex(s(input, "public_key")?);
    let mut outputs = Map::new();
    let (strict, lax) = match (build_canonical(fields, profile)?, key) {
        (Ok(c), Ok(pk)) => {
            let st = amp_core::verify(&pk, c.as_bytes(), sig, Strictness::Strict).is_ok();
            let lx = amp_core::verify(&pk, c.as_bytes(), sig, Strictness::Lax).is_ok();
            outputs.insert("canonical".into(), Value::String(c));
            (st, lx)
        }
        (Ok(c), Err(_)) => {
            outputs.insert("canonical".into(), Value::String(c));
            (false, false)
        }
        (Err(_), _) => (false, false),
    };
    outputs.insert("strict".into(), verdict_word(strict));
    outputs.insert("lax".into(), verdict_word(lax));
    Ok(Got {
        accepted: if strict {
            Ok(())
        } else {
            Err("strict verification fails".into())
        },
        outputs,
        two_readings: Some(combine(strict, lax)),
        rule: None,
        unobservable: &[],
    })
}

fn fingerprint(input: &Map<String, Value>) -> Result<Got, Malformed> {
    let key = if let Some(pem) = input.get("public_key_pem") {
        let pem = pem
            .as_str()
            .ok_or_else(|| Malformed("input `public_key_pem` must be a string".into()))?;
        PublicKey::from_spki_pem(pem)
    } else {
        PublicKey::from_hex(s(input, "public_key")?)
    };
    Ok(match key {
        Ok(pk) => {
            let mut m = Map::new();
            for (name, p) in [
                ("raw32-b64pad", FingerprintProfile::Raw32B64Pad),
                ("raw32-b64nopad", FingerprintProfile::Raw32B64NoPad),
                ("spki-der", FingerprintProfile::SpkiDer),
            ] {
                m.insert(name.into(), Value::String(pk.fingerprint(p)));
            }
            m.insert("public_key_hex".into(), Value::String(pk.to_hex()));
            m.insert("public_key_pem".into(), Value::String(pk.to_spki_pem()));
            Got::plain(Ok(()), m)
        }
        Err(e) => Got::plain(Err(e.to_string()), Map::new()),
    })
}

fn webhook(input: &Map<String, Value>) -> Result<Got, Malformed> {
    let secret = s(input, "secret")?.as_bytes();
    let ts = int(input, "timestamp")?.to_string();
    let body = s(input, "body")?.as_bytes();
    let header = s(input, "signature")?;
    let now = int(input, "now")?;
    let window = int(input, "window_secs")?;
    let mut m = Map::new();
    m.insert(
        "signature".into(),
        Value::String(amp_core::webhook_signature(secret, &ts, body)),
    );
    let accepted =
        amp_core::verify_webhook(secret, header, &ts, body, now, window).map_err(|e| e.to_string());
    Ok(Got::plain(accepted, m))
}

fn federation(input: &Map<String, Value>) -> Result<Got, Malformed> {
    let ts = int(input, "timestamp")?.to_string();
    let body = s(input, "body")?.as_bytes();
    let sig = s(input, "signature")?;
    let now = int(input, "now")?;
    let window = int(input, "window_secs")?;
    let signing = amp_core::federation_signing_bytes(&ts, body);
    let mut outputs = Map::new();
    outputs.insert(
        "signing_string".into(),
        Value::String(String::from_utf8_lossy(&signing).into_owned()),
    );
    let (strict, lax) = match PublicKey::from_hex(s(input, "public_key")?) {
        Ok(pk) => {
            let run =
                |st| amp_core::verify_federation(&pk, &ts, body, sig, now, window, st).is_ok();
            (run(Strictness::Strict), run(Strictness::Lax))
        }
        Err(_) => (false, false),
    };
    outputs.insert("strict".into(), verdict_word(strict));
    outputs.insert("lax".into(), verdict_word(lax));
    Ok(Got {
        accepted: if strict {
            Ok(())
        } else {
            Err("strict verification fails".into())
        },
        outputs,
        two_readings: Some(combine(strict, lax)),
        rule: None,
        unobservable: &[],
    })
}

fn time(input: &Map<String, Value>, k: &str) -> Result<Option<i64>, Malformed> {
    match opt_s(input, k)? {
        None => Ok(None),
        Some(t) => amp_core::parse_rfc3339(t).map(Some).map_err(|e| {
            Malformed(format!(
                "input `{k}` = {t:?} rejected by amp-core parse_rfc3339: {e}"
            ))
        }),
    }
}

fn replay(input: &Map<String, Value>) -> Result<Got, Malformed> {
    use amp_core::replay::{ReplayDecision, ReplayInput, ReplayPolicy, decide};
    let p = obj(input, "policy")?;
    let policy = ReplayPolicy {
        dedup_window_secs: int(p, "dedup_window_secs")?,
        max_age_secs: int(p, "max_age_secs")?,
        future_tolerance_secs: int(p, "max_future_secs")?,
    };
    let timestamp =
        time(input, "timestamp")?.ok_or_else(|| Malformed("input lacks `timestamp`".into()))?;
    let now = time(input, "now")?.ok_or_else(|| Malformed("input lacks `now`".into()))?;
    let seen = get(input, "seen_before")?
        .as_bool()
        .ok_or_else(|| Malformed("input `seen_before` must be a boolean".into()))?;
    let ri = ReplayInput {
        id: s(input, "id")?,
        timestamp,
        queued_at: time(input, "queued_at")?,
        expires_at: time(input, "expires_at")?,
    };
    let d = decide(&policy, &ri, now, seen);
    let word = match d {
        ReplayDecision::Accept => "accept",
        ReplayDecision::Duplicate => "duplicate",
        ReplayDecision::Stale { .. } => "stale",
        ReplayDecision::Future { .. } => "future",
        ReplayDecision::Expired => "expired",
    };
    let mut m = Map::new();
    m.insert("decision".into(), Value::String(word.into()));
    let accepted = if d == ReplayDecision::Accept {
        Ok(())
    } else {
        Err(format!("{d:?}"))
    };
    Ok(Got::plain(accepted, m))
}

fn attachment(input: &Map<String, Value>) -> Result<Got, Malformed> {
    let att = get(input, "attachment")?;
    let r = match s(input, "storage")? {
        "provider" => amp_core::validate_attachment(att),
        "afp" => amp_core::validate_afp_attachment(att),
        other => {
            return Err(Malformed(format!(
                "input `storage` must be provider or afp, not {other:?}"
            )));
        }
    };
    Ok(Got::plain(r.map_err(|e| e.to_string()), Map::new()))
}

/// amp-core has no stand-alone scan_status API; the value is checked the way amp-core meets it,
/// inside an otherwise valid provider attachment. `routable` (ATT-008) is not observable through
/// that API and is therefore not compared.
fn scan_status(input: &Map<String, Value>) -> Result<Got, Malformed> {
    let value = s(input, "value")?;
    let att = json!({
        "id": "att_1767225600_9f8e7d6c",
        "filename": "report.pdf",
        "content_type": "application/pdf",
        "size": 1024,
        "digest": "sha256:4710880a88dd26e3a510ebdab6d1f0ed8fb206add88e3048038c447db506dc61",
        "url": "https://files.example.invalid/att_1767225600_9f8e7d6c",
        "scan_status": value,
        "uploaded_at": "2026-01-01T00:00:00Z",
        "expires_at": "2026-01-08T00:00:00Z",
    });
    let r = amp_core::validate_attachment(&att).map_err(|e| e.to_string());
    Ok(Got {
        unobservable: &["routable"],
        ..Got::plain(r, Map::new())
    })
}

/// True when some number in `v` is a negative zero. serde_json keeps no number text, so `-0`
/// and `-0.0` are one double once parsed, while python-ascii prints them differently (C-03):
/// such payloads are not judged under that profile.
pub fn contains_negative_zero(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.as_f64().is_some_and(|f| f == 0.0 && f.is_sign_negative()),
        Value::Array(a) => a.iter().any(contains_negative_zero),
        Value::Object(o) => o.values().any(contains_negative_zero),
        _ => false,
    }
}

/// Agent cards (CARD-001..004): the signing input (separator + JCS) and amp-core's verdict at
/// `now` under the default fingerprint profile; warnings (CARD-002, C-55) as rule ids; on
/// rejection the failed step (`fields`, `signature`, `expiry`, `fingerprint`) and its rule.
fn agent_card(input: &Map<String, Value>) -> Result<Got, Malformed> {
    use amp_core::card::{CardError, CardVerifyOptions, card_signing_bytes, verify_card};
    let card = get(input, "card")?;
    let now = amp_core::Timestamp::from_unix(int(input, "now")?);
    let mut outputs = Map::new();
    if let Ok(bytes) = card_signing_bytes(card) {
        outputs.insert(
            "signing_input".into(),
            Value::String(String::from_utf8_lossy(&bytes).into_owned()),
        );
    }
    Ok(match verify_card(card, CardVerifyOptions::at(now)) {
        Ok(v) => {
            let w: Vec<Value> = v.warnings.iter().map(|w| json!(w.rule())).collect();
            outputs.insert("warnings".into(), Value::Array(w));
            Got::plain(Ok(()), outputs)
        }
        Err(e) => {
            let step = match e {
                CardError::SignatureInvalid(_) => "signature",
                CardError::Expired { .. } => "expiry",
                CardError::FingerprintMismatch { .. } => "fingerprint",
                _ => "fields",
            };
            outputs.insert("step".into(), json!(step));
            Got {
                accepted: Err(e.to_string()),
                outputs,
                two_readings: None,
                rule: Some(e.rule().to_string()),
                unobservable: &[],
            }
        }
    })
}

/// The routing decision (spec 02, 05, 06, 06a) of amp-core for `to`, as the provider
/// described by the input would take it.
fn routing(input: &Map<String, Value>) -> Result<Got, Malformed> {
    use amp_core::routing::{RouteDecision, RoutingContext, decide};
    let provider = s(input, "provider")?;
    let sender = s(input, "sender")?;
    let split = ProviderSplit::Known(vec![provider.to_string()]);
    let sender = Address::parse_with(sender, &split)
        .map_err(|e| Malformed(format!("input `sender` is not a full address: {e}")))?;
    let agents = get(input, "agents")?
        .as_array()
        .and_then(|a| {
            a.iter()
                .map(|v| v.as_str().map(str::to_ascii_lowercase))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| Malformed("input `agents` must list address strings".into()))?;
    let ctx = RoutingContext {
        provider,
        host: opt_s(input, "host")?,
        sender_tenant: sender.tenant(),
    };
    let decision = decide(&ctx, s(input, "to")?, |a| {
        agents.iter().any(|x| x == a.as_str())
    });
    let mut m = Map::new();
    m.insert("decision".into(), json!(decision.word()));
    if let Some(a) = decision.address() {
        m.insert("address".into(), json!(a.as_str()));
    }
    Ok(match decision {
        RouteDecision::Local { .. } => Got::plain(Ok(()), m),
        RouteDecision::Mesh { host, .. } => {
            m.insert("host".into(), json!(host));
            Got::plain(Ok(()), m)
        }
        RouteDecision::Federate { provider, .. } => {
            m.insert("provider".into(), json!(provider));
            Got::plain(Ok(()), m)
        }
        RouteDecision::Refuse(r) => {
            m.insert("status".into(), json!(r.status));
            m.insert("code".into(), json!(r.code));
            Got {
                accepted: Err(r.reason),
                outputs: m,
                two_readings: None,
                rule: Some(r.rule.to_string()),
                unobservable: &[],
            }
        }
    })
}
