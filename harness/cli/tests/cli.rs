//! The binary's contract: exit codes, reports on disk, no secrets in them, clear errors.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_amp-conformance"))
}

#[test]
fn unreachable_target_exits_3_quickly_with_a_message() {
    // Port 9 (discard) on loopback: nothing listens there on these machines.
    let start = std::time::Instant::now();
    let out = bin()
        .args(["run", "--target", "http://127.0.0.1:9/v1", "--timeout", "2"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unreachable"), "{stderr}");
    assert!(start.elapsed().as_secs() < 15);
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["run", "--level", "sometimes"][..],
        &["run", "--defect", "no-such-defect"],
        &["run", "--target", "not a url"],
        &["run", "--concurrency", "0"],
        &["mock", "--listen", "0.0.0.0:0"],
        &["run", "--config", "/nonexistent/amp.toml"],
        &[
            "run",
            "--target",
            "http://127.0.0.1:9/v1",
            "--defect",
            "accept-unsigned",
        ],
    ] {
        let out = bin().args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stderr.is_empty(), "{args:?} printed no error");
    }
}

#[test]
fn embedded_run_writes_valid_reports_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let junit = dir.path().join("r.xml");
    let traces = dir.path().join("traces");
    let out = bin()
        .args(["run", "--seed", "11", "--report-json"])
        .arg(&json)
        .arg("--report-junit")
        .arg(&junit)
        .arg("--trace")
        .arg(&traces)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.ends_with(" skipped") && last.contains(" passed, ") && last.contains(" failed"),
        "closing line: {last}"
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(report["cases"].as_array().is_some_and(|c| !c.is_empty()));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.starts_with("<?xml") && xml.contains("<testsuites"));
    // No API key or private key anywhere: API keys have the form amp_<env>_sk_…, private keys PEM.
    let mut all = std::fs::read_to_string(&json).unwrap() + &xml + &stdout;
    for entry in std::fs::read_dir(&traces).unwrap() {
        all += &std::fs::read_to_string(entry.unwrap().path()).unwrap();
    }
    // The private-key case sends a PKCS#8 PEM on purpose: its armour and body must be redacted.
    assert!(
        !all.contains("-----BEGIN PRIVATE KEY-----"),
        "a private key leaked into a report"
    );
    let key_like = all
        .match_indices("amp_test_sk_")
        .map(|(i, _)| &all[i..(i + 40).min(all.len())])
        .find(|s| !s.contains("REDACTED"));
    assert!(key_like.is_none(), "an API key leaked: {key_like:?}");
    // Capability URLs: the run uploads and downloads attachments through presigned
    // `…/content?token=…` and signed `…/file?token=…` URLs. Whoever reads a report must not
    // be able to use them, so every credential query value is a `[REDACTED…]` marker.
    let leaks = credential_query_values(&all);
    assert!(
        leaks.is_empty(),
        "credential query values leaked: {:?}",
        &leaks[..leaks.len().min(5)]
    );
    // Not vacuous: the attachment cases ran and their URLs were recorded, redacted.
    assert!(
        all.contains("?token=[REDACTED]"),
        "no redacted capability URL in the reports: did the attachment cases run?"
    );
}

/// `name=value` pairs of credential query parameters (after `?`, `&` or `&amp;`) whose value
/// is not a redaction marker. A value is the run of URL-safe characters after the `=`;
/// `[REDACTED]` starts with `[`, so it yields an empty run.
fn credential_query_values(text: &str) -> Vec<String> {
    const NAMES: &[&str] = &[
        "token",
        "sig",
        "signature",
        "x-amz-signature",
        "x-amz-credential",
        "api_key",
        "access_token",
        "key",
    ];
    let lower = text.to_ascii_lowercase();
    let mut leaks = Vec::new();
    for name in NAMES {
        for sep in ["?", "&", "&amp;"] {
            let needle = format!("{sep}{name}=");
            for (i, _) in lower.match_indices(&needle) {
                let start = i + needle.len();
                let value: String = text[start..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || "-._~%+/".contains(*c))
                    .collect();
                if !value.is_empty() {
                    leaks.push(format!("{needle}{value}"));
                }
            }
        }
    }
    leaks
}

#[test]
fn the_leak_check_finds_an_unredacted_capability_url() {
    // The checker itself must be able to fail, or the test above proves nothing.
    let leaked = "PUT http://127.0.0.1:1/v1/attachments/a/content?token=427488b202c0fd40";
    assert_eq!(
        credential_query_values(leaked),
        vec!["?token=427488b202c0fd40".to_string()]
    );
    assert_eq!(
        credential_query_values("x?a=1&amp;X-Amz-Signature=ab12"),
        vec!["&amp;x-amz-signature=ab12".to_string()]
    );
    assert!(
        credential_query_values("GET /f?token=[REDACTED] and ?api_key=[REDACTED:api_key]")
            .is_empty()
    );
}

#[test]
fn strict_ids_envelope_shape_passes_on_the_embedded_mock() {
    // C-12: `--strict-ids` requires lowercase-hex message-id suffixes; the embedded mock
    // generates `msg_<unix>_<16 lowercase hex>`, so the case passes (not merely warns).
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let out = bin()
        .args([
            "run",
            "--seed",
            "12",
            "--strict-ids",
            "--run",
            "route.envelope.shape",
            "--report-json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(
        report["options"]["contradiction_profiles"]["strict-ids"],
        "on"
    );
    let cases = report["cases"].as_array().cloned().unwrap_or_default();
    assert_eq!(cases.len(), 1, "{cases:?}");
    assert_eq!(cases[0]["id"], "route.envelope.shape");
    assert_eq!(cases[0]["verdict"], "pass", "{}", cases[0]);
}

#[test]
fn vectors_command_passes_on_the_corpus_and_fails_on_a_wrong_file() {
    let out = bin().args(["vectors"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.contains(" passed, 0 failed, "), "closing line: {last}");
    let wrong = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../vectors/testdata/wrong-hash.json"
    );
    let out = bin().args(["vectors", wrong]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL"), "{stdout}");
}

#[test]
fn clauses_and_list_work() {
    let out = bin()
        .args(["clauses", "--level", "must", "--contradictions"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("SIG-015") && s.contains("C-01"));
    let out = bin().args(["list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("route.unsigned"));
}

/// `list --section` shows one spec file's cases under its heading, the same grouping as the
/// suite's modules; an unknown section is a usage error that names the real ones.
#[test]
fn list_by_section() {
    let out = bin().args(["list", "--section", "05"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let headings: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ')).collect();
    assert!(headings[0].starts_with("05-routing ("), "{text}");
    assert_eq!(
        headings.len(),
        2,
        "one section heading and the count: {text}"
    );
    assert!(text.contains("ws.auth.first-frame"), "{text}");
    assert!(
        !text.contains("route.unsigned "),
        "04-messages case listed: {text}"
    );

    let out = bin()
        .args(["list", "--section", "99-nothing"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("05-routing") && err.contains("99-nothing"),
        "{err}"
    );
}

#[test]
fn example_config_parses() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../suites/config.example.toml"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let _: toml::Value = toml::from_str(&text).unwrap();
    // And the binary accepts it (against an unreachable target: exit 3, not a config error).
    let out = bin()
        .args([
            "run",
            "--target",
            "http://127.0.0.1:9/v1",
            "--timeout",
            "1",
            "--config",
            path,
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn contradiction_profile_switches_are_validated_and_reported() {
    // An unknown reading is a usage error naming the switch.
    let out = bin()
        .args(["run", "--from-handling", "bogus", "--list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from-handling"));
    let out = bin()
        .args(["run", "--unknown-recipient", "maybe", "--list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // A known reading is accepted, runs, and is recorded in the report's options.
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let out = bin()
        .args([
            "run",
            "--seed",
            "5",
            "--run",
            "route.unknown-recipient",
            "--from-handling",
            "overwrite",
            "--unknown-recipient",
            "reject",
            "--strict-ids",
            "--report-json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let p = &report["options"]["contradiction_profiles"];
    assert_eq!(p["from-handling"], "overwrite");
    assert_eq!(p["unknown-recipient"], "reject");
    assert_eq!(p["strict-ids"], "on");
    assert!(p.get("strict-schema").is_none());
    // The embedded mock declares its shortened timings.
    assert_eq!(report["options"]["timing_ms"]["ws_auth_timeout"], 1000);
}

#[test]
fn config_timing_out_of_range_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("amp.toml");
    std::fs::write(&cfg, "[timing]\nws_auth_timeout = 0\n").unwrap();
    let out = bin()
        .args(["run", "--target", "http://127.0.0.1:9/v1", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("timing.ws_auth_timeout"));
}

#[test]
fn a_declared_reading_the_target_does_not_follow_fails_the_run() {
    // The embedded mock refuses a spoofed `from` with 403 (the `reject` reading of C-11) and
    // an unknown recipient with 404 not_found (`reject` of C-37).
    let run = |extra: &[&str]| {
        let out = bin()
            .args(["run", "--seed", "6", "--run", "route.from.spoofed"])
            .args(["--run", "route.unknown-recipient"])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (code, stdout) = run(&[]);
    assert_eq!(code, Some(0), "{stdout}");
    let (code, stdout) = run(&["--from-handling", "reject", "--unknown-recipient", "reject"]);
    assert_eq!(code, Some(0), "{stdout}");
    let (code, stdout) = run(&["--from-handling", "schema"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("--from-handling schema"), "{stdout}");
    let (code, stdout) = run(&["--unknown-recipient", "queue"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("--unknown-recipient queue"), "{stdout}");
}

/// A vector file of the user's own: one case of the embedded payload_hash.json under a new id.
fn user_vector_file(dir: &std::path::Path, clause: &str) -> std::path::PathBuf {
    let corpus = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../vectors/payload_hash.json"
    );
    let mut file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(corpus).unwrap()).unwrap();
    let mut case = file["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "hash-011")
        .unwrap()
        .clone();
    case["id"] = "mine-011".into();
    case["clauses"] = serde_json::json!([clause]);
    file["cases"] = serde_json::json!([case]);
    let path = dir.join("my_hashes.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
    path
}

#[test]
fn user_vectors_run_live_and_appear_in_the_reports() {
    let dir = tempfile::tempdir().unwrap();
    let mine = user_vector_file(dir.path(), "SIG-008");
    let (json, junit) = (dir.path().join("r.json"), dir.path().join("r.xml"));
    let out = bin()
        .args([
            "run",
            "--seed",
            "3",
            "--run",
            "vector.payload_hash.*",
            "--vectors",
        ])
        .arg(&mine)
        .arg("--report-json")
        .arg(&json)
        .arg("--report-junit")
        .arg(&junit)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let cases = report["cases"].as_array().unwrap();
    assert!(cases.len() > 30, "only {} trials selected", cases.len());
    assert!(cases.iter().all(|c| {
        c["id"]
            .as_str()
            .unwrap()
            .starts_with("vector.payload_hash.")
    }));
    let mine = cases
        .iter()
        .find(|c| c["id"] == "vector.payload_hash.mine-011")
        .expect("the user's vector ran");
    assert_eq!(mine["verdict"], "pass", "{mine}");
    assert_eq!(mine["clauses"], serde_json::json!(["SIG-008"]));
    assert_eq!(mine["level"], "must");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("vector.payload_hash.mine-011"),
        "JUnit lacks the trial"
    );
}

#[test]
fn user_vectors_are_linted_and_vector_trials_can_be_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let bad = user_vector_file(dir.path(), "NOPE-999");
    let out = bin().args(["run", "--vectors"]).arg(&bad).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("do not lint clean") && stderr.contains("NOPE-999"),
        "{stderr}"
    );
    let listed = |extra: &[&str]| {
        let out = bin().args(["run", "--list"]).args(extra).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(listed(&[]).contains("vector.routing.route-030"));
    let without = listed(&["--skip-vectors"]);
    assert!(!without.contains("vector.") && without.contains("route.unsigned"));
}

/// Two quick cases the embedded mock passes; `accept-unsigned` makes them warn (C-40), and
/// declared `--signing required` turns that into a failure.
const SIGNING_CASES: [&str; 4] = [
    "--run",
    "route.unsigned",
    "--run",
    "route.signature.failure-codes",
];

fn run_code(extra: &[&str]) -> (Option<i32>, String, String) {
    let out = bin()
        .args(["run", "--seed", "9", "--skip-vectors"])
        .args(SIGNING_CASES)
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn every_exit_code_through_the_binary() {
    let (code, stdout, _) = run_code(&[]);
    assert_eq!(code, Some(0), "clean: {stdout}");
    // A warning passes, unless --strict.
    let (code, stdout, _) = run_code(&["--defect", "accept-unsigned"]);
    assert_eq!(code, Some(0), "warn: {stdout}");
    assert!(stdout.contains("! route.unsigned"), "{stdout}");
    let (code, stdout, _) = run_code(&["--defect", "accept-unsigned", "--strict"]);
    assert_eq!(code, Some(1), "warn --strict: {stdout}");
    let (code, stdout, _) = run_code(&["--defect", "accept-unsigned", "--signing", "required"]);
    assert_eq!(code, Some(1), "fail: {stdout}");
    // An expected failure passes; the same list on a clean target is stale (xpass) and fails.
    let dir = tempfile::tempdir().unwrap();
    let xfail = dir.path().join("xfail.txt");
    std::fs::write(&xfail, "route.unsigned\nroute.signature.failure-codes\n").unwrap();
    let xfail = xfail.to_str().unwrap();
    let failing = ["--defect", "accept-unsigned", "--signing", "required"];
    let (code, stdout, _) = run_code(&[&failing[..], &["--expected-failures", xfail]].concat());
    assert_eq!(code, Some(0), "xfail: {stdout}");
    let (code, stdout, _) = run_code(&["--expected-failures", xfail]);
    assert_eq!(code, Some(1), "xpass: {stdout}");
    let (code, _, stderr) = run_code(&["--compare", "/nonexistent/previous.json"]);
    assert_eq!(code, Some(2), "{stderr}");
    let out = bin()
        .args(["run", "--target", "http://127.0.0.1:9/v1", "--timeout", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    // A report that cannot be written is 3 as well, before the run (its folder is a file).
    let (code, _, stderr) = run_code(&["--report-html", "/dev/null/report.html"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("/dev/null"), "{stderr}");
    // --help documents them.
    for args in [&["--help"][..], &["run", "--help"]] {
        let out = bin().args(args).output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("Exit codes") && help.contains("  3  "),
            "{args:?}: {help}"
        );
    }
}

#[test]
fn compare_with_a_previous_run_lists_the_changes_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let previous = path("previous.json");
    let (code, stdout, _) = run_code(&["--report-json", &previous]);
    assert_eq!(code, Some(0), "{stdout}");
    let (json, md, html) = (path("now.json"), path("now.md"), path("now.html"));
    let (code, stdout, stderr) = run_code(&[
        "--defect",
        "accept-unsigned",
        "--signing",
        "required",
        "--compare",
        &previous,
        "--report-json",
        &json,
        "--report-md",
        &md,
        "--report-html",
        &html,
    ]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("changes since run") && stdout.contains("2 new failures, 0 fixed"),
        "{stdout}"
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let new: Vec<(&str, &str, &str)> = report["changes"]["new_failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap(),
                c["before"].as_str().unwrap(),
                c["after"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        new,
        [
            ("route.signature.failure-codes", "pass", "fail"),
            ("route.unsigned", "pass", "fail")
        ]
    );
    assert_eq!(report["changes"]["previous"]["source"], previous.as_str());
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(
        md.contains("### Changes since run") && md.contains("| new failures |"),
        "{md}"
    );
    assert!(md.contains("### Failures (2)"), "{md}");
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("id=\"changes\""));
    // The comparison itself does not fail a run: the same comparison on a clean target is 0.
    let (code, stdout, _) = run_code(&["--compare", &json]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("0 new failures, 2 fixed"), "{stdout}");
}

#[test]
fn a_previous_report_of_another_schema_or_a_broken_one_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.json");
    std::fs::write(&old, r#"{"schema":"amp-conformance/report/v0","cases":[]}"#).unwrap();
    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        "{\"schema\": \"amp-conformance/report/v1\", \"cases\": [",
    )
    .unwrap();
    for (file, says) in [(&old, "report/v0"), (&broken, "not a JSON report")] {
        let started = std::time::Instant::now();
        let (code, _, stderr) = run_code(&["--compare", file.to_str().unwrap()]);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(
            stderr.contains(file.to_str().unwrap()) && stderr.contains(says),
            "{stderr}"
        );
        // Checked before the run, not after the suite.
        assert!(started.elapsed().as_secs() < 5);
    }
}

/// Long flags (`--name`) a text mentions.
fn flags_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("--") {
        let tail = &rest[i + 2..];
        let name: String = tail
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '-')
            .collect();
        if name.len() > 1 && name.starts_with(|c: char| c.is_ascii_lowercase()) {
            out.push(format!("--{}", name.trim_end_matches('-')));
        }
        rest = tail;
    }
    out
}

#[test]
fn every_catalogue_profile_is_a_run_flag() {
    // The brief: every reading of a contradiction is a declared profile that exists. A profile
    // in suites/requirements.toml without a `run` flag (or a value `run` does not take) is a
    // promise the binary does not keep; withdraw it in tools/catalogue/contradictions.toml.
    let out = bin().args(["run", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    let cat = amp_catalogue::Catalogue::embedded();
    assert!(!cat.profiles().is_empty());
    for p in cat.profiles() {
        let listed = help
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{} ", p.flag)) || l.trim() == p.flag);
        assert!(
            listed,
            "profile {} names {}, which `run --help` does not list",
            p.name, p.flag
        );
        for v in &p.values {
            assert!(
                help.contains(&format!("- {v}:")) || help.contains(&format!("- {v}\n")),
                "profile {}: `run --help` offers no value `{v}` for {}",
                p.name,
                p.flag
            );
        }
    }
    // Records' summaries and actions are shown to users (clauses, reports): any flag they name
    // must exist too.
    for c in cat.contradictions() {
        let text = format!("{} {}", c.summary, c.action.as_deref().unwrap_or(""));
        for f in flags_in(&text) {
            assert!(
                help.contains(&format!("{f} ")) || help.contains(&format!("{f}\n")),
                "{} names {f}, which `run --help` does not list",
                c.id
            );
        }
    }
}
