//! The coverage-gap defects (the `// coverage gaps` block of `defects.rs`): each probe sees the
//! strict behaviour on a clean mock and not on a mock with only that defect planted.

mod common;

use amp_core::signing::{Priority, SecretKey, SigningFields};
use amp_core::{MessageId, PayloadProfile};
use amp_mock::{Defect, FederationPeer, MockConfig, RateLimits};
use common::*;
use serde_json::{Value, json};

/// A signed route body with an optional `in_reply_to`.
fn reply_body(from: &Agent, to: &str, subject: &str, parent: Option<&str>) -> Value {
    let p = payload("x");
    let sig = sign(
        &from.key,
        &from.address,
        to,
        subject,
        Priority::Normal,
        parent,
        &p,
    );
    let mut b = json!({"to": to, "subject": subject, "payload": p, "signature": sig});
    if let Some(id) = parent {
        b["in_reply_to"] = json!(id);
    }
    b
}

// --- addressing, versioning, pagination ----------------------------------------------------

async fn refuses_recased_name(m: &Mock) -> bool {
    m.register("acme", "alice").await;
    let r = m
        .post(
            "/register",
            None,
            &json!({"tenant": "acme", "name": "ALICE",
                    "public_key": new_key().public_key().to_spki_pem(),
                    "key_algorithm": "Ed25519"}),
        )
        .await;
    r.status == 409
}
defect_test!(
    recased_name_duplicate,
    Defect::RecasedNameDuplicate,
    refuses_recased_name
);

async fn expands_short_to(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let body = m.body(&a, "bob@acme", "short", &payload("x"));
    assert_eq!(m.route(&a, &body).await.status, 200);
    m.pending(&b).await[0]["envelope"]["to"] == json!(b.address)
}
defect_test!(
    short_to_not_expanded,
    Defect::ShortToNotExpanded,
    expands_short_to
);

async fn v2_is_404(m: &Mock) -> bool {
    let r = m.get(&format!("{}/v2/info", m.handle.origin()), None).await;
    r.status == 404 && r.is_spec_error()
}
defect_test!(v2_alias, Defect::V2Alias, v2_is_404);

async fn agents_cursor_pages(m: &Mock) -> bool {
    let a = m.register("pg", "a1").await;
    m.register("pg", "a2").await;
    m.register("pg", "a3").await;
    let first = m.get("/agents?limit=2", Some(&a.api_key)).await;
    assert_eq!(first.body["total"], 3, "{}", first.text);
    assert_eq!(first.body["has_more"], true, "{}", first.text);
    let c = first.body["cursor"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let second = m
        .get(&format!("/agents?limit=2&cursor={c}"), Some(&a.api_key))
        .await;
    second.body["agents"].as_array().map(Vec::len) == Some(1)
}
defect_test!(
    agents_cursor_ignored,
    Defect::AgentsCursorIgnored,
    agents_cursor_pages
);

// --- JSON profile ----------------------------------------------------------------------------

async fn keeps_payload_null(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let p = json!({"type": "notification", "message": "x", "note": null});
    let body = m.body(&a, &b.address, "null", &p);
    assert_eq!(m.route(&a, &body).await.status, 200);
    m.pending(&b).await[0]["payload"] == p
}
defect_test!(
    payload_nulls_stripped,
    Defect::PayloadNullsStripped,
    keeps_payload_null
);

fn has_null(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.values().any(has_null),
        Value::Array(a) => a.iter().any(has_null),
        _ => false,
    }
}

async fn envelope_without_nulls(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    assert_eq!(m.send(&a, &b, "x").await.status, 200);
    !has_null(&m.pending(&b).await[0]["envelope"])
}
defect_test!(
    null_envelope_fields,
    Defect::NullEnvelopeFields,
    envelope_without_nulls
);

// --- routing -----------------------------------------------------------------------------------

async fn mesh_header_ignored(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let victim = m.register("acme", "victim").await;
    let p = payload("x");
    let sig = sign(
        &a.key,
        &victim.address,
        &b.address,
        "mesh",
        Priority::Normal,
        None,
        &p,
    );
    let body = json!({"from": victim.address, "to": b.address, "subject": "mesh",
                      "payload": p, "signature": sig});
    let r = m
        .http
        .post(m.url("/route"))
        .bearer_auth(&a.api_key)
        .header("X-Forwarded-From", "mesh-host.test")
        .json(&body)
        .send()
        .await
        .expect("request");
    r.status().as_u16() == 403
}
defect_test!(
    mesh_header_trusted,
    Defect::MeshHeaderTrusted,
    mesh_header_ignored
);

async fn route_has_basis(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    m.send(&a, &b, "x").await.body["basis"] == "queued"
}
defect_test!(no_delivery_basis, Defect::NoDeliveryBasis, route_has_basis);

async fn count_after_pickups(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let mut limited = false;
    for _ in 0..5 {
        if m.get("/messages/pending", Some(&a.api_key)).await.status == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "the low pickup budget was not enforced");
    m.get("/messages/pending/count", Some(&a.api_key))
        .await
        .status
        == 200
}
defect_test!(
    count_rate_limited,
    Defect::CountRateLimited,
    count_after_pickups,
    |mut c: MockConfig| {
        c.rate_limits = RateLimits {
            pending_per_minute: 2,
            ..RateLimits::default()
        };
        c
    }
);

async fn seven_day_expiry(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    assert_eq!(m.send(&a, &b, "x").await.status, 200);
    let e = &m.pending(&b).await[0];
    let t = |f: &str| amp_core::parse_rfc3339(e[f].as_str().unwrap_or_default()).unwrap_or(0);
    t("expires_at") - t("queued_at") == 7 * 24 * 3600
}
defect_test!(relay_ttl_one_day, Defect::RelayTtlOneDay, seven_day_expiry);

async fn accepts_receipt_option(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let mut body = m.body(&a, &b.address, "opts", &payload("x"));
    body["options"] = json!({"receipt": true});
    m.route(&a, &body).await.status == 200
}
defect_test!(
    options_receipt_refused,
    Defect::OptionsReceiptRefused,
    accepts_receipt_option
);

async fn signature_codes(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let mut body = m.body(&a, &b.address, "s", &payload("x"));
    body.as_object_mut().map(|o| o.remove("signature"));
    let r = m.route(&a, &body).await;
    r.status == 422 && r.err() == "signature_missing"
}
defect_test!(
    signature_failure_400,
    Defect::SignatureFailure400,
    signature_codes
);

async fn budget_per_agent(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    for _ in 0..5 {
        assert_eq!(m.get("/agents/me", Some(&a.api_key)).await.status, 200);
    }
    let r = m.get("/agents/me", Some(&b.api_key)).await;
    let h = |n: &str| {
        r.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
    };
    h("x-ratelimit-remaining") + 1 == h("x-ratelimit-limit")
}
defect_test!(rate_limit_global, Defect::RateLimitGlobal, budget_per_agent);

async fn patch_refuses_private_webhook(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let r = m
        .patch(
            "/agents/me",
            Some(&a.api_key),
            &json!({"delivery": {"webhook_url": "https://10.0.0.1/hook"}}),
        )
        .await;
    r.status == 400
}
defect_test!(
    patch_webhook_unvalidated,
    Defect::PatchWebhookUnvalidated,
    patch_refuses_private_webhook
);

async fn idempotency_remembered(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let mut first = m.body(&a, &b.address, "one", &payload("x"));
    first["idempotency_key"] = json!("idk_one");
    let mut second = m.body(&a, &b.address, "two", &payload("x"));
    second["idempotency_key"] = json!("idk_two");
    let id = m.route(&a, &first).await.body["id"].clone();
    assert_eq!(m.route(&a, &second).await.status, 200);
    m.route(&a, &first).await.body["id"] == id
}
defect_test!(
    idempotency_short_memory,
    Defect::IdempotencyShortMemory,
    idempotency_remembered
);

async fn reply_joins_root_thread(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let root = m
        .route(&a, &reply_body(&a, &b.address, "root", None))
        .await
        .body["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let reply = m
        .route(&b, &reply_body(&b, &a.address, "reply", Some(&root)))
        .await
        .body["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = m
        .route(&a, &reply_body(&a, &b.address, "again", Some(&reply)))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let pending = m.pending(&b).await;
    pending
        .iter()
        .find(|e| e["id"] == r.body["id"])
        .is_some_and(|e| e["envelope"]["thread_id"] == json!(root))
}
defect_test!(
    reply_thread_parent,
    Defect::ReplyThreadParent,
    reply_joins_root_thread
);

// --- federation --------------------------------------------------------------------------------

const PEER: &str = "peer.test";

fn peer_key() -> SecretKey {
    SecretKey::from_seed([0x51; 32])
}

fn with_peer(mut c: MockConfig) -> MockConfig {
    c.federation_peers = vec![FederationPeer {
        domain: PEER.into(),
        public_key: peer_key().public_key(),
    }];
    c
}

/// `{envelope, payload, sender_public_key}` from `from` to `to`; `forge` signs with another key.
fn fed_body(m: &Mock, from: &str, to: &str, forge: bool) -> Value {
    let sender = SecretKey::from_seed([0x22; 32]);
    let signer = if forge {
        SecretKey::from_seed([0x33; 32])
    } else {
        SecretKey::from_seed([0x22; 32])
    };
    let now = m.handle.clock().now_unix();
    let id = MessageId::random(u64::try_from(now).unwrap_or(0));
    let p = payload("federated text");
    let hash = amp_core::payload_hash(&p, PayloadProfile::Sorted).expect("hash");
    let sig = amp_core::sign_fields(
        &signer,
        &SigningFields {
            from,
            to,
            subject: "fed",
            priority: Priority::Normal,
            in_reply_to: None,
            payload_hash: &hash,
        },
    );
    json!({
        "envelope": {"version": "amp/0.1", "id": id.as_str(), "from": from, "to": to,
                     "subject": "fed", "priority": "normal",
                     "timestamp": amp_core::format_rfc3339(now),
                     "signature": sig.to_base64(), "thread_id": id.as_str()},
        "payload": p,
        "sender_public_key": sender.public_key().to_spki_pem(),
    })
}

async fn fed_deliver(m: &Mock, provider: &str, key: &SecretKey, body: &Value) -> Resp {
    let bytes = serde_json::to_vec(body).expect("json");
    let ts = m.handle.clock().now_unix().to_string();
    let sig = amp_core::sign_federation(key, &ts, &bytes);
    let r = m
        .http
        .post(m.url("/federation/deliver"))
        .header("content-type", "application/json")
        .header("X-AMP-Provider", provider)
        .header("X-AMP-Timestamp", ts)
        .header("X-AMP-Signature", sig.to_base64())
        .body(bytes)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap_or_default();
    Resp {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

async fn refuses_unknown_provider(m: &Mock) -> bool {
    let bob = m.register("team", "bob").await;
    let body = fed_body(m, "eve@acme.stranger.test", &bob.address, false);
    let stranger = SecretKey::from_seed([0x44; 32]);
    let r = fed_deliver(m, "stranger.test", &stranger, &body).await;
    r.status == 403 && r.err() == "provider_not_trusted"
}
defect_test!(
    federation_any_provider,
    Defect::FederationAnyProvider,
    refuses_unknown_provider,
    with_peer
);

async fn untrusted_never_plain(m: &Mock) -> bool {
    let bob = m.register("team", "bob").await;
    let good = fed_body(m, &format!("alice@acme.{PEER}"), &bob.address, false);
    assert_eq!(fed_deliver(m, PEER, &peer_key(), &good).await.status, 200);
    let forged = fed_body(m, &format!("alice@acme.{PEER}"), &bob.address, true);
    let r = fed_deliver(m, PEER, &peer_key(), &forged).await;
    if r.status != 200 {
        return true;
    }
    m.pending(&bob).await.iter().all(|e| {
        e["payload"]["message"]
            .as_str()
            .is_some_and(|t| t.contains("<external-content"))
    })
}
defect_test!(
    federation_untrusted_delivered_raw,
    Defect::FederationUntrustedDeliveredRaw,
    untrusted_never_plain,
    with_peer
);

async fn matches_mixed_case_to(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let to = b.address.to_ascii_uppercase();
    let body = m.body(&a, &to, "mixed case", &payload("x"));
    m.route(&a, &body).await.status == 200 && m.pending(&b).await.len() == 1
}
defect_test!(
    mixed_case_to_refused,
    Defect::MixedCaseToRefused,
    matches_mixed_case_to
);

// --- readings and spec-true verdicts ---------------------------------------------------------

async fn from_is_full_address(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    assert_eq!(m.send(&a, &b, "x").await.status, 200);
    m.pending(&b).await[0]["envelope"]["from"] == json!(a.address)
}
defect_test!(
    short_from_in_envelope,
    Defect::ShortFromInEnvelope,
    from_is_full_address
);

async fn spoofed_from_refused_even_when_signed_as_sender(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let eve = m.register("acme", "eve").await;
    let mut body = m.body(&a, &b.address, "spoof", &payload("x"));
    body["from"] = json!(eve.address);
    m.route(&a, &body).await.status == 403
}
defect_test!(
    from_overwritten,
    Defect::FromOverwritten,
    spoofed_from_refused_even_when_signed_as_sender
);

async fn rotation_proof_over_pem_text(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let new = new_key();
    let pem = new.public_key().to_spki_pem();
    let proof = a.key.sign(pem.as_bytes()).to_base64();
    let r = m
        .post(
            "/auth/rotate-keys",
            Some(&a.api_key),
            &json!({"new_public_key": pem, "key_algorithm": "Ed25519", "proof": proof}),
        )
        .await;
    r.status == 200
}
defect_test!(
    rotate_proof_hex_text,
    Defect::RotateProofHexText,
    rotation_proof_over_pem_text
);

async fn external_content_wrapped(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let b = m.register("other", "bob").await;
    assert_eq!(m.send(&a, &b, "x").await.status, 200);
    m.pending(&b).await[0]["payload"]["message"]
        .as_str()
        .is_some_and(|t| t.contains("<external-content"))
}
defect_test!(
    wrapped_marker_only,
    Defect::WrappedMarkerOnly,
    external_content_wrapped
);

// --- agent capabilities, advertised tokens ------------------------------------------------

async fn custom_capabilities_kept(m: &Mock) -> bool {
    let declared = json!(["attachments", "acme:review"]);
    let r = m
        .post(
            "/register",
            None,
            &json!({"tenant": "acme", "name": "carol",
                    "public_key": new_key().public_key().to_spki_pem(),
                    "key_algorithm": "Ed25519", "capabilities": declared}),
        )
        .await;
    let key = r.body["api_key"].as_str().unwrap_or_default().to_string();
    let at_registration = m.get("/agents/me", Some(&key)).await.body["capabilities"] == declared;
    let updated = json!(["acme:triage"]);
    m.patch("/agents/me", Some(&key), &json!({"capabilities": updated}))
        .await;
    let after_update = m.get("/agents/me", Some(&key)).await.body["capabilities"] == updated;
    r.status == 201 && at_registration && after_update
}
defect_test!(
    capabilities_drop_custom,
    Defect::CapabilitiesDropCustom,
    custom_capabilities_kept
);

async fn advertised_wait_accepted(m: &Mock) -> bool {
    let info = m.get("/info", None).await;
    let advertised = info.body["capabilities"]
        .as_array()
        .is_some_and(|c| c.iter().any(|t| t == "notify:longpoll"));
    let (_a, b) = pair(m).await;
    let r = m.get("/messages/pending?wait=1", Some(&b.api_key)).await;
    advertised && r.status == 200
}
defect_test!(
    longpoll_wait_refused,
    Defect::LongpollWaitRefused,
    advertised_wait_accepted
);

// --- communication policy ------------------------------------------------------------------

/// Register `name` in `acme` with a restricted policy allowing `patterns`.
async fn restricted(m: &Mock, name: &str, patterns: &[&str]) -> Agent {
    let policy =
        json!({"communication_policy": {"mode": "restricted", "allowed_recipients": patterns}});
    m.register_extra("acme", name, new_key(), &policy).await
}

async fn policy_enforced(m: &Mock) -> bool {
    let (b, c) = pair(m).await;
    let a = restricted(m, "carol", &[&b.address]).await;
    let to_b = m.send(&a, &b, "allowed").await;
    let to_c = m.send(&a, &c, "not allowed").await;
    (200..300).contains(&to_b.status) && to_c.status == 403 && to_c.err() == "recipient_not_allowed"
}
defect_test!(
    recipient_policy_unenforced,
    Defect::RecipientPolicyUnenforced,
    policy_enforced
);

async fn domain_pattern_is_exact(m: &Mock) -> bool {
    let b = m.register("acme", "bob").await;
    let c = m.register("other", "carol").await;
    let domain = b
        .address
        .split_once('@')
        .map(|(_, d)| d)
        .unwrap_or_default()
        .to_string();
    let a = restricted(m, "dave", &[&format!("*@{domain}")]).await;
    (200..300).contains(&m.send(&a, &b, "same tenant").await.status)
        && m.send(&a, &c, "other tenant").await.status == 403
}
defect_test!(
    policy_domain_any_tenant,
    Defect::PolicyDomainAnyTenant,
    domain_pattern_is_exact
);

// --- afp attachments -----------------------------------------------------------------------

fn afp() -> Value {
    json!({"storage": "afp", "filename": "data.csv", "content_type": "text/csv",
           "size": 31_457_280u64,
           "digest": "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
           "ref": "afp://shared/data/data.csv"})
}

async fn route_afp(m: &Mock) -> (Resp, Vec<Value>) {
    let (a, b) = pair(m).await;
    let p = json!({"type": "notification", "message": "x", "attachments": [afp()]});
    let body = m.body(&a, &b.address, "afp", &p);
    let r = m.route(&a, &body).await;
    (r, m.pending(&b).await)
}

async fn afp_accepted_unknown(m: &Mock) -> bool {
    let (r, _) = route_afp(m).await;
    (200..300).contains(&r.status)
}
defect_test!(
    afp_provider_checked,
    Defect::AfpProviderChecked,
    afp_accepted_unknown
);

async fn afp_delivered_as_sent(m: &Mock) -> bool {
    let (r, got) = route_afp(m).await;
    (200..300).contains(&r.status)
        && got.len() == 1
        && got[0]["envelope"].is_object()
        && got[0]["payload"]["attachments"][0] == afp()
}
defect_test!(
    afp_attachment_rewritten,
    Defect::AfpAttachmentRewritten,
    afp_delivered_as_sent
);
