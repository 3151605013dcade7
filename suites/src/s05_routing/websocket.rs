//! The WebSocket channel (spec 05 › WebSocket; 08 › Connection, Client → Server, Server →
//! Client): authentication by first frame (never by URL), its timeout and refusal, heartbeat,
//! pushed `message.new` frames, acknowledgment, routing over the socket, and the subprotocol.

use crate::steps::routing::{entry_id, pending_list, route_ok, subject};
use crate::steps::websocket::{
    Closed, SETTLE_PAUSE, SUBPROTOCOL, connect_as, connect_session, describe, frame_message_id,
    open, open_settled, quiet_window,
};
use amp_case_attr::case;
use amp_client::{ClientError, WsConn};
use amp_runner::{
    Agent, Case, CaseResult, Ctx, Failure, Outcome, Timing, WsEvent, expect, fail, pass,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    WS_AUTH_CONNECTED,
    WS_AUTH_TOKEN_IN_URL,
    WS_AUTH_FIRST_FRAME,
    WS_AUTH_TIMEOUT,
    WS_AUTH_INVALID_TOKEN,
    WS_PING,
    WS_PUSH_MESSAGE_NEW,
    WS_ACK,
    WS_ROUTE,
    WS_SUBPROTOCOL,
];

/// The deadline for a close the spec requires (auth timeout, invalid token, non-auth frame):
/// the declared WS-004 auth timeout. A provider that keeps a socket open longer than its own
/// auth deadline has broken WS-004 too.
fn close_wait(ctx: &Ctx) -> Duration {
    ctx.timing().ws_auth_timeout
}

/// How long a correct provider may take to push a routed message to a live socket.
const PUSH_WAIT: Duration = Duration::from_secs(5);

/// Read frames until the socket closes. `connected`, `message.new` or `pong` mean the
/// provider treated the socket as authenticated: a failure naming `clause`.
/// The close is awaited for `due` ([`close_wait`]) plus [`Timing::margin`].
async fn expect_close(
    ctx: &Ctx,
    conn: &mut WsConn,
    due: Duration,
    clause: &str,
    what: &str,
) -> Result<Closed, Failure> {
    let wait = Timing::with_margin(due);
    ctx.need_time(wait);
    let deadline = Instant::now() + wait;
    let mut out = Closed::default();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev = conn.recv(left).await;
        match &ev {
            WsEvent::Closed { .. } | WsEvent::Error(_) => return Ok(out),
            WsEvent::Timeout => {
                return fail(format!(
                    "{what}: the socket was still open {:.1} s later ({clause} requires the \
                     provider to close it; the declared auth timeout is {:.1} s)",
                    wait.as_secs_f64(),
                    due.as_secs_f64()
                ));
            }
            WsEvent::Text { .. } => match ev.frame_type() {
                Some("error") => {
                    out.error_frame = true;
                    out.error_code = ev
                        .json()
                        .and_then(|v| v.get("error"))
                        .and_then(Value::as_str)
                        .map(str::to_string);
                }
                Some(t @ ("connected" | "message.new" | "pong")) => {
                    return fail(format!(
                        "{what}: the provider answered with a `{t}` frame, i.e. treated the \
                         socket as authenticated ({clause})"
                    ));
                }
                _ => {
                    return fail(format!(
                        "{what}: expected an error frame and a close, got {} ({clause})",
                        describe(&ev)
                    ));
                }
            },
            WsEvent::Binary(_) => {
                return fail(format!(
                    "{what}: expected an error frame and a close, got {} ({clause})",
                    describe(&ev)
                ));
            }
        }
    }
}

/// Immediate auth attempts `ws.auth.connected` makes: the loss is a race on some providers, so
/// one lucky socket does not clear it. Each attempt that is answered at once costs milliseconds.
const EARLY_FRAME_TRIES: usize = 3;

/// Sockets `ws.auth.invalid-token` opens at most while each close it sees may be the auth
/// timeout instead of the token refusal; an answer that comes in time ends it at once.
const AUTH_DEADLINE_TRIES: usize = 3;

/// Read frames until a `message.new` for message `id` arrives; other frames are skipped.
async fn await_message(conn: &mut WsConn, id: &str, within: Duration) -> Result<Value, Failure> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev = conn.recv_type("message.new", left).await;
        match ev.json() {
            Some(v) if ev.frame_type() == Some("message.new") => {
                if frame_message_id(v) == Some(id) {
                    return Ok(v.clone());
                }
            }
            _ => {
                return fail(format!(
                    "no `message.new` frame for message {id} within {} s; got {} (WS-007)",
                    within.as_secs(),
                    describe(&ev)
                ));
            }
        }
    }
}

/// Any `error` frame arriving within `window` ([`quiet_window`]); other frames are skipped.
async fn error_frame_soon(conn: &mut WsConn, window: Duration) -> Option<Value> {
    let ev = conn.recv_type("error", window).await;
    (ev.frame_type() == Some("error"))
        .then(|| ev.json().cloned())
        .flatten()
}

/// Wait up to `within` for the `error` frame refusing a tampered `route` frame, checking after
/// every [`quiet_window`] without one that `subject` has not reached `recipient`. A provider that
/// delivers the frame fails as soon as the delivery is visible, however slowly it processes the
/// frame, instead of after one fixed check that a loaded provider can still be ahead of.
/// Returns the event that ended the wait (`Timeout` when no frame came).
async fn refusal_or_delivery(
    ctx: &mut Ctx,
    conn: &mut WsConn,
    recipient: &Agent,
    subject: &str,
    within: Duration,
) -> Result<WsEvent, Failure> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev = conn.recv_type("error", quiet_window(ctx).min(left)).await;
        if !matches!(ev, WsEvent::Timeout) {
            return Ok(ev);
        }
        crate::steps::routing::not_delivered(ctx, recipient, subject, "WS-011, SIG-016").await?;
        if Instant::now() >= deadline {
            return Ok(ev);
        }
    }
}

/// Poll `agent`'s pending queue until message `id` is gone (`true`) or `within` passes.
async fn gone_from_pending(
    ctx: &mut Ctx,
    agent: &Agent,
    id: &str,
    within: Duration,
) -> Result<bool, Failure> {
    let deadline = Instant::now() + within;
    loop {
        let msgs = pending_list(ctx, agent, "").await?;
        if !msgs.iter().any(|m| entry_id(m) == Some(id)) {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// ------------------------------------------------------------------------------------------
// Cases
// ------------------------------------------------------------------------------------------

/// Where a `connected` frame put `field`, in words, when it is not under `data` (WS-003).
fn misplaced(frame: &Value, field: &str) -> String {
    if frame.get(field).is_some() {
        format!("`{field}` is at the top level of the frame; spec 05 puts it under `data`")
    } else if frame.get("data").is_some_and(Value::is_object) {
        format!("`data` has no `{field}`")
    } else {
        format!("the frame has no `data` object and no `{field}`")
    }
}

#[case(
    id = "ws.auth.connected",
    title = "A valid auth frame is answered with `connected`",
    clauses = ["WS-003", "WS-002"],
    level = Must,
    expect = "After `{type:auth, token}` the provider sends `{type:connected, \
              data:{address, pending_count}}` naming the agent.",
)]
async fn ws_auth_connected(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let mut problems = Vec::new();
    let mut session = connect_session(ctx, &a).await?;
    for _ in 1..EARLY_FRAME_TRIES {
        if session.early_frame_lost.is_some() {
            break;
        }
        session.conn.close().await;
        session = connect_session(ctx, &a).await?;
    }
    let (mut conn, frame) = (session.conn, session.connected);
    problems.extend(session.early_frame_lost);
    match frame.pointer("/data/address") {
        None => problems.push(format!(
            "the `connected` frame does not name the agent: {} (WS-003)",
            misplaced(&frame, "address")
        )),
        Some(addr)
            if !addr
                .as_str()
                .is_some_and(|x| x.eq_ignore_ascii_case(&a.address)) =>
        {
            problems.push(format!(
                "the `connected` frame names address {addr}, not the authenticated agent {} \
                 (WS-003)",
                a.address
            ))
        }
        Some(_) => {}
    }
    match frame.pointer("/data/pending_count") {
        None => problems.push(format!(
            "the `connected` frame has no pending count: {} (WS-003)",
            misplaced(&frame, "pending_count")
        )),
        Some(count) if !count.is_u64() => problems.push(format!(
            "the `connected` frame's data.pending_count is {count}, not a non-negative integer \
             (WS-003)"
        )),
        Some(count) if count.as_u64() != Some(0) => problems.push(format!(
            "a fresh agent with an empty queue was told pending_count {count} (WS-003)"
        )),
        Some(_) => {}
    }
    conn.close().await;
    expect::no_problems(&problems, "WS-003")
}

#[case(
    id = "ws.auth.token-in-url",
    title = "An API key in the WebSocket URL does not authenticate",
    clauses = ["WS-001"],
    level = Must,
    expect = "A socket opened with `?token=`/`?api_key=` and no auth frame is never \
              sent `connected` and is closed (or the upgrade refused).",
)]
async fn ws_auth_token_in_url(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let (mut ok, _) = connect_as(ctx, &a).await?;
    ok.close().await;
    for param in ["token", "api_key"] {
        let url = format!("{}?{param}={}", ctx.target().ws_url, a.api_key.expose());
        ctx.note(format!(
            "connecting with the API key in the query parameter `{param}` and no auth frame"
        ));
        let conn = WsConn::connect(
            &url,
            &[SUBPROTOCOL],
            ctx.ws_config(),
            Some(ctx.transcript().clone()),
        )
        .await;
        let mut conn = match conn {
            Ok(c) => c,
            // Refusing the upgrade outright is a correct answer too.
            Err(ClientError::WsHandshake { status, .. }) => {
                ctx.note(format!("upgrade refused with HTTP {status}"));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        expect_close(
            ctx,
            &mut conn,
            close_wait(ctx),
            "WS-001",
            &format!("with `?{param}=<api key>` in the URL and no auth frame"),
        )
        .await?;
    }
    pass()
}

#[case(
    id = "ws.auth.first-frame",
    title = "A first frame other than auth closes the socket",
    clauses = ["WS-006"],
    level = Must,
    expect = "A `ping` or `route` frame before `auth` is answered with an error and a \
              close; a following auth frame is not honoured and nothing is delivered.",
)]
async fn ws_auth_first_frame(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let (mut ok, _) = connect_as(ctx, &a).await?;
    ok.close().await;
    let route = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "ws first frame"))
        .signed()?;
    let firsts = [
        ("ping", json!({"type": "ping"})),
        ("route", json!({"type": "route", "data": route})),
    ];
    for (name, first) in firsts {
        let mut conn = open_settled(ctx, SETTLE_PAUSE).await?;
        conn.send_json(&first).await?;
        // A valid auth frame right behind it: a provider that ignored the first frame
        // authenticates here and shows it with `connected`. A correct one has closed, so
        // the send may fail; that is fine.
        if conn
            .send_json(&json!({"type": "auth", "token": a.api_key.expose()}))
            .await
            .is_err()
        {
            ctx.note("the auth frame could not be sent: the socket is already closed");
        }
        let closed = expect_close(
            ctx,
            &mut conn,
            close_wait(ctx),
            "WS-006",
            &format!("after a `{name}` frame as the first frame"),
        )
        .await?;
        if !closed.error_frame {
            ctx.note(format!(
                "closed after a `{name}` first frame without an error frame"
            ));
        }
    }
    // The `route` attempt must not have delivered anything.
    let msgs = pending_list(ctx, &b, "").await?;
    expect::that(
        msgs.is_empty(),
        "a `route` frame sent before authenticating was delivered (WS-006)",
    )?;
    pass()
}

#[case(
    id = "ws.auth.timeout",
    title = "A socket that never authenticates is closed",
    clauses = ["WS-004"],
    level = Must,
    expect = "A socket that sends no frame is closed within 10 s of opening.",
)]
async fn ws_auth_timeout(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let (mut ok, _) = connect_as(ctx, &a).await?;
    ok.close().await;
    let mut conn = open(ctx).await?;
    let declared = ctx.timing().ws_auth_timeout;
    ctx.note(format!(
        "sending nothing; the provider must close within {:.1} s (+{:.1} s margin)",
        declared.as_secs_f64(),
        Timing::margin(declared).as_secs_f64()
    ));
    expect_close(
        ctx,
        &mut conn,
        close_wait(ctx),
        "WS-004",
        "with no auth frame sent",
    )
    .await?;
    pass()
}

#[case(
    id = "ws.auth.invalid-token",
    title = "An invalid token gets an unauthorized error and a close",
    clauses = ["WS-005", "WS-003"],
    level = Must,
    expect = "An auth frame with a wrong token is answered with `{type:error, \
              error:unauthorized}` and the socket is closed.",
)]
async fn ws_auth_invalid_token(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let (mut ok, _) = connect_as(ctx, &a).await?;
    ok.close().await;
    // Same shape as a real key, one character changed at the end.
    let real = a.api_key.expose();
    let mut bogus: String = real
        .chars()
        .take(real.chars().count().saturating_sub(1))
        .collect();
    bogus.push(if real.ends_with('0') { '1' } else { '0' });
    let mut attempt = 1;
    let closed = loop {
        let opened = Instant::now();
        let mut conn = open_settled(ctx, SETTLE_PAUSE).await?;
        conn.send_json(&json!({"type": "auth", "token": bogus}))
            .await?;
        let closed = expect_close(
            ctx,
            &mut conn,
            close_wait(ctx),
            "WS-005",
            "after an auth frame with an invalid token",
        )
        .await?;
        // A close at or after the auth deadline may be the WS-004 timeout (the auth frame
        // reached a loaded provider late), which says nothing about the token: try again.
        if opened.elapsed() < ctx.timing().ws_auth_timeout || attempt == AUTH_DEADLINE_TRIES {
            break closed;
        }
        ctx.note(format!(
            "attempt {attempt}: the close came after the auth deadline, so it may be the \
             auth timeout rather than the token refusal; retrying on a fresh socket"
        ));
        attempt += 1;
    };
    match closed.error_code.as_deref() {
        Some("unauthorized") => pass(),
        // Refused and closed: the behaviour holds; the spelling is one run-wide finding.
        Some(other) => {
            ctx.finding(
                format!("error-code:unauthorized->{other}"),
                "WS-003",
                format!(
                    "the WebSocket error frame for a refused token says `{other}` where the \
                     spec names `unauthorized` (API-008)"
                ),
            );
            pass()
        }
        None if closed.error_frame => {
            fail("the error frame before the close has no `error` code (WS-003)")
        }
        None => fail(
            "the socket was closed without the `{\"type\":\"error\",\"error\":\"unauthorized\"}` \
             frame WS-003 requires first",
        ),
    }
}

#[case(
    id = "ws.ping",
    title = "ping is answered with pong",
    clauses = ["WS-009"],
    level = Must,
    expect = "`{type:ping}` on an authenticated socket is answered with `{type:pong, \
              timestamp}`.",
)]
async fn ws_ping(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let (mut conn, _) = connect_as(ctx, &a).await?;
    conn.send_json(&json!({"type": "ping"})).await?;
    let ev = conn.recv_type("pong", ctx.timing().ws_pong_wait).await;
    if ev.frame_type() != Some("pong") {
        return fail(format!(
            "a `ping` frame on an authenticated socket got {} instead of a `pong` frame \
             (WS-009)",
            describe(&ev)
        ));
    }
    let ts = ev
        .json()
        .and_then(|v| v.get("timestamp"))
        .and_then(Value::as_str);
    let Some(ts) = ts else {
        return fail("the `pong` frame has no string `timestamp` (WS-009)");
    };
    expect::that(
        amp_core::Timestamp::parse_any(ts).is_ok(),
        format!("the `pong` timestamp `{ts}` is not a timestamp (WS-009)"),
    )?;
    conn.close().await;
    pass()
}

#[case(
    id = "ws.push.message-new",
    title = "A message to a connected agent is pushed as message.new",
    clauses = ["WS-007"],
    level = Must,
    needs = [Prereq(DeliveryObservable)],
    expect = "A message routed to an agent with a live socket arrives as \
              `message.new` with the envelope and payload as sent (data.id optional, \
              C-25).",
)]
async fn ws_push_message_new(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let (mut conn, _) = connect_as(ctx, &b).await?;
    let payload = json!({"type": "notification", "message": "pushed over the socket"});
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "ws push"))
        .payload(payload.clone())
        .signed()?;
    let sig = body.get("signature").cloned();
    let id = route_ok(ctx, &a, &body, "a message to an agent with a live socket").await?;
    let frame = await_message(&mut conn, &id, PUSH_WAIT).await?;
    conn.close().await;
    let env = frame.pointer("/data/envelope");
    let Some(env) = env.filter(|e| e.is_object()) else {
        return fail("the `message.new` frame has no data.envelope object (WS-007)");
    };
    let get = |f: &str| env.get(f).and_then(Value::as_str);
    let mut problems = Vec::new();
    if get("id") != Some(id.as_str()) {
        problems.push(format!("data.envelope.id is {:?}, not {id}", get("id")));
    }
    let short_from = match crate::steps::routing::sender_form(get("from"), &a) {
        Some(crate::steps::routing::SenderForm::Full) => false,
        Some(crate::steps::routing::SenderForm::Short) => true,
        None => {
            problems.push(format!("data.envelope.from is {:?}", get("from")));
            false
        }
    };
    if env.get("signature") != sig.as_ref() {
        problems.push("data.envelope.signature is not the submitted signature".to_string());
    }
    if frame.pointer("/data/payload") != Some(&payload) {
        problems.push("data.payload differs from the payload sent".to_string());
    }
    if frame.pointer("/data/replay") == Some(&Value::Bool(true)) {
        problems.push("a live push is marked `replay: true`".to_string());
    }
    if !problems.is_empty() {
        return fail(format!(
            "the pushed `message.new` frame is wrong: {} (WS-007)",
            problems.join("; ")
        ));
    }
    if short_from {
        return Ok(crate::steps::routing::short_from_warning(
            get("from").unwrap_or_default(),
            &a,
        ));
    }
    match frame.pointer("/data/id").and_then(Value::as_str) {
        Some(x) if x == id => pass(),
        Some(x) => fail(format!(
            "data.id is `{x}` but data.envelope.id is `{id}` (WS-007)"
        )),
        None => Ok(Outcome::Info(
            "`message.new` carries data{envelope, payload} without data.id: the 05 shape \
             (08 adds data.id, C-25)"
                .to_string(),
        )),
    }
}

#[case(
    id = "ws.ack",
    title = "A WebSocket ack removes the message from the queue",
    clauses = ["WS-008"],
    level = Should,
    needs = [Prereq(DeliveryObservable)],
    expect = "`{type:message.ack, id}` removes a pushed message from \
              /messages/pending (only `{type:ack}` working is a C-24 warning).",
)]
async fn ws_ack(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let (mut conn, _) = connect_as(ctx, &b).await?;
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "ws ack"))
        .signed()?;
    let id = route_ok(ctx, &a, &body, "a message to an agent with a live socket").await?;
    await_message(&mut conn, &id, PUSH_WAIT).await?;
    let msgs = pending_list(ctx, &b, "").await?;
    if !msgs.iter().any(|m| entry_id(m) == Some(id.as_str())) {
        return Ok(Outcome::Skip(format!(
            "message {id} is not in /messages/pending after the push, so an ack cannot be \
             observed (a provider without notify:v1 need not retain pushed messages, NOTIFY-011)"
        )));
    }
    let notify = ctx.has_capability("notify:v1");
    for (variant, frame) in [
        ("message.ack", json!({"type": "message.ack", "id": id})),
        ("ack", json!({"type": "ack", "id": id})),
    ] {
        conn.send_json(&frame).await?;
        let err = error_frame_soon(&mut conn, quiet_window(ctx)).await;
        if gone_from_pending(ctx, &b, &id, Duration::from_secs(3)).await? {
            conn.close().await;
            if variant == "message.ack" {
                return pass();
            }
            let reason = "the provider ignored `{\"type\":\"message.ack\"}` (05, 12) and \
                          acknowledged only on `{\"type\":\"ack\"}` (08)";
            if notify {
                return fail(format!(
                    "{reason}; under notify:v1 `message.ack` is required (WS-008, C-24)"
                ));
            }
            return Ok(Outcome::Warn {
                reason: reason.to_string(),
                contradiction: Some("C-24"),
            });
        }
        ctx.note(format!(
            "`{variant}` did not remove the message{}",
            err.map(|e| format!(" (error frame {e})"))
                .unwrap_or_default()
        ));
    }
    conn.close().await;
    fail(format!(
        "neither a `message.ack` nor an `ack` frame removed message {id} from the queue \
         (WS-008, C-24)"
    ))
}

#[case(
    id = "ws.route",
    title = "A route frame is routed like POST /route",
    clauses = ["WS-011", "SIG-016"],
    level = Must,
    expect = "A signed `{type:route, data}` frame is delivered without an error frame; \
              a tampered one is refused with an error frame signature_invalid and not \
              delivered (C-26).",
)]
async fn ws_route(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let (mut conn, _) = connect_as(ctx, &a).await?;
    let s = subject(ctx, "ws route");
    let body = ctx.message(&a, &b.address).subject(s.clone()).signed()?;
    conn.send_json(&json!({"type": "route", "data": body}))
        .await?;
    if let Some(e) = error_frame_soon(&mut conn, quiet_window(ctx)).await {
        return fail(format!(
            "a correctly signed `route` frame was answered with the error frame {e} (WS-011)"
        ));
    }
    let want = s.clone();
    let got = ctx
        .wait_pending(
            &b,
            move |m| crate::steps::routing::entry_subject(m) == Some(want.as_str()),
            PUSH_WAIT,
        )
        .await?;
    let Some(m) = got else {
        return fail(format!(
            "a `route` frame sent over an authenticated socket did not reach the recipient \
             within {} s (WS-011; no success frame is defined, C-26)",
            PUSH_WAIT.as_secs()
        ));
    };
    let from = m.pointer("/envelope/from").and_then(Value::as_str);
    let short_from = match crate::steps::routing::sender_form(from, &a) {
        Some(form) => form == crate::steps::routing::SenderForm::Short,
        None => {
            return fail(format!(
                "the message routed over the socket was delivered with `from` {from:?}, not \
                 the sender `{}` (WS-011)",
                a.address
            ));
        }
    };

    // The same path must verify signatures: a tampered subject is an error, not a delivery.
    let bad_subject = subject(ctx, "ws route tampered");
    let mut tampered = ctx.message(&a, &b.address).subject(s).signed()?;
    tampered["subject"] = json!(bad_subject.clone());
    conn.send_json(&json!({"type": "route", "data": tampered}))
        .await?;
    let within = quiet_window(ctx).saturating_add(ctx.request_timeout());
    // The refusal wait plus the last delivery check may outlast the case timeout on a slow
    // target; a timeout would turn a delivery into an `error` instead of a failure.
    ctx.need_time(within.saturating_add(ctx.request_timeout()));
    let err = refusal_or_delivery(ctx, &mut conn, &b, &bad_subject, within).await?;
    conn.close().await;
    crate::steps::routing::not_delivered(ctx, &b, &bad_subject, "WS-011, SIG-016").await?;
    let code = err
        .json()
        .filter(|_| err.frame_type() == Some("error"))
        .and_then(|v| v.get("error"))
        .and_then(Value::as_str);
    match code {
        // The refusal is the behaviour; its spelling is one run-wide finding.
        Some(code) => {
            if code != "signature_invalid" {
                ctx.finding(
                    format!("error-code:signature_invalid->{code}"),
                    "WS-011",
                    format!(
                        "a refused `route` frame names error `{code}` where the REST route \
                         answers signature_invalid (API-008)"
                    ),
                );
            }
            if short_from {
                let from = from.unwrap_or_default().to_string();
                return Ok(crate::steps::routing::short_from_warning(&from, &a));
            }
            pass()
        }
        None => Ok(Outcome::Warn {
            reason: format!(
                "a tampered `route` frame was not delivered but no error frame arrived \
                 (got {}); only error frames are defined for `route` (C-26)",
                describe(&err)
            ),
            contradiction: Some("C-26"),
        }),
    }
}

#[case(
    id = "ws.subprotocol",
    title = "The amp.v1 subprotocol is confirmed",
    clauses = ["WS-010"],
    level = Should,
    expect = "A client offering Sec-WebSocket-Protocol `amp.v1` gets it confirmed in \
              the 101 answer.",
)]
async fn ws_subprotocol(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let mut session = connect_session(ctx, &a).await?;
    let proto = session.conn.subprotocol().map(str::to_string);
    session.conn.close().await;
    match proto.as_deref() {
        Some(SUBPROTOCOL) => pass(),
        Some(other) => fail(format!(
            "the client offered `{SUBPROTOCOL}` and the server confirmed `{other}` (WS-010)"
        )),
        None => fail(format!(
            "the client offered `{SUBPROTOCOL}` and the 101 answer carries no \
             Sec-WebSocket-Protocol (WS-010)"
        )),
    }
}
