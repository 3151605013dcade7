//! `payload_hash` vectors live: a message whose payload is the vector's exact JSON text is
//! signed over the vector's payload hash (for the run's profile) and routed. A provider that
//! hashes the payload as the vector does verifies it; the recipient's copy must hash to the
//! same value (MSG-010: the payload arrives unchanged). A refusal is retried with the hash
//! other profiles give (C-01..C-04) to tell "follows another profile" (a warning, reported
//! once per run) from "hashes this payload like no profile" (the vector's deviation).

use amp_runner::{Ctx, Failure, Outcome};
use serde_json::Value;

use super::Trial;
use super::pool::Pool;
use super::verdict::{self, Stop, TrialResult};
use super::wire::{self, RawBody, Sent};

pub(super) async fn run(ctx: &mut Ctx, t: &Trial) -> amp_runner::CaseResult {
    verdict::finish(trial(ctx, t).await)
}

async fn trial(ctx: &mut Ctx, t: &Trial) -> TrialResult {
    let case = t.case();
    let profile = ctx.profile();
    let payload = t.input_raw("payload")?;
    wire::judged_under(profile, payload)?;
    let (_, expected) = case
        .expectation_for(t.kind(), profile)
        .map_err(Failure::Error)?;
    let hash = expected
        .get("hash")
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::Error(format!("{} has no expected hash", t.name())))?
        .to_string();
    let pool = Pool::of(ctx);
    let (from, to) = pool.pair(ctx).await?;
    let message = |ctx: &Ctx, hash: &str| -> Result<RawBody, Stop> {
        let subject = wire::unique_subject(ctx, t);
        let h = wire::payload_hash_text(hash)?;
        let canonical =
            wire::canonical_text(&from.address, &to.address, &subject, "normal", "", &h);
        Ok(RawBody::default()
            .string("to", &to.address)
            .string("subject", &subject)
            .raw("payload", payload)
            .string(
                "signature",
                &from.key.sign(canonical.as_bytes()).to_base64(),
            ))
    };
    ctx.note(format!(
        "payload sent as the vector's JSON text, signed over its {profile} hash {hash}"
    ));
    let body = message(ctx, &hash)?;
    match wire::send(ctx, &pool, &from, &to, &body).await? {
        Sent::Delivered(entry) => match wire::delivered_hash(&entry, profile) {
            Ok(h) if h == hash => Ok(Outcome::Pass),
            Ok(h) => verdict::deviation(
                t,
                format!(
                    "the message was accepted, but the payload delivered to the recipient hashes \
                     to {h} under {profile}, not the vector's {hash}: it was changed in transit \
                     (MSG-010)"
                ),
            ),
            Err(e) => verdict::fail(format!("the delivered copy is unusable: {e}")),
        },
        Sent::Refused(resp) if wire::signature_refusal(ctx, &resp) => {
            for (other, h) in wire::alternatives(t, profile, "hash") {
                let body = message(ctx, &h)?;
                ctx.note(format!("retrying signed over the {other} hash {h}"));
                if wire::route(ctx, &from, &body).await?.is_success() {
                    return Ok(wire::follows_other_profile(
                        ctx,
                        profile,
                        other,
                        "the payload",
                    ));
                }
            }
            verdict::deviation(
                t,
                format!(
                    "a message signed over the vector's {profile} payload hash {hash} was refused \
                     ({}): the provider hashes this payload differently",
                    wire::answer(&resp)
                ),
            )
        }
        Sent::Refused(resp) => verdict::deviation(
            t,
            format!(
                "a correctly signed message with this payload was refused ({}); the payload is \
                 valid JSON an AMP message may carry",
                wire::answer(&resp)
            ),
        ),
    }
}
