//! `canonical_string` vectors live: a message with the vector's subject, priority,
//! in_reply_to (absent, null or text, as written) and payload (its exact JSON text) is signed
//! over the vector's canonical string with the run's own `from`/`to` in place of the
//! vector's. A valid vector must be accepted and delivered so that the canonical string
//! rebuilt from the delivered envelope and payload is the one signed (SIG-012: the recipient
//! can verify); an invalid one (unknown priority) must be refused.

use amp_runner::{Ctx, Failure, Outcome};
use serde_json::Value;

use super::Trial;
use super::pool::Pool;
use super::verdict::{self, Stop, TrialResult};
use super::wire::{self, RawBody, Sent};

pub(super) async fn run(ctx: &mut Ctx, t: &Trial) -> amp_runner::CaseResult {
    verdict::finish(trial(ctx, t).await)
}

/// The vector's canonical string with its own `from|to|` replaced by the run's.
fn retarget(t: &Trial, canonical: &str, from: &str, to: &str) -> Result<String, Failure> {
    let prefix = format!("{}|{}|", t.input_str("from")?, t.input_str("to")?);
    canonical
        .strip_prefix(&prefix)
        .map(|rest| format!("{from}|{to}|{rest}"))
        .ok_or_else(|| {
            Failure::Error(format!(
                "{}: the expected canonical string does not start with `{prefix}`",
                t.name()
            ))
        })
}

async fn trial(ctx: &mut Ctx, t: &Trial) -> TrialResult {
    let case = t.case();
    let profile = ctx.profile();
    let payload = t.input_raw("payload")?;
    wire::judged_under(profile, payload)?;
    let (result, expected) = case
        .expectation_for(t.kind(), profile)
        .map_err(Failure::Error)?;
    let pool = Pool::of(ctx);
    let (from, to) = pool.pair(ctx).await?;
    let body = |canonical: &str| {
        let mut b = RawBody::default()
            .string("to", &to.address)
            .raw("subject", case.raw("subject").unwrap_or("\"\""));
        for k in ["priority", "in_reply_to"] {
            if let Some(v) = case.raw(k) {
                b = b.raw(k, v);
            }
        }
        b.raw("payload", payload).string(
            "signature",
            &from.key.sign(canonical.as_bytes()).to_base64(),
        )
    };

    if result != amp_vectors::Verdict::Valid {
        // No canonical string exists (an unknown priority): sign the text a careless provider
        // would build; a correct one refuses the field before looking at the signature.
        let hash = amp_core::payload_hash(
            &serde_json::from_str::<Value>(payload).unwrap_or(Value::Null),
            profile,
        )
        .map_err(|e| Failure::Error(format!("cannot hash the vector's payload: {e}")))?;
        let text = wire::canonical_text(
            &from.address,
            &to.address,
            t.input_str("subject")?,
            case.input
                .get("priority")
                .and_then(Value::as_str)
                .unwrap_or("normal"),
            case.input
                .get("in_reply_to")
                .and_then(Value::as_str)
                .unwrap_or(""),
            &hash,
        );
        let resp = wire::route(ctx, &from, &body(&text)).await?;
        return if (400..500).contains(&resp.status) {
            Ok(Outcome::Pass)
        } else {
            verdict::deviation(
                t,
                format!(
                    "a message the vector says has no canonical string was answered {}; it must \
                     be refused",
                    wire::answer(&resp)
                ),
            )
        };
    }

    let vector_canonical = expected
        .get("canonical")
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::Error(format!("{} has no expected canonical", t.name())))?;
    let signed = retarget(t, vector_canonical, &from.address, &to.address)?;
    ctx.note(format!("signed over: {signed}"));
    match wire::send(ctx, &pool, &from, &to, &body(&signed)).await? {
        Sent::Delivered(entry) => {
            let rebuilt = rebuild(&entry, profile).map_err(|e| {
                Stop::Failed(Failure::Fail(format!(
                    "the delivered message cannot be rebuilt into a canonical string: {e} \
                     (SIG-012)"
                )))
            })?;
            if rebuilt == signed {
                Ok(Outcome::Pass)
            } else {
                verdict::deviation(
                    t,
                    format!(
                        "the delivered message gives the canonical string `{rebuilt}`, but the \
                         sender signed `{signed}`: the recipient cannot verify it (SIG-012)"
                    ),
                )
            }
        }
        Sent::Refused(resp) if wire::signature_refusal(ctx, &resp) => {
            for (other, text) in wire::alternatives(t, profile, "canonical") {
                let retargeted = retarget(t, &text, &from.address, &to.address)?;
                ctx.note(format!("retrying signed under {other}: {retargeted}"));
                if wire::route(ctx, &from, &body(&retargeted))
                    .await?
                    .is_success()
                {
                    return Ok(wire::follows_other_profile(
                        ctx,
                        profile,
                        other,
                        "the message",
                    ));
                }
            }
            verdict::deviation(
                t,
                format!(
                    "a message signed over the vector's canonical string was refused ({}): the \
                     provider builds another string from these fields",
                    wire::answer(&resp)
                ),
            )
        }
        Sent::Refused(resp) => verdict::deviation(
            t,
            format!(
                "a correctly signed message with these fields was refused ({})",
                wire::answer(&resp)
            ),
        ),
    }
}

/// The canonical string a recipient builds from a delivered queue entry (SIG-012).
fn rebuild(entry: &Value, profile: amp_core::PayloadProfile) -> Result<String, String> {
    let env = entry.get("envelope").ok_or("no `envelope`")?;
    let s = |k: &str| env.get(k).and_then(Value::as_str);
    let hash = amp_core::payload_hash(entry.get("payload").ok_or("no `payload`")?, profile)
        .map_err(|e| format!("the payload cannot be hashed: {e}"))?;
    Ok(wire::canonical_text(
        s("from").ok_or("no envelope.from")?,
        s("to").ok_or("no envelope.to")?,
        s("subject").ok_or("no envelope.subject")?,
        s("priority").unwrap_or("normal"),
        s("in_reply_to").unwrap_or(""),
        &hash,
    ))
}
