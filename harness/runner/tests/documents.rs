//! The Markdown and HTML reports and the comparison with a previous run, from a fixed report
//! (no run, no clock): pinned by insta snapshots, and checked against a hostile target whose
//! reasons and bodies carry markup (`<script>`, `</pre>`, quotes, pipes, backticks, newlines).

use amp_runner::{
    Changes, Document, DocumentReporter, Event, PreviousReport, Reporter, RunReport, WithChanges,
    render_terminal, to_html, to_markdown,
};
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// What a hostile target puts in a body and a reason.
const HOSTILE: &str = "<script>alert(\"x\")</script></pre></details></td>'quoted' | pipe `tick` ```fence``` @octocat $x$ [link](javascript:alert(1)) &amp;\nsecond line\u{1b}[31m";

fn exchange(body: &str) -> Value {
    json!({
        "kind": "http", "at_ms": 3,
        "request": {"method": "POST", "url": "http://127.0.0.1:PORT/v1/route",
                    "headers": [["authorization", "Bearer [REDACTED]"]], "body": "{\"to\":\"b\"}"},
        "response": {"status": 200, "headers": [["content-type", "text/html"]], "body": body,
                     "truncated": false, "elapsed_ms": 2}
    })
}

fn case(id: &str, section: &str, verdict: &str, level: &str, reason: Option<&str>) -> Value {
    json!({
        "id": id, "title": format!("title of {id}"), "section": section,
        "clauses": ["RTE-001", "MSG-010"], "level": level, "verdict": verdict,
        "duration_ms": 0, "reason": reason, "contradiction": null,
        "expectation": "a correct provider refuses it", "transcript": []
    })
}

/// A report with every kind of part: a probe and a finding, failures in two sections, a warning
/// tied to a contradiction, a blocked case, passes, a skip, run warnings and a leftover.
fn fixture() -> RunReport {
    let mut fail = case("route.hostile", "routing", "fail", "must", Some(HOSTILE));
    fail["transcript"] = json!([exchange(HOSTILE)]);
    let mut error = case(
        "ws.error",
        "web-socket",
        "error",
        "must",
        Some("timed out after 10 s"),
    );
    error["transcript"] = json!([{"kind": "note", "at_ms": 0, "text": "connecting"}]);
    let mut warn = case(
        "route.from",
        "routing",
        "warn",
        "must",
        Some("overwrote `from`"),
    );
    warn["contradiction"] = json!("C-11");
    let mut blocked = case(
        "msg.pending",
        "messages",
        "blocked",
        "must",
        Some("blocked by probe `delivery-observable`: see root causes"),
    );
    blocked["blocked_by"] = json!("delivery-observable");
    let cases = vec![
        blocked,
        case("msg.plain", "messages", "pass", "must", None),
        warn,
        fail,
        case("route.ok", "routing", "pass", "should", None),
        case("route.xfail", "routing", "xfail", "must", Some("known")),
        error,
        case(
            "ws.skip",
            "web-socket",
            "skip",
            "may",
            Some("no capability"),
        ),
    ];
    let report = json!({
        "schema": "amp-conformance/report/v1",
        "tool": {"name": "amp-conformance", "version": "0.0.0"},
        "run": {"id": "0a1b2c", "seed": 7, "started_at": "2026-01-01T00:00:00Z", "duration_ms": 0},
        "target": {"base_url": "http://127.0.0.1:PORT/v1", "origin": "http://127.0.0.1:PORT",
                   "ws_url": "ws://127.0.0.1:PORT/v1/ws", "provider": "<b>evil</b>.test",
                   "version": "amp/0.1", "capabilities": []},
        "profile": "sorted",
        "spec_revision": null,
        "options": {"level": null, "strict": false, "run_patterns": [], "skip_patterns": [],
                    "concurrency": 8, "case_timeout_ms": 30000, "request_timeout_ms": 10000,
                    "expected_failures": ["route.xfail"], "expected_failures_source": null,
                    "tenant": "ampc0a1b2c", "loopback_webhooks": false, "federation_peer": false,
                    "cases_known": 8, "cases_filtered_out": 0},
        "root_causes": [
            {"key": "probe:delivery-observable", "kind": "probe", "clause": "RTE-001",
             "summary": "no delivery could be observed", "cases": ["msg.pending"],
             "transcript": [exchange("{\"method\":\"local\"}")]},
            {"key": "error-code:a->b", "kind": "finding", "clause": "API-008",
             "summary": HOSTILE, "cases": ["route.hostile", "ws.error"]}
        ],
        "cases": cases,
        "summary": {"total": 0, "by_verdict": {}, "by_section": {}, "passed": 0, "failed": 0,
                    "skipped": 0},
        "coverage": {"catalogue": true, "testable": 10, "covered": ["RTE-001", "MSG-010"],
                     "uncovered": [], "required_covered": 2, "required_total": 8, "unknown": [],
                     "untestable_cited": []},
        "leftovers": [{"address": "ampc-0a1b2c-1@t.test", "case": "msg.plain",
                       "reason": "DELETE answered 500"}],
        "warnings": [
            {"kind": "contradiction", "message": "route.from: verdict depends on C-11",
             "case": "route.from", "contradiction": "C-11"},
            {"kind": "preflight", "message": HOSTILE, "case": null, "contradiction": null}
        ]
    });
    let mut r: RunReport = serde_json::from_value(report).unwrap();
    r.summary = amp_runner::Summary::compute(&r.cases, false);
    r
}

/// A previous run of the same target: `route.hostile` passed, `ws.error` failed already,
/// `route.from` failed and now warns, `route.ok` failed and is fixed, `old.case` is gone,
/// `ws.skip` and `msg.plain` are new.
fn previous() -> PreviousReport {
    let report = json!({
        "schema": "amp-conformance/report/v1",
        "tool": {"version": "0.0.0"},
        "run": {"id": "ffee00", "started_at": "2025-12-31T00:00:00Z"},
        "target": {"base_url": "http://127.0.0.1:PORT/v1"},
        "cases": [
            case("msg.pending", "messages", "pass", "must", None),
            case("old.case", "routing", "pass", "must", None),
            case("route.from", "routing", "fail", "must", Some("spoofed")),
            case("route.hostile", "routing", "pass", "must", None),
            case("route.ok", "routing", "fail", "should", Some("broken")),
            case("route.xfail", "routing", "xfail", "must", None),
            case("ws.error", "web-socket", "fail", "must", Some("refused")),
        ]
    });
    PreviousReport::parse(&report.to_string(), "previous.json").unwrap()
}

fn compared() -> RunReport {
    let mut r = fixture();
    r.changes = Some(Changes::between(&previous(), &r.cases));
    r
}

/// One element per line, so that a snapshot diff shows what changed.
fn lines(html: &str) -> String {
    html.replace("><", ">\n<")
}

#[test]
fn markdown_report() {
    insta::assert_snapshot!("markdown", to_markdown(&fixture(), false));
}

#[test]
fn html_report() {
    insta::assert_snapshot!("html", lines(&to_html(&fixture(), false)));
}

#[test]
fn changes_in_every_output() {
    let r = compared();
    let changes = r.changes.as_ref().unwrap();
    let ids = |l: &[amp_runner::CaseChange]| l.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&changes.new_failures), ["msg.pending", "route.hostile"]);
    assert_eq!(ids(&changes.fixed), ["route.ok"]);
    assert_eq!(ids(&changes.changed), ["route.from", "ws.error"]);
    assert_eq!(ids(&changes.added), ["msg.plain", "ws.skip"]);
    assert_eq!(ids(&changes.removed), ["old.case"]);
    assert_eq!(changes.unchanged, 1);
    insta::assert_json_snapshot!("changes_json", changes);
    let terminal = render_terminal(&r, false, false);
    // The target's ANSI escape cannot recolour or rewrite the terminal.
    assert!(!terminal.contains('\u{1b}'));
    insta::assert_snapshot!("changes_terminal", terminal);
    let md = to_markdown(&r, false);
    let start = md.find("### Changes").unwrap();
    let end = md.find("### Root causes").unwrap();
    insta::assert_snapshot!("changes_markdown", &md[start..end]);
    let html = lines(&to_html(&r, false));
    let start = html.find("<h2 id=\"changes\">").unwrap();
    let end = html.find("<h2 id=\"root-causes\">").unwrap();
    insta::assert_snapshot!("changes_html", &html[start..end]);
    // And the JSON report carries them; a report without them has no `changes` key.
    let json: Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(json["changes"]["fixed"][0]["id"], "route.ok");
    let plain: Value = serde_json::from_str(&fixture().to_json()).unwrap();
    assert!(plain.get("changes").is_none());
    // As documented in the schema: every required key, no undocumented one.
    let schema: Value =
        serde_json::from_str(include_str!("../../../reports/report.schema.json")).unwrap();
    let part = &schema["properties"]["changes"];
    let names = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let mut required: Vec<String> = serde_json::from_value(part["required"].clone()).unwrap();
    required.sort();
    assert_eq!(names(&json["changes"]), required);
    assert_eq!(
        names(&json["changes"]["previous"]),
        names(&part["properties"]["previous"]["properties"])
    );
    let item = names(&schema["$defs"]["change"]["properties"]);
    for list in ["new_failures", "fixed", "changed", "added", "removed"] {
        for c in json["changes"][list].as_array().unwrap() {
            assert!(names(c).iter().all(|k| item.contains(k)), "{list}: {c}");
        }
    }
}

/// Every `<` of the page opens or closes one of the page's own elements: nothing from the
/// target became markup.
#[test]
fn html_escapes_everything_from_the_target() {
    let html = to_html(&compared(), false);
    const OWN: [&str; 25] = [
        "!DOCTYPE", "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p",
        "table", "tr", "th", "td", "code", "span", "strong", "div", "a", "details", "summary",
        "pre", "form", "fieldset",
    ];
    const MORE: [&str; 5] = ["legend", "input", "label", "ul", "li"];
    for (i, _) in html.match_indices('<') {
        let name: String = html[i + 1..]
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '!')
            .collect();
        assert!(
            OWN.contains(&name.as_str()) || MORE.contains(&name.as_str()),
            "markup `<{name}` at {i}: {}",
            &html[i.saturating_sub(80)..(i + 80).min(html.len())]
        );
    }
    assert!(!html.to_ascii_lowercase().contains("<script"));
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;/pre&gt;"));
    assert_eq!(
        html.matches("<pre>").count(),
        html.matches("</pre>").count()
    );
    assert_eq!(
        html.matches("<details>").count(),
        html.matches("</details>").count()
    );
    assert!(
        !html.contains('\u{1b}'),
        "a control character reached the page"
    );
    // Self-contained: no URL the browser would fetch, a policy that forbids it anyway.
    assert!(!html.contains("src=") && !html.contains("<link"));
    assert!(html.contains("default-src 'none'"));
}

/// Every table row has as many cells as its header, and hostile text creates no markup.
#[test]
fn markdown_tables_survive_a_hostile_target() {
    let md = to_markdown(&compared(), false);
    assert_markdown_holds(&md);
    // The transcript's own fence outlasts the ``` in the body.
    assert!(md.contains("````text\n"), "{md}");
}

/// A report with hundreds of failures stays under GitHub's comment limit: the failures come
/// first, shortened to the rows that fit.
#[test]
fn a_large_markdown_report_keeps_to_its_budget() {
    let mut r = compared();
    let template = r.case("route.hostile").unwrap().clone();
    for i in 0..600 {
        let mut c = template.clone();
        c.id = format!("route.many-{i:03}");
        r.cases.push(c);
    }
    r.cases.sort_by(|a, b| a.id.cmp(&b.id));
    r.summary = amp_runner::Summary::compute(&r.cases, false);
    let md = to_markdown(&r, false);
    assert!(
        md.len() <= amp_runner::markdown::BUDGET + 300,
        "{} bytes",
        md.len()
    );
    assert!(md.contains("### Failures (602)") && md.contains("more (the JSON and HTML"));
    // The failure tables were shortened (50 of 602 rows fit), not dropped.
    assert_markdown_holds(&md);
    // Small reports lose nothing.
    assert!(!to_markdown(&compared(), false).contains("Left out"));
}

/// Tables keep their shape and text from the target is never markup.
fn assert_markdown_holds(md: &str) {
    let cells = |line: &str| {
        let mut n = 0;
        let mut escaped = false;
        for ch in line.chars() {
            match ch {
                '\\' if !escaped => escaped = true,
                '|' if !escaped => n += 1,
                _ => escaped = false,
            }
        }
        n
    };
    let mut header: Option<usize> = None;
    let mut in_fence = false;
    for line in md.lines() {
        if line.starts_with("```") {
            in_fence = !in_fence;
        }
        if in_fence || !line.starts_with('|') {
            header = None;
            continue;
        }
        match header {
            None => header = Some(cells(line)),
            Some(n) => assert_eq!(cells(line), n, "row breaks its table: {line}"),
        }
    }
    // Outside code blocks nothing from the target is markup: every `<`, `[`, `$` is
    // backslashed unless it is one of the report's own tags, and no name is a mention.
    const OWN: [&str; 4] = ["<details>", "</details>", "<summary>", "</summary>"];
    let mut in_fence = false;
    for line in md.lines() {
        if line.starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let mut code = false;
        for (i, ch) in line.char_indices() {
            let escaped = line[..i].ends_with('\\');
            if ch == '`' && !escaped {
                code = !code;
            }
            let own = code || OWN.iter().any(|t| line[i..].starts_with(t));
            if matches!(ch, '<' | '[' | '$') && !own {
                assert!(line[..i].ends_with('\\'), "unescaped {ch} in: {line}");
            }
        }
        assert!(!line.contains("@octocat"), "{line}");
    }
    assert!(!md.contains('\u{1b}'));
}

/// A sink the test can read after the reporter wrote to it.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn with_changes_hands_the_compared_report_to_every_document() {
    let (md, html) = (Sink::default(), Sink::default());
    let docs: Vec<Box<dyn Reporter>> = vec![
        Box::new(
            DocumentReporter::new(Document::Markdown { strict: false }, Box::new(md.clone())).0,
        ),
        Box::new(DocumentReporter::new(Document::Html { strict: true }, Box::new(html.clone())).0),
    ];
    let mut reporter = WithChanges::new(previous(), docs);
    let report = fixture();
    reporter.event(&Event::RunFinished { report: &report });
    let md = String::from_utf8(md.0.lock().unwrap().clone()).unwrap();
    let html = String::from_utf8(html.0.lock().unwrap().clone()).unwrap();
    assert!(md.contains("### Changes since run `ffee00`"), "{md}");
    assert!(html.contains("Changes since run <code>ffee00</code>"));
    // Each document keeps its own `strict`: the warning fails the run in the HTML only.
    assert!(
        md.contains("4 passed, 2 failed, 1 skipped, 1 blocked"),
        "{md}"
    );
    assert!(html.contains("3 passed, 3 failed, 1 skipped, 1 blocked"));
}

/// `reports/sample-report.{md,html}` are renderings of `reports/sample-report.json` (all three
/// are written by `AMP_WRITE_SAMPLE_REPORT=1 cargo test -p amp-runner --test runner full_run`;
/// with that variable this test writes the two renderings of the JSON as it is).
#[test]
fn the_samples_render_the_sample_report() {
    let report = RunReport::from_json(include_str!("../../../reports/sample-report.json")).unwrap();
    let strict = report.options.strict;
    if std::env::var_os("AMP_WRITE_SAMPLE_REPORT").is_some() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../reports");
        std::fs::write(dir.join("sample-report.md"), to_markdown(&report, strict)).unwrap();
        std::fs::write(dir.join("sample-report.html"), to_html(&report, strict)).unwrap();
        return;
    }
    let stale = "is stale: regenerate it with AMP_WRITE_SAMPLE_REPORT=1 cargo test -p amp-runner \
                 --test documents the_samples";
    assert!(
        to_markdown(&report, strict) == include_str!("../../../reports/sample-report.md"),
        "reports/sample-report.md {stale}"
    );
    assert!(
        to_html(&report, strict) == include_str!("../../../reports/sample-report.html"),
        "reports/sample-report.html {stale}"
    );
}
