//! Targets that answer before the request body is fully written (API-009 front ends: nginx,
//! Envoy, load balancers), then reset or close the connection. The client must judge the
//! answer it was sent; only a connection that closes with no answer at all is an error, and
//! that error says what was seen.

use amp_client::large_body::LARGE_BODY;
use amp_client::{ClientError, Http, HttpConfig, Method, Req};
use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Well over any loopback socket buffer, so the client is still writing when the answer comes.
const BIG: usize = 4 * 1024 * 1024;
const REFUSAL: &str = r#"{"error":"request_too_large","message":"too big"}"#;

fn http() -> Http {
    Http::new(HttpConfig {
        timeout: Duration::from_secs(5),
        ..HttpConfig::default()
    })
    .unwrap()
}

fn big_post(addr: &str) -> Req {
    Req::new(Method::POST, format!("http://{addr}/v1/route"))
        .body(vec![b'x'; BIG], "application/json")
}

/// Read until the end of the request head (at most 64 KiB); the body is left unread but for
/// the returned number of body bytes that came with the head.
async fn read_head(s: &mut TcpStream) -> usize {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            return head.len() - end - 4;
        }
        if head.len() > 64 * 1024 {
            return 0;
        }
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return 0,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
}

/// What a raw target does after reading only the request head.
#[derive(Clone, Copy)]
enum After {
    /// Write a `413` and reset the connection (SO_LINGER 0).
    AnswerThenReset,
    /// Reset the connection without answering.
    Reset,
    /// Read the whole body, then close cleanly (FIN) without answering.
    ReadAllThenClose,
}

async fn raw_target(after: After) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let body_seen = read_head(&mut s).await;
                match after {
                    After::AnswerThenReset => {
                        let resp = format!(
                            "HTTP/1.1 413 Payload Too Large\r\ncontent-type: application/json\r\n\
                             content-length: {}\r\n\r\n{REFUSAL}",
                            REFUSAL.len()
                        );
                        let _ = s.write_all(resp.as_bytes()).await;
                        let _ = s.set_zero_linger();
                    }
                    After::Reset => {
                        let _ = s.set_zero_linger();
                    }
                    After::ReadAllThenClose => {
                        let mut sink = vec![0u8; 64 * 1024];
                        let mut left = BIG - body_seen;
                        while left > 0 {
                            match s.read(&mut sink).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => left = left.saturating_sub(n),
                            }
                        }
                        let _ = s.shutdown().await;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_early_413_before_a_reset_is_the_answer() {
    let addr = raw_target(After::AnswerThenReset).await;
    let http = http();
    // Repeated: the race between the answer and the broken write must always go the same way.
    for i in 0..20 {
        let r = http
            .send(&big_post(&addr))
            .await
            .unwrap_or_else(|e| panic!("run {i}: the early 413 was lost: {e}"));
        assert_eq!(r.status, 413, "run {i}");
        assert_eq!(r.error_code(), Some("request_too_large"), "run {i}");
        assert!(!r.truncated);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_without_any_answer_is_a_clear_no_answer_error() {
    let addr = raw_target(After::Reset).await;
    let start = Instant::now();
    let e = http().send(&big_post(&addr)).await.unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(5), "{e}");
    let ClientError::NoAnswer { body_len, .. } = &e else {
        panic!("expected NoAnswer, got {e:?}");
    };
    assert_eq!(*body_len, BIG);
    let msg = e.to_string();
    assert!(
        msg.contains("closed the connection without any HTTP response"),
        "{msg}"
    );
    assert!(msg.contains(&format!("body {BIG} bytes")), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_close_without_any_answer_is_a_no_answer_error() {
    let addr = raw_target(After::ReadAllThenClose).await;
    let e = http().send(&big_post(&addr)).await.unwrap_err();
    let ClientError::NoAnswer { written, .. } = &e else {
        panic!("expected NoAnswer, got {e:?}");
    };
    // The whole request went out: the target read it and hung up.
    assert!(*written >= BIG as u64, "{e}");
}

/// An axum target that refuses large bodies without reading them, as the mock once did: the
/// refusal must be judged and the next request on the same client must not inherit a broken
/// connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_early_refusal_does_not_break_the_next_request() {
    let app = Router::new()
        .route(
            "/v1/route",
            post(|| async { (StatusCode::PAYLOAD_TOO_LARGE, REFUSAL) }),
        )
        .route("/v1/ok", get(|| async { "ok" }));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    let http = http();
    for i in 0..20 {
        let r = http.send(&big_post(&addr)).await;
        assert_eq!(r.map(|r| r.status).ok(), Some(413), "run {i}");
        let ok = http.send(&Req::get(format!("http://{addr}/v1/ok"))).await;
        assert_eq!(ok.map(|r| r.status).ok(), Some(200), "run {i}");
    }
}

/// The large-body path is an ordinary client for targets that read everything: status,
/// headers, capped body, query string and the headers a case set all arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_body_that_is_read_gets_the_normal_answer() {
    let app =
        Router::new()
            .route(
                "/v1/echo",
                post(
                    |q: axum::extract::RawQuery,
                     h: axum::http::HeaderMap,
                     body: axum::body::Bytes| async move {
                        let ua = h
                            .get("user-agent")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("");
                        format!(
                            "{} {} {} {}",
                            body.len(),
                            q.0.unwrap_or_default(),
                            ua,
                            h.get("x-case").is_some()
                        )
                    },
                ),
            )
            .layer(axum::extract::DefaultBodyLimit::disable());
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    let req = Req::new(Method::POST, format!("http://{addr}/v1/echo?a=1"))
        .header("x-case", "yes")
        .body(vec![b'y'; LARGE_BODY], "application/octet-stream");
    let r = http().send(&req).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text(),
        format!(
            "{LARGE_BODY} a=1 amp-conformance/{} true",
            env!("CARGO_PKG_VERSION")
        )
    );
}
