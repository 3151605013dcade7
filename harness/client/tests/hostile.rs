//! The client against deliberately hostile servers on 127.0.0.1: garbage, 500s, hangs,
//! slowloris bodies, huge bodies, connections closed mid-response, redirects, 429 storms.
//! Each must produce a bounded, typed answer quickly and never panic or hang.

use amp_client::{ClientError, Http, HttpConfig, Method, Redactor, Req, Secret, Transcript};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

async fn serve(app: Router) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    format!("http://{addr}")
}

fn evil() -> Router {
    let count = Arc::new(AtomicUsize::new(0));
    let c2 = count.clone();
    Router::new()
        .route(
            "/garbage",
            get(|| async { ([("content-type", "application/json")], "{\"a\":[1,2,{oops") }),
        )
        .route(
            "/500",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/hang",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .route(
            "/slowloris",
            get(|| async {
                let s = futures_util::stream::unfold(0u32, |n| async move {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Some((Ok::<_, std::io::Error>(Bytes::from_static(b"x")), n + 1))
                });
                Response::new(Body::from_stream(s))
            }),
        )
        .route(
            "/huge",
            get(|| async {
                // 50 MB, produced lazily so the server does not hold it in memory.
                let chunk = Bytes::from(vec![b'a'; 64 * 1024]);
                let s = futures_util::stream::iter(
                    (0..800).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
                );
                Response::new(Body::from_stream(s))
            }),
        )
        .route(
            "/redirect",
            get(|| async {
                (
                    StatusCode::FOUND,
                    [("location", "http://127.0.0.1:1/x")],
                    "",
                )
            }),
        )
        .route(
            "/flaky429",
            get(move || {
                let c = c2.clone();
                async move {
                    if c.fetch_add(1, Ordering::SeqCst) < 2 {
                        (
                            StatusCode::TOO_MANY_REQUESTS,
                            [("retry-after", "0")],
                            "slow down",
                        )
                            .into_response()
                    } else {
                        (StatusCode::OK, "ok").into_response()
                    }
                }
            }),
        )
        .route(
            "/always429",
            get(|| async {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", "99999")],
                    "{\"error\":\"rate_limited\"}",
                )
            }),
        )
        .route(
            "/echo-auth",
            get(|h: HeaderMap| async move {
                let a = h
                    .get("authorization")
                    .map(|v| v.to_str().unwrap_or("").to_string())
                    .unwrap_or_default();
                format!("{{\"seen\":\"{a}\"}}")
            }),
        )
}

fn client(timeout_ms: u64) -> Http {
    Http::new(HttpConfig {
        timeout: Duration::from_millis(timeout_ms),
        max_retry_wait: Duration::from_millis(50),
        ..HttpConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn garbage_json_is_a_response_not_an_error() {
    let base = serve(evil()).await;
    let r = client(2000)
        .send(&Req::get(format!("{base}/garbage")))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(r.json().is_none());
    assert!(r.error_code().is_none());
    assert!(r.json_strict().is_err());
}

#[tokio::test]
async fn server_error_is_returned() {
    let base = serve(evil()).await;
    let r = client(2000)
        .send(&Req::get(format!("{base}/500")))
        .await
        .unwrap();
    assert_eq!(r.status, 500);
    assert_eq!(&r.body[..], b"boom");
}

#[tokio::test]
async fn hang_times_out() {
    let base = serve(evil()).await;
    let t = Instant::now();
    let e = client(300)
        .send(&Req::get(format!("{base}/hang")))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Timeout { .. }), "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}

#[tokio::test]
async fn slowloris_body_times_out() {
    let base = serve(evil()).await;
    let t = Instant::now();
    let e = client(400)
        .send(&Req::get(format!("{base}/slowloris")))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Timeout { .. }), "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn huge_body_is_capped() {
    let base = serve(evil()).await;
    let r = client(5000)
        .send(&Req::get(format!("{base}/huge")))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(r.truncated);
    assert_eq!(r.body.len(), amp_client::DEFAULT_BODY_CAP);
    // The transcript keeps a much smaller excerpt.
    let t = Transcript::new(Redactor::new());
    t.record_http(&Req::get(format!("{base}/huge")), &Ok(r));
    let json = serde_json::to_string(&t.entries()).unwrap();
    assert!(json.len() < 40 * 1024, "{}", json.len());
    assert!(json.contains("body cut in transcript"));
}

#[tokio::test]
async fn connection_closed_mid_response() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = [0u8; 2048];
            let _ = tokio::io::AsyncReadExt::read(&mut s, &mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\ncontent-type: application/json\r\n\r\n{\"par")
                .await;
            let _ = s.shutdown().await;
        }
    });
    let e = client(2000)
        .send(&Req::get(format!("http://{addr}/x")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Body { status: 200, .. } | ClientError::Transport { .. }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn garbage_status_line() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let _ = s.write_all(b"SMTP READY\r\n\r\n\x00\xff garbage").await;
            let _ = s.shutdown().await;
        }
    });
    let e = client(2000)
        .send(&Req::get(format!("http://{addr}/x")))
        .await
        .unwrap_err();
    assert!(!e.to_string().is_empty());
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let base = serve(evil()).await;
    let r = client(2000)
        .send(&Req::get(format!("{base}/redirect")))
        .await
        .unwrap();
    assert_eq!(r.status, 302);
    assert_eq!(r.header("Location"), Some("http://127.0.0.1:1/x"));
}

#[tokio::test]
async fn retry_after_429_is_honoured_and_bounded() {
    let base = serve(evil()).await;
    let http = client(2000);
    let r = http
        .send(&Req::get(format!("{base}/flaky429")))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.retries, 2);
    let t = Instant::now();
    let r = http
        .send(&Req::get(format!("{base}/always429")))
        .await
        .unwrap();
    assert_eq!(r.status, 429);
    assert_eq!(r.retries, 3);
    assert_eq!(r.error_code(), Some("rate_limited"));
    // Retry-After 99999 was clamped to the configured 50 ms.
    assert!(t.elapsed() < Duration::from_secs(2));
    // send_once does not retry.
    let r = http
        .send_once(&Req::get(format!("{base}/always429")))
        .await
        .unwrap();
    assert_eq!(r.retries, 0);
}

#[tokio::test]
async fn pacing_spaces_requests_per_credential() {
    let base = serve(evil()).await;
    let http = client(2000);
    let alice = amp_client::Secret::new("amp_test_sk_alice");
    let bob = amp_client::Secret::new("amp_test_sk_bob");
    // 600/min = 10/s, bucket of 600: the first requests go at once.
    http.set_rate_limit(Some(600));
    let t = Instant::now();
    for _ in 0..5 {
        http.send(&Req::get(format!("{base}/500")).bearer(&alice))
            .await
            .unwrap();
    }
    assert!(t.elapsed() < Duration::from_secs(1));
    // 1/min: alice's bucket is empty after one request, so her next one waits…
    http.set_rate_limit(Some(1));
    http.send(&Req::get(format!("{base}/500")).bearer(&alice))
        .await
        .unwrap();
    let req = Req::get(format!("{base}/500")).bearer(&alice);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), http.send(&req))
            .await
            .is_err(),
        "alice's second request must be paced"
    );
    // …while bob has a bucket of his own (RL-001 budgets are per API key),
    let req = Req::get(format!("{base}/500")).bearer(&bob);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), http.send(&req))
            .await
            .is_ok(),
        "bob must not wait for alice's budget"
    );
    // …and unauthenticated requests (per-IP budgets, not advertised) are not paced.
    for _ in 0..3 {
        let req = Req::get(format!("{base}/500"));
        assert!(
            tokio::time::timeout(Duration::from_millis(300), http.send(&req))
                .await
                .is_ok()
        );
    }
}

#[tokio::test]
async fn unreachable_target() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let e = client(1000)
        .send(&Req::get(format!("http://{addr}/v1/info")))
        .await
        .unwrap_err();
    assert!(e.is_unreachable(), "{e:?}");
    let e = client(1000).send(&Req::get("not a url")).await.unwrap_err();
    assert!(matches!(e, ClientError::InvalidUrl { .. }));
}

#[tokio::test]
async fn transcript_never_holds_the_api_key() {
    let base = serve(evil()).await;
    let key = Secret::new("amp_live_sk_TOPSECRET123");
    let red = Redactor::new();
    red.add_secret("api_key", &key);
    let t = Transcript::new(red);
    let req = Req::new(Method::GET, format!("{base}/echo-auth")).bearer(&key);
    let r = client(2000).send(&req).await;
    assert!(r.as_ref().unwrap().text().contains("TOPSECRET123"));
    t.record_http(&req, &r);
    let dump = serde_json::to_string(&t.entries()).unwrap();
    assert!(!dump.contains("TOPSECRET123"), "{dump}");
    assert!(dump.contains("Bearer [REDACTED]"));
    let text = amp_client::render_exchanges(&t.entries(), 2048, "");
    assert!(!text.contains("TOPSECRET123"));
}
