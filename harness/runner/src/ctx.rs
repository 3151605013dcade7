//! The per-case context: everything a case may do to the target, recorded.

pub use crate::agent::Agent;
use crate::facts::{self, DELIVERY_WAIT, Facts};
use crate::message::MessageBuilder;
use crate::observe::{HOOK_SECRET, Observers};
use crate::options::{ContradictionProfiles, PeerConfig, RunOptions, Target, Timing};
use crate::prereq::Prereq;
pub(crate) use crate::shared::{RunShared, info_capabilities};
use crate::verdict::Failure;
use amp_client::{
    Bytes, ClientError, Method, Receiver, Redactor, Req, Resp, Secret, Transcript, WsConfig,
    WsConn, WsEvent,
};
use amp_core::PayloadProfile;
use amp_core::signing::SecretKey;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    /// WebSocket sessions and a loopback receiver kept to observe deliveries.
    observers: Observers,
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
            observers: Observers::default(),
        }
    }

    /// Establish prerequisite `p` (its probe runs once per run, on first need) and return what
    /// the probe learnt; `Failure::Blocked` naming the probe that failed otherwise.
    pub async fn require(&self, p: Prereq) -> Result<Facts, Failure> {
        // Time spent waiting on a probe is not the case's own: the deadline stays ahead while
        // the probe runs and moves by the time waited afterwards.
        let (before, due) = (Instant::now(), self.deadline.get());
        let establish = self.shared.establish(p);
        tokio::pin!(establish);
        let rec = loop {
            tokio::select! {
                rec = &mut establish => break rec,
                () = tokio::time::sleep(Duration::from_millis(500)) => {
                    self.deadline.extend_to(Instant::now() + Duration::from_secs(1));
                }
            }
        };
        self.deadline.extend_to(due + before.elapsed());
        match (&rec.result, rec.blocked()) {
            (Ok(f), _) => Ok(*f),
            (Err(_), Some(b)) => Err(b),
            (Err(f), None) => Err(Failure::blocked(p, f.reason.clone())),
        }
    }

    /// Record a run-level finding: every case reporting the same `key` becomes one root cause
    /// in the report (with `clause` and the first `summary`), listing the cases. For a
    /// deviation that many cases observe, e.g. key
    /// `error-code:signature_invalid->invalid_signature` for a non-spec error code.
    pub fn finding(
        &self,
        key: impl Into<String>,
        clause: &'static str,
        summary: impl Into<String>,
    ) {
        self.shared
            .record_finding(&key.into(), clause, &summary.into(), Some(self.case_id));
    }

    /// The one value of type `T` shared by every case of this run, created on first use: a
    /// pool of agents many cases borrow instead of each registering its own. Dropped when the
    /// run ends (agents registered through it are cleaned up like any other).
    pub fn run_scoped<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        let mut map = match self.shared.scoped.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let entry = map
            .entry(std::any::TypeId::of::<T>())
            .or_insert_with(|| Arc::new(T::default()) as Arc<dyn std::any::Any + Send + Sync>)
            .clone();
        drop(map);
        match entry.downcast::<T>() {
            Ok(t) => t,
            // Unreachable: the map is keyed by the type; a fresh value keeps the call total.
            Err(_) => Arc::new(T::default()),
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
    /// The owner's User Key the run was given (`RunOptions::user_key`), if any.
    pub fn user_key(&self) -> Option<&Secret> {
        self.shared.opts.user_key.as_ref()
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
        self.learn_secrets(req, &result);
        self.transcript.record_http(req, &result);
        result
    }

    /// Any `api_key` the target hands out is a secret from now on, and belongs to an agent the
    /// run must clean up: a new agent (a registration) or a further key of the agent whose key
    /// authenticated the request (a rotation), whichever helper sent it.
    fn learn_secrets(&self, req: &Req, result: &Result<Resp, amp_client::ClientError>) {
        let is_register =
            req.method == Method::POST && req.url.trim_end_matches('/').ends_with("/register");
        let r = match result {
            Ok(r) => r,
            Err(e) if is_register => {
                // No answer: the provider may still have created the agent, and the run never
                // saw its key. Cleanup lists it so nobody assumes the target is clean.
                let body: Value = req
                    .body
                    .as_ref()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or_default();
                let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("?");
                self.shared.track_unanswered(
                    format!("{} (tenant {})", field("name"), field("tenant")),
                    &e.to_string(),
                    self.case_id,
                );
                return;
            }
            Err(_) => return,
        };
        let Some(v) = r.json() else { return };
        let Some(k) = v.get("api_key").and_then(Value::as_str) else {
            return;
        };
        self.shared.redactor.add("api_key", k);
        if !r.is_success() {
            return;
        }
        let new = Secret::new(k);
        let used = req
            .header_value("authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(Secret::new);
        match used {
            Some(old) if !is_register => self.shared.add_key(&old, &new),
            _ => {
                let address = v
                    .get("address")
                    .and_then(Value::as_str)
                    .unwrap_or(crate::shared::UNKNOWN_ADDRESS)
                    .to_string();
                self.shared.track(address, new, self.case_id);
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
    /// `delivery.webhook_url`, `alias`, ...) before it is sent. `Failure::Blocked` when the
    /// registration probe failed. When deliveries can only be observed over WebSocket or
    /// webhook, the agent is watched through that channel (see [`Ctx::await_delivery`]).
    pub async fn agent_with(
        &mut self,
        tenant: &str,
        customize: impl FnOnce(&mut Value),
    ) -> Result<Agent, Failure> {
        self.require(Prereq::Registration).await?;
        let channels = match self.require(Prereq::DeliveryObservable).await {
            Ok(Facts::Delivery(c)) => Some(c),
            _ => None,
        };
        let hook = match channels {
            Some(c) if !c.pending && !c.websocket && c.webhook => Some(self.hook_url().await?),
            _ => None,
        };
        let agent = self
            .register_agent(tenant, |body| {
                if let Some(url) = hook {
                    body["delivery"] = json!({"webhook_url": url, "webhook_secret": HOOK_SECRET});
                }
                customize(body)
            })
            .await?;
        if channels.is_some_and(|c| !c.pending && c.websocket) {
            // Best effort: a case that cannot be watched fails at await_delivery, naming it.
            let _ = self.watch(&agent).await;
        }
        Ok(agent)
    }

    /// Register a fresh agent without waiting on any probe (what the probes themselves use).
    pub(crate) async fn register_agent(
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
        self.send(r).await
    }

    /// `DELETE /agents/me` now; on success the agent is no longer cleaned up at the end.
    pub async fn deregister(&mut self, agent: &Agent) -> Result<Resp, Failure> {
        let resp = self.delete("/agents/me", Some(agent)).await?;
        if resp.is_success() {
            self.shared.untrack(&agent.api_key);
        }
        Ok(resp)
    }

    /// The case revoked the agent's key: cleanup still tries every key it knows for the agent
    /// and lists the agent as a leftover when none works (the run never forgets an agent).
    pub fn forget_agent(&self, agent: &Agent) {
        self.shared.mark_revoked(&agent.api_key);
    }

    /// Add a key to clean up `agent` with (after a key rotation; rotations answered with an
    /// `api_key` are picked up automatically too).
    pub fn update_cleanup_key(&self, agent: &Agent, new_key: &Secret) {
        self.shared.add_key(&agent.api_key, new_key);
    }

    // ---- messages ----------------------------------------------------------------------

    /// Start a route body from `from` to `to`, signed with the run's payload profile.
    pub fn message<'a>(&self, from: &'a Agent, to: &str) -> MessageBuilder<'a> {
        MessageBuilder::new(from, to, self.profile())
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
    /// that message object, or `None` after `timeout`. A non-2xx answer is a failure. When
    /// nothing turns up (or the list fails) and the delivery probe found that deliveries cannot
    /// be observed on this target, the case is `Failure::Blocked` instead: whether a message
    /// arrived cannot be judged there. [`Ctx::await_delivery`] also watches the other channels.
    pub async fn wait_pending(
        &mut self,
        agent: &Agent,
        pred: impl Fn(&Value) -> bool + Send,
        timeout: Duration,
    ) -> Result<Option<Value>, Failure> {
        let found = self.pending_until(agent, pred, timeout).await;
        match found {
            Ok(Some(m)) => Ok(Some(m)),
            other => {
                self.require(Prereq::DeliveryObservable).await?;
                other
            }
        }
    }

    /// [`Ctx::wait_pending`] without consulting the delivery probe (what the probe uses).
    pub(crate) async fn pending_until(
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

    /// Open a WebSocket to the target's `ws_url` offering `subprotocols`, without auth, ready
    /// for its first frame: after the pause the WebSocket probe found necessary (none unless
    /// the target drops frames sent right after the upgrade; a case using the pause is listed
    /// under that finding). `Failure::Blocked` when no session authenticates on this target.
    pub async fn ws_raw(&mut self, subprotocols: &[&str]) -> Result<WsConn, Failure> {
        let pause = match self.require(Prereq::WsSession).await? {
            Facts::WsSession { auth_pause } => auth_pause,
            _ => Duration::ZERO,
        };
        let conn = self.ws_connect(subprotocols).await?;
        if !pause.is_zero() {
            self.shared.record_finding(
                facts::WS_EARLY_FRAME_FINDING,
                Prereq::WsSession.clause(),
                "",
                Some(self.case_id),
            );
            tokio::time::sleep(pause).await;
        }
        Ok(conn)
    }

    /// The upgrade alone, recorded in the transcript (what the WebSocket probe uses).
    async fn ws_connect(&mut self, subprotocols: &[&str]) -> Result<WsConn, Failure> {
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

    /// Open a WebSocket, authenticate as `agent` with the first-frame `auth` message (WS-002)
    /// and wait for `connected` (WS-003); anything else is a failure. Uses the approach the
    /// WebSocket probe found to work; `Failure::Blocked` when the probe failed.
    pub async fn ws(&mut self, agent: &Agent) -> Result<WsConn, Failure> {
        let mut conn = self.ws_raw(&["amp.v1"]).await?;
        conn.send_json(&json!({"type": "auth", "token": agent.api_key.expose()}))
            .await?;
        let ev = conn.recv(self.request_timeout()).await;
        match ev.frame_type() {
            Some("connected") => Ok(conn),
            _ => Err(Failure::Fail(format!(
                "after a valid auth frame the target sent {} instead of a `connected` frame (WS-003)",
                facts::describe_event(&ev)
            ))),
        }
    }

    /// One authentication attempt for the WebSocket probe: open, wait `pause`, send `auth`,
    /// read one event. The socket is returned when the answer was `connected`.
    pub(crate) async fn ws_auth_attempt(
        &mut self,
        agent: &Agent,
        pause: Duration,
    ) -> Result<(WsEvent, Option<WsConn>), Failure> {
        let mut conn = self.ws_connect(&["amp.v1"]).await?;
        tokio::time::sleep(pause).await;
        conn.send_json(&json!({"type": "auth", "token": agent.api_key.expose()}))
            .await?;
        let ev = conn.recv(self.request_timeout()).await;
        if ev.frame_type() == Some("connected") {
            Ok((ev, Some(conn)))
        } else {
            conn.close().await;
            Ok((ev, None))
        }
    }

    // ---- observing deliveries ----------------------------------------------------------

    /// Wait until message `message_id` reaches `recipient` through any channel the target
    /// offers and return what was delivered: the pending entry, the `data` of a `message.new`
    /// frame, or the webhook body (each carries `envelope` and `payload` on a correct
    /// provider). Which channels work was established once by the delivery probe; when none
    /// does, this is `Failure::Blocked` (the probe's root cause says why), not a failure of the
    /// calling case's clause. Not delivered within 5 s on a working channel is a failure.
    pub async fn await_delivery(
        &mut self,
        recipient: &Agent,
        message_id: &str,
    ) -> Result<Value, Failure> {
        let channels = match self.require(Prereq::DeliveryObservable).await? {
            Facts::Delivery(c) => c,
            _ => facts::Channels::default(),
        };
        let deadline = Instant::now() + DELIVERY_WAIT;
        let watched = self.observers.watches(&recipient.address);
        loop {
            if channels.pending {
                if let Some(m) = self
                    .poll_pending(recipient, message_id, Duration::ZERO)
                    .await
                    .map_err(Failure::Fail)?
                {
                    return Ok(m);
                }
            }
            let short = Duration::from_millis(50);
            if let Some(m) = self
                .observers
                .watched(&recipient.address, message_id, short)
                .await
            {
                return Ok(m);
            }
            if let Some(m) = self.observers.hooked(message_id, Duration::ZERO).await {
                return Ok(m);
            }
            if Instant::now() >= deadline {
                let via = match (channels.pending, watched, channels.webhook) {
                    (true, _, _) => "GET /messages/pending",
                    (_, true, _) => "a WebSocket push",
                    (_, _, true) => "a webhook",
                    _ => "any channel (the agent was not registered through ctx.agent)",
                };
                return Err(Failure::Fail(format!(
                    "message {message_id} was accepted but did not reach the recipient through \
                     {via} within {} s (RTE-015)",
                    DELIVERY_WAIT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Poll `agent`'s pending list for message `id` for up to `within` (at least once).
    /// `Err` names a non-2xx answer (RTE-015).
    pub(crate) async fn poll_pending(
        &mut self,
        agent: &Agent,
        id: &str,
        within: Duration,
    ) -> Result<Option<Value>, String> {
        let want = id.to_string();
        self.pending_until(
            agent,
            move |m| facts::delivered_id(m) == Some(&want),
            within,
        )
        .await
        .map_err(|f| f.reason().to_string())
    }

    /// Keep an authenticated WebSocket session open for `agent`, so deliveries pushed to it can
    /// be observed by [`Ctx::await_delivery`].
    pub async fn watch(&mut self, agent: &Agent) -> Result<(), Failure> {
        let conn = self.ws(agent).await?;
        self.observers.watch(&agent.address, conn);
        Ok(())
    }

    /// A `message.new` for message `id` on `agent`'s watch within `within`.
    pub(crate) async fn watched_message(
        &mut self,
        agent: &Agent,
        id: &str,
        within: Duration,
    ) -> Option<Value> {
        self.observers.watched(&agent.address, id, within).await
    }

    /// The URL of this context's loopback webhook receiver (started on first use).
    async fn hook_url(&mut self) -> Result<String, Failure> {
        if self.observers.hook().is_none() {
            let rx = self.receiver().await?;
            self.observers.set_hook(rx);
        }
        Ok(self.observers.hook().map(Receiver::url).unwrap_or_default())
    }

    /// Register an agent whose webhook points at this context's loopback receiver.
    pub(crate) async fn hooked_agent(&mut self) -> Result<Agent, Failure> {
        let url = self.hook_url().await?;
        let tenant = self.tenant();
        self.register_agent(&tenant, |b| {
            b["delivery"] = json!({"webhook_url": url, "webhook_secret": HOOK_SECRET})
        })
        .await
    }

    /// The body of a webhook for message `id` received within `within`.
    pub(crate) async fn hooked_message(&self, id: &str, within: Duration) -> Option<Value> {
        self.observers.hooked(id, within).await
    }

    /// Close the watch sessions (the runner calls this when the case ends).
    pub(crate) async fn close_watches(&mut self) {
        self.observers.close().await;
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
