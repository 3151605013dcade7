//! Route bodies as raw JSON text, and the send-then-observe step every message trial shares.
//!
//! A vector's payload must reach the provider exactly as the vector file writes it: key order,
//! number text (`1.0`, `1e21`, `-0`), escapes. A parsed `serde_json::Value` keeps no number
//! text (`1e2` comes back as `100.0`), so the body is assembled field by field from the raw
//! text amp-vectors keeps for every input.

use std::sync::Arc;

use amp_core::signing::{Priority, SigningFields};
use amp_core::{PayloadHash, PayloadProfile};
use amp_runner::{Agent, Ctx, Failure, Resp};
use serde_json::Value;

use super::Trial;
use super::pool::{DELIVERY_WAIT, Pool};
use super::verdict::Stop;

/// A JSON object written field by field; values are JSON text.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawBody(Vec<(String, String)>);

impl RawBody {
    /// A string field, JSON-encoded.
    pub fn string(mut self, k: &str, v: &str) -> RawBody {
        self.0.push((k.to_string(), json_string(v)));
        self
    }

    /// A field whose value is already JSON text (copied verbatim).
    pub fn raw(mut self, k: &str, json_text: &str) -> RawBody {
        self.0.push((k.to_string(), json_text.to_string()));
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut out = String::from("{");
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&json_string(k));
            out.push(':');
            out.push_str(v);
        }
        out.push('}');
        out.into_bytes()
    }
}

pub(crate) fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

/// The JSON text of member `key` of the JSON object text `object` (as written there).
pub(crate) fn raw_member(object: &str, key: &str) -> Option<String> {
    let map: std::collections::BTreeMap<String, &serde_json::value::RawValue> =
        serde_json::from_str(object).ok()?;
    map.get(key).map(|v| v.get().to_string())
}

/// A payload hash written in a vector, as amp-core's type.
pub(crate) fn payload_hash_text(text: &str) -> Result<PayloadHash, Stop> {
    serde_json::from_value(Value::String(text.to_string())).map_err(|e| {
        Stop::Failed(Failure::Error(format!(
            "the vector's payload hash {text:?} is not usable: {e}"
        )))
    })
}

/// The canonical signing string (SIG-007) over the given field texts. `priority` is taken as
/// written, so a vector's invalid priority can be signed too (the provider must refuse it).
pub(crate) fn canonical_text(
    from: &str,
    to: &str,
    subject: &str,
    priority: &str,
    in_reply_to: &str,
    hash: &PayloadHash,
) -> String {
    match priority.parse::<Priority>() {
        Ok(priority) => amp_core::canonical_string(&SigningFields {
            from,
            to,
            subject,
            priority,
            in_reply_to: Some(in_reply_to).filter(|s| !s.is_empty()),
            payload_hash: hash,
        }),
        Err(_) => format!(
            "{from}|{to}|{subject}|{priority}|{in_reply_to}|{}",
            hash.as_str()
        ),
    }
}

/// `POST /route` with exactly these bytes as `from`.
pub(crate) async fn route(ctx: &mut Ctx, from: &Agent, body: &RawBody) -> Result<Resp, Failure> {
    ctx.post_raw("/route", body.bytes(), "application/json", Some(from))
        .await
}

/// What became of a routed message.
pub(crate) enum Sent {
    /// Accepted and found in the recipient's pickup (the queue entry).
    Delivered(Value),
    /// Refused (not 2xx).
    Refused(Resp),
}

/// Route `body` from `from` to `to` and, when accepted, wait for the recipient's copy. An
/// accepted message that never shows up blocks the trial: delivery cannot be observed.
pub(crate) async fn send(
    ctx: &mut Ctx,
    pool: &Pool,
    from: &Agent,
    to: &Arc<Agent>,
    body: &RawBody,
) -> Result<Sent, Stop> {
    let resp = route(ctx, from, body).await?;
    if !resp.is_success() {
        return Ok(Sent::Refused(resp));
    }
    let id = crate::steps::routing::route_id(&resp)?;
    let want = id.clone();
    match pool
        .mailbox(to)
        .find(
            ctx,
            move |m| crate::steps::routing::entry_id(m) == Some(want.as_str()),
            DELIVERY_WAIT,
        )
        .await?
    {
        Some(entry) => Ok(Sent::Delivered(entry)),
        None => Err(Stop::Blocked(
            amp_runner::Prereq::DeliveryObservable,
            format!(
                "the provider accepted message {id} but it did not appear in the recipient's \
                 pickup within {} s, so what was delivered cannot be checked",
                DELIVERY_WAIT.as_secs()
            ),
        )),
    }
}

/// `status error` of a refusal, for messages.
pub(crate) fn answer(resp: &Resp) -> String {
    format!("HTTP {} {}", resp.status, resp.error_code().unwrap_or(""))
        .trim_end()
        .to_string()
}

/// Was a refusal a signature-verification failure (the provider computed another string)?
/// Judged by behaviour, not spelling: HTTP 403 whose code is absent or names the signature
/// (`signature_invalid` in the spec; e.g. `invalid_signature` elsewhere). Another spelling is
/// recorded once for the run as an error-code finding (API-008), like the hand-written cases do.
pub(crate) fn signature_refusal(ctx: &Ctx, resp: &Resp) -> bool {
    if !names_signature(resp.status, resp.error_code()) {
        return false;
    }
    if resp.error_code().is_some() {
        crate::steps::refusal::code_matches(ctx, resp, "signature_invalid", "SIG-010");
    }
    true
}

/// HTTP 403 with no code or a code about the signature (any spelling).
fn names_signature(status: u16, code: Option<&str>) -> bool {
    status == 403 && code.is_none_or(|c| c.to_ascii_lowercase().contains("signature"))
}

/// The payload hash of a delivered queue entry under `profile` (from its parsed payload: the
/// strict parser keeps key order and exact doubles, as the provider's copy has them).
pub(crate) fn delivered_hash(entry: &Value, profile: PayloadProfile) -> Result<String, String> {
    let payload = entry
        .get("payload")
        .ok_or("the delivered entry has no `payload`")?;
    amp_core::payload_hash(payload, profile)
        .map(|h| h.as_str().to_string())
        .map_err(|e| format!("the delivered payload cannot be hashed: {e}"))
}

/// `raw` (a payload or fields object as JSON text) can be judged under `profile`: not when
/// python-ascii meets a negative zero (see [`amp_vectors::contains_negative_zero`], C-03).
pub(crate) fn judged_under(profile: PayloadProfile, raw: &str) -> Result<(), Stop> {
    let negative_zero =
        serde_json::from_str::<Value>(raw).is_ok_and(|v| amp_vectors::contains_negative_zero(&v));
    if profile == PayloadProfile::PythonAscii && negative_zero {
        return Err(Stop::NotJudged(
            "python-ascii: -0 and -0.0 are one double once parsed, so this vector is not \
             judged under that profile (C-03)"
                .to_string(),
        ));
    }
    Ok(())
}

/// A subject no other message of the run carries: `vector <kind> <case> <unique>`.
pub(crate) fn unique_subject(ctx: &Ctx, t: &Trial) -> String {
    format!(
        "vector {} {} {}",
        t.kind(),
        t.case().id,
        ctx.unique_name("v")
    )
}

/// The other payload profiles under which the vector expects `key` (e.g. `hash`) to differ
/// from its value under `profile`: `(profile, value)`, in profile order.
pub(crate) fn alternatives(
    t: &Trial,
    profile: PayloadProfile,
    key: &str,
) -> Vec<(PayloadProfile, String)> {
    let case = t.case();
    let own = case
        .expectation_for(t.kind(), profile)
        .ok()
        .and_then(|(_, e)| e.get(key).and_then(Value::as_str).map(str::to_string));
    let mut out: Vec<(PayloadProfile, String)> = Vec::new();
    for q in PayloadProfile::ALL {
        let Ok((r, e)) = case.expectation_for(t.kind(), q) else {
            continue;
        };
        let Some(v) = e.get(key).and_then(Value::as_str) else {
            continue;
        };
        if q == profile
            || r != amp_vectors::Verdict::Valid
            || own.as_deref() == Some(v)
            || out.iter().any(|(_, x)| x == v)
        {
            continue;
        }
        out.push((q, v.to_string()));
    }
    out
}

/// The provider refused the run profile's signature but accepted the `other` profile's:
/// report the profile it follows once for the run, and warn on this trial.
pub(crate) fn follows_other_profile(
    ctx: &Ctx,
    profile: PayloadProfile,
    other: PayloadProfile,
    what: &str,
) -> amp_runner::Outcome {
    ctx.finding(
        format!("payload-profile:{other}"),
        "SIG-008",
        format!(
            "the provider verifies payload hashes under the `{other}` payload profile, not the \
             run's `{profile}` (C-01..C-04): run with --profile {other} to judge it under its own \
             reading; the trials whose hash differs between the two warn"
        ),
    );
    amp_runner::Outcome::Warn {
        reason: format!(
            "{what} was refused with the `{profile}` payload hash but accepted with the `{other}` \
             one: the provider follows `{other}` (one root cause for the run)"
        ),
        contradiction: None,
    }
}

#[cfg(test)]
mod tests {
    use super::names_signature;

    #[test]
    fn a_signature_refusal_is_judged_by_status_not_spelling() {
        assert!(names_signature(403, Some("signature_invalid")));
        assert!(
            names_signature(403, Some("invalid_signature")),
            "AI Maestro's spelling"
        );
        assert!(names_signature(403, None));
        assert!(!names_signature(403, Some("tenant_access_denied")));
        assert!(!names_signature(403, Some("key_revoked")));
        assert!(!names_signature(400, Some("invalid_signature")));
        assert!(!names_signature(422, Some("signature_missing")));
    }
}
