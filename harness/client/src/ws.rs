//! WebSocket connection to a possibly hostile target: every operation has a deadline, frames
//! are capped, and every frame sent or received goes to the transcript (if one is attached).

use crate::error::ClientError;
use crate::transcript::Transcript;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Largest frame/message accepted from the target (contract: 1 MiB).
pub const DEFAULT_MAX_FRAME: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct WsConfig {
    /// Deadline for connect (TCP + handshake), each send, and close.
    pub op_timeout: Duration,
    pub max_frame: usize,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            op_timeout: Duration::from_secs(10),
            max_frame: DEFAULT_MAX_FRAME,
        }
    }
}

/// What [`WsConn::recv`] observed.
#[derive(Debug, Clone, PartialEq)]
pub enum WsEvent {
    /// A text frame; `json` is set when it parses as JSON.
    Text {
        raw: String,
        json: Option<Value>,
    },
    Binary(Vec<u8>),
    /// The server closed (close frame, or the stream ended: then `code` is `None`).
    Closed {
        code: Option<u16>,
        reason: String,
    },
    /// Nothing arrived before the deadline; the connection is still usable.
    Timeout,
    /// Protocol violation, oversize frame or transport error; the connection is unusable.
    Error(String),
}

impl WsEvent {
    pub fn json(&self) -> Option<&Value> {
        match self {
            WsEvent::Text { json, .. } => json.as_ref(),
            _ => None,
        }
    }

    /// The `type` field of a JSON text frame (`"connected"`, `"message.new"`, ...).
    pub fn frame_type(&self) -> Option<&str> {
        self.json()?.get("type")?.as_str()
    }

    pub fn is_closed(&self) -> bool {
        matches!(self, WsEvent::Closed { .. } | WsEvent::Error(_))
    }

    fn describe(&self) -> String {
        match self {
            WsEvent::Text { raw, .. } => raw.clone(),
            WsEvent::Binary(b) => format!("<binary frame, {} bytes>", b.len()),
            WsEvent::Closed { code, reason } => format!("<closed code={code:?} reason={reason:?}>"),
            WsEvent::Timeout => "<timeout>".to_string(),
            WsEvent::Error(e) => format!("<error: {e}>"),
        }
    }
}

/// An open WebSocket.
pub struct WsConn {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    url: String,
    subprotocol: Option<String>,
    transcript: Option<Transcript>,
    cfg: WsConfig,
    closed: bool,
}

impl std::fmt::Debug for WsConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsConn")
            .field("url", &self.url)
            .field("subprotocol", &self.subprotocol)
            .field("closed", &self.closed)
            .finish()
    }
}

impl WsConn {
    /// Connect to `url` (`ws://` or `wss://`), offering `subprotocols`.
    pub async fn connect(
        url: &str,
        subprotocols: &[&str],
        cfg: &WsConfig,
        transcript: Option<Transcript>,
    ) -> Result<WsConn, ClientError> {
        Self::connect_with_headers(url, subprotocols, &[], cfg, transcript).await
    }

    /// Like [`WsConn::connect`], with extra handshake headers.
    pub async fn connect_with_headers(
        url: &str,
        subprotocols: &[&str],
        headers: &[(String, String)],
        cfg: &WsConfig,
        transcript: Option<Transcript>,
    ) -> Result<WsConn, ClientError> {
        let result = Self::connect_inner(url, subprotocols, headers, cfg).await;
        if let Some(t) = &transcript {
            match &result {
                Ok((_, proto)) => t.record_ws_connect(url, subprotocols, proto.as_deref(), None),
                Err(e) => t.record_ws_connect(url, subprotocols, None, Some(&e.to_string())),
            }
        }
        let (stream, subprotocol) = result?;
        Ok(WsConn {
            stream,
            url: url.to_string(),
            subprotocol,
            transcript,
            cfg: cfg.clone(),
            closed: false,
        })
    }

    async fn connect_inner(
        url: &str,
        subprotocols: &[&str],
        headers: &[(String, String)],
        cfg: &WsConfig,
    ) -> Result<(WebSocketStream<MaybeTlsStream<TcpStream>>, Option<String>), ClientError> {
        let invalid = |reason: String| ClientError::InvalidUrl {
            url: url.to_string(),
            reason,
        };
        let mut request = url
            .into_client_request()
            .map_err(|e| invalid(e.to_string()))?;
        if !subprotocols.is_empty() {
            let v = subprotocols.join(", ");
            let hv = http::HeaderValue::from_str(&v).map_err(|e| invalid(e.to_string()))?;
            request.headers_mut().insert("Sec-WebSocket-Protocol", hv);
        }
        for (k, v) in headers {
            let name = http::HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| invalid(format!("header {k}: {e}")))?;
            let hv =
                http::HeaderValue::from_str(v).map_err(|e| invalid(format!("header {k}: {e}")))?;
            request.headers_mut().append(name, hv);
        }
        let config = WebSocketConfig::default()
            .max_message_size(Some(cfg.max_frame))
            .max_frame_size(Some(cfg.max_frame));
        // `wss://` uses rustls with the ring provider and the system's root certificates.
        crate::http::install_crypto_provider();
        let fut = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
        let (stream, resp) = match tokio::time::timeout(cfg.op_timeout, fut).await {
            Err(_) => {
                return Err(ClientError::Timeout {
                    what: format!("WebSocket connect to {url}"),
                    after: cfg.op_timeout,
                });
            }
            Ok(Err(tungstenite::Error::Http(resp))) => {
                return Err(ClientError::WsHandshake {
                    url: url.to_string(),
                    status: resp.status().as_u16(),
                });
            }
            Ok(Err(tungstenite::Error::Io(e))) => {
                return Err(ClientError::Connect {
                    url: url.to_string(),
                    reason: e.to_string(),
                });
            }
            Ok(Err(e)) => {
                return Err(ClientError::Ws {
                    url: url.to_string(),
                    reason: e.to_string(),
                });
            }
            Ok(Ok(x)) => x,
        };
        let proto = resp
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        Ok((stream, proto))
    }

    /// The subprotocol the server confirmed (`Sec-WebSocket-Protocol` of the 101 answer).
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    pub async fn send_json(&mut self, v: &Value) -> Result<(), ClientError> {
        let text = serde_json::to_string(v).unwrap_or_default();
        self.send_text(&text).await
    }

    pub async fn send_text(&mut self, text: &str) -> Result<(), ClientError> {
        if let Some(t) = &self.transcript {
            t.record_ws_send(text);
        }
        self.send(Message::text(text)).await
    }

    pub async fn send_binary(&mut self, data: Vec<u8>) -> Result<(), ClientError> {
        if let Some(t) = &self.transcript {
            t.record_ws_send(&format!("<binary frame, {} bytes>", data.len()));
        }
        self.send(Message::binary(data)).await
    }

    async fn send(&mut self, m: Message) -> Result<(), ClientError> {
        if self.closed {
            return Err(ClientError::WsClosed);
        }
        match tokio::time::timeout(self.cfg.op_timeout, self.stream.send(m)).await {
            Err(_) => Err(ClientError::Timeout {
                what: format!("WebSocket send to {}", self.url),
                after: self.cfg.op_timeout,
            }),
            Ok(Err(e)) => {
                self.closed = true;
                Err(ClientError::Ws {
                    url: self.url.clone(),
                    reason: e.to_string(),
                })
            }
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Next data frame or close, waiting at most `timeout`. Ping/pong frames are answered and
    /// skipped.
    pub async fn recv(&mut self, timeout: Duration) -> WsEvent {
        let ev = self.recv_inner(timeout).await;
        if let Some(t) = &self.transcript {
            t.record_ws_recv(&ev.describe());
        }
        ev
    }

    async fn recv_inner(&mut self, timeout: Duration) -> WsEvent {
        if self.closed {
            return WsEvent::Closed {
                code: None,
                reason: "connection already closed".to_string(),
            };
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let next = match tokio::time::timeout(left, self.stream.next()).await {
                Err(_) => return WsEvent::Timeout,
                Ok(n) => n,
            };
            match next {
                None => {
                    self.closed = true;
                    return WsEvent::Closed {
                        code: None,
                        reason: "stream ended without close frame".to_string(),
                    };
                }
                Some(Err(tungstenite::Error::ConnectionClosed))
                | Some(Err(tungstenite::Error::AlreadyClosed)) => {
                    self.closed = true;
                    return WsEvent::Closed {
                        code: None,
                        reason: "connection closed".to_string(),
                    };
                }
                Some(Err(e)) => {
                    self.closed = true;
                    return WsEvent::Error(e.to_string());
                }
                Some(Ok(Message::Text(t))) => {
                    let raw = t.as_str().to_string();
                    let json = serde_json::from_str(&raw).ok();
                    return WsEvent::Text { raw, json };
                }
                Some(Ok(Message::Binary(b))) => return WsEvent::Binary(b.to_vec()),
                Some(Ok(Message::Close(frame))) => {
                    self.closed = true;
                    return match frame {
                        Some(f) => WsEvent::Closed {
                            code: Some(u16::from(f.code)),
                            reason: f.reason.as_str().to_string(),
                        },
                        None => WsEvent::Closed {
                            code: None,
                            reason: String::new(),
                        },
                    };
                }
                Some(Ok(_)) => continue, // ping, pong, raw frame
            }
        }
    }

    /// Wait until a JSON frame with `"type": ty` arrives (other frames are skipped but stay
    /// in the transcript). Returns the frame, or the close/timeout/error that ended the wait.
    pub async fn recv_type(&mut self, ty: &str, timeout: Duration) -> WsEvent {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return WsEvent::Timeout;
            }
            let ev = self.recv(left).await;
            match &ev {
                WsEvent::Text { .. } if ev.frame_type() == Some(ty) => return ev,
                WsEvent::Text { .. } | WsEvent::Binary(_) => continue,
                _ => return ev,
            }
        }
    }

    /// Send a close frame and wait (bounded) for the server's answer.
    pub async fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        let _ = tokio::time::timeout(self.cfg.op_timeout, self.stream.close(None)).await;
    }
}
