//! Property tests: canonicalisation never panics, Sorted == JCS, and every profile is a fixed
//! point (canonicalising the strictly parsed canonical output gives identical bytes).

use amp_core::envelope::Limits;
use amp_core::{PayloadProfile, RouteRequest, canonical_payload, parse_strict};
use proptest::prelude::*;
use serde_json::{Map, Number, Value};

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| Value::Number(i.into())),
        any::<u64>().prop_map(|u| Value::Number(u.into())),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        prop_oneof![
            Just(1e21),
            Just(1e-7),
            Just(1.0),
            Just(-0.0),
            Just(5e-324),
            Just(1e16),
            Just(1e-5)
        ]
        .prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        any::<String>().prop_map(Value::String),
        "[\\x00-\\x1f\\x7f\"\\\\\u{2028}\u{2029}a\u{e9}\u{1f600}\u{ff61}]{0,8}"
            .prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn object() -> impl Strategy<Value = Value> {
    prop::collection::vec(("[a-z\u{e9}\u{1f600}\u{ff61}]{0,4}", value()), 0..6)
        .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn canonical_never_panics(v in value()) {
        for p in PayloadProfile::ALL {
            let r = canonical_payload(&v, p);
            prop_assert_eq!(r.is_ok(), v.is_object());
        }
    }

    #[test]
    fn sorted_equals_jcs(v in object()) {
        let sorted = canonical_payload(&v, PayloadProfile::Sorted);
        let jcs = canonical_payload(&v, PayloadProfile::Jcs);
        prop_assert!(sorted.is_ok());
        prop_assert_eq!(sorted, jcs);
    }

    #[test]
    fn every_profile_is_a_fixed_point(v in object()) {
        for p in PayloadProfile::ALL {
            let once = canonical_payload(&v, p).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let parsed = parse_strict(&once)
                .map_err(|e| TestCaseError::fail(format!("{p}: {e}: {}", String::from_utf8_lossy(&once))))?;
            let twice = canonical_payload(&parsed, p).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&once, &twice, "{}", p);
            if p == PayloadProfile::PythonAscii {
                prop_assert!(once.iter().all(|b| (0x20..0x7f).contains(b)), "python-ascii must be printable ASCII");
            }
        }
    }

    #[test]
    fn route_from_value_never_panics(v in value()) {
        let _ = RouteRequest::from_value(&v, &Limits::default());
    }

    #[test]
    fn route_from_value_never_panics_on_near_valid(
        to in value(), subject in value(), priority in value(), options in value(),
        ty in value(), message in value(), context in value(), attachments in value(),
    ) {
        let body = serde_json::json!({
            "to": to, "subject": subject, "priority": priority, "options": options,
            "payload": {"type": ty, "message": message, "context": context, "attachments": attachments},
        });
        let _ = RouteRequest::from_value(&body, &Limits::default());
    }
}
