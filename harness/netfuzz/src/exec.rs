//! Executing operations against a target: one [`Lane`] = its own agents, HTTP client, oracle
//! model and operation history.

use crate::generate::{Generator, agent_count, derive_seed};
use crate::ops::*;
use crate::oracle::{
    AgentFacts, Expectation, Invariant, Model, OwnSignature, Violation, check_http, excerpt, v,
};
use crate::ws_session::{WsAuth, WsSession};
use amp_client::{ClientError, Http, HttpConfig, Method, Req, Secret, WsConfig, WsConn, WsEvent};
use amp_core::signing::{Priority, SecretKey, SigningFields, canonical_string, sign_fields};
use amp_core::{PayloadProfile, payload_hash};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// Cap on response bodies kept (pending lists of 100 messages fit easily).
const RESPONSE_CAP: usize = 256 * 1024;
/// The spec's HTTP body limit (API-009): larger route bodies must be refused with 413.
const API_BODY_LIMIT: usize = 1_048_576;
/// Most ids in one batch ack (the mock's and the spec's pending page maximum, RTE-015).
const ACK_BATCH_MAX: usize = 100;

/// The lane could not be set up or talk to the target at all.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ExecError {
    #[error("registering fuzz agent {name} failed: {reason}")]
    Register { name: String, reason: String },
    #[error("HTTP client: {0}")]
    Client(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Everything a lane needs to know (also rebuilt from a reproducer for replays).
#[derive(Debug, Clone)]
pub struct LaneConfig {
    pub base_url: String,
    pub seed: u64,
    pub lane: u32,
    pub agents: u8,
    pub profile: PayloadProfile,
    pub request_timeout: Duration,
    pub tenant: String,
}

impl LaneConfig {
    pub fn from_options(opts: &crate::FuzzOptions, lane: u32) -> LaneConfig {
        LaneConfig {
            base_url: opts.base_url.trim_end_matches('/').to_string(),
            seed: opts.seed,
            lane,
            agents: agent_count(opts.seed, lane),
            profile: opts.profile,
            request_timeout: opts.request_timeout,
            tenant: opts.tenant.clone(),
        }
    }

    fn ws_url(&self) -> String {
        let b = &self.base_url;
        let ws = if let Some(rest) = b.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = b.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            b.clone()
        };
        format!("{ws}/ws")
    }
}

/// What ends [`Lane::read_frames`] before its wait is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadEnd {
    /// The connection closing (or breaking).
    Close,
    /// The answer to our ping, or the connection closing.
    PongOrClose,
}

/// When a lane stops.
#[derive(Debug, Clone, Copy)]
pub enum LaneBudget {
    Until(Instant),
    Requests(u64),
}

/// A violation plus the operations (from the lane's start) that produced it.
#[derive(Debug, Clone)]
pub struct FoundViolation {
    pub violation: Violation,
    pub ops: Vec<Op>,
}

/// What one lane did.
#[derive(Debug, Clone, Default)]
pub struct LaneOutcome {
    pub lane: u32,
    pub agents: u8,
    pub operations: u64,
    pub requests: u64,
    pub ws_frames: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub ops_by_kind: BTreeMap<&'static str, u64>,
    /// First occurrence of each (invariant, clause) in this lane.
    pub violations: Vec<FoundViolation>,
    /// Every violation, including repeats.
    pub violation_counts: BTreeMap<String, u64>,
    pub rate_limited: u64,
}

struct AgentCtx {
    address: String,
    api_key: Secret,
    key: SecretKey,
}

/// The HTTP client of a run's lanes (bounded bodies, bounded 429 retries).
pub fn lane_http(request_timeout: Duration) -> Result<Http, ExecError> {
    Http::new(HttpConfig {
        timeout: request_timeout,
        body_cap: RESPONSE_CAP,
        max_429_retries: 3,
        max_retry_wait: Duration::from_secs(10),
        ..HttpConfig::default()
    })
    .map_err(|e| ExecError::Client(e.to_string()))
}

/// One lane: agents, client, oracle model.
pub struct Lane {
    cfg: LaneConfig,
    http: Http,
    agents: Vec<AgentCtx>,
    pub model: Model,
    /// Each agent's previous route body and the signature made for it (for resends).
    last_route: Vec<Option<(Vec<u8>, OwnSignature)>>,
    pub requests: u64,
    pub ws_frames: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub rate_limited: u64,
}

fn run_nonce(lane: u32) -> String {
    use sha2::Digest as _;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = sha2::Sha256::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.update(now.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(lane.to_le_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let d = h.finalize();
    d.iter().take(5).map(|b| format!("{b:02x}")).collect()
}

fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Lane {
    /// Register the lane's agents (keys derived from seed and lane, names fresh per run).
    /// `http` is shared by the lanes of a run: a client is costly to build (it loads the
    /// platform's trust store) and lanes gain nothing from separate connection pools.
    pub async fn setup(cfg: LaneConfig, http: Http) -> Result<Lane, ExecError> {
        let nonce = run_nonce(cfg.lane);
        let mut agents = Vec::new();
        for i in 0..cfg.agents {
            let key =
                SecretKey::from_seed(derive_seed(cfg.seed, cfg.lane, &format!("agent-key-{i}")));
            let name = format!("nf{}-{nonce}-{i}", cfg.lane);
            let body = json!({
                "tenant": cfg.tenant,
                "name": name,
                "public_key": key.public_key().to_spki_pem(),
                "key_algorithm": "Ed25519",
            });
            let req = Req::new(Method::POST, format!("{}/register", cfg.base_url)).json(&body);
            let resp = http.send(&req).await.map_err(|e| ExecError::Register {
                name: name.clone(),
                reason: e.to_string(),
            })?;
            let j = resp.json().cloned().unwrap_or(Value::Null);
            let (Some(address), Some(api_key)) = (
                j.get("address").and_then(Value::as_str),
                j.get("api_key").and_then(Value::as_str),
            ) else {
                return Err(ExecError::Register {
                    name,
                    reason: format!(
                        "answer {} without address/api_key: {}",
                        resp.status,
                        excerpt(&resp.text(), 200)
                    ),
                });
            };
            agents.push(AgentCtx {
                address: address.to_ascii_lowercase(),
                api_key: Secret::new(api_key),
                key,
            });
        }
        let facts = agents
            .iter()
            .map(|a| AgentFacts {
                address: a.address.clone(),
                public_key: a.key.public_key(),
            })
            .collect();
        let n = agents.len();
        Ok(Lane {
            model: Model::new(facts, cfg.profile),
            cfg,
            http,
            agents,
            last_route: vec![None; n],
            requests: 0,
            ws_frames: 0,
            statuses: BTreeMap::new(),
            rate_limited: 0,
        })
    }

    /// Deregister the lane's agents (best effort).
    pub async fn teardown(self) {
        for a in &self.agents {
            let req = Req::new(Method::DELETE, format!("{}/agents/me", self.cfg.base_url))
                .bearer(&a.api_key);
            let _ = self.http.send(&req).await;
        }
    }

    fn idx(&self, n: u8) -> usize {
        usize::from(n) % self.agents.len()
    }

    /// Send one HTTP request; transport failures become violations. (A large body travels on
    /// a connection of its own in amp-client, and an answer sent before it was fully written
    /// is kept: a provider refusing it early is judged on that answer.)
    async fn send(&mut self, req: Req, what: &str) -> Result<amp_client::Resp, Violation> {
        self.requests += 1;
        match self.http.send(&req).await {
            Ok(r) => {
                *self.statuses.entry(r.status).or_default() += 1;
                if r.status == 429 {
                    self.rate_limited += 1;
                }
                Ok(r)
            }
            Err(ClientError::Timeout { after, .. }) => Err(v(
                Invariant::Hang,
                None,
                format!("{what} got no complete answer within {after:?}"),
            )),
            // API-009: a body over the limit is refused with an answer, not a hang-up.
            Err(e @ ClientError::NoAnswer { body_len, .. }) if body_len > API_BODY_LIMIT => Err(v(
                Invariant::Transport,
                Some("API-009"),
                format!("{what} with a {body_len}-byte body: {e}"),
            )),
            Err(e) => Err(v(Invariant::Transport, None, format!("{what}: {e}"))),
        }
    }

    /// Build the exact bytes of a route body for `op` (signing first, then mutating), with the
    /// signature made for it.
    pub fn build_route(&self, op: &RouteOp, sender: usize) -> (Vec<u8>, OwnSignature) {
        let me = &self.agents[sender];
        let to = match &op.to {
            To::Agent { n } => self.agents[self.idx(*n)].address.clone(),
            To::AgentUpper { n } => self.agents[self.idx(*n)].address.to_ascii_uppercase(),
            To::Missing { name } => {
                let domain = me.address.split_once('@').map_or("", |(_, d)| d);
                format!("{name}@{domain}")
            }
        };
        let mut subject = op.subject.clone();
        let mut payload = op.payload.clone();
        let mut body_pad: Option<u32> = None;
        if let Mutation::Size { what, len } = &op.mutation {
            match what {
                SizeField::Subject => subject = "s".repeat(*len as usize),
                SizeField::Message => {
                    if let Some(m) = payload.as_object_mut() {
                        m.insert("message".into(), json!("m".repeat(*len as usize)));
                    }
                }
                SizeField::Body => body_pad = Some(*len),
            }
        }
        let priority = op
            .priority
            .as_deref()
            .and_then(|p| Priority::from_str(p).ok())
            .unwrap_or_default();
        let mut sign_from = me.address.clone();
        let mut signer = sender;
        match &op.mutation {
            Mutation::SpoofFrom {
                n,
                sign_as_spoofed: true,
            } => {
                sign_from = self.agents[self.idx(*n)].address.clone();
            }
            Mutation::OtherKey { n } => signer = self.idx(*n),
            _ => {}
        }
        let sign_key = &self.agents[signer].key;
        let hash = payload_hash(&payload, self.cfg.profile)
            .unwrap_or_else(|_| amp_core::hash_canonical_bytes(b""));
        let fields = SigningFields {
            from: &sign_from,
            to: &to,
            subject: &subject,
            priority,
            in_reply_to: op.in_reply_to.as_deref(),
            payload_hash: &hash,
        };
        let sig = sign_fields(sign_key, &fields);
        let own = OwnSignature {
            signer,
            canonical: canonical_string(&fields),
            text: sig.to_base64(),
        };
        let mut body = Map::new();
        body.insert("to".into(), json!(to));
        body.insert("subject".into(), json!(subject));
        if let Some(p) = &op.priority {
            body.insert("priority".into(), json!(p));
        }
        if let Some(r) = &op.in_reply_to {
            body.insert("in_reply_to".into(), json!(r));
        }
        body.insert("payload".into(), payload);
        body.insert("signature".into(), json!(own.text));
        if let Some(k) = &op.idempotency_key {
            body.insert("idempotency_key".into(), json!(k));
        }
        match &op.mutation {
            Mutation::None
            | Mutation::Size { .. }
            | Mutation::OtherKey { .. }
            | Mutation::Text { .. } => {}
            Mutation::Unsigned => {
                body.remove("signature");
            }
            Mutation::AlterAfterSigning { field, value } => {
                alter(&mut body, *field, value, priority)
            }
            Mutation::Signature { text: t } => {
                let text = match t {
                    SigText::BitFlip { byte, bit } => {
                        let mut b = sig.to_bytes();
                        b[usize::from(*byte) % 64] ^= 1 << (bit % 8);
                        amp_core::Signature::from_bytes(b).to_base64()
                    }
                    SigText::UrlSafe => sig.to_base64().replace('+', "-").replace('/', "_"),
                    SigText::NoPadding => sig.to_base64().trim_end_matches('=').to_string(),
                    SigText::Whitespace { at } => {
                        let mut s = sig.to_base64();
                        s.insert(usize::from(*at) % s.len(), ' ');
                        s
                    }
                    SigText::Hex => sig.to_bytes().iter().map(|b| format!("{b:02x}")).collect(),
                    SigText::Truncate { len } => {
                        sig.to_base64().chars().take(usize::from(*len)).collect()
                    }
                    SigText::Garbage { text } => text.clone(),
                    SigText::WrongType { value } => {
                        body.insert("signature".into(), value.clone());
                        String::new()
                    }
                    SigText::OtherMessage => {
                        let other_subject = format!("{subject}!");
                        let f2 = SigningFields {
                            subject: &other_subject,
                            ..fields
                        };
                        sign_fields(sign_key, &f2).to_base64()
                    }
                };
                if !matches!(t, SigText::WrongType { .. }) {
                    body.insert("signature".into(), json!(text));
                }
            }
            Mutation::SpoofFrom { n, .. } => {
                body.insert("from".into(), json!(self.agents[self.idx(*n)].address));
            }
            Mutation::ExtraFields { fields } => {
                for (k, val) in fields {
                    if !body.contains_key(k) {
                        body.insert(k.clone(), val.clone());
                    }
                }
            }
            Mutation::WrongType { field, value } => match field.strip_prefix("payload.") {
                Some(inner) => {
                    if let Some(p) = body.get_mut("payload").and_then(Value::as_object_mut) {
                        p.insert(inner.to_string(), value.clone());
                    }
                }
                None => {
                    body.insert(field.clone(), value.clone());
                }
            },
            Mutation::Missing { field } => match field.strip_prefix("payload.") {
                Some(inner) => {
                    if let Some(p) = body.get_mut("payload").and_then(Value::as_object_mut) {
                        p.shift_remove(inner);
                    }
                }
                None => {
                    body.shift_remove(field.as_str());
                }
            },
        }
        let mut bytes = serde_json::to_vec(&Value::Object(body.clone())).unwrap_or_default();
        if let Some(len) = body_pad {
            // Pad an unsigned field so the whole body is `len` bytes.
            let overhead = br#","x-pad":"""#.len();
            let pad = (len as usize).saturating_sub(bytes.len() + overhead);
            body.insert("x-pad".into(), json!("p".repeat(pad)));
            bytes = serde_json::to_vec(&Value::Object(body)).unwrap_or_default();
        }
        if let Mutation::Text { edit } = &op.mutation {
            bytes = text_edit(bytes, edit);
        }
        (bytes, own)
    }

    /// Execute one operation; returns the violations it revealed.
    pub async fn exec(&mut self, op: &Op) -> Vec<Violation> {
        match op {
            Op::Route(r) => {
                let sender = self.idx(r.sender);
                let (bytes, own) = self.build_route(r, sender);
                self.route_bytes(sender, bytes, own).await
            }
            Op::Resend { sender } => {
                let sender = self.idx(*sender);
                match self.last_route[sender].clone() {
                    Some((bytes, own)) => self.route_bytes(sender, bytes, own).await,
                    None => Vec::new(),
                }
            }
            Op::Pending { agent, limit } => {
                let a = self.idx(*agent);
                let query = limit.map(|n| format!("?limit={n}")).unwrap_or_default();
                let req = Req::get(format!("{}/messages/pending{query}", self.cfg.base_url))
                    .bearer(&self.agents[a].api_key);
                match self.send(req, "GET /messages/pending").await {
                    Err(e) => vec![e],
                    Ok(resp) => {
                        let mut out =
                            check_http(resp.status, &resp.body, false, "GET /messages/pending");
                        if resp.is_success() && !resp.truncated {
                            out.extend(self.model.pending_answer(a, &resp.body));
                        }
                        out
                    }
                }
            }
            Op::Ack { agent, target } => {
                let a = self.idx(*agent);
                let Some(id) = self.model.ack_id(a, target) else {
                    return Vec::new();
                };
                let what = "DELETE /messages/pending/{id}";
                let req = Req::new(
                    Method::DELETE,
                    format!("{}/messages/pending/{}", self.cfg.base_url, pct(&id)),
                )
                .bearer(&self.agents[a].api_key);
                match self.send(req, what).await {
                    Err(e) => vec![e],
                    Ok(resp) => {
                        let mut out = check_http(resp.status, &resp.body, false, what);
                        let ok = resp.is_success()
                            && resp
                                .json()
                                .and_then(|j| j.get("acknowledged"))
                                .and_then(Value::as_bool)
                                == Some(true);
                        if resp.status != 429 && !id.is_empty() {
                            out.extend(self.model.ack_result(a, &id, ok, resp.status));
                        }
                        out
                    }
                }
            }
            Op::AckBatch { agent, targets } => {
                let a = self.idx(*agent);
                let ids: Vec<String> = targets
                    .iter()
                    .filter_map(|t| self.model.ack_id(a, t))
                    .collect();
                self.ack_batch(a, ids).await
            }
            Op::AckSeen { agent } => {
                let a = self.idx(*agent);
                let ids = self.model.unacked_seen(a, ACK_BATCH_MAX);
                self.ack_batch(a, ids).await
            }
            Op::Raw(r) => {
                let what = format!(
                    "{} {} (malformed body)",
                    r.endpoint.method(),
                    r.endpoint.path()
                );
                let method = if r.endpoint.method() == "PATCH" {
                    Method::PATCH
                } else {
                    Method::POST
                };
                let mut req = Req::new(
                    method,
                    format!("{}{}", self.cfg.base_url, r.endpoint.path()),
                );
                req = match &r.content_type {
                    Some(ct) => req.body(r.body.bytes(), ct),
                    None => req.body(r.body.bytes(), ""),
                };
                if let Some(n) = r.auth {
                    req = req.bearer(&self.agents[self.idx(n)].api_key);
                }
                match self.send(req, &what).await {
                    Err(e) => vec![e],
                    Ok(resp) => {
                        let mut out = check_http(resp.status, &resp.body, true, &what);
                        if resp.is_success() {
                            out.push(v(
                                Invariant::InvalidBodyAccepted,
                                Some("JSON-008"),
                                format!(
                                    "{what} accepted ({}) a body that is not strict JSON: {}",
                                    resp.status,
                                    excerpt(&String::from_utf8_lossy(&r.body.bytes()), 120)
                                ),
                            ));
                        }
                        out
                    }
                }
            }
            Op::Ws(w) => self.ws(w).await,
        }
    }

    /// `POST /messages/pending/ack` with `ids` (nothing is sent for an empty list).
    async fn ack_batch(&mut self, a: usize, ids: Vec<String>) -> Vec<Violation> {
        if ids.is_empty() {
            return Vec::new();
        }
        let what = "POST /messages/pending/ack";
        let req = Req::new(
            Method::POST,
            format!("{}/messages/pending/ack", self.cfg.base_url),
        )
        .json(&json!({ "ids": ids }))
        .bearer(&self.agents[a].api_key);
        let resp = match self.send(req, what).await {
            Err(e) => return vec![e],
            Ok(resp) => resp,
        };
        let mut out = check_http(resp.status, &resp.body, false, what);
        if resp.is_success() {
            let not_found: HashSet<String> =
                amp_core::json::str_items(resp.json().and_then(|j| j.get("not_found")))
                    .map(str::to_string)
                    .collect();
            let unique: HashSet<&String> = ids.iter().collect();
            for id in unique {
                out.extend(
                    self.model
                        .ack_result(a, id, !not_found.contains(id), resp.status),
                );
            }
        }
        out
    }

    async fn route_bytes(
        &mut self,
        sender: usize,
        bytes: Vec<u8>,
        own: OwnSignature,
    ) -> Vec<Violation> {
        let exp = self.model.expect_route(sender, &bytes, Some(&own));
        let malformed = matches!(
            &exp,
            Expectation::Reject {
                invariant: Invariant::InvalidBodyAccepted,
                ..
            }
        );
        self.last_route[sender] = Some((bytes.clone(), own));
        let req = Req::new(Method::POST, format!("{}/route", self.cfg.base_url))
            .body(bytes, "application/json")
            .bearer(&self.agents[sender].api_key);
        match self.send(req, "POST /route").await {
            Err(e) => vec![e],
            Ok(resp) => {
                let mut out = check_http(resp.status, &resp.body, malformed, "POST /route");
                if resp.status != 429 {
                    out.extend(
                        self.model
                            .route_answer(sender, &exp, resp.status, &resp.body),
                    );
                }
                out
            }
        }
    }

    async fn ws(&mut self, w: &WsOp) -> Vec<Violation> {
        let a = self.idx(w.agent);
        let mut out = Vec::new();
        let cfg = WsConfig {
            op_timeout: self.cfg.request_timeout,
            ..WsConfig::default()
        };
        let protos: &[&str] = if w.subprotocol { &["amp.v1"] } else { &[] };
        self.requests += 1;
        let url = if w.token_in_url {
            // Our own test agent's key, on loopback by default: a compliant server ignores it.
            format!(
                "{}?token={}",
                self.cfg.ws_url(),
                pct(self.agents[a].api_key.expose())
            )
        } else {
            self.cfg.ws_url()
        };
        let mut session = WsSession {
            agent: a,
            auth: WsAuth::start(w),
            replayable: self.model.replayable(a),
            seen: HashSet::new(),
        };
        let mut conn = match WsConn::connect(&url, protos, &cfg, None).await {
            Ok(c) => c,
            // A target without WebSocket support refuses the upgrade: nothing to fuzz here.
            Err(ClientError::WsHandshake { .. }) => return out,
            Err(ClientError::Timeout { after, .. }) => {
                return vec![v(
                    Invariant::Hang,
                    None,
                    format!("WebSocket connect got no answer within {after:?}"),
                )];
            }
            Err(e) => {
                return vec![v(
                    Invariant::Transport,
                    None,
                    format!("WebSocket connect: {e}"),
                )];
            }
        };
        let valid_start = session.auth.must_stay_up();
        let mut closed = false;
        for f in &w.frames {
            let text = match f {
                WsFrame::Auth => {
                    json!({"type": "auth", "token": self.agents[a].api_key.expose()}).to_string()
                }
                WsFrame::BadAuth { token } => {
                    let t = if token == self.agents[a].api_key.expose() {
                        format!("{token}x")
                    } else {
                        token.clone()
                    };
                    json!({"type": "auth", "token": t}).to_string()
                }
                WsFrame::Ping => r#"{"type":"ping"}"#.to_string(),
                WsFrame::Route { route } => {
                    // A text frame must be UTF-8: the oracle judges exactly the text sent
                    // (invalid bytes from a text edit become U+FFFD here).
                    let (bytes, own) = self.build_route(route, a);
                    let body = String::from_utf8_lossy(&bytes).into_owned();
                    if valid_start {
                        let exp = self.model.expect_route(a, body.as_bytes(), Some(&own));
                        self.model.ws_route_sent(&exp);
                    }
                    format!(r#"{{"type":"route","data":{body}}}"#)
                }
                WsFrame::Ack { target, legacy } => {
                    let id = self.model.ack_id(a, target).unwrap_or_default();
                    let ty = if *legacy { "ack" } else { "message.ack" };
                    json!({"type": ty, "id": id}).to_string()
                }
                WsFrame::Text { text } => text.clone(),
                WsFrame::Binary { .. } => String::new(),
            };
            self.ws_frames += 1;
            self.requests += 1;
            let sent = match f {
                WsFrame::Binary { bytes } => conn.send_binary(bytes.clone()).await,
                _ => conn.send_text(&text).await,
            };
            if sent.is_err() {
                closed = true;
                break;
            }
            session.auth.sent(f);
            let now_closed = self
                .read_frames(
                    &mut conn,
                    &mut session,
                    &mut out,
                    Duration::ZERO,
                    ReadEnd::Close,
                )
                .await;
            if now_closed {
                closed = true;
                break;
            }
        }
        if !closed && !w.frames.is_empty() {
            let deadline = self.cfg.request_timeout;
            // What must end the session now, and what it means when nothing does in time.
            let (end, silence) = if valid_start {
                self.ws_frames += 1;
                self.requests += 1;
                let _ = conn.send_text(r#"{"type":"ping"}"#).await;
                let silence = v(
                    Invariant::Hang,
                    Some("WS-009"),
                    format!("authenticated WebSocket did not answer ping within {deadline:?}"),
                );
                (ReadEnd::PongOrClose, silence)
            } else {
                // The first frame was not a valid auth: the server must close (WS-005/006).
                // Probe with a valid auth frame: a server that still answers `connected` has
                // let the session survive the bad start (reported by `check_ws_event`).
                // (Not with a token in the URL: there a `connected` must come from the URL.)
                if !w.token_in_url {
                    self.ws_frames += 1;
                    self.requests += 1;
                    let probe = json!({"type": "auth", "token": self.agents[a].api_key.expose()});
                    let _ = conn.send_text(&probe.to_string()).await;
                }
                let clause = match session.auth {
                    WsAuth::Unauthenticated { open_breaks, .. } => open_breaks,
                    _ => "WS-006",
                };
                let silence = v(
                    Invariant::WsAuth,
                    Some(clause),
                    format!(
                        "WebSocket stayed open {deadline:?} after a first frame that was not a valid auth"
                    ),
                );
                (ReadEnd::Close, silence)
            };
            if !self
                .read_frames(&mut conn, &mut session, &mut out, deadline, end)
                .await
            {
                out.push(silence);
            }
        }
        conn.close().await;
        out
    }

    /// Read and judge server frames, in arrival order, until `end` or for at most `wait`; true
    /// when `end` came. With a zero `wait` this takes only the frames already arrived: after
    /// each frame sent the lane does not wait (it used to wait 1 ms and mostly sat idle), since
    /// the closing ping, or after a bad start the wait for the close, collects the rest.
    async fn read_frames(
        &mut self,
        conn: &mut WsConn,
        session: &mut WsSession,
        out: &mut Vec<Violation>,
        wait: Duration,
        end: ReadEnd,
    ) -> bool {
        let start = Instant::now();
        loop {
            let ev = conn.recv(wait.saturating_sub(start.elapsed())).await;
            if matches!(ev, WsEvent::Timeout) {
                return false;
            }
            let pong = end == ReadEnd::PongOrClose && ev.frame_type() == Some("pong");
            if self.check_ws_event(&ev, session, out) || pong {
                return true;
            }
        }
    }

    /// Check one server event; true when the connection is finished.
    fn check_ws_event(
        &mut self,
        ev: &WsEvent,
        session: &mut WsSession,
        out: &mut Vec<Violation>,
    ) -> bool {
        match ev {
            WsEvent::Text { raw, json } => {
                let Some(j) = json
                    .as_ref()
                    .filter(|j| j.get("type").and_then(Value::as_str).is_some())
                else {
                    out.push(v(
                        Invariant::WsProtocol,
                        Some("WS-013"),
                        format!(
                            "server frame is not a JSON object with a string type: {}",
                            excerpt(raw, 200)
                        ),
                    ));
                    return false;
                };
                match j.get("type").and_then(Value::as_str) {
                    Some("error") => {
                        let ok = j.get("error").is_some_and(Value::is_string)
                            && j.get("message").is_some_and(Value::is_string);
                        if !ok {
                            out.push(v(
                                Invariant::ErrorFormat,
                                Some("API-007"),
                                format!(
                                    "WebSocket error frame without string error/message: {}",
                                    excerpt(raw, 200)
                                ),
                            ));
                        }
                    }
                    Some("message.new") => {
                        if let Some(data) = j.get("data") {
                            out.extend(self.model.ws_message(
                                session.agent,
                                data,
                                &mut session.seen,
                                &session.replayable,
                            ));
                        }
                    }
                    Some("connected") => {
                        if let Some((clause, what)) = session.auth.connected_finding() {
                            out.push(v(Invariant::WsAuth, Some(clause), what.to_string()));
                            return true;
                        }
                    }
                    _ => {}
                }
                false
            }
            WsEvent::Binary(_) => {
                out.push(v(
                    Invariant::WsProtocol,
                    Some("WS-013"),
                    "server sent a binary frame".into(),
                ));
                false
            }
            WsEvent::Closed { .. } => true,
            WsEvent::Error(e) => {
                // A server refusing an unauthenticated socket may close TCP while our frames
                // are still in flight; the kernel then answers with a reset. That is a fair
                // way to end such a session (WS-005/006): only an authenticated one breaking
                // is a finding.
                if session.auth.must_stay_up() {
                    out.push(v(
                        Invariant::Transport,
                        None,
                        format!("authenticated WebSocket broke: {e}"),
                    ));
                }
                true
            }
            WsEvent::Timeout => false,
        }
    }
}

fn alter(
    body: &mut Map<String, Value>,
    field: SignedField,
    value: &str,
    signed_priority: Priority,
) {
    let differ = |old: Option<&str>| -> String {
        if old == Some(value) {
            format!("{value}x")
        } else {
            value.to_string()
        }
    };
    match field {
        SignedField::To => {
            let old = body.get("to").and_then(Value::as_str).map(str::to_string);
            body.insert("to".into(), json!(differ(old.as_deref())));
        }
        SignedField::Subject => {
            let old = body
                .get("subject")
                .and_then(Value::as_str)
                .map(str::to_string);
            body.insert("subject".into(), json!(differ(old.as_deref())));
        }
        SignedField::Priority => {
            // A valid priority different from the signed one (priority escalation, SIG-016).
            let p = match Priority::from_str(value) {
                Ok(p) if p != signed_priority => p,
                _ => match signed_priority {
                    Priority::Urgent => Priority::Low,
                    _ => Priority::Urgent,
                },
            };
            body.insert("priority".into(), json!(p.as_str()));
        }
        SignedField::InReplyTo => {
            let old = body
                .get("in_reply_to")
                .and_then(Value::as_str)
                .map(str::to_string);
            let new = differ(old.as_deref());
            // `""` and absent sign the same (C-05): make sure the change is real.
            let new = if new.is_empty() { "x".to_string() } else { new };
            body.insert("in_reply_to".into(), json!(new));
        }
        SignedField::PayloadMessage | SignedField::PayloadType | SignedField::PayloadExtra => {
            if let Some(p) = body.get_mut("payload").and_then(Value::as_object_mut) {
                let key = match field {
                    SignedField::PayloadMessage => "message",
                    SignedField::PayloadType => "type",
                    _ => "x-added",
                };
                let old = p.get(key).and_then(Value::as_str).map(str::to_string);
                p.insert(key.to_string(), json!(differ(old.as_deref())));
            }
        }
    }
}

fn text_edit(mut bytes: Vec<u8>, edit: &TextEdit) -> Vec<u8> {
    match edit {
        TextEdit::DuplicateKey { key, value } => {
            // Insert `"key":value,` right after the opening brace.
            let ins = format!("{}:{},", json!(key), value);
            if bytes.first() == Some(&b'{') {
                bytes.splice(1..1, ins.into_bytes());
            }
        }
        TextEdit::DuplicatePayloadKey { key } => {
            let marker = br#""payload":{"#;
            if let Some(pos) = bytes.windows(marker.len()).position(|w| w == marker) {
                let at = pos + marker.len();
                let ins = format!("{}:\"dup\",", json!(key));
                bytes.splice(at..at, ins.into_bytes());
            }
        }
        TextEdit::Truncate { len } => bytes.truncate(*len as usize),
        TextEdit::Insert { at, bytes: b } => {
            let i = (*at as usize) % (bytes.len() + 1);
            bytes.splice(i..i, b.iter().copied());
        }
    }
    bytes
}

/// Operations per epoch of a lane (see [`run_lane`]).
const EPOCH_OPS: usize = 10_000;

fn merge(into: &mut BTreeMap<u16, u64>, from: BTreeMap<u16, u64>) {
    for (k, n) in from {
        *into.entry(k).or_default() += n;
    }
}

/// Run one lane until its budget is spent.
pub async fn run_lane(
    cfg: LaneConfig,
    http: Http,
    budget: LaneBudget,
) -> Result<LaneOutcome, ExecError> {
    let mut lane = Lane::setup(cfg.clone(), http.clone()).await?;
    let mut generator = Generator::new(cfg.seed, cfg.lane, cfg.agents);
    let mut history: Vec<Op> = Vec::new();
    let mut out = LaneOutcome {
        lane: cfg.lane,
        agents: cfg.agents,
        ..LaneOutcome::default()
    };
    let mut first: HashSet<(Invariant, Option<String>)> = HashSet::new();
    loop {
        let done = match budget {
            LaneBudget::Until(t) => Instant::now() >= t,
            LaneBudget::Requests(n) => out.requests + lane.requests >= n,
        };
        if done {
            break;
        }
        if history.len() >= EPOCH_OPS {
            // Bound memory on long runs: start a fresh epoch (new agents, empty history), so
            // every reproducer is a self-contained list from a fresh lane.
            out.requests += lane.requests;
            out.ws_frames += lane.ws_frames;
            merge(&mut out.statuses, std::mem::take(&mut lane.statuses));
            out.rate_limited += lane.rate_limited;
            out.operations += history.len() as u64;
            history.clear();
            let fresh = Lane::setup(cfg.clone(), http.clone()).await?;
            let old = std::mem::replace(&mut lane, fresh);
            old.teardown().await;
        }
        let op = generator.next_op();
        let found = lane.exec(&op).await;
        *out.ops_by_kind.entry(op.kind()).or_default() += 1;
        history.push(op);
        for mut viol in found {
            viol.op_index = history.len() - 1;
            *out.violation_counts
                .entry(viol.invariant.name().to_string())
                .or_default() += 1;
            if first.insert((viol.invariant, viol.clause.clone())) {
                out.violations.push(FoundViolation {
                    violation: viol,
                    ops: history.clone(),
                });
            }
        }
    }
    out.operations += history.len() as u64;
    out.requests += lane.requests;
    out.ws_frames += lane.ws_frames;
    merge(&mut out.statuses, std::mem::take(&mut lane.statuses));
    out.rate_limited += lane.rate_limited;
    lane.teardown().await;
    Ok(out)
}

/// Execute a fixed operation list in a fresh lane (replays and shrinking).
pub async fn run_ops(
    cfg: LaneConfig,
    http: Http,
    ops: &[Op],
) -> Result<(Vec<Violation>, u64), ExecError> {
    let mut lane = Lane::setup(cfg, http).await?;
    let mut all = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        for mut viol in lane.exec(op).await {
            viol.op_index = i;
            all.push(viol);
        }
    }
    let requests = lane.requests;
    lane.teardown().await;
    Ok((all, requests))
}
