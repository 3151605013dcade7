//! The defects the live vector trials exist for (payload hashing, signature text, routing
//! decision): each probe sees the strict behaviour on a clean mock and not on a mock with only
//! that defect planted.

mod common;

use amp_core::signing::{Priority, SigningFields};
use amp_core::{PayloadProfile, sign_fields};
use amp_mock::{Defect, MockConfig};
use common::*;
use serde_json::{Value, json};

/// Route a payload given as JSON text, signed over its sorted-profile hash.
async fn route_text(m: &Mock, from: &Agent, to: &Agent, payload_text: &str) -> Resp {
    let payload: Value = serde_json::from_str(payload_text).expect("payload json");
    let hash = amp_core::payload_hash(&payload, PayloadProfile::Sorted).expect("hash");
    let sig = sign_fields(
        &from.key,
        &SigningFields {
            from: &from.address,
            to: &to.address,
            subject: "hash",
            priority: Priority::Normal,
            in_reply_to: None,
            payload_hash: &hash,
        },
    )
    .to_base64();
    let body = format!(
        r#"{{"to":{},"subject":"hash","payload":{payload_text},"signature":"{sig}"}}"#,
        json!(to.address)
    );
    m.send_raw(
        reqwest::Method::POST,
        "/route",
        Some(&from.api_key),
        Some(body.into_bytes()),
    )
    .await
}

async fn hashes_integer_like_keys_as_strings(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let r = route_text(
        m,
        &a,
        &b,
        r#"{"type":"t","message":"m","context":{"b":1,"2":2,"a":3,"10":4,"1":5}}"#,
    )
    .await;
    r.status == 200
}
defect_test!(
    payload_hash_integer_keys_first,
    Defect::PayloadHashIntegerKeysFirst,
    hashes_integer_like_keys_as_strings
);

async fn hashes_proto_as_data(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let r = route_text(
        m,
        &a,
        &b,
        r#"{"type":"t","message":"m","context":{"__proto__":{"admin":true},"b":1}}"#,
    )
    .await;
    // Delivered intact either way; only the hash differs under the defect.
    r.status == 200 && m.pending(&b).await[0]["payload"]["context"]["__proto__"]["admin"] == true
}
defect_test!(
    payload_hash_proto_dropped,
    Defect::PayloadHashProtoDropped,
    hashes_proto_as_data
);

async fn refuses_url_safe_signatures(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    // A subject whose standard signature has `+` or `/`, so the URL-safe text differs.
    for n in 0..64 {
        let subject = format!("url-safe {n}");
        let body = m.body(&a, &b.address, &subject, &payload("x"));
        let sig = body["signature"].as_str().unwrap_or_default().to_string();
        if !sig.contains(['+', '/']) {
            continue;
        }
        let mut url = body.clone();
        url["signature"] = json!(sig.replace('+', "-").replace('/', "_"));
        return m.route(&a, &url).await.status == 403 && m.route(&a, &body).await.status == 200;
    }
    panic!("no signature with + or / in 64 tries");
}
defect_test!(
    signature_base64url_accepted,
    Defect::SignatureBase64UrlAccepted,
    refuses_url_safe_signatures
);

async fn expands_short_form_into_the_named_tenant(m: &Mock) -> bool {
    let alice = m.register("acme", "alice").await;
    let bob_acme = m.register("acme", "bob").await;
    let bob_beta = m.register("beta", "bob").await;
    let body = m.body(&alice, "bob@beta", "short", &payload("x"));
    assert_eq!(m.route(&alice, &body).await.status, 200);
    m.pending(&bob_beta).await.len() == 1 && m.pending(&bob_acme).await.is_empty()
}
defect_test!(
    short_address_wrong_tenant,
    Defect::ShortAddressWrongTenant,
    expands_short_form_into_the_named_tenant
);

async fn refuses_two_label_domain(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let to = format!("bob@{}", MockConfig::default().provider_domain);
    let body = m.body(&a, &to, "two labels", &payload("x"));
    let r = m.route(&a, &body).await;
    r.status == 400 && r.err() == "invalid_field" && m.pending(&b).await.is_empty()
}
defect_test!(
    two_label_domain_local,
    Defect::TwoLabelDomainLocal,
    refuses_two_label_domain
);

async fn registers_underscore_names(m: &Mock) -> bool {
    let r = m
        .post(
            "/register",
            None,
            &json!({
                "tenant": "acme", "name": "build_bot",
                "public_key": new_key().public_key().to_spki_pem(),
                "key_algorithm": "Ed25519",
            }),
        )
        .await;
    r.status == 201
}
defect_test!(
    agent_name_underscore_refused,
    Defect::AgentNameUnderscoreRefused,
    registers_underscore_names
);

async fn refuses_a_to_that_is_no_address(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let domain = MockConfig::default().provider_domain;
    let mut refused = true;
    for to in [
        "bob@".to_string(),
        format!("bob@acme..{domain}"),
        format!("bob@.acme.{domain}"),
    ] {
        let body = m.body(&a, &to, "no address", &payload("x"));
        refused &= m.route(&a, &body).await.status == 400;
    }
    refused && m.pending(&b).await.is_empty()
}
defect_test!(
    malformed_to_delivered_by_name,
    Defect::MalformedToDeliveredByName,
    refuses_a_to_that_is_no_address
);

#[tokio::test]
async fn routing_follows_amp_cores_decision() {
    let m = mock(&[]).await;
    let (a, b) = pair(&m).await;
    let domain = MockConfig::default().provider_domain;
    for (to, status, code) in [
        (" bob@acme.".to_string() + &domain, 400, "invalid_field"),
        ("bob ".to_string(), 400, "invalid_field"),
        (format!("bob@acme.{domain}."), 400, "invalid_field"),
        (format!("carol@acme.{domain}"), 404, "not_found"),
        ("bob@team.agents.corp.io".to_string(), 404, "not_found"),
        (
            "agent@macbook.aimaestro.local".to_string(),
            404,
            "not_found",
        ),
    ] {
        let body = m.body(&a, &to, "routing", &payload("x"));
        let r = m.route(&a, &body).await;
        assert_eq!((r.status, r.err()), (status, code), "{to:?}: {}", r.text);
    }
    assert!(m.pending(&b).await.is_empty());
    // Resolve reads addresses the same way.
    let r = m
        .get(
            &format!("/agents/resolve/BOB@ACME.{domain}"),
            Some(&a.api_key),
        )
        .await;
    assert_eq!(r.body["address"], json!(b.address), "{}", r.text);
    let r = m
        .get(
            &format!("/agents/resolve/%20bob@acme.{domain}"),
            Some(&a.api_key),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
}
