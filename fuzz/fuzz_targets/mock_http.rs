//! The mock provider's HTTP surface, in process (no sockets): arbitrary method, path (real
//! endpoints plus mutations), headers and body through `tower::ServiceExt::oneshot` on the axum
//! router. Invariants: no panic (libFuzzer's panic hook aborts even inside tokio tasks), never a
//! 5xx (the clean mock has no server errors to give), and every 4xx body is JSON with a string
//! `error` field and a string `message` (API-007).
//!
//! The runtime is a current-thread tokio runtime with paused time, created once: long-poll
//! `wait=` requests then complete instantly instead of stalling the fuzzer. Registration and
//! profile bodies that mention a webhook are skipped so the mock never POSTs anywhere.
#![no_main]

use amp_core::canonical::{PayloadProfile, payload_hash};
use amp_core::signing::{Priority, SecretKey, SigningFields, sign_fields};
use amp_mock::{AppState, MockConfig, RateLimits};
use arbitrary::Arbitrary;
use axum::body::Body;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use std::sync::OnceLock;
use tower::ServiceExt;

const METHODS: &[&str] = &["GET", "POST", "DELETE", "PATCH", "PUT", "HEAD", "OPTIONS"];
const PATHS: &[&str] = &[
    "/v1/health",
    "/v1/info",
    "/v1/register",
    "/v1/agents/me",
    "/v1/agents",
    "/v1/agents/resolve/fuzz@fuzz.amp-mock.test",
    "/v1/route",
    "/v1/messages/pending",
    "/v1/messages/pending/count",
    "/v1/messages/pending/ack",
    "/v1/messages/pending/msg_1700000000_0011223344556677",
    "/v1/messages/msg_1700000000_0011223344556677/read",
    "/v1/auth/rotate-key",
    "/v1/auth/rotate-keys",
    "/v1/auth/revoke-key",
    "/v1/ws",
    "/v1/federation/deliver",
    "/.well-known/agent-messaging.json",
    "/",
    "/v1",
    "/v1/",
];

struct World {
    rt: tokio::runtime::Runtime,
    state: AppState,
    api_key: String,
    /// A correctly signed route body from the registered agent to itself.
    valid_route: Vec<u8>,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("tokio runtime");
        let config = MockConfig {
            // Set every limit we know of out of reach; limits added later keep their defaults.
            rate_limits: RateLimits {
                api_requests_per_minute: u32::MAX,
                messages_per_minute: u32::MAX,
                register_per_minute: u32::MAX,
                anonymous_per_minute: u32::MAX,
                ..RateLimits::default()
            },
            provider_key_seed: Some([7; 32]),
            ..MockConfig::default()
        };
        let state = amp_mock::new_state(&config);
        let key = SecretKey::from_seed([42; 32]);
        let reg = json!({
            "tenant": "fuzz",
            "name": "fuzz",
            "public_key": key.public_key().to_spki_pem(),
            "key_algorithm": "Ed25519",
        });
        let (status, body) = rt.block_on(send(
            &state,
            "POST",
            "/v1/register",
            &[("content-type", "application/json".to_string())],
            serde_json::to_vec(&reg).expect("json"),
        ));
        let reg: Value = serde_json::from_slice(&body).expect("registration answers JSON");
        assert_eq!(status, 201, "fuzz agent registration failed: {reg}");
        let api_key = reg["api_key"].as_str().expect("api_key").to_string();
        let from = reg["address"].as_str().expect("address").to_string();
        let payload = json!({"type": "notification", "message": "hello"});
        let hash = payload_hash(&payload, PayloadProfile::Sorted).expect("hash");
        let sig = sign_fields(
            &key,
            &SigningFields {
                from: &from,
                to: &from,
                subject: "fuzz",
                priority: Priority::Normal,
                in_reply_to: None,
                payload_hash: &hash,
            },
        );
        let route = json!({"to": from, "subject": "fuzz", "payload": payload, "signature": sig.to_base64()});
        World {
            rt,
            state,
            api_key,
            valid_route: serde_json::to_vec(&route).expect("json"),
        }
    })
}

async fn send(
    state: &AppState,
    method: &str,
    uri: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> (u16, Vec<u8>) {
    let mut b = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, v.as_str());
    }
    let Ok(req) = b.body(Body::from(body)) else {
        return (0, Vec::new());
    };
    let resp = amp_mock::router(state.clone())
        .oneshot(req)
        .await
        .unwrap_or_else(|e| match e {});
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 4 << 20)
        .await
        .expect("mock response body readable and under 4 MiB");
    (status, bytes.to_vec())
}

#[derive(Debug, Arbitrary)]
enum PathChoice {
    Known(u8),
    KnownPlusSegment(u8, String),
    KnownWithQuery(u8, String),
    Raw(String),
}

#[derive(Debug, Arbitrary)]
enum Auth {
    None,
    Valid,
    ValidWithJunk(String),
    Raw(String),
}

#[derive(Debug, Arbitrary)]
enum BodyChoice {
    Raw(Vec<u8>),
    /// The valid signed route body, then byte edits (flip at offsets).
    EditedRoute(Vec<(u16, u8)>),
    /// The valid route body truncated.
    TruncatedRoute(u16),
    Empty,
}

#[derive(Debug, Arbitrary)]
struct Input {
    method: u8,
    path: PathChoice,
    auth: Auth,
    content_type: Option<String>,
    extra_headers: Vec<(String, String)>,
    body: BodyChoice,
}

/// True when `v` has an object key mentioning webhooks anywhere (escape-decoded by the parser).
fn mentions_webhook(v: &Value) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| k.to_ascii_lowercase().contains("webhook") || mentions_webhook(v)),
        Value::Array(a) => a.iter().any(mentions_webhook),
        _ => false,
    }
}

fuzz_target!(|input: Input| {
    let w = world();
    let method = METHODS[usize::from(input.method) % METHODS.len()];
    let pick = |i: u8| PATHS[usize::from(i) % PATHS.len()];
    let uri = match &input.path {
        PathChoice::Known(i) => pick(*i).to_string(),
        PathChoice::KnownPlusSegment(i, s) => format!("{}/{s}", pick(*i)),
        PathChoice::KnownWithQuery(i, q) => format!("{}?{q}", pick(*i)),
        PathChoice::Raw(s) => s.clone(),
    };
    if http::Uri::try_from(uri.as_str()).is_err() {
        return;
    }
    // Keep the one valid API key valid: requests that would delete the agent or rotate or revoke
    // its key are skipped when they carry it (other auth variants still reach those handlers).
    let lower = uri.to_ascii_lowercase();
    let destructive = (method == "DELETE" && lower.contains("agents/me"))
        || lower.contains("rotate-key")
        || lower.contains("revoke-key")
        || lower.contains('%');
    if destructive && matches!(input.auth, Auth::Valid | Auth::ValidWithJunk(_)) {
        return;
    }
    let mut headers: Vec<(&str, String)> = Vec::new();
    match &input.auth {
        Auth::None => {}
        Auth::Valid => headers.push(("authorization", format!("Bearer {}", w.api_key))),
        Auth::ValidWithJunk(j) => {
            headers.push(("authorization", format!("Bearer {}{j}", w.api_key)))
        }
        Auth::Raw(s) => headers.push(("authorization", s.clone())),
    }
    headers.push((
        "content-type",
        input
            .content_type
            .clone()
            .unwrap_or_else(|| "application/json".into()),
    ));
    let body = match &input.body {
        BodyChoice::Raw(b) => b.clone(),
        BodyChoice::EditedRoute(edits) => {
            let mut b = w.valid_route.clone();
            for (at, x) in edits.iter().take(8) {
                let i = usize::from(*at) % b.len();
                b[i] ^= *x;
            }
            b
        }
        BodyChoice::TruncatedRoute(n) => {
            let mut b = w.valid_route.clone();
            b.truncate(usize::from(*n) % (b.len() + 1));
            b
        }
        BodyChoice::Empty => Vec::new(),
    };
    if let Ok(v) = serde_json::from_slice::<Value>(&body)
        && mentions_webhook(&v)
    {
        return; // Never let the mock deliver webhooks anywhere.
    }
    // Owned header names: arbitrary names that are not valid header names are skipped.
    let extra: Vec<(String, String)> = input
        .extra_headers
        .iter()
        .take(4)
        .filter(|(k, _)| http::HeaderName::try_from(k.as_str()).is_ok())
        .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
        .cloned()
        .collect();
    for (k, v) in &extra {
        headers.push((k.as_str(), v.clone()));
    }

    let (status, resp) = w.rt.block_on(send(&w.state, method, &uri, &headers, body));
    if status == 0 {
        return; // the request itself was not valid HTTP (bad header value)
    }
    assert!(
        status < 500,
        "{method} {uri} answered {status}: {}",
        String::from_utf8_lossy(&resp)
    );
    if (400..500).contains(&status) && method != "HEAD" {
        let v: Value = serde_json::from_slice(&resp).unwrap_or_else(|e| {
            panic!(
                "{method} {uri} answered {status} with a non-JSON body ({e}): {}",
                String::from_utf8_lossy(&resp)
            )
        });
        assert!(
            v.get("error").is_some_and(Value::is_string)
                && v.get("message").is_some_and(Value::is_string),
            "{method} {uri} answered {status} without string `error`/`message`: {v}"
        );
    }
});
