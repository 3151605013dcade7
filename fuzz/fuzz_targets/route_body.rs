//! Route body validation (RTE-002, MSG-003/004/008/014, JSON-003/005/008) on arbitrary bytes:
//! no panic, and every refusal carries an HTTP status from {400, 413, 422}, a non-empty code and
//! message, and a catalogue rule. The byte path (`from_body`) and the two-step path
//! (`parse_strict` then `from_value`) must agree.
#![no_main]

use amp_core::envelope::{Limits, RouteError, RouteRequest};
use libfuzzer_sys::fuzz_target;

fn check(e: &RouteError) {
    assert!(
        matches!(e.status, 400 | 413 | 422),
        "unexpected status {}: {e}",
        e.status
    );
    assert!(
        !e.code.is_empty() && !e.message.is_empty() && !e.rule.is_empty(),
        "{e:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    // Small limits too, so the size rules are reachable with small inputs.
    let small = Limits {
        subject_chars: 8,
        message_bytes: 16,
        context_bytes: 32,
        message_total_bytes: 96,
        http_body_bytes: 256,
    };
    for limits in [Limits::default(), small] {
        let by_body = RouteRequest::from_body(data, &limits);
        if let Err(e) = &by_body {
            check(e);
        }
        if data.len() > limits.http_body_bytes {
            assert_eq!(by_body.as_ref().map_err(|e| e.status).err(), Some(413));
            continue;
        }
        let two_step = match amp_core::json::parse_strict(data) {
            Ok(v) => {
                // Strict parsing agrees with serde_json on duplicate-free input.
                let r = RouteRequest::from_value(&v, &limits);
                if let Err(e) = &r {
                    check(e);
                }
                if let Ok(req) = &r {
                    // Accepted bodies keep their invariants.
                    assert!(req.payload.is_object());
                    assert!(!req.subject.is_empty());
                    assert!(req.subject.chars().count() <= limits.subject_chars);
                }
                r
            }
            Err(e) => {
                assert!(e.rule().starts_with("JSON-"));
                assert!(
                    by_body.is_err(),
                    "from_body accepted what parse_strict refused"
                );
                continue;
            }
        };
        assert_eq!(
            by_body.is_ok(),
            two_step.is_ok(),
            "from_body and parse+from_value disagree"
        );
        if let (Err(a), Err(b)) = (&by_body, &two_step) {
            assert_eq!((a.status, a.code), (b.status, b.code));
        }
    }
});
