//! API-009: request bodies over `max_body_bytes` are refused with `413 request_too_large`,
//! by `Content-Length` first, then by a streaming cap, before any JSON parsing.
//!
//! The refusal is sent at once, saying the connection closes, and the rest of the body is then
//! read and thrown away, up to [`DRAIN_BYTES`] or [`DRAIN_TIME`], so the close is clean. A
//! server that stops reading instead closes a socket with unread data, which resets the
//! connection: the client's write then fails, and ordinary clients lose the `413` they were
//! sent (or the next request on the connection fails). Past the bound the connection is closed
//! anyway: a hostile client cannot keep the mock busy.

use crate::error::ApiError;
use crate::service::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use std::time::Duration;

/// After a `413`, at most this many further body bytes are read and discarded.
pub const DRAIN_BYTES: usize = 8 * 1024 * 1024;
/// After a `413`, the rest of the body is read for at most this long.
pub const DRAIN_TIME: Duration = Duration::from_secs(5);

pub(crate) async fn body_limit_mw(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    // The `no-body-limit` defect raises it (resolved once into the policy).
    let cap = state.policy().body_cap_bytes;
    if declares_more_than(req.headers(), cap) {
        return refuse_and_drain(cap, req.into_body());
    }
    // WebSocket upgrades carry no body and must keep their upgrade handle untouched.
    if req.headers().contains_key(header::UPGRADE) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    match read_capped(body, cap).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(Overflow::Rest(rest)) => refuse_and_drain(cap, rest),
        Err(Overflow::Broken) => too_large(cap),
    }
}

fn declares_more_than(headers: &axum::http::HeaderMap, cap: usize) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .is_some_and(|len| len > cap as u64)
}

/// The refusal says the connection closes (RFC 9112 9.6): a body the mock did not read in full
/// leaves it unusable, so a client must not send its next request on it.
fn too_large(cap: usize) -> Response {
    let mut resp = ApiError::new(
        413,
        "request_too_large",
        format!("request body exceeds {cap} bytes (API-009): send a smaller message"),
    )
    .into_response();
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// The `413`, with the body handed to a task that reads and discards what is left of it.
fn refuse_and_drain(cap: usize, body: Body) -> Response {
    tokio::spawn(drain(body));
    too_large(cap)
}

async fn drain(mut body: Body) {
    let read = async {
        let mut seen = 0usize;
        while seen <= DRAIN_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => seen += frame.data_ref().map_or(0, Bytes::len),
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, read).await;
}

/// Why a body was not collected.
enum Overflow {
    /// Over the cap; the unread rest of the body.
    Rest(Body),
    /// The body stream failed (client went away); nothing to drain.
    Broken,
}

/// The whole body if it is at most `cap` bytes.
async fn read_capped(mut body: Body, cap: usize) -> Result<Bytes, Overflow> {
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(Overflow::Broken);
        };
        if let Some(data) = frame.data_ref() {
            if buf.len() + data.len() > cap {
                return Err(Overflow::Rest(body));
            }
            buf.extend_from_slice(data);
        }
    }
    Ok(Bytes::from(buf))
}
