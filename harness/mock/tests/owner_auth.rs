//! Owner authentication with User Keys (spec 03 › User Key Pattern): a User Key registers
//! agents into its owner's tenant, is never an agent's API key and never opens a message
//! endpoint; a probe per owner-key defect sees the strict behaviour on a clean mock and not with
//! that defect planted.

mod common;

use amp_mock::{Defect, MockConfig, OwnerKey};
use common::*;
use serde_json::{Value, json};

const UK: &str = "uk_dXNyXzEyMzQ1";

fn with_owner(c: MockConfig) -> MockConfig {
    MockConfig {
        user_keys: vec![OwnerKey {
            user_key: UK.to_string(),
            owner_id: "usr_12345".to_string(),
            tenant: "owned".to_string(),
        }],
        ..c
    }
}

/// Register `name` with the User Key and no tenant; the response.
async fn register_owned(m: &Mock, name: &str) -> Resp {
    m.post(
        "/register",
        Some(UK),
        &json!({"name": name, "public_key": new_key().public_key().to_spki_pem(),
                "key_algorithm": "Ed25519"}),
    )
    .await
}

fn api_key(r: &Resp) -> String {
    r.body["api_key"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn user_key_registers_into_owner_tenant() {
    let m = mock_with(with_owner(config(&[]))).await;
    let r = register_owned(&m, "alice").await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["owner_id"], "usr_12345");
    assert_eq!(r.body["tenant"], "owned");
    // An unknown User Key is refused, not ignored.
    let bad = m
        .post(
            "/register",
            Some("uk_bm9ib2R5"),
            &json!({"name": "bob", "public_key": new_key().public_key().to_spki_pem(),
                    "key_algorithm": "Ed25519"}),
        )
        .await;
    assert_eq!(bad.status, 401, "{}", bad.text);
    // Without a User Key nothing changes: tenant is required and no owner_id is added.
    let plain = m.register("acme", "carol").await;
    assert!(plain.reg.get("owner_id").is_none());
}

async fn tenant_derived(m: &Mock) -> bool {
    register_owned(m, "alice").await.status == 201
}
defect_test!(
    user_key_tenant_required,
    Defect::UserKeyTenantRequired,
    tenant_derived,
    with_owner
);

async fn api_key_differs(m: &Mock) -> bool {
    let r = register_owned(m, "alice").await;
    r.status == 201 && !api_key(&r).is_empty() && api_key(&r) != UK
}
defect_test!(
    agent_key_is_user_key,
    Defect::AgentKeyIsUserKey,
    api_key_differs,
    with_owner
);

async fn user_key_refused_on_messages(m: &Mock) -> bool {
    let r = register_owned(m, "alice").await;
    let pending_with_agent_key = m.get("/messages/pending", Some(&api_key(&r))).await;
    let pending_with_user_key = m.get("/messages/pending", Some(UK)).await;
    r.status == 201
        && pending_with_agent_key.status == 200
        && pending_with_user_key.status == 401
        && pending_with_user_key
            .body
            .get("messages")
            .is_none_or(Value::is_null)
}
defect_test!(
    user_key_authenticates,
    Defect::UserKeyAuthenticates,
    user_key_refused_on_messages,
    with_owner
);
