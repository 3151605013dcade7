//! Agent Cards (spec 02 › Agent Card; CARD-001..CARD-006, C-17, C-18, C-19, C-55).
//!
//! Who signs the card served by `GET /agents/me/card` is contradictory (C-17): the provider is
//! told to generate it, but it must verify against the agent's own key. The cases therefore
//! first upload a card the agent signed itself (`PUT /agents/me/card`, the optional CARD-006
//! path) and judge what GET serves afterwards; only when the target has no upload endpoint do
//! they judge the provider-generated card, following C-17's handling exactly: verifies against
//! `card.public_key` → pass; only against `/info.public_key` → warn citing C-17; neither → fail.
//!
//! The upload cases check CARD-004 from the provider's side: a provider that accepts a card
//! must verify it first, so a tampered, expired or wrongly fingerprinted card must be refused
//! and must not be served afterwards. Each has a positive baseline (a good card is accepted)
//! and skips when the target has no upload endpoint.

use amp_case_attr::case;
use amp_core::card::{
    CardError, CardVerifyOptions, CardWarning, MAX_VALIDITY_MONTHS, REQUIRED_FIELDS, add_months,
    card_fields, card_signing_bytes, sign_card, verify_card,
};
use amp_core::signing::{FingerprintProfile, PublicKey, SecretKey, Strictness};
use amp_core::{Timestamp, verify};
use amp_runner::{Agent, Case, CaseResult, Ctx, Failure, Method, Outcome, Resp, fail, pass};
use serde_json::{Map, Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    EXPORT_OWN,
    EXPORT_AUTH,
    EXPORT_VALIDITY,
    UPLOAD_BAD_SIGNATURE,
    UPLOAD_EXPIRED,
    UPLOAD_FINGERPRINT,
    UPLOAD_NON_NFC,
];

const PATH: &str = "/agents/me/card";

/// Clock skew tolerated between the tester and the target (issued_at in the future, C-55).
const SKEW_SECS: i64 = 300;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The agent's own card, valid from a minute ago for 30 days.
fn own_fields(a: &Agent) -> Map<String, Value> {
    card_fields(
        &a.address,
        &a.key.public_key(),
        FingerprintProfile::default(),
        Timestamp::from_unix(now() - 60),
        Timestamp::from_unix(now() + 30 * 86_400),
    )
}

fn sign(fields: &Map<String, Value>, key: &SecretKey) -> Result<Value, Failure> {
    sign_card(fields, key).map_err(|e| Failure::Error(format!("cannot sign a test card: {e}")))
}

async fn put(ctx: &mut Ctx, a: &Agent, card: &Value) -> Result<Resp, Failure> {
    let body = serde_json::to_vec(card).map_err(|e| Failure::Error(e.to_string()))?;
    ctx.request(
        Method::PUT,
        PATH,
        &[("Content-Type", "application/json")],
        Some(body),
        Some(a),
    )
    .await
}

fn is_2xx(r: &Resp) -> bool {
    (200..300).contains(&r.status)
}

/// Uploads a good self-signed card. `Ok(None)` when the target has no upload endpoint (any
/// non-2xx answer to a valid card: CARD-006 is optional).
async fn baseline(ctx: &mut Ctx) -> Result<Option<(Agent, Value)>, Failure> {
    let a = ctx.agent().await?;
    let card = sign(&own_fields(&a), &a.key)?;
    let r = put(ctx, &a, &card).await?;
    Ok(is_2xx(&r).then_some((a, card)))
}

const NO_UPLOAD: &str = "the target does not accept PUT /agents/me/card (optional, CARD-006): \
                         nothing to check";

/// Judges a card served for `a` (CARD-001, CARD-004, CARD-005; C-17, C-19, C-55).
async fn judge(ctx: &mut Ctx, a: &Agent, r: &Resp) -> CaseResult {
    if r.status != 200 {
        return fail(format!(
            "GET /agents/me/card answered {}: the agent's signed card is required (CARD-005)",
            r.status
        ));
    }
    let Some(card) = r.json().cloned() else {
        return fail("GET /agents/me/card did not answer a JSON object (CARD-001)");
    };
    for f in REQUIRED_FIELDS.iter().chain(&["signature"]) {
        if !card.get(*f).is_some_and(Value::is_string) {
            return fail(format!("card lacks the string field `{f}` (CARD-001)"));
        }
    }
    if !card["address"]
        .as_str()
        .is_some_and(|s| s.eq_ignore_ascii_case(&a.address))
    {
        return fail(format!(
            "card address is {}, not the agent's {} (CARD-005)",
            card["address"], a.address
        ));
    }
    let key = card["public_key"]
        .as_str()
        .and_then(|p| PublicKey::from_spki_pem(p).ok());
    if key != Some(a.key.public_key()) {
        return fail("card public_key is not the agent's registered key (CARD-005)");
    }
    let mut opts = CardVerifyOptions::at(Timestamp::from_unix(now()));
    opts.fingerprint = ctx.contradictions().fingerprint_form();
    match verify_card(&card, opts) {
        Ok(v) => {
            if let Some(w) = v.warnings.iter().find(|w| {
                matches!(w, CardWarning::FutureIssuedAt { seconds_ahead } if *seconds_ahead > SKEW_SECS)
            }) {
                return Ok(Outcome::Warn {
                    reason: format!("card verifies, but {w}"),
                    contradiction: Some("C-55"),
                });
            }
            pass()
        }
        Err(CardError::SignatureInvalid(e)) => {
            let provider = ctx
                .info()
                .ok()
                .and_then(|i| i["public_key"].as_str())
                .and_then(|p| PublicKey::from_spki_pem(p).ok());
            let bytes = card_signing_bytes(&card).map_err(|e| Failure::Fail(e.to_string()))?;
            let sig = card["signature"].as_str().unwrap_or_default();
            if provider.is_some_and(|pk| verify(&pk, &bytes, sig, Strictness::Strict).is_ok()) {
                Ok(Outcome::Warn {
                    reason: "provider-signed card (C-17): it verifies against /info.public_key, \
                             not against its own public_key, so offline verifiers will reject it"
                        .into(),
                    contradiction: Some("C-17"),
                })
            } else {
                fail(format!(
                    "the card signature verifies neither against the card's public_key ({e}) \
                     nor against the provider key from /info (CARD-004, C-17)"
                ))
            }
        }
        Err(CardError::FingerprintMismatch {
            other_profiles,
            profile,
        }) if !other_profiles.is_empty() => Ok(Outcome::Warn {
            reason: format!(
                "card fingerprint is not the {profile} form the run expects but the {} form \
                 (C-19; declare --fingerprint {} if the target means to use it)",
                other_profiles[0], other_profiles[0]
            ),
            contradiction: Some("C-19"),
        }),
        Err(e) => fail(format!("the served card fails verification: {e}")),
    }
}

#[case(
    id = "card.export.own",
    title = "GET /agents/me/card serves a card that verifies against the agent's own key",
    clauses = ["CARD-005", "CARD-001", "CARD-004"],
    level = Must,
    expect = "After the agent uploads a card it signed (or, without an upload endpoint, \
              as generated by the provider), GET /agents/me/card returns every CARD-001 \
              field for the agent's address and registered key, and the signature \
              verifies against the card's public_key (provider-signed only: warn, C-17).",
)]
async fn export_own(ctx: &mut Ctx) -> CaseResult {
    let a = match baseline(ctx).await? {
        Some((a, _)) => a,
        // No upload endpoint: judge the provider-generated card (C-17 handling).
        None => ctx.agent().await?,
    };
    let r = ctx.get(PATH, Some(&a)).await?;
    judge(ctx, &a, &r).await
}

#[case(
    id = "card.export.auth",
    title = "GET /agents/me/card requires the agent's API key",
    clauses = ["CARD-005", "API-002"],
    level = Must,
    expect = "With a Bearer API key the card endpoint answers 200; without one, 401.",
)]
async fn export_auth(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let ok = ctx.get(PATH, Some(&a)).await?;
    if ok.status != 200 {
        return fail(format!(
            "GET /agents/me/card with a valid API key answered {} (CARD-005)",
            ok.status
        ));
    }
    let r = ctx.get(PATH, None).await?;
    if r.status != 401 {
        return fail(format!(
            "GET /agents/me/card without Authorization answered {}, expected 401 (API-002)",
            r.status
        ));
    }
    pass()
}

#[case(
    id = "card.export.validity",
    title = "An exported card is valid now and for at most six months",
    clauses = ["CARD-002", "CARD-001"],
    level = Should,
    expect = "A freshly exported card has expires_at in the future and no more than six \
              calendar months after issued_at (issued_at in the future warns, C-55).",
)]
async fn export_validity(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let r = ctx.get(PATH, Some(&a)).await?;
    if r.status != 200 {
        return fail(format!(
            "GET /agents/me/card answered {} (CARD-005)",
            r.status
        ));
    }
    let t = |k: &str| {
        r.json()
            .and_then(|c| c[k].as_str())
            .and_then(|s| Timestamp::parse_rfc3339(s).ok())
    };
    let (Some(issued), Some(expires)) = (t("issued_at"), t("expires_at")) else {
        return fail("card issued_at/expires_at missing or not RFC 3339 (CARD-001)");
    };
    let cap = add_months(issued, MAX_VALIDITY_MONTHS);
    if expires > cap {
        return fail(format!(
            "card is valid for {} days, more than {MAX_VALIDITY_MONTHS} months after issued_at (CARD-002)",
            issued.seconds_until(expires) / 86_400
        ));
    }
    if expires.unix() <= now() {
        return fail("a freshly exported card is already expired (CARD-004)");
    }
    if issued.unix() > now() + SKEW_SECS {
        return Ok(Outcome::Warn {
            reason: format!(
                "card issued_at is {} s in the future",
                issued.unix() - now()
            ),
            contradiction: Some("C-55"),
        });
    }
    pass()
}

/// Shared body of the refusal cases: after a good upload, `bad` must be refused and GET must
/// keep serving something other than `bad`.
async fn refuses(
    ctx: &mut Ctx,
    what: &str,
    bad: fn(&Agent) -> Result<Value, Failure>,
) -> CaseResult {
    let Some((a, _good)) = baseline(ctx).await? else {
        return Ok(Outcome::Skip(NO_UPLOAD.into()));
    };
    let card = bad(&a)?;
    let r = put(ctx, &a, &card).await?;
    if is_2xx(&r) {
        return fail(format!(
            "PUT /agents/me/card accepted {what} ({}): a provider must verify a card before using it (CARD-004)",
            r.status
        ));
    }
    if !(400..500).contains(&r.status) {
        return fail(format!(
            "PUT /agents/me/card answered {} to {what}: expected a 4xx refusal",
            r.status
        ));
    }
    let g = ctx.get(PATH, Some(&a)).await?;
    if g.json() == Some(&card) {
        return fail(format!(
            "{what} was refused but GET /agents/me/card serves it anyway (CARD-004)"
        ));
    }
    pass()
}

fn tampered(a: &Agent) -> Result<Value, Failure> {
    let mut c = sign(&own_fields(a), &a.key)?;
    c["alias"] = json!("added after signing");
    Ok(c)
}

fn expired(a: &Agent) -> Result<Value, Failure> {
    let f = card_fields(
        &a.address,
        &a.key.public_key(),
        FingerprintProfile::default(),
        Timestamp::from_unix(now() - 7200),
        Timestamp::from_unix(now() - 3600),
    );
    sign(&f, &a.key)
}

fn wrong_fingerprint(a: &Agent) -> Result<Value, Failure> {
    let mut f = own_fields(a);
    // Another key's fingerprint: wrong under every C-19 reading, so a refusal is required.
    let other = SecretKey::from_seed([0x5a; 32]).public_key();
    f.insert(
        "fingerprint".into(),
        json!(other.fingerprint(FingerprintProfile::default())),
    );
    sign(&f, &a.key)
}

#[case(
    id = "card.upload.bad-signature",
    title = "A card altered after signing is refused",
    clauses = ["CARD-004", "CARD-003"],
    level = Must,
    expect = "After a good self-signed card is accepted, PUT /agents/me/card with a field \
              added after signing answers 4xx and GET does not serve it.",
)]
async fn upload_bad_signature(ctx: &mut Ctx) -> CaseResult {
    refuses(ctx, "a card altered after signing", tampered).await
}

#[case(
    id = "card.upload.expired",
    title = "An expired card is refused",
    clauses = ["CARD-004"],
    level = Must,
    expect = "PUT /agents/me/card with a correctly signed card whose expires_at has \
              passed answers 4xx and GET does not serve it.",
)]
async fn upload_expired(ctx: &mut Ctx) -> CaseResult {
    refuses(ctx, "an expired (correctly signed) card", expired).await
}

#[case(
    id = "card.upload.fingerprint",
    title = "A card whose fingerprint does not match its key is refused",
    clauses = ["CARD-004", "C-19"],
    level = Must,
    expect = "PUT /agents/me/card with a correctly signed card carrying another key's \
              fingerprint answers 4xx and GET does not serve it.",
)]
async fn upload_fingerprint(ctx: &mut Ctx) -> CaseResult {
    refuses(
        ctx,
        "a card whose fingerprint belongs to another key",
        wrong_fingerprint,
    )
    .await
}

#[case(
    id = "card.upload.non-nfc-alias",
    title = "Card canonicalisation is RFC 8785 without Unicode normalisation",
    clauses = ["CARD-003", "C-18"],
    level = Should,
    expect = "A correctly signed card whose alias is not in NFC is accepted and served \
              unchanged (refusal warns, C-18).",
)]
async fn upload_non_nfc(ctx: &mut Ctx) -> CaseResult {
    let Some((a, _)) = baseline(ctx).await? else {
        return Ok(Outcome::Skip(NO_UPLOAD.into()));
    };
    let mut f = own_fields(&a);
    // "Café" with a combining acute accent (U+0065 U+0301): not in NFC. RFC 8785 signs the
    // code points as given; a provider that NFC-normalises first sees a bad signature.
    f.insert("alias".into(), json!("Cafe\u{301} bot"));
    let card = sign(&f, &a.key)?;
    let r = put(ctx, &a, &card).await?;
    if !is_2xx(&r) {
        return Ok(Outcome::Warn {
            reason: format!(
                "a correctly signed card with a non-NFC alias was refused ({}) while a plain one \
                 was accepted: the provider likely normalises Unicode before JCS",
                r.status
            ),
            contradiction: Some("C-18"),
        });
    }
    let g = ctx.get(PATH, Some(&a)).await?;
    if g.json() != Some(&card) {
        return Ok(Outcome::Warn {
            reason: "the non-NFC card was accepted but GET serves a different card (altered \
                     alias or regenerated)"
                .into(),
            contradiction: Some("C-18"),
        });
    }
    pass()
}
