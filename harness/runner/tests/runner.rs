//! The runner end to end against a small fake provider on 127.0.0.1, with synthetic cases
//! covering every verdict path, cleanup/leftovers, filters, hostile answers and redaction.

mod common;

use common::{bearer, serve};

use amp_runner::{
    BoxFuture, Case, CaseResult, Ctx, ExpectedFailures, Failure, Level, Need, Outcome, RunError,
    RunOptions, Section, Verdict, exit_code, expect, render_terminal, run, to_junit, write_traces,
};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use bytes::Bytes;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Fake {
    keys: Mutex<HashMap<String, (String, bool)>>, // api key -> (address, sticky)
    issued: Mutex<Vec<String>>,
    deleted: Mutex<HashSet<String>>,
    n: AtomicUsize,
}

async fn register(State(st): State<Arc<Fake>>, body: Bytes) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            "{\"error\":\"invalid_request\",\"message\":\"json\"}",
        )
            .into_response();
    };
    let name = v["name"].as_str().unwrap_or("x").to_string();
    let tenant = v["tenant"].as_str().unwrap_or("t").to_string();
    assert!(
        v["public_key"]
            .as_str()
            .unwrap_or("")
            .contains("BEGIN PUBLIC KEY")
    );
    let n = st.n.fetch_add(1, Ordering::SeqCst);
    let key = format!("amp_live_sk_fake{n:04}SECRETVALUE");
    let address = format!("{name}@{tenant}.fake.test");
    let sticky = v.pointer("/metadata/sticky").is_some();
    st.keys
        .lock()
        .unwrap()
        .insert(key.clone(), (address.clone(), sticky));
    st.issued.lock().unwrap().push(key.clone());
    (
        StatusCode::CREATED,
        axum::Json(
            json!({"address": address, "api_key": key, "agent_id": format!("agt_{n}"),
            "tenant": tenant, "fingerprint": "SHA256:abc"}),
        ),
    )
        .into_response()
}

async fn deregister(State(st): State<Arc<Fake>>, h: HeaderMap) -> Response {
    let k = bearer(&h);
    let Some((addr, sticky)) = st.keys.lock().unwrap().get(&k).cloned() else {
        return (
            StatusCode::UNAUTHORIZED,
            "{\"error\":\"unauthorized\",\"message\":\"x\"}",
        )
            .into_response();
    };
    if sticky {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "{\"error\":\"internal\",\"message\":\"nope\"}",
        )
            .into_response();
    }
    st.deleted.lock().unwrap().insert(addr.clone());
    axum::Json(json!({"deregistered": true, "address": addr})).into_response()
}

fn fake(info: Value) -> (Router, Arc<Fake>) {
    let st = Arc::new(Fake::default());
    let r = Router::new()
        .route("/v1/info", get(move || async move { axum::Json(info) }))
        .route("/v1/register", post(register))
        .route("/v1/agents/me", delete(deregister))
        .route(
            "/v1/echo",
            get(|h: HeaderMap| async move {
                // A target that reflects the caller's key back in a non-secret field.
                axum::Json(json!({"leak": bearer(&h), "auth": h.get("authorization").and_then(|v| v.to_str().ok())}))
            }),
        )
        .route(
            "/v1/route",
            post(|body: Bytes| async move {
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                if v["signature"].as_str().is_some_and(|s| s.len() > 40) {
                    (StatusCode::ACCEPTED, axum::Json(json!({"id": "msg_1", "status": "queued"})))
                } else {
                    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(json!({"error": "signature_missing", "message": "x"})))
                }
            }),
        )
        .route(
            "/v1/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(20)).await;
                "late"
            }),
        )
        .route(
            "/v1/huge",
            get(|| async {
                let chunk = Bytes::from(vec![b'z'; 64 * 1024]);
                let s = futures_util::stream::iter((0..800).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
                Response::new(Body::from_stream(s))
            }),
        )
        .with_state(st.clone());
    (r, st)
}

fn good_info() -> Value {
    json!({"provider": "fake.test", "version": "amp/0.1", "capabilities": ["notify:v1"],
           "rate_limits": {"api_requests_per_minute": 60000}})
}

// ---- synthetic cases ---------------------------------------------------------------------

static SEEN_SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn c_pass(ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        let r = ctx.get("/info", None).await?;
        expect::success(&r)?;
        expect::json_str(&r, "/provider")?;
        assert_eq!(ctx.info()?["provider"], "fake.test");
        Ok(Outcome::Pass)
    })
}
fn c_fail(_ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move { amp_runner::fail("target did the wrong thing") })
}
fn c_error(ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        ctx.get("/slow", None).await?;
        Ok(Outcome::Pass)
    })
}
fn c_hang(_ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(Outcome::Pass)
    })
}
#[allow(clippy::panic)]
fn c_panic(_ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move { panic!("synthetic bug") })
}
fn c_warn(_ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        Ok(Outcome::Warn {
            reason: "chose the 07 reading".into(),
            contradiction: Some("C-11"),
        })
    })
}
fn c_huge(ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        let r = ctx.get("/huge", None).await?;
        expect::that(r.truncated, "huge body should be truncated")?;
        Ok(Outcome::Pass)
    })
}
fn c_agent(ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        let a = ctx.agent().await?;
        let b = ctx.agent().await?;
        SEEN_SECRETS
            .lock()
            .unwrap()
            .push(a.api_key.expose().to_string());
        SEEN_SECRETS.lock().unwrap().push(a.key.to_pkcs8_pem());
        assert!(a.address.starts_with(&format!("ampc-{}-", ctx.run_id())));
        assert!(!format!("{a:?}").contains(a.api_key.expose()));
        let r = ctx.get("/echo", Some(&a)).await?;
        assert_eq!(r.json().unwrap()["leak"], a.api_key.expose());
        let body = ctx.message(&a, &b.address).subject("hi").signed()?;
        let r = ctx.route(&a, &body).await?;
        expect::status(&r, 202)?;
        let unsigned = ctx.message(&a, &b.address).unsigned();
        let r = ctx.route(&a, &unsigned).await?;
        expect::error(&r, 422, "signature_missing")?;
        // A sloppy case that puts the key into its reason: must still be redacted.
        Err(Failure::Fail(format!(
            "forced failure mentioning {}",
            a.api_key.expose()
        )))
    })
}
fn c_sticky(ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        let t = ctx.tenant();
        ctx.agent_with(&t, |b| b["metadata"] = json!({"sticky": true}))
            .await?;
        Ok(Outcome::Pass)
    })
}
fn c_dereg(ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        let a = ctx.agent().await?;
        let r = ctx.deregister(&a).await?;
        expect::success(&r)?;
        Ok(Outcome::Pass)
    })
}
fn c_pass_plain(_ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move { Ok(Outcome::Pass) })
}

const fn mk(
    id: &'static str,
    level: Level,
    needs: &'static [Need],
    clauses: &'static [&'static str],
    run: amp_runner::CaseFn,
) -> Case {
    Case {
        id,
        title: id,
        clauses,
        level,
        needs,
        expectation: "a correct provider does the right thing",
        module: module_path!(),
        run,
    }
}

fn cases() -> Vec<Case> {
    vec![
        // The fake lists no pending messages: the delivery probe fails and this case is
        // blocked without running (c_panic would panic).
        mk(
            "relay.blocked",
            Level::Must,
            &[Need::Prereq(amp_runner::Prereq::DeliveryObservable)],
            &["RTE-015"],
            c_panic,
        ),
        mk("disc.pass", Level::Must, &[], &["API-004"], c_pass),
        mk("disc.fail-must", Level::Must, &[], &["API-003"], c_fail),
        mk("disc.fail-should", Level::Should, &[], &["API-005"], c_fail),
        mk("disc.fail-may", Level::May, &[], &["REG-009"], c_fail),
        mk("err.transport", Level::Must, &[], &["API-007"], c_error),
        mk("err.hang", Level::Must, &[], &["API-008"], c_hang),
        mk("err.panic", Level::Must, &[], &["API-002"], c_panic),
        mk("err.huge", Level::Must, &[], &["API-009"], c_huge),
        mk(
            "skip.cap",
            Level::Must,
            &[Need::Capability("attachments")],
            &["UPL-001"],
            c_pass_plain,
        ),
        mk(
            "skip.hooks",
            Level::Must,
            &[Need::LoopbackWebhooks],
            &["WH-001"],
            c_pass_plain,
        ),
        mk(
            "skip.peer",
            Level::Must,
            &[Need::FederationPeer],
            &["FED-001"],
            c_pass_plain,
        ),
        mk(
            "route.agent",
            Level::Must,
            &[Need::Capability("notify:v1")],
            &["SIG-015", "ZZZ-999"],
            c_agent,
        ),
        mk("reg.sticky", Level::Must, &[], &["REG-002"], c_sticky),
        mk("reg.dereg", Level::Must, &[], &["REG-023"], c_dereg),
        mk("sec.warn", Level::Must, &[], &["SIG-013"], c_warn),
        mk("x.xfail", Level::Must, &[], &["REG-019"], c_fail),
        mk("x.xpass", Level::Must, &[], &["REG-020"], c_pass_plain),
    ]
}

fn opts(base: &str) -> RunOptions {
    let mut o = RunOptions::for_target(base).unwrap();
    o.case_timeout = Duration::from_millis(1500);
    o.request_timeout = Duration::from_millis(400);
    o.seed = Some(42);
    o.expected_failures = ExpectedFailures::parse("x.xfail\nx.xpass # stale\nzz.unknown\n");
    o
}

#[tokio::test]
async fn full_run_verdicts_cleanup_outputs_and_redaction() {
    let (app, st) = fake(good_info());
    let base = serve(app).await;
    let report = run(&cases(), opts(&base)).await.unwrap();
    let v = |id: &str| report.case(id).unwrap_or_else(|| panic!("{id}")).verdict;
    assert_eq!(v("disc.pass"), Verdict::Pass);
    assert_eq!(v("disc.fail-must"), Verdict::Fail);
    assert_eq!(v("disc.fail-should"), Verdict::Warn);
    assert_eq!(v("disc.fail-may"), Verdict::Info);
    assert_eq!(v("err.transport"), Verdict::Error);
    assert_eq!(v("err.hang"), Verdict::Error);
    assert!(
        report
            .case("err.hang")
            .unwrap()
            .reason
            .as_ref()
            .unwrap()
            .contains("case timeout")
    );
    assert_eq!(v("err.panic"), Verdict::Error);
    assert!(
        report
            .case("err.panic")
            .unwrap()
            .reason
            .as_ref()
            .unwrap()
            .contains("synthetic bug")
    );
    assert_eq!(v("err.huge"), Verdict::Pass);
    assert_eq!(v("skip.cap"), Verdict::Skip);
    assert!(
        report
            .case("skip.cap")
            .unwrap()
            .reason
            .as_ref()
            .unwrap()
            .contains("attachments")
    );
    assert_eq!(v("skip.hooks"), Verdict::Skip);
    assert_eq!(v("skip.peer"), Verdict::Skip);
    assert_eq!(v("route.agent"), Verdict::Fail);
    assert_eq!(v("reg.sticky"), Verdict::Pass);
    assert_eq!(v("reg.dereg"), Verdict::Pass);
    assert_eq!(v("sec.warn"), Verdict::Warn);
    assert_eq!(v("x.xfail"), Verdict::Xfail);
    assert_eq!(v("x.xpass"), Verdict::Xpass);

    // Deterministic order, metadata.
    let ids: Vec<&str> = report.cases.iter().map(|c| c.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    assert_eq!(report.run.seed, 42);
    assert_eq!(report.run.id.len(), 6);
    assert_eq!(report.target.provider.as_deref(), Some("fake.test"));
    assert_eq!(report.target.capabilities, vec!["notify:v1".to_string()]);
    assert_eq!(report.options.tenant, format!("ampc{}", report.run.id));

    // Summary and exit code.
    let s = &report.summary;
    assert_eq!(s.total, 18);
    // passed: pass(disc.pass, err.huge, reg.sticky, reg.dereg) + info(1) + xfail(1) + warn(2)
    assert_eq!((s.passed, s.failed, s.skipped, s.blocked), (8, 6, 3, 1));
    assert_eq!(v("relay.blocked"), Verdict::Blocked);
    assert_eq!(report.root_causes.len(), 1);
    assert_eq!(report.root_causes[0].cases, ["relay.blocked"]);
    assert_eq!(exit_code(&report, false), 1);
    // Sections come from the catalogue section of each case's first clause (API-004: 08-api).
    assert!(s.by_section[&Section::of_clause("API-004")][&Verdict::Pass] >= 1);
    let per_section: usize = s.by_section.values().flat_map(|v| v.values()).sum();
    assert_eq!(per_section, s.total);

    // Cleanup: every agent created (by the cases and by the prerequisite probes) is deleted,
    // dereg by its own case; sticky cannot be deleted -> the only leftover.
    assert_eq!(report.leftovers.len(), 1, "{:?}", report.leftovers);
    assert_eq!(report.leftovers[0].case, "reg.sticky");
    assert!(report.leftovers[0].reason.contains("500"));
    assert_eq!(
        st.deleted.lock().unwrap().len(),
        st.issued.lock().unwrap().len() - 1
    );

    // Warnings: unknown expected-failure id and the cited contradiction.
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.kind == "expected-failures" && w.message.contains("zz.unknown"))
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contradiction.as_deref() == Some("C-11"))
    );
    assert_eq!(
        report.case("sec.warn").unwrap().contradiction.as_deref(),
        Some("C-11")
    );

    // Coverage from the catalogue: skipped cases do not count, unknown ids are listed.
    assert!(report.coverage.catalogue);
    assert!(report.coverage.covered.contains(&"SIG-015".to_string()));
    assert!(!report.coverage.covered.contains(&"UPL-001".to_string()));
    assert!(report.coverage.unknown.contains(&"ZZZ-999".to_string()));
    assert!(report.spec_revision.is_some());

    // Outputs.
    let json = report.to_json();
    schema_keys_match(&json);
    let back = amp_runner::RunReport::from_json(&json).unwrap();
    assert_eq!(back, report);
    let junit = to_junit(&report, false).unwrap();
    assert!(junit.contains("<testsuite name=\"08-api\""));
    assert!(junit.contains("route.agent"));
    assert!(junit.contains("<failure"));
    assert!(junit.contains("<error"));
    assert!(junit.contains("<skipped"));
    assert!(junit.contains("WARN (SIG-013)"));
    let term = render_terminal(&report, false, false);
    assert!(
        term.lines()
            .any(|l| l == "8 passed, 6 failed, 3 skipped, 1 blocked"),
        "{term}"
    );
    assert!(term.contains("  ✗ route.agent  SIG-015,ZZZ-999"));
    assert!(
        term.contains("→ POST http://127.0.0.1"),
        "failure transcript shown"
    );
    let dir = std::env::temp_dir().join(format!(
        "amp-runner-traces-{}-{}",
        std::process::id(),
        report.run.id
    ));
    let paths = write_traces(&report, &dir).unwrap();
    assert_eq!(paths.len(), 18);
    let mut traces = String::new();
    for p in &paths {
        traces.push_str(&std::fs::read_to_string(p).unwrap());
    }
    let _ = std::fs::remove_dir_all(&dir);

    // Redaction: no API key the fake issued and no private key appears anywhere.
    let issued = st.issued.lock().unwrap().clone();
    // 4 by the cases, the rest by the prerequisite probes.
    assert!(issued.len() >= 4, "{}", issued.len());
    let secrets = SEEN_SECRETS.lock().unwrap().clone();
    assert!(secrets.iter().any(|s| s.contains("PRIVATE KEY")));
    for out in [&json, &junit, &term, &traces] {
        for k in &issued {
            assert!(!out.contains(k.as_str()), "api key leaked");
        }
        assert!(!out.contains("SECRETVALUE"), "api key fragment leaked");
        for s in &secrets {
            assert!(!out.contains(s.as_str()));
            for line in s
                .lines()
                .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
            {
                assert!(!out.contains(line), "private key material leaked");
            }
        }
        assert!(!out.contains("PRIVATE KEY"));
    }
    assert!(json.contains("[REDACTED:api_key]"));
    assert!(json.contains("Bearer [REDACTED]"));

    if std::env::var_os("AMP_WRITE_SAMPLE_REPORT").is_some() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../reports");
        std::fs::write(dir.join("sample-report.json"), &json).unwrap();
        // The Markdown and HTML samples are renderings of that same report (the documents
        // test checks that they stay so).
        let strict = report.options.strict;
        let md = amp_runner::to_markdown(&report, strict);
        std::fs::write(dir.join("sample-report.md"), md).unwrap();
        let html = amp_runner::to_html(&report, strict);
        std::fs::write(dir.join("sample-report.html"), html).unwrap();
    }
}

#[tokio::test]
async fn strict_and_filters() {
    let (app, _st) = fake(good_info());
    let base = serve(app).await;
    let mut o = opts(&base);
    o.expected_failures = ExpectedFailures::default();
    o.run_patterns = vec!["disc.*".into(), "sec.*".into()];
    o.skip_patterns = vec!["disc.fail-must".into()];
    o.level_filter = Some(Level::Should);
    let report = run(&cases(), o.clone()).await.unwrap();
    let ids: Vec<&str> = report.cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, vec!["disc.fail-should", "disc.pass", "sec.warn"]);
    assert_eq!(report.options.cases_filtered_out, 15);
    // Only warnings: exit 0, unless strict.
    assert_eq!(exit_code(&report, false), 0);
    assert_eq!(exit_code(&report, true), 1);
    let term = render_terminal(&report, true, false);
    assert!(
        term.lines().any(|l| l == "1 passed, 2 failed, 0 skipped"),
        "{term}"
    );
    let junit = to_junit(&report, true).unwrap();
    assert_eq!(junit.matches("<failure").count(), 2);
}

#[tokio::test]
async fn unreachable_and_config_errors() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let e = run(&cases(), opts(&format!("http://{addr}/v1")))
        .await
        .unwrap_err();
    assert!(matches!(e, RunError::Unreachable { .. }), "{e:?}");
    assert_eq!(e.exit_code(), 3);
    let (app, _st) = fake(good_info());
    let base = serve(app).await;
    let mut o = opts(&base);
    o.run_patterns = vec!["a[".into()];
    let e = run(&cases(), o).await.unwrap_err();
    assert_eq!(e.exit_code(), 2);
    let mut dup = cases();
    dup.push(dup[0]);
    let e = run(&dup, opts(&base)).await.unwrap_err();
    assert_eq!(e.exit_code(), 3);
    assert!(RunOptions::for_target("nope").is_err());
}

#[tokio::test]
async fn hostile_info_does_not_stop_the_run() {
    let app = Router::new().route(
        "/v1/info",
        get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "<html>{{{") }),
    );
    let base = serve(app).await;
    let mut o = opts(&base);
    o.run_patterns = vec!["disc.pass".into(), "route.agent".into()];
    let report = run(&cases(), o).await.unwrap();
    assert!(report.warnings.iter().any(|w| w.kind == "preflight"));
    // route.agent needs notify:v1, which a broken /info does not advertise.
    assert_eq!(report.case("route.agent").unwrap().verdict, Verdict::Skip);
    // disc.pass reads /info: the target answers 500, so it fails (expect::success).
    assert_eq!(report.case("disc.pass").unwrap().verdict, Verdict::Fail);
    assert!(report.target.provider.is_none());
}

#[test]
fn deterministic_names_under_seed() {
    // Same seed -> same run id (names derive from it).
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (app, _st) = fake(good_info());
        let base = serve(app).await;
        let mut o = opts(&base);
        o.run_patterns = vec!["disc.pass".into()];
        let a = run(&cases(), o.clone()).await.unwrap();
        let b = run(&cases(), o).await.unwrap();
        assert_eq!(a.run.id, b.run.id);
    });
}

/// The documented schema and the serialised report agree on the field names (required ==
/// present, no extra fields) at the top level and for cases.
fn schema_keys_match(json: &str) {
    let schema: Value =
        serde_json::from_str(include_str!("../../../reports/report.schema.json")).unwrap();
    let report: Value = serde_json::from_str(json).unwrap();
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let req = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect();
        k.sort();
        k
    };
    assert_eq!(keys(&report), req(&schema));
    // Documented and optional at the top level: `changes` (only with `--compare`).
    let mut documented = req(&schema);
    documented.push("changes".to_string());
    documented.sort();
    assert_eq!(keys(&schema["properties"]), documented);
    // Items: every required key present, every key documented (optional ones may be absent).
    for list in ["cases", "root_causes"] {
        let item = &schema["properties"][list]["items"];
        let documented = keys(&item["properties"]);
        for c in report[list].as_array().unwrap() {
            let k = keys(c);
            assert!(req(item).iter().all(|r| k.contains(r)), "{list}: {k:?}");
            assert!(k.iter().all(|x| documented.contains(x)), "{list}: {k:?}");
        }
    }
    for part in ["run", "target", "options", "summary", "coverage"] {
        assert_eq!(
            keys(&report[part]),
            req(&schema["properties"][part]),
            "{part}"
        );
    }
}

fn c_needs_time(ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        // Waits past the 1.5 s case timeout, but declares it first.
        ctx.need_time(Duration::from_millis(2500));
        tokio::time::sleep(Duration::from_millis(2200)).await;
        Ok(Outcome::Pass)
    })
}
fn c_overstays(ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        // Declares a short wait, then hangs: the extended deadline still ends it.
        ctx.need_time(Duration::from_millis(100));
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(Outcome::Pass)
    })
}

#[tokio::test]
async fn declared_waits_extend_the_case_deadline_and_are_reported() {
    let (app, _st) = fake(good_info());
    let base = serve(app).await;
    let mut o = opts(&base);
    o.expected_failures = ExpectedFailures::default();
    o.timing.ws_auth_timeout = Duration::from_millis(700);
    o.contradictions.from_handling = Some(amp_runner::FromHandling::Overwrite);
    let cases = [
        mk("slow.declared", Level::Must, &[], &["WH-006"], c_needs_time),
        mk("slow.overstays", Level::Must, &[], &["WH-006"], c_overstays),
    ];
    let started = std::time::Instant::now();
    let report = run(&cases, o).await.unwrap();
    assert_eq!(report.case("slow.declared").unwrap().verdict, Verdict::Pass);
    assert_eq!(
        report.case("slow.overstays").unwrap().verdict,
        Verdict::Error
    );
    // 0.1 s + the runner's reserve, far below the case's 60 s sleep.
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(report.options.timing_ms.ws_auth_timeout, 700);
    assert_eq!(report.options.timing_ms.webhook_first_retry, 30_000);
    assert_eq!(
        report
            .options
            .contradiction_profiles
            .get("from-handling")
            .map(String::as_str),
        Some("overwrite")
    );
    schema_keys_match(&serde_json::to_string(&report).unwrap());
}

// ---- run-scoped state ----------------------------------------------------------------------

#[derive(Default)]
struct Counter(AtomicUsize);

fn c_scoped(ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        let n = ctx.run_scoped::<Counter>().0.fetch_add(1, Ordering::SeqCst);
        Ok(Outcome::Info(format!("seen {n} before")))
    })
}

#[tokio::test]
async fn run_scoped_values_are_shared_within_one_run_only() {
    let (app, _st) = fake(good_info());
    let base = serve(app).await;
    let cases: Vec<Case> = ["scoped.a", "scoped.b", "scoped.c"]
        .into_iter()
        .map(|id| Case {
            id,
            title: "scoped",
            clauses: &["API-004"],
            level: Level::May,
            module: module_path!(),
            needs: &[],
            expectation: "shares one counter",
            run: c_scoped,
        })
        .collect();
    let mut opts = RunOptions::for_target(&base).unwrap();
    opts.progress = false;
    opts.concurrency = 1;
    let report = run(&cases, opts.clone()).await.unwrap();
    let notes: Vec<&str> = report
        .cases
        .iter()
        .filter_map(|c| c.reason.as_deref())
        .collect();
    assert_eq!(notes, ["seen 0 before", "seen 1 before", "seen 2 before"]);
    // A second run starts from a fresh value.
    let again = run(&cases[..1], opts).await.unwrap();
    assert_eq!(again.cases[0].reason.as_deref(), Some("seen 0 before"));
}
