//! The mock's WebSocket handling over a real loopback connection (the frame handler is private
//! to amp-mock, so there is no pure function to call). The mock is spawned once on
//! 127.0.0.1:0; every input is one connection carrying an arbitrary frame sequence (auth /
//! bad auth / AMP ping / route / ack / junk text / binary / WebSocket ping / close).
//!
//! Invariants: the mock never panics (libFuzzer's panic hook aborts even inside tokio tasks);
//! every text frame it sends is a JSON object with a string `type`; every `error` frame carries
//! string `error` and `message`; `message.new` frames are only for the authenticated agent;
//! the connection never hangs: after the sequence, an authenticated session answers an AMP
//! `ping` with `pong`, and an unauthenticated one is closed, within 2 s.
//!
//! Throughput is bounded by real socket round trips (a few hundred inputs per second).
#![no_main]

use amp_core::canonical::{PayloadProfile, payload_hash};
use amp_core::signing::{Priority, SecretKey, SigningFields, sign_fields};
use amp_mock::{MockConfig, MockHandle, RateLimits};
use arbitrary::Arbitrary;
use futures_util::{SinkExt, StreamExt};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use std::sync::OnceLock;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const DEADLINE: Duration = Duration::from_secs(2);

struct Agent {
    address: String,
    api_key: String,
    key: SecretKey,
}

struct World {
    rt: tokio::runtime::Runtime,
    mock: MockHandle,
    me: Agent,
    other: Agent,
}

async fn register(base: &str, name: &str, seed: u8) -> Agent {
    let key = SecretKey::from_seed([seed; 32]);
    let body = json!({
        "tenant": "fuzzws", "name": name,
        "public_key": key.public_key().to_spki_pem(), "key_algorithm": "Ed25519",
    });
    // Registration over a raw HTTP/1.1 request on loopback: no HTTP client crate needed.
    let text = serde_json::to_string(&body).expect("json");
    let hostport = base
        .trim_start_matches("http://")
        .split('/')
        .next()
        .expect("host")
        .to_string();
    let req = format!(
        "POST /v1/register HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(&hostport)
        .await
        .expect("connect to mock");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("read");
    let out = String::from_utf8_lossy(&out);
    let json_start = out.find("\r\n\r\n").map(|i| i + 4).expect("http response");
    // The body may be chunked; the JSON object is between the first `{` and the last `}`.
    let body = &out[json_start..];
    let (a, b) = (
        body.find('{').expect("json body"),
        body.rfind('}').expect("json body"),
    );
    let v: Value = serde_json::from_str(&body[a..=b]).expect("registration JSON");
    Agent {
        address: v["address"].as_str().expect("address").to_string(),
        api_key: v["api_key"].as_str().expect("api_key").to_string(),
        key,
    }
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let (mock, me, other) = rt.block_on(async {
            let mock = amp_mock::spawn(MockConfig {
                ws_auth_timeout: Duration::from_millis(300),
                // Set every limit we know of out of reach; limits added later keep their defaults.
                rate_limits: RateLimits {
                    api_requests_per_minute: u32::MAX,
                    messages_per_minute: u32::MAX,
                    register_per_minute: u32::MAX,
                    anonymous_per_minute: u32::MAX,
                    ..RateLimits::default()
                },
                ..MockConfig::default()
            })
            .await
            .expect("spawn mock");
            let me = register(&mock.base_url(), "me", 1).await;
            let other = register(&mock.base_url(), "other", 2).await;
            (mock, me, other)
        });
        World {
            rt,
            mock,
            me,
            other,
        }
    })
}

fn signed_route(from: &Agent, to: &str, subject: &str, message: &str) -> Value {
    let payload = json!({"type": "notification", "message": message});
    let hash = payload_hash(&payload, PayloadProfile::Sorted).expect("hash");
    let sig = sign_fields(
        &from.key,
        &SigningFields {
            from: &from.address,
            to,
            subject,
            priority: Priority::Normal,
            in_reply_to: None,
            payload_hash: &hash,
        },
    );
    json!({"to": to, "subject": subject, "payload": payload, "signature": sig.to_base64()})
}

#[derive(Debug, Arbitrary)]
enum Frame {
    Auth,
    AuthOtherAgent,
    AuthToken(String),
    AmpPing,
    /// Signed route to self (comes back as `message.new`) or to the other agent.
    Route {
        to_self: bool,
        subject: String,
    },
    /// Signed route, then a byte of the serialised frame xor-ed.
    RouteEdited {
        at: u16,
        xor: u8,
    },
    /// Ack the most recent `message.new` id, or an arbitrary id; `ack` or `message.ack` spelling.
    Ack {
        last: bool,
        id: String,
        legacy: bool,
    },
    Text(String),
    Json {
        ty: String,
        data: String,
    },
    Binary(Vec<u8>),
    WsPing(Vec<u8>),
    Close,
}

#[derive(Debug, Arbitrary)]
struct Input {
    subprotocol: bool,
    frames: Vec<Frame>,
}

fn check_frame(v: &Value, me: &str) {
    let ty = v.get("type").and_then(Value::as_str);
    assert!(ty.is_some(), "server frame without string `type`: {v}");
    if ty == Some("error") {
        assert!(
            v.get("error").is_some_and(Value::is_string)
                && v.get("message").is_some_and(Value::is_string),
            "error frame without string error/message: {v}"
        );
    }
    if ty == Some("message.new") {
        let to = v.pointer("/data/envelope/to").and_then(Value::as_str);
        assert_eq!(to, Some(me), "message.new for another agent: {v}");
    }
}

fuzz_target!(|input: Input| {
    if input.frames.len() > 12 {
        return;
    }
    let w = world();
    w.rt.block_on(async {
        let mut req = w.mock.ws_url().into_client_request().expect("ws url");
        if input.subprotocol {
            req.headers_mut()
                .insert("sec-websocket-protocol", "amp.v1".parse().expect("hv"));
        }
        // Nagle off: small frames must not wait for delayed ACKs (40 ms each).
        let connect = tokio_tungstenite::connect_async_with_config(req, None, true);
        let (mut ws, _) = tokio::time::timeout(DEADLINE, connect)
            .await
            .expect("WebSocket handshake hung")
            .expect("WebSocket handshake failed");
        let mut authed = false;
        let mut closed = false;
        let mut last_id: Option<String> = None;
        for f in input.frames.iter() {
            let msg = match f {
                Frame::Auth => {
                    authed = true;
                    Message::text(json!({"type": "auth", "token": w.me.api_key}).to_string())
                }
                Frame::AuthOtherAgent => {
                    // Authenticating as the other agent would break the `message.new` check.
                    Message::text(
                        json!({"type": "auth", "token": format!("{}x", w.other.api_key)})
                            .to_string(),
                    )
                }
                Frame::AuthToken(t) => {
                    Message::text(json!({"type": "auth", "token": t}).to_string())
                }
                Frame::AmpPing => Message::text(r#"{"type":"ping"}"#),
                Frame::Route { to_self, subject } => {
                    let to = if *to_self {
                        &w.me.address
                    } else {
                        &w.other.address
                    };
                    let body = signed_route(&w.me, to, subject, "hi");
                    Message::text(json!({"type": "route", "data": body}).to_string())
                }
                Frame::RouteEdited { at, xor } => {
                    let body = signed_route(&w.me, &w.me.address, "edited", "hi");
                    let mut b = json!({"type": "route", "data": body})
                        .to_string()
                        .into_bytes();
                    let i = usize::from(*at) % b.len();
                    b[i] ^= *xor;
                    match String::from_utf8(b) {
                        Ok(s) => Message::text(s),
                        Err(e) => Message::binary(e.into_bytes()),
                    }
                }
                Frame::Ack { last, id, legacy } => {
                    let id = if *last {
                        last_id.clone().unwrap_or_default()
                    } else {
                        id.clone()
                    };
                    let ty = if *legacy { "ack" } else { "message.ack" };
                    Message::text(json!({"type": ty, "id": id, "data": {"id": id}}).to_string())
                }
                Frame::Text(t) => Message::text(t.clone()),
                Frame::Json { ty, data } => {
                    Message::text(json!({"type": ty, "data": data}).to_string())
                }
                Frame::Binary(b) => Message::binary(b.clone()),
                Frame::WsPing(b) => {
                    Message::Ping(b.iter().copied().take(125).collect::<Vec<u8>>().into())
                }
                Frame::Close => Message::Close(None),
            };
            let is_close = matches!(msg, Message::Close(_));
            if ws.send(msg).await.is_err() {
                closed = true;
                break;
            }
            if is_close {
                closed = true;
                break;
            }
            // Drain whatever already arrived (no waiting) to learn message ids for acks.
            while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::ZERO, ws.next()).await {
                if let Message::Text(t) = &m {
                    let v: Value = serde_json::from_str(t.as_str())
                        .unwrap_or_else(|e| panic!("server sent non-JSON text ({e}): {t}"));
                    check_frame(&v, &w.me.address);
                    if let Some(id) = v.pointer("/data/envelope/id").and_then(Value::as_str) {
                        last_id = Some(id.to_string());
                    }
                }
            }
        }
        let first_data = input.frames.iter().find(|f| !matches!(f, Frame::WsPing(_)));
        // With no data frame at all the server would only close after its auth timeout: a
        // timing property (WS-004) that is not worth 300 ms per input here.
        if !closed && first_data.is_some() {
            // The auth frame only counts if it came first; anything else gets the socket closed.
            let first_is_auth = matches!(first_data, Some(Frame::Auth));
            let expect_open = authed && first_is_auth;
            if expect_open {
                let _ = ws.send(Message::text(r#"{"type":"ping"}"#)).await;
            }
            let deadline = tokio::time::Instant::now() + DEADLINE;
            loop {
                let next = tokio::time::timeout_at(deadline, ws.next()).await;
                match next {
                    Err(_) => panic!(
                        "connection hung: no pong/close within {DEADLINE:?} (authed={expect_open})"
                    ),
                    Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => break,
                    Ok(Some(Ok(Message::Text(t)))) => {
                        let v: Value = serde_json::from_str(t.as_str())
                            .unwrap_or_else(|e| panic!("server sent non-JSON text ({e}): {t}"));
                        check_frame(&v, &w.me.address);
                        if expect_open && v.get("type").and_then(Value::as_str) == Some("pong") {
                            break;
                        }
                    }
                    Ok(Some(Ok(_))) => {}
                }
            }
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), ws.close(None)).await;
    });
    // Keep the agent's mailbox small: ack everything the session left behind.
    if let Ok(me) = w.mock.state().authenticate(&w.me.api_key) {
        for m in w.mock.state().pending_unacked(&me) {
            let _ = w.mock.state().ack(&me, &m.id, amp_mock::AckVia::Delete);
        }
    }
});
