//! Probes: each [`Prereq`] is established once per run, on first need, with its own
//! transcript. A case whose prerequisite failed is `blocked` instead of failing its own clause
//! for a cause it never tested; the failed probe becomes one root cause in the report.
//!
//! Probes run through a [`Ctx`] of their own (id `probe.<prereq>`), using the context's raw
//! helpers, which never wait on a probe themselves, so probing cannot deadlock.

use crate::ctx::{Agent, Ctx, RunShared};
use crate::facts::{
    Channels, DELIVERY_WAIT, Facts, ProbeFailure, ProbeRecord, WS_EARLY_FRAME_FINDING,
    WS_RETRY_PAUSE, describe_event,
};
use crate::prereq::Prereq;
use crate::verdict::Failure;
use amp_client::WsEvent;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Run the probe for `p` (after the probes it depends on): what `RunShared::establish` calls.
pub(crate) fn run(shared: Arc<RunShared>, p: Prereq) -> BoxFuture<'static, ProbeRecord> {
    Box::pin(run_probe(shared, p))
}

async fn run_probe(shared: Arc<RunShared>, p: Prereq) -> ProbeRecord {
    let started = Instant::now();
    for d in p.depends_on() {
        if let Err(f) = &shared.establish(*d).await.result {
            return ProbeRecord {
                prereq: p,
                result: Err(f.clone()),
                transcript: Vec::new(),
                duration_ms: 0,
            };
        }
    }
    let mut ctx = Ctx::new(shared.clone(), p.probe_id());
    let result = match p {
        Prereq::Registration => registration(&mut ctx).await,
        Prereq::RouteAccepted => route_accepted(&mut ctx).await,
        Prereq::DeliveryObservable => delivery(&mut ctx).await,
        Prereq::WsSession => ws_session(&mut ctx).await,
    };
    ctx.close_watches().await;
    ProbeRecord {
        prereq: p,
        result: result.map_err(|(clause, reason)| ProbeFailure {
            root: p,
            clause,
            reason,
        }),
        transcript: ctx.transcript.entries(),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

type Probed = Result<Facts, (&'static str, String)>;

fn why(f: Failure) -> String {
    f.reason().to_string()
}

/// Register an agent for a probe. A probe decides for many cases, so a registration that did not
/// work (transport error or refusal) is tried once more before it counts.
async fn probe_agent(ctx: &mut Ctx) -> Result<Agent, (&'static str, String)> {
    let tenant = ctx.tenant();
    let mut result = ctx.register_agent(&tenant, |_| {}).await;
    if let Err(Failure::Error(_)) = result {
        result = ctx.register_agent(&tenant, |_| {}).await;
    }
    result.map_err(|f| (Prereq::Registration.clause(), why(f)))
}

async fn registration(ctx: &mut Ctx) -> Probed {
    let a = probe_agent(ctx).await?;
    // Any authenticated endpoint will do; 401/403 is the only answer that says the key is not
    // accepted (a provider without GET /agents/me is judged by the cases that test it).
    for path in ["/agents/me", "/messages/pending"] {
        // A transport error proves nothing about the key; the cases that use it will tell.
        let Ok(r) = ctx.get(path, Some(&a)).await else {
            continue;
        };
        match r.status {
            401 | 403 => {
                return Err((
                    Prereq::Registration.clause(),
                    format!(
                        "the API key the registration returned was refused: GET {path} \
                         answered HTTP {}{}",
                        r.status,
                        r.error_code()
                            .map(|c| format!(" `{c}`"))
                            .unwrap_or_default()
                    ),
                ));
            }
            s if (200..300).contains(&s) => return Ok(Facts::Registered),
            _ => {}
        }
    }
    Ok(Facts::Registered)
}

/// Route a signed message `from` → `to`; the route response on acceptance.
async fn route_signed(
    ctx: &mut Ctx,
    from: &Agent,
    to: &Agent,
    subject: &str,
) -> Result<Value, (&'static str, String)> {
    let body = ctx
        .message(from, &to.address)
        .subject(subject)
        .signed()
        .map_err(|f| (Prereq::RouteAccepted.clause(), why(f)))?;
    let r = ctx
        .route(from, &body)
        .await
        .map_err(|f| (Prereq::RouteAccepted.clause(), why(f)))?;
    if !r.is_success() {
        return Err((
            Prereq::RouteAccepted.clause(),
            format!(
                "a correctly signed message between two registered agents was refused: \
                 POST /route answered HTTP {}{}",
                r.status,
                r.error_code()
                    .map(|c| format!(" `{c}`"))
                    .unwrap_or_default()
            ),
        ));
    }
    Ok(r.json().cloned().unwrap_or(Value::Null))
}

async fn route_accepted(ctx: &mut Ctx) -> Probed {
    let a = probe_agent(ctx).await?;
    let b = probe_agent(ctx).await?;
    route_signed(ctx, &a, &b, "amp-conformance probe: route").await?;
    Ok(Facts::RouteAccepted)
}

async fn delivery(ctx: &mut Ctx) -> Probed {
    let a = probe_agent(ctx).await?;
    let b = probe_agent(ctx).await?;
    let answer = route_signed(ctx, &a, &b, "amp-conformance probe: pending").await?;
    let id = answer.get("id").and_then(Value::as_str).unwrap_or("");
    let mut channels = Channels::default();
    let mut tried = Vec::new();

    // 1. The relay queue (what 05 falls back to for an agent with no socket and no webhook).
    match ctx.poll_pending(&b, id, DELIVERY_WAIT).await {
        Ok(Some(_)) => channels.pending = true,
        Ok(None) => tried.push(format!(
            "it did not appear in GET /messages/pending within {} s",
            DELIVERY_WAIT.as_secs()
        )),
        Err(reason) => tried.push(reason),
    }
    // 2. A WebSocket push to a session opened before routing.
    if !channels.pending {
        let shared = ctx.shared.clone();
        let ws = shared.establish(Prereq::WsSession).await.result.clone();
        match ws {
            Ok(_) => {
                let c = probe_agent(ctx).await?;
                match ctx.watch(&c).await {
                    Ok(()) => {
                        let ans =
                            route_signed(ctx, &a, &c, "amp-conformance probe: websocket").await?;
                        let id = ans.get("id").and_then(Value::as_str).unwrap_or("");
                        if ctx.watched_message(&c, id, DELIVERY_WAIT).await.is_some() {
                            channels.websocket = true;
                        } else {
                            tried.push(format!(
                                "no `message.new` frame reached the recipient's authenticated \
                                 WebSocket session within {} s",
                                DELIVERY_WAIT.as_secs()
                            ));
                        }
                    }
                    Err(f) => tried.push(format!("no WebSocket session ({})", why(f))),
                }
            }
            Err(f) => tried.push(format!("no WebSocket session ({})", f.reason)),
        }
    }
    // 3. A webhook to a loopback receiver, when the run allows it.
    if !channels.pending && !channels.websocket && ctx.config().loopback_webhooks {
        let hooked = ctx.hooked_agent().await.map_err(|f| ("RTE-001", why(f)))?;
        let ans = route_signed(ctx, &a, &hooked, "amp-conformance probe: webhook").await?;
        let id = ans.get("id").and_then(Value::as_str).unwrap_or("");
        if ctx.hooked_message(id, DELIVERY_WAIT).await.is_some() {
            channels.webhook = true;
        } else {
            tried.push(format!(
                "no webhook reached the loopback receiver within {} s",
                DELIVERY_WAIT.as_secs()
            ));
        }
    }
    if channels != Channels::default() {
        return Ok(Facts::Delivery(channels));
    }
    let method = answer.get("method").and_then(Value::as_str);
    let status = answer.get("status").and_then(Value::as_str);
    let answered = format!(
        "POST /route accepted the message ({})",
        json!({"status": status, "method": method})
    );
    match method {
        Some(m @ ("local" | "mesh")) => Err((
            "RTE-001",
            format!(
                "{answered}: method `{m}` names a delivery the tester cannot observe (spec 05: \
                 `local` is delivery on the provider's own host, `mesh` a forward to another \
                 host), while 05's routing algorithm delivers to a recipient with no socket and \
                 no webhook through the relay queue; {}",
                tried.join("; ")
            ),
        )),
        _ => Err((
            Prereq::DeliveryObservable.clause(),
            format!(
                "{answered}, but the recipient could not observe it: {}",
                tried.join("; ")
            ),
        )),
    }
}

/// Sessions the WebSocket probe opens with the `auth` frame sent right after the upgrade: a
/// target that loses early frames only some of the time must show it before the cases rely on
/// the immediate form.
const WS_IMMEDIATE_TRIES: usize = 3;

/// One authentication on a fresh socket; the event that answered the `auth` frame.
async fn ws_attempt(
    ctx: &mut Ctx,
    a: &Agent,
    pause: Duration,
) -> Result<WsEvent, (&'static str, String)> {
    match ctx.ws_auth_attempt(a, pause).await {
        Ok((ev, conn)) => {
            if let Some(mut c) = conn {
                c.close().await;
            }
            Ok(ev)
        }
        Err(f) => Err((
            Prereq::WsSession.clause(),
            format!(
                "the WebSocket upgrade at {} failed: {}",
                ctx.target().ws_url,
                why(f)
            ),
        )),
    }
}

async fn ws_session(ctx: &mut Ctx) -> Probed {
    let a = probe_agent(ctx).await?;
    let mut lost = None;
    for _ in 0..WS_IMMEDIATE_TRIES {
        let ev = ws_attempt(ctx, &a, Duration::ZERO).await?;
        if ev.frame_type() != Some("connected") {
            lost = Some(describe_event(&ev));
            break;
        }
    }
    let Some(lost) = lost else {
        return Ok(Facts::WsSession {
            auth_pause: Duration::ZERO,
        });
    };
    let ev = ws_attempt(ctx, &a, WS_RETRY_PAUSE).await?;
    if ev.frame_type() != Some("connected") {
        return Err((
            Prereq::WsSession.clause(),
            format!(
                "after a valid `auth` frame the target sent {lost} (frame sent right after the \
                 upgrade) and {} (frame sent {} ms after it) instead of a `connected` frame",
                describe_event(&ev),
                WS_RETRY_PAUSE.as_millis()
            ),
        ));
    }
    ctx.shared.record_finding(
        WS_EARLY_FRAME_FINDING,
        Prereq::WsSession.clause(),
        &format!(
            "an `auth` frame sent right after the WebSocket upgrade got {lost}, while the same \
             frame sent {} ms after the upgrade was answered `connected`: the target loses frames \
             that arrive before it is ready; the WebSocket cases listed here ran with that pause",
            WS_RETRY_PAUSE.as_millis()
        ),
        None,
    );
    Ok(Facts::WsSession {
        auth_pause: WS_RETRY_PAUSE,
    })
}
