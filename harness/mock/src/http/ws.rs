//! The WebSocket API: `GET {base}/ws` (spec 05 "WebSocket Delivery", 08 "WebSocket API", 12.5).
//!
//! Life of a connection:
//!
//! 1. **Pre-auth.** The client's first data frame must be `{"type":"auth","token":"<api_key>"}`
//!    and must arrive within `MockConfig::ws_auth_timeout` of the upgrade (WS-002/004). A token
//!    in the URL query (`?token=`, `?api_key=`) never authenticates (WS-001): query strings end
//!    up in logs and referrers. An invalid token (WS-003/005) or any other first frame (WS-006)
//!    is answered with `{"type":"error","error":"unauthorized",...}` followed by a close frame
//!    (code 1008, policy violation). WebSocket control frames (ping/pong) are not AMP frames and
//!    neither authenticate nor count as a "first frame".
//! 2. **Connected.** `{"type":"connected","data":{"address","pending_count"}}`, then every
//!    unacknowledged queued message is replayed as `message.new` with `"replay": true`
//!    (NOTIFY-012). Replayed frames carry `data.id` as well as `data.envelope.id` (C-25: 05 omits
//!    `id`, 08 adds it; carrying both satisfies either reading).
//!    Then every receipt retained while the agent had no socket (`message.delivered`,
//!    `message.read`, oldest first) is delivered (NOTIFY-003: a requested receipt is never
//!    silently lost just because the sender was offline).
//! 3. **Live.** Pushes from the provider (`message.new`, `message.delivered`, `message.read`),
//!    and client frames: `ping` → `pong{timestamp}` (WS-009); `message.ack` *and* `ack` (C-24:
//!    05/12 vs 08 spelling) → the shared idempotent ack (NOTIFY-009); `route` → the shared
//!    routing path (WS-011).
//!
//! Chosen readings, documented because the spec leaves them open:
//! - A successful `route` frame gets **no** answer frame (C-26: 08 defines none; a client learns
//!   the outcome from `message.delivered` receipts). Failures get an `error` frame carrying the
//!   same `error` code as the REST answer would.
//! - A successful ack gets no answer frame either (none is defined); a failed one (unknown id)
//!   gets an `error` frame.
//! - Malformed client frames (invalid JSON, binary frames, unknown `type`) after authentication
//!   are answered with an `error` frame and the connection stays open: one bad frame should not
//!   cost the agent its live channel.
//! - Idle timeout (WS-009, "5 minutes without activity"): activity means any frame *from the
//!   client*, including WebSocket-level pings; server pushes do not keep a silent client alive.
//! - The subprotocol `amp.v1` is confirmed when the client offers it (WS-010); clients that
//!   offer none are still served.
//!
//! Size caps: frames before authentication are capped at [`MAX_PREAUTH_FRAME_BYTES`] (an auth
//! frame is tiny); after authentication the cap is the HTTP body cap plus a small allowance for
//! the `{"type":"route","data":…}` wrapper, enforced by tungstenite (`max_message_size`,
//! `max_frame_size`), so an oversized frame ends the connection instead of being buffered.

use crate::defects::Defect;
use crate::error::ApiError;
use crate::service::AppState;
use crate::wire::{AckVia, AgentRef, ConnId, PushEvent, QueuedMessage};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::time::Instant;

/// The subprotocol servers confirm when the client requests it (WS-010).
pub const SUBPROTOCOL: &str = "amp.v1";

/// Cap on any frame received before authentication: an auth frame is well under 1 KiB.
pub const MAX_PREAUTH_FRAME_BYTES: usize = 64 * 1024;

/// Room for the `{"type":"route","data":...}` wrapper around a maximal route body.
const ROUTE_FRAME_OVERHEAD: usize = 4 * 1024;

/// A client that does not read its socket for this long is dropped (a push must never block the
/// connection task forever).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Close code for authentication failures (RFC 6455 1008 "policy violation").
const CLOSE_POLICY: u16 = 1008;
/// Close code for a normal close (idle timeout, server-side unregistration).
const CLOSE_NORMAL: u16 = 1000;
/// Close code when the agent is suspended (WS-014).
const CLOSE_SUSPENDED: u16 = 4003;

/// Longest client-supplied text echoed back inside an error message.
const ECHO_MAX: usize = 64;

/// `GET {base}/ws`: upgrade and run the connection.
///
/// The query string is only read for the planted `ws-token-in-url` defect (WS-001); a clean
/// mock ignores it entirely and never logs it (it may hold an API key).
pub async fn handler(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let url_token = if state.has(Defect::WsTokenInUrl) {
        q.get("token").or_else(|| q.get("api_key")).cloned()
    } else {
        None
    };
    let max = state
        .config()
        .max_body_bytes
        .saturating_add(ROUTE_FRAME_OVERHEAD)
        .max(MAX_PREAUTH_FRAME_BYTES);
    ws.protocols([SUBPROTOCOL])
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| run(state, socket, url_token))
}

/// One connection from upgrade to close.
async fn run(state: AppState, mut socket: WebSocket, url_token: Option<String>) {
    let from_url = url_token.and_then(|t| state.authenticate(&t).ok());
    let agent = match from_url {
        Some(agent) => agent,
        None => match await_auth(&state, &mut socket).await {
            Some(agent) => agent,
            None => return,
        },
    };
    // WS-014: a suspended agent gets no session.
    if state.is_suspended(&agent.agent_id) && !state.has(Defect::WsOpenWhenSuspended) {
        close(&mut socket, CLOSE_SUSPENDED, "agent_suspended").await;
        return;
    }
    let registration = Registration::new(&state, &agent);
    session(&state, &mut socket, &agent, registration).await;
}

/// What the pre-auth phase made of one data frame.
#[derive(Debug, PartialEq, Eq)]
enum FirstFrame {
    /// `{"type":"auth","token":<string>}`.
    Auth(String),
    /// `type` is `auth` but `token` is missing or not a string: treated as an invalid token.
    AuthWithoutToken,
    /// Anything else; the text says what arrived (for the error message).
    NotAuth(String),
}

/// Classify a text frame received before authentication.
fn classify_first_frame(state: &AppState, text: &str) -> FirstFrame {
    let Ok(v) = parse_json(state, text) else {
        return FirstFrame::NotAuth("a frame that is not valid JSON".into());
    };
    let Some(obj) = v.as_object() else {
        return FirstFrame::NotAuth("a JSON value that is not an object".into());
    };
    match obj.get("type").and_then(Value::as_str) {
        Some("auth") => match obj.get("token").and_then(Value::as_str) {
            Some(t) if !t.is_empty() => FirstFrame::Auth(t.to_string()),
            _ => FirstFrame::AuthWithoutToken,
        },
        Some(other) => FirstFrame::NotAuth(format!("a `{}` frame", echo(other))),
        None => FirstFrame::NotAuth("an object without a string `type`".into()),
    }
}

/// Wait for the auth frame. `None` means the connection is finished (closed by either side).
async fn await_auth(state: &AppState, socket: &mut WebSocket) -> Option<AgentRef> {
    let cfg = state.config();
    let auth_timeout = state.policy().ws_auth_timeout;
    let mut deadline = Instant::now() + auth_timeout;
    loop {
        let frame = match tokio::time::timeout_at(deadline, socket.recv()).await {
            Err(_elapsed) => {
                let msg = format!(
                    "no auth frame within {} ms of connecting (WS-004): send {{\"type\":\"auth\",\"token\":\"<api_key>\"}} first",
                    auth_timeout.as_millis()
                );
                reject(socket, &msg, "auth_timeout").await;
                return None;
            }
            Ok(None) | Ok(Some(Err(_))) => return None,
            Ok(Some(Ok(frame))) => frame,
        };
        let first = match frame {
            // Control frames: tungstenite already answered pings.
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(_) => return None,
            Message::Binary(_) => FirstFrame::NotAuth("a binary frame".into()),
            Message::Text(t) if t.len() > MAX_PREAUTH_FRAME_BYTES => {
                FirstFrame::NotAuth(format!("a {}-byte frame", t.len()))
            }
            Message::Text(t) => classify_first_frame(state, t.as_str()),
        };
        match first {
            FirstFrame::Auth(token) => match state.authenticate(&token) {
                Ok(agent) => return Some(agent),
                Err(e) => {
                    let msg = format!("invalid or expired API key: {}", e.message);
                    if state.has(Defect::WsInvalidTokenOpen) {
                        // Planted WS-005 defect: answer, but keep the socket (and stop the
                        // auth clock, so the socket visibly stays open).
                        if send_json(socket, &error_frame("unauthorized", &msg))
                            .await
                            .is_err()
                        {
                            return None;
                        }
                        deadline = Instant::now() + cfg.ws_idle_timeout;
                        continue;
                    }
                    reject(socket, &msg, "unauthorized").await;
                    return None;
                }
            },
            FirstFrame::AuthWithoutToken => {
                reject(
                    socket,
                    "auth frame without a string `token`: send {\"type\":\"auth\",\"token\":\"<api_key>\"}",
                    "unauthorized",
                )
                .await;
                return None;
            }
            FirstFrame::NotAuth(what) => {
                if state.has(Defect::WsNonAuthFirstFrame) {
                    // Planted WS-006 defect: ignore it and keep waiting for auth.
                    continue;
                }
                let msg = format!(
                    "the first frame must be {{\"type\":\"auth\",\"token\":\"<api_key>\"}} (WS-006); got {what}"
                );
                reject(socket, &msg, "unauthorized").await;
                return None;
            }
        }
    }
}

/// Send `error{unauthorized}` and a policy-violation close.
async fn reject(socket: &mut WebSocket, message: &str, close_reason: &'static str) {
    let _ = send_json(socket, &error_frame("unauthorized", message)).await;
    close(socket, CLOSE_POLICY, close_reason).await;
}

/// Send a close frame (best effort) and give the peer no further data.
async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }));
    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(frame)).await;
}

/// Keeps the live push channel registered for exactly as long as the connection task lives,
/// including when the task is cancelled (server shutdown).
struct Registration {
    state: AppState,
    agent: AgentRef,
    conn: ConnId,
    rx: tokio::sync::mpsc::Receiver<PushEvent>,
}

impl Registration {
    fn new(state: &AppState, agent: &AgentRef) -> Registration {
        let (conn, rx) = state.live().register(agent);
        Registration {
            state: state.clone(),
            agent: agent.clone(),
            conn,
            rx,
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.state.live().unregister(&self.agent, self.conn);
    }
}

/// The authenticated part of a connection.
async fn session(
    state: &AppState,
    socket: &mut WebSocket,
    agent: &AgentRef,
    mut reg: Registration,
) {
    // Registered before the snapshot, so a message routed meanwhile is either in the snapshot
    // (and skipped when its live push arrives) or pushed live; never lost.
    let pending = state.pending_unacked(agent);
    let connected = json!({
        "type": "connected",
        "data": {"address": agent.address, "pending_count": pending.len()},
    });
    if send_json(socket, &connected).await.is_err() {
        return;
    }
    let mark_replay = !state.has(Defect::WsReplayUnmarked);
    let mut replayed: HashSet<String> = HashSet::new();
    for m in &pending {
        if send_json(socket, &message_new_frame(m, mark_replay))
            .await
            .is_err()
        {
            return;
        }
        replayed.insert(m.id.clone());
    }
    // NOTIFY-003: receipts retained while this agent had no socket are handed out now, oldest
    // first. Taken after registration, so a receipt created meanwhile is pushed live instead
    // (and arrives after these, keeping the order).
    let retained = state.take_receipts(agent);
    if !state.has(Defect::ReceiptsDropped) {
        for ev in &retained {
            if send_json(socket, &push_frame(ev)).await.is_err() {
                return;
            }
        }
    }

    let idle = state.config().ws_idle_timeout;
    let mut idle_deadline = Instant::now() + idle;
    loop {
        tokio::select! {
            ev = reg.rx.recv() => {
                let Some(ev) = ev else {
                    // The provider dropped our channel (agent gone or suspended): end the session.
                    if state.is_suspended(&agent.agent_id) {
                        // WS-014: suspension closes with 4003 `agent_suspended`.
                        close(socket, CLOSE_SUSPENDED, "agent_suspended").await;
                    } else {
                        close(socket, CLOSE_NORMAL, "unregistered").await;
                    }
                    return;
                };
                let frame = match &ev {
                    PushEvent::MessageNew { message, replay: false }
                        if replayed.contains(&message.id) => continue,
                    PushEvent::MessageNew { message, replay } => {
                        message_new_frame(message, *replay && mark_replay)
                    }
                    other => push_frame(other),
                };
                if send_json(socket, &frame).await.is_err() {
                    return;
                }
            }
            () = tokio::time::sleep_until(idle_deadline) => {
                close(socket, CLOSE_NORMAL, "idle_timeout").await;
                return;
            }
            frame = socket.recv() => {
                let frame = match frame {
                    None | Some(Err(_)) => return,
                    Some(Ok(f)) => f,
                };
                idle_deadline = Instant::now() + idle;
                let reply = match frame {
                    Message::Ping(_) | Message::Pong(_) => None,
                    Message::Close(_) => return,
                    Message::Binary(_) => Some(error_frame(
                        "invalid_request",
                        "binary frames are not part of AMP: send JSON text frames",
                    )),
                    Message::Text(t) => handle_text(state, agent, t.as_str()).await,
                };
                if let Some(reply) = reply
                    && send_json(socket, &reply).await.is_err()
                {
                    return;
                }
            }
        }
    }
}

/// One client text frame after authentication; returns the frame to answer with, if any.
async fn handle_text(state: &AppState, agent: &AgentRef, text: &str) -> Option<Value> {
    let v = match parse_json(state, text) {
        Ok(v) => v,
        Err(why) => {
            return Some(error_frame(
                "invalid_request",
                &format!("frame is not valid JSON ({why}): send one JSON object per text frame"),
            ));
        }
    };
    let Some(obj) = v.as_object() else {
        return Some(error_frame(
            "invalid_request",
            "frames are JSON objects with a string `type`",
        ));
    };
    let Some(kind) = obj.get("type").and_then(Value::as_str) else {
        return Some(api_error_frame(&ApiError::missing_field("type")));
    };
    match kind {
        "ping" => {
            if state.has(Defect::WsNoPong) {
                return None;
            }
            let now = state.clock().now_unix();
            Some(json!({"type": "pong", "timestamp": amp_core::format_rfc3339(now)}))
        }
        // C-24: 05 and 12 spell the ack `message.ack`, 08 spells it `ack`; accept both.
        "message.ack" | "ack" => {
            let Some(id) = obj.get("id").and_then(Value::as_str) else {
                return Some(api_error_frame(&ApiError::missing_field("id")));
            };
            match state.ack(agent, id, AckVia::WebSocket) {
                Ok(_) => None,
                Err(e) => Some(api_error_frame(&e)),
            }
        }
        "route" => {
            let Some(data) = obj.get("data").filter(|d| d.is_object()) else {
                return Some(api_error_frame(
                    &ApiError::missing_field("data").with_extra(
                        "hint",
                        json!("send {\"type\":\"route\",\"data\":{<route body>}}"),
                    ),
                ));
            };
            match state.route(agent, data).await {
                // C-26: no success frame is defined.
                Ok(_) => None,
                Err(e) => Some(api_error_frame(&e)),
            }
        }
        "auth" => Some(error_frame(
            "invalid_request",
            &format!("already authenticated as {}", agent.address),
        )),
        other => Some(error_frame(
            "invalid_request",
            &format!(
                "unknown frame type `{}`: client frames are auth, ping, route, message.ack (or ack)",
                echo(other)
            ),
        )),
    }
}

/// Parse a frame the way REST bodies are parsed: strict (duplicate keys refused, JSON-003)
/// unless the `accept-duplicate-keys` defect is planted.
fn parse_json(state: &AppState, text: &str) -> Result<Value, String> {
    if state.has(Defect::AcceptDuplicateKeys) {
        serde_json::from_str(text).map_err(|e| e.to_string())
    } else {
        amp_core::parse_strict(text.as_bytes()).map_err(|e| e.to_string())
    }
}

/// `message.new` with `data{id, envelope, payload, security?, replay?}`.
fn message_new_frame(m: &QueuedMessage, replay: bool) -> Value {
    let mut data = Map::new();
    data.insert("id".into(), json!(m.id));
    if let Value::Object(body) = m.message_json() {
        data.extend(body);
    }
    if replay {
        data.insert("replay".into(), Value::Bool(true));
    }
    json!({"type": "message.new", "data": Value::Object(data)})
}

/// Receipts pushed to a sender (05 "Delivery Receipts" / "Read Receipts").
fn push_frame(ev: &PushEvent) -> Value {
    match ev {
        PushEvent::MessageNew { message, replay } => message_new_frame(message, *replay),
        PushEvent::Delivered {
            id,
            to,
            delivered_at,
            method,
        } => json!({
            "type": "message.delivered",
            "data": {"id": id, "to": to, "delivered_at": delivered_at, "method": method},
        }),
        PushEvent::Read { id, read_at } => json!({
            "type": "message.read",
            "data": {"id": id, "read_at": read_at},
        }),
    }
}

/// `{"type":"error","error":<code>,"message":<text>}` (WS-013).
fn error_frame(code: &str, message: &str) -> Value {
    json!({"type": "error", "error": code, "message": message})
}

/// An [`ApiError`] as an error frame: same code, message and field as the REST body.
fn api_error_frame(e: &ApiError) -> Value {
    let mut frame = Map::new();
    frame.insert("type".into(), json!("error"));
    if let Value::Object(body) = e.body() {
        frame.extend(body);
    }
    Value::Object(frame)
}

/// Send one JSON text frame with a bounded wait.
async fn send_json(socket: &mut WebSocket, v: &Value) -> Result<(), ()> {
    let text = serde_json::to_string(v).map_err(|_| ())?;
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::text(text))).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// Client text echoed in an error message, truncated on a char boundary.
fn echo(s: &str) -> String {
    if s.len() <= ECHO_MAX {
        return s.to_string();
    }
    let mut end = ECHO_MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_truncates_on_char_boundary() {
        assert_eq!(echo("ping"), "ping");
        let long = "é".repeat(100);
        let out = echo(&long);
        assert!(out.ends_with('…'));
        assert!(out.len() <= ECHO_MAX + '…'.len_utf8());
    }

    #[test]
    fn error_frames_carry_type_error_and_message() {
        let f = api_error_frame(&ApiError::missing_field("id"));
        assert_eq!(f["type"], "error");
        assert_eq!(f["error"], "missing_field");
        assert_eq!(f["field"], "id");
        assert!(f["message"].is_string());
    }
}
