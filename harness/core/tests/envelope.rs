//! Route request validation and attachment rules (MSG-003/004/008/014, RTE-024, ATT-004, AFP-001/002).

use amp_core::envelope::validate_any_attachment;
use amp_core::{
    Envelope, Limits, Message, PROTOCOL_VERSION, Priority, RouteRequest, validate_afp_attachment,
    validate_attachment,
};
use serde_json::{Value, json};

fn body() -> Value {
    json!({
        "to": "bob@acme.example.com",
        "subject": "Hi",
        "priority": "high",
        "in_reply_to": "msg_1767225600_abc",
        "signature": "c2ln",
        "payload": {"type": "notification", "message": "Hello", "context": {"k": [1, 2]}},
        "options": {"receipt": true},
        "idempotency_key": "k1"
    })
}

fn err(v: &Value) -> amp_core::RouteError {
    match RouteRequest::from_value(v, &Limits::default()) {
        Ok(r) => panic!("expected an error, got {r:?}"),
        Err(e) => e,
    }
}

fn with(path: &[&str], value: Value) -> Value {
    let mut b = body();
    let mut cur = &mut b;
    for p in &path[..path.len() - 1] {
        cur = &mut cur[*p];
    }
    if let Some(o) = cur.as_object_mut() {
        if value.is_null() {
            o.remove(path[path.len() - 1]);
        } else {
            o.insert(path[path.len() - 1].to_string(), value);
        }
    }
    b
}

#[test]
fn accepts_a_full_body() {
    let r = RouteRequest::from_value(&body(), &Limits::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.to, "bob@acme.example.com");
    assert_eq!(r.priority, Some(Priority::High));
    assert_eq!(r.options.and_then(|o| o.receipt), Some(true));
    assert_eq!(r.in_reply_to.as_deref(), Some("msg_1767225600_abc"));
    assert_eq!(r.from, None);
}

#[test]
fn keeps_spoofed_provider_fields() {
    let mut b = body();
    b["from"] = json!("mallory@evil.example.com");
    b["id"] = json!(42);
    b["timestamp"] = json!("2020-01-01T00:00:00Z");
    let r = RouteRequest::from_value(&b, &Limits::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.from.as_deref(), Some("mallory@evil.example.com"));
    assert_eq!(r.id.as_deref(), Some("42"));
    assert_eq!(r.timestamp.as_deref(), Some("2020-01-01T00:00:00Z"));
}

#[test]
fn missing_and_invalid_fields() {
    let cases: Vec<(Value, &str, Option<&str>, &str)> = vec![
        (json!([1]), "invalid_request", None, "RTE-002"),
        (
            with(&["to"], Value::Null),
            "missing_field",
            Some("to"),
            "RTE-002",
        ),
        (
            with(&["to"], json!(5)),
            "invalid_field",
            Some("to"),
            "RTE-002",
        ),
        (
            with(&["subject"], Value::Null),
            "missing_field",
            Some("subject"),
            "MSG-003",
        ),
        (
            with(&["subject"], json!("")),
            "invalid_field",
            Some("subject"),
            "MSG-003",
        ),
        (
            with(&["priority"], json!("HIGH")),
            "invalid_field",
            Some("priority"),
            "MSG-004",
        ),
        (
            with(&["priority"], json!(1)),
            "invalid_field",
            Some("priority"),
            "MSG-004",
        ),
        (
            with(&["signature"], json!(1)),
            "invalid_field",
            Some("signature"),
            "SIG-007",
        ),
        (
            with(&["options"], json!({"receipt": "yes"})),
            "invalid_field",
            Some("options.receipt"),
            "RTE-024",
        ),
        (
            with(&["options"], json!({"ttl": 5})),
            "invalid_field",
            Some("options.ttl"),
            "RTE-024",
        ),
        (
            with(&["options"], json!([])),
            "invalid_field",
            Some("options"),
            "RTE-024",
        ),
        (
            with(&["payload"], Value::Null),
            "missing_field",
            Some("payload"),
            "MSG-008",
        ),
        (
            with(&["payload"], json!("x")),
            "invalid_field",
            Some("payload"),
            "JSON-004",
        ),
        (
            with(&["payload", "type"], Value::Null),
            "missing_field",
            Some("payload.type"),
            "MSG-008",
        ),
        (
            with(&["payload", "message"], Value::Null),
            "missing_field",
            Some("payload.message"),
            "MSG-008",
        ),
        (
            with(&["payload", "message"], json!(1)),
            "invalid_field",
            Some("payload.message"),
            "MSG-008",
        ),
        (
            with(&["payload", "context"], json!([1])),
            "invalid_field",
            Some("payload.context"),
            "MSG-008",
        ),
        (
            with(&["payload", "attachments"], json!({})),
            "invalid_field",
            Some("payload.attachments"),
            "MSG-008",
        ),
        (
            with(&["payload", "attachments"], json!([{"storage": "afp"}])),
            "invalid_field",
            Some("payload.attachments[0].filename"),
            "AFP-001",
        ),
    ];
    for (v, code, field, rule) in cases {
        let e = err(&v);
        assert_eq!(
            (e.status, e.code, e.field.as_deref(), e.rule),
            (400, code, field, rule),
            "{v}"
        );
    }
}

#[test]
fn null_optional_fields_are_absent() {
    let b = with(&["in_reply_to"], json!(null));
    let mut b2 = b.clone();
    b2["in_reply_to"] = Value::Null;
    b2["priority"] = Value::Null;
    let r = RouteRequest::from_value(&b2, &Limits::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((r.in_reply_to, r.priority), (None, None));
}

#[test]
fn subject_boundary_counts_characters() {
    let ok = with(&["subject"], json!("é".repeat(256)));
    assert!(RouteRequest::from_value(&ok, &Limits::default()).is_ok());
    let e = err(&with(&["subject"], json!("a".repeat(257))));
    assert_eq!((e.field.as_deref(), e.rule), (Some("subject"), "MSG-003"));
}

#[test]
fn size_limits() {
    let l = Limits::default();
    let ok = with(&["payload", "message"], json!("a".repeat(65_536)));
    assert!(RouteRequest::from_value(&ok, &l).is_ok());
    let e = err(&with(&["payload", "message"], json!("a".repeat(65_537))));
    assert_eq!(
        (e.field.as_deref(), e.rule),
        (Some("payload.message"), "MSG-014")
    );
    let big_ctx = json!({"x": "a".repeat(262_144)});
    let e = err(&with(&["payload", "context"], big_ctx));
    assert_eq!(
        (e.field.as_deref(), e.rule),
        (Some("payload.context"), "MSG-014")
    );
    // Under each part's limit, over the total.
    let mut b = with(&["payload", "context"], json!({"x": "a".repeat(250_000)}));
    b["payload"]["other"] = json!("b".repeat(280_000));
    let e = err(&b);
    assert_eq!(
        (e.field.as_deref(), e.rule, e.code),
        (Some("payload"), "MSG-014", "invalid_field")
    );
}

#[test]
fn from_body_layers() {
    let l = Limits::default();
    let e = RouteRequest::from_body(&vec![b' '; l.http_body_bytes + 1], &l).err();
    assert_eq!(
        e.map(|e| (e.status, e.code)),
        Some((413, "request_too_large"))
    );
    let e = RouteRequest::from_body(br#"{"to":"a","to":"b"}"#, &l).err();
    assert_eq!(
        e.map(|e| (e.status, e.code, e.rule)),
        Some((400, "invalid_request", "JSON-003"))
    );
    let e = RouteRequest::from_body(b"{\"n\":NaN}", &l).err();
    assert_eq!(e.map(|e| e.rule), Some("JSON-005"));
    let text = serde_json::to_vec(&body()).unwrap_or_default();
    assert!(RouteRequest::from_body(&text, &l).is_ok());
}

fn att() -> Value {
    json!({
        "id": "att_1767225600_a1b2c3",
        "filename": "report.pdf",
        "content_type": "application/pdf",
        "size": 0,
        "digest": format!("sha256:{}", "ab".repeat(32)),
        "url": "https://files.example.com/att_1767225600_a1b2c3",
        "scan_status": "clean",
        "uploaded_at": "2026-01-01T00:00:00Z",
        "expires_at": "2026-01-08T00:00:00Z"
    })
}

fn afp() -> Value {
    json!({
        "storage": "afp",
        "filename": "data.csv",
        "content_type": "text/csv",
        "size": 31_457_280,
        "digest": format!("sha256:{}", "0f".repeat(32)),
        "ref": "afp://team-1/reports/2026/data.csv"
    })
}

fn set(mut v: Value, k: &str, x: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        if x.is_null() {
            o.remove(k);
        } else {
            o.insert(k.to_string(), x);
        }
    }
    v
}

#[test]
fn provider_attachment_rules() {
    assert_eq!(validate_attachment(&att()), Ok(()));
    assert_eq!(
        validate_attachment(&set(att(), "storage", json!("provider"))),
        Ok(())
    );
    let bad: Vec<(&str, Value, &str)> = vec![
        ("id", json!("att_x_ab"), "ATT-004"),
        ("id", json!("att_1_AB"), "ATT-004"),
        ("id", json!("att_1_ab/../x"), "ATT-010"),
        ("filename", json!("../etc/passwd"), "ATT-009"),
        ("filename", json!("a\\b"), "ATT-009"),
        ("filename", json!("a\u{7}b"), "ATT-009"),
        ("filename", json!("x".repeat(256)), "ATT-004"),
        ("filename", json!(""), "ATT-004"),
        ("content_type", json!("pdf"), "ATT-004"),
        ("size", json!(1.0), "JSON-006"),
        ("size", json!(-1), "ATT-004"),
        ("size", json!("1"), "JSON-006"),
        (
            "digest",
            json!(format!("md5:{}", "ab".repeat(16))),
            "ATT-017",
        ),
        (
            "digest",
            json!(format!("sha256:{}", "AB".repeat(32))),
            "ATT-004",
        ),
        ("url", json!("ftp://x"), "ATT-004"),
        ("scan_status", json!("ok"), "ATT-008"),
        ("uploaded_at", json!("yesterday"), "ATT-004"),
        ("expires_at", json!("2025-01-01T00:00:00Z"), "ATT-005"),
        ("storage", json!("s3"), "ATT-001"),
        ("url", Value::Null, "ATT-004"),
    ];
    for (field, value, rule) in bad {
        let e = validate_attachment(&set(att(), field, value.clone())).err();
        assert_eq!(
            e.as_ref().map(|e| (e.field(), e.rule())),
            Some((Some(field), rule)),
            "{field}={value}: {e:?}"
        );
    }
    assert!(validate_attachment(&json!("x")).is_err());
}

#[test]
fn afp_attachment_rules() {
    assert_eq!(validate_afp_attachment(&afp()), Ok(()));
    assert_eq!(validate_any_attachment(&afp()), Ok(()));
    assert_eq!(validate_any_attachment(&att()), Ok(()));
    let opt = set(afp(), "endpoint", json!("https://afp.example.com"));
    assert_eq!(validate_afp_attachment(&opt), Ok(()));
    for bad_ref in [
        "afp:/team/x",
        "afp://Team/x",
        "afp://-team/x",
        "afp://team/",
        "afp://team//x",
        "afp://team/a//b",
        "afp://team/../x",
        "afp://team/a b",
        "afp://team",
    ] {
        let e = validate_afp_attachment(&set(afp(), "ref", json!(bad_ref))).err();
        assert_eq!(e.map(|e| e.rule()), Some("AFP-002"), "{bad_ref}");
    }
    let long = format!("afp://t/{}", "a".repeat(513));
    assert!(validate_afp_attachment(&set(afp(), "ref", json!(long))).is_err());
    for field in ["id", "scan_status", "uploaded_at", "expires_at"] {
        let e = validate_afp_attachment(&set(afp(), field, json!("x"))).err();
        assert_eq!(
            e.map(|e| (e.field(), e.rule())),
            Some((Some(field), "AFP-001"))
        );
    }
    assert!(validate_afp_attachment(&set(afp(), "storage", Value::Null)).is_err());
}

#[test]
fn envelope_serialisation_omits_absent_optionals() {
    let env = Envelope {
        version: PROTOCOL_VERSION.to_string(),
        id: "msg_1767225600_abc".into(),
        from: "alice@acme.example.com".into(),
        to: "bob@acme.example.com".into(),
        subject: "Hi".into(),
        priority: Priority::Normal,
        timestamp: "2026-01-01T00:00:00Z".into(),
        signature: "c2ln".into(),
        thread_id: "msg_1767225600_abc".into(),
        in_reply_to: None,
        expires_at: None,
        idempotency_key: None,
    };
    let msg = Message {
        envelope: env,
        payload: json!({"type": "t", "message": "m"}),
    };
    let v = serde_json::to_value(&msg).unwrap_or_default();
    let e = &v["envelope"];
    assert!(e.get("in_reply_to").is_none() && e.get("expires_at").is_none());
    assert_eq!(e["priority"], "normal");
    let back: Message = serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, msg);
}
