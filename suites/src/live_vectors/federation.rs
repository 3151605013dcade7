//! `federation_signature`, `replay` and `message_id` vectors live, through
//! `POST /federation/deliver`: the suite plays the run's federation peer (the provider must
//! trust its domain and key, `Need::FederationPeer`) forwarding a message from one of its
//! users to a recipient of the run.
//!
//! - `federation_signature`: the vector's provider signature is re-made with the peer's key for
//!   a real deliver body (how it was made is found as for message signatures: the same bytes,
//!   over the timestamp shifted, over Python `json.dumps` of the body, over the body alone; the
//!   text shape kept), at the vector's clock offset. Accepted iff the vector is valid; a stale
//!   timestamp accepted is a warning citing C-28 (the spec gives no window); an unpadded
//!   signature accepted is a lax reading (C-56).
//! - `replay`: an envelope with the vector's timestamp and `expires_at` offsets (and, for
//!   `seen_before`, a first delivery of the same id): fresh ones are accepted and delivered
//!   once; duplicate, future and expired ones refused. A stale timestamp accepted is
//!   informational: REPLAY-002 binds the final recipient, and relays legitimately hold
//!   messages for longer (C-45).
//! - `message_id`: an envelope carrying the vector's id: valid ids are accepted and delivered
//!   with the id unchanged, invalid ones refused; `acceptable` ids (C-12) either way.
//!
//! Clock offsets keep at least [`MARGIN`] seconds from every window edge so that clock skew
//! between the suite and the provider cannot flip a vector's class; vectors that sit exactly on
//! an edge are core-only.

use amp_core::signing::{SecretKey, Strictness};
use amp_core::{MessageId, PayloadProfile, payload_hash};
use amp_runner::{Agent, Ctx, Failure, Method, Outcome, Resp};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::Trial;
use super::pool::{DELIVERY_WAIT, Pool};
use super::sigtext::{Bytes, apply, data_values, relate, reshape, unpack};
use super::verdict::{self, Stop, TrialResult};
use super::wire;

/// Seconds kept between a live clock offset and any window edge.
const MARGIN: i64 = 5;
/// The freshness window the federation vectors assume for `X-AMP-Timestamp` (C-28).
const PROVIDER_WINDOW: i64 = 300;

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `offset` moved away from the edges of `[-future, past]` by [`MARGIN`], keeping its side:
/// inside stays inside (by the margin), outside stays outside (by the margin).
fn keep_class(offset: i64, past: i64, future: i64) -> i64 {
    // offset = now - timestamp: positive = in the past.
    if offset > past {
        offset.max(past + MARGIN)
    } else if offset < -future {
        offset.min(-future - MARGIN)
    } else {
        offset.clamp(-(future - MARGIN).max(0), (past - MARGIN).max(0))
    }
}

/// The suite as the run's federation peer, and a user of it.
struct Peer {
    provider: String,
    key: SecretKey,
    sender: String,
    sender_key: Arc<SecretKey>,
}

fn peer(ctx: &Ctx) -> Result<Peer, Stop> {
    let p = ctx
        .federation_peer()
        .ok_or_else(|| Stop::NotJudged("not judged: no federation peer configured".into()))?;
    Ok(Peer {
        provider: p.provider.clone(),
        key: SecretKey::from_seed(p.key_seed),
        sender: format!(
            "{}@{}.{}",
            ctx.unique_name("fedv"),
            ctx.tenant(),
            p.provider
        ),
        sender_key: Pool::of(ctx).peer_user_key(ctx),
    })
}

/// A deliver body: an envelope from the peer's user to `to`, signed by that user.
struct Draft {
    id: String,
    timestamp: String,
    expires_at: Option<String>,
    subject: String,
}

impl Draft {
    fn new(ctx: &Ctx, t: &Trial) -> Draft {
        let digest = Sha256::digest(ctx.unique_name("fedid").as_bytes());
        let mut random = [0u8; 8];
        random.copy_from_slice(&digest[..8]);
        let now = now_unix();
        Draft {
            id: MessageId::generate(u64::try_from(now).unwrap_or(0), random).into_string(),
            timestamp: amp_core::format_rfc3339(now),
            expires_at: None,
            subject: wire::unique_subject(ctx, t),
        }
    }

    fn body(&self, p: &Peer, to: &Agent, profile: PayloadProfile) -> Result<Vec<u8>, Stop> {
        let payload = json!({"type": "notification", "message": "federated vector"});
        let hash = payload_hash(&payload, profile)
            .map_err(|e| Failure::Error(format!("cannot hash the payload: {e}")))?;
        let canonical =
            wire::canonical_text(&p.sender, &to.address, &self.subject, "normal", "", &hash);
        let mut envelope = json!({
            "version": amp_core::PROTOCOL_VERSION,
            "id": self.id,
            "from": p.sender,
            "to": to.address,
            "subject": self.subject,
            "priority": "normal",
            "timestamp": self.timestamp,
            "signature": p.sender_key.sign(canonical.as_bytes()).to_base64(),
            "thread_id": self.id,
        });
        if let (Some(e), Some(o)) = (&self.expires_at, envelope.as_object_mut()) {
            o.insert("expires_at".into(), json!(e));
        }
        let body = json!({
            "envelope": envelope,
            "payload": payload,
            "sender_public_key": p.sender_key.public_key().to_spki_pem(),
        });
        serde_json::to_vec(&body)
            .map_err(|e| Stop::Failed(Failure::Error(format!("cannot serialise the body: {e}"))))
    }
}

async fn post(
    ctx: &mut Ctx,
    p: &Peer,
    bytes: Vec<u8>,
    timestamp: &str,
    signature: &str,
) -> Result<Resp, Failure> {
    let headers = [
        ("Content-Type", "application/json"),
        ("X-AMP-Provider", p.provider.as_str()),
        ("X-AMP-Timestamp", timestamp),
        ("X-AMP-Signature", signature),
    ];
    ctx.request(
        Method::POST,
        "/federation/deliver",
        &headers,
        Some(bytes),
        None,
    )
    .await
}

/// Deliver correctly signed by the peer at the current time.
async fn deliver(ctx: &mut Ctx, p: &Peer, bytes: Vec<u8>) -> Result<Resp, Failure> {
    let ts = now_unix().to_string();
    let sig = amp_core::sign_federation(&p.key, &ts, &bytes).to_base64();
    post(ctx, p, bytes, &ts, &sig).await
}

fn accepted(resp: &Resp) -> bool {
    resp.is_success() && resp.pointer("/accepted").and_then(Value::as_bool) != Some(false)
}

/// How many copies of envelope `id` reached `to` (waiting for the first when `expect`).
async fn copies(ctx: &mut Ctx, to: &Arc<Agent>, id: &str, expect: bool) -> Result<usize, Stop> {
    let pool = Pool::of(ctx);
    let mb = pool.mailbox(to);
    let want = id.to_string();
    let is = move |m: &Value| crate::steps::routing::entry_id(m) == Some(want.as_str());
    if expect {
        mb.find(ctx, &is, DELIVERY_WAIT).await?;
    }
    Ok(mb
        .matching_since(ctx, &is, std::time::Instant::now())
        .await?
        .len())
}

fn peer_refused(resp: &Resp) -> Stop {
    Stop::NotJudged(format!(
        "not judged: a correctly signed delivery from the configured peer was refused ({}) \
         (does the target trust the peer domain and key?)",
        wire::answer(resp)
    ))
}

// ------------------------------------------------------------------------------------------
// federation_signature
// ------------------------------------------------------------------------------------------

/// What the vector's provider signature covers, relative to its own timestamp and body.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Covers {
    /// `"<timestamp + shift>.<body>"`.
    Shifted(i64),
    /// `"<timestamp>.<json.dumps(body)>"` with Python's default separators.
    PythonDumps,
    /// The body alone.
    BodyOnly,
}

fn covers_bytes(c: Covers, ts: i64, body: &[u8]) -> Vec<u8> {
    match c {
        Covers::Shifted(d) => amp_core::federation_signing_bytes(&(ts + d).to_string(), body),
        Covers::PythonDumps => {
            let dumped = serde_json::from_slice::<Value>(body)
                .map(|v| crate::steps::federation::python_dumps(&v))
                .unwrap_or_default();
            amp_core::federation_signing_bytes(&ts.to_string(), dumped.as_bytes())
        }
        Covers::BodyOnly => body.to_vec(),
    }
}

/// Which of the file's keys made the signature, over what, changed how.
fn provider_recipe(
    t: &Trial,
    ts: i64,
    body: &[u8],
    text: &str,
) -> Option<(SecretKey, Covers, Bytes)> {
    let b = unpack(&data_values(text));
    let seeds = super::signature::test_seeds(t);
    let mut forms = vec![Covers::PythonDumps, Covers::BodyOnly];
    forms.extend((-2..=2).map(Covers::Shifted));
    for c in forms {
        let m = covers_bytes(c, ts, body);
        for seed in &seeds {
            let k = SecretKey::from_seed(*seed);
            if let Some(bytes) = relate(&b, &k.sign(&m).to_bytes()) {
                return Some((k, c, bytes));
            }
        }
    }
    None
}

pub(super) async fn run_signature(ctx: &mut Ctx, t: &Trial) -> amp_runner::CaseResult {
    verdict::finish(signature_trial(ctx, t).await)
}

async fn signature_trial(ctx: &mut Ctx, t: &Trial) -> TrialResult {
    let case = t.case();
    let i = &case.input;
    let num = |k: &str| i.get(k).and_then(Value::as_i64).unwrap_or(0);
    let (ts_v, now_v, window) = (num("timestamp"), num("now"), num("window_secs"));
    let text = t.input_str("signature")?;
    let body_v = t.input_str("body")?;
    let pk_v = t.input_str("public_key")?;
    let want = (t.expected_str("strict"), t.expected_str("lax"));
    let p = peer(ctx)?;
    let pool = Pool::of(ctx);
    let to = pool.recipient(ctx, 0).await?;
    let profile = ctx.profile();

    // The peer's key plays the vector's key; a different signing key stays different.
    let recipe = provider_recipe(t, ts_v, body_v.as_bytes(), text);
    let offset = keep_class(now_v - ts_v, window, window);
    let live_ts = now_unix() - offset;
    let bytes = Draft::new(ctx, t).body(&p, &to, profile)?;
    let live_text = match &recipe {
        Some((key, covers, change)) => {
            let signer = if key.public_key().to_hex() == pk_v {
                &p.key
            } else {
                key
            };
            let fresh = signer
                .sign(&covers_bytes(*covers, live_ts, &bytes))
                .to_bytes();
            ctx.note(format!(
                "vector provider signature: {covers:?}, bytes {change:?}; re-made with the peer key"
            ));
            reshape(text, &unpack(&data_values(text)), &apply(change, &fresh))
                .unwrap_or_else(|| text.to_string())
        }
        None => text.to_string(),
    };
    let live_ts_text = live_ts.to_string();
    // Guard: amp-core must give the live request the vector's verdicts.
    let peer_pk = p.key.public_key();
    let judge = |st, w| {
        amp_core::verify_federation(
            &peer_pk,
            &live_ts_text,
            &bytes,
            &live_text,
            now_unix(),
            w,
            st,
        )
        .is_ok()
    };
    let got = (
        judge(Strictness::Strict, window),
        judge(Strictness::Lax, window),
    );
    let words = (
        if got.0 { "valid" } else { "invalid" },
        if got.1 { "valid" } else { "invalid" },
    );
    if words != want {
        return verdict::not_judged(format!(
            "the vector's provider signature could not be re-made with the peer key keeping its \
             verdicts (strict {}, lax {})",
            want.0, want.1
        ));
    }
    let stale_only = !got.1 && judge(Strictness::Lax, i64::MAX / 4);
    ctx.note(format!(
        "X-AMP-Timestamp {live_ts_text} ({offset} s before now), signature {live_text:?}"
    ));
    let resp = post(ctx, &p, bytes, &live_ts_text, &live_text).await?;
    match (case.result, accepted(&resp)) {
        (amp_vectors::Verdict::Valid, true) => Ok(Outcome::Pass),
        (amp_vectors::Verdict::Valid, false) => verdict::deviation(
            t,
            format!(
                "a correctly signed, fresh delivery from the peer was refused ({})",
                wire::answer(&resp)
            ),
        ),
        (_, false) if (400..500).contains(&resp.status) => Ok(Outcome::Pass),
        (_, false) => verdict::fail(format!(
            "a delivery the vector refuses must be answered with a 4xx, got {}",
            wire::answer(&resp)
        )),
        (_, true) if stale_only => Ok(Outcome::Warn {
            reason: format!(
                "a delivery whose X-AMP-Timestamp is {offset} s off was accepted; the vectors \
                 assume a {PROVIDER_WINDOW} s window (the spec gives none)"
            ),
            contradiction: Some("C-28"),
        }),
        (amp_vectors::Verdict::Acceptable, true) => {
            verdict::lax_acceptance(t, format!("the provider signature {live_text:?}"))
        }
        (_, true) => verdict::deviation(
            t,
            "a delivery whose provider signature does not verify was accepted (FED-003)",
        ),
    }
}

// ------------------------------------------------------------------------------------------
// replay
// ------------------------------------------------------------------------------------------

/// An RFC 3339 text for `unix` in the form of `like` (its UTC offset and fraction digits).
fn same_form(like: &str, unix: i64) -> String {
    let (offset_text, offset_secs) = match like.rfind(['+', '-']).filter(|i| *i > 10) {
        Some(i) => {
            let o = &like[i..];
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let h: i64 = o.get(1..3).and_then(|x| x.parse().ok()).unwrap_or(0);
            let m: i64 = o.get(4..6).and_then(|x| x.parse().ok()).unwrap_or(0);
            (o.to_string(), sign * (h * 3600 + m * 60))
        }
        None => ("Z".to_string(), 0),
    };
    let fraction = like
        .find('.')
        .map(|i| {
            like[i..]
                .chars()
                .take_while(|c| *c == '.' || c.is_ascii_digit())
                .collect::<String>()
        })
        .unwrap_or_default();
    let base = amp_core::format_rfc3339(unix + offset_secs);
    format!("{}{fraction}{offset_text}", base.trim_end_matches('Z'))
}

pub(super) async fn run_replay(ctx: &mut Ctx, t: &Trial) -> amp_runner::CaseResult {
    verdict::finish(replay_trial(ctx, t).await)
}

async fn replay_trial(ctx: &mut Ctx, t: &Trial) -> TrialResult {
    let case = t.case();
    let i = &case.input;
    let time = |k: &str| -> Option<(String, i64)> {
        let text = i.get(k)?.as_str()?;
        Some((text.to_string(), amp_core::parse_rfc3339(text).ok()?))
    };
    let policy = i.get("policy").cloned().unwrap_or(Value::Null);
    let pol = |k: &str| policy.get(k).and_then(Value::as_i64).unwrap_or(0);
    let (max_age, max_future) = (pol("max_age_secs"), pol("max_future_secs"));
    let (Some((ts_text, ts_v)), Some((_, now_v))) = (time("timestamp"), time("now")) else {
        return Err(Failure::Error(format!("{}: timestamp/now unreadable", t.name())).into());
    };
    let decision = case
        .expected
        .get("decision")
        .and_then(Value::as_str)
        .unwrap_or("");
    let seen = i
        .get("seen_before")
        .and_then(Value::as_bool)
        .unwrap_or(false);

    let p = peer(ctx)?;
    let pool = Pool::of(ctx);
    let to = pool.recipient(ctx, 1).await?;
    let now = now_unix();
    let mut d = Draft::new(ctx, t);
    d.timestamp = same_form(
        &ts_text,
        now - keep_class(now_v - ts_v, max_age, max_future),
    );
    if let Some((e_text, e_v)) = time("expires_at") {
        // Expired means `expires_at <= now`; keep it clear of `now` by the margin.
        let ahead = e_v - now_v;
        let live = if ahead <= 0 {
            ahead.min(-MARGIN)
        } else {
            ahead.max(MARGIN)
        };
        d.expires_at = Some(same_form(&e_text, now + live));
    }
    ctx.note(format!(
        "envelope timestamp {} (vector {}), expires_at {:?}",
        d.timestamp, ts_text, d.expires_at
    ));
    let profile = ctx.profile();
    if seen {
        let first = deliver(ctx, &p, d.body(&p, &to, profile)?).await?;
        if !accepted(&first) {
            return Err(peer_refused(&first));
        }
    }
    let resp = deliver(ctx, &p, d.body(&p, &to, profile)?).await?;
    let ok = accepted(&resp);
    let n = copies(ctx, &to, &d.id, ok || seen).await?;
    match decision {
        "accept" if ok && n == 1 => Ok(Outcome::Pass),
        "accept" if ok => verdict::fail(format!(
            "the envelope was accepted and delivered {n} times; exactly once is expected \
             (REPLAY-005)"
        )),
        "accept" => verdict::deviation(
            t,
            format!(
                "a fresh, correctly signed envelope was refused ({})",
                wire::answer(&resp)
            ),
        ),
        "stale" if ok => Ok(Outcome::Info(format!(
            "an envelope whose timestamp is {} s old was accepted: REPLAY-002 binds the final \
             recipient, and relays may hold messages longer (C-45)",
            now_v - ts_v
        ))),
        _ if ok && n > usize::from(seen) => verdict::deviation(
            t,
            format!(
                "the envelope ({decision} per the vector) was accepted ({}) and delivered {n} \
                 time(s)",
                wire::answer(&resp)
            ),
        ),
        _ if ok => verdict::deviation(
            t,
            format!(
                "the envelope ({decision} per the vector) was accepted ({})",
                wire::answer(&resp)
            ),
        ),
        _ if (400..500).contains(&resp.status) => Ok(Outcome::Pass),
        _ => verdict::fail(format!(
            "a {decision} envelope must be refused with a 4xx, got {}",
            wire::answer(&resp)
        )),
    }
}

// ------------------------------------------------------------------------------------------
// message_id
// ------------------------------------------------------------------------------------------

pub(super) async fn run_message_id(ctx: &mut Ctx, t: &Trial) -> amp_runner::CaseResult {
    verdict::finish(message_id_trial(ctx, t).await)
}

async fn message_id_trial(ctx: &mut Ctx, t: &Trial) -> TrialResult {
    let case = t.case();
    let id = t.input_str("id")?;
    let p = peer(ctx)?;
    let pool = Pool::of(ctx);
    let to = pool.recipient(ctx, 2).await?;
    let mut d = Draft::new(ctx, t);
    d.id = id.to_string();
    let resp = deliver(ctx, &p, d.body(&p, &to, ctx.profile())?).await?;
    let ok = accepted(&resp);
    match case.result {
        amp_vectors::Verdict::Invalid if !ok && (400..500).contains(&resp.status) => {
            Ok(Outcome::Pass)
        }
        amp_vectors::Verdict::Invalid if !ok => verdict::fail(format!(
            "an envelope with a malformed id must be refused with a 4xx, got {}",
            wire::answer(&resp)
        )),
        amp_vectors::Verdict::Invalid => verdict::deviation(
            t,
            format!(
                "an envelope with the malformed id {id:?} was accepted ({})",
                wire::answer(&resp)
            ),
        ),
        amp_vectors::Verdict::Valid if !ok => verdict::deviation(
            t,
            format!(
                "an envelope with the well-formed id {id:?} was refused ({})",
                wire::answer(&resp)
            ),
        ),
        amp_vectors::Verdict::Acceptable if !ok => Ok(Outcome::Info(format!(
            "the id {id:?}, valid only under the schema regex, was refused ({}): the strict \
             reading of C-12",
            wire::answer(&resp)
        ))),
        _ => match copies(ctx, &to, id, true).await? {
            1 => Ok(Outcome::Pass),
            0 => Err(Stop::Blocked(
                amp_runner::Prereq::DeliveryObservable,
                format!(
                    "the envelope with id {id:?} was accepted but not found in the recipient's \
                     pickup by that id"
                ),
            )),
            n => verdict::fail(format!(
                "the envelope with id {id:?} was delivered {n} times (REPLAY-005)"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_offsets_keep_their_class_with_a_margin() {
        assert_eq!(keep_class(301, 300, 300), 305);
        assert_eq!(keep_class(-301, 300, 300), -305);
        assert_eq!(keep_class(10, 300, 60), 10);
        assert_eq!(keep_class(299, 300, 60), 295);
        assert_eq!(keep_class(-60, 300, 60), -55);
        assert_eq!(keep_class(86_400, 300, 60), 86_400);
    }

    #[test]
    fn timestamps_keep_their_written_form() {
        assert_eq!(
            same_form("2026-01-01T11:59:50Z", 1_767_225_600),
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(
            same_form("2026-01-01T13:59:50+02:00", 1_767_225_600),
            "2026-01-01T02:00:00+02:00"
        );
        assert_eq!(
            same_form("2026-01-01T11:59:59.250Z", 1_767_225_600),
            "2026-01-01T00:00:00.250Z"
        );
        let t = same_form("2026-01-01T13:59:50+02:00", 1_767_225_600);
        assert_eq!(amp_core::parse_rfc3339(&t).ok(), Some(1_767_225_600));
    }

    #[test]
    fn every_federation_signature_vector_has_a_recipe_or_is_a_foreign_signature() {
        for t in super::super::corpus_trials(amp_vectors::Kind::FederationSignature) {
            let i = &t.case().input;
            let r = provider_recipe(
                &t,
                i["timestamp"].as_i64().unwrap_or(0),
                i["body"].as_str().unwrap_or("").as_bytes(),
                i["signature"].as_str().unwrap_or(""),
            );
            // fed-002 signs another body: no recipe, sent verbatim (it cannot verify).
            assert_eq!(
                r.is_none(),
                t.case().id == "fed-002",
                "{}: {r:?}",
                t.case().id
            );
        }
    }
}
