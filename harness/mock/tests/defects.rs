//! Every defect owned by the REST/routing half observably changes behaviour: the probe sees the
//! strict behaviour on a clean mock and not on a mock with only that defect planted.

mod common;

use amp_core::signing::Priority;
use amp_mock::{Defect, MockConfig};
use base64::Engine;
use common::*;
use serde_json::json;

// --- signing -----------------------------------------------------------------------------------

async fn refuses_unsigned(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let mut body = m.body(&a, &b.address, "s", &payload("x"));
    body.as_object_mut().map(|o| o.remove("signature"));
    m.route(&a, &body).await.status == 422
}
defect_test!(accept_unsigned, Defect::AcceptUnsigned, refuses_unsigned);

async fn refuses_bad_signature(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let other = m.body(&a, &b.address, "other subject", &payload("x"));
    let mut body = m.body(&a, &b.address, "s", &payload("x"));
    body["signature"] = other["signature"].clone();
    m.route(&a, &body).await.status == 403
}
defect_test!(
    accept_bad_signature,
    Defect::AcceptBadSignature,
    refuses_bad_signature
);

async fn refuses_unpadded_b64url_signature(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let mut body = m.body(&a, &b.address, "s", &payload("x"));
    let std_text = body["signature"].as_str().unwrap_or_default().to_string();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&std_text)
        .expect("std b64");
    body["signature"] = json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw));
    m.route(&a, &body).await.status != 200
}
defect_test!(
    lax_signature_encoding,
    Defect::LaxSignatureEncoding,
    refuses_unpadded_b64url_signature
);

async fn refuses_priority_escalation(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let mut body = m.body(&a, &b.address, "s", &payload("x")); // signed as normal
    body["priority"] = json!("urgent");
    m.route(&a, &body).await.status == 403
}
defect_test!(
    unsigned_priority,
    Defect::UnsignedPriority,
    refuses_priority_escalation
);

async fn accepts_sorted_hash_of_unsorted_payload(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let p = json!({"type": "note", "message": "m", "context": {"z": 1, "a": 2}});
    m.route(&a, &m.body(&a, &b.address, "s", &p)).await.status == 200
}
defect_test!(
    payload_hash_insertion,
    Defect::PayloadHashInsertion,
    accepts_sorted_hash_of_unsorted_payload
);

async fn refuses_spoofed_from(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let c = m.register("acme", "carol").await;
    let p = payload("x");
    let sig = sign(
        &a.key,
        &c.address,
        &b.address,
        "s",
        Priority::Normal,
        None,
        &p,
    );
    let body =
        json!({"from": c.address, "to": b.address, "subject": "s", "payload": p, "signature": sig});
    let r = m.route(&a, &body).await;
    let delivered_spoofed = m
        .pending(&b)
        .await
        .iter()
        .any(|msg| msg["envelope"]["from"] == json!(c.address));
    r.status == 403 && !delivered_spoofed
}
defect_test!(
    honour_spoofed_from,
    Defect::HonourSpoofedFrom,
    refuses_spoofed_from
);

async fn overwrites_client_id(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let mut body = m.body(&a, &b.address, "s", &payload("x"));
    body["id"] = json!("msg_1_deadbeef");
    body["timestamp"] = json!("2001-01-01T00:00:00Z");
    let _ = m.route(&a, &body).await;
    let p = m.pending(&b).await;
    !p.is_empty()
        && p.iter().all(|msg| {
            msg["envelope"]["id"] != "msg_1_deadbeef"
                && msg["envelope"]["timestamp"] != "2001-01-01T00:00:00Z"
        })
}
defect_test!(keep_client_id, Defect::KeepClientId, overwrites_client_id);

// --- registration and keys ---------------------------------------------------------------------

fn identity_key_pem() -> String {
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    let mut raw = [0u8; 32];
    raw[0] = 1; // the identity point: a small-order key
    der.extend_from_slice(&raw);
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der)
    )
}

async fn refuses_small_order_key(m: &Mock) -> bool {
    let r = m
        .post("/register", None, &json!({"tenant": "t", "name": "weak", "public_key": identity_key_pem(), "key_algorithm": "Ed25519"}))
        .await;
    r.status == 400
}
defect_test!(
    accept_small_order_key,
    Defect::AcceptSmallOrderKey,
    refuses_small_order_key
);

async fn refuses_private_key_pem(m: &Mock) -> bool {
    let k = new_key();
    let r = m
        .post("/register", None, &json!({"tenant": "t", "name": "priv", "public_key": k.to_pkcs8_pem(), "key_algorithm": "Ed25519"}))
        .await;
    r.status == 400
}
defect_test!(
    accept_private_key_pem,
    Defect::AcceptPrivateKeyPem,
    refuses_private_key_pem
);

async fn keeps_existing_agent(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let r = m
        .post("/register", None, &json!({"tenant": "acme", "name": "alice", "public_key": new_key().public_key().to_spki_pem(), "key_algorithm": "Ed25519"}))
        .await;
    r.status == 409 && m.get("/agents/me", Some(&a.api_key)).await.status == 200
}
defect_test!(
    name_collision_overwrites,
    Defect::NameCollisionOverwrites,
    keeps_existing_agent
);

async fn me_hides_api_key(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let me = m.get("/agents/me", Some(&a.api_key)).await;
    me.status == 200 && !me.text.contains(&a.api_key) && me.body.get("api_key").is_none()
}
defect_test!(api_key_in_me, Defect::ApiKeyInMe, me_hides_api_key);

async fn revoked_key_dead(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    assert_eq!(
        m.delete("/auth/revoke-key", Some(&a.api_key)).await.status,
        200
    );
    m.get("/agents/me", Some(&a.api_key)).await.status == 401
}
defect_test!(revoked_key_works, Defect::RevokedKeyWorks, revoked_key_dead);

async fn old_api_key_has_grace(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    assert_eq!(
        m.post("/auth/rotate-key", Some(&a.api_key), &json!({}))
            .await
            .status,
        200
    );
    m.get("/agents/me", Some(&a.api_key)).await.status == 200
}
defect_test!(
    rotated_key_invalid_immediately,
    Defect::RotatedKeyInvalidImmediately,
    old_api_key_has_grace
);

async fn refuses_bogus_rotation_proof(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let n = new_key();
    let pem = n.public_key().to_spki_pem();
    let proof = n.sign(pem.as_bytes()).to_base64(); // signed by the NEW key: wrong
    let r = m
        .post(
            "/auth/rotate-keys",
            Some(&a.api_key),
            &json!({"new_public_key": pem, "key_algorithm": "Ed25519", "proof": proof}),
        )
        .await;
    r.status != 200
}
defect_test!(
    rotate_keys_no_proof_check,
    Defect::RotateKeysNoProofCheck,
    refuses_bogus_rotation_proof
);

async fn old_key_revoked_after_rotate(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let n = new_key();
    let pem = n.public_key().to_spki_pem();
    let r = m
        .post("/auth/rotate-keys", Some(&a.api_key), &json!({"new_public_key": pem, "key_algorithm": "Ed25519", "proof": a.key.sign(pem.as_bytes()).to_base64()}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = m
        .route(&a, &m.body(&a, &b.address, "s", &payload("x")))
        .await;
    r.status == 403 && r.err() == "key_revoked"
}
defect_test!(
    old_key_valid_after_rotate,
    Defect::OldKeyValidAfterRotate,
    old_key_revoked_after_rotate
);

async fn deregistered_key_dead(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    assert_eq!(m.delete("/agents/me", Some(&a.api_key)).await.status, 200);
    m.get("/agents/me", Some(&a.api_key)).await.status == 401
}
defect_test!(
    deregistered_key_works,
    Defect::DeregisteredKeyWorks,
    deregistered_key_dead
);

async fn pending_needs_auth(m: &Mock) -> bool {
    let _ = pair(m).await;
    m.get("/messages/pending", None).await.status == 401
}
defect_test!(no_auth_pending, Defect::NoAuthPending, pending_needs_auth);

// --- JSON, errors, limits ----------------------------------------------------------------------

async fn malformed_json_is_400(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let r = m
        .send_raw(
            reqwest::Method::POST,
            "/route",
            Some(&a.api_key),
            Some(b"{\"to\": ".to_vec()),
        )
        .await;
    r.status == 400 && r.err() == "invalid_request"
}
defect_test!(
    malformed_json_500,
    Defect::MalformedJson500,
    malformed_json_is_400
);

async fn errors_have_spec_shape(m: &Mock) -> bool {
    let r = m.get("/agents/me", None).await;
    r.status == 401 && r.is_spec_error()
}
defect_test!(
    wrong_error_format,
    Defect::WrongErrorFormat,
    errors_have_spec_shape
);

async fn refuses_duplicate_keys(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let p = json!({"type": "note", "message": "second"});
    let sig = sign(
        &a.key,
        &a.address,
        &b.address,
        "s",
        Priority::Normal,
        None,
        &p,
    );
    let raw = format!(
        r#"{{"to":"{}","subject":"s","payload":{{"type":"note","message":"first","message":"second"}},"signature":"{sig}"}}"#,
        b.address
    );
    let r = m
        .send_raw(
            reqwest::Method::POST,
            "/route",
            Some(&a.api_key),
            Some(raw.into_bytes()),
        )
        .await;
    r.status == 400
}
defect_test!(
    accept_duplicate_keys,
    Defect::AcceptDuplicateKeys,
    refuses_duplicate_keys
);

async fn caps_body(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let big = vec![b' '; 1_048_577];
    let r = m
        .send_raw(reqwest::Method::POST, "/route", Some(&a.api_key), Some(big))
        .await;
    r.status == 413
}
defect_test!(no_body_limit, Defect::NoBodyLimit, caps_body);

async fn refuses_long_subject(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let long = "s".repeat(257);
    m.route(&a, &m.body(&a, &b.address, &long, &payload("x")))
        .await
        .status
        == 400
}
defect_test!(
    subject_too_long,
    Defect::SubjectTooLong,
    refuses_long_subject
);

async fn refuses_unknown_priority(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let mut body = m.body(&a, &b.address, "s", &payload("x"));
    body["priority"] = json!("critical");
    m.route(&a, &body).await.status == 400
}
defect_test!(
    priority_unvalidated,
    Defect::PriorityUnvalidated,
    refuses_unknown_priority
);

async fn missing_type_is_missing_field(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let r = m
        .route(&a, &m.body(&a, &b.address, "s", &json!({"message": "m"})))
        .await;
    r.status == 400 && r.err() == "missing_field"
}
defect_test!(
    missing_field_wrong_code,
    Defect::MissingFieldWrongCode,
    missing_type_is_missing_field
);

async fn context_preserved(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let p = json!({"type": "note", "message": "m", "context": {"empty": {}, "deep": {"inner": {}}, "n": 1}});
    assert_eq!(
        m.route(&a, &m.body(&a, &b.address, "s", &p)).await.status,
        200
    );
    m.pending(&b)
        .await
        .first()
        .is_some_and(|msg| msg["payload"] == p)
}
defect_test!(context_modified, Defect::ContextModified, context_preserved);

// --- routing and relay -------------------------------------------------------------------------

async fn unknown_recipient_404(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let r = m
        .route(
            &a,
            &m.body(&a, "ghost@acme.amp-mock.test", "s", &payload("x")),
        )
        .await;
    r.status == 404
}
defect_test!(
    unknown_recipient_accepted,
    Defect::UnknownRecipientAccepted,
    unknown_recipient_404
);
defect_test!(
    unknown_recipient_400,
    Defect::UnknownRecipient400,
    unknown_recipient_404
);

async fn single_delivery(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    assert_eq!(m.send(&a, &b, "once").await.status, 200);
    m.pending(&b).await.len() == 1
}
defect_test!(
    duplicate_delivery,
    Defect::DuplicateDelivery,
    single_delivery
);

async fn idempotent_route(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let mut body = m.body(&a, &b.address, "s", &payload("x"));
    body["idempotency_key"] = json!("idk_same");
    let r1 = m.route(&a, &body).await;
    let r2 = m.route(&a, &body).await;
    r1.body["id"] == r2.body["id"] && m.pending(&b).await.len() == 1
}
defect_test!(
    idempotency_ignored,
    Defect::IdempotencyIgnored,
    idempotent_route
);

async fn fifo(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    for i in 0..3 {
        assert_eq!(m.send(&a, &b, &format!("m{i}")).await.status, 200);
    }
    let p = m.pending(&b).await;
    p.len() == 3 && p[0]["payload"]["message"] == "m0" && p[2]["payload"]["message"] == "m2"
}
defect_test!(lifo_queue, Defect::LifoQueue, fifo);

async fn ack_removes(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let id = m.send(&a, &b, "x").await.body["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let d = m
        .delete(&format!("/messages/pending/{id}"), Some(&b.api_key))
        .await;
    d.body["acknowledged"] == true && m.pending(&b).await.is_empty()
}
defect_test!(ack_keeps_message, Defect::AckKeepsMessage, ack_removes);

async fn ack_idempotent(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let id = m.send(&a, &b, "x").await.body["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let _ = m
        .delete(&format!("/messages/pending/{id}"), Some(&b.api_key))
        .await;
    let d = m
        .delete(&format!("/messages/pending/{id}"), Some(&b.api_key))
        .await;
    d.status == 200 && d.body["already_acked"] == true
}
defect_test!(ack_not_idempotent, Defect::AckNotIdempotent, ack_idempotent);

async fn read_is_not_ack(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let id = m.send(&a, &b, "x").await.body["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = m
        .post(
            &format!("/messages/{id}/read"),
            Some(&b.api_key),
            &json!({}),
        )
        .await;
    r.status == 200 && m.pending(&b).await.len() == 1
}
defect_test!(read_acks, Defect::ReadAcks, read_is_not_ack);

async fn foreign_ack_refused(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let id = m.send(&a, &b, "x").await.body["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let d = m
        .delete(&format!("/messages/pending/{id}"), Some(&a.api_key))
        .await;
    d.status == 404 && m.pending(&b).await.len() == 1
}
defect_test!(cross_agent_ack, Defect::CrossAgentAck, foreign_ack_refused);

async fn unknown_cursor_410(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    let _ = m.send(&a, &b, "x").await;
    m.get("/messages/pending?after=cur_424242", Some(&b.api_key))
        .await
        .status
        == 410
}
defect_test!(
    cursor_expired_not_410,
    Defect::CursorExpiredNot410,
    unknown_cursor_410
);

// --- rate limits, SSRF, trust, info ------------------------------------------------------------

async fn has_rate_headers(m: &Mock) -> bool {
    let r = m.get("/health", None).await;
    [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ]
    .iter()
    .all(|h| r.headers.contains_key(*h))
}
defect_test!(
    no_rate_limit_headers,
    Defect::NoRateLimitHeaders,
    has_rate_headers
);

async fn retry_after_on_429(m: &Mock) -> bool {
    let mut last = m.get("/health", None).await;
    for _ in 0..2 {
        last = m.get("/health", None).await;
    }
    assert_eq!(last.status, 429);
    last.headers.contains_key("retry-after")
}
defect_test!(
    no_retry_after,
    Defect::NoRetryAfter,
    retry_after_on_429,
    |c: MockConfig| MockConfig {
        rate_limits: low_rate(1),
        ..c
    }
);

async fn refuses_metadata_webhook(m: &Mock) -> bool {
    let r = m
        .post("/register", None, &json!({"tenant": "t", "name": "w", "public_key": new_key().public_key().to_spki_pem(), "key_algorithm": "Ed25519", "delivery": {"webhook_url": "https://169.254.169.254/latest/meta-data"}}))
        .await;
    r.status == 400
}
defect_test!(
    webhook_private_url_accepted,
    Defect::WebhookPrivateUrlAccepted,
    refuses_metadata_webhook,
    |c: MockConfig| MockConfig {
        allow_loopback_webhooks: false,
        ..c
    }
);

async fn cross_tenant_wrapped(m: &Mock) -> bool {
    let a = m.register("acme", "alice").await;
    let x = m.register("globex", "xavier").await;
    assert_eq!(m.send(&x, &a, "do things").await.status, 200);
    let p = m.pending(&a).await;
    p.first().is_some_and(|msg| {
        msg["payload"]["message"]
            .as_str()
            .is_some_and(|t| t.starts_with("<external-content"))
            || msg["security"]["wrapped"] == true
    })
}
defect_test!(
    no_external_wrapping,
    Defect::NoExternalWrapping,
    cross_tenant_wrapped
);

async fn same_tenant_unwrapped(m: &Mock) -> bool {
    let (a, b) = pair(m).await;
    assert_eq!(m.send(&a, &b, "plain").await.status, 200);
    m.pending(&b)
        .await
        .first()
        .is_some_and(|msg| msg["payload"]["message"] == "plain")
}
defect_test!(
    wrapping_same_tenant,
    Defect::WrappingSameTenant,
    same_tenant_unwrapped
);

async fn info_complete(m: &Mock) -> bool {
    let i = m.get("/info", None).await;
    i.body["capabilities"].is_array() && i.body["rate_limits"].is_object()
}
defect_test!(
    info_missing_fields,
    Defect::InfoMissingFields,
    info_complete
);

/// Every defect of the table has a probe in some test file of this crate (keeps the tests
/// honest when the table grows): a test file names `Defect::<Variant>` for it.
#[test]
fn every_defect_has_a_probe() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut src = String::new();
    for entry in std::fs::read_dir(&dir).expect("tests directory is readable") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            src.push_str(&std::fs::read_to_string(&path).expect("test file is readable"));
        }
    }
    for d in Defect::ALL {
        let probe = format!("Defect::{d:?}");
        let named = src.match_indices(&probe).any(|(at, _)| {
            !src[at + probe.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        });
        assert!(named, "no probe for {} in {}", d.name(), dir.display());
    }
}

// --- registration fingerprint (C-19) -----------------------------------------------------------

/// The registration answer's `fingerprint` is the key's fingerprint in the spec's default form
/// (raw 32 bytes, padded standard Base64); both the other reading (SPKI DER) and a form no
/// reading gives (hex) change it.
async fn default_fingerprint_form(m: &Mock) -> bool {
    let a = m.register("acme", "fp").await;
    let want = a
        .key
        .public_key()
        .fingerprint(amp_core::FingerprintProfile::default());
    a.reg["fingerprint"].as_str() == Some(want.as_str())
}
defect_test!(
    fingerprint_spki_der,
    Defect::FingerprintSpkiDer,
    default_fingerprint_form
);
defect_test!(
    fingerprint_hex,
    Defect::FingerprintHex,
    default_fingerprint_form
);
