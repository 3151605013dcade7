//! Prerequisites, `blocked` and root causes against a stub provider that answers routes with
//! `{"method":"local"}` (spec 05: delivered on the provider's own host) and never lists the
//! message as pending, as AI Maestro does; and a WebSocket endpoint that loses frames sent
//! right after the upgrade (or never answers). The outputs are pinned by insta snapshots.

mod common;

use common::bearer;

use amp_client::{Http, HttpConfig, Method, Req};
use amp_runner::{
    BoxFuture, Case, CaseResult, Ctx, Failure, Level, Need, Outcome, Prereq, RootCauseKind,
    RunOptions, RunReport, Verdict, exit_code, render_terminal, run, to_junit,
};
use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Frames within 400 ms of the upgrade are lost (the probe pauses 500 ms); later `auth`
    /// frames get `connected`.
    DropsEarlyFrames,
    /// Never answers anything.
    Silent,
    /// Authenticates at once and pushes `message.new` for every routed message to the
    /// recipient's sessions (the only channel on which deliveries can be seen).
    Pushes,
    /// WebSocket silent; every routed message is POSTed to the recipient's webhook.
    Webhooks,
}

struct Stub {
    ws: Mode,
    n: AtomicUsize,
    messages: AtomicUsize,
    /// API key -> address.
    keys: Mutex<HashMap<String, String>>,
    deleted: AtomicUsize,
    /// Address -> its webhook URL.
    hooks: Mutex<HashMap<String, String>>,
    /// Address -> its authenticated sessions.
    sessions: Mutex<HashMap<String, Vec<mpsc::UnboundedSender<String>>>>,
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({"error": "unauthorized", "message": "unknown key"})),
    )
        .into_response()
}

async fn register(State(st): State<Arc<Stub>>, axum::Json(v): axum::Json<Value>) -> Response {
    let n = st.n.fetch_add(1, Ordering::SeqCst);
    let key = format!("amp_live_sk_stub{n:04}SECRET");
    let address = format!(
        "{}@{}.stub.test",
        v["name"].as_str().unwrap_or("x"),
        v["tenant"].as_str().unwrap_or("t")
    );
    st.keys.lock().unwrap().insert(key.clone(), address.clone());
    if let Some(url) = v.pointer("/delivery/webhook_url").and_then(Value::as_str) {
        st.hooks
            .lock()
            .unwrap()
            .insert(address.clone(), url.to_string());
    }
    (
        StatusCode::CREATED,
        axum::Json(json!({"address": address, "api_key": key})),
    )
        .into_response()
}

async fn me(State(st): State<Arc<Stub>>, h: HeaderMap) -> Response {
    if st.keys.lock().unwrap().contains_key(&bearer(&h)) {
        axum::Json(json!({"address": "x"})).into_response()
    } else {
        unauthorized()
    }
}

async fn deregister(State(st): State<Arc<Stub>>, h: HeaderMap) -> Response {
    if st.keys.lock().unwrap().remove(&bearer(&h)).is_some() {
        st.deleted.fetch_add(1, Ordering::SeqCst);
        axum::Json(json!({"deregistered": true})).into_response()
    } else {
        unauthorized()
    }
}

async fn ws(State(st): State<Arc<Stub>>, up: WebSocketUpgrade) -> Response {
    up.protocols(["amp.v1"])
        .on_upgrade(move |mut sock| async move {
            let opened = Instant::now();
            let (tx, mut rx) = mpsc::unbounded_channel::<String>();
            loop {
                tokio::select! {
                    pushed = rx.recv() => {
                        let Some(frame) = pushed else { return };
                        let _ = sock.send(Message::Text(frame.into())).await;
                    }
                    msg = sock.recv() => {
                        let Some(Ok(Message::Text(t))) = msg else { return };
                        let early = opened.elapsed() < Duration::from_millis(400);
                        let silent = matches!(st.ws, Mode::Silent | Mode::Webhooks);
                        if silent || (st.ws == Mode::DropsEarlyFrames && early) {
                            continue;
                        }
                        let v: Value = serde_json::from_str(&t).unwrap_or_default();
                        let token = v["token"].as_str().unwrap_or("");
                        let address = st.keys.lock().unwrap().get(token).cloned();
                        if let (Some("auth"), Some(address)) = (v["type"].as_str(), address) {
                            st.sessions.lock().unwrap().entry(address).or_default().push(tx.clone());
                            let frame = json!({"type": "connected", "data": {"address": "x", "pending_count": 0}});
                            let _ = sock.send(Message::Text(frame.to_string().into())).await;
                        }
                    }
                }
            }
        })
}

async fn route(State(st): State<Arc<Stub>>, axum::Json(v): axum::Json<Value>) -> Response {
    let n = st.messages.fetch_add(1, Ordering::SeqCst);
    let id = format!("msg_1700000000_{n:06}");
    if st.ws == Mode::Pushes {
        let to = v["to"].as_str().unwrap_or("").to_string();
        let frame = json!({"type": "message.new", "data": {"envelope": {"id": id, "to": to}, "payload": v["payload"]}});
        for tx in st.sessions.lock().unwrap().get(&to).into_iter().flatten() {
            let _ = tx.send(frame.to_string());
        }
    }
    let hook = st
        .hooks
        .lock()
        .unwrap()
        .get(v["to"].as_str().unwrap_or(""))
        .cloned();
    if let (Mode::Webhooks, Some(url)) = (st.ws, hook) {
        let body = json!({"envelope": {"id": id}, "payload": v["payload"]});
        let req = Req::new(Method::POST, url)
            .header("X-AMP-Message-Id", id.clone())
            .json(&body);
        tokio::spawn(async move {
            if let Ok(http) = Http::new(HttpConfig::default()) {
                let _ = http.send(&req).await;
            }
        });
    }
    axum::Json(json!({"id": id, "status": "delivered", "method": "local",
                      "delivered_at": "2026-01-01T00:00:00Z"}))
    .into_response()
}

async fn serve(mode: Mode) -> (String, Arc<Stub>) {
    let st = Arc::new(Stub {
        ws: mode,
        n: AtomicUsize::new(0),
        messages: AtomicUsize::new(0),
        keys: Mutex::new(HashMap::new()),
        deleted: AtomicUsize::new(0),
        sessions: Mutex::new(HashMap::new()),
        hooks: Mutex::new(HashMap::new()),
    });
    let app = Router::new()
        .route(
            "/v1/info",
            get(|| async {
                axum::Json(
                    json!({"provider": "stub.test", "version": "amp/0.1", "capabilities": []}),
                )
            }),
        )
        .route("/v1/register", post(register))
        .route("/v1/agents/me", get(me).delete(deregister))
        .route("/v1/route", post(route))
        .route(
            "/v1/messages/pending",
            get(|| async { axum::Json(json!({"messages": [], "count": 0, "remaining": 0})) }),
        )
        .route("/v1/ws", get(ws))
        .with_state(st.clone());
    (common::serve(app).await, st)
}

// ---- cases -------------------------------------------------------------------------------

fn declared(_ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move { panic!("a case whose declared prerequisite failed must not run") })
}

fn undeclared(ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        let a = ctx.agent().await?;
        let b = ctx.agent().await?;
        let body = ctx.message(&a, &b.address).signed()?;
        let r = ctx.route(&a, &body).await?;
        let id = r.json().and_then(|v| v["id"].as_str()).unwrap_or("");
        ctx.await_delivery(&b, id).await?;
        Ok(Outcome::Pass)
    })
}

fn legacy_pending(ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        let b = ctx.agent().await?;
        match ctx
            .wait_pending(&b, |_| true, Duration::from_millis(300))
            .await?
        {
            Some(_) => Ok(Outcome::Pass),
            None => amp_runner::fail("not delivered"),
        }
    })
}

fn plain(_ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move { Ok(Outcome::Pass) })
}

fn spelling(ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        ctx.finding(
            "error-code:signature_invalid->invalid_signature",
            "API-008",
            "expected error code `signature_invalid`, got `invalid_signature` (status right)",
        );
        Ok(Outcome::Pass)
    })
}

fn websocket(ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        let a = ctx.agent().await?;
        let mut conn = ctx.ws(&a).await?;
        conn.close().await;
        Ok(Outcome::Pass)
    })
}

const fn mk(
    id: &'static str,
    clauses: &'static [&'static str],
    needs: &'static [Need],
    run: amp_runner::CaseFn,
) -> Case {
    Case {
        id,
        title: "synthetic",
        clauses,
        level: Level::Must,
        module: module_path!(),
        needs,
        expectation: "synthetic",
        run,
    }
}

fn cases() -> Vec<Case> {
    vec![
        mk(
            "a.delivery.declared",
            &["MSG-010"],
            &[Need::Prereq(Prereq::DeliveryObservable)],
            |c| declared(c),
        ),
        mk("b.delivery.undeclared", &["ADDR-005"], &[], |c| {
            undeclared(c)
        }),
        mk("c.pending.legacy", &["RTE-016"], &[], |c| legacy_pending(c)),
        mk("d.plain", &["API-003"], &[], |c| plain(c)),
        mk("e.spelling.one", &["SIG-015"], &[], |c| spelling(c)),
        mk("f.spelling.two", &["SIG-016"], &[], |c| spelling(c)),
        mk("g.websocket", &["WS-007"], &[], |c| websocket(c)),
    ]
}

fn opts(base: &str) -> RunOptions {
    let mut o = RunOptions::for_target(base).unwrap();
    o.seed = Some(9);
    o.concurrency = 1;
    o.case_timeout = Duration::from_secs(3);
    o.request_timeout = Duration::from_millis(600);
    o
}

fn verdict(r: &RunReport, id: &str) -> Verdict {
    r.case(id).unwrap_or_else(|| panic!("{id}")).verdict
}

#[tokio::test]
async fn unobservable_delivery_is_one_root_cause_and_blocks_its_cases() {
    let (base, st) = serve(Mode::DropsEarlyFrames).await;
    let report = run(&cases(), opts(&base)).await.unwrap();

    // Declared and undeclared uses of delivery are blocked (the declared one never ran);
    // cases without the prerequisite are judged.
    for id in [
        "a.delivery.declared",
        "b.delivery.undeclared",
        "c.pending.legacy",
    ] {
        assert_eq!(verdict(&report, id), Verdict::Blocked, "{id}");
        assert_eq!(
            report.case(id).unwrap().blocked_by,
            Some(Prereq::DeliveryObservable)
        );
    }
    assert_eq!(verdict(&report, "d.plain"), Verdict::Pass);
    assert_eq!(verdict(&report, "g.websocket"), Verdict::Pass);

    // One root cause for the three, citing RTE-001 and naming the unobservable method.
    let probe = &report.root_causes[0];
    assert_eq!(probe.kind, RootCauseKind::Probe);
    assert_eq!(probe.key, "probe:delivery-observable");
    assert_eq!(probe.clause, "RTE-001");
    assert!(probe.summary.contains("`local`"), "{}", probe.summary);
    assert!(probe.summary.contains("WebSocket"), "{}", probe.summary);
    assert_eq!(
        probe.cases,
        [
            "a.delivery.declared",
            "b.delivery.undeclared",
            "c.pending.legacy"
        ]
    );
    assert!(
        !probe.transcript.is_empty(),
        "the probe keeps its transcript"
    );

    // Findings: the spelling pair is one root cause listing both cases; the WebSocket probe's
    // retry after a pause is a finding of its own, listing the case that used the pause.
    let find = |k: &str| report.root_causes.iter().find(|r| r.key == k).unwrap();
    let spelling = find("error-code:signature_invalid->invalid_signature");
    assert_eq!(spelling.kind, RootCauseKind::Finding);
    assert_eq!(spelling.cases, ["e.spelling.one", "f.spelling.two"]);
    let early = find("ws:auth-frame-dropped-right-after-upgrade");
    assert_eq!(early.clause, "WS-003");
    assert_eq!(early.cases, ["g.websocket"]);

    // Blocked clauses are not covered; judged ones are.
    let covered = &report.coverage.covered;
    assert!(covered.contains(&"API-003".to_string()));
    for c in ["MSG-010", "ADDR-005", "RTE-016"] {
        assert!(
            !covered.contains(&c.to_string()),
            "{c} covered while blocked"
        );
    }
    assert_eq!(report.summary.blocked, 3);
    assert_eq!(exit_code(&report, false), 1);
    let term = render_terminal(&report, false, false);
    assert!(
        term.ends_with("4 passed, 0 failed, 0 skipped, 3 blocked\n"),
        "{term}"
    );
    assert!(
        term.find("root causes").unwrap() < term.find("\n04-messages").unwrap(),
        "root causes lead"
    );
    let junit = to_junit(&report, false).unwrap();
    assert!(
        junit.find("root-causes").unwrap() < junit.find("name=\"04-messages\"").unwrap(),
        "{junit}"
    );

    // Every agent (cases' and probes') was deregistered.
    assert!(report.leftovers.is_empty(), "{:?}", report.leftovers);
    assert_eq!(
        st.deleted.load(Ordering::SeqCst),
        st.n.load(Ordering::SeqCst)
    );

    let term = render_terminal(&stable(report.clone()), false, false);
    insta::assert_snapshot!("terminal", normalise(&term, &base));
    insta::assert_snapshot!("json", normalise(&stable(report.clone()).to_json(), &base));
    insta::assert_snapshot!(
        "junit",
        normalise(&to_junit(&stable(report), false).unwrap(), &base)
    );
}

#[tokio::test]
async fn a_websocket_that_never_answers_blocks_websocket_cases() {
    let (base, _st) = serve(Mode::Silent).await;
    let mut o = opts(&base);
    o.run_patterns = vec!["g.*".to_string(), "d.*".to_string()];
    let report = run(&cases(), o).await.unwrap();
    assert_eq!(verdict(&report, "g.websocket"), Verdict::Blocked);
    assert_eq!(verdict(&report, "d.plain"), Verdict::Pass);
    let rc = &report.root_causes[0];
    assert_eq!(
        (rc.key.as_str(), rc.clause.as_str()),
        ("probe:ws-session", "WS-003")
    );
    assert!(
        rc.summary.contains("500 ms after"),
        "the probe retried after a pause: {}",
        rc.summary
    );
    assert!(
        !report
            .root_causes
            .iter()
            .any(|r| r.key.starts_with("ws:auth-frame")),
        "no early-frame finding when the pause does not help"
    );
    let junit = to_junit(&report, false).unwrap();
    assert!(junit.contains("type=\"blocked\""), "{junit}");
}

#[test]
fn blocked_failures_name_their_probe() {
    let f = Failure::blocked(Prereq::WsSession, "never answers");
    assert_eq!(
        f.to_string(),
        "blocked by probe `ws-session`: never answers"
    );
}

/// The report without what varies from run to run (timings, transcripts with their ports,
/// dates and elapsed times) or with the catalogue (its revision, the uncovered clauses).
fn stable(mut r: RunReport) -> RunReport {
    r.spec_revision = None;
    r.coverage.uncovered.clear();
    r.run.started_at = "2026-01-01T00:00:00Z".to_string();
    r.run.duration_ms = 0;
    r.tool.version = "0.0.0".to_string();
    for c in &mut r.cases {
        c.duration_ms = 0;
        c.transcript.clear();
    }
    for rc in &mut r.root_causes {
        rc.transcript.clear();
    }
    r
}

/// Replace the stub's port and any timing in rendered text.
fn normalise(text: &str, base: &str) -> String {
    let mut out = text.replace(base, "http://127.0.0.1:PORT/v1");
    let origin = base.trim_end_matches("/v1");
    out = out.replace(origin, "http://127.0.0.1:PORT");
    out = out.replace(&base.replace("http://", "ws://"), "ws://127.0.0.1:PORT/v1");
    // `— 123 ms` in the terminal totals line, `time="0.123"` in JUnit.
    let mut lines = Vec::new();
    for line in out.lines() {
        let line = match line.rfind(" — ") {
            Some(i) if line.ends_with(" ms") && line.contains("cases:") => {
                format!("{} — N ms", &line[..i])
            }
            _ => line.to_string(),
        };
        lines.push(strip_attr(&strip_attr(&line, "time"), "timestamp"));
    }
    lines.join("\n")
}

fn strip_attr(line: &str, attr: &str) -> String {
    let key = format!(" {attr}=\"");
    let Some(i) = line.find(&key) else {
        return line.to_string();
    };
    let rest = &line[i + key.len()..];
    let Some(j) = rest.find('"') else {
        return line.to_string();
    };
    format!("{}{}{}", &line[..i], &key, &rest[j..]).replacen(
        &format!("{key}\""),
        &format!("{key}N\""),
        1,
    )
}

#[tokio::test]
async fn registrations_without_an_answer_block_and_are_listed() {
    // A provider that takes longer than the request timeout to register (and may create the
    // agent anyway): the registration probe fails, cases needing an agent are blocked, and
    // each unanswered registration is listed as a possible leftover by the name it sent.
    let app = Router::new()
        .route(
            "/v1/info",
            get(|| async { axum::Json(json!({"provider": "slow.test", "capabilities": []})) }),
        )
        .route(
            "/v1/register",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                StatusCode::CREATED
            }),
        );
    let base = common::serve(app).await;
    let mut o = opts(&base);
    o.run_patterns = vec!["g.*".to_string(), "d.*".to_string()];
    o.request_timeout = Duration::from_millis(300);
    let report = run(&cases(), o).await.unwrap();
    assert_eq!(verdict(&report, "g.websocket"), Verdict::Blocked);
    assert_eq!(verdict(&report, "d.plain"), Verdict::Pass);
    assert_eq!(report.root_causes[0].key, "probe:registration");
    assert_eq!(report.leftovers.len(), 2, "{:?}", report.leftovers);
    for l in &report.leftovers {
        assert!(l.address.starts_with("ampc-"), "{}", l.address);
        assert!(l.reason.contains("no answer"), "{}", l.reason);
        assert_eq!(l.case, "probe.registration");
    }
}

#[tokio::test]
async fn deliveries_seen_only_as_websocket_pushes_are_observed_there() {
    // Nothing in the pending list, but pushes to a connected recipient: the delivery probe
    // finds the WebSocket channel, every agent the context registers is watched, and
    // await_delivery returns the pushed message. A case that insists on the pending list
    // fails its own clause (it is not blocked: delivery is observable).
    let (base, _st) = serve(Mode::Pushes).await;
    let mut o = opts(&base);
    o.run_patterns = vec!["a.*".into(), "b.*".into(), "c.*".into()];
    let report = run(&cases(), o).await.unwrap();
    assert_eq!(
        verdict(&report, "a.delivery.declared"),
        Verdict::Error,
        "ran: the stub case panics"
    );
    let b = report.case("b.delivery.undeclared").unwrap();
    assert_eq!(b.verdict, Verdict::Pass, "{:?}", b.reason);
    assert_eq!(verdict(&report, "c.pending.legacy"), Verdict::Fail);
    assert!(report.root_causes.is_empty(), "{:?}", report.root_causes);
    assert!(report.leftovers.is_empty(), "{:?}", report.leftovers);
}

#[tokio::test]
async fn deliveries_seen_only_as_webhooks_are_observed_with_loopback_webhooks() {
    // Neither the pending list nor a WebSocket shows deliveries, but webhooks arrive: with
    // loopback webhooks allowed the probe finds that channel, agents are registered with a
    // webhook to the context's receiver, and await_delivery returns the webhook body.
    let (base, _st) = serve(Mode::Webhooks).await;
    let mut o = opts(&base);
    o.run_patterns = vec!["b.*".into()];
    o.loopback_webhooks = true;
    let report = run(&cases(), o.clone()).await.unwrap();
    let b = report.case("b.delivery.undeclared").unwrap();
    assert_eq!(b.verdict, Verdict::Pass, "{:?}", b.reason);
    assert!(report.root_causes.is_empty(), "{:?}", report.root_causes);
    // Without loopback webhooks the same target is one root cause.
    o.loopback_webhooks = false;
    let report = run(&cases(), o).await.unwrap();
    assert_eq!(verdict(&report, "b.delivery.undeclared"), Verdict::Blocked);
}

fn blocked_alone(_ctx: &mut Ctx) -> BoxFuture<'_, CaseResult> {
    Box::pin(async move {
        Err(Failure::blocked(
            Prereq::Registration,
            "the agent this case needs was refused in tenant `other`",
        ))
    })
}

#[tokio::test]
async fn a_case_blocked_although_its_probe_passed_still_has_a_root_cause() {
    let (base, _st) = serve(Mode::Pushes).await;
    let cases = vec![
        mk("h.blocked.one", &["RTE-023"], &[], |c| blocked_alone(c)),
        mk("h.blocked.two", &["RTE-023"], &[], |c| blocked_alone(c)),
        mk("d.plain", &["API-003"], &[], |c| plain(c)),
        mk("g.websocket", &["WS-007"], &[], |c| websocket(c)),
    ];
    let report = run(&cases, opts(&base)).await.unwrap();
    assert_eq!(verdict(&report, "h.blocked.one"), Verdict::Blocked);
    assert_eq!(
        verdict(&report, "g.websocket"),
        Verdict::Pass,
        "registration works"
    );
    let rc = report
        .root_causes
        .iter()
        .find(|r| r.key == "blocked:registration")
        .unwrap_or_else(|| panic!("{:?}", report.root_causes));
    assert_eq!(rc.cases, ["h.blocked.one", "h.blocked.two"]);
    assert_eq!(rc.clause, "REG-002");
    assert!(rc.summary.contains("tenant `other`"), "{}", rc.summary);
    // Every blocked case is listed by some root cause.
    for c in report
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Blocked)
    {
        assert!(
            report.root_causes.iter().any(|r| r.cases.contains(&c.id)),
            "{}",
            c.id
        );
    }
}
