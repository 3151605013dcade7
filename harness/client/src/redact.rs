//! Redaction of secrets before anything is stored in a transcript, report or trace.
//!
//! Three layers, because a secret can reach a transcript in ways nobody planned:
//! 1. registered secrets (API keys, private-key PEM, webhook secrets) are replaced wherever
//!    they occur, raw or JSON-escaped;
//! 2. values of JSON fields whose name marks them secret (`api_key`, `token`,
//!    `webhook_secret`, ...) are replaced even if nobody registered them (e.g. the `api_key`
//!    in a registration response before the runner knows it);
//! 3. any PEM private-key block is replaced;
//! 4. query parameters that carry credentials in capability URLs (presigned upload URLs
//!    `…/content?token=…`, signed download URLs, `X-Amz-Signature`, `?api_key=`, ...) are
//!    replaced by `[REDACTED]` wherever a URL appears: request lines, `Location` headers,
//!    JSON values such as `upload_url`/`url`, notes and failure reasons. Whoever holds such a
//!    URL holds the file, so a report that keeps it hands the file to every reader.
//!
//! Signatures are not secret but are long and noisy: they are shortened to their first
//! 8 characters plus `…[sig]` (in `X-AMP-Signature: sha256=<hex>` the scheme is kept and the
//! value after it is shortened, so the header reads like a message signature).

use crate::secret::Secret;
use aho_corasick::AhoCorasick;
use serde_json::Value;
use std::sync::{Arc, OnceLock, RwLock};

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

/// Query parameters whose values are credentials (compared case-insensitively). A URL that
/// carries one of these is a capability: anyone who reads it can use it.
const SECRET_QUERY_PARAMS: &[&str] = &[
    "token",
    "sig",
    "signature",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "api_key",
    "apikey",
    "access_token",
    "key",
];

/// What a credential query value is replaced with.
pub const QUERY_REDACTED: &str = "[REDACTED]";

/// Secrets shorter than this are not registered: replacing e.g. `"ab"` everywhere would
/// mangle transcripts without protecting anything real.
const MIN_SECRET_LEN: usize = 6;

/// Marker appended to shortened signatures.
pub const SIG_MARK: &str = "…[sig]";

/// Texts at least this long are searched for all needles in one pass before replacing: a
/// run registers hundreds of secrets, and testing each one against a megabyte body took
/// seconds (in a debug build) on a runtime thread.
const ONE_PASS_FROM: usize = 16 * 1024;

/// Shared, cheaply clonable set of known secrets.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// The current needles. [`Redactor::redact`] takes a snapshot and releases the lock before
    /// scanning, so a long text never holds up registration or other redactions.
    secrets: Arc<RwLock<Arc<Needles>>>,
}

/// One version of the registered secrets.
#[derive(Debug, Default)]
struct Needles {
    /// (needle, replacement), longest needle first so overlapping secrets are fully replaced.
    pairs: Vec<(String, String)>,
    /// Finds which needles occur in a long text in one pass; built on first use.
    finder: OnceLock<Option<AhoCorasick>>,
}

impl Needles {
    /// The pairs whose needle occurs in `text` (all of them when no finder can be built).
    fn present_in(&self, text: &str) -> Vec<&(String, String)> {
        if text.len() < ONE_PASS_FROM {
            return self.pairs.iter().collect();
        }
        let finder = self
            .finder
            .get_or_init(|| AhoCorasick::new(self.pairs.iter().map(|(n, _)| n)).ok());
        let Some(finder) = finder else {
            return self.pairs.iter().collect();
        };
        let mut hit = vec![false; self.pairs.len()];
        for m in finder.find_overlapping_iter(text) {
            hit[m.pattern().as_usize()] = true;
        }
        self.pairs
            .iter()
            .zip(hit)
            .filter_map(|(p, h)| h.then_some(p))
            .collect()
    }
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
        let Ok(mut current) = self.secrets.write() else {
            return;
        };
        let mut pairs = current.pairs.clone();
        for n in needles {
            if !pairs.iter().any(|(k, _)| *k == n) {
                pairs.push((n, repl.clone()));
            }
        }
        pairs.sort_by_key(|e| std::cmp::Reverse(e.0.len()));
        *current = Arc::new(Needles {
            pairs,
            finder: OnceLock::new(),
        });
    }

    pub fn add_secret(&self, label: &str, secret: &Secret) {
        self.add(label, secret.expose());
    }

    /// Number of registered needles (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.secrets.read().map(|s| s.pairs.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Redact free text (a body, a reason, a frame).
    pub fn redact(&self, text: &str) -> String {
        self.redact_prefix(text, usize::MAX)
    }

    /// [`Redactor::redact`] for a text of which only the first `keep` bytes will be kept:
    /// JSON-field and PEM redaction see the whole text, the registered secrets only the part
    /// that can reach into the first `keep` bytes (every secret starting there ends within
    /// `keep` + the longest secret). The first `keep` bytes of the result are those `redact`
    /// gives; scanning hundreds of secrets over a megabyte body takes seconds in a debug
    /// build, time the async workers (and an embedded mock beside them) cannot spare.
    pub fn redact_prefix(&self, text: &str, keep: usize) -> String {
        let mut out = text.to_string();
        if let Ok(v) = serde_json::from_str::<Value>(text) {
            let mut hits = Vec::new();
            collect_fields(&v, &mut hits);
            for (needle, repl) in hits {
                out = out.replace(&needle, &repl);
            }
        }
        out = redact_pem_blocks(&out);
        let needles = self.secrets.read().map(|s| Arc::clone(&s)).ok();
        if let Some(needles) = needles {
            // One byte more than any secret starting in the kept part can reach, so a cut text
            // stays longer than `keep` and its reader still sees that it was cut.
            let longest = needles.pairs.first().map_or(0, |e| e.0.len());
            let mut window = keep.saturating_add(longest).saturating_add(1);
            if window < out.len() {
                while !out.is_char_boundary(window) {
                    window += 1;
                }
                out.truncate(window);
            }
            for (needle, repl) in needles.present_in(&out) {
                if out.contains(needle.as_str()) {
                    out = out.replace(needle.as_str(), repl);
                }
            }
        }
        // After the registered secrets, so an API key sent as `?token=` keeps its label
        // (`[REDACTED:api_key]` tells the reader more than `[REDACTED]`).
        redact_query_params(&out)
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
            return shorten_signature_header(value);
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

/// Shorten a signature header value. `sha256=<hex>` (webhooks, WH-002) and
/// `t=<ts>,v1=<hex>`-style lists keep each `scheme=` label and shorten only what follows,
/// so the header reads `sha256=0123abcd…[sig]` like a shortened message signature rather
/// than `sha256=0…[sig]`. A bare Base64 value (federation, FED-003) is shortened as a whole.
/// All-digit parts (timestamps) are not signatures and are kept.
pub fn shorten_signature_header(value: &str) -> String {
    fn is_label(k: &str) -> bool {
        !k.is_empty()
            && k.len() <= 16
            && k.starts_with(|c: char| c.is_ascii_alphabetic())
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    }
    fn labelled(part: &str) -> Option<(&str, &str)> {
        part.split_once('=')
            .filter(|(k, v)| is_label(k.trim()) && !v.is_empty() && !v.starts_with('='))
    }
    let parts: Vec<&str> = value.split(',').collect();
    if !parts.iter().all(|p| labelled(p).is_some()) {
        return shorten_signature(value);
    }
    parts
        .iter()
        .filter_map(|p| labelled(p))
        .map(|(k, v)| {
            if v.bytes().all(|b| b.is_ascii_digit()) {
                format!("{k}={v}")
            } else {
                format!("{k}={}", shorten_signature(v))
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Replace the values of credential query parameters ([`SECRET_QUERY_PARAMS`]) in every URL
/// inside `text` by [`QUERY_REDACTED`].
///
/// A parameter counts when its name starts the text (a form-encoded body) or directly
/// follows a query separator: `?`, `&`, `;`
/// (also `&amp;`), the JSON escape `\u0026`, or the percent-encoded `%3F`/`%26` of a URL
/// nested in another URL's query (then `%3D` is accepted as the `=`). This is what keeps
/// `monkey=` or prose like `token=` in a sentence from matching. The value runs to the next
/// `&`, `#`, quote, angle bracket, backslash escape (except `\/`), whitespace or non-ASCII
/// character; in the percent-encoded form also to `%26`. Values already starting with
/// `[REDACTED` are kept, so redacting twice changes nothing.
pub fn redact_query_params(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0; // bytes of `text` already in `out`
    let mut i = 0;
    while i < b.len() {
        let sep = if i == 0 {
            query_separator(b).or(Some((0, false)))
        } else {
            query_separator(&b[i..])
        };
        let Some((sep_len, encoded)) = sep else {
            i += 1;
            continue;
        };
        let name_start = i + sep_len;
        let name_end = name_start
            + b[name_start..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
                .count();
        let eq_len = if b.get(name_end) == Some(&b'=') {
            1
        } else if b.len() >= name_end + 3 && b[name_end..name_end + 3].eq_ignore_ascii_case(b"%3D")
        {
            3
        } else {
            0
        };
        let name = &text[name_start..name_end];
        if eq_len == 0
            || !SECRET_QUERY_PARAMS
                .iter()
                .any(|p| p.eq_ignore_ascii_case(name))
        {
            i = name_start.max(i + 1);
            continue;
        }
        let value_start = name_end + eq_len;
        let value_end = query_value_end(b, value_start, encoded || eq_len == 3);
        if value_end > value_start && !text[value_start..value_end].starts_with("[REDACTED") {
            out.push_str(&text[copied..value_start]);
            out.push_str(QUERY_REDACTED);
            copied = value_end;
        }
        i = value_end.max(name_start);
    }
    out.push_str(&text[copied..]);
    out
}

/// Length of the query separator at the start of `b`, and whether it was percent-encoded.
fn query_separator(b: &[u8]) -> Option<(usize, bool)> {
    let starts = |p: &[u8]| b.len() >= p.len() && b[..p.len()].eq_ignore_ascii_case(p);
    if starts(b"&amp;") {
        Some((5, false))
    } else if starts(b"\\u0026") {
        Some((6, false))
    } else if starts(b"%3F") || starts(b"%26") {
        Some((3, true))
    } else if matches!(b.first(), Some(b'?' | b'&' | b';')) {
        Some((1, false))
    } else {
        None
    }
}

/// End (exclusive) of a query value starting at `start`.
fn query_value_end(b: &[u8], start: usize, encoded: bool) -> usize {
    let mut j = start;
    while j < b.len() {
        let c = b[j];
        let stop = match c {
            b'&' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'`' => true,
            b'\\' => b.get(j + 1) != Some(&b'/'),
            b'%' if encoded => b.len() >= j + 3 && b[j..j + 3].eq_ignore_ascii_case(b"%26"),
            _ => c <= b' ' || c >= 0x7f,
        };
        if stop {
            break;
        }
        j += if c == b'\\' { 2 } else { 1 };
    }
    j.min(b.len())
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

    /// A long text (searched in one pass) is redacted exactly like a short one, overlapping
    /// secrets included: the longer secret wins wherever both could match.
    #[test]
    fn long_texts_are_redacted_like_short_ones() {
        let r = Redactor::new();
        for i in 0..500 {
            r.add("api_key", &format!("amp_live_sk_filler_{i:04}"));
        }
        r.add("api_key", "amp_live_sk_0123456789");
        r.add("webhook_secret", "sk_0123456789_whsec");
        let core =
            "a amp_live_sk_0123456789_whsec b sk_0123456789_whsec c amp_live_sk_filler_0042 d";
        let short = r.redact(core);
        assert!(!short.contains("0123456789"), "{short}");
        let padding = "x".repeat(ONE_PASS_FROM);
        let long = r.redact(&format!("{padding}{core}"));
        assert_eq!(long.strip_prefix(padding.as_str()), Some(short.as_str()));
    }

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
            "sha256=01234567…[sig]"
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

    #[test]
    fn webhook_signature_header_keeps_scheme_and_eight_chars() {
        let r = Redactor::new();
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let short = r.redact_header("x-amp-signature", &format!("sha256={hex}"));
        assert_eq!(short, "sha256=e3b0c442…[sig]");
        // idempotent: the final report pass redacts stored headers again
        assert_eq!(r.redact_header("X-AMP-Signature", &short), short);
        // `t=<ts>,v1=<sig>` lists: timestamps kept, each signature shortened
        assert_eq!(
            r.redact_header("X-AMP-Signature", &format!("t=1767225600,v1={hex}")),
            "t=1767225600,v1=e3b0c442…[sig]"
        );
    }

    #[test]
    fn federation_signature_header_base64_shortened_like_message_signatures() {
        let r = Redactor::new();
        let b64 = "XqUxKrd3Q0FBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQQ==";
        let short = r.redact_header("X-AMP-Signature", b64);
        assert_eq!(short, "XqUxKrd3…[sig]");
        assert_eq!(short, shorten_signature(b64));
        assert!(!short.contains("Q0FB"));
    }

    #[test]
    fn presigned_upload_url_token_redacted_in_text_and_json() {
        let r = Redactor::new();
        let url = "http://127.0.0.1:4000/v1/attachments/att_1_ab/content?token=427488b202c0fd4052d5a00abc93fe";
        assert_eq!(
            r.redact(url),
            "http://127.0.0.1:4000/v1/attachments/att_1_ab/content?token=[REDACTED]"
        );
        let body = format!(
            r#"{{"id":"att_1_ab","upload_url":"{url}","url":"http://h/f?x=1&token=deadbeef99#frag"}}"#
        );
        let t = r.redact(&body);
        assert!(!t.contains("427488b2"), "{t}");
        assert!(!t.contains("deadbeef99"), "{t}");
        assert!(t.contains("content?token=[REDACTED]\""), "{t}");
        assert!(t.contains("?x=1&token=[REDACTED]#frag"), "{t}");
        // still valid JSON with the other fields untouched
        let v: Value = serde_json::from_str(&t).unwrap();
        assert_eq!(v["id"], "att_1_ab");
        assert_eq!(r.redact(&t), t);
    }

    #[test]
    fn every_credential_param_is_redacted_case_insensitively() {
        let r = Redactor::new();
        for name in [
            "token",
            "sig",
            "signature",
            "X-Amz-Signature",
            "X-Amz-Credential",
            "api_key",
            "access_token",
            "key",
            "TOKEN",
        ] {
            let t = r.redact(&format!("GET https://f.test/o?a=1&{name}=s3cr3tVALUE&b=2"));
            assert_eq!(
                t,
                format!("GET https://f.test/o?a=1&{name}=[REDACTED]&b=2"),
                "{name}"
            );
        }
        // an S3-style presigned URL: credential (with slashes, percent-encoded) and signature
        let s3 = "https://b.s3.test/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=aabbccddeeff00112233";
        let t = r.redact(s3);
        assert!(!t.contains("AKIAEXAMPLE") && !t.contains("aabbccdd"), "{t}");
        assert!(t.contains("X-Amz-Algorithm=AWS4-HMAC-SHA256"), "{t}");
        assert!(t.contains("X-Amz-Expires=900&"), "{t}");
    }

    #[test]
    fn only_real_query_parameters_match() {
        let r = Redactor::new();
        // not after a separator: names that merely end in a credential name, and prose
        for text in [
            "https://h/p?monkey=banana&keyring=1&sigma=2",
            "the token=value pair in prose",
            "https://h/p?token=",
            "/v1/ws?token=<api_key> authenticates",
            "/v1/ws?token=…",
        ] {
            assert_eq!(r.redact(text), text);
        }
    }

    #[test]
    fn escaped_and_nested_urls_are_covered() {
        let r = Redactor::new();
        // `&` JSON-escaped as \u0026 (Go's encoding/json), `/` escaped as \/ (PHP)
        let t = r.redact(r#"{"url":"https:\/\/h\/f?a=1\u0026sig=abc\/def123\u0026b=2"}"#);
        assert_eq!(
            t,
            r#"{"url":"https:\/\/h\/f?a=1\u0026sig=[REDACTED]\u0026b=2"}"#
        );
        // HTML/XML-escaped ampersand
        assert_eq!(
            r.redact("<a href=\"/f?a=1&amp;token=zzzzzz99\">"),
            "<a href=\"/f?a=1&amp;token=[REDACTED]\">"
        );
        // a capability URL percent-encoded inside another URL's query
        let t = r.redact("https://h/login?next=https%3A%2F%2Ff%2Fx%3Ftoken%3Dsecret42%26y%3D1");
        assert_eq!(
            t,
            "https://h/login?next=https%3A%2F%2Ff%2Fx%3Ftoken%3D[REDACTED]%26y%3D1"
        );
        // Location header values go through the same pass
        assert_eq!(
            r.redact_header("Location", "/v1/attachments/a/file?token=0f0f0f0f0f"),
            "/v1/attachments/a/file?token=[REDACTED]"
        );
    }

    #[test]
    fn registered_key_in_a_url_keeps_its_label() {
        let r = Redactor::new();
        r.add("api_key", "amp_test_sk_0123456789abcdef");
        let t = r.redact("ws://127.0.0.1:1/v1/ws?token=amp_test_sk_0123456789abcdef");
        assert_eq!(t, "ws://127.0.0.1:1/v1/ws?token=[REDACTED:api_key]");
        assert_eq!(r.redact(&t), t);
    }

    #[test]
    fn hostile_text_does_not_panic() {
        let r = Redactor::new();
        for text in [
            "?",
            "&",
            "?token",
            "?token%3",
            "%3F",
            "\\",
            "?token=\\",
            "?token=é",
            "é?token=é&sig=ü",
            "&amp",
            "?token=[REDACTED",
        ] {
            let _ = r.redact(text);
            let _ = redact_query_params(text);
        }
        assert_eq!(r.redact("é?token=x1é"), "é?token=[REDACTED]é");
    }

    #[test]
    fn form_encoded_body_starting_with_a_credential() {
        let r = Redactor::new();
        assert_eq!(
            r.redact("token=abc123456&next=%2Fhome"),
            "token=[REDACTED]&next=%2Fhome"
        );
    }

    #[test]
    fn a_prefix_is_redacted_like_the_whole_text() {
        let r = Redactor::new();
        r.add("api_key", "amp_live_sk_0123456789abcdef0123");
        let secret = "amp_live_sk_0123456789abcdef0123";
        // The secret straddles the cut at 40; more of it far beyond the cut.
        let text = format!("{}{secret}{}{secret}", "x".repeat(30), "y".repeat(100_000));
        let whole = r.redact(&text);
        let prefix = r.redact_prefix(&text, 40);
        assert!(
            prefix.len() < 200,
            "the tail is not scanned: {}",
            prefix.len()
        );
        assert_eq!(&prefix[..40], &whole[..40]);
        assert!(!prefix.contains("0123456789abcdef"));
        let pem =
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----";
        let text = format!("{}{pem}", "z".repeat(10));
        assert!(!r.redact_prefix(&text, 20).contains("MC4CAQ"));
    }
}
