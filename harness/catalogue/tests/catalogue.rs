//! The embedded catalogue against the numbers the research catalogue states, plus
//! the loader's refusals and the coverage arithmetic.

use std::collections::HashSet;

use amp_catalogue::{
    Catalogue, CatalogueError, ClauseFilter, Flag, Handling, IdKind, Level, Problem, Testability,
};

/// §3.1 of spec-catalogue.md: "Total requirement rows: 423".
const MD_ROWS: usize = 423;
/// §3.1: "Contradiction/ambiguity records in §2: 68" (C-01..C-75 minus 7 merged numbers).
const MD_CONTRADICTIONS: usize = 68;

/// §3.2 "The 25 requirements to test first", in the md's order.
const TEST_FIRST: [&str; 25] = [
    "SIG-008",
    "SIG-007",
    "SIG-015",
    "SIG-016",
    "SIG-002",
    "SIG-013",
    "MESH-012",
    "API-002",
    "REG-007",
    "REV-002",
    "WS-006",
    "WS-001",
    "WH-012",
    "WH-002",
    "FED-003",
    "FED-020",
    "REPLAY-005",
    "IDEM-004",
    "SIG-006",
    "JSON-003",
    "API-009",
    "ATT-010",
    "RTE-006",
    "RTE-015",
    "TRUST-002",
];

#[test]
fn embedded_catalogue_parses_and_validates() {
    let cat = match Catalogue::try_embedded() {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(cat.meta().spec_repo, "agentmessaging/protocol");
    assert_eq!(cat.meta().catalogue_version, "2026-11-25");
    assert_eq!(
        cat.meta()
            .spec_revision
            .get("spec/04-messages.md")
            .map(String::as_str),
        Some("ab68a027")
    );
    // embedded() hands out the same parsed instance every time
    assert!(std::ptr::eq(Catalogue::embedded(), Catalogue::embedded()));
}

#[test]
fn row_count_matches_the_markdown() {
    let cat = Catalogue::embedded();
    assert_eq!(cat.requirements().len(), MD_ROWS);
    assert_eq!(cat.meta().expected_count, Some(MD_ROWS));
    let ids: HashSet<&str> = cat.requirements().iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), MD_ROWS, "requirement ids are unique");
}

#[test]
fn contradiction_count_matches_the_markdown() {
    let cat = Catalogue::embedded();
    assert_eq!(cat.contradictions().len(), MD_CONTRADICTIONS);
    assert_eq!(cat.meta().expected_contradictions, Some(MD_CONTRADICTIONS));
    // numbering gaps are merged records, per the md's numbering note
    for gap in ["C-51", "C-57", "C-59", "C-62", "C-63", "C-69", "C-73"] {
        assert!(cat.contradiction(gap).is_none(), "{gap} should not exist");
    }
    assert!(cat.contradiction("C-01").is_some());
    assert!(cat.contradiction("C-75").is_some());
}

#[test]
fn level_and_testability_counts_match_the_markdown() {
    let cat = Catalogue::embedded();
    let count = |l: Level| cat.requirements().iter().filter(|r| r.level == l).count();
    // §3.1 level table
    assert_eq!(count(Level::Must), 301);
    assert_eq!(count(Level::MustNot), 19);
    assert_eq!(count(Level::Should), 72);
    assert_eq!(count(Level::ShouldNot), 1);
    assert_eq!(count(Level::May), 30);
    assert_eq!(
        cat.requirements().iter().filter(|r| r.implicit).count(),
        179
    );
    // §3.1: "37 rows combine keywords"
    assert_eq!(
        cat.requirements()
            .iter()
            .filter(|r| r.level_text.as_deref().is_some_and(|t| t.contains('/')))
            .count(),
        37
    );
    let tcount = |t: Testability| {
        cat.requirements()
            .iter()
            .filter(|r| r.testability == t)
            .count()
    };
    assert_eq!(tcount(Testability::Vector), 30);
    assert_eq!(tcount(Testability::Blackbox), 201);
    assert_eq!(tcount(Testability::Receiver), 33);
    assert_eq!(tcount(Testability::Federation), 30);
    assert_eq!(tcount(Testability::Bus), 39);
    assert_eq!(tcount(Testability::Untestable), 90);
    assert_eq!(cat.testable().count(), MD_ROWS - 90);
    // §3.1: "MUST / MUST NOT rows the provider-facing suite can test: 263 of 320"
    let required: Vec<_> = cat
        .requirements()
        .iter()
        .filter(|r| r.level.is_required())
        .collect();
    assert_eq!(required.len(), 320);
    assert_eq!(required.iter().filter(|r| r.is_testable()).count(), 263);
    // §3.1: 36 untestable rows are C-mode duties
    assert_eq!(
        cat.requirements()
            .iter()
            .filter(|r| r.testability == Testability::Untestable && r.has_flag(Flag::CMode))
            .count(),
        36
    );
    // the two bus designs: 24 FS rows, 16 UDS rows
    assert_eq!(
        cat.requirements()
            .iter()
            .filter(|r| r.has_flag(Flag::BusFs))
            .count(),
        24
    );
    assert_eq!(
        cat.requirements()
            .iter()
            .filter(|r| r.has_flag(Flag::BusUds))
            .count(),
        16
    );
}

#[test]
fn test_first_ids_exist() {
    let cat = Catalogue::embedded();
    for id in TEST_FIRST {
        let r = cat
            .requirement(id)
            .unwrap_or_else(|| panic!("§3.2 lists {id}, which is not in the catalogue"));
        assert!(
            r.is_testable(),
            "{id} is in the test-first list but untestable"
        );
    }
    let meta: Vec<&str> = cat.meta().test_first.iter().map(String::as_str).collect();
    assert_eq!(meta, TEST_FIRST);
}

#[test]
fn spot_checks_of_converted_rows() {
    let cat = Catalogue::embedded();
    let r = cat.requirement("SIG-015").expect("SIG-015");
    assert_eq!(r.section, "04-messages");
    assert_eq!(r.level, Level::Must);
    assert!(r.implicit);
    assert_eq!(r.testability, Testability::Blackbox);
    assert!(r.summary.contains("403 signature_invalid"));
    assert_eq!(r.level_label(), "MUST*");

    let r = cat.requirement("SIG-013").expect("SIG-013");
    assert_eq!(r.contradictions, ["C-11"]);

    let r = cat.requirement("SIG-008").expect("SIG-008");
    for c in ["C-01", "C-02", "C-03", "C-04"] {
        assert!(r.contradictions.iter().any(|x| x == c), "SIG-008 cites {c}");
    }

    let r = cat.requirement("QTN-003").expect("QTN-003");
    assert_eq!(r.level, Level::Should);
    assert_eq!(r.level_text.as_deref(), Some("SHOULD / MAY / MUST"));

    let r = cat.requirement("WS-014").expect("WS-014");
    assert!(r.has_flag(Flag::Admin));
    assert_eq!(r.testability, Testability::Receiver);

    let r = cat.requirement("NOTIFY-001").expect("NOTIFY-001");
    assert_eq!(r.capability.as_deref(), Some("notify:v1"));
    let r = cat.requirement("NOTIFY-008").expect("NOTIFY-008");
    assert_eq!(r.capability.as_deref(), Some("notify:longpoll"));
    let r = cat.requirement("NOTIFY-017").expect("NOTIFY-017");
    assert_eq!(r.capability, None, "12.7 row is explicitly not gated");
    let r = cat.requirement("AFP-003").expect("AFP-003");
    assert_eq!(r.capability.as_deref(), Some("attachments:afp"));

    let r = cat.requirement("APPX-004").expect("APPX-004");
    assert_eq!(r.section, "attachment-guide");
    let r = cat.requirement("BUSU-001").expect("BUSU-001");
    assert!(r.has_flag(Flag::BusUds));
    let r = cat.requirement("IDEM-006").expect("IDEM-006");
    assert_eq!(r.binds, ["sending provider", "receiving provider"]);
}

#[test]
fn contradiction_handling_and_profiles() {
    let cat = Catalogue::embedded();
    for id in ["C-01", "C-02", "C-03", "C-04"] {
        let c = cat.contradiction(id).expect(id);
        assert_eq!(c.handling, Handling::Profile);
        assert_eq!(c.profile.as_deref(), Some("payload-profile"));
        assert!(c.clauses.iter().any(|x| x == "SIG-008"));
    }
    for (id, profile) in [
        ("C-11", "from-handling"),
        ("C-12", "strict-ids"),
        ("C-19", "fingerprint"),
        ("C-35", "risk"),
        ("C-37", "unknown-recipient"),
        ("C-40", "signing"),
    ] {
        assert_eq!(
            cat.contradiction(id).and_then(|c| c.profile.as_deref()),
            Some(profile),
            "{id}"
        );
    }
    // No case can judge these, so they are not profiles (no flag that would do nothing): the
    // split is recorded (C-15), there is no Local Bus suite (C-49), no TLS case (C-39).
    for (id, handling) in [
        ("C-15", Handling::Info),
        ("C-49", Handling::Skip),
        ("C-39", Handling::Skip),
    ] {
        let c = cat.contradiction(id).expect(id);
        assert_eq!((c.handling, c.profile.as_deref()), (handling, None), "{id}");
    }
    // Exactly the readings `amp-conformance run` takes (its tests check the flags exist).
    let names: Vec<&str> = cat.profiles().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "payload-profile",
            "from-handling",
            "strict-ids",
            "fingerprint",
            "signing",
            "unknown-recipient",
            "risk",
            "strict-schema"
        ]
    );
    let risk = cat.profile("risk").expect("risk");
    assert_eq!((risk.default.as_str(), risk.values.len()), ("clamp100", 2));
    let p = cat.profile("payload-profile").expect("payload profile");
    assert_eq!(p.flag, "--profile");
    assert_eq!(p.default, "sorted");
    assert_eq!(p.values, ["sorted", "jcs", "python-ascii", "insertion"]);
    assert!(cat.profile("strict-ids").is_some_and(|p| p.is_switch()));
    // every record touches at least one requirement and has a summary
    for c in cat.contradictions() {
        assert!(!c.clauses.is_empty(), "{} has no clauses", c.id);
        assert!(!c.summary.trim().is_empty(), "{} has no summary", c.id);
    }
    // every C-ref of a row is also reachable from the record side
    let touching: Vec<_> = cat
        .contradictions_for("SIG-013")
        .map(|c| c.id.as_str())
        .collect();
    assert!(touching.contains(&"C-11"));
}

#[test]
fn is_known_and_lookups() {
    let cat = Catalogue::embedded();
    assert!(cat.is_known("SIG-015"));
    assert!(cat.is_known("C-11"));
    assert!(!cat.is_known("SIG-999"));
    assert!(!cat.is_known("C-51"));
    assert!(!cat.is_known("sig-015"));
    assert!(cat.requirement("C-11").is_none());
    assert!(cat.contradiction("SIG-015").is_none());
}

// ---------------------------------------------------------------- broken catalogues

const MINI: &str = r#"
[meta]
spec_repo = "agentmessaging/protocol"
catalogue_version = "test"
expected_count = 3
expected_contradictions = 1

[[requirement]]
id = "SIG-001"
section = "04-messages"
heading = "Message Signing"
level = "MUST"
binds = ["client"]
testability = "blackbox"
contradictions = ["C-01"]
summary = "a"

[[requirement]]
id = "SIG-002"
section = "04-messages"
heading = "Message Signing"
level = "SHOULD"
binds = ["provider"]
testability = "vector"
summary = "b"

[[requirement]]
id = "ADDR-001"
section = "02-identity"
heading = "Grammar"
level = "MUST NOT"
binds = ["provider"]
testability = "untestable"
summary = "c"

[[contradiction]]
id = "C-01"
title = "t"
clauses = ["SIG-001"]
handling = "profile"
profile = "payload-profile"
summary = "s"

[[profile]]
name = "payload-profile"
flag = "--profile"
values = ["sorted", "jcs"]
default = "sorted"
contradictions = ["C-01"]
"#;

fn problems(text: &str) -> Vec<Problem> {
    match Catalogue::from_toml_str(text) {
        Ok(_) => panic!("catalogue should have been refused"),
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.is_empty());
            e.problems().to_vec()
        }
    }
}

#[test]
fn mini_catalogue_is_valid() {
    let cat = Catalogue::from_toml_str(MINI).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cat.requirements().len(), 3);
    assert_eq!(cat.testable().count(), 2);
}

#[test]
fn duplicate_id_is_refused() {
    let text = MINI.replace("id = \"SIG-002\"", "id = \"SIG-001\"");
    let p = problems(&text);
    assert_eq!(
        p,
        [Problem::DuplicateId {
            id: "SIG-001".into()
        }]
    );
    let e = Catalogue::from_toml_str(&text).expect_err("duplicate");
    assert!(e.to_string().contains("SIG-001"), "{e}");
}

#[test]
fn unknown_level_is_refused_with_the_row_id() {
    let text = MINI.replace("level = \"SHOULD\"", "level = \"OUGHT\"");
    let p = problems(&text);
    assert_eq!(
        p,
        [Problem::UnknownLevel {
            id: "SIG-002".into(),
            value: "OUGHT".into()
        }]
    );
    let msg = p[0].to_string();
    assert!(msg.contains("SIG-002") && msg.contains("MUST NOT"), "{msg}");
}

#[test]
fn unknown_testability_and_flag_are_refused() {
    let text = MINI
        .replace("testability = \"vector\"", "testability = \"fuzz\"")
        .replace(
            "testability = \"untestable\"",
            "testability = \"untestable\"\nflags = [\"admn\"]",
        );
    let p = problems(&text);
    assert!(p.contains(&Problem::UnknownTestability {
        id: "SIG-002".into(),
        value: "fuzz".into()
    }));
    assert!(p.contains(&Problem::UnknownFlag {
        id: "ADDR-001".into(),
        value: "admn".into()
    }));
}

#[test]
fn dangling_contradiction_reference_is_refused() {
    let text = MINI.replace(
        "contradictions = [\"C-01\"]\nsummary = \"a\"",
        "contradictions = [\"C-99\"]\nsummary = \"a\"",
    );
    let p = problems(&text);
    assert_eq!(
        p,
        [Problem::DanglingContradiction {
            requirement: "SIG-001".into(),
            contradiction: "C-99".into()
        }]
    );
    assert!(p[0].to_string().contains("SIG-001 cites C-99"));
}

#[test]
fn dangling_clause_is_refused() {
    let text = MINI.replace(
        "clauses = [\"SIG-001\"]",
        "clauses = [\"SIG-001\", \"SIG-404\"]",
    );
    assert_eq!(
        problems(&text),
        [Problem::DanglingClause {
            contradiction: "C-01".into(),
            clause: "SIG-404".into()
        }]
    );
}

#[test]
fn malformed_ids_are_refused() {
    let text = MINI
        .replace("id = \"ADDR-001\"", "id = \"addr-1\"")
        .replace("C-01", "C-1");
    let p = problems(&text);
    assert!(p.contains(&Problem::MalformedId {
        id: "addr-1".into(),
        kind: IdKind::Requirement
    }));
    assert!(p.contains(&Problem::MalformedId {
        id: "C-1".into(),
        kind: IdKind::Contradiction
    }));
}

#[test]
fn profile_consistency_is_checked() {
    let text = MINI.replace("profile = \"payload-profile\"", "profile = \"nope\"");
    assert!(problems(&text).contains(&Problem::UnknownProfile {
        contradiction: "C-01".into(),
        profile: "nope".into()
    }));
    let text = MINI.replace("handling = \"profile\"", "handling = \"warning\"");
    let p = problems(&text);
    assert!(p.contains(&Problem::ProfileUnexpected {
        contradiction: "C-01".into(),
        handling: Handling::Warning
    }));
    let text = MINI.replace("handling = \"profile\"", "handling = \"maybe\"");
    assert!(problems(&text).contains(&Problem::UnknownHandling {
        id: "C-01".into(),
        value: "maybe".into()
    }));
    let text = MINI.replace("default = \"sorted\"", "default = \"ascii\"");
    assert!(problems(&text).contains(&Problem::ProfileDefault {
        name: "payload-profile".into(),
        default: "ascii".into()
    }));
}

#[test]
fn count_mismatch_and_toml_errors_are_refused() {
    let text = MINI.replace("expected_count = 3", "expected_count = 423");
    assert_eq!(
        problems(&text),
        [Problem::CountMismatch {
            what: "requirements",
            expected: 423,
            actual: 3
        }]
    );
    match Catalogue::from_toml_str("[meta\nspec_repo = 1") {
        Err(CatalogueError::Toml(_)) => {}
        other => panic!("expected a TOML error, got {other:?}"),
    }
    // a misspelt field name is a TOML-level error, not silently ignored
    match Catalogue::from_toml_str(
        &MINI.replace("summary = \"b\"", "summary = \"b\"\nsumary = \"x\""),
    ) {
        Err(CatalogueError::Toml(msg)) => assert!(msg.contains("sumary"), "{msg}"),
        other => panic!("expected a TOML error, got {other:?}"),
    }
}

#[test]
fn several_problems_are_all_reported() {
    let text = MINI
        .replace("level = \"SHOULD\"", "level = \"OUGHT\"")
        .replace("clauses = [\"SIG-001\"]", "clauses = [\"SIG-404\"]");
    assert_eq!(problems(&text).len(), 2);
}

// ---------------------------------------------------------------- coverage

#[test]
fn coverage_math_on_a_small_catalogue() {
    let cat = Catalogue::from_toml_str(MINI).unwrap_or_else(|e| panic!("{e}"));
    let cov = cat.coverage(["SIG-001", "SIG-001", "C-01", "ADDR-001", "NOPE-001"]);
    assert_eq!(cov.total(), 2, "ADDR-001 is untestable and not counted");
    assert_eq!(cov.covered_count(), 1);
    assert_eq!(cov.uncovered_count(), 1);
    assert!((cov.percent() - 50.0).abs() < 1e-9);
    assert_eq!(cov.required(), (1, 1));
    assert_eq!(cov.uncovered_required().count(), 0);
    assert_eq!(cov.unknown, ["NOPE-001"]);
    assert_eq!(cov.untestable, ["ADDR-001"]);
    assert_eq!(cov.contradictions, ["C-01"]);
    assert!(cov.is_covered("SIG-001"));
    assert!(!cov.is_covered("SIG-002"));
    assert_eq!(cov.groups.len(), 2);
    assert_eq!(cov.groups[0].section, "04-messages");
    assert_eq!(cov.groups[0].level, Level::Must);
    assert_eq!(cov.groups[0].covered, ["SIG-001"]);
    assert_eq!(cov.groups[1].level, Level::Should);
    assert_eq!(cov.groups[1].uncovered, ["SIG-002"]);

    let empty = cat.coverage(std::iter::empty());
    assert_eq!(empty.covered_count(), 0);
    assert_eq!(empty.percent(), 0.0);
    assert_eq!(empty.uncovered_required().collect::<Vec<_>>(), ["SIG-001"]);
}

#[test]
fn coverage_of_the_embedded_catalogue() {
    let cat = Catalogue::embedded();
    let cov = cat.coverage(TEST_FIRST);
    assert_eq!(cov.total(), MD_ROWS - 90);
    assert_eq!(cov.covered_count(), 25);
    assert!(cov.unknown.is_empty());
    let (req_cov, req_total) = cov.required();
    assert_eq!(req_total, 263);
    assert!(
        req_cov < 25,
        "FED-020 is a SHOULD, so not all 25 are required"
    );
    let all: Vec<&str> = cat.testable().map(|r| r.id.as_str()).collect();
    let full = cat.coverage(all.iter().copied());
    assert_eq!(full.uncovered_count(), 0);
    assert!((full.percent() - 100.0).abs() < 1e-9);
    // groups partition the testable set
    let grouped: usize = cov.groups.iter().map(|g| g.total()).sum();
    assert_eq!(grouped, cov.total());
}

// ---------------------------------------------------------------- rendering

#[test]
fn render_table_filters_and_lists_contradictions() {
    let cat = Catalogue::embedded();
    let filter = ClauseFilter {
        levels: vec![Level::Must],
        testabilities: vec![Testability::Blackbox],
        sections: vec!["04-messages".into()],
        contradictions: true,
        ..ClauseFilter::default()
    };
    let out = cat.render_table(&filter);
    let expected_rows = cat
        .requirements()
        .iter()
        .filter(|r| {
            r.level == Level::Must
                && r.testability == Testability::Blackbox
                && r.section == "04-messages"
        })
        .count();
    assert!(expected_rows > 10);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("ID"));
    let body: Vec<&&str> = lines[1..]
        .iter()
        .take_while(|l| !l.contains("requirement(s)"))
        .collect();
    assert_eq!(body.len(), expected_rows);
    assert!(
        body.iter()
            .any(|l| l.starts_with("SIG-015 ") && l.contains("MUST*") && l.contains("blackbox"))
    );
    assert!(
        !out.contains("\nADDR-001 "),
        "02-identity rows are filtered out"
    );
    assert!(out.contains("C-11"), "SIG-013's contradiction is listed");
    assert!(out.contains("profile from-handling"));
    assert!(
        !out.contains("C-49"),
        "bus contradiction does not touch 04 rows"
    );

    let none = cat.render_table(&ClauseFilter {
        sections: vec!["99".into()],
        ..ClauseFilter::default()
    });
    assert!(none.starts_with("no requirements match"));

    let narrow = cat.render_table(&ClauseFilter {
        sections: vec!["04".into()],
        width: Some(60),
        ..ClauseFilter::default()
    });
    for l in narrow.lines().filter(|l| l.starts_with("MSG-")) {
        assert!(l.chars().count() <= 60, "{l}");
    }
}

#[test]
fn cli_spellings_parse() {
    assert_eq!("must".parse::<Level>(), Ok(Level::Must));
    assert_eq!("must-not".parse::<Level>(), Ok(Level::MustNot));
    assert_eq!("MUST NOT".parse::<Level>(), Ok(Level::MustNot));
    assert_eq!("should_not".parse::<Level>(), Ok(Level::ShouldNot));
    assert!("ought".parse::<Level>().is_err());
    assert_eq!("BlackBox".parse::<Testability>(), Ok(Testability::Blackbox));
    assert!("fuzz".parse::<Testability>().is_err());
    assert_eq!("c-mode".parse::<Flag>(), Ok(Flag::CMode));
    assert_eq!(Level::MustNot.to_string(), "MUST NOT");
    assert!(Level::MustNot.is_required());
    assert!(!Level::Should.is_required());
    assert_eq!(Testability::Federation.to_string(), "federation");
}
