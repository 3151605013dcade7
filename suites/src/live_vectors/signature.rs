//! `signature` vectors live. A vector's signature was made over its own example addresses, so
//! it cannot be sent as is: the provider checks it against the run's agents. Instead the trial
//! finds how the vector's signature text was made (which test key, over which fields and
//! profile, plain / pre-hashed / with a trailing newline; then S+L, flipped bits, a truncated
//! or extended byte string; then the text shape: alphabet, padding, whitespace, unused bits)
//! and makes the same thing for the run's agents: an agent registered with the vector's public
//! key sends the vector's fields with the re-made signature. Before sending, amp-core must give
//! the re-made signature the vector's strict and lax verdicts, or the trial is blocked (the
//! mapping would have changed the vector's meaning). A text with no recognised origin (not
//! base64 at all) is sent verbatim.
//!
//! Judgement: valid → accepted and delivered with the signature byte for byte (SIG-011);
//! invalid → refused; acceptable (lax-only, C-56) → refused, or a warning when accepted.

use std::sync::Arc;

use amp_core::signing::{PublicKey, SecretKey, Strictness};
use amp_core::{PayloadProfile, payload_hash};
use amp_runner::{Agent, Ctx, Failure, Outcome};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::Trial;
use super::mapping::case_like;
use super::pool::Pool;
use super::sigtext::{Bytes, apply, data_values, relate, reshape, unpack};
use super::verdict::{self, Stop, TrialResult};
use super::wire::{self, RawBody, Sent};

pub(super) async fn run(ctx: &mut Ctx, t: &Trial) -> amp_runner::CaseResult {
    verdict::finish(trial(ctx, t).await)
}

// ------------------------------------------------------------------------------------------
// How the vector's signature was made
// ------------------------------------------------------------------------------------------

/// Which fields a signature covers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Over {
    /// The fields presented.
    Fields,
    /// `signed_fields` (the vector altered the fields after signing).
    Signed,
}

/// What is signed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Message {
    Canonical,
    /// SHA-256 of the canonical string (a pre-hash, SIG-010).
    PreHashed,
    /// The canonical string plus `\n`.
    Newline,
}

/// The recipe of a vector signature.
#[derive(Debug, Clone)]
struct Recipe {
    /// Seed of the test key that signed (the file's public test keys).
    seed: [u8; 32],
    over: Over,
    profile: PayloadProfile,
    message: Message,
    bytes: Bytes,
}

fn message_bytes(canonical: &str, m: Message) -> Vec<u8> {
    match m {
        Message::Canonical => canonical.as_bytes().to_vec(),
        Message::PreHashed => Sha256::digest(canonical.as_bytes()).to_vec(),
        Message::Newline => format!("{canonical}\n").into_bytes(),
    }
}

/// The signing fields of a vector object as amp-core reads them, with the payload hashed under
/// `profile`: `(from, to, subject, priority, in_reply_to, hash)` joined by `|`.
fn canonical_of(fields: &Map<String, Value>, profile: PayloadProfile) -> Option<String> {
    let s = |k: &str| fields.get(k).and_then(Value::as_str);
    let hash = match fields.get("payload_hash").and_then(Value::as_str) {
        Some(h) => wire::payload_hash_text(h).ok()?,
        None => payload_hash(fields.get("payload")?, profile).ok()?,
    };
    Some(wire::canonical_text(
        s("from")?,
        s("to")?,
        s("subject")?,
        s("priority").unwrap_or("normal"),
        s("in_reply_to").unwrap_or(""),
        &hash,
    ))
}

/// The seeds of the file's public test keys (`keys.*.seed_hex`).
pub(super) fn test_seeds(t: &Trial) -> Vec<[u8; 32]> {
    t.file
        .keys
        .values()
        .filter_map(|k| k.get("seed_hex")?.as_str())
        .filter_map(|h| <[u8; 32]>::try_from(hex::decode(h).ok()?).ok())
        .collect()
}

/// Search the file's test keys, both field sets, every profile and message form for the
/// signature's origin.
fn recipe(t: &Trial) -> Option<Recipe> {
    let input = &t.case().input;
    let text = input.get("signature")?.as_str()?;
    let b = unpack(&data_values(text));
    let fields = input.get("fields")?.as_object()?;
    let signed = input.get("signed_fields").and_then(Value::as_object);
    let seeds = test_seeds(t);
    for over in [Over::Fields, Over::Signed] {
        let Some(f) = (match over {
            Over::Fields => Some(fields),
            Over::Signed => signed,
        }) else {
            continue;
        };
        for profile in PayloadProfile::ALL {
            let Some(canonical) = canonical_of(f, profile) else {
                continue;
            };
            for message in [Message::Canonical, Message::PreHashed, Message::Newline] {
                let m = message_bytes(&canonical, message);
                for seed in &seeds {
                    let s = SecretKey::from_seed(*seed).sign(&m).to_bytes();
                    if let Some(bytes) = relate(&b, &s) {
                        return Some(Recipe {
                            seed: *seed,
                            over,
                            profile,
                            message,
                            bytes,
                        });
                    }
                }
            }
        }
    }
    None
}

// ------------------------------------------------------------------------------------------
// The live message
// ------------------------------------------------------------------------------------------

/// The vector's fields with its example addresses replaced: `from` is the sending agent, `to`
/// the recipient (case pattern kept), any other address an unregistered one of the run.
struct Retarget<'a> {
    from_vec: &'a str,
    to_vec: &'a str,
    from: &'a str,
    to: &'a str,
    stranger: String,
}

impl Retarget<'_> {
    fn address(&self, a: &str) -> String {
        if a == self.from_vec {
            self.from.to_string()
        } else if a.eq_ignore_ascii_case(self.to_vec) {
            case_like(a, self.to)
        } else if a.eq_ignore_ascii_case(self.from_vec) {
            case_like(a, self.from)
        } else {
            self.stranger.clone()
        }
    }

    fn fields(&self, f: &Map<String, Value>) -> Map<String, Value> {
        let mut out = f.clone();
        for k in ["from", "to"] {
            if let Some(a) = f.get(k).and_then(Value::as_str) {
                out.insert(k.into(), Value::String(self.address(a)));
            }
        }
        out
    }
}

struct Live {
    text: String,
    to: String,
}

/// The vector's signature made for the run's agents (or sent verbatim when its origin is
/// unknown); `None` when the shape cannot be reproduced.
fn remake(t: &Trial, recipe: Option<&Recipe>, rt: &Retarget<'_>) -> Option<Live> {
    let input = &t.case().input;
    let text = input.get("signature")?.as_str()?;
    let fields = rt.fields(input.get("fields")?.as_object()?);
    let to = fields.get("to")?.as_str()?.to_string();
    let Some(r) = recipe else {
        return Some(Live {
            text: text.to_string(),
            to,
        });
    };
    let over = match r.over {
        Over::Fields => fields.clone(),
        Over::Signed => rt.fields(input.get("signed_fields")?.as_object()?),
    };
    let canonical = canonical_of(&over, r.profile)?;
    let fresh = SecretKey::from_seed(r.seed)
        .sign(&message_bytes(&canonical, r.message))
        .to_bytes();
    let vector_bytes = unpack(&data_values(text));
    let live_bytes = apply(&r.bytes, &fresh);
    let text = reshape(text, &vector_bytes, &live_bytes)?;
    Some(Live { text, to })
}

/// amp-core's (strict, lax) verdicts of `text` over the live fields under `profile`.
fn verdicts(
    pk: &PublicKey,
    fields: &Map<String, Value>,
    text: &str,
    p: PayloadProfile,
) -> (bool, bool) {
    match canonical_of(fields, p) {
        Some(c) => (
            amp_core::verify(pk, c.as_bytes(), text, Strictness::Strict).is_ok(),
            amp_core::verify(pk, c.as_bytes(), text, Strictness::Lax).is_ok(),
        ),
        None => (false, false),
    }
}

fn word(ok: bool) -> &'static str {
    if ok { "valid" } else { "invalid" }
}

async fn trial(ctx: &mut Ctx, t: &Trial) -> TrialResult {
    let case = t.case();
    let profile = ctx.profile();
    let (result, expected) = case
        .expectation_for(t.kind(), profile)
        .map_err(Failure::Error)?;
    let word_of = |k: &str| expected.get(k).and_then(Value::as_str).unwrap_or("");
    let want = (word_of("strict"), word_of("lax"));
    let input = &case.input;
    let pk_hex = t.input_str("public_key")?;
    let pk = PublicKey::from_hex(pk_hex)
        .map_err(|e| Failure::Error(format!("{}: public_key: {e}", t.name())))?;
    let fields_vec = input
        .get("fields")
        .and_then(Value::as_object)
        .ok_or_else(|| Failure::Error(format!("{} has no fields", t.name())))?;
    let raw_fields = t.input_raw("fields")?;
    wire::judged_under(profile, raw_fields)?;
    let recipe = recipe(t);
    ctx.note(match &recipe {
        Some(r) => format!(
            "vector signature origin: {:?} over {:?} fields ({}), bytes {:?}; re-made for the \
             run's agents",
            r.message, r.over, r.profile, r.bytes
        ),
        None => "vector signature has no recognised origin: sent verbatim".to_string(),
    });

    let pool = Pool::of(ctx);
    let pem = pk.to_spki_pem();
    let sender = match pool.keyed(ctx, pk_hex, &pem).await {
        Ok(a) => a,
        Err(Stop::Blocked(_, why)) if pk.is_weak() => {
            return verdict::not_judged(format!(
                "{why}; refusing a small-order key is what REG-006 asks, so no message can be \
                 signed with it here"
            ));
        }
        Err(e) => return Err(e),
    };
    let stranger = format!("{}@{}", ctx.unique_name("stranger"), {
        let a = &sender.address;
        a.split_once('@')
            .map(|x| x.1.to_string())
            .unwrap_or_default()
    });
    let s = |k: &str| fields_vec.get(k).and_then(Value::as_str).unwrap_or("");
    // Try the pool's recipients until the re-made signature keeps the vector's verdicts (a
    // URL-safe variant needs a signature with `+` or `/` to differ from the standard text).
    let mut chosen: Option<(Arc<Agent>, Live)> = None;
    for n in 0..4 {
        let to = pool.recipient(ctx, n).await?;
        let rt = Retarget {
            from_vec: s("from"),
            to_vec: s("to"),
            from: &sender.address,
            to: &to.address,
            stranger: stranger.clone(),
        };
        let Some(live) = remake(t, recipe.as_ref(), &rt) else {
            continue;
        };
        let got = verdicts(&pk, &rt.fields(fields_vec), &live.text, profile);
        if (word(got.0), word(got.1)) == want {
            chosen = Some((to, live));
            break;
        }
    }
    let Some((recipient, live)) = chosen else {
        return verdict::not_judged(
            "the vector's signature could not be re-made for the run's agents with the vector's \
             strict and lax verdicts",
        );
    };

    let mut body = RawBody::default().string("to", &live.to);
    for k in ["subject", "priority", "in_reply_to", "payload"] {
        if let Some(v) = wire::raw_member(raw_fields, k) {
            body = body.raw(k, &v);
        }
    }
    body = body.string("signature", &live.text);
    if let Some(unsigned) = case.raw("unsigned") {
        for k in [
            "id",
            "timestamp",
            "thread_id",
            "expires_at",
            "idempotency_key",
        ] {
            if let Some(v) = wire::raw_member(unsigned, k) {
                body = body.raw(k, &v);
            }
        }
    }
    ctx.note(format!("signature sent: {:?}", live.text));
    let sent = wire::send(ctx, &pool, &sender, &recipient, &body).await?;
    match (result, sent) {
        (amp_vectors::Verdict::Valid, Sent::Delivered(entry)) => {
            let delivered = entry.pointer("/envelope/signature").and_then(Value::as_str);
            if delivered == Some(live.text.as_str()) {
                Ok(Outcome::Pass)
            } else {
                verdict::deviation(
                    t,
                    format!(
                        "the signature was accepted but delivered as {delivered:?} instead of the \
                         submitted text byte for byte (SIG-011)"
                    ),
                )
            }
        }
        (amp_vectors::Verdict::Valid, Sent::Refused(resp)) => verdict::deviation(
            t,
            format!(
                "a signature that verifies strictly was refused ({})",
                wire::answer(&resp)
            ),
        ),
        (_, Sent::Refused(resp)) if (400..500).contains(&resp.status) => Ok(Outcome::Pass),
        (_, Sent::Refused(resp)) => verdict::fail(format!(
            "a signature that does not verify must be refused with a 4xx, got {}",
            wire::answer(&resp)
        )),
        (amp_vectors::Verdict::Acceptable, Sent::Delivered(_)) => {
            verdict::lax_acceptance(t, format!("the signature text {:?}", live.text))
        }
        (_, Sent::Delivered(_)) => verdict::deviation(
            t,
            format!(
                "a signature that does not verify (strict {}, lax {}) was accepted and delivered",
                want.0, want.1
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(id: &str) -> Trial {
        super::super::corpus_trials(amp_vectors::Kind::Signature)
            .into_iter()
            .find(|t| t.case().id == id)
            .expect("case")
    }

    #[test]
    fn every_signature_vector_is_re_made_with_its_verdicts() {
        let mut unknown = Vec::new();
        for t in super::super::corpus_trials(amp_vectors::Kind::Signature) {
            let case = t.case();
            let r = recipe(&t);
            let pk_hex = case.input["public_key"].as_str().unwrap_or("");
            let pk = PublicKey::from_hex(pk_hex).expect("vector key");
            if r.is_none() {
                unknown.push(case.id.clone());
            }
            let (from_vec, to_vec) = (
                case.input["fields"]["from"].as_str().unwrap_or(""),
                case.input["fields"]["to"].as_str().unwrap_or(""),
            );
            let fields_vec = case.input["fields"].as_object().expect("fields");
            for profile in [PayloadProfile::Sorted, PayloadProfile::Insertion] {
                let (_, exp) = case
                    .expectation_for(amp_vectors::Kind::Signature, profile)
                    .expect("expectation");
                let want = (
                    exp["strict"].as_str().unwrap(),
                    exp["lax"].as_str().unwrap(),
                );
                // Several recipients, as the trial does: a URL-safe variant of a signature
                // without `+`/`/` is the standard text.
                let ok = (1..=4).any(|n| {
                    let to = format!("rcpt-{n}@t1.amp-mock.test");
                    let rt = Retarget {
                        from_vec,
                        to_vec,
                        from: "sender-1@t1.amp-mock.test",
                        to: &to,
                        stranger: "stranger-1@t1.amp-mock.test".into(),
                    };
                    let Some(live) = remake(&t, r.as_ref(), &rt) else {
                        return false;
                    };
                    let got = verdicts(&pk, &rt.fields(fields_vec), &live.text, profile);
                    (word(got.0), word(got.1)) == want
                });
                // Crafted small-order signatures only carry over by luck.
                if !case.flags.iter().any(|f| f == "small-order") {
                    assert!(
                        ok,
                        "{} under {profile}: verdicts not kept ({:?})",
                        case.id, r
                    );
                }
            }
        }
        // Only texts with no signature inside (and crafted small-order ones) have no recipe.
        for id in &unknown {
            assert!(
                [
                    "sig-031", "sig-033", "sig-034", "sig-051", "sig-052", "sig-053"
                ]
                .contains(&id.as_str()),
                "no recipe for {id}"
            );
        }
    }

    #[test]
    fn reshape_keeps_alphabet_padding_whitespace_and_unused_bits() {
        let t = trial("sig-047");
        let r = recipe(&t).expect("recipe");
        assert_eq!(r.bytes, Bytes::Same);
        let text = "AB+/AB+/\nAB==";
        let bytes = unpack(&data_values(text));
        let live = reshape(text, &bytes, &[0xff; 7]).expect("same length");
        assert_eq!(live.len(), text.len());
        assert_eq!(&live[8..9], "\n");
        assert!(live.ends_with("=="));
        assert_eq!(case_like("Bob@acme.io", "rcpt@t.example"), "Rcpt@t.example");
        assert_eq!(case_like("BOB", "rcpt"), "RCPT");
    }
}
