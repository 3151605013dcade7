//! Helpers shared by the runner's tests that stand up a stub provider.

use axum::Router;
use axum::http::HeaderMap;

/// The API key of a `Bearer` Authorization header ("" without one).
pub fn bearer(h: &HeaderMap) -> String {
    h.get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_string()
}

/// Serve `app` on a free loopback port; its base URL (`http://127.0.0.1:<port>/v1`).
pub async fn serve(app: Router) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    format!("http://{addr}/v1")
}
