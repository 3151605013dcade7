//! WebSocket client and loopback receiver against local servers.

use amp_client::{
    Http, HttpConfig, Receiver, Redactor, Req, Transcript, WsConfig, WsConn, WsEvent,
};
use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;
use std::time::{Duration, Instant};

async fn serve(app: Router) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    format!("ws://{addr}")
}

async fn echo(mut s: WebSocket) {
    while let Some(Ok(m)) = s.recv().await {
        match m {
            Message::Text(t) if t.as_str() == "close-me" => {
                let _ = s
                    .send(Message::Close(Some(CloseFrame {
                        code: 4003,
                        reason: "agent_suspended".into(),
                    })))
                    .await;
                return;
            }
            Message::Text(t) if t.as_str() == "huge" => {
                let big = "x".repeat(2 * 1024 * 1024);
                let _ = s.send(Message::Text(big.into())).await;
            }
            Message::Text(t) if t.as_str() == "silence" => {}
            Message::Text(t) => {
                let _ = s.send(Message::Text(t)).await;
            }
            _ => {}
        }
    }
}

fn app() -> Router {
    Router::new()
        .route(
            "/ws",
            get(|ws: WebSocketUpgrade| async move { ws.protocols(["amp.v1"]).on_upgrade(echo) }),
        )
        .route(
            "/denied",
            get(|| async { (axum::http::StatusCode::UNAUTHORIZED, "no").into_response() }),
        )
}

fn cfg() -> WsConfig {
    WsConfig {
        op_timeout: Duration::from_secs(2),
        ..WsConfig::default()
    }
}

#[tokio::test]
async fn ws_echo_subprotocol_timeout_close() {
    let base = serve(app()).await;
    let red = Redactor::new();
    red.add("api_key", "amp_live_sk_WSSECRET");
    let t = Transcript::new(red);
    let mut c = WsConn::connect(&format!("{base}/ws"), &["amp.v1"], &cfg(), Some(t.clone()))
        .await
        .unwrap();
    assert_eq!(c.subprotocol(), Some("amp.v1"));
    c.send_json(&json!({"type":"auth","token":"amp_live_sk_WSSECRET"}))
        .await
        .unwrap();
    let ev = c.recv(Duration::from_secs(2)).await;
    assert_eq!(ev.frame_type(), Some("auth"));
    c.send_text("silence").await.unwrap();
    let t0 = Instant::now();
    assert_eq!(c.recv(Duration::from_millis(200)).await, WsEvent::Timeout);
    assert!(t0.elapsed() < Duration::from_secs(1));
    c.send_text(r#"{"type":"pong"}"#).await.unwrap();
    assert_eq!(
        c.recv_type("pong", Duration::from_secs(2))
            .await
            .frame_type(),
        Some("pong")
    );
    c.send_text("close-me").await.unwrap();
    match c.recv(Duration::from_secs(2)).await {
        WsEvent::Closed { code, reason } => {
            assert_eq!(code, Some(4003));
            assert_eq!(reason, "agent_suspended");
        }
        other => panic!("{other:?}"),
    }
    assert!(c.is_closed());
    assert!(c.send_text("x").await.is_err());
    let dump = serde_json::to_string(&t.entries()).unwrap();
    assert!(!dump.contains("WSSECRET"), "{dump}");
    assert!(dump.contains("ws_connect") && dump.contains("ws_recv"));
}

#[tokio::test]
async fn ws_oversize_frame_is_an_error_not_oom() {
    let base = serve(app()).await;
    let mut c = WsConn::connect(&format!("{base}/ws"), &[], &cfg(), None)
        .await
        .unwrap();
    assert_eq!(c.subprotocol(), None);
    c.send_text("huge").await.unwrap();
    let ev = c.recv(Duration::from_secs(3)).await;
    assert!(matches!(ev, WsEvent::Error(_)), "{ev:?}");
    assert!(c.is_closed());
}

#[tokio::test]
async fn ws_handshake_refused_and_unreachable() {
    let base = serve(app()).await;
    let e = WsConn::connect(&format!("{base}/denied"), &["amp.v1"], &cfg(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(e, amp_client::ClientError::WsHandshake { status: 401, .. }),
        "{e:?}"
    );
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let e = WsConn::connect(&format!("ws://{addr}/ws"), &[], &cfg(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(e, amp_client::ClientError::Connect { .. }),
        "{e:?}"
    );
}

#[tokio::test]
async fn ws_silent_server_handshake_times_out() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let mut keep = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            keep.push(s); // accept and never answer
        }
    });
    let c = WsConfig {
        op_timeout: Duration::from_millis(300),
        ..WsConfig::default()
    };
    let t = Instant::now();
    let e = WsConn::connect(&format!("ws://{addr}/ws"), &[], &c, None)
        .await
        .unwrap_err();
    assert!(
        matches!(e, amp_client::ClientError::Timeout { .. }),
        "{e:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn receiver_records_and_answers_programmed_statuses() {
    let t = Transcript::new(Redactor::new());
    let rx = Receiver::start(Some(t.clone())).await.unwrap();
    assert!(rx.url().starts_with("http://127.0.0.1:"));
    rx.set_statuses(&[500, 503]);
    let http = Http::new(HttpConfig::default()).unwrap();
    let mut answers = Vec::new();
    for i in 0..3 {
        let req = Req::new(amp_client::Method::POST, rx.url())
            .header("X-AMP-Signature", "sha256=0123456789abcdef0123")
            .json(&json!({"n": i, "webhook_secret": "whsec_shouldnotleak"}));
        answers.push(http.send(&req).await.unwrap().status);
    }
    assert_eq!(answers, vec![500, 503, 200]);
    let third = rx.wait_for(3, Duration::from_secs(1)).await.unwrap();
    assert_eq!(third.method, "POST");
    assert_eq!(third.path, "/hook");
    assert_eq!(third.json().unwrap()["n"], 2);
    assert_eq!(third.answered, 200);
    assert!(third.header("x-amp-signature").is_some());
    let t0 = Instant::now();
    assert!(rx.wait_for(4, Duration::from_millis(200)).await.is_none());
    assert!(t0.elapsed() < Duration::from_secs(1));
    let dump = serde_json::to_string(&t.entries()).unwrap();
    assert!(dump.contains("webhook"));
    assert!(!dump.contains("whsec_shouldnotleak"), "{dump}");
    assert!(!dump.contains("0123456789abcdef0123"), "{dump}");
}

#[tokio::test]
async fn receiver_waiter_wakes_on_arrival() {
    let rx = Receiver::start(None).await.unwrap();
    let url = rx.url();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let http = Http::new(HttpConfig::default()).unwrap();
        let _ = http
            .send(&Req::new(amp_client::Method::POST, url).body("hi", "text/plain"))
            .await;
    });
    let r = rx.wait_for(1, Duration::from_secs(3)).await.unwrap();
    assert_eq!(&r.body[..], b"hi");
}

#[tokio::test]
async fn wss_to_a_non_tls_server_is_an_error_not_a_panic() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let _ = tokio::io::AsyncWriteExt::write_all(&mut s, b"HTTP/1.1 400 no\r\n\r\n").await;
        }
    });
    let e = WsConn::connect(&format!("wss://{addr}/ws"), &["amp.v1"], &cfg(), None)
        .await
        .unwrap_err();
    assert!(!e.to_string().is_empty());
}
