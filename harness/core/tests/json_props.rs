//! Property tests: the strict parser never panics and agrees with serde_json on valid,
//! duplicate-free documents.

use amp_core::envelope::Limits;
use amp_core::{JsonError, RouteRequest, parse_strict};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_strict(&bytes);
        let _ = RouteRequest::from_body(&bytes, &Limits::default());
    }

    #[test]
    fn never_panics_on_json_alphabet(s in "[\\[\\]{}\":,0-9eE.+\\- tfalsrunNIiy\\\\u\u{e9}\n]{0,64}") {
        if let Ok(v) = parse_strict(s.as_bytes()) {
            // Whatever we accept, serde_json accepts with the same value.
            let theirs: Result<serde_json::Value, _> = serde_json::from_str(&s);
            prop_assert_eq!(theirs.ok(), Some(v));
        }
    }

    #[test]
    fn agrees_with_serde_json_on_serialised_values(v in any::<(String, i64, f64, bool, Vec<u32>)>()) {
        let Some(n) = serde_json::Number::from_f64(v.2) else { return Ok(()) };
        let doc = serde_json::json!({"s": v.0, "i": v.1, "f": n, "b": v.3, "a": v.4, "o": {"x": [null]}});
        let text = serde_json::to_string(&doc).unwrap_or_default();
        prop_assert_eq!(parse_strict(text.as_bytes()), Ok(doc));
    }
}

#[test]
fn hundred_thousand_open_brackets_error_without_overflow() {
    let open = "[".repeat(100_000);
    assert!(matches!(
        parse_strict(open.as_bytes()),
        Err(JsonError::TooDeep { .. })
    ));
    let objs = "{\"a\":".repeat(100_000);
    assert!(matches!(
        parse_strict(objs.as_bytes()),
        Err(JsonError::TooDeep { .. })
    ));
    let e = RouteRequest::from_body(open.as_bytes(), &Limits::default()).err();
    assert_eq!(
        e.map(|e| (e.status, e.code)),
        Some((400, "invalid_request"))
    );
}
