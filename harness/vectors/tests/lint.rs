//! The corpus lints clean, the linter and runner catch the mistakes they exist for, and the
//! parser survives hostile bytes.

use std::path::PathBuf;

use amp_core::PayloadProfile;
use amp_vectors::{CaseOutcome, lint, load_file, parse, run_all, run_case};

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../vectors/testdata")
        .join(name)
}

/// A small well-formed file; tests mutate it.
fn base_file() -> serde_json::Value {
    serde_json::json!({
        "schema": "amp-conformance/vectors/v1",
        "topic": "t",
        "kind": "message_id",
        "description": "d",
        "source": "s",
        "flags": {},
        "cases": [
            {"id": "a-001", "description": "d", "clauses": ["MSG-007"], "input": {"id": "msg_1_ab"},
             "result": "valid", "expected": {"schema": "valid", "strict": "valid"}},
            {"id": "a-002", "description": "d", "clauses": ["MSG-007"], "input": {"id": ""},
             "result": "invalid", "expected": {"schema": "invalid", "strict": "invalid"}}
        ]
    })
}

fn parse_value(v: &serde_json::Value) -> amp_vectors::VectorFile {
    parse("t.json", v.to_string().as_bytes()).expect("test file parses")
}

/// The lint messages for one file given as JSON.
fn lint_messages(v: &serde_json::Value) -> Vec<String> {
    lint(&[parse_value(v)])
        .iter()
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn corpus_lints_clean() {
    let files = amp_vectors::embedded().expect("embedded corpus parses");
    let errors = lint(&files);
    assert!(
        errors.is_empty(),
        "lint errors:\n{}",
        errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn corpus_has_at_least_150_cases_and_every_kind() {
    let files = amp_vectors::embedded().expect("embedded corpus parses");
    let n: usize = files.iter().map(|f| f.cases.len()).sum();
    assert!(n >= 150, "only {n} cases");
    for k in amp_vectors::Kind::ALL {
        assert!(files.iter().any(|f| f.kind == k), "no file of kind {k}");
    }
    assert!(
        !amp_vectors::embedded_names().any(|n| n.contains("wrong") || n == "vector.schema.json"),
        "testdata or the schema got embedded"
    );
}

#[test]
fn published_cases_keep_their_original_ids() {
    let files = amp_vectors::embedded().expect("embedded corpus parses");
    let ids: Vec<String> = files
        .iter()
        .flat_map(|f| {
            f.cases
                .iter()
                .filter(|c| c.flags.iter().any(|x| x == "published"))
                .map(|c| c.id.clone())
        })
        .collect();
    let mut want: Vec<String> = Vec::new();
    want.extend((1..=4).map(|i| format!("addr-00{i}")));
    want.extend((1..=2).map(|i| format!("hash-00{i}")));
    want.extend((1..=3).map(|i| format!("canon-00{i}")));
    want.extend((1..=7).map(|i| format!("msgid-00{i}")));
    want.extend((1..=6).map(|i| format!("scan-valid-00{i}")));
    want.extend((1..=3).map(|i| format!("scan-invalid-00{i}")));
    for w in &want {
        assert!(ids.contains(w), "published case {w} missing");
    }
    assert_eq!(
        ids.len(),
        want.len(),
        "unexpected extra published cases: {ids:?}"
    );
}

#[test]
fn wrong_hash_fixture_fails_naming_the_case() {
    let file = load_file(testdata("wrong-hash.json")).expect("fixture parses");
    assert!(
        lint(std::slice::from_ref(&file)).is_empty(),
        "fixture is well-formed; only its hash is wrong"
    );
    let summary = run_all(std::slice::from_ref(&file), PayloadProfile::Sorted);
    let text = summary.to_string();
    if text.contains("amp-core panicked") || text.contains("not yet implemented") {
        panic!("amp-core is not implemented yet: {text}");
    }
    assert_eq!(summary.failed, 1, "{text}");
    assert!(text.contains("wrong-hash::wrong-001"), "{text}");
    assert!(
        text.lines()
            .last()
            .is_some_and(|l| l == "0 passed, 1 failed, 0 skipped"),
        "{text}"
    );
    // The recorded bytes are the insertion-order serialisation, so that profile passes.
    assert_eq!(
        run_case(&file, &file.cases[0], PayloadProfile::Insertion),
        CaseOutcome::Pass
    );
}

#[test]
fn duplicate_id_fails_lint() {
    let mut v = base_file();
    v["cases"][1]["id"] = "a-001".into();
    let errors = lint(&[parse_value(&v)]);
    assert!(
        errors
            .iter()
            .any(|e| e.case.as_deref() == Some("a-001") && e.message.contains("duplicate")),
        "{errors:?}"
    );
}

#[test]
fn unknown_clause_fails_lint() {
    let mut v = base_file();
    v["cases"][0]["clauses"] = serde_json::json!(["MSG-007", "NOPE-999"]);
    let errors = lint(&[parse_value(&v)]);
    assert!(
        errors.iter().any(|e| e.message.contains("NOPE-999")),
        "{errors:?}"
    );
}

#[test]
fn undefined_flag_missing_input_and_stray_profiles_fail_lint() {
    let mut v = base_file();
    v["cases"][0]["flags"] = serde_json::json!(["mystery"]);
    v["cases"][1]["input"] = serde_json::json!({"identifier": "x"});
    v["cases"][1]["profiles"] = serde_json::json!({"jcs": {"result": "invalid"}});
    let errors = lint(&[parse_value(&v)]);
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert!(text.iter().any(|e| e.contains("mystery")), "{text:?}");
    assert!(
        text.iter()
            .any(|e| e.contains("t::a-002") && e.contains("required fields")),
        "{text:?}"
    );
    assert!(text.iter().any(|e| e.contains("profiles")), "{text:?}");
}

#[test]
fn clean_base_file_lints_clean() {
    assert!(lint(&[parse_value(&base_file())]).is_empty());
}

#[test]
fn unknown_kind_result_and_schema_are_refused_at_parse() {
    let mut v = base_file();
    v["kind"] = "teleport".into();
    let e = parse("t.json", v.to_string().as_bytes())
        .unwrap_err()
        .to_string();
    assert!(e.contains("teleport"), "{e}");
    let mut v = base_file();
    v["cases"][0]["result"] = "maybe".into();
    let e = parse("t.json", v.to_string().as_bytes())
        .unwrap_err()
        .to_string();
    assert!(e.contains("maybe"), "{e}");
    let mut v = base_file();
    v["schema"] = "v0".into();
    assert!(parse("t.json", v.to_string().as_bytes()).is_err());
}

#[test]
fn parse_survives_hostile_bytes() {
    let deep = "[".repeat(100_000);
    for bytes in [
        &b""[..],
        b"\xff\xfe\x00",
        b"null",
        b"{\"schema\":1}",
        deep.as_bytes(),
        b"{\"schema\":\"amp-conformance/vectors/v1\",\"cases\":[{}]}",
    ] {
        assert!(parse("x.json", bytes).is_err());
    }
}

#[test]
fn load_file_reports_missing_files() {
    let e = load_file(testdata("does-not-exist.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("does-not-exist.json"), "{e}");
}

#[test]
fn live_flags_need_a_reason_and_core_only_kinds_must_say_so() {
    let mut v = base_file();
    v["cases"][0]["live"] = serde_json::json!(false);
    v["cases"][1]["live_reason"] = serde_json::json!("because");
    let text = lint_messages(&v);
    assert!(
        text.iter()
            .any(|e| e.contains("t::a-001") && e.contains("live_reason")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|e| e.contains("t::a-002") && e.contains("not false")),
        "{text:?}"
    );

    let mut v = base_file();
    v["kind"] = serde_json::json!("scan_status");
    v["cases"] = serde_json::json!([{"id": "s-001", "description": "d", "clauses": ["SCAN-001"],
        "input": {"value": "clean"}, "result": "valid", "expected": {"routable": true}}]);
    let text = lint_messages(&v);
    assert!(
        text.iter().any(|e| e.contains("has no live trial")),
        "{text:?}"
    );
    v["live"] = serde_json::json!(false);
    v["live_reason"] = serde_json::json!("set by the provider's scanner");
    let f = parse_value(&v);
    assert!(lint(std::slice::from_ref(&f)).is_empty());
    assert_eq!(
        f.case_live(&f.cases[0]),
        amp_vectors::Live::CoreOnly("set by the provider's scanner")
    );
}

#[test]
fn routing_cases_must_describe_a_real_provider() {
    let mut v = base_file();
    v["kind"] = serde_json::json!("routing");
    v["cases"] = serde_json::json!([{"id": "r-001", "description": "d", "clauses": ["RTE-023"],
        "input": {"provider": "crabmail.ai", "sender": "alice@acme.other.example",
                  "agents": ["bob@crabmail.ai"], "to": "bob"},
        "result": "invalid", "expected": {"decision": "refuse", "status": 404, "code": "not_found"}}]);
    let text = lint_messages(&v);
    assert!(
        text.iter()
            .any(|e| e.contains("`sender`") && e.contains("not an address at the provider")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|e| e.contains("`agents` entry") && e.contains("not a full address")),
        "{text:?}"
    );
}

#[test]
fn raw_inputs_keep_key_order_and_number_text() {
    let text = br#"{"schema": "amp-conformance/vectors/v1", "topic": "t", "kind": "payload_hash",
        "description": "d", "source": "s", "flags": {}, "cases": [{"id": "h-001",
        "description": "d", "clauses": ["SIG-008"],
        "input": {"payload": {"type":"t", "message":"m","context":{"b":1.0,"a":-0,"c":1e21}}},
        "result": "valid", "expected": {"hash": "x"}}]}"#;
    let f = parse("t.json", text).expect("parses");
    assert_eq!(
        f.cases[0].raw("payload"),
        Some(r#"{"type":"t", "message":"m","context":{"b":1.0,"a":-0,"c":1e21}}"#)
    );
}
