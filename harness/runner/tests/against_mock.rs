//! The runner's context against the real built-in mock provider: registration, signed
//! routing with the run's payload profile, pending pickup, ack, WebSocket auth and push,
//! webhooks to the loopback receiver, and cleanup leaving no leftovers.

use amp_runner::{
    BoxFuture, Case, CaseResult, Ctx, Level, Need, Outcome, RunOptions, Verdict, expect, run,
};
use serde_json::{Value, json};
use std::time::Duration;

fn roundtrip(ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        let a = ctx.agent().await?;
        let b = ctx.agent().await?;
        let mut ws = ctx.ws(&b).await?;
        let body = ctx
            .message(&a, &b.address)
            .subject("roundtrip")
            .payload(json!({"type": "notification", "message": "ü ∑ 1"}))
            .signed()?;
        let r = ctx.route(&a, &body).await?;
        expect::success(&r)?;
        let ev = ws.recv_type("message.new", Duration::from_secs(3)).await;
        expect::that(
            ev.frame_type() == Some("message.new"),
            format!("no message.new push: {ev:?}"),
        )?;
        ws.close().await;
        let m = ctx
            .wait_pending(
                &b,
                |m| m.pointer("/envelope/subject").and_then(Value::as_str) == Some("roundtrip"),
                Duration::from_secs(3),
            )
            .await?;
        let Some(m) = m else {
            return amp_runner::fail("message never showed up in pending");
        };
        let id = m["id"].as_str().unwrap_or_default().to_string();
        let r = ctx.ack(&b, &id).await?;
        expect::success(&r)?;
        Ok(Outcome::Pass)
    })
}

fn tampered(ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        let a = ctx.agent().await?;
        let b = ctx.agent().await?;
        let mut body = ctx.message(&a, &b.address).subject("orig").signed()?;
        body["subject"] = json!("changed");
        let r = ctx.route(&a, &body).await?;
        expect::error(&r, 403, "signature_invalid")?;
        expect::error_format(&r)?;
        Ok(Outcome::Pass)
    })
}

fn webhook(ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        let rx = ctx.receiver().await?;
        let t = ctx.tenant();
        let url = rx.url();
        let a = ctx.agent().await?;
        let b =
            ctx.agent_with(&t, |body| {
                body["delivery"] =
                    json!({"webhook_url": url, "webhook_secret": "whsec_0123456789abcdef"})
            })
            .await?;
        let body = ctx.message(&a, &b.address).signed()?;
        expect::success(&ctx.route(&a, &body).await?)?;
        let Some(req) = rx.wait_for(1, Duration::from_secs(3)).await else {
            return amp_runner::fail("no webhook delivery");
        };
        expect::that(req.header("x-amp-signature").is_some(), "unsigned webhook")?;
        Ok(Outcome::Pass)
    })
}

#[tokio::test]
async fn suite_style_cases_pass_against_the_clean_mock() {
    let mock = amp_mock::spawn(amp_mock::MockConfig {
        allow_loopback_webhooks: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let cases = [
        Case {
            id: "mock.roundtrip",
            title: "route, push, pickup, ack",
            clauses: &["RTE-002", "RTE-015", "RTE-017", "WS-007"],
            level: Level::Must,
            module: module_path!(),
            needs: &[],
            expectation: "a signed message is pushed and queued, and can be acked",
            run: roundtrip,
        },
        Case {
            id: "mock.tampered",
            title: "tampered subject refused",
            clauses: &["SIG-016"],
            level: Level::Must,
            module: module_path!(),
            needs: &[],
            expectation: "403 signature_invalid",
            run: tampered,
        },
        Case {
            id: "mock.webhook",
            title: "webhook delivered",
            clauses: &["WH-001"],
            level: Level::Must,
            module: module_path!(),
            needs: &[Need::LoopbackWebhooks],
            expectation: "a webhook arrives",
            run: webhook,
        },
    ];
    let mut o = RunOptions::for_target(&mock.base_url()).unwrap();
    o.loopback_webhooks = true;
    o.seed = Some(7);
    let report = run(&cases, o).await.unwrap();
    for c in &report.cases {
        assert_eq!(
            c.verdict,
            Verdict::Pass,
            "{}: {:?}\n{}",
            c.id,
            c.reason,
            amp_client::render_exchanges(&c.transcript, 2048, "  ")
        );
    }
    assert!(report.leftovers.is_empty(), "{:?}", report.leftovers);
    assert_eq!(
        report.target.provider.as_deref().map(|p| !p.is_empty()),
        Some(true)
    );
    let json = report.to_json();
    assert!(!json.contains("whsec_0123456789abcdef"));
    assert!(!json.contains("PRIVATE KEY"));
}

/// Keys a case saw, for checks after the run.
static KEYS: std::sync::Mutex<Vec<(&'static str, String)>> = std::sync::Mutex::new(Vec::new());

fn keep(case: &'static str, key: &amp_runner::Secret) {
    if let Ok(mut k) = KEYS.lock() {
        k.push((case, key.expose().to_string()));
    }
}

/// Revokes its agent's only key and does not tell the runner (a sloppy case).
fn revoked_silently(ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        let a = ctx.agent().await?;
        expect::success(&ctx.delete("/auth/revoke-key", Some(&a)).await?)?;
        Ok(Outcome::Pass)
    })
}

/// Revokes its agent's only key and says so.
fn revoked_declared(ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        let a = ctx.agent().await?;
        expect::success(&ctx.delete("/auth/revoke-key", Some(&a)).await?)?;
        ctx.forget_agent(&a);
        Ok(Outcome::Pass)
    })
}

/// Rotates its agent's key without telling the runner: the new key is learnt from the answer.
fn rotated_silently(ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        let a = ctx.agent().await?;
        let r = ctx
            .post_json("/auth/rotate-key", &json!({}), Some(&a))
            .await?;
        expect::success(&r)?;
        let new = expect::json_str(&r, "/api_key")?.to_string();
        keep("rotated", &amp_runner::Secret::new(new));
        Ok(Outcome::Pass)
    })
}

#[tokio::test]
async fn agents_with_rotated_or_revoked_keys_are_cleaned_or_listed() {
    let mock = amp_mock::spawn(amp_mock::MockConfig::default())
        .await
        .unwrap();
    let mk = |id: &'static str, run: amp_runner::CaseFn| Case {
        id,
        title: "key lifecycle",
        clauses: &["REG-020"],
        level: Level::Must,
        module: module_path!(),
        needs: &[],
        expectation: "cleanup copes",
        run,
    };
    let cases = [
        mk("keys.revoked.declared", revoked_declared),
        mk("keys.revoked.silently", revoked_silently),
        mk("keys.rotated.silently", rotated_silently),
    ];
    let mut o = RunOptions::for_target(&mock.base_url()).unwrap();
    o.seed = Some(11);
    let report = run(&cases, o).await.unwrap();
    for c in &report.cases {
        assert_eq!(c.verdict, Verdict::Pass, "{}: {:?}", c.id, c.reason);
    }
    // Both revoked agents are listed (no key of theirs works any more); the one whose key was
    // rotated was deregistered (its new key no longer authenticates).
    let listed: Vec<&str> = report.leftovers.iter().map(|l| l.case.as_str()).collect();
    assert_eq!(
        listed
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>(),
        ["keys.revoked.declared", "keys.revoked.silently"].into()
    );
    for l in &report.leftovers {
        assert!(l.reason.contains("HTTP 401"), "{}", l.reason);
        assert!(l.address.contains('@'), "{}", l.address);
    }
    let declared = report
        .leftovers
        .iter()
        .find(|l| l.case == "keys.revoked.declared")
        .unwrap();
    assert!(
        declared.reason.contains("revoked its key"),
        "{}",
        declared.reason
    );
    let new_key = KEYS
        .lock()
        .unwrap()
        .iter()
        .find(|k| k.0 == "rotated")
        .unwrap()
        .1
        .clone();
    let http = amp_client::Http::new(amp_client::HttpConfig::default()).unwrap();
    let me = http
        .send(
            &amp_client::Req::get(format!("{}/agents/me", mock.base_url()))
                .bearer(&amp_runner::Secret::new(new_key.clone())),
        )
        .await
        .unwrap();
    assert!(
        !me.is_success(),
        "the rotated agent was not deregistered: {}",
        me.status
    );
    assert!(
        !report.to_json().contains(&new_key),
        "the learnt key is redacted"
    );
    mock.shutdown().await;
}

/// Registers its name a second time (with its own key): on a provider that replaces the
/// agent and issues a new API key, the first key no longer works.
fn reregistered(ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        let a = ctx.agent().await?;
        let body = json!({"tenant": a.tenant, "name": a.name, "public_key": a.public_key_pem(),
                          "key_algorithm": "Ed25519"});
        let r = ctx.register_raw(&body).await?;
        expect::success(&r)?;
        Ok(Outcome::Pass)
    })
}

#[tokio::test]
async fn a_reregistered_agent_is_cleaned_once_with_its_newest_key() {
    let defects = amp_mock::DefectSet::from_names(&["name-collision-overwrites"]).unwrap();
    let mock = amp_mock::spawn(amp_mock::MockConfig {
        defects,
        ..Default::default()
    })
    .await
    .unwrap();
    let case = Case {
        id: "register.again",
        title: "re-registration",
        clauses: &["REG-007"],
        level: Level::Must,
        module: module_path!(),
        needs: &[],
        expectation: "cleanup copes",
        run: reregistered,
    };
    let mut o = RunOptions::for_target(&mock.base_url()).unwrap();
    o.seed = Some(12);
    let report = run(&[case], o).await.unwrap();
    assert_eq!(
        report.cases[0].verdict,
        Verdict::Pass,
        "{:?}",
        report.cases[0].reason
    );
    // One agent behind two keys: deleted with the newer one, not reported as a leftover.
    assert!(report.leftovers.is_empty(), "{:?}", report.leftovers);
    mock.shutdown().await;
}
