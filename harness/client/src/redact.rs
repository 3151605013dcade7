//! Redaction of secrets before anything is stored in a transcript, report or trace.
//!
//! Three layers, because a secret can reach a transcript in ways nobody planned:
//! 1. registered secrets (API keys, private-key PEM, webhook secrets) are replaced wherever
//!    they occur, raw or JSON-escaped;
//! 2. values of JSON fields whose name marks them secret (`api_key`, `token`,
//!    `webhook_secret`, ...) are replaced even if nobody registered them (e.g. the `api_key`
//!    in a registration response before the runner knows it);
//! 3. any PEM private-key block is replaced.
//!
//! Signatures are not secret but are long and noisy: they are shortened to their first
//! 8 characters plus `…[sig]`.

use crate::secret::Secret;
use serde_json::Value;
use std::sync::{Arc, RwLock};

/// JSON fields whose string values are always redacted, with the label used.
const SECRET_FIELDS: &[(&str, &str)] = &[
    ("api_key", "api_key"),
    ("apiKey", "api_key"),
    ("token", "token"),
    ("webhook_secret", "webhook_secret"),
    ("secret", "secret"),
    ("private_key", "private_key"),
    ("user_key", "user_key"),
    ("password", "password"),
    ("access_token", "token"),
    ("refresh_token", "token"),
    ("client_secret", "secret"),
    ("invite_code", "invite_code"),
];

/// JSON fields whose values are shortened rather than hidden.
const SIGNATURE_FIELDS: &[&str] = &["signature", "proof"];

/// Headers whose whole value is hidden.
const SECRET_HEADERS: &[&str] = &[
    "cookie",
    "set-cookie",
    "x-api-key",
    "proxy-authorization",
    "x-amp-user-key",
];

/// Headers carrying signatures (shortened).
const SIGNATURE_HEADERS: &[&str] = &["x-amp-signature"];

/// Secrets shorter than this are not registered: replacing e.g. `"ab"` everywhere would
/// mangle transcripts without protecting anything real.
const MIN_SECRET_LEN: usize = 6;

/// Marker appended to shortened signatures.
pub const SIG_MARK: &str = "…[sig]";

/// Shared, cheaply clonable set of known secrets.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    // (needle, replacement), longest needle first so overlapping secrets are fully replaced.
    secrets: Arc<RwLock<Vec<(String, String)>>>,
}

impl Redactor {
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// Register `value` to be replaced by `[REDACTED:<label>]` from now on.
    /// Multi-line values (PEM) are also registered JSON-escaped and line by line, so a PEM
    /// embedded in a JSON string or split across lines is still caught.
    pub fn add(&self, label: &str, value: &str) {
        let value = value.trim();
        if value.len() < MIN_SECRET_LEN {
            return;
        }
        let repl = format!("[REDACTED:{label}]");
        let mut needles = vec![value.to_string()];
        if let Ok(quoted) = serde_json::to_string(value) {
            let inner = &quoted[1..quoted.len() - 1];
            if inner != value {
                needles.push(inner.to_string());
            }
        }
        if value.contains('\n') {
            for line in value.lines() {
                let line = line.trim();
                if line.len() >= 16 && !line.starts_with("-----") {
                    needles.push(line.to_string());
                }
            }
        }
        let Ok(mut s) = self.secrets.write() else {
            return;
        };
        for n in needles {
            if !s.iter().any(|(k, _)| *k == n) {
                s.push((n, repl.clone()));
            }
        }
        s.sort_by_key(|e| std::cmp::Reverse(e.0.len()));
    }

    pub fn add_secret(&self, label: &str, secret: &Secret) {
        self.add(label, secret.expose());
    }

    /// Number of registered needles (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.secrets.read().map(|s| s.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Redact free text (a body, a reason, a frame).
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        if let Ok(v) = serde_json::from_str::<Value>(text) {
            let mut hits = Vec::new();
            collect_fields(&v, &mut hits);
            for (needle, repl) in hits {
                out = out.replace(&needle, &repl);
            }
        }
        out = redact_pem_blocks(&out);
        if let Ok(s) = self.secrets.read() {
            for (needle, repl) in s.iter() {
                if out.contains(needle.as_str()) {
                    out = out.replace(needle.as_str(), repl);
                }
            }
        }
        out
    }

    /// Redact one header value given its name.
    pub fn redact_header(&self, name: &str, value: &str) -> String {
        let lname = name.to_ascii_lowercase();
        if lname == "authorization" {
            let scheme = value.split_whitespace().next().unwrap_or("");
            return if scheme.is_empty() || scheme.len() == value.trim().len() {
                "[REDACTED]".to_string()
            } else {
                format!("{scheme} [REDACTED]")
            };
        }
        if SECRET_HEADERS.contains(&lname.as_str()) {
            return "[REDACTED]".to_string();
        }
        if SIGNATURE_HEADERS.contains(&lname.as_str()) {
            return shorten_signature(value);
        }
        self.redact(value)
    }

    /// Redact a header list.
    pub fn redact_headers(&self, headers: &[(String, String)]) -> Vec<(String, String)> {
        headers
            .iter()
            .map(|(k, v)| (k.clone(), self.redact_header(k, v)))
            .collect()
    }

    /// Redact a JSON value in place-equivalent (returns a new value).
    pub fn redact_value(&self, v: &Value) -> Value {
        match serde_json::to_string(v) {
            Ok(s) => serde_json::from_str(&self.redact(&s)).unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }
}

/// `abcdefgh…[sig]`; values of 8 characters or fewer and already shortened ones are kept.
pub fn shorten_signature(sig: &str) -> String {
    if sig.ends_with(SIG_MARK) || sig.chars().count() <= 8 {
        return sig.to_string();
    }
    let head: String = sig.chars().take(8).collect();
    format!("{head}{SIG_MARK}")
}

/// Collect (quoted needle, quoted replacement) pairs for secret and signature fields.
fn collect_fields(v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                if let Value::String(s) = val {
                    if let Some((_, label)) = SECRET_FIELDS.iter().find(|(f, _)| f == k) {
                        if !s.is_empty() && !s.starts_with("[REDACTED") {
                            if let Ok(q) = serde_json::to_string(s) {
                                out.push((q, format!("\"[REDACTED:{label}]\"")));
                            }
                        }
                        continue;
                    }
                    if SIGNATURE_FIELDS.contains(&k.as_str()) {
                        let short = shorten_signature(s);
                        if short != *s {
                            if let (Ok(q), Ok(r)) =
                                (serde_json::to_string(s), serde_json::to_string(&short))
                            {
                                out.push((q, r));
                            }
                        }
                        continue;
                    }
                }
                collect_fields(val, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_fields(x, out)),
        _ => {}
    }
}

/// Replace every `-----BEGIN ... PRIVATE KEY-----` ... `-----END ... PRIVATE KEY-----` block
/// (also JSON-escaped, where newlines are `\n`). An unterminated block is cut to the end.
fn redact_pem_blocks(text: &str) -> String {
    const REPL: &str = "[REDACTED:private_key]";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after_begin = &rest[start..];
        // The BEGIN line must name a private key to be redacted.
        let header_end = after_begin[11..]
            .find("-----")
            .map(|i| i + 11 + 5)
            .unwrap_or(after_begin.len());
        let header = &after_begin[..header_end];
        if !header.contains("PRIVATE KEY") {
            out.push_str(&rest[..start + header_end]);
            rest = &rest[start + header_end..];
            continue;
        }
        out.push_str(&rest[..start]);
        out.push_str(REPL);
        match after_begin.find("-----END ") {
            Some(end) => {
                let tail = &after_begin[end + 9..];
                let close = tail.find("-----").map(|i| i + 5).unwrap_or(tail.len());
                rest = &tail[close..];
            }
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_replaced_raw_and_escaped() {
        let r = Redactor::new();
        r.add("api_key", "amp_live_sk_0123456789");
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----\n";
        r.add("private_key", pem);
        let t = r.redact("key amp_live_sk_0123456789 here");
        assert_eq!(t, "key [REDACTED:api_key] here");
        let escaped = serde_json::to_string(pem).unwrap();
        let t = r.redact(&format!("{{\"pem\":{escaped}}}"));
        assert!(!t.contains("MC4CAQAw"), "{t}");
        // the inner base64 line alone is caught too
        let t = r.redact("line MC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA end");
        assert!(!t.contains("MC4CAQAw"), "{t}");
    }

    #[test]
    fn secret_fields_hidden_even_if_unregistered() {
        let r = Redactor::new();
        let body =
            r#"{"address":"a@b.c","api_key":"amp_live_sk_zzz","nested":{"token":"tkn-123456"}}"#;
        let t = r.redact(body);
        assert!(!t.contains("amp_live_sk_zzz"));
        assert!(!t.contains("tkn-123456"));
        assert!(t.contains("[REDACTED:api_key]"));
        assert!(t.contains("a@b.c"));
    }

    #[test]
    fn unregistered_private_key_pem_blocks_hidden() {
        let r = Redactor::new();
        let t = r.redact("x -----BEGIN PRIVATE KEY-----\nSECRETSTUFF\n-----END PRIVATE KEY----- y");
        assert_eq!(t, "x [REDACTED:private_key] y");
        let pubk = "-----BEGIN PUBLIC KEY-----\nPUB\n-----END PUBLIC KEY-----";
        assert_eq!(r.redact(pubk), pubk);
        let t = r.redact(
            "{\"k\":\"-----BEGIN EC PRIVATE KEY-----\\nABC\\n-----END EC PRIVATE KEY-----\\n\"}",
        );
        assert!(!t.contains("ABC"), "{t}");
        // unterminated
        assert_eq!(
            r.redact("-----BEGIN PRIVATE KEY-----\nABC"),
            "[REDACTED:private_key]"
        );
    }

    #[test]
    fn headers_and_signatures() {
        let r = Redactor::new();
        assert_eq!(
            r.redact_header("Authorization", "Bearer amp_live_sk_x"),
            "Bearer [REDACTED]"
        );
        assert_eq!(r.redact_header("authorization", "rawkey"), "[REDACTED]");
        assert_eq!(
            r.redact_header("X-AMP-Signature", "sha256=0123456789abcdef"),
            "sha256=0…[sig]"
        );
        let t = r.redact(r#"{"signature":"QUJDREVGR0hJSktMTU5PUA==","to":"x"}"#);
        assert!(t.contains("\"QUJDREVG…[sig]\""), "{t}");
        // idempotent
        assert_eq!(r.redact(&t), t);
    }

    #[test]
    fn short_values_not_registered() {
        let r = Redactor::new();
        r.add("x", "ab");
        assert!(r.is_empty());
        assert_eq!(r.redact("ab ab"), "ab ab");
    }
}
