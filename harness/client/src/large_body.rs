//! Requests with large bodies, each on a connection of its own that keeps an early answer.
//!
//! A target (or the nginx, Envoy or load balancer in front of it) may answer a body that is
//! too large — `413`, or anything else — as soon as it has read the headers, and then close or
//! reset the connection while the client is still writing. The answer is the verdict a case
//! needs; the broken write that follows is not. A pooled client loses that answer (the write
//! error wins) or poisons the next request on the same connection. So large bodies go over a
//! fresh HTTP/1.1 connection driven by hyper, whose socket turns into a sink once the target
//! has stopped reading ([`StopTolerant`]): hyper keeps reading and hands back whatever the
//! target answered. Only a connection that closes with no answer at all is an error,
//! [`ClientError::NoAnswer`], which cases about size limits judge as a failure of their clause.

use crate::error::ClientError;
use crate::http::{CappedBody, HttpConfig, Req, Resp, error_chain, header_pairs};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Bodies of at least this many bytes take this path. Smaller ones are written in one go into
/// the socket buffers before a target could answer, and keep the pooled connections.
pub const LARGE_BODY: usize = 64 * 1024;

/// Send `req` (which has a body) over a fresh connection, within the request timeout; see the
/// module documentation.
pub(crate) async fn send(
    cfg: &HttpConfig,
    req: &Req,
    started: Instant,
) -> Result<Resp, ClientError> {
    match tokio::time::timeout(cfg.timeout, send_untimed(cfg, req, started)).await {
        Ok(r) => r,
        Err(_) => Err(ClientError::Timeout {
            what: format!("{} {} ({}-byte body)", req.method, req.url, body_len(req)),
            after: cfg.timeout,
        }),
    }
}

fn body_len(req: &Req) -> usize {
    req.body.as_ref().map_or(0, Bytes::len)
}

async fn send_untimed(cfg: &HttpConfig, req: &Req, started: Instant) -> Result<Resp, ClientError> {
    let url = reqwest::Url::parse(&req.url).map_err(|e| ClientError::InvalidUrl {
        url: req.url.clone(),
        reason: e.to_string(),
    })?;
    let (host, port) = match (url.host_str(), url.port_or_known_default()) {
        (Some(h), Some(p)) => (h.to_string(), p),
        _ => {
            return Err(ClientError::InvalidUrl {
                url: req.url.clone(),
                reason: "no host or port".to_string(),
            });
        }
    };
    let connect_err = |reason: String| ClientError::Connect {
        url: req.url.clone(),
        reason,
    };
    let tcp = TcpStream::connect((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| connect_err(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let sent = Arc::new(SendLog::default());
    let io = StopTolerant {
        inner: tcp,
        log: sent.clone(),
    };
    let request = build_request(cfg, req, &url)?;
    let outcome = match url.scheme() {
        "http" => exchange(TokioIo::new(io), request).await,
        "https" => {
            let tls = tls_connector().map_err(connect_err)?;
            let name = rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']))
                .map_err(|e| connect_err(format!("invalid TLS server name `{host}`: {e}")))?
                .to_owned();
            let stream = tls
                .connect(name, io)
                .await
                .map_err(|e| connect_err(format!("TLS handshake failed: {e}")))?;
            exchange(TokioIo::new(stream), request).await
        }
        other => {
            return Err(ClientError::InvalidUrl {
                url: req.url.clone(),
                reason: format!("unsupported scheme `{other}` (use http or https)"),
            });
        }
    };
    let (resp, conn) = match outcome {
        Ok(pair) => pair,
        Err(e) if sent.broken().is_some() || connection_ended(&e) => {
            return Err(ClientError::NoAnswer {
                url: req.url.clone(),
                written: sent.written(),
                body_len: body_len(req),
                reason: sent.broken().unwrap_or_else(|| error_chain(&e)),
            });
        }
        Err(e) => {
            return Err(ClientError::Transport {
                url: req.url.clone(),
                reason: error_chain(&e),
            });
        }
    };
    let status = resp.status().as_u16();
    let headers = header_pairs(resp.headers());
    let mut capped = CappedBody::new(cfg.body_cap);
    let mut incoming = resp.into_body();
    while !capped.full() {
        match incoming.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    capped.push(&data);
                }
            }
            None => break,
            Some(Err(e)) => {
                return Err(ClientError::Body {
                    url: req.url.clone(),
                    status,
                    read: capped.len(),
                    reason: error_chain(&e),
                });
            }
        }
    }
    drop(conn);
    Ok(capped.into_resp(status, headers, started))
}

/// The request as hyper sends it: origin-form target, and `Host`, `User-Agent` and `Accept` as
/// the pooled client adds them, unless the case set them itself.
fn build_request(
    cfg: &HttpConfig,
    req: &Req,
    url: &reqwest::Url,
) -> Result<http::Request<Full<Bytes>>, ClientError> {
    let mut target = url.path().to_string();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    let authority = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    let mut b = http::Request::builder()
        .method(req.method.clone())
        .uri(target);
    if req.header_value("host").is_none() {
        b = b.header(http::header::HOST, authority);
    }
    for (k, v) in &req.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    if req.header_value("user-agent").is_none() {
        b = b.header(http::header::USER_AGENT, cfg.user_agent.as_str());
    }
    if req.header_value("accept").is_none() {
        b = b.header(http::header::ACCEPT, "*/*");
    }
    b.body(Full::new(req.body.clone().unwrap_or_default()))
        .map_err(|e| ClientError::InvalidUrl {
            url: req.url.clone(),
            reason: format!("cannot build the request: {e}"),
        })
}

/// Handshake, send, and wait for the response head. The connection task is returned with the
/// response: it must stay alive (it reads the response body) and is aborted when dropped.
async fn exchange<T>(
    io: T,
    request: http::Request<Full<Bytes>>,
) -> Result<(http::Response<hyper::body::Incoming>, AbortOnDrop), hyper::Error>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    let conn = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.await;
    }));
    let resp = sender.send_request(request).await?;
    Ok((resp, conn))
}

/// Aborts the task driving a connection when the request is over (or cancelled by a timeout).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What happened on the write side of a connection.
#[derive(Debug, Default)]
struct SendLog {
    written: AtomicU64,
    broken: OnceLock<String>,
}

impl SendLog {
    fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
    fn broken(&self) -> Option<String> {
        self.broken.get().cloned()
    }
}

/// A stream whose write half becomes a sink once the peer has stopped reading (broken pipe,
/// reset, abort): the rest of the request is dropped, and the read half goes on so the
/// answer the peer sent before closing is still read. Other errors pass through.
struct StopTolerant<S> {
    inner: S,
    log: Arc<SendLog>,
}

/// The connection ended (closed or reset) before a response head: nothing was answered.
fn connection_ended(e: &hyper::Error) -> bool {
    if e.is_incomplete_message() {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        if let Some(io) = inner.downcast_ref::<io::Error>() {
            return peer_stopped_reading(io);
        }
        source = inner.source();
    }
    false
}

fn peer_stopped_reading(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}

impl<S: AsyncRead + Unpin> AsyncRead for StopTolerant<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StopTolerant<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.log.broken.get().is_some() {
            return Poll::Ready(Ok(buf.len()));
        }
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                self.log.written.fetch_add(n as u64, Ordering::Relaxed);
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) if peer_stopped_reading(&e) => {
                let _ = self.log.broken.set(e.to_string());
                Poll::Ready(Ok(buf.len()))
            }
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.log.broken.get().is_some() {
            return Poll::Ready(Ok(()));
        }
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(Err(e)) if peer_stopped_reading(&e) => {
                let _ = self.log.broken.set(e.to_string());
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.log.broken.get().is_some() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// TLS for the large-body path, verified like the pooled client (the platform's trust store)
/// and offering HTTP/1.1 only. Built once per process.
fn tls_connector() -> Result<tokio_rustls::TlsConnector, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            crate::http::install_crypto_provider();
            use rustls_platform_verifier::ConfigVerifierExt;
            let mut config = rustls::ClientConfig::with_platform_verifier()
                .map_err(|e| format!("cannot set up TLS verification: {e}"))?;
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Ok(Arc::new(config))
        })
        .clone()
        .map(tokio_rustls::TlsConnector::from)
}
