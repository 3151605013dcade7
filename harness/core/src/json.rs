//! Strict JSON parsing of hostile input (JSON-003, JSON-005, JSON-008).
//!
//! `serde_json` silently keeps the last of two duplicate keys, and its recursion limit can be
//! switched off by callers. A conformance tester must *see* duplicates (JSON-003: a message with
//! a repeated key anywhere is refused), so this module has its own small parser:
//!
//! * iterative (an explicit stack, no recursion), so `[[[[…` of any length cannot overflow the
//!   thread stack; nesting deeper than [`MAX_DEPTH`] is an error;
//! * duplicate object keys at any depth are an error naming the key and its JSON pointer;
//! * `NaN`, `Infinity`, `-Infinity` are an error naming JSON-005, as are numbers too large to be
//!   a finite double (`1e400`);
//! * invalid UTF-8, raw control characters in strings, lone surrogate escapes, a byte-order
//!   mark, and anything after the value other than JSON whitespace are errors.
//!
//! Numbers and string escapes are decoded by `serde_json` itself (on the already-delimited
//! token), so a value parsed here is exactly the `Value` `serde_json::from_slice` would give for
//! the same duplicate-free text, including `preserve_order` key order and integer/float kinds.

use serde_json::{Map, Number, Value};

/// Deepest container nesting accepted: 128 levels of `[`/`{` parse, 129 do not.
pub const MAX_DEPTH: usize = 128;

/// Why a body is not strict JSON. [`JsonError::rule`] gives the catalogue id; every variant
/// carries the byte offset (or JSON pointer) where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("body is empty: send a JSON value (JSON-008)")]
    Empty,
    #[error(
        "body is not valid UTF-8 (first bad byte at offset {offset}): JSON text must be UTF-8 (JSON-008)"
    )]
    InvalidUtf8 { offset: usize },
    #[error("body starts with a byte-order mark: send JSON without a BOM (JSON-008)")]
    ByteOrderMark,
    #[error("JSON syntax error at byte {offset}: expected {expected} (JSON-008)")]
    Syntax {
        offset: usize,
        expected: &'static str,
    },
    #[error(
        "unescaped control character U+{code:04X} inside a string at byte {offset}: escape it (JSON-008)"
    )]
    ControlInString { offset: usize, code: u32 },
    #[error("invalid string at byte {offset}: {detail} (JSON-008)")]
    InvalidString { offset: usize, detail: String },
    #[error("`{token}` at byte {offset} is not JSON: NaN and Infinity are forbidden (JSON-005)")]
    NonFinite { offset: usize, token: &'static str },
    #[error("number at byte {offset} does not fit a finite double: {detail} (JSON-005)")]
    NumberOutOfRange { offset: usize, detail: String },
    #[error("nesting deeper than {max} levels at byte {offset}: flatten the document (JSON-008)")]
    TooDeep { offset: usize, max: usize },
    #[error(
        "duplicate object key {key:?} at {pointer}: every key may appear once per object (JSON-003)"
    )]
    DuplicateKey { key: String, pointer: String },
    #[error(
        "unexpected data after the JSON value at byte {offset}: send exactly one value (JSON-008)"
    )]
    TrailingData { offset: usize },
}

impl JsonError {
    /// Catalogue id of the rule behind this error.
    pub fn rule(&self) -> &'static str {
        match self {
            JsonError::DuplicateKey { .. } => "JSON-003",
            JsonError::NonFinite { .. } | JsonError::NumberOutOfRange { .. } => "JSON-005",
            _ => "JSON-008",
        }
    }
}

/// Parse `bytes` as one strict JSON value with the default depth limit [`MAX_DEPTH`].
pub fn parse_strict(bytes: &[u8]) -> Result<Value, JsonError> {
    parse_strict_max_depth(bytes, MAX_DEPTH)
}

/// The string items of `array` (a JSON array, e.g. `capabilities` or `not_found`), in order;
/// items of other types are skipped and anything that is not an array yields nothing, so a
/// hostile answer reads as "no such items" rather than as an error.
pub fn str_items(array: Option<&Value>) -> impl Iterator<Item = &str> {
    array
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// Ceiling for [`parse_strict_max_depth`]. `serde_json::Value` drops (and the canonicaliser
/// walks) nested values recursively, so no caller may build one deeper than this.
pub const HARD_MAX_DEPTH: usize = 512;

/// [`parse_strict`] with a caller-chosen nesting limit (`max_depth` containers deep), clamped
/// to [`HARD_MAX_DEPTH`].
pub fn parse_strict_max_depth(bytes: &[u8], max_depth: usize) -> Result<Value, JsonError> {
    let max_depth = max_depth.min(HARD_MAX_DEPTH);
    let text = std::str::from_utf8(bytes).map_err(|e| JsonError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    if text.starts_with('\u{feff}') {
        return Err(JsonError::ByteOrderMark);
    }
    Parser {
        s: text,
        b: bytes,
        pos: 0,
        max_depth,
    }
    .parse()
}

/// An open container on the explicit stack.
enum Frame {
    Array(Vec<Value>),
    /// The map built so far and the key whose value is being parsed.
    Object(Map<String, Value>, String),
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    max_depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn syntax(&self, expected: &'static str) -> JsonError {
        JsonError::Syntax {
            offset: self.pos,
            expected,
        }
    }

    fn parse(mut self) -> Result<Value, JsonError> {
        self.skip_ws();
        if self.pos >= self.b.len() {
            return Err(JsonError::Empty);
        }
        let mut stack: Vec<Frame> = Vec::new();
        'value: loop {
            self.skip_ws();
            // Parse one value, or open a container and go round again for its first member.
            let mut value = match self.peek() {
                Some(b'{') => {
                    self.open(stack.len())?;
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        Value::Object(Map::new())
                    } else {
                        let key = self.key(&stack, &Map::new())?;
                        stack.push(Frame::Object(Map::new(), key));
                        continue 'value;
                    }
                }
                Some(b'[') => {
                    self.open(stack.len())?;
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        Value::Array(Vec::new())
                    } else {
                        stack.push(Frame::Array(Vec::new()));
                        continue 'value;
                    }
                }
                Some(b'"') => Value::String(self.string()?),
                Some(b'-' | b'0'..=b'9') => Value::Number(self.number()?),
                Some(b't') => self.literal("true", Value::Bool(true))?,
                Some(b'f') => self.literal("false", Value::Bool(false))?,
                Some(b'n') => self.literal("null", Value::Null)?,
                Some(b'N') if self.b[self.pos..].starts_with(b"NaN") => {
                    return Err(self.non_finite("NaN"));
                }
                Some(b'I') if self.b[self.pos..].starts_with(b"Infinity") => {
                    return Err(self.non_finite("Infinity"));
                }
                _ => return Err(self.syntax("a JSON value")),
            };
            // Attach the finished value to its parent; close every container that ends here.
            loop {
                self.skip_ws();
                match stack.last_mut() {
                    None => {
                        if self.pos < self.b.len() {
                            return Err(JsonError::TrailingData { offset: self.pos });
                        }
                        return Ok(value);
                    }
                    Some(Frame::Array(items)) => {
                        items.push(value);
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                continue 'value;
                            }
                            Some(b']') => {
                                self.pos += 1;
                                value = match stack.pop() {
                                    Some(Frame::Array(items)) => Value::Array(items),
                                    _ => return Err(self.syntax("`,` or `]`")),
                                };
                            }
                            _ => return Err(self.syntax("`,` or `]`")),
                        }
                    }
                    Some(Frame::Object(map, key)) => {
                        map.insert(std::mem::take(key), value);
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_ws();
                                // Borrow juggling: take the frame out, read the key, put it back.
                                let Some(Frame::Object(map, _)) = stack.pop() else {
                                    return Err(self.syntax("an object key"));
                                };
                                let next = self.key(&stack, &map)?;
                                stack.push(Frame::Object(map, next));
                                continue 'value;
                            }
                            Some(b'}') => {
                                self.pos += 1;
                                value = match stack.pop() {
                                    Some(Frame::Object(map, _)) => Value::Object(map),
                                    _ => return Err(self.syntax("`,` or `}`")),
                                };
                            }
                            _ => return Err(self.syntax("`,` or `}`")),
                        }
                    }
                }
            }
        }
    }

    /// Consume `{` or `[`, refusing to go deeper than the limit. `open_now` containers are
    /// already open.
    fn open(&mut self, open_now: usize) -> Result<(), JsonError> {
        if open_now >= self.max_depth {
            return Err(JsonError::TooDeep {
                offset: self.pos,
                max: self.max_depth,
            });
        }
        self.pos += 1;
        Ok(())
    }

    /// Read `"key" :` (whitespace allowed); reject a key already present in `map`.
    fn key(&mut self, stack: &[Frame], map: &Map<String, Value>) -> Result<String, JsonError> {
        if self.peek() != Some(b'"') {
            return Err(self.syntax("a string object key"));
        }
        let key = self.string()?;
        if map.contains_key(&key) {
            let mut pointer = pointer_of(stack);
            pointer.push('/');
            push_pointer_token(&mut pointer, &key);
            return Err(JsonError::DuplicateKey { key, pointer });
        }
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.syntax("`:` after the object key"));
        }
        self.pos += 1;
        Ok(key)
    }

    fn literal(&mut self, word: &'static str, v: Value) -> Result<Value, JsonError> {
        if self.b[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.syntax(match word {
                "true" => "`true`",
                "false" => "`false`",
                _ => "`null`",
            }))
        }
    }

    fn non_finite(&self, token: &'static str) -> JsonError {
        JsonError::NonFinite {
            offset: self.pos,
            token,
        }
    }

    /// Delimit a string token (quotes included) and let serde_json decode its escapes.
    fn string(&mut self) -> Result<String, JsonError> {
        let start = self.pos;
        self.pos += 1; // opening quote
        loop {
            match self.peek() {
                None => {
                    return Err(JsonError::InvalidString {
                        offset: start,
                        detail: "unterminated string".to_string(),
                    });
                }
                Some(b'"') => break,
                Some(b'\\') => self.pos += 2,
                Some(c) if c < 0x20 => {
                    return Err(JsonError::ControlInString {
                        offset: self.pos,
                        code: u32::from(c),
                    });
                }
                Some(_) => self.pos += 1,
            }
        }
        self.pos += 1; // closing quote
        let token = self
            .s
            .get(start..self.pos)
            .ok_or(JsonError::InvalidString {
                offset: start,
                detail: "string ends inside a multi-byte character".to_string(),
            })?;
        serde_json::from_str::<String>(token).map_err(|e| JsonError::InvalidString {
            offset: start,
            detail: e.to_string(),
        })
    }

    /// Scan a number by the RFC 8259 grammar, then let serde_json convert it so integer/float
    /// kinds and rounding are exactly serde_json's.
    fn number(&mut self) -> Result<Number, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
            if self.b[self.pos..].starts_with(b"Infinity") {
                self.pos = start;
                return Err(self.non_finite("-Infinity"));
            }
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.syntax("a digit")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.syntax("a digit after the decimal point"));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.syntax("a digit in the exponent"));
            }
            self.digits();
        }
        let token = self.s.get(start..self.pos).unwrap_or_default();
        serde_json::from_str::<Number>(token).map_err(|e| JsonError::NumberOutOfRange {
            offset: start,
            detail: e.to_string(),
        })
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }
}

/// JSON pointer (RFC 6901) of the container whose key is being read. `stack` holds its open
/// ancestors (the container itself is not on it); each contributes the member being parsed.
fn pointer_of(stack: &[Frame]) -> String {
    let mut p = String::new();
    for frame in stack {
        p.push('/');
        match frame {
            Frame::Array(items) => p.push_str(&items.len().to_string()),
            Frame::Object(_, key) => push_pointer_token(&mut p, key),
        }
    }
    p
}

fn push_pointer_token(p: &mut String, token: &str) {
    for c in token.chars() {
        match c {
            '~' => p.push_str("~0"),
            '/' => p.push_str("~1"),
            c => p.push(c),
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn str_items_keeps_strings_only() {
        let v = serde_json::json!(["a", 1, null, "b", ["c"]]);
        assert_eq!(str_items(Some(&v)).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(str_items(Some(&serde_json::json!({"a": "b"}))).count(), 0);
        assert_eq!(str_items(None).count(), 0);
    }

    use super::*;
    use serde_json::json;

    fn ok(text: &str) -> Value {
        match parse_strict(text.as_bytes()) {
            Ok(v) => v,
            Err(e) => panic!("{text:?} should parse: {e}"),
        }
    }

    fn err(text: &[u8]) -> JsonError {
        match parse_strict(text) {
            Ok(v) => panic!("{:?} should fail, got {v}", String::from_utf8_lossy(text)),
            Err(e) => e,
        }
    }

    #[test]
    fn parses_like_serde_json() {
        let cases = [
            r#" {"b":1,"a":[true,false,null,-0,0.5,1e2,"x\u00e9\ud83d\ude00\n"],"c":{}} "#,
            "[]",
            "{}",
            "0",
            "-1.5e-7",
            "18446744073709551615",
            "-9223372036854775808",
            "123456789012345678901234567890",
            r#""\"\\\/\b\f\n\r\t""#,
            "[[[]],{\"a\":{\"b\":[1,{}]}}]",
        ];
        for c in cases {
            let want: Value = serde_json::from_str(c).unwrap_or(Value::Null);
            let got = ok(c);
            assert_eq!(got, want, "{c}");
            // Same key order and number kinds, not only equal values.
            assert_eq!(got.to_string(), want.to_string(), "{c}");
        }
    }

    #[test]
    fn duplicate_keys_named_with_pointer() {
        assert_eq!(
            err(br#"{"a":1,"a":2}"#),
            JsonError::DuplicateKey {
                key: "a".into(),
                pointer: "/a".into()
            }
        );
        let e = err(br#"{"payload":{"context":[0,{"x/y":1,"k~":{"z":1,"z":2}}]}}"#);
        assert_eq!(
            e,
            JsonError::DuplicateKey {
                key: "z".into(),
                pointer: "/payload/context/1/k~0/z".into()
            }
        );
        assert_eq!(e.rule(), "JSON-003");
        // Escaped spelling of the same key is still a duplicate.
        assert!(matches!(
            err(br#"{"a":1,"\u0061":2}"#),
            JsonError::DuplicateKey { .. }
        ));
        // Same key in sibling objects is fine.
        assert_eq!(ok(r#"[{"a":1},{"a":2}]"#), json!([{"a":1},{"a":2}]));
    }

    #[test]
    fn non_finite_rejected() {
        for (t, tok) in [
            ("NaN", "NaN"),
            ("[Infinity]", "Infinity"),
            ("{\"n\":-Infinity}", "-Infinity"),
        ] {
            let e = err(t.as_bytes());
            assert!(
                matches!(&e, JsonError::NonFinite { token, .. } if *token == tok),
                "{t}: {e:?}"
            );
            assert_eq!(e.rule(), "JSON-005");
        }
        assert!(matches!(err(b"1e400"), JsonError::NumberOutOfRange { .. }));
    }

    #[test]
    fn syntax_errors() {
        for t in [
            "",
            "   ",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "{'a':1}",
            "[01]",
            "[1.]",
            "[.5]",
            "[1e]",
            "[+1]",
            "tru",
            "nul",
            "[1 2]",
            "{\"a\" 1}",
            "{1:2}",
            "\"abc",
            "\"\\x\"",
            "\"\\ud800\"",
            "[\"a\u{1}\"]",
            "1 2",
            "{}x",
            "[]]",
        ] {
            let e = err(t.as_bytes());
            assert_eq!(e.rule(), "JSON-008", "{t:?}: {e}");
        }
        assert_eq!(err(b"{} []"), JsonError::TrailingData { offset: 3 });
        assert_eq!(err(b"\xef\xbb\xbf{}"), JsonError::ByteOrderMark);
        assert_eq!(err(b"[\"\xff\"]"), JsonError::InvalidUtf8 { offset: 2 });
        assert_eq!(err(b""), JsonError::Empty);
    }

    #[test]
    fn depth_limit_exact() {
        let deep_ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse_strict(deep_ok.as_bytes()).is_ok());
        let too_deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(
            parse_strict(too_deep.as_bytes()),
            Err(JsonError::TooDeep {
                offset: MAX_DEPTH,
                max: MAX_DEPTH
            })
        );
        let objs = format!(
            "{}1{}",
            "{\"a\":".repeat(MAX_DEPTH + 1),
            "}".repeat(MAX_DEPTH + 1)
        );
        assert!(matches!(
            parse_strict(objs.as_bytes()),
            Err(JsonError::TooDeep { .. })
        ));
    }

    #[test]
    fn hundred_thousand_brackets_is_an_error_not_a_crash() {
        let open = "[".repeat(100_000);
        assert!(matches!(
            parse_strict(open.as_bytes()),
            Err(JsonError::TooDeep { .. })
        ));
        // A caller cannot lift the limit past the hard ceiling.
        assert_eq!(
            parse_strict_max_depth(open.as_bytes(), usize::MAX),
            Err(JsonError::TooDeep {
                offset: HARD_MAX_DEPTH,
                max: HARD_MAX_DEPTH
            })
        );
        // Inside the limit the parser is iterative: a missing close is a syntax error.
        assert!(matches!(
            parse_strict(b"[[[[[[[["),
            Err(JsonError::Syntax { .. })
        ));
    }
}
