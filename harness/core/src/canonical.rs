//! Canonical payload serialisation and payload hash (SIG-008, SIG-009, C-01..C-04).
//!
//! The spec says the payload hash is SHA-256 over the payload "serialised with sorted keys"
//! (SIG-008) but never pins down string escaping or number formatting (C-01..C-04). Each
//! plausible reading is a [`PayloadProfile`]:
//!
//! * [`PayloadProfile::Sorted`] (default; the published vectors): compact, object keys sorted by
//!   UTF-16 code units (JavaScript's default sort), strings escaped as `JSON.stringify` escapes
//!   them, numbers in ECMAScript `Number::toString` form. For every value a `serde_json::Value`
//!   can hold this is byte-identical to RFC 8785 (JCS): both sort by UTF-16 units, both use the
//!   ES number form, and JCS's string rules are `JSON.stringify`'s. They could only differ on lone
//!   surrogates, which a Rust `String` cannot hold. Sorted is implemented here independently of
//!   the JCS crate, and the tests cross-check the two.
//! * [`PayloadProfile::Jcs`]: RFC 8785 via `serde_json_canonicalizer`.
//! * [`PayloadProfile::Insertion`]: like Sorted but keys stay in input order (the workspace
//!   enables serde_json's `preserve_order`), i.e. `JSON.stringify(JSON.parse(text))`.
//! * [`PayloadProfile::PythonAscii`] follows Python's
//!   `json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=True)`: keys sorted by
//!   code point; everything outside printable ASCII (0x20..=0x7e, so DEL too) escaped as
//!   lowercase `\uXXXX`, astral characters as surrogate pairs; integers printed exactly; floats as
//!   Python `repr`. `serde_json` remembers whether a number was written as an integer (`1`) or
//!   not (`1.0`, `1e2`), so `1.0` prints `1.0` and `1e2` prints `100.0`, as Python would.
//!
//! In the JavaScript-style profiles integers beyond 2^53 are rounded to the nearest double, as
//! `JSON.parse` would round them.
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PayloadProfile {
    #[default]
    Sorted,
    Jcs,
    Insertion,
    PythonAscii,
}

impl PayloadProfile {
    pub const ALL: [PayloadProfile; 4] = [
        PayloadProfile::Sorted,
        PayloadProfile::Jcs,
        PayloadProfile::Insertion,
        PayloadProfile::PythonAscii,
    ];
    pub fn name(self) -> &'static str {
        match self {
            PayloadProfile::Sorted => "sorted",
            PayloadProfile::Jcs => "jcs",
            PayloadProfile::Insertion => "insertion",
            PayloadProfile::PythonAscii => "python-ascii",
        }
    }
}

impl fmt::Display for PayloadProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown payload profile `{0}`: use one of sorted, jcs, insertion, python-ascii")]
pub struct UnknownProfile(pub String);

impl FromStr for PayloadProfile {
    type Err = UnknownProfile;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PayloadProfile::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownProfile(s.to_string()))
    }
}

/// Why a payload could not be canonicalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonError {
    /// JSON-004: the payload must be a JSON object.
    #[error("payload is {found}, not an object: the payload must be a JSON object (JSON-004)")]
    NotAnObject { found: &'static str },
    /// The value nests deeper than [`MAX_CANON_DEPTH`]; refused so serialisation cannot exhaust
    /// the stack. Values from [`crate::json::parse_strict`] never get here (its limit is lower).
    #[error(
        "payload nests deeper than {max} levels: flatten it (strict parsing allows at most {})",
        crate::json::MAX_DEPTH
    )]
    TooDeep { max: usize },
    /// JSON-005: a number that is not finite. `serde_json::Value` cannot normally hold one; this
    /// exists so that a future number representation cannot silently produce `NaN` text.
    #[error("payload contains a non-finite number: NaN and Infinity are not JSON (JSON-005)")]
    NonFinite,
    /// The JCS library refused the value (it should not for any `Value`; kept as an error, not a
    /// panic, so hostile input can never abort the process).
    #[error("JCS serialisation failed: {0}")]
    Jcs(String),
}

impl CanonError {
    /// Catalogue id of the rule behind this error.
    pub fn rule(&self) -> &'static str {
        match self {
            CanonError::NotAnObject { .. } => "JSON-004",
            CanonError::NonFinite => "JSON-005",
            CanonError::TooDeep { .. } | CanonError::Jcs(_) => "SIG-008",
        }
    }
}

/// Deepest nesting the canonicaliser walks. Chosen well above the strict parser's limit
/// ([`crate::json::MAX_DEPTH`]) so every strictly parsed value is accepted, and well below
/// anything that could overflow a thread stack.
pub const MAX_CANON_DEPTH: usize = 512;

/// A payload hash: standard, padded base64 of the SHA-256 of the canonical bytes (SIG-009).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct PayloadHash(String);

impl PayloadHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PayloadHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Canonical bytes of `payload` under `profile`.
///
/// The payload must be an object (JSON-004). See the module docs for what each profile does.
pub fn canonical_payload(payload: &Value, profile: PayloadProfile) -> Result<Vec<u8>, CanonError> {
    if !payload.is_object() {
        return Err(CanonError::NotAnObject {
            found: kind_name(payload),
        });
    }
    check_depth(payload)?;
    let mut out = Vec::with_capacity(128);
    match profile {
        PayloadProfile::Sorted => write_value(&mut out, payload, Style::Sorted)?,
        PayloadProfile::Insertion => write_value(&mut out, payload, Style::Insertion)?,
        PayloadProfile::PythonAscii => write_value(&mut out, payload, Style::PythonAscii)?,
        PayloadProfile::Jcs => {
            out = serde_json_canonicalizer::to_vec(payload)
                .map_err(|e| CanonError::Jcs(e.to_string()))?;
        }
    }
    Ok(out)
}

/// [`canonical_payload`] followed by [`hash_canonical_bytes`].
pub fn payload_hash(payload: &Value, profile: PayloadProfile) -> Result<PayloadHash, CanonError> {
    canonical_payload(payload, profile).map(|b| hash_canonical_bytes(&b))
}

/// Standard padded base64 of SHA-256 over `bytes`, taken as already canonical.
pub fn hash_canonical_bytes(bytes: &[u8]) -> PayloadHash {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(bytes);
    PayloadHash(base64::engine::general_purpose::STANDARD.encode(digest))
}

/// Hash of payload text that a sender already serialised (SIG-009): trailing whitespace is
/// stripped first, because the spec's reference computes the hash over the trimmed text and a
/// trailing newline from a pretty-printer must not change the hash.
pub fn hash_serialized_text(text: &str) -> PayloadHash {
    hash_canonical_bytes(text.trim_end().as_bytes())
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Iterative depth check, so that even a value nested far beyond the limit is measured
/// without recursion.
fn check_depth(root: &Value) -> Result<(), CanonError> {
    let mut stack: Vec<(&Value, usize)> = vec![(root, 1)];
    while let Some((v, depth)) = stack.pop() {
        if depth > MAX_CANON_DEPTH {
            return Err(CanonError::TooDeep {
                max: MAX_CANON_DEPTH,
            });
        }
        match v {
            Value::Array(a) => stack.extend(a.iter().map(|c| (c, depth + 1))),
            Value::Object(o) => stack.extend(o.values().map(|c| (c, depth + 1))),
            _ => {}
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Sorted,
    Insertion,
    PythonAscii,
}

/// Recursive writer; depth is bounded by [`check_depth`] before the first call.
fn write_value(out: &mut Vec<u8>, v: &Value, style: Style) -> Result<(), CanonError> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n, style)?,
        Value::String(s) => write_string(out, s, style),
        Value::Array(a) => {
            out.push(b'[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item, style)?;
            }
            out.push(b']');
        }
        Value::Object(o) => {
            let mut entries: Vec<(&String, &Value)> = o.iter().collect();
            match style {
                Style::Insertion => {}
                // JavaScript's default sort compares UTF-16 code units.
                Style::Sorted => entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16())),
                // Python compares code points; UTF-8 byte order is code point order.
                Style::PythonAscii => entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes())),
            }
            out.push(b'{');
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, k, style);
                out.push(b':');
                write_value(out, item, style)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn push_u16_escape(out: &mut Vec<u8>, unit: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\u");
    for shift in [12u16, 8, 4, 0] {
        out.push(HEX[usize::from((unit >> shift) & 0xf)]);
    }
}

fn write_string(out: &mut Vec<u8>, s: &str, style: Style) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => push_u16_escape(out, c as u16),
            // Python's ensure_ascii escapes everything outside printable ASCII 0x20..=0x7e,
            // which includes DEL (0x7f); astral characters become surrogate pairs.
            c if style == Style::PythonAscii && (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    push_u16_escape(out, *unit);
                }
            }
            // JSON.stringify leaves DEL, U+2028/2029 and all other characters as they are.
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

fn write_number(out: &mut Vec<u8>, n: &serde_json::Number, style: Style) -> Result<(), CanonError> {
    let text = match style {
        Style::PythonAscii => {
            if let Some(u) = n.as_u64() {
                u.to_string()
            } else if let Some(i) = n.as_i64() {
                i.to_string()
            } else {
                python_float_repr(n.as_f64().ok_or(CanonError::NonFinite)?)?
            }
        }
        // JavaScript has only doubles: integers beyond 2^53 lose precision exactly as
        // `JSON.parse` + `JSON.stringify` would lose it.
        Style::Sorted | Style::Insertion => es_number(n.as_f64().ok_or(CanonError::NonFinite)?)?,
    };
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// Shortest round-trip decimal digits of a positive finite `f`, and the decimal exponent `n`
/// such that `f = 0.d1d2...dk × 10^n` (the `n` of ECMA-262 Number::toString).
fn shortest_digits(f: f64) -> (String, i32) {
    // ryu-js yields the shortest round-tripping digits with the ECMAScript tie rule (the even
    // candidate wins), which Python's repr follows too; Rust's own `{:e}` does not. Its output
    // is `d[.ddd]e±x`, `ddd.ddd`, `ddd` or `0.000ddd`; read the digits and the decimal exponent.
    let text = ryu_js::Buffer::new().format_finite(f.abs()).to_string();
    let (mantissa, exp) = match text.split_once('e') {
        Some((m, e)) => (
            m.to_string(),
            e.trim_start_matches('+').parse::<i32>().unwrap_or(0),
        ),
        None => (text.clone(), 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa.as_str(), ""));
    let all: String = format!("{int}{frac}");
    let leading = all.len() - all.trim_start_matches('0').len();
    let digits = all.trim_start_matches('0').trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    // Position of the decimal point relative to the first significant digit.
    let n = int.len() as i32 - leading as i32 + exp;
    (digits.to_string(), n)
}

/// ECMA-262 Number::toString(10) for a finite double (also the JCS number form).
///
/// Delegates to `ryu-js`, which implements the ECMAScript rules exactly, including the tie rule
/// (two equally close shortest digit strings: the even one wins) that Rust's own shortest
/// formatting does not follow — found by the `canonical_jcs_diff` fuzz target
/// (112779752796.453125 must print as `112779752796.45312`).
pub fn es_number(f: f64) -> Result<String, CanonError> {
    if !f.is_finite() {
        return Err(CanonError::NonFinite);
    }
    if f == 0.0 {
        return Ok("0".to_string()); // also -0
    }
    Ok(ryu_js::Buffer::new().format_finite(f).to_string())
}

/// Python `repr(float)` (what `json.dumps` prints for a float): shortest round-trip digits,
/// fixed notation when -4 < n <= 16 (always with a fractional part, so `1.0` stays `1.0`),
/// otherwise `d.ddde±XX` with at least two exponent digits.
pub fn python_float_repr(f: f64) -> Result<String, CanonError> {
    if !f.is_finite() {
        return Err(CanonError::NonFinite);
    }
    let mut s = String::new();
    if f.is_sign_negative() {
        s.push('-');
    }
    if f == 0.0 {
        s.push_str("0.0");
        return Ok(s);
    }
    let (digits, n) = shortest_digits(f.abs());
    let k = digits.len() as i32;
    if -4 < n && n <= 16 {
        if n <= 0 {
            s.push_str("0.");
            s.extend(std::iter::repeat_n('0', (-n) as usize));
            s.push_str(&digits);
        } else if k <= n {
            s.push_str(&digits);
            s.extend(std::iter::repeat_n('0', (n - k) as usize));
            s.push_str(".0");
        } else {
            let (int, frac) = digits.split_at(n as usize);
            s.push_str(int);
            s.push('.');
            s.push_str(frac);
        }
    } else {
        let e = n - 1;
        let (first, rest) = digits.split_at(1);
        s.push_str(first);
        if !rest.is_empty() {
            s.push('.');
            s.push_str(rest);
        }
        s.push('e');
        s.push(if e < 0 { '-' } else { '+' });
        s.push_str(&format!("{:02}", e.abs()));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hash(v: &Value, p: PayloadProfile) -> String {
        match payload_hash(v, p) {
            Ok(h) => h.as_str().to_string(),
            Err(e) => panic!("hash failed: {e}"),
        }
    }

    fn canon(v: &Value, p: PayloadProfile) -> String {
        match canonical_payload(v, p) {
            Ok(b) => String::from_utf8(b).unwrap_or_default(),
            Err(e) => panic!("canon failed: {e}"),
        }
    }

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).unwrap_or(Value::Null)
    }

    // Known answers from the contract (independent Python computation).
    #[test]
    fn known_answer_hello() {
        let v = parse(r#"{"type":"notification","message":"Hello"}"#);
        assert_eq!(
            hash(&v, PayloadProfile::Sorted),
            "4Z/XSV1AZKYKorrN9OyxY5kTmYXHIZY37sGUfOrHkdg="
        );
        assert_eq!(
            hash(&v, PayloadProfile::Insertion),
            "E3WayERAfyKwcLJ1rYGFnZm4exOtah7E/bzzkFlJXlM="
        );
    }

    #[test]
    fn known_answer_non_ascii() {
        let v = parse(r#"{"type":"notification","message":"héllo ✓"}"#);
        for p in [PayloadProfile::Sorted, PayloadProfile::Jcs] {
            assert_eq!(
                hash(&v, p),
                "Bex1ghWZs8wjs+NB7co+MhSxWnZ7ilWgqu3xvXSyJBY=",
                "{p}"
            );
        }
        assert_eq!(
            hash(&v, PayloadProfile::PythonAscii),
            "c+VSDJiLkIPBPehGiTk/DBoDQ6E0Ahc0sX9iAn4rf2U="
        );
    }

    #[test]
    fn known_answer_float_context() {
        let v = parse(r#"{"type":"notification","message":"x","context":{"n":1.0}}"#);
        assert_eq!(
            hash(&v, PayloadProfile::Jcs),
            "9iLr2YRq6dAJCjLyY5xN9XmqAV9QucyvTnH5IG9tavs="
        );
        assert_eq!(
            hash(&v, PayloadProfile::PythonAscii),
            "Tip1oxiKrn6fCTP7CL+TqKpmTb1gTJSTy7MAlTLsKBE="
        );
        assert_eq!(
            canon(&v, PayloadProfile::Sorted),
            r#"{"context":{"n":1},"message":"x","type":"notification"}"#
        );
        assert_eq!(
            canon(&v, PayloadProfile::PythonAscii),
            r#"{"context":{"n":1.0},"message":"x","type":"notification"}"#
        );
    }

    #[test]
    fn known_answer_line_separator() {
        let v = parse(r#"{"type":"notification","message":"a\u2028b"}"#);
        assert_eq!(
            hash(&v, PayloadProfile::Sorted),
            "Hbn+Jn2b7jBl+MW2as7vsYBk7qao/0Z34eQzQz2jAec="
        );
        assert_eq!(
            hash(&v, PayloadProfile::PythonAscii),
            "sTcegJcmIi7IZz/Ze4thxHls7fCZc/AbfdOn7YWTM5g="
        );
    }

    #[test]
    fn profile_names_round_trip() {
        for p in PayloadProfile::ALL {
            assert_eq!(p.name().parse::<PayloadProfile>(), Ok(p));
        }
        assert!("SORTED".parse::<PayloadProfile>().is_err());
        assert_eq!(PayloadProfile::default(), PayloadProfile::Sorted);
    }

    #[test]
    fn payload_must_be_object() {
        for v in [json!(null), json!([1]), json!("x"), json!(1), json!(true)] {
            for p in PayloadProfile::ALL {
                let e = canonical_payload(&v, p).err();
                assert!(matches!(e, Some(CanonError::NotAnObject { .. })), "{v} {p}");
                assert_eq!(e.map(|e| e.rule()), Some("JSON-004"));
            }
        }
    }

    #[test]
    fn key_order_utf16_vs_code_point() {
        // U+FF61 (one BMP unit 0xFF61) vs U+1F600 (surrogates 0xD83D..): UTF-16 puts the emoji
        // first, code point order puts it last.
        let v = json!({"\u{ff61}": 1, "\u{1f600}": 2, "a": 3});
        assert_eq!(
            canon(&v, PayloadProfile::Sorted),
            "{\"a\":3,\"\u{1f600}\":2,\"\u{ff61}\":1}"
        );
        assert_eq!(
            canon(&v, PayloadProfile::PythonAscii),
            r#"{"a":3,"\uff61":1,"\ud83d\ude00":2}"#
        );
        assert_eq!(
            canon(&v, PayloadProfile::Insertion),
            "{\"\u{ff61}\":1,\"\u{1f600}\":2,\"a\":3}"
        );
    }

    #[test]
    fn string_escapes() {
        let v = json!({"s": "\"\\\u{8}\u{c}\n\r\t\u{1}\u{1f}\u{7f}\u{2028}é/"});
        assert_eq!(
            canon(&v, PayloadProfile::Sorted),
            "{\"s\":\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\u{7f}\u{2028}é/\"}"
        );
        assert_eq!(
            canon(&v, PayloadProfile::PythonAscii),
            r#"{"s":"\"\\\b\f\n\r\t\u0001\u001f\u007f\u2028\u00e9/"}"#
        );
    }

    #[test]
    fn es_numbers() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1"),
            (-0.0, "0"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1e-7, "1e-7"),
            (1e-6, "0.000001"),
            (1.5, "1.5"),
            (-1.25e-10, "-1.25e-10"),
            (123456789.125, "123456789.125"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (0.1 + 0.2, "0.30000000000000004"),
            // A tie between two shortest digit strings: ECMAScript picks the even one.
            (112_779_752_796.0 + 29.0 / 64.0, "112779752796.45312"),
        ];
        for (f, want) in cases {
            assert_eq!(es_number(*f).as_deref(), Ok(*want), "{f:e}");
        }
        assert_eq!(es_number(f64::NAN), Err(CanonError::NonFinite));
    }

    #[test]
    fn python_floats() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (1e21, "1e+21"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1e-7, "1e-07"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (1.5, "1.5"),
            (1.25e100, "1.25e+100"),
            (5e-324, "5e-324"),
            (0.1 + 0.2, "0.30000000000000004"),
        ];
        for (f, want) in cases {
            assert_eq!(python_float_repr(*f).as_deref(), Ok(*want), "{f:e}");
        }
    }

    #[test]
    fn integers_per_profile() {
        let v = parse(r#"{"big":12345678901234567890,"neg":-9007199254740993,"e":1e2}"#);
        assert_eq!(
            canon(&v, PayloadProfile::PythonAscii),
            r#"{"big":12345678901234567890,"e":100.0,"neg":-9007199254740993}"#
        );
        assert_eq!(
            canon(&v, PayloadProfile::Sorted),
            r#"{"big":12345678901234567000,"e":100,"neg":-9007199254740992}"#
        );
        assert_eq!(
            canon(&v, PayloadProfile::Sorted),
            canon(&v, PayloadProfile::Jcs)
        );
    }

    #[test]
    fn hash_serialized_text_trims_trailing_whitespace() {
        let a = hash_serialized_text("{\"a\":1}\n \t\r\n");
        assert_eq!(a, hash_canonical_bytes(b"{\"a\":1}"));
        // Leading whitespace is content, not trimmed.
        assert_ne!(hash_serialized_text(" {\"a\":1}"), a);
        // SHA-256 of the empty string, standard padded base64.
        assert_eq!(
            hash_canonical_bytes(b"").as_str(),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn too_deep_is_an_error() {
        let mut v = json!(1);
        for _ in 0..MAX_CANON_DEPTH {
            v = json!([v]);
        }
        let payload = json!({ "x": v });
        for p in PayloadProfile::ALL {
            assert_eq!(
                canonical_payload(&payload, p),
                Err(CanonError::TooDeep {
                    max: MAX_CANON_DEPTH
                })
            );
        }
        // Dismantle iteratively so the test itself cannot overflow in Drop.
        let mut cur = payload;
        loop {
            cur = match cur {
                Value::Array(mut a) => match a.pop() {
                    Some(x) => x,
                    None => break,
                },
                Value::Object(o) => match o.into_iter().next() {
                    Some((_, x)) => x,
                    None => break,
                },
                _ => break,
            };
        }
    }
}
