//! API-009 as an ordinary client sees it: an oversized body is answered `413
//! request_too_large` (the connection closes) and the rest of it is drained, so a client that
//! writes the whole body before reading still gets the `413`, and its next request works.
//! The drain is bounded: a client that never stops sending is cut off.

mod common;

use amp_mock::http::body_limit::DRAIN_BYTES;
use common::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIG: usize = 4 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_gets_413_and_the_next_request_works() {
    let m = mock(&[]).await;
    let (a, _) = pair(&m).await;
    for i in 0..20 {
        let r = m
            .send_raw(
                reqwest::Method::POST,
                "/route",
                Some(&a.api_key),
                Some(vec![b' '; BIG]),
            )
            .await;
        assert_eq!((r.status, r.err()), (413, "request_too_large"), "run {i}");
        let h = m.get("/health", None).await;
        assert_eq!(h.status, 200, "run {i}");
    }
}

/// No Content-Length: the cap is found while reading a chunked body. The refusal says the
/// connection closes, and the mock reads the rest of the body before closing, so a client that
/// writes it all still reads the 413 and then a clean end of stream, not a reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_chunked_body_gets_413_and_a_clean_close() {
    let m = mock(&[]).await;
    let (a, _) = pair(&m).await;
    let addr = host_port(&m);
    for i in 0..5 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST /v1/route HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\n\
             content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
            a.api_key
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let chunk = format!("10000\r\n{}\r\n", " ".repeat(0x10000));
        for _ in 0..64 {
            s.write_all(chunk.as_bytes())
                .await
                .unwrap_or_else(|e| panic!("run {i}: the mock stopped reading: {e}"));
        }
        s.write_all(b"0\r\n\r\n").await.unwrap();
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got))
            .await
            .expect("the mock answered and closed within 10 s")
            .unwrap_or_else(|e| panic!("run {i}: the connection was reset: {e}"));
        let text = String::from_utf8_lossy(&got).to_ascii_lowercase();
        assert!(text.starts_with("http/1.1 413"), "run {i}: {text}");
        assert!(text.contains("connection: close"), "run {i}: {text}");
        assert!(text.contains("request_too_large"), "run {i}: {text}");
    }
}

fn host_port(m: &Mock) -> String {
    m.handle.origin().trim_start_matches("http://").to_string()
}

/// A client that declares a huge body and never stops writing is cut off after the drain
/// bound, quickly, having been told `413` first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_after_a_413_is_bounded() {
    let m = mock(&[]).await;
    let addr = host_port(&m);
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v1/route HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        1u64 << 30
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let (mut rd, mut wr) = s.into_split();
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(20), rd.read_to_end(&mut got)).await;
        got
    });
    let start = Instant::now();
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0usize;
    while start.elapsed() < Duration::from_secs(20) {
        match wr.write_all(&chunk).await {
            Ok(()) => sent += chunk.len(),
            Err(_) => break,
        }
    }
    let got = reader.await.unwrap();
    assert!(
        String::from_utf8_lossy(&got).starts_with("HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    // Socket buffers on both sides hold a few MiB on loopback at most.
    assert!(
        sent <= DRAIN_BYTES + 32 * 1024 * 1024,
        "the mock read {sent} bytes after refusing"
    );
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
}
