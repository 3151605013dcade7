//! Route request and envelope model, size limits, attachment metadata
//! (MSG-001..014, RTE-002, SIG-004/006, ATT-004, ATT-010, C-41, C-44).

use crate::canonical::PayloadHash;
use crate::signing::{Priority, SigningFields};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const PROTOCOL_VERSION: &str = "amp/0.1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub subject_chars: usize,
    pub message_bytes: usize,
    pub context_bytes: usize,
    pub message_total_bytes: usize,
    pub http_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            subject_chars: 256,
            message_bytes: 65_536,
            context_bytes: 262_144,
            message_total_bytes: 524_288,
            http_body_bytes: 1_048_576,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RouteOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message} ({rule})")]
pub struct RouteError {
    pub status: u16,
    pub code: &'static str,
    pub field: Option<String>,
    pub message: String,
    pub rule: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouteRequest {
    pub to: String,
    pub subject: String,
    pub priority: Option<Priority>,
    pub in_reply_to: Option<String>,
    pub signature: Option<String>,
    pub payload: Value,
    pub options: Option<RouteOptions>,
    pub idempotency_key: Option<String>,
    pub from: Option<String>,
    pub id: Option<String>,
    pub timestamp: Option<String>,
}

impl RouteError {
    fn new(
        status: u16,
        code: &'static str,
        field: Option<&str>,
        message: String,
        rule: &'static str,
    ) -> RouteError {
        RouteError {
            status,
            code,
            field: field.map(str::to_string),
            message,
            rule,
        }
    }
    fn missing(field: &str, rule: &'static str) -> RouteError {
        RouteError::new(
            400,
            "missing_field",
            Some(field),
            format!("`{field}` is required"),
            rule,
        )
    }
    fn invalid(field: &str, message: String, rule: &'static str) -> RouteError {
        RouteError::new(400, "invalid_field", Some(field), message, rule)
    }
}

/// JSON type name for error messages.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An optional top-level string field. `null` counts as absent: the spec's own examples send
/// `in_reply_to: null` (C-43) and request-side checks follow the prose, not the schema (C-41).
fn opt_string(
    body: &serde_json::Map<String, Value>,
    field: &str,
    rule: &'static str,
) -> Result<Option<String>, RouteError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(RouteError::invalid(
            field,
            format!("`{field}` must be a string, got {}", type_name(other)),
            rule,
        )),
    }
}

/// A provider-assigned field a client must not send (SIG-005/006). Kept verbatim (non-strings
/// as their JSON text) so a provider can detect the attempt and prove it overwrote the value.
fn spoofable(body: &serde_json::Map<String, Value>, field: &str) -> Option<String> {
    match body.get(field) {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}

fn serialized_len(v: &Value) -> usize {
    serde_json::to_vec(v).map(|b| b.len()).unwrap_or(usize::MAX)
}

impl RouteRequest {
    /// Validate a `POST /v1/route` body (RTE-002) that is already parsed (use
    /// [`RouteRequest::from_body`] for raw bytes).
    ///
    /// Checks, in this order, each failing with 400 and the field and rule named:
    /// body is an object (`invalid_request`); `to` string; `subject` string of 1..=`subject_chars`
    /// characters (code points, C-44; MSG-003); `priority` one of the four lowercase names
    /// (MSG-004); `in_reply_to`, `signature`, `idempotency_key` strings; `options` an object with
    /// only a boolean `receipt` (RTE-024); `payload` an object (JSON-004) with string `type` and
    /// `message` (MSG-008), `context` an object and `attachments` an array of valid provider or
    /// AFP attachments when present; then sizes (MSG-014): `payload.message` bytes,
    /// compact-serialised `context` bytes, and the compact-serialised body as "the whole
    /// message". Over-size is `invalid_field` (the spec names no code, C-44).
    ///
    /// `null` in an optional top-level field counts as absent. Unknown top-level fields are
    /// ignored (C-41: the prose is lenient where the schema is not). `from`, `id` and `timestamp`
    /// are kept, not refused, so a provider can show it overwrote them (SIG-006).
    pub fn from_value(v: &Value, limits: &Limits) -> Result<RouteRequest, RouteError> {
        let Value::Object(body) = v else {
            return Err(RouteError::new(
                400,
                "invalid_request",
                None,
                format!("route body must be a JSON object, got {}", type_name(v)),
                "RTE-002",
            ));
        };

        let to = match body.get("to") {
            None | Some(Value::Null) => return Err(RouteError::missing("to", "RTE-002")),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(RouteError::invalid(
                    "to",
                    format!("`to` must be an address string, got {}", type_name(other)),
                    "RTE-002",
                ));
            }
        };

        let subject = match body.get("subject") {
            None | Some(Value::Null) => return Err(RouteError::missing("subject", "MSG-003")),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(RouteError::invalid(
                    "subject",
                    format!("`subject` must be a string, got {}", type_name(other)),
                    "MSG-003",
                ));
            }
        };
        let subject_chars = subject.chars().count();
        if subject_chars == 0 {
            return Err(RouteError::invalid(
                "subject",
                "`subject` must not be empty".to_string(),
                "MSG-003",
            ));
        }
        if subject_chars > limits.subject_chars {
            return Err(RouteError::invalid(
                "subject",
                format!(
                    "`subject` is {subject_chars} characters: at most {} are allowed",
                    limits.subject_chars
                ),
                "MSG-003",
            ));
        }

        let priority = match body.get("priority") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.parse::<Priority>().map_err(|_| {
                RouteError::invalid(
                    "priority",
                    format!(
                        "`priority` {:?} is not one of urgent, high, normal, low (lowercase)",
                        s.chars().take(32).collect::<String>()
                    ),
                    "MSG-004",
                )
            })?),
            Some(other) => {
                return Err(RouteError::invalid(
                    "priority",
                    format!("`priority` must be a string, got {}", type_name(other)),
                    "MSG-004",
                ));
            }
        };

        let in_reply_to = opt_string(body, "in_reply_to", "MSG-011")?;
        let signature = opt_string(body, "signature", "SIG-007")?;
        let idempotency_key = opt_string(body, "idempotency_key", "RTE-002")?;

        let options = match body.get("options") {
            None | Some(Value::Null) => None,
            Some(Value::Object(o)) => {
                let mut opts = RouteOptions::default();
                for (k, val) in o {
                    match (k.as_str(), val) {
                        ("receipt", Value::Bool(b)) => opts.receipt = Some(*b),
                        ("receipt", other) => {
                            return Err(RouteError::invalid(
                                "options.receipt",
                                format!(
                                    "`options.receipt` must be a boolean, got {}",
                                    type_name(other)
                                ),
                                "RTE-024",
                            ));
                        }
                        (other, _) => {
                            let field = format!("options.{other}");
                            return Err(RouteError::invalid(
                                &field,
                                format!("unknown option `{other}`: the only option is `receipt`"),
                                "RTE-024",
                            ));
                        }
                    }
                }
                Some(opts)
            }
            Some(other) => {
                return Err(RouteError::invalid(
                    "options",
                    format!("`options` must be an object, got {}", type_name(other)),
                    "RTE-024",
                ));
            }
        };

        let payload_value = match body.get("payload") {
            None => return Err(RouteError::missing("payload", "MSG-008")),
            Some(p) => p,
        };
        let Value::Object(payload) = payload_value else {
            return Err(RouteError::invalid(
                "payload",
                format!(
                    "`payload` must be an object, got {}",
                    type_name(payload_value)
                ),
                "JSON-004",
            ));
        };
        let mut message_len = 0;
        for field in ["type", "message"] {
            let path = format!("payload.{field}");
            match payload.get(field) {
                None | Some(Value::Null) => return Err(RouteError::missing(&path, "MSG-008")),
                Some(Value::String(s)) => {
                    if field == "message" {
                        message_len = s.len();
                    }
                }
                Some(other) => {
                    return Err(RouteError::invalid(
                        &path,
                        format!("`{path}` must be a string, got {}", type_name(other)),
                        "MSG-008",
                    ));
                }
            }
        }
        let context_len = match payload.get("context") {
            None => None,
            Some(c @ Value::Object(_)) => Some(serialized_len(c)),
            Some(other) => {
                return Err(RouteError::invalid(
                    "payload.context",
                    format!(
                        "`payload.context` must be an object, got {}",
                        type_name(other)
                    ),
                    "MSG-008",
                ));
            }
        };
        match payload.get("attachments") {
            None => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    validate_any_attachment(item).map_err(|e| {
                        let field = match e.field() {
                            Some(f) => format!("payload.attachments[{i}].{f}"),
                            None => format!("payload.attachments[{i}]"),
                        };
                        RouteError::invalid(&field, e.to_string(), e.rule())
                    })?;
                }
            }
            Some(other) => {
                return Err(RouteError::invalid(
                    "payload.attachments",
                    format!(
                        "`payload.attachments` must be an array, got {}",
                        type_name(other)
                    ),
                    "MSG-008",
                ));
            }
        }

        if message_len > limits.message_bytes {
            return Err(RouteError::invalid(
                "payload.message",
                format!(
                    "`payload.message` is {message_len} bytes: at most {} are allowed",
                    limits.message_bytes
                ),
                "MSG-014",
            ));
        }
        if let Some(n) = context_len.filter(|n| *n > limits.context_bytes) {
            return Err(RouteError::invalid(
                "payload.context",
                format!(
                    "`payload.context` serialises to {n} bytes: at most {} are allowed",
                    limits.context_bytes
                ),
                "MSG-014",
            ));
        }
        let total = serialized_len(v);
        if total > limits.message_total_bytes {
            return Err(RouteError::invalid(
                "payload",
                format!(
                    "the message serialises to {total} bytes: at most {} are allowed",
                    limits.message_total_bytes
                ),
                "MSG-014",
            ));
        }

        Ok(RouteRequest {
            to,
            subject,
            priority,
            in_reply_to,
            signature,
            payload: payload_value.clone(),
            options,
            idempotency_key,
            from: spoofable(body, "from"),
            id: spoofable(body, "id"),
            timestamp: spoofable(body, "timestamp"),
        })
    }

    /// Validate a raw route body: size cap first (`413 request_too_large`, API limit of
    /// `http_body_bytes`, C-44), then strict JSON (`400 invalid_request`, JSON-003/005/008),
    /// then [`RouteRequest::from_value`].
    pub fn from_body(bytes: &[u8], limits: &Limits) -> Result<RouteRequest, RouteError> {
        if bytes.len() > limits.http_body_bytes {
            return Err(RouteError::new(
                413,
                "request_too_large",
                None,
                format!(
                    "request body is {} bytes: at most {} are allowed",
                    bytes.len(),
                    limits.http_body_bytes
                ),
                "MSG-014",
            ));
        }
        let v = crate::json::parse_strict(bytes)
            .map_err(|e| RouteError::new(400, "invalid_request", None, e.to_string(), e.rule()))?;
        RouteRequest::from_value(&v, limits)
    }

    /// The fields the sender signs (SIG-007), with `from` supplied by the caller (the provider
    /// knows it from the API key; a client knows its own address). A missing priority signs as
    /// `normal`, the default (MSG-004).
    pub fn signing_fields<'a>(
        &'a self,
        from: &'a str,
        payload_hash: &'a PayloadHash,
    ) -> SigningFields<'a> {
        SigningFields {
            from,
            to: &self.to,
            subject: &self.subject,
            priority: self.priority.unwrap_or_default(),
            in_reply_to: self.in_reply_to.as_deref(),
            payload_hash,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub version: String,
    pub id: String,
    pub from: String,
    pub to: String,
    pub subject: String,
    #[serde(default)]
    pub priority: Priority,
    pub timestamp: String,
    pub signature: String,
    pub thread_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub envelope: Envelope,
    pub payload: Value,
}

/// Scan states of a provider attachment as 04 lists them (C-33). Which of them may appear in a
/// *routed* payload (ATT-008) is the provider's decision, not checked here.
pub const SCAN_STATUSES: [&str; 6] = [
    "pending",
    "clean",
    "basic_clean",
    "unscanned",
    "suspicious",
    "rejected",
];

/// Longest attachment filename, in characters (ATT-004).
pub const MAX_FILENAME_CHARS: usize = 255;

/// Why an attachment object was refused. [`AttachmentError::field`] names the member,
/// [`AttachmentError::rule`] the catalogue id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentError {
    #[error("attachment must be a JSON object, got {found}")]
    NotAnObject { found: &'static str },
    #[error("attachment field `{field}` is required ({rule})")]
    Missing {
        field: &'static str,
        rule: &'static str,
    },
    #[error("attachment field `{field}` must be {expected} ({rule})")]
    WrongType {
        field: &'static str,
        expected: &'static str,
        rule: &'static str,
    },
    #[error("attachment field `{field}` is invalid: {reason} ({rule})")]
    Invalid {
        field: &'static str,
        reason: String,
        rule: &'static str,
    },
    #[error("attachment field `{field}` is not allowed on an `afp` attachment (AFP-001)")]
    NotAllowedOnAfp { field: &'static str },
    #[error(
        "attachment `storage` {found:?} is unknown: use `provider` (or omit it) or `afp` (ATT-001)"
    )]
    UnknownStorage { found: String },
}

impl AttachmentError {
    /// Catalogue id of the rule that failed.
    pub fn rule(&self) -> &'static str {
        match self {
            AttachmentError::NotAnObject { .. } => "ATT-004",
            AttachmentError::Missing { rule, .. }
            | AttachmentError::WrongType { rule, .. }
            | AttachmentError::Invalid { rule, .. } => rule,
            AttachmentError::NotAllowedOnAfp { .. } => "AFP-001",
            AttachmentError::UnknownStorage { .. } => "ATT-001",
        }
    }
    /// The attachment member at fault, when one is.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            AttachmentError::NotAnObject { .. } => None,
            AttachmentError::Missing { field, .. }
            | AttachmentError::WrongType { field, .. }
            | AttachmentError::Invalid { field, .. }
            | AttachmentError::NotAllowedOnAfp { field } => Some(field),
            AttachmentError::UnknownStorage { .. } => Some("storage"),
        }
    }
}

type Obj = serde_json::Map<String, Value>;

fn req_str<'a>(
    o: &'a Obj,
    field: &'static str,
    rule: &'static str,
) -> Result<&'a str, AttachmentError> {
    match o.get(field) {
        None | Some(Value::Null) => Err(AttachmentError::Missing { field, rule }),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(AttachmentError::WrongType {
            field,
            expected: "a string",
            rule,
        }),
    }
}

fn invalid(field: &'static str, reason: impl Into<String>, rule: &'static str) -> AttachmentError {
    AttachmentError::Invalid {
        field,
        reason: reason.into(),
        rule,
    }
}

/// `filename`: 1..=255 characters, no `/`, `\`, NUL, other control characters, or `..`
/// (ATT-004, ATT-009). Refusing `..` anywhere is stricter than needed for `report..pdf`, but a
/// filename is never allowed to look like a path step.
fn check_filename(o: &Obj, rule: &'static str) -> Result<(), AttachmentError> {
    let name = req_str(o, "filename", rule)?;
    let n = name.chars().count();
    if n == 0 {
        return Err(invalid("filename", "must not be empty", rule));
    }
    if n > MAX_FILENAME_CHARS {
        return Err(invalid(
            "filename",
            format!("is {n} characters: at most {MAX_FILENAME_CHARS} are allowed"),
            rule,
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| matches!(c, '/' | '\\') || c.is_control())
    {
        return Err(invalid(
            "filename",
            format!("contains {c:?}: no path separators or control characters"),
            "ATT-009",
        ));
    }
    if name.contains("..") {
        return Err(invalid("filename", "contains `..`", "ATT-009"));
    }
    // A percent-encoded separator or dot-dot becomes a path step once some layer decodes it.
    let lower = name.to_ascii_lowercase();
    if let Some(seq) = ["%2f", "%5c", "%2e%2e", "%00"]
        .iter()
        .find(|seq| lower.contains(**seq))
    {
        return Err(invalid(
            "filename",
            format!("contains the percent-encoded sequence `{seq}` (a path step once decoded)"),
            "ATT-009",
        ));
    }
    Ok(())
}

fn check_content_type(o: &Obj, rule: &'static str) -> Result<(), AttachmentError> {
    let ct = req_str(o, "content_type", rule)?;
    let essence = ct.split(';').next().unwrap_or("").trim();
    let ok = essence.split_once('/').is_some_and(|(t, s)| {
        let token = |x: &str| {
            !x.is_empty()
                && x.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
        };
        token(t) && token(s)
    });
    if ok && !ct.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(invalid(
            "content_type",
            "must be a media type like `application/pdf`",
            rule,
        ))
    }
}

/// `size`: a non-negative integer (JSON-006: `1.0` is refused).
fn check_size(o: &Obj, rule: &'static str) -> Result<(), AttachmentError> {
    match o.get("size") {
        None | Some(Value::Null) => Err(AttachmentError::Missing {
            field: "size",
            rule,
        }),
        Some(Value::Number(n)) if n.is_u64() => Ok(()),
        Some(Value::Number(n)) if n.is_i64() => Err(invalid("size", "must not be negative", rule)),
        Some(_) => Err(AttachmentError::WrongType {
            field: "size",
            expected: "a non-negative integer number of bytes",
            rule: "JSON-006",
        }),
    }
}

/// `digest`: `sha256:` and 64 lowercase hex digits; any other algorithm is refused, never
/// stripped (ATT-017).
fn check_digest(o: &Obj, rule: &'static str) -> Result<(), AttachmentError> {
    let d = req_str(o, "digest", rule)?;
    let Some(hex) = d.strip_prefix("sha256:") else {
        let alg: String = d.split(':').next().unwrap_or("").chars().take(16).collect();
        return Err(invalid(
            "digest",
            format!("algorithm `{alg}` is not allowed: use `sha256:<64 lowercase hex>`"),
            "ATT-017",
        ));
    };
    if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(invalid(
            "digest",
            "must be `sha256:` followed by 64 lowercase hex digits",
            rule,
        ))
    }
}

fn check_url(
    o: &Obj,
    field: &'static str,
    required: bool,
    rule: &'static str,
) -> Result<(), AttachmentError> {
    let u = match o.get(field) {
        None | Some(Value::Null) if !required => return Ok(()),
        _ => req_str(o, field, rule)?,
    };
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !u.chars().any(|c| c.is_control() || c == ' ') => Ok(()),
        _ => Err(invalid(field, "must be an absolute http(s) URL", rule)),
    }
}

fn check_time(o: &Obj, field: &'static str, rule: &'static str) -> Result<i64, AttachmentError> {
    let t = req_str(o, field, rule)?;
    crate::time::parse_rfc3339(t).map_err(|e| invalid(field, e.to_string(), rule))
}

/// Validate a provider-stored attachment object (ATT-004): `id` of the form
/// `att_<digits>_<lowercase hex>` (which also rules out `/`, `\`, `..` and NUL, ATT-010),
/// `filename`, `content_type`, integer `size` ≥ 0, `digest`, http(s) `url`, `scan_status` from
/// [`SCAN_STATUSES`], RFC 3339 `uploaded_at` and `expires_at` (not before `uploaded_at`).
/// `storage`, when present, must be `provider` (ATT-001).
pub fn validate_attachment(v: &Value) -> Result<(), AttachmentError> {
    const R: &str = "ATT-004";
    let Value::Object(o) = v else {
        return Err(AttachmentError::NotAnObject {
            found: type_name(v),
        });
    };
    match o.get("storage") {
        None => {}
        Some(Value::String(s)) if s == "provider" => {}
        Some(Value::String(s)) => {
            return Err(AttachmentError::UnknownStorage {
                found: s.chars().take(32).collect(),
            });
        }
        Some(_) => {
            return Err(AttachmentError::WrongType {
                field: "storage",
                expected: "the string `provider`",
                rule: "ATT-001",
            });
        }
    }
    let id = req_str(o, "id", R)?;
    let valid_id = id
        .strip_prefix("att_")
        .and_then(|r| r.split_once('_'))
        .is_some_and(|(ts, hex)| {
            !ts.is_empty()
                && ts.bytes().all(|b| b.is_ascii_digit())
                && !hex.is_empty()
                && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
    if !valid_id {
        let rule = if id.contains(['/', '\\', '\0']) || id.contains("..") {
            "ATT-010"
        } else {
            R
        };
        return Err(invalid(
            "id",
            "must look like `att_<unix seconds>_<lowercase hex>`",
            rule,
        ));
    }
    check_filename(o, R)?;
    check_content_type(o, R)?;
    check_size(o, R)?;
    check_digest(o, R)?;
    check_url(o, "url", true, R)?;
    let status = req_str(o, "scan_status", R)?;
    if !SCAN_STATUSES.contains(&status) {
        return Err(invalid(
            "scan_status",
            format!("must be one of {}", SCAN_STATUSES.join(", ")),
            "ATT-008",
        ));
    }
    let uploaded = check_time(o, "uploaded_at", R)?;
    let expires = check_time(o, "expires_at", R)?;
    if expires < uploaded {
        return Err(invalid("expires_at", "is before `uploaded_at`", "ATT-005"));
    }
    Ok(())
}

/// Validate an AFP attachment (AFP-001/002): `storage: "afp"`, `filename`, `content_type`,
/// `size`, `digest`, `ref` = `afp://<space>/<path>` (space `[a-z0-9][a-z0-9-]{0,62}`, path of
/// 1-512 characters from `[A-Za-z0-9._/-]` without `..`, a leading `/` or `//`); optional
/// http(s) `endpoint` and `url`; none of the provider-only fields `id`, `scan_status`,
/// `uploaded_at`, `expires_at`.
pub fn validate_afp_attachment(v: &Value) -> Result<(), AttachmentError> {
    const R: &str = "AFP-001";
    let Value::Object(o) = v else {
        return Err(AttachmentError::NotAnObject {
            found: type_name(v),
        });
    };
    match o.get("storage") {
        Some(Value::String(s)) if s == "afp" => {}
        None | Some(Value::Null) => {
            return Err(AttachmentError::Missing {
                field: "storage",
                rule: R,
            });
        }
        Some(Value::String(s)) => {
            return Err(AttachmentError::UnknownStorage {
                found: s.chars().take(32).collect(),
            });
        }
        Some(_) => {
            return Err(AttachmentError::WrongType {
                field: "storage",
                expected: "the string `afp`",
                rule: R,
            });
        }
    }
    for field in ["id", "scan_status", "uploaded_at", "expires_at"] {
        if o.contains_key(field) {
            return Err(AttachmentError::NotAllowedOnAfp { field });
        }
    }
    check_filename(o, R)?;
    check_content_type(o, R)?;
    check_size(o, R)?;
    check_digest(o, R)?;
    let r = req_str(o, "ref", R)?;
    check_afp_ref(r).map_err(|reason| invalid("ref", reason, "AFP-002"))?;
    check_url(o, "endpoint", false, R)?;
    check_url(o, "url", false, R)?;
    Ok(())
}

fn check_afp_ref(r: &str) -> Result<(), String> {
    let rest = r.strip_prefix("afp://").ok_or("must start with `afp://`")?;
    let (space, path) = rest
        .split_once('/')
        .ok_or("must be `afp://<space>/<path>`")?;
    let space_ok = (1..=63).contains(&space.len())
        && space
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_lowercase() || b.is_ascii_digit() || (i > 0 && b == b'-'));
    if !space_ok {
        return Err(format!(
            "space `{}` must be 1-63 of [a-z0-9-], not starting with `-`",
            space.chars().take(64).collect::<String>()
        ));
    }
    if path.is_empty() || path.len() > 512 {
        return Err(format!(
            "path is {} characters: it must be 1-512",
            path.len()
        ));
    }
    if !path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'/' | b'-'))
    {
        return Err("path may only contain [A-Za-z0-9._/-]".to_string());
    }
    if path.starts_with('/') {
        return Err("path must not start with `/`".to_string());
    }
    if path.contains("//") {
        return Err("path must not contain `//`".to_string());
    }
    if path.contains("..") {
        return Err("path must not contain `..`".to_string());
    }
    Ok(())
}

/// Dispatch on `storage` (ATT-001: absent means `provider`).
pub fn validate_any_attachment(v: &Value) -> Result<(), AttachmentError> {
    match v.get("storage") {
        Some(Value::String(s)) if s == "afp" => validate_afp_attachment(v),
        _ => validate_attachment(v),
    }
}
