//! REST endpoints (spec 03, 05, 08, 12) and the cross-cutting middleware: rate limits
//! (RL-001..003) and the spec error format (API-007). The body cap (API-009) is in
//! [`crate::body_limit`].

use crate::defects::Defect;
use crate::error::{ApiError, json_response};
use crate::policy::RateScope;
use crate::ssrf::validate_webhook_url;
use crate::state::{
    AckResult, AckVia, Agent, AgentRef, AppState, KeyRecord, NAME_BLOCK_SECS, fingerprint_of,
    hash_api_key, random_bytes, random_hex,
};
use amp_core::signing::{KeyError, PublicKey, SecretKey, Strictness};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

/// NOTIFY-008: long-poll `wait` ceiling in seconds.
const MAX_WAIT_SECS: u64 = 30;

type ApiResult = Result<Response, ApiError>;

fn ok(status: StatusCode, body: Value) -> ApiResult {
    Ok(json_response(status, &body))
}

// ---------------------------------------------------------------------------------------------
// Middleware
// ---------------------------------------------------------------------------------------------

/// RL-001..003: fixed one-minute windows per API key (per client IP for `register` and
/// unauthenticated requests); `X-RateLimit-*` on every response, `Retry-After` on 429.
pub(crate) async fn rate_limit_mw(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "local".to_string());
    let limits = state.config().rate_limits;
    let path = req.uri().path().to_string();
    let (bucket, limit) = if path.ends_with("/register") {
        (format!("reg:{ip}"), limits.register_per_minute)
    } else if let Some(token) = bearer(req.headers()) {
        let key = match state.policy().rate_scope {
            RateScope::PerApiKey => hash_api_key(&token),
            RateScope::Global => "global".to_string(),
        };
        (format!("key:{key}"), limits.api_requests_per_minute)
    } else {
        (format!("ip:{ip}"), limits.anonymous_per_minute)
    };
    let now = state.clock().now_unix();
    let mut d = state.limiter().check(&bucket, limit, now);
    // RL-003: the relay pickup has its own, lower budget on top of the per-key one.
    let is_count =
        req.method() == axum::http::Method::GET && path.ends_with("/messages/pending/count");
    if d.allowed
        && req.method() == axum::http::Method::GET
        && (path.ends_with("/messages/pending")
            || (is_count && state.has(Defect::CountRateLimited)))
        && let Some(key) = bucket.strip_prefix("key:")
    {
        let p = state
            .limiter()
            .check(&format!("pending:{key}"), limits.pending_per_minute, now);
        if !p.allowed || p.remaining < d.remaining {
            d = p;
        }
    }
    // NOTIFY-005: at least one count request per 10 s per agent, whatever else is spent.
    if !d.allowed
        && is_count
        && !state.has(Defect::CountRateLimited)
        && let Some(key) = bucket.strip_prefix("key:")
    {
        let floor = state
            .limiter()
            .check(&format!("count:{key}:{}", now.div_euclid(10)), 1, now);
        if floor.allowed {
            d = floor;
        }
    }
    let mut resp = if d.allowed {
        next.run(req).await
    } else {
        let mut r = ApiError::new(
            429,
            "rate_limited",
            format!(
                "rate limit of {} requests per minute exceeded: retry after {} s",
                d.limit, d.retry_after
            ),
        )
        .into_response();
        if !state.has(Defect::NoRetryAfter) {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(d.retry_after));
        }
        r
    };
    if !state.has(Defect::NoRateLimitHeaders) {
        let h = resp.headers_mut();
        h.insert("x-ratelimit-limit", HeaderValue::from(d.limit));
        h.insert("x-ratelimit-remaining", HeaderValue::from(d.remaining));
        h.insert("x-ratelimit-reset", HeaderValue::from(d.reset_at));
    }
    resp
}

/// API-007: every error response carries the spec error body. Errors produced by the framework
/// (405, empty 404) are given one; the `wrong-error-format` defect rewrites them to `{"msg"}`.
pub(crate) async fn error_format_mw(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if status.as_u16() < 400 {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let wrong = state.has(Defect::WrongErrorFormat);
    if is_json && !wrong {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let parsed: Option<Value> = if is_json {
        serde_json::from_slice(&bytes).ok()
    } else {
        None
    };
    let message = parsed
        .as_ref()
        .and_then(|v| v.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(&bytes).trim().to_string();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_string()
            } else {
                text
            }
        });
    let body = if wrong {
        json!({ "msg": message })
    } else {
        ApiError::new(status.as_u16(), status_code_name(status), message).body()
    };
    let mut out = json_response(status, &body);
    // Keep rate-limit and Retry-After headers.
    for (k, v) in parts.headers.drain() {
        if let Some(k) = k
            && k != header::CONTENT_TYPE
            && k != header::CONTENT_LENGTH
        {
            out.headers_mut().insert(k, v);
        }
    }
    out
}

fn status_code_name(s: StatusCode) -> &'static str {
    match s.as_u16() {
        400 => "invalid_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        413 => "request_too_large",
        415 => "invalid_request",
        429 => "rate_limited",
        _ => "internal_error",
    }
}

/// Unknown paths.
pub(crate) async fn not_found() -> Response {
    ApiError::not_found("no such endpoint: see GET /v1/info for the API").into_response()
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The bearer token of a request, if any (scheme case-insensitive).
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then(|| token.to_string())
}

fn auth(state: &AppState, headers: &HeaderMap) -> Result<AgentRef, ApiError> {
    let token = bearer(headers).ok_or_else(|| {
        ApiError::unauthorized("missing API key: send `Authorization: Bearer <api_key>` (API-002)")
    })?;
    state.authenticate(&token)
}

/// Parse a JSON request body strictly (JSON-003/005/008).
pub fn parse_json(state: &AppState, bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid_request(
            "request body is empty: send a JSON object",
        ));
    }
    if state.has(Defect::AcceptDuplicateKeys)
        && let Ok(v) = serde_json::from_slice::<Value>(bytes)
    {
        return Ok(v);
    }
    match amp_core::parse_strict(bytes) {
        Ok(v) => Ok(v),
        Err(e) => {
            if state.has(Defect::MalformedJson500)
                && serde_json::from_slice::<Value>(bytes).is_err()
            {
                return Err(ApiError::internal(
                    "unexpected error while reading the body",
                ));
            }
            Err(ApiError::invalid_request(format!(
                "body is not acceptable JSON ({e}): send one JSON object without duplicate keys or non-finite numbers"
            )))
        }
    }
}

fn as_object(v: &Value) -> Result<&Map<String, Value>, ApiError> {
    v.as_object()
        .ok_or_else(|| ApiError::invalid_request("request body must be a JSON object"))
}

fn opt_str<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, ApiError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid_field(
            field,
            format!("`{field}` must be a string"),
        )),
    }
}

fn req_str<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<&'a str, ApiError> {
    match opt_str(obj, field)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(ApiError::missing_field(field)),
    }
}

fn base_url_of(state: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}{}", state.config().normalized_base())
}

/// ADDR-002: agent name 1–63 of `[A-Za-z0-9_-]`.
fn valid_name(n: &str) -> bool {
    (1..=63).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// ADDR-003: tenant = dot-separated segments of 1–63 `[A-Za-z0-9-]`.
fn valid_tenant(t: &str) -> bool {
    !t.is_empty()
        && t.split('.').all(|s| {
            (1..=63).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn tenant_id(tenant: &str) -> String {
    use sha2::{Digest, Sha256};
    format!(
        "ten_{}",
        &hex::encode(Sha256::digest(tenant.as_bytes()))[..16]
    )
}

const ADJECTIVES: &[&str] = &[
    "amber", "brave", "calm", "clever", "daring", "eager", "gentle", "golden", "happy", "jolly",
    "keen", "lively", "lucky", "mellow", "nimble", "quiet", "rapid", "silver", "sunny", "swift",
];
const NOUNS: &[&str] = &[
    "badger", "comet", "falcon", "harbor", "heron", "lantern", "maple", "meadow", "otter", "pine",
    "river", "robin", "summit", "tiger", "willow", "beacon", "canyon", "ember", "fjord", "glacier",
];

/// REG-007: human-memorable alternatives `<name>-<adjective>-<noun>` that are free.
fn suggestions(state: &AppState, name: &str, tenant: &str) -> Vec<String> {
    let mut out = Vec::new();
    let seed = random_bytes::<16>();
    for i in 0..40usize {
        if out.len() == 3 {
            break;
        }
        let a = ADJECTIVES[(seed[i % 16] as usize + i) % ADJECTIVES.len()];
        let n = NOUNS[(seed[(i + 7) % 16] as usize + i * 3) % NOUNS.len()];
        let cand = format!("{name}-{a}-{n}");
        if cand.len() > 63 {
            continue;
        }
        let addr = format!("{cand}@{tenant}.{}", state.config().provider_domain);
        if !out.contains(&cand) && !name_unavailable(state, &addr) {
            out.push(cand);
        }
    }
    out
}

fn name_unavailable(state: &AppState, address: &str) -> bool {
    let now = state.clock().now_unix();
    let db = state.lock();
    db.by_address.contains_key(address) || db.tombstones.get(address).is_some_and(|t| *t > now)
}

/// Parse a registration public key strictly (REG-006). Only Ed25519 (C-58).
fn parse_public_key(state: &AppState, pem: &str, field: &str) -> Result<PublicKey, ApiError> {
    let bad = |why: String| {
        ApiError::new(
            400,
            "invalid_request",
            format!("{field} is not an acceptable Ed25519 SPKI public key PEM: {why}"),
        )
        .with_field(field)
    };
    match PublicKey::from_spki_pem(pem) {
        Ok(pk) if pk.is_weak() && !state.has(Defect::AcceptSmallOrderKey) => Err(bad(
            "small-order / identity key (trivially forgeable); generate a fresh key".into(),
        )),
        Ok(pk) => Ok(pk),
        Err(KeyError::PrivateKeyGiven) if state.has(Defect::AcceptPrivateKeyPem) => {
            SecretKey::from_pkcs8_pem(pem)
                .map(|sk| sk.public_key())
                .map_err(|e| bad(e.to_string()))
        }
        Err(KeyError::SmallOrder) if state.has(Defect::AcceptSmallOrderKey) => {
            // Planted defect: take the raw key bytes without the small-order check.
            PublicKey::spki_pem_raw_bytes(pem)
                .and_then(|raw| PublicKey::from_bytes(&raw))
                .map_err(|e| bad(e.to_string()))
        }
        Err(e) => Err(bad(e.to_string())),
    }
}

fn check_key_algorithm(obj: &Map<String, Value>) -> Result<(), ApiError> {
    let alg = req_str(obj, "key_algorithm")?;
    if alg.eq_ignore_ascii_case("ed25519") {
        Ok(())
    } else {
        // C-58: RSA/ECDSA signing is underspecified; amp-mock supports Ed25519 only.
        Err(ApiError::invalid_field(
            "key_algorithm",
            format!("key_algorithm `{alg}` is not supported: use Ed25519 (C-58)"),
        ))
    }
}

struct DeliveryUpdate {
    webhook_url: Option<Option<url::Url>>,
    webhook_secret: Option<Option<String>>,
    prefer_websocket: Option<bool>,
}

fn parse_delivery(
    state: &AppState,
    v: Option<&Value>,
    at_patch: bool,
) -> Result<DeliveryUpdate, ApiError> {
    let mut out = DeliveryUpdate {
        webhook_url: None,
        webhook_secret: None,
        prefer_websocket: None,
    };
    let Some(v) = v else { return Ok(out) };
    if v.is_null() {
        return Ok(out);
    }
    let d = v
        .as_object()
        .ok_or_else(|| ApiError::invalid_field("delivery", "`delivery` must be an object"))?;
    match d.get("webhook_url") {
        None => {}
        Some(Value::Null) => out.webhook_url = Some(None),
        Some(Value::String(u)) => {
            let unvalidated = state.has(Defect::WebhookPrivateUrlAccepted)
                || (at_patch && state.has(Defect::PatchWebhookUnvalidated));
            let url = if unvalidated {
                url::Url::parse(u).map_err(|e| {
                    ApiError::invalid_field("delivery.webhook_url", format!("not a URL: {e}"))
                })?
            } else {
                validate_webhook_url(u, state.config().allow_loopback_webhooks)
                    .map_err(|e| ApiError::invalid_field("delivery.webhook_url", e.to_string()))?
            };
            out.webhook_url = Some(Some(url));
        }
        Some(_) => {
            return Err(ApiError::invalid_field(
                "delivery.webhook_url",
                "`delivery.webhook_url` must be a string",
            ));
        }
    }
    match d.get("webhook_secret") {
        None => {}
        Some(Value::Null) => out.webhook_secret = Some(None),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 512 => {
            out.webhook_secret = Some(Some(s.clone()))
        }
        Some(_) => {
            return Err(ApiError::invalid_field(
                "delivery.webhook_secret",
                "`delivery.webhook_secret` must be a non-empty string of at most 512 bytes",
            ));
        }
    }
    match d.get("prefer_websocket") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => out.prefer_websocket = Some(*b),
        Some(_) => {
            return Err(ApiError::invalid_field(
                "delivery.prefer_websocket",
                "`delivery.prefer_websocket` must be a boolean",
            ));
        }
    }
    Ok(out)
}

fn opt_object_or_array(
    obj: &Map<String, Value>,
    field: &str,
    want_array: bool,
) -> Result<Option<Value>, ApiError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Array(_)) if want_array => Ok(Some(v.clone())),
        Some(v @ Value::Object(_)) if !want_array => Ok(Some(v.clone())),
        Some(_) => Err(ApiError::invalid_field(
            field,
            format!(
                "`{field}` must be {}",
                if want_array { "an array" } else { "an object" }
            ),
        )),
    }
}

fn new_api_key() -> String {
    format!("amp_test_sk_{}", random_hex::<24>())
}

// ---------------------------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------------------------

fn capabilities() -> Value {
    json!([
        "notify:v1",
        "notify:longpoll",
        "websockets",
        "webhooks",
        "federation",
        "attachments"
    ])
}

/// `GET {base}/health` (API-003).
pub(crate) async fn health(State(state): State<AppState>) -> ApiResult {
    ok(
        StatusCode::OK,
        json!({
            "status": "healthy",
            "version": amp_core::PROTOCOL_VERSION,
            "provider": state.config().provider_domain,
            "federation": true,
            "agents_online": state.agents_online(),
            "uptime_seconds": state.uptime_secs(),
        }),
    )
}

/// `GET {base}/info` (API-004).
pub(crate) async fn info(State(state): State<AppState>) -> ApiResult {
    let pk = state.provider_public_key();
    let rl = state.config().rate_limits;
    // API-004: `info-missing-fields` leaves out capabilities and rate limits.
    let complete = !state.has(Defect::InfoMissingFields);
    let mut m = Map::new();
    m.insert("provider".into(), json!(state.config().provider_domain));
    m.insert("version".into(), json!(amp_core::PROTOCOL_VERSION));
    m.insert("public_key".into(), json!(pk.to_spki_pem()));
    m.insert("fingerprint".into(), json!(fingerprint_of(&pk)));
    if complete {
        m.insert("capabilities".into(), capabilities());
    }
    m.insert("registration_modes".into(), json!(["open"]));
    if complete {
        m.insert(
            "rate_limits".into(),
            json!({
                "messages_per_minute": rl.messages_per_minute,
                "api_requests_per_minute": rl.api_requests_per_minute,
            }),
        );
    }
    m.insert(
        "attachment_limits".into(),
        json!({
            "max_attachment_size": 26_214_400,
            "max_total_attachment_size": 104_857_600,
            "max_attachments_per_message": 10,
            "av_scanning": false,
        }),
    );
    ok(StatusCode::OK, Value::Object(m))
}

/// `GET /.well-known/agent-messaging.json` (DISC-002; `version` `AMP1` per spec 06, C-14).
pub(crate) async fn well_known(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    let pk = state.provider_public_key();
    ok(
        StatusCode::OK,
        json!({
            "version": "AMP1",
            "endpoint": base_url_of(&state, &headers),
            "provider": state.config().provider_domain,
            "public_key": pk.to_spki_pem(),
            "fingerprint": fingerprint_of(&pk),
            "capabilities": capabilities(),
            "contact": format!("admin@{}", state.config().provider_domain),
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// Registration and agents
// ---------------------------------------------------------------------------------------------

/// `POST {base}/register` (REG-001..007).
pub(crate) async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let v = parse_json(&state, &body)?;
    let obj = as_object(&v)?;
    let tenant = req_str(obj, "tenant")?.to_ascii_lowercase();
    let name = req_str(obj, "name")?.to_ascii_lowercase();
    let pem = req_str(obj, "public_key")?;
    check_key_algorithm(obj)?;
    if !valid_name(&name) || (state.has(Defect::AgentNameUnderscoreRefused) && name.contains('_')) {
        return Err(ApiError::invalid_field(
            "name",
            "name must be 1-63 characters of A-Z a-z 0-9 - _ (ADDR-002)",
        ));
    }
    if !valid_tenant(&tenant) {
        return Err(ApiError::invalid_field(
            "tenant",
            "tenant must be dot-separated segments of 1-63 characters of A-Z a-z 0-9 - (ADDR-003)",
        ));
    }
    if let Some(hosted) = &state.config().tenants
        && !hosted.iter().any(|t| t.eq_ignore_ascii_case(&tenant))
    {
        return Err(ApiError::new(
            403,
            "tenant_access_denied",
            format!(
                "this provider hosts only the tenant(s) {}: register there (REG-008, REG-009)",
                hosted.join(", ")
            ),
        ));
    }
    let address = format!("{name}@{tenant}.{}", state.config().provider_domain);
    if address.len() > 254 {
        return Err(ApiError::invalid_field(
            "name",
            "the resulting address would exceed 254 characters (ADDR-004): choose a shorter name or tenant",
        ));
    }
    amp_core::Address::parse(&address).map_err(|e| {
        ApiError::invalid_field("tenant", format!("address `{address}` is not valid: {e}"))
    })?;
    let alias = opt_str(obj, "alias")?.map(str::to_string);
    let public_key = parse_public_key(&state, pem, "public_key")?;
    let delivery = parse_delivery(&state, obj.get("delivery"), false)?;
    let metadata = opt_object_or_array(obj, "metadata", false)?;
    let capabilities = opt_object_or_array(obj, "capabilities", true)?;

    if let Some(resp) = reissue_for_own_key(&state, &address, &public_key) {
        return resp;
    }
    let overwrite = state.has(Defect::NameCollisionOverwrites);
    // `recased-name-duplicate`: availability is checked with the name as sent.
    let recased = state.has(Defect::RecasedNameDuplicate) && req_str(obj, "name")? != name;
    if name_unavailable(&state, &address) && !overwrite && !recased {
        let sugg = suggestions(&state, &name, &tenant);
        return Err(ApiError::new(
            409,
            "name_taken",
            format!("`{address}` is already registered: pick another name (see suggestions)"),
        )
        .with_field("name")
        .with_extra("suggestions", json!(sugg)));
    }

    let now = state.clock().now_unix();
    let api_key = new_api_key();
    let webhook_url = delivery.webhook_url.flatten();
    let mut generated_secret = None;
    let webhook_secret = match delivery.webhook_secret.flatten() {
        Some(s) => Some(s),
        None if webhook_url.is_some() => {
            let s = format!("whsec_{}", random_hex::<24>());
            generated_secret = Some(s.clone());
            Some(s)
        }
        None => None,
    };
    let agent = Agent {
        agent_id: format!("agt_{}", random_hex::<12>()),
        name: name.clone(),
        tenant: tenant.clone(),
        tenant_id: tenant_id(&tenant),
        address: address.clone(),
        alias,
        public_key,
        public_key_pem: pem.to_string(),
        key_algorithm: "Ed25519".into(),
        fingerprint: fingerprint_of(&public_key),
        webhook_url,
        webhook_secret,
        prefer_websocket: delivery.prefer_websocket.unwrap_or(false),
        metadata,
        capabilities,
        registered_at: now,
        last_seen_at: now,
        api_key_plain: state.has(Defect::ApiKeyInMe).then(|| api_key.clone()),
        revoked_public_keys: Vec::new(),
    };
    {
        let mut db = state.lock();
        if let Some(old_id) = db.by_address.get(&address).cloned()
            && !recased
        {
            // Only reachable with `name-collision-overwrites`: the old agent is replaced.
            db.agents.remove(&old_id);
            db.api_keys.retain(|_, r| r.agent_id != old_id);
            db.mailboxes.remove(&old_id);
        }
        db.tombstones.remove(&address);
        db.by_address
            .insert(address.clone(), agent.agent_id.clone());
        db.api_keys.insert(
            hash_api_key(&api_key),
            KeyRecord {
                agent_id: agent.agent_id.clone(),
                valid_until: None,
            },
        );
        if db.first_agent.is_none() {
            db.first_agent = Some(agent.agent_id.clone());
        }
        db.agents.insert(agent.agent_id.clone(), agent.clone());
    }
    let base = base_url_of(&state, &headers);
    let mut resp = json!({
        "address": address,
        "short_address": format!("{name}@{tenant}"),
        "local_name": name,
        "agent_id": agent.agent_id,
        "tenant": tenant,
        "tenant_id": agent.tenant_id,
        "api_key": api_key,
        "provider": {
            "name": state.config().provider_domain,
            "endpoint": base,
            "route_url": format!("{base}/route"),
        },
        "fingerprint": agent.fingerprint,
        "registered_at": amp_core::format_rfc3339(now),
    });
    if let (Some(s), Some(m)) = (generated_secret, resp.as_object_mut()) {
        m.insert("webhook_secret".into(), json!(s));
    }
    ok(StatusCode::CREATED, resp)
}

/// `reregister-own-key-issues-key`: a registration of a taken name with that agent's own public
/// key is answered like a first registration, with a fresh API key for the existing agent.
fn reissue_for_own_key(state: &AppState, address: &str, key: &PublicKey) -> Option<ApiResult> {
    if !state.has(Defect::ReregisterOwnKeyIssuesKey) {
        return None;
    }
    let mut db = state.lock();
    let agent_id = db.by_address.get(address).cloned()?;
    let agent = db
        .agents
        .get(&agent_id)
        .filter(|a| a.public_key == *key)?
        .clone();
    let api_key = new_api_key();
    db.api_keys.insert(
        hash_api_key(&api_key),
        KeyRecord {
            agent_id: agent_id.clone(),
            valid_until: None,
        },
    );
    Some(ok(
        StatusCode::CREATED,
        json!({
            "address": agent.address,
            "agent_id": agent_id,
            "tenant": agent.tenant,
            "api_key": api_key,
            "fingerprint": agent.fingerprint,
        }),
    ))
}

fn agent_record(state: &AppState, agent: &AgentRef) -> Result<Agent, ApiError> {
    state
        .lock()
        .agents
        .get(&agent.agent_id)
        .cloned()
        .ok_or_else(|| ApiError::unauthorized("agent no longer registered"))
}

/// `GET {base}/agents/me` (AGT-001, REG-005: never the API key or webhook secret).
pub(crate) async fn me(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    let who = auth(&state, &headers)?;
    let a = agent_record(&state, &who)?;
    let mut m = Map::new();
    m.insert("agent_id".into(), json!(a.agent_id));
    m.insert("address".into(), json!(a.address));
    m.insert(
        "short_address".into(),
        json!(format!("{}@{}", a.name, a.tenant)),
    );
    m.insert("name".into(), json!(a.name));
    m.insert("tenant".into(), json!(a.tenant));
    m.insert("tenant_id".into(), json!(a.tenant_id));
    m.insert("alias".into(), json!(a.alias));
    m.insert(
        "delivery".into(),
        json!({
            "webhook_url": a.webhook_url.as_ref().map(url::Url::as_str),
            "prefer_websocket": a.prefer_websocket,
        }),
    );
    m.insert("public_key".into(), json!(a.public_key_pem));
    m.insert("key_algorithm".into(), json!(a.key_algorithm));
    m.insert("fingerprint".into(), json!(a.fingerprint));
    m.insert(
        "registered_at".into(),
        json!(amp_core::format_rfc3339(a.registered_at)),
    );
    m.insert(
        "last_seen_at".into(),
        json!(amp_core::format_rfc3339(a.last_seen_at)),
    );
    if let Some(md) = &a.metadata {
        m.insert("metadata".into(), md.clone());
    }
    if let Some(c) = &a.capabilities {
        m.insert("capabilities".into(), c.clone());
    }
    if let Some(k) = &a.api_key_plain {
        m.insert("api_key".into(), json!(k));
    }
    ok(StatusCode::OK, Value::Object(m))
}

/// `PATCH {base}/agents/me` (REG-021).
pub(crate) async fn patch_me(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let who = auth(&state, &headers)?;
    let v = parse_json(&state, &body)?;
    let obj = as_object(&v)?;
    for immutable in ["name", "tenant", "public_key", "key_algorithm", "address"] {
        if obj.contains_key(immutable) {
            return Err(ApiError::invalid_field(
                immutable,
                format!(
                    "`{immutable}` cannot be changed: use rotate-keys for keys, register a new agent for a new name"
                ),
            ));
        }
    }
    let alias = match obj.get("alias") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) => Some(Some(s.clone())),
        Some(_) => return Err(ApiError::invalid_field("alias", "`alias` must be a string")),
    };
    let delivery = parse_delivery(&state, obj.get("delivery"), true)?;
    let metadata = opt_object_or_array(obj, "metadata", false)?;
    let capabilities = opt_object_or_array(obj, "capabilities", true)?;
    let mut db = state.lock();
    let a = db
        .agents
        .get_mut(&who.agent_id)
        .ok_or_else(|| ApiError::unauthorized("agent no longer registered"))?;
    if let Some(al) = alias {
        a.alias = al;
    }
    let mut generated_secret = None;
    if let Some(u) = delivery.webhook_url {
        if u.is_some() && a.webhook_secret.is_none() && delivery.webhook_secret.is_none() {
            // Shown once, like at registration, so the agent can verify webhook HMACs.
            let s = format!("whsec_{}", random_hex::<24>());
            generated_secret = Some(s.clone());
            a.webhook_secret = Some(s);
        }
        a.webhook_url = u;
    }
    if let Some(s) = delivery.webhook_secret {
        a.webhook_secret = s;
    }
    if let Some(p) = delivery.prefer_websocket {
        a.prefer_websocket = p;
    }
    if metadata.is_some() {
        a.metadata = metadata;
    }
    if capabilities.is_some() {
        a.capabilities = capabilities;
    }
    let address = a.address.clone();
    drop(db);
    let mut resp = json!({"updated": true, "address": address});
    if let (Some(s), Some(m)) = (generated_secret, resp.as_object_mut()) {
        m.insert("webhook_secret".into(), json!(s));
    }
    ok(StatusCode::OK, resp)
}

/// `DELETE {base}/agents/me` (REG-023).
pub(crate) async fn delete_me(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    let who = auth(&state, &headers)?;
    let now = state.clock().now_unix();
    if !state.has(Defect::DeregisteredKeyWorks) {
        let mut db = state.lock();
        if let Some(a) = db.agents.remove(&who.agent_id) {
            db.revoked_fingerprints.insert(a.fingerprint.clone(), now);
        }
        db.by_address.remove(&who.address);
        db.api_keys.retain(|_, r| r.agent_id != who.agent_id);
        db.mailboxes.remove(&who.agent_id);
        db.tombstones
            .insert(who.address.clone(), now.saturating_add(NAME_BLOCK_SECS));
        db.idempotency.retain(|(aid, _), _| aid != &who.agent_id);
    }
    ok(
        StatusCode::OK,
        json!({
            "deregistered": true,
            "address": who.address,
            "deregistered_at": amp_core::format_rfc3339(now),
        }),
    )
}

/// `GET {base}/agents?tenant=&search=&limit=&cursor=` (AGT-002, API-011).
pub(crate) async fn list_agents(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let who = auth(&state, &headers)?;
    let tenant = q
        .get("tenant")
        .map(|t| t.to_ascii_lowercase())
        .unwrap_or_else(|| who.tenant.clone());
    if tenant != who.tenant {
        return Err(ApiError::forbidden(
            "agents can list only their own tenant: omit `tenant` or pass your own",
        ));
    }
    let limit = parse_limit(q.get("limit"), 50, 100)?;
    let offset = match q.get("cursor") {
        None => 0usize,
        Some(c) => c.parse::<usize>().map_err(|_| {
            ApiError::invalid_field(
                "cursor",
                "unknown cursor: use `cursor` from a previous page",
            )
        })?,
    };
    let offset = if state.has(Defect::AgentsCursorIgnored) {
        0
    } else {
        offset
    };
    let search = q.get("search").map(|s| s.to_ascii_lowercase());
    let mut rows: Vec<(String, Option<String>, String)> = {
        let db = state.lock();
        db.agents
            .values()
            .filter(|a| a.tenant == tenant)
            .filter(|a| {
                search.as_ref().is_none_or(|s| {
                    a.name.contains(s.as_str())
                        || a.alias
                            .as_ref()
                            .is_some_and(|al| al.to_ascii_lowercase().contains(s.as_str()))
                })
            })
            .map(|a| (a.address.clone(), a.alias.clone(), a.agent_id.clone()))
            .collect()
    };
    rows.sort();
    let total = rows.len();
    let page: Vec<Value> = rows
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(addr, alias, id)| json!({"address": addr, "alias": alias, "online": state.is_online(id)}))
        .collect();
    let end = offset.saturating_add(page.len());
    let has_more = end < total;
    ok(
        StatusCode::OK,
        json!({
            "agents": page,
            "total": total,
            "cursor": if has_more { Value::String(end.to_string()) } else { Value::Null },
            "has_more": has_more,
        }),
    )
}

/// `GET {base}/agents/resolve/{address}` (AGT-003).
pub(crate) async fn resolve(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(address): Path<String>,
) -> ApiResult {
    let who = auth(&state, &headers)?;
    // The same reading of the address as routing (amp-core's decision, ADDR-001..009): short
    // forms expand in the caller's tenant, malformed addresses are refused.
    let found = match state.route_decision(&who.tenant, &address) {
        amp_core::RouteDecision::Local { address } => state
            .resolve(&address)
            .and_then(|r| state.lock().agents.get(&r.agent_id).cloned()),
        amp_core::RouteDecision::Refuse(r) if r.status == 400 => {
            return Err(ApiError::new(r.status, r.code, r.reason).with_field("address"));
        }
        _ => None,
    };
    let a = found.ok_or_else(|| {
        ApiError::not_found(format!(
            "no agent `{address}` is registered on this provider"
        ))
    })?;
    let mut m = Map::new();
    m.insert("address".into(), json!(a.address));
    m.insert("alias".into(), json!(a.alias));
    m.insert("public_key".into(), json!(a.public_key_pem));
    m.insert("key_algorithm".into(), json!(a.key_algorithm));
    m.insert("fingerprint".into(), json!(a.fingerprint));
    m.insert("online".into(), json!(state.is_online(&a.agent_id)));
    if let Some(c) = &a.capabilities {
        m.insert("capabilities".into(), c.clone());
    }
    ok(StatusCode::OK, Value::Object(m))
}

// ---------------------------------------------------------------------------------------------
// Routing and relay
// ---------------------------------------------------------------------------------------------

/// `POST {base}/route` (RTE-002/003).
pub(crate) async fn route(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let who = match auth(&state, &headers) {
        Ok(who) => who,
        Err(e) => mesh_sender_without_auth(&state, &headers, &body).ok_or(e)?,
    };
    let v = parse_json(&state, &body)?;
    let outcome = if headers.contains_key("x-forwarded-from") {
        state.route_mesh(&who, &v).await
    } else {
        state.route(&who, &v).await
    }
    .map_err(|e| {
        let sig_failure = e.code == "signature_missing" || e.code == "signature_invalid";
        if sig_failure && state.has(Defect::SignatureFailure400) {
            ApiError::invalid_request("the request signature was not accepted")
        } else {
            e
        }
    })?;
    let mut out = outcome.to_json();
    if state.has(Defect::NoDeliveryBasis)
        && let Some(o) = out.as_object_mut()
    {
        o.remove("basis");
    }
    if outcome.status == "quarantined" {
        // RTE-004: held for review, answered 202 (`admin.rs`).
        let out = crate::admin::quarantined_body(&state, out, &outcome.id);
        return ok(StatusCode::ACCEPTED, out);
    }
    ok(StatusCode::OK, out)
}

/// `mesh-header-skips-auth`: a request without credentials that names a mesh host in
/// `X-Forwarded-From` is taken to come from the agent its `from` names.
fn mesh_sender_without_auth(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<AgentRef> {
    if !state.has(Defect::MeshHeaderSkipsAuth)
        || headers.get(header::AUTHORIZATION).is_some()
        || !headers.contains_key("x-forwarded-from")
    {
        return None;
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    state.resolve_str(v.get("from")?.as_str()?)
}

fn parse_limit(raw: Option<&String>, default: usize, max: usize) -> Result<usize, ApiError> {
    match raw {
        None => Ok(default),
        Some(s) => match s.trim().parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid_field(
                "limit",
                format!("`limit` must be an integer from 1 to {max}"),
            )),
        },
    }
}

/// `GET {base}/messages/pending?limit=&after=&wait=` (RTE-015/019, NOTIFY-006/007/008).
pub(crate) async fn pending(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let who = if headers.get(header::AUTHORIZATION).is_none() && state.has(Defect::NoAuthPending) {
        let first = state.lock().first_agent.clone();
        let agent = first.and_then(|id| state.lock().agents.get(&id).map(Agent::as_ref));
        agent.ok_or_else(|| ApiError::unauthorized("missing API key"))?
    } else {
        auth(&state, &headers)?
    };
    // `pending-agent-param`: a query parameter picks whose queue is listed.
    let who = match q
        .get("agent")
        .filter(|_| state.has(Defect::PendingAgentParam))
    {
        Some(address) => state.resolve_str(address).unwrap_or(who),
        None => who,
    };
    // SUS-003: a suspended agent may not pick up (its messages are kept, SUS-004).
    crate::admin::check_pickup(&state, &who)?;
    let limit = parse_limit(q.get("limit"), 10, 100)?;
    let wait = match q.get("wait") {
        None => 0,
        Some(w) => w
            .trim()
            .parse::<u64>()
            .map_err(|_| {
                ApiError::invalid_field("wait", "`wait` must be a whole number of seconds (0-30)")
            })?
            .min(MAX_WAIT_SECS),
    };
    let after = q.get("after").cloned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    loop {
        let notify = state.mailbox_notify(&who.agent_id);
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let page = state.pending_page(&who, after.as_deref(), limit)?;
        let empty = page
            .get("messages")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        if !empty || tokio::time::Instant::now() >= deadline {
            return ok(StatusCode::OK, page);
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
    }
}

/// `GET {base}/messages/pending/count` (NOTIFY-004).
pub(crate) async fn pending_count(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    let who = auth(&state, &headers)?;
    ok(StatusCode::OK, state.pending_count(&who))
}

/// `DELETE {base}/messages/pending/{id}` (RTE-017, NOTIFY-009).
pub(crate) async fn ack_one(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let who = auth(&state, &headers)?;
    match state.ack(&who, &id, AckVia::Delete)? {
        AckResult::Acked => ok(StatusCode::OK, json!({"acknowledged": true})),
        AckResult::AlreadyAcked => ok(
            StatusCode::OK,
            json!({"acknowledged": true, "already_acked": true}),
        ),
    }
}

/// `POST {base}/messages/pending/ack {"ids": [...]}` (RTE-018, NOTIFY-009).
pub(crate) async fn batch_ack(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let who = auth(&state, &headers)?;
    let v = parse_json(&state, &body)?;
    let obj = as_object(&v)?;
    let ids = match obj.get("ids") {
        None => return Err(ApiError::missing_field("ids")),
        Some(Value::Array(a)) if a.len() <= 1000 => a,
        Some(_) => {
            return Err(ApiError::invalid_field(
                "ids",
                "`ids` must be an array of at most 1000 message ids",
            ));
        }
    };
    let mut acked = 0usize;
    let mut already = Vec::new();
    let mut missing = Vec::new();
    let everything: Vec<Value>;
    let ids = if ids.is_empty() && state.has(Defect::BatchAckEmptyAcksAll) {
        everything = state
            .pending_unacked(&who)
            .iter()
            .map(|m| json!(m.id))
            .collect();
        &everything
    } else {
        ids
    };
    for id in ids {
        let Some(id) = id.as_str() else {
            return Err(ApiError::invalid_field("ids", "every id must be a string"));
        };
        match state.ack(&who, id, AckVia::Batch) {
            Ok(AckResult::Acked) => acked += 1,
            Ok(AckResult::AlreadyAcked) => already.push(json!(id)),
            Err(_) => missing.push(json!(id)),
        }
    }
    let mut m = Map::new();
    m.insert("acknowledged".into(), json!(acked));
    m.insert("already_acked".into(), Value::Array(already));
    if !missing.is_empty() {
        m.insert("not_found".into(), Value::Array(missing));
    }
    ok(StatusCode::OK, Value::Object(m))
}

/// `POST {base}/messages/{id}/read` (RTE-022, NOTIFY-010).
pub(crate) async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let who = auth(&state, &headers)?;
    let sent = state.mark_read(&who, &id)?;
    ok(StatusCode::OK, json!({"read_receipt_sent": sent}))
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/// `POST {base}/auth/rotate-key` (REG-019).
pub(crate) async fn rotate_key(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    let who = auth(&state, &headers)?;
    let old = bearer(&headers)
        .map(|t| hash_api_key(&t))
        .unwrap_or_default();
    let now = state.clock().now_unix();
    let grace = state.policy().rotated_key_grace_secs;
    let until = now.saturating_add(grace);
    let new_key = new_api_key();
    {
        let mut db = state.lock();
        if grace <= 0 {
            db.api_keys.remove(&old);
        } else if let Some(r) = db.api_keys.get_mut(&old) {
            let cur = r.valid_until.unwrap_or(i64::MAX);
            r.valid_until = Some(cur.min(until));
        }
        db.api_keys.insert(
            hash_api_key(&new_key),
            KeyRecord {
                agent_id: who.agent_id.clone(),
                valid_until: None,
            },
        );
        if let Some(a) = db.agents.get_mut(&who.agent_id)
            && a.api_key_plain.is_some()
        {
            a.api_key_plain = Some(new_key.clone());
        }
    }
    ok(
        StatusCode::OK,
        json!({
            "api_key": new_key,
            "previous_key_valid_until": amp_core::format_rfc3339(until),
        }),
    )
}

/// `POST {base}/auth/rotate-keys` (REG-022, REV-001).
///
/// C-21: the proof's byte layout is unspecified. amp-mock's reading: `proof` is the standard
/// padded Base64 Ed25519 signature, made with the OLD private key, over the exact UTF-8 bytes
/// of the `new_public_key` PEM text as sent in this request.
pub(crate) async fn rotate_keys(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let who = auth(&state, &headers)?;
    if let Some(resp) = regenerate_for_bodyless_rotation(&state, &who, &body) {
        return resp;
    }
    let v = parse_json(&state, &body)?;
    let obj = as_object(&v)?;
    let pem = req_str(obj, "new_public_key")?;
    check_key_algorithm(obj)?;
    let proof = req_str(obj, "proof")?;
    let new_pk = parse_public_key(&state, pem, "new_public_key")?;
    let old = agent_record(&state, &who)?;
    if new_pk == old.public_key {
        return Err(ApiError::invalid_field(
            "new_public_key",
            "new_public_key equals the current key: generate a new key pair",
        ));
    }
    // `rotate-proof-hex-text`: the proof covers the hex text of the raw key (a C-21 reading).
    let signed = if state.has(Defect::RotateProofHexText) {
        hex::encode(new_pk.as_bytes()).into_bytes()
    } else {
        pem.as_bytes().to_vec()
    };
    if !state.has(Defect::RotateKeysNoProofCheck)
        && amp_core::verify(&old.public_key, &signed, proof, Strictness::Strict).is_err()
    {
        return Err(ApiError::new(
            403,
            "signature_invalid",
            "proof does not verify: sign the exact new_public_key PEM text with the OLD private key (Ed25519, Base64) (C-21)",
        )
        .with_field("proof"));
    }
    let now = state.clock().now_unix();
    let fp = fingerprint_of(&new_pk);
    {
        let mut db = state.lock();
        db.revoked_fingerprints.insert(old.fingerprint.clone(), now);
        if let Some(a) = db.agents.get_mut(&who.agent_id) {
            a.revoked_public_keys.push(a.public_key);
            a.public_key = new_pk;
            a.public_key_pem = pem.to_string();
            a.fingerprint = fp.clone();
        }
    }
    ok(
        StatusCode::OK,
        json!({"rotated": true, "fingerprint": fp, "revoked_fingerprint": old.fingerprint}),
    )
}

/// `rotate-keys-bodyless-regenerates`: a rotation request without a usable `new_public_key`
/// (empty, `{}` or unparsable body) makes the provider generate a key pair itself and replace
/// the agent's key with it (a legacy "server-side key generation" path).
fn regenerate_for_bodyless_rotation(
    state: &AppState,
    who: &AgentRef,
    body: &[u8],
) -> Option<ApiResult> {
    let has_key = serde_json::from_slice::<Value>(body)
        .ok()
        .is_some_and(|v| v.get("new_public_key").is_some());
    if !state.has(Defect::RotateKeysBodylessRegenerates) || has_key {
        return None;
    }
    let new_pk = SecretKey::generate().public_key();
    let fp = fingerprint_of(&new_pk);
    let mut db = state.lock();
    let a = db.agents.get_mut(&who.agent_id)?;
    let old_fp = std::mem::replace(&mut a.fingerprint, fp.clone());
    a.revoked_public_keys.push(a.public_key);
    a.public_key = new_pk;
    a.public_key_pem = new_pk.to_spki_pem();
    Some(ok(
        StatusCode::OK,
        json!({"rotated": true, "fingerprint": fp, "revoked_fingerprint": old_fp}),
    ))
}

/// `DELETE {base}/auth/revoke-key` (REG-020; C-20 also revokes the public key).
pub(crate) async fn revoke_key(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    let who = auth(&state, &headers)?;
    let now = state.clock().now_unix();
    if !state.has(Defect::RevokedKeyWorks) {
        let mut db = state.lock();
        db.api_keys.retain(|_, r| r.agent_id != who.agent_id);
        if let Some(fp) = db.agents.get(&who.agent_id).map(|a| a.fingerprint.clone()) {
            db.revoked_fingerprints.insert(fp, now);
        }
    }
    ok(
        StatusCode::OK,
        json!({"revoked": true, "revoked_at": amp_core::format_rfc3339(now)}),
    )
}
