//! Differential test of the payload canonicaliser (SIG-008, C-01..C-04).
//!
//! * Our `jcs` profile (serde_json_canonicalizer) and our hand-written `sorted` profile must
//!   produce exactly the bytes of `serde_jcs`, an independent RFC 8785 implementation, for every
//!   value `serde_jcs` accepts. (amp-core documents that `sorted` equals JCS for every value a
//!   `serde_json::Value` can hold.)
//! * Canonicalising is a fixed point in every profile: parse the canonical bytes, canonicalise
//!   again, get the same bytes.
#![no_main]

use amp_core::canonical::{PayloadProfile, canonical_payload};
use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Number, Value};

const MAX_DEPTH: usize = 6;
const MAX_CHILDREN: usize = 6;

/// Strings biased towards what breaks canonicalisers: escapes, control characters, astral
/// characters (UTF-16 sort order differs from code-point order), keys that differ by case.
fn string(u: &mut Unstructured) -> Result<String> {
    const PICKS: &[&str] = &[
        "",
        "a",
        "A",
        "b",
        "\u{7f}",
        "\u{1f}",
        "\"",
        "\\",
        "/",
        "\u{2028}",
        "\u{2029}",
        "é",
        "\u{fffd}",
        "\u{ffff}",
        "\u{10000}",
        "\u{1f600}",
        "\u{e000}",
        "\u{d7ff}",
        "type",
        "message",
        "\u{0}",
        "\n",
        "\t",
        "<",
        ">",
        "&",
        "'",
    ];
    if u.ratio(1, 2)? {
        let n = u.int_in_range(0..=4)?;
        let mut s = String::new();
        for _ in 0..n {
            s.push_str(u.choose(PICKS)?);
        }
        Ok(s)
    } else {
        let s: String = u.arbitrary()?;
        Ok(s.chars().take(64).collect())
    }
}

fn number(u: &mut Unstructured) -> Result<Number> {
    Ok(match u.int_in_range(0..=5)? {
        0 => Number::from(u.int_in_range(-1000i64..=1000)?),
        1 => Number::from(u.arbitrary::<i64>()?),
        2 => Number::from(u.arbitrary::<u64>()?),
        3 => {
            // Interesting doubles: integers near 2^53, exponent thresholds, tiny/huge values.
            const F: &[f64] = &[
                0.0,
                -0.0,
                1.0,
                -1.5,
                0.1,
                1e21,
                1e20,
                1e-6,
                1e-7,
                9007199254740992.0,
                9007199254740993.0,
                5e-324,
                1.7976931348623157e308,
                123456789.125,
                1e100,
                2.5e-8,
                100.0,
            ];
            Number::from_f64(*u.choose(F)?).unwrap_or_else(|| Number::from(0))
        }
        _ => {
            let f = f64::from_bits(u.arbitrary::<u64>()?);
            Number::from_f64(f).unwrap_or_else(|| Number::from(7))
        }
    })
}

fn value(u: &mut Unstructured, depth: usize) -> Result<Value> {
    let leaf_only = depth >= MAX_DEPTH;
    let kind = u.int_in_range(0..=if leaf_only { 3 } else { 5 })?;
    Ok(match kind {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::Number(number(u)?),
        3 => Value::String(string(u)?),
        4 => {
            let n = u.int_in_range(0..=MAX_CHILDREN)?;
            let mut a = Vec::with_capacity(n);
            for _ in 0..n {
                a.push(value(u, depth + 1)?);
            }
            Value::Array(a)
        }
        _ => Value::Object(object(u, depth + 1)?),
    })
}

fn object(u: &mut Unstructured, depth: usize) -> Result<Map<String, Value>> {
    let n = u.int_in_range(0..=MAX_CHILDREN)?;
    let mut m = Map::new();
    for _ in 0..n {
        let k = string(u)?;
        let v = value(u, depth)?;
        m.insert(k, v);
    }
    Ok(m)
}

fuzz_target!(|data: &[u8]| {
    // Inputs starting with `{` that parse strictly are used as the payload (seeds are plain
    // JSON payloads); everything else drives the structured generator.
    let payload = match amp_core::json::parse_strict(data) {
        Ok(v @ Value::Object(_)) if data.first() == Some(&b'{') => v,
        _ => {
            let mut u = Unstructured::new(data);
            let Ok(map) = object(&mut u, 0) else { return };
            Value::Object(map)
        }
    };

    let reference = serde_jcs::to_vec(&payload).ok();
    if let Some(reference) = &reference {
        let mut report = String::new();
        for profile in [PayloadProfile::Jcs, PayloadProfile::Sorted] {
            let ours = canonical_payload(&payload, profile).unwrap_or_default();
            if &ours != reference {
                report.push_str(&format!(
                    "\n {profile:>6}: {}",
                    String::from_utf8_lossy(&ours)
                ));
            }
        }
        assert!(
            report.is_empty(),
            "differs from serde_jcs:{report}\n serde_jcs: {}",
            String::from_utf8_lossy(reference)
        );
    }
    for profile in PayloadProfile::ALL {
        let Ok(bytes) = canonical_payload(&payload, profile) else {
            panic!("{profile} refused a finite, shallow object payload");
        };
        // Fixed point: the canonical text parses (strictly) and canonicalises to itself.
        let reparsed = amp_core::json::parse_strict(&bytes)
            .unwrap_or_else(|e| panic!("{profile} output is not strict JSON: {e}"));
        let again = canonical_payload(&reparsed, profile)
            .unwrap_or_else(|e| panic!("{profile} refused its own output: {e}"));
        assert!(
            again == bytes,
            "{profile} is not a fixed point:\n once : {}\n twice: {}",
            String::from_utf8_lossy(&bytes),
            String::from_utf8_lossy(&again)
        );
    }
});
