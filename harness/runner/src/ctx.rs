//! The per-case context: everything a case may do to the target, recorded.

use crate::case::{CaseResult, Failure, Outcome};
use crate::options::{ContradictionProfiles, PeerConfig, RunOptions, Target, Timing};
use amp_client::{
    Bytes, ClientError, Http, Method, Receiver, Redactor, Req, Resp, Secret, Transcript, WsConfig,
    WsConn, WsEvent,
};
use amp_core::signing::{FingerprintProfile, Priority, SecretKey, SigningFields};
use amp_core::{PayloadProfile, payload_hash};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An agent registered at the target for this run. Deregistered at the end of the run
/// unless a case deregistered it already ([`Ctx::deregister`]).
pub struct Agent {
    /// Full address as the target returned it.
    pub address: String,
    pub api_key: Secret,
    pub key: SecretKey,
    pub agent_id: Option<String>,
    /// Fingerprint as the target returned it.
    pub fingerprint: Option<String>,
    pub tenant: String,
    /// The local name this run asked for.
    pub name: String,
    /// The registration response body (redacted: `api_key` replaced).
    pub registration: Value,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("address", &self.address)
            .field("api_key", &self.api_key)
            .field("agent_id", &self.agent_id)
            .field("tenant", &self.tenant)
            .finish()
    }
}

impl Agent {
    /// `Bearer <api key>`.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.api_key.expose())
    }

    /// The agent's public key as SPKI PEM (what was registered).
    pub fn public_key_pem(&self) -> String {
        self.key.public_key().to_spki_pem()
    }
}

/// An agent created during the run, to be deregistered at the end.
#[derive(Debug, Clone)]
pub(crate) struct Created {
    pub address: String,
    pub api_key: Secret,
    pub case_id: String,
}

/// State shared by all cases of one run.
pub(crate) struct RunShared {
    pub opts: RunOptions,
    pub http: Http,
    pub redactor: Redactor,
    pub run_id: String,
    pub seed: u64,
    pub counter: AtomicU64,
    pub info: Option<Value>,
    pub created: Mutex<Vec<Created>>,
    pub ws: WsConfig,
}

impl RunShared {
    pub(crate) fn next_n(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// A key derived from the run seed and a counter: deterministic under `--seed`.
    pub(crate) fn derive_key(&self, n: u64) -> SecretKey {
        let mut h = Sha256::new();
        h.update(b"amp-conformance agent key");
        h.update(self.seed.to_be_bytes());
        h.update(n.to_be_bytes());
        let seed: [u8; 32] = h.finalize().into();
        SecretKey::from_seed(seed)
    }

    pub(crate) fn tenant(&self) -> String {
        self.opts
            .tenant
            .clone()
            .unwrap_or_else(|| format!("ampc{}", self.run_id))
    }
}

/// When a case's time is up. Starts at `case_timeout` from the case's start; a case that must
/// wait for a provider deadline longer than that extends it with [`Ctx::need_time`]. The runner
/// watches it (see `run_one`), so the extension takes effect while the case runs.
#[derive(Debug)]
pub(crate) struct Deadline(Mutex<Instant>);

impl Deadline {
    pub(crate) fn new(at: Instant) -> Deadline {
        Deadline(Mutex::new(at))
    }

    pub(crate) fn get(&self) -> Instant {
        match self.0.lock() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        }
    }

    /// Move the deadline to `at` if that is later; never earlier.
    pub(crate) fn extend_to(&self, at: Instant) {
        let mut g = match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if at > *g {
            *g = at;
        }
    }
}

/// Time the runner needs after a case's last wait (verdict, transcript), added by
/// [`Ctx::need_time`].
pub const CASE_RESERVE: Duration = Duration::from_secs(5);

/// The context handed to a case. Every request goes through it and lands in the case's
/// transcript.
pub struct Ctx {
    pub(crate) shared: Arc<RunShared>,
    pub(crate) transcript: Transcript,
    pub(crate) case_id: &'static str,
    pub(crate) deadline: Arc<Deadline>,
}

impl Ctx {
    pub(crate) fn new(shared: Arc<RunShared>, case_id: &'static str) -> Ctx {
        let transcript = Transcript::new(shared.redactor.clone());
        let deadline = Arc::new(Deadline::new(Instant::now() + shared.opts.case_timeout));
        Ctx {
            shared,
            transcript,
            case_id,
            deadline,
        }
    }

    /// The provider timings this run waits on (spec figures unless the target declared its
    /// own): wait `Timing::with_margin(ctx.timing().x)` for an event due after `x`.
    pub fn timing(&self) -> &Timing {
        &self.shared.opts.timing
    }

    /// The contradiction readings the run declared (`--from-handling` ...); judge an observed
    /// reading with [`crate::options::judge_reading`].
    pub fn contradictions(&self) -> &ContradictionProfiles {
        &self.shared.opts.contradictions
    }

    /// Declare that this case still has to wait up to `wait` (a provider deadline plus margin,
    /// from [`Ctx::timing`]): the case deadline moves to at least `now + wait +`
    /// [`CASE_RESERVE`]. `--case-timeout` is thus a floor, not a cap, for cases that wait on
    /// declared timings; `wait` is capped at [`Timing::MAX`] so no case can hold a run forever.
    pub fn need_time(&self, wait: Duration) {
        let wait = wait.min(Timing::MAX).saturating_add(CASE_RESERVE);
        self.deadline.extend_to(Instant::now() + wait);
    }

    /// Time until the case deadline (zero when it has passed).
    pub fn time_left(&self) -> Duration {
        self.deadline
            .get()
            .saturating_duration_since(Instant::now())
    }

    pub fn case_id(&self) -> &'static str {
        self.case_id
    }
    pub fn target(&self) -> &Target {
        &self.shared.opts.target
    }
    pub fn profile(&self) -> PayloadProfile {
        self.shared.opts.profile
    }
    pub fn config(&self) -> &RunOptions {
        &self.shared.opts
    }
    pub fn run_id(&self) -> &str {
        &self.shared.run_id
    }
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }
    pub fn redactor(&self) -> &Redactor {
        &self.shared.redactor
    }
    /// The admin credential (`Need::AdminKey` cases only get here when it is set).
    pub fn admin_key(&self) -> Option<&Secret> {
        self.shared.opts.admin_key.as_ref()
    }

    pub fn federation_peer(&self) -> Option<&PeerConfig> {
        self.shared.opts.federation_peer.as_ref()
    }
    pub fn request_timeout(&self) -> Duration {
        self.shared.opts.request_timeout
    }
    /// The tenant this run registers agents in.
    pub fn tenant(&self) -> String {
        self.shared.tenant()
    }

    /// Add a line to the transcript (what the case is checking and why).
    pub fn note(&self, text: impl AsRef<str>) {
        self.transcript.note(text.as_ref());
    }

    /// A run-unique name: `<prefix>-<run id>-<n>` (lowercase, ≤ 63 chars for short prefixes).
    pub fn unique_name(&self, prefix: &str) -> String {
        format!("{prefix}-{}-{}", self.shared.run_id, self.shared.next_n())
    }

    /// A fresh Ed25519 key (deterministic under `--seed`).
    pub fn new_key(&self) -> SecretKey {
        let n = self.shared.next_n();
        let k = self.shared.derive_key(n);
        self.shared.redactor.add("private_key", &k.to_pkcs8_pem());
        k
    }

    /// `/v1/info` as fetched by the preflight (cached for the whole run). Errors when the
    /// target did not answer it with a JSON object.
    pub fn info(&self) -> Result<&Value, Failure> {
        self.shared.info.as_ref().ok_or_else(|| {
            Failure::Error(
                "the target did not answer GET {base}/info with JSON at preflight".to_string(),
            )
        })
    }

    /// `/v1/info.capabilities` contains `cap`.
    pub fn has_capability(&self, cap: &str) -> bool {
        info_capabilities(self.shared.info.as_ref())
            .iter()
            .any(|c| c == cap)
    }

    // ---- raw requests ------------------------------------------------------------------

    /// Send `req` (429s retried, paced) and record it.
    pub async fn send(&mut self, req: Req) -> Result<Resp, Failure> {
        let result = self.shared.http.send(&req).await;
        self.record(&req, result).map_err(Failure::from)
    }

    /// Send `req` exactly once (no 429 retry, no pacing) and record it: for rate-limit cases.
    pub async fn send_once(&mut self, req: Req) -> Result<Resp, Failure> {
        let result = self.shared.http.send_once(&req).await;
        self.record(&req, result).map_err(Failure::from)
    }

    /// Send `req`, whose body is over the size limit of `clause`, and record it. The target
    /// must refuse such a body with an answer (413); closing the connection without any answer
    /// breaks the clause, so that is a `fail` saying what was seen, not a harness `error`.
    pub async fn send_oversized(&mut self, req: Req, clause: &str) -> Result<Resp, Failure> {
        let result = self.shared.http.send(&req).await;
        self.record(&req, result).map_err(|e| match e {
            e @ ClientError::NoAnswer { .. } => Failure::Fail(format!(
                "a body over the size limit must be refused with an answer such as 413 \
                 ({clause}), but {e}"
            )),
            e => Failure::from(e),
        })
    }

    fn record(&self, req: &Req, result: Result<Resp, ClientError>) -> Result<Resp, ClientError> {
        self.learn_secrets(&result);
        self.transcript.record_http(req, &result);
        result
    }

    /// Any `api_key` the target hands out is a secret from now on.
    fn learn_secrets(&self, result: &Result<Resp, amp_client::ClientError>) {
        if let Ok(r) = result {
            if let Some(k) = r
                .json()
                .and_then(|v| v.get("api_key"))
                .and_then(Value::as_str)
            {
                self.shared.redactor.add("api_key", k);
            }
        }
    }

    fn req(&self, method: Method, path: &str, auth: Option<&Agent>) -> Req {
        let r = Req::new(method, self.target().url(path));
        match auth {
            Some(a) => r.bearer(&a.api_key),
            None => r,
        }
    }

    /// `path` is relative to the base URL (`"/route"`) or absolute.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
        auth: Option<&Agent>,
    ) -> Result<Resp, Failure> {
        let r = self.req_with(method, path, headers, body, auth);
        self.send(r).await
    }

    fn req_with(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
        auth: Option<&Agent>,
    ) -> Req {
        let mut r = self.req(method, path, auth);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.body = body.map(Bytes::from);
        r
    }

    pub async fn get(&mut self, path: &str, auth: Option<&Agent>) -> Result<Resp, Failure> {
        let r = self.req(Method::GET, path, auth);
        self.send(r).await
    }

    pub async fn delete(&mut self, path: &str, auth: Option<&Agent>) -> Result<Resp, Failure> {
        let r = self.req(Method::DELETE, path, auth);
        self.send(r).await
    }

    pub async fn post_json(
        &mut self,
        path: &str,
        body: &Value,
        auth: Option<&Agent>,
    ) -> Result<Resp, Failure> {
        let r = self.req(Method::POST, path, auth).json(body);
        self.send(r).await
    }

    pub async fn patch_json(
        &mut self,
        path: &str,
        body: &Value,
        auth: Option<&Agent>,
    ) -> Result<Resp, Failure> {
        let r = self.req(Method::PATCH, path, auth).json(body);
        self.send(r).await
    }

    /// [`Ctx::request`] with a body over the size limit of `clause` (see
    /// [`Ctx::send_oversized`]).
    pub async fn request_oversized(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        auth: Option<&Agent>,
        clause: &str,
    ) -> Result<Resp, Failure> {
        let r = self.req_with(method, path, headers, Some(body), auth);
        self.send_oversized(r, clause).await
    }

    /// POST raw bytes with `content_type` (empty = no Content-Type header).
    pub async fn post_raw(
        &mut self,
        path: &str,
        body: impl Into<Bytes>,
        content_type: &str,
        auth: Option<&Agent>,
    ) -> Result<Resp, Failure> {
        let r = self.req(Method::POST, path, auth).body(body, content_type);
        self.send(r).await
    }

    // ---- agents ------------------------------------------------------------------------

    /// Register a fresh agent in the run's tenant.
    pub async fn agent(&mut self) -> Result<Agent, Failure> {
        let tenant = self.tenant();
        self.agent_with(&tenant, |_| {}).await
    }

    pub async fn agent_in_tenant(&mut self, tenant: &str) -> Result<Agent, Failure> {
        self.agent_with(tenant, |_| {}).await
    }

    /// Register a fresh agent; `customize` may edit the registration body (add
    /// `delivery.webhook_url`, `alias`, ...) before it is sent.
    pub async fn agent_with(
        &mut self,
        tenant: &str,
        customize: impl FnOnce(&mut Value),
    ) -> Result<Agent, Failure> {
        let n = self.shared.next_n();
        let name = format!("ampc-{}-{n}", self.shared.run_id);
        let key = self.shared.derive_key(n);
        self.shared.redactor.add("private_key", &key.to_pkcs8_pem());
        let mut body = json!({
            "tenant": tenant,
            "name": name,
            "public_key": key.public_key().to_spki_pem(),
            "key_algorithm": "Ed25519",
        });
        customize(&mut body);
        let resp = self.register_raw(&body).await?;
        if !resp.is_success() {
            return Err(Failure::Error(format!(
                "could not register a test agent `{name}` in tenant `{tenant}`: HTTP {} {} \
                 (check the tenant/registration options of the run)",
                resp.status,
                resp.error_code().unwrap_or("")
            )));
        }
        let v = resp.json().cloned().unwrap_or(Value::Null);
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let (Some(address), Some(api_key)) = (s("address"), s("api_key")) else {
            return Err(Failure::Error(format!(
                "registration of `{name}` succeeded (HTTP {}) but the body lacks `address` or \
                 `api_key` (REG-002), so the agent cannot be used",
                resp.status
            )));
        };
        Ok(Agent {
            address,
            api_key: Secret::new(api_key),
            key,
            agent_id: s("agent_id"),
            fingerprint: s("fingerprint"),
            tenant: s("tenant").unwrap_or_else(|| tenant.to_string()),
            name,
            registration: self.shared.redactor.redact_value(&v),
        })
    }

    /// POST `body` to `/register` as is (with the run's registration headers). A successful
    /// registration is tracked for cleanup like any other agent.
    pub async fn register_raw(&mut self, body: &Value) -> Result<Resp, Failure> {
        let mut r = Req::new(Method::POST, self.target().url("/register")).json(body);
        for (k, v) in &self.shared.opts.registration_headers {
            r = r.header(k.clone(), v.expose().to_string());
        }
        let resp = self.send(r).await?;
        if resp.is_success() {
            let v = resp.json();
            let s = |k: &str| {
                v.and_then(|v| v.get(k))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            if let Some(key) = s("api_key") {
                let address = s("address").unwrap_or_else(|| "<unknown address>".to_string());
                if let Ok(mut c) = self.shared.created.lock() {
                    c.push(Created {
                        address,
                        api_key: Secret::new(key),
                        case_id: self.case_id.to_string(),
                    });
                }
            }
        }
        Ok(resp)
    }

    /// `DELETE /agents/me` now; on success the agent is no longer cleaned up at the end.
    pub async fn deregister(&mut self, agent: &Agent) -> Result<Resp, Failure> {
        let resp = self.delete("/agents/me", Some(agent)).await?;
        if resp.is_success() {
            if let Ok(mut c) = self.shared.created.lock() {
                c.retain(|x| x.api_key != agent.api_key);
            }
        }
        Ok(resp)
    }

    /// The case deregistered/revoked the agent by other means: do not clean it up.
    pub fn forget_agent(&self, agent: &Agent) {
        if let Ok(mut c) = self.shared.created.lock() {
            c.retain(|x| x.api_key != agent.api_key);
        }
    }

    /// Replace the API key used to clean up `agent` (after a key rotation).
    pub fn update_cleanup_key(&self, agent: &Agent, new_key: &Secret) {
        self.shared.redactor.add_secret("api_key", new_key);
        if let Ok(mut c) = self.shared.created.lock() {
            for x in c.iter_mut().filter(|x| x.api_key == agent.api_key) {
                x.api_key = new_key.clone();
            }
        }
    }

    // ---- messages ----------------------------------------------------------------------

    /// Start a route body from `from` to `to`, signed with the run's payload profile.
    pub fn message<'a>(&self, from: &'a Agent, to: &str) -> MessageBuilder<'a> {
        MessageBuilder {
            from,
            to: to.to_string(),
            subject: "amp-conformance test message".to_string(),
            priority: None,
            in_reply_to: None,
            payload: json!({"type": "notification", "message": "hello from amp-conformance"}),
            extra: Vec::new(),
            profile: self.profile(),
        }
    }

    /// `POST /route` as `agent`.
    pub async fn route(&mut self, agent: &Agent, body: &Value) -> Result<Resp, Failure> {
        self.post_json("/route", body, Some(agent)).await
    }

    /// `POST /route` as `agent` of a body over the size limit of `clause` (see
    /// [`Ctx::send_oversized`]).
    pub async fn route_oversized(
        &mut self,
        agent: &Agent,
        body: &Value,
        clause: &str,
    ) -> Result<Resp, Failure> {
        let r = self.req(Method::POST, "/route", Some(agent)).json(body);
        self.send_oversized(r, clause).await
    }

    /// `GET /messages/pending` as `agent`.
    pub async fn pending(&mut self, agent: &Agent) -> Result<Resp, Failure> {
        self.get("/messages/pending", Some(agent)).await
    }

    /// `DELETE /messages/pending/{id}` as `agent`.
    pub async fn ack(&mut self, agent: &Agent, id: &str) -> Result<Resp, Failure> {
        self.delete(&format!("/messages/pending/{id}"), Some(agent))
            .await
    }

    /// Poll `agent`'s pending queue (every 250 ms) until a message satisfies `pred`; returns
    /// that message object, or `None` after `timeout`. A non-2xx answer is a failure.
    pub async fn wait_pending(
        &mut self,
        agent: &Agent,
        pred: impl Fn(&Value) -> bool + Send,
        timeout: Duration,
    ) -> Result<Option<Value>, Failure> {
        let deadline = Instant::now() + timeout;
        loop {
            let resp = self.pending(agent).await?;
            if !resp.is_success() {
                return Err(Failure::Fail(format!(
                    "GET /messages/pending answered HTTP {} (RTE-015 expects 200)",
                    resp.status
                )));
            }
            if let Some(msgs) = resp.pointer("/messages").and_then(Value::as_array) {
                if let Some(m) = msgs.iter().find(|m| pred(m)) {
                    return Ok(Some(m.clone()));
                }
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    // ---- websocket / webhooks ----------------------------------------------------------

    /// Open a WebSocket to the target's `ws_url` offering `subprotocols`, without auth.
    pub async fn ws_raw(&mut self, subprotocols: &[&str]) -> Result<WsConn, Failure> {
        let url = self.target().ws_url.clone();
        WsConn::connect(
            &url,
            subprotocols,
            &self.shared.ws,
            Some(self.transcript.clone()),
        )
        .await
        .map_err(Failure::from)
    }

    /// Open a WebSocket (subprotocol `amp.v1`), authenticate as `agent` with the first-frame
    /// `auth` message (WS-002) and wait for `connected` (WS-003). Anything else is a failure.
    pub async fn ws(&mut self, agent: &Agent) -> Result<WsConn, Failure> {
        let mut conn = self.ws_raw(&["amp.v1"]).await?;
        conn.send_json(&json!({"type": "auth", "token": agent.api_key.expose()}))
            .await?;
        let ev = conn.recv(self.request_timeout()).await;
        match ev.frame_type() {
            Some("connected") => Ok(conn),
            _ => Err(Failure::Fail(format!(
                "after a valid auth frame the target sent {} instead of a `connected` frame (WS-003)",
                describe_event(&ev)
            ))),
        }
    }

    /// Start a loopback webhook receiver whose requests are recorded in this transcript.
    pub async fn receiver(&mut self) -> Result<Receiver, Failure> {
        Receiver::start(Some(self.transcript.clone()))
            .await
            .map_err(Failure::from)
    }

    pub fn ws_config(&self) -> &WsConfig {
        &self.shared.ws
    }
}

fn describe_event(ev: &WsEvent) -> String {
    match ev {
        WsEvent::Text { raw, .. } => {
            let cut: String = raw.chars().take(200).collect();
            format!("frame {cut}")
        }
        WsEvent::Binary(b) => format!("a binary frame of {} bytes", b.len()),
        WsEvent::Closed { code, reason } => format!("a close (code {code:?}, reason {reason:?})"),
        WsEvent::Timeout => "nothing before the timeout".to_string(),
        WsEvent::Error(e) => format!("a protocol error ({e})"),
    }
}

pub(crate) fn info_capabilities(info: Option<&Value>) -> Vec<String> {
    info.and_then(|v| v.get("capabilities"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Builds a flat route body (RTE-002) and signs it (SIG-007).
#[derive(Debug)]
pub struct MessageBuilder<'a> {
    from: &'a Agent,
    to: String,
    subject: String,
    priority: Option<Priority>,
    in_reply_to: Option<String>,
    payload: Value,
    extra: Vec<(String, Value)>,
    profile: PayloadProfile,
}

impl<'a> MessageBuilder<'a> {
    pub fn subject(mut self, s: impl Into<String>) -> Self {
        self.subject = s.into();
        self
    }
    /// `None` omits the field (the signature then covers `normal`).
    pub fn priority(mut self, p: Option<Priority>) -> Self {
        self.priority = p;
        self
    }
    pub fn in_reply_to(mut self, id: impl Into<String>) -> Self {
        self.in_reply_to = Some(id.into());
        self
    }
    pub fn payload(mut self, p: Value) -> Self {
        self.payload = p;
        self
    }
    /// Add an extra top-level field (`options`, `idempotency_key`, a forged `id`...).
    pub fn field(mut self, k: impl Into<String>, v: Value) -> Self {
        self.extra.push((k.into(), v));
        self
    }
    /// Sign with another payload profile than the run's.
    pub fn profile(mut self, p: PayloadProfile) -> Self {
        self.profile = p;
        self
    }

    /// The canonical signing string this message would be signed over.
    pub fn canonical(&self) -> Result<String, Failure> {
        let hash = payload_hash(&self.payload, self.profile).map_err(|e| {
            Failure::Error(format!(
                "cannot hash the payload with profile {}: {e}",
                self.profile
            ))
        })?;
        let f = SigningFields {
            from: &self.from.address,
            to: &self.to,
            subject: &self.subject,
            priority: self.priority.unwrap_or_default(),
            in_reply_to: self.in_reply_to.as_deref(),
            payload_hash: &hash,
        };
        Ok(amp_core::signing::canonical_string(&f))
    }

    /// Body signed by the sender's key.
    pub fn signed(self) -> Result<Value, Failure> {
        let key = &self.from.key;
        let sig = key.sign(self.canonical()?.as_bytes()).to_base64();
        Ok(self.signature(sig))
    }

    /// Body signed by another key (wrong-key cases).
    pub fn signed_by(self, key: &SecretKey) -> Result<Value, Failure> {
        let sig = key.sign(self.canonical()?.as_bytes()).to_base64();
        Ok(self.signature(sig))
    }

    /// Body without a `signature` field.
    pub fn unsigned(self) -> Value {
        self.body(None)
    }

    /// Body with exactly this `signature` value.
    pub fn signature(self, sig: impl Into<String>) -> Value {
        self.body(Some(sig.into()))
    }

    fn body(self, sig: Option<String>) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("to".into(), Value::String(self.to));
        m.insert("subject".into(), Value::String(self.subject));
        if let Some(p) = self.priority {
            m.insert("priority".into(), Value::String(p.as_str().into()));
        }
        if let Some(r) = self.in_reply_to {
            m.insert("in_reply_to".into(), Value::String(r));
        }
        m.insert("payload".into(), self.payload);
        if let Some(s) = sig {
            m.insert("signature".into(), Value::String(s));
        }
        for (k, v) in self.extra {
            m.insert(k, v);
        }
        Value::Object(m)
    }
}

/// Convenience for cases: `Ok(Outcome::Pass)`.
pub fn pass() -> CaseResult {
    Ok(Outcome::Pass)
}

/// Fingerprint of an agent's key in the default profile (what most providers return).
pub fn fingerprint_of(agent: &Agent) -> String {
    agent
        .key
        .public_key()
        .fingerprint(FingerprintProfile::default())
}
