//! HTTP client for possibly hostile targets.
//!
//! Every request is bounded in time (connect, headers and body together), every body is read
//! with a hard cap, redirects are never followed (a redirect is an observable answer, not an
//! instruction), proxies from the environment are ignored (test traffic goes to the target
//! only), `429` is retried a bounded number of times honouring a bounded `Retry-After`, and a
//! token bucket paces requests under the rate the target advertises. Bodies of
//! [`LARGE_BODY`] bytes or more go over a connection of their own that keeps an answer sent
//! before the body was fully written (see [`crate::large_body`]).

use crate::error::ClientError;
use crate::large_body::{self, LARGE_BODY};
use crate::secret::Secret;
use bytes::Bytes;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

pub use http::Method;

/// Default per-request timeout (contract: 10 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cap on a response body (contract: 2 MiB).
pub const DEFAULT_BODY_CAP: usize = 2 * 1024 * 1024;

static INSTALL_PROVIDER: Once = Once::new();

/// reqwest is built without a default TLS provider (faster builds); install ring once per
/// process before the first client is built, or reqwest panics on the first HTTPS request.
pub fn install_crypto_provider() {
    INSTALL_PROVIDER.call_once(|| {
        // Another component may have installed one already: that is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Knobs of the HTTP client.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Whole-request deadline: connect + headers + body.
    pub timeout: Duration,
    /// Bytes of response body kept; the rest is not read and `Resp::truncated` is set.
    pub body_cap: usize,
    /// How many times a `429` is retried before it is returned to the caller.
    pub max_429_retries: u32,
    /// Longest `Retry-After` honoured; longer values are clamped to this.
    pub max_retry_wait: Duration,
    pub user_agent: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            timeout: DEFAULT_TIMEOUT,
            body_cap: DEFAULT_BODY_CAP,
            max_429_retries: 3,
            max_retry_wait: Duration::from_secs(10),
            user_agent: format!("amp-conformance/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// One request to send. Header values are sent verbatim; the transcript redacts them.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Bytes>,
}

impl Req {
    pub fn new(method: Method, url: impl Into<String>) -> Req {
        Req {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
        }
    }
    pub fn get(url: impl Into<String>) -> Req {
        Req::new(Method::GET, url)
    }
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Req {
        self.headers.push((name.into(), value.into()));
        self
    }
    /// `Authorization: Bearer <key>`.
    pub fn bearer(self, key: &Secret) -> Req {
        self.header("Authorization", format!("Bearer {}", key.expose()))
    }
    /// Serialises `v` compactly and sets `Content-Type: application/json`.
    pub fn json(self, v: &Value) -> Req {
        let body = serde_json::to_vec(v).unwrap_or_default();
        self.body(body, "application/json")
    }
    /// Raw body with the given content type (empty `content_type` sets none).
    pub fn body(mut self, body: impl Into<Bytes>, content_type: &str) -> Req {
        if !content_type.is_empty() {
            self.headers
                .push(("Content-Type".to_string(), content_type.to_string()));
        }
        self.body = Some(body.into());
        self
    }
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A response, whatever the target sent. Nothing here panics on hostile content.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    /// Header names lowercased, in arrival order; non-UTF-8 values are lossily decoded.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// The body was longer than the cap and was cut.
    pub truncated: bool,
    pub elapsed: Duration,
    /// How many `429`s were retried before this answer.
    pub retries: u32,
    json: OnceLock<Option<Value>>,
}

impl Resp {
    pub fn new(status: u16, headers: Vec<(String, String)>, body: impl Into<Bytes>) -> Resp {
        Resp {
            status,
            headers: headers
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            body: body.into(),
            truncated: false,
            elapsed: Duration::ZERO,
            retries: 0,
            json: OnceLock::new(),
        }
    }

    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All values of header `name`.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as JSON, parsed once. Strict parsing first (amp-core); if the strict parser
    /// refuses (duplicate keys, ...), a tolerant parse is used so a case can still inspect
    /// the value; use [`Resp::json_strict`] when strictness itself is under test.
    /// `None` when the body is not JSON at all (or was truncated mid-document).
    pub fn json(&self) -> Option<&Value> {
        self.json
            .get_or_init(|| {
                if self.body.is_empty() {
                    return None;
                }
                match strict_parse(&self.body) {
                    Some(Ok(v)) => Some(v),
                    _ => serde_json::from_slice(&self.body).ok(),
                }
            })
            .as_ref()
    }

    /// Strict parse (duplicate keys, non-finite numbers, depth are refused) with the reason.
    pub fn json_strict(&self) -> Result<Value, String> {
        match strict_parse(&self.body) {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(e),
            None => Err("strict JSON parser is unavailable (internal error)".to_string()),
        }
    }

    /// The `error` field of a JSON error body (API-007).
    pub fn error_code(&self) -> Option<&str> {
        self.json()?.get("error")?.as_str()
    }

    /// Value at a JSON pointer (`"/data/id"`).
    pub fn pointer(&self, ptr: &str) -> Option<&Value> {
        self.json()?.pointer(ptr)
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The strict parser lives in amp-core. A bug there must not take a conformance run down, so
/// a panic is contained and reported as `None` (callers fall back to tolerant parsing).
fn strict_parse(bytes: &[u8]) -> Option<Result<Value, String>> {
    std::panic::catch_unwind(|| amp_core::json::parse_strict(bytes).map_err(|e| e.to_string())).ok()
}

/// Token buckets shared by all clones of an [`Http`], one per credential: AMP rate limits are
/// per API key (RL-001), so each agent gets its own bucket of `per_minute` requests refilled at
/// `per_minute / 60` per second.
#[derive(Debug)]
struct Pacer {
    state: Mutex<PacerState>,
}

#[derive(Debug, Default)]
struct PacerState {
    per_minute: Option<u32>,
    buckets: HashMap<String, Bucket>,
}

/// More credentials than this in one run means something is off; start over rather than grow.
const MAX_BUCKETS: usize = 10_000;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Pacer {
    fn set(&self, per_minute: Option<u32>) {
        if let Ok(mut s) = self.state.lock() {
            s.per_minute = per_minute.filter(|n| *n > 0);
            s.buckets.clear();
        }
    }

    /// Wait until the bucket of `credential` has a token. Unauthenticated requests
    /// (registration, discovery) are not paced: their budgets are per client IP and not
    /// advertised, so only the 429 handling of [`Http::send`] applies to them.
    async fn acquire(&self, credential: &str) {
        if credential.is_empty() {
            return;
        }
        loop {
            let wait = {
                let Ok(mut guard) = self.state.lock() else {
                    return;
                };
                let Some(per_minute) = guard.per_minute else {
                    return;
                };
                if guard.buckets.len() >= MAX_BUCKETS && !guard.buckets.contains_key(credential) {
                    guard.buckets.clear();
                }
                let capacity = f64::from(per_minute);
                let per_sec = capacity / 60.0;
                let now = Instant::now();
                let b = guard
                    .buckets
                    .entry(credential.to_string())
                    .or_insert(Bucket {
                        tokens: capacity,
                        last: now,
                    });
                let dt = now.duration_since(b.last).as_secs_f64();
                b.last = now;
                b.tokens = (b.tokens + dt * per_sec).min(capacity);
                if b.tokens >= 1.0 {
                    b.tokens -= 1.0;
                    return;
                }
                Duration::from_secs_f64(((1.0 - b.tokens) / per_sec).min(60.0))
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// The HTTP client. Cheap to clone; clones share the connection pool and the pacer.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    cfg: HttpConfig,
    pacer: Arc<Pacer>,
}

impl Http {
    pub fn new(cfg: HttpConfig) -> Result<Http, ClientError> {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(cfg.timeout)
            .timeout(cfg.timeout)
            .user_agent(cfg.user_agent.clone())
            .build()
            .map_err(|e| ClientError::Transport {
                url: String::new(),
                reason: format!("cannot build HTTP client: {e}"),
            })?;
        Ok(Http {
            client,
            cfg,
            pacer: Arc::new(Pacer {
                state: Mutex::new(PacerState::default()),
            }),
        })
    }

    pub fn config(&self) -> &HttpConfig {
        &self.cfg
    }

    /// Pace requests at most `per_minute` per minute per credential (from
    /// `/v1/info.rate_limits`); `None` turns pacing off.
    pub fn set_rate_limit(&self, per_minute: Option<u32>) {
        self.pacer.set(per_minute);
    }

    /// Send `req`, retrying `429` answers at most `max_429_retries` times.
    pub async fn send(&self, req: &Req) -> Result<Resp, ClientError> {
        let mut retries = 0;
        loop {
            let credential = req
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                .map_or("", |(_, v)| v.as_str());
            self.pacer.acquire(credential).await;
            let mut resp = self.send_once(req).await?;
            resp.retries = retries;
            if resp.status != 429 || retries >= self.cfg.max_429_retries {
                return Ok(resp);
            }
            let wait = retry_after(&resp)
                .unwrap_or(Duration::from_secs(1))
                .min(self.cfg.max_retry_wait);
            tokio::time::sleep(wait).await;
            retries += 1;
        }
    }

    /// Send `req` exactly once (no 429 handling, no pacing): for rate-limit cases.
    pub async fn send_once(&self, req: &Req) -> Result<Resp, ClientError> {
        let started = Instant::now();
        // reqwest's own timeout covers the body too; the outer one is a second fence in case
        // a body stream stalls in a way the inner one does not see.
        let deadline = self.cfg.timeout + Duration::from_millis(500);
        match tokio::time::timeout(deadline, self.send_inner(req, started)).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::Timeout {
                what: format!("{} {}", req.method, req.url),
                after: self.cfg.timeout,
            }),
        }
    }

    async fn send_inner(&self, req: &Req, started: Instant) -> Result<Resp, ClientError> {
        if req.body.as_ref().is_some_and(|b| b.len() >= LARGE_BODY) {
            return large_body::send(&self.cfg, req, started).await;
        }
        let url = reqwest::Url::parse(&req.url).map_err(|e| ClientError::InvalidUrl {
            url: req.url.clone(),
            reason: e.to_string(),
        })?;
        let mut rb = self.client.request(req.method.clone(), url);
        for (k, v) in &req.headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        if let Some(b) = &req.body {
            rb = rb.body(b.clone());
        }
        let mut resp = rb.send().await.map_err(|e| self.map_err(&req.url, e))?;
        let status = resp.status().as_u16();
        let headers = header_pairs(resp.headers());
        let mut capped = CappedBody::new(self.cfg.body_cap);
        while !capped.full() {
            match resp.chunk().await {
                Ok(Some(chunk)) => capped.push(&chunk),
                Ok(None) => break,
                Err(e) if e.is_timeout() => {
                    return Err(ClientError::Timeout {
                        what: format!("reading body of {} {}", req.method, req.url),
                        after: self.cfg.timeout,
                    });
                }
                Err(e) => {
                    return Err(ClientError::Body {
                        url: req.url.clone(),
                        status,
                        read: capped.len(),
                        reason: error_chain(&e),
                    });
                }
            }
        }
        Ok(capped.into_resp(status, headers, started))
    }

    fn map_err(&self, url: &str, e: reqwest::Error) -> ClientError {
        if e.is_timeout() {
            ClientError::Timeout {
                what: format!("request to {url}"),
                after: self.cfg.timeout,
            }
        } else if e.is_connect() {
            ClientError::Connect {
                url: url.to_string(),
                reason: error_chain(&e),
            }
        } else {
            ClientError::Transport {
                url: url.to_string(),
                reason: error_chain(&e),
            }
        }
    }
}

/// `Retry-After` as delta-seconds (HTTP dates are not honoured: a target that sends one gets
/// the default back-off).
pub fn retry_after(resp: &Resp) -> Option<Duration> {
    let v = resp.header("retry-after")?.trim();
    let secs: f64 = v.parse().ok()?;
    if secs.is_finite() && secs >= 0.0 {
        Some(Duration::from_secs_f64(secs.min(3600.0)))
    } else {
        None
    }
}

/// Response headers as (lowercase name, lossily decoded value) pairs, in arrival order.
pub(crate) fn header_pairs(map: &http::HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// A response body read up to a cap: what fits is kept, the rest is not read.
pub(crate) struct CappedBody {
    body: Vec<u8>,
    cap: usize,
    truncated: bool,
}

impl CappedBody {
    pub(crate) fn new(cap: usize) -> CappedBody {
        CappedBody {
            body: Vec::new(),
            cap,
            truncated: false,
        }
    }

    /// Keep what fits of `chunk`; past the cap the body is marked truncated.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        let room = self.cap.saturating_sub(self.body.len());
        if chunk.len() > room {
            self.body.extend_from_slice(&chunk[..room]);
            self.truncated = true;
        } else {
            self.body.extend_from_slice(chunk);
        }
    }

    /// The cap was hit: stop reading.
    pub(crate) fn full(&self) -> bool {
        self.truncated
    }

    pub(crate) fn len(&self) -> usize {
        self.body.len()
    }

    pub(crate) fn into_resp(
        self,
        status: u16,
        headers: Vec<(String, String)>,
        started: Instant,
    ) -> Resp {
        let mut r = Resp::new(status, headers, self.body);
        r.truncated = self.truncated;
        r.elapsed = started.elapsed();
        r
    }
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}
