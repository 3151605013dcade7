//! Loopback webhook receiver: an HTTP server on 127.0.0.1:0 that records every request the
//! target sends it and answers with a programmable status sequence (to test retries).

use crate::error::ClientError;
use crate::transcript::Transcript;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::Value;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, oneshot};

/// Largest request body recorded; the rest is dropped and `truncated` set.
pub const RECEIVER_BODY_CAP: usize = 2 * 1024 * 1024;
/// A sender that takes longer than this to deliver its body is cut off.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// One request the target sent to the receiver.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    pub method: String,
    /// Path and query, e.g. `/hook?x=1`.
    pub path: String,
    /// Names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub truncated: bool,
    /// Time since the receiver started.
    pub at: Duration,
    /// Status the receiver answered with.
    pub answered: u16,
}

impl ReceivedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Body parsed as JSON (tolerant).
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<ReceivedRequest>>,
    statuses: Mutex<VecDeque<u16>>,
    notify: Notify,
    transcript: Option<Transcript>,
    start: Option<Instant>,
}

/// The running receiver; stops when dropped.
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Receiver {
    /// Bind 127.0.0.1:0 and serve. Requests are recorded in `transcript` too, if given.
    pub async fn start(transcript: Option<Transcript>) -> Result<Receiver, ClientError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| ClientError::Receiver(format!("bind 127.0.0.1:0: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| ClientError::Receiver(e.to_string()))?;
        let shared = Arc::new(Shared {
            transcript,
            start: Some(Instant::now()),
            ..Default::default()
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Receiver {
            addr,
            shared,
            shutdown: Some(tx),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL to register as a webhook: `http://127.0.0.1:<port>/hook`.
    pub fn url(&self) -> String {
        format!("{}/hook", self.base_url())
    }

    /// Answer the next requests with these statuses, in order; afterwards 200.
    pub fn set_statuses(&self, statuses: &[u16]) {
        if let Ok(mut q) = self.shared.statuses.lock() {
            *q = statuses.iter().copied().collect();
        }
    }

    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.shared
            .requests
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }

    pub fn count(&self) -> usize {
        self.shared.requests.lock().map(|v| v.len()).unwrap_or(0)
    }

    /// Wait for the `n`-th request (1-based) for at most `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Option<ReceivedRequest> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.shared.notify.notified();
            if let Some(r) = self
                .shared
                .requests
                .lock()
                .ok()
                .and_then(|v| v.get(n.saturating_sub(1)).cloned())
            {
                return Some(r);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let _ = tokio::time::timeout(left, notified).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let method = parts.method.to_string();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".to_string());
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let (body, truncated) = read_capped(body).await;
    let answered = shared
        .statuses
        .lock()
        .ok()
        .and_then(|mut q| q.pop_front())
        .unwrap_or(200);
    if let Some(t) = &shared.transcript {
        t.record_webhook(&method, &path, &headers, &body, answered);
    }
    let at = shared.start.map(|s| s.elapsed()).unwrap_or_default();
    if let Ok(mut v) = shared.requests.lock() {
        v.push(ReceivedRequest {
            method,
            path,
            headers,
            body,
            truncated,
            at,
            answered,
        });
    }
    shared.notify.notify_waiters();
    let status = http::StatusCode::from_u16(answered).unwrap_or(http::StatusCode::OK);
    (status, "").into_response()
}

async fn read_capped(body: Body) -> (Bytes, bool) {
    let mut out = Vec::new();
    let mut truncated = false;
    let mut stream = body.into_data_stream();
    let deadline = Instant::now() + BODY_READ_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.next()).await {
            Ok(Some(Ok(chunk))) => {
                let room = RECEIVER_BODY_CAP.saturating_sub(out.len());
                if chunk.len() > room {
                    out.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    break;
                }
                out.extend_from_slice(&chunk);
            }
            Ok(Some(Err(_))) | Err(_) => {
                truncated = true;
                break;
            }
            Ok(None) => break,
        }
    }
    (Bytes::from(out), truncated)
}
