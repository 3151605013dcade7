//! Agent cards on the mock (`GET`/`PUT /agents/me/card`): the strict behaviour end to end, and
//! for every card defect a probe that sees the strict behaviour on a clean mock and not on a
//! mock with only that defect planted.

mod common;

use amp_core::card::{CardError, CardVerifyOptions, card_fields, sign_card, verify_card};
use amp_core::{FingerprintProfile, PublicKey, SecretKey, Timestamp};
use amp_mock::{Clock, Defect, MockConfig};
use common::*;
use serde_json::{Map, Value, json};

const NOW: i64 = 1_800_000_000;

fn cfg(defects: &[Defect]) -> MockConfig {
    MockConfig {
        clock: Clock::manual(NOW),
        ..config(defects)
    }
}

fn fields(a: &Agent, issued: i64, expires: i64) -> Map<String, Value> {
    card_fields(
        &a.address,
        &a.key.public_key(),
        FingerprintProfile::default(),
        Timestamp::from_unix(issued),
        Timestamp::from_unix(expires),
    )
}

fn own_card(a: &Agent) -> Value {
    sign_card(&fields(a, NOW - 60, NOW + 30 * 86_400), &a.key).expect("sign")
}

async fn put(m: &Mock, a: &Agent, card: &Value) -> Resp {
    m.send_raw(
        reqwest::Method::PUT,
        "/agents/me/card",
        Some(&a.api_key),
        Some(serde_json::to_vec(card).expect("json")),
    )
    .await
}

async fn get(m: &Mock, a: &Agent) -> Resp {
    m.get("/agents/me/card", Some(&a.api_key)).await
}

fn opts() -> CardVerifyOptions {
    CardVerifyOptions::at(Timestamp::from_unix(NOW))
}

#[tokio::test]
async fn generated_card_is_provider_signed_and_describes_the_agent() {
    let m = mock_with(cfg(&[])).await;
    let a = m.register("acme", "alice").await;
    assert_eq!(m.get("/agents/me/card", None).await.status, 401);
    let r = get(&m, &a).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["address"], json!(a.address));
    assert_eq!(
        PublicKey::from_spki_pem(r.body["public_key"].as_str().unwrap_or_default()).ok(),
        Some(a.key.public_key())
    );
    // C-17: the provider cannot sign as the agent, so the card fails CARD-004 against its own
    // key but its signature is the provider's.
    assert!(matches!(
        verify_card(&r.body, opts()),
        Err(CardError::SignatureInvalid(_))
    ));
    let bytes = amp_core::card_signing_bytes(&r.body).expect("bytes");
    let sig = r.body["signature"].as_str().unwrap_or_default();
    assert!(
        amp_core::verify(
            &m.handle.provider_public_key(),
            &bytes,
            sig,
            amp_core::Strictness::Strict
        )
        .is_ok()
    );
    let v = verify_card(
        &{
            let mut c = r.body.clone();
            c["signature"] = json!("");
            c
        },
        opts(),
    );
    assert!(v.is_err());
}

#[tokio::test]
async fn uploaded_card_is_served_back_and_verifies() {
    let m = mock_with(cfg(&[])).await;
    let a = m.register("acme", "alice").await;
    let card = own_card(&a);
    let r = put(&m, &a, &card).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let g = get(&m, &a).await;
    assert_eq!(g.body, card);
    let v = verify_card(&g.body, opts()).expect("verifies");
    assert!(v.warnings.is_empty());
}

#[tokio::test]
async fn foreign_cards_are_refused() {
    let m = mock_with(cfg(&[])).await;
    let a = m.register("acme", "alice").await;
    let b = m.register("acme", "bob").await;
    // Bob's valid card uploaded by Alice: wrong address.
    assert_eq!(put(&m, &a, &own_card(&b)).await.status, 403);
    // A self-consistent card for Alice's address but another key.
    let other = SecretKey::from_seed([9; 32]);
    let f = card_fields(
        &a.address,
        &other.public_key(),
        FingerprintProfile::default(),
        Timestamp::from_unix(NOW - 60),
        Timestamp::from_unix(NOW + 86_400),
    );
    let r = put(&m, &a, &sign_card(&f, &other).expect("sign")).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.err(), "invalid_field");
}

/// The probe for one defect: the clean mock refuses, the defective one stores.
async fn upload_refused(defects: &[Defect], bad: fn(&Agent) -> Value) -> bool {
    let m = mock_with(cfg(defects)).await;
    let a = m.register("acme", "alice").await;
    let card = bad(&a);
    let r = put(&m, &a, &card).await;
    let served = get(&m, &a).await.body == card;
    assert_eq!(r.status == 200, served, "stored iff accepted: {}", r.text);
    r.status == 400
}

fn tampered(a: &Agent) -> Value {
    let mut c = own_card(a);
    c["alias"] = json!("Mallory");
    c
}

fn expired(a: &Agent) -> Value {
    sign_card(&fields(a, NOW - 7200, NOW - 3600), &a.key).expect("sign")
}

fn wrong_fingerprint(a: &Agent) -> Value {
    let mut f = fields(a, NOW - 60, NOW + 86_400);
    let other = SecretKey::from_seed([9; 32]).public_key();
    f.insert(
        "fingerprint".into(),
        json!(other.fingerprint(FingerprintProfile::default())),
    );
    sign_card(&f, &a.key).expect("sign")
}

#[tokio::test]
async fn probe_card_unverified_upload() {
    assert!(upload_refused(&[], tampered).await);
    assert!(!upload_refused(&[Defect::CardUnverifiedUpload,], tampered).await);
    // The defect skips only the signature: an expired tampered card is still refused.
    assert!(
        upload_refused(&[Defect::CardUnverifiedUpload], |a| {
            let mut c = expired(a);
            c["alias"] = json!("x");
            c
        })
        .await
    );
}

#[tokio::test]
async fn probe_card_expired_accepted() {
    assert!(upload_refused(&[], expired).await);
    assert!(!upload_refused(&[Defect::CardExpiredAccepted,], expired).await);
    assert!(upload_refused(&[Defect::CardExpiredAccepted], tampered).await);
}

#[tokio::test]
async fn probe_card_fingerprint_mismatch() {
    assert!(upload_refused(&[], wrong_fingerprint).await);
    assert!(!upload_refused(&[Defect::CardFingerprintMismatch,], wrong_fingerprint).await);
    assert!(upload_refused(&[Defect::CardFingerprintMismatch], expired).await);
}

#[tokio::test]
async fn probe_card_long_expiry() {
    async fn validity(defects: &[Defect]) -> i64 {
        let m = mock_with(cfg(defects)).await;
        let a = m.register("acme", "alice").await;
        let c = get(&m, &a).await.body;
        let t = |k: &str| {
            Timestamp::parse_rfc3339(c[k].as_str().unwrap_or_default())
                .map(|t| t.unix())
                .unwrap_or(0)
        };
        t("expires_at") - t("issued_at")
    }
    let six_months = 181 * 86_400;
    assert!(validity(&[]).await <= six_months);
    assert!(validity(&[Defect::CardLongExpiry,]).await > six_months);
}

#[tokio::test]
async fn rotated_key_drops_the_stored_card() {
    let m = mock_with(cfg(&[])).await;
    let a = m.register("acme", "alice").await;
    let card = own_card(&a);
    assert_eq!(put(&m, &a, &card).await.status, 200);
    m.handle
        .clock()
        .advance(std::time::Duration::from_secs(31 * 86_400));
    // Expired stored card: the provider falls back to a freshly generated one.
    let g = get(&m, &a).await;
    assert_ne!(g.body, card);
    assert_eq!(g.body["address"], json!(a.address));
}
