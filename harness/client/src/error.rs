//! Transport-level errors: the target could not be talked to at all.

use std::time::Duration;

/// Why a request or WebSocket operation produced no usable answer. Protocol-level problems
/// (wrong status, bad JSON) are not errors here: they come back as a [`crate::Resp`] for the
/// case to judge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("invalid URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("{what} timed out after {after:?}: the target is too slow or hangs")]
    Timeout { what: String, after: Duration },
    #[error("could not connect to {url}: {reason} (is the target running and reachable?)")]
    Connect { url: String, reason: String },
    #[error("transport error talking to {url}: {reason}")]
    Transport { url: String, reason: String },
    #[error(
        "connection broke while reading the response body of {url} (status {status}, {read} bytes read): {reason}"
    )]
    Body {
        url: String,
        status: u16,
        read: usize,
        reason: String,
    },
    /// The target closed the connection without any HTTP response. For a request whose body is
    /// over a size limit this is the target's behaviour to judge (it must answer `413`), not
    /// a harness problem.
    #[error(
        "{url} closed the connection without any HTTP response ({written} bytes of the request \
         written to the socket, body {body_len} bytes): {reason}"
    )]
    NoAnswer {
        url: String,
        written: u64,
        body_len: usize,
        reason: String,
    },
    #[error("WebSocket handshake with {url} refused with HTTP status {status}")]
    WsHandshake { url: String, status: u16 },
    #[error("WebSocket error on {url}: {reason}")]
    Ws { url: String, reason: String },
    #[error("WebSocket connection is closed")]
    WsClosed,
    #[error("could not start loopback receiver: {0}")]
    Receiver(String),
}

impl ClientError {
    /// True for errors that mean "nothing answered" (used by the runner's preflight to
    /// report the target as unreachable rather than broken).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            ClientError::Connect { .. } | ClientError::InvalidUrl { .. }
        )
    }
}
