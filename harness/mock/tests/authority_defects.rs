//! The attack defects (the `// attacks from every position` block of `defects.rs`): each probe
//! sees the strict behaviour on a clean mock and not on a mock with only that defect planted.

mod common;

use amp_mock::{Defect, MockConfig};
use common::*;
use reqwest::Method;
use serde_json::json;

/// Alice sends Bob one message; its id.
async fn one_message(m: &Mock, a: &Agent, b: &Agent) -> String {
    assert_eq!(m.send(a, b, "x").await.status, 200);
    m.pending(b).await[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn holds(m: &Mock, who: &Agent, id: &str) -> bool {
    m.pending(who).await.iter().any(|e| e["id"] == json!(id))
}

async fn refuses_own_key_reregistration(m: &Mock) -> bool {
    let alice = m.register("acme", "alice").await;
    let r = m
        .post(
            "/register",
            None,
            &json!({"tenant": "acme", "name": "alice",
                    "public_key": alice.key.public_key().to_spki_pem(),
                    "key_algorithm": "Ed25519"}),
        )
        .await;
    r.status == 409 && r.body.get("api_key").is_none()
}
defect_test!(
    reregister_own_key_issues_key,
    Defect::ReregisterOwnKeyIssuesKey,
    refuses_own_key_reregistration
);

async fn keeps_foreign_provider_out(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let to = "bob@acme.amp-elsewhere.invalid";
    let body = m.body(&a, to, "elsewhere", &payload("x"));
    m.route(&a, &body).await;
    m.pending(&b).await.is_empty()
}
defect_test!(
    foreign_provider_delivered_locally,
    Defect::ForeignProviderDeliveredLocally,
    keeps_foreign_provider_out
);

async fn batch_ack_is_scoped(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let id = one_message(m, &a, &b).await;
    let eve = m.register("acme", "eve").await;
    m.post(
        "/messages/pending/ack",
        Some(&eve.api_key),
        &json!({"ids": [id]}),
    )
    .await;
    holds(m, &b, &id).await
}
defect_test!(
    cross_agent_batch_ack,
    Defect::CrossAgentBatchAck,
    batch_ack_is_scoped
);

async fn empty_batch_acks_nothing(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let id = one_message(m, &a, &b).await;
    let r = m
        .post(
            "/messages/pending/ack",
            Some(&b.api_key),
            &json!({"ids": []}),
        )
        .await;
    r.status == 200 && holds(m, &b, &id).await
}
defect_test!(
    batch_ack_empty_acks_all,
    Defect::BatchAckEmptyAcksAll,
    empty_batch_acks_nothing
);

async fn read_is_scoped(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let id = one_message(m, &a, &b).await;
    let eve = m.register("acme", "eve").await;
    let r = m
        .post(
            &format!("/messages/{id}/read"),
            Some(&eve.api_key),
            &json!({}),
        )
        .await;
    r.status == 404
}
defect_test!(cross_agent_read, Defect::CrossAgentRead, read_is_scoped);

async fn pending_ignores_agent_param(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    one_message(m, &a, &b).await;
    let eve = m.register("acme", "eve").await;
    let r = m
        .get(
            &format!("/messages/pending?agent={}", b.address),
            Some(&eve.api_key),
        )
        .await;
    r.status == 200 && r.body["messages"].as_array().is_some_and(Vec::is_empty)
}
defect_test!(
    pending_agent_param,
    Defect::PendingAgentParam,
    pending_ignores_agent_param
);

async fn mesh_header_needs_auth(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let body =
        json!({"to": b.address, "from": a.address, "subject": "mesh", "payload": payload("x")});
    let r = m
        .http
        .post(m.url("/route"))
        .header("content-type", "application/json")
        .header("x-forwarded-from", "mesh-host.invalid")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    r.status().as_u16() == 401 && m.pending(&b).await.is_empty()
}
defect_test!(
    mesh_header_skips_auth,
    Defect::MeshHeaderSkipsAuth,
    mesh_header_needs_auth
);

/// The clean mock refuses a route without credentials before reading the body, with or
/// without the mesh header (the defect's hook must not change that order).
#[tokio::test]
async fn unauthenticated_malformed_route_is_401() {
    let m = mock(&[]).await;
    let r = m
        .send_raw(Method::POST, "/route", None, Some(b"{\"to\": ".to_vec()))
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
}

async fn bodyless_rotation_refused(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let r = m
        .send_raw(
            Method::POST,
            "/auth/rotate-keys",
            Some(&a.api_key),
            Some(Vec::new()),
        )
        .await;
    let resolved = m
        .get(&format!("/agents/resolve/{}", a.address), Some(&a.api_key))
        .await;
    r.status == 400 && resolved.body["public_key"] == json!(a.key.public_key().to_spki_pem())
}
defect_test!(
    rotate_keys_bodyless_regenerates,
    Defect::RotateKeysBodylessRegenerates,
    bodyless_rotation_refused
);

async fn unsigned_foreign_refused(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let body = json!({"to": "bob@acme.amp-elsewhere.invalid", "subject": "unsigned",
                      "payload": payload("x")});
    !m.route(&a, &body).await.status.to_string().starts_with('2')
}
defect_test!(
    unsigned_foreign_queued,
    Defect::UnsignedForeignQueued,
    unsigned_foreign_refused
);
