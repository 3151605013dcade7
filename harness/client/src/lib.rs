//! amp-client: talking to a possibly hostile AMP target.
//!
//! The target under test may be buggy or malicious. Everything here is bounded: every HTTP
//! request and WebSocket operation has a deadline, every body and frame a size cap, nothing
//! follows redirects, and nothing panics on what the target sends. Everything sent and
//! received can be recorded in a [`Transcript`], redacted on the way in by a [`Redactor`],
//! so API keys and private keys never reach a report.

#![forbid(unsafe_code)]

pub mod error;
pub mod http;
pub mod large_body;
pub mod receiver;
pub mod redact;
pub mod secret;
pub mod transcript;
pub mod ws;

pub use crate::error::ClientError;
pub use crate::http::{
    DEFAULT_BODY_CAP, DEFAULT_TIMEOUT, Http, HttpConfig, Method, Req, Resp,
    install_crypto_provider, retry_after,
};
pub use crate::receiver::{ReceivedRequest, Receiver};
pub use crate::redact::{Redactor, shorten_signature};
pub use crate::secret::Secret;
pub use crate::transcript::{
    Exchange, RecordedRequest, RecordedResponse, Transcript, render_exchanges,
};
pub use crate::ws::{WsConfig, WsConn, WsEvent};
pub use bytes::Bytes;
