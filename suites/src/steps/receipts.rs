//! Steps for receipts: reading a route response's statement that a receipt will not be delivered
//! (only fields that say no count).

use serde_json::Value;

/// Words that, in a `receipt*` field of a route response, say the receipt will not come
/// (matched as whole words, so `"notified"` is not a `"not"`).
pub(crate) const REFUSAL_WORDS: [&str; 9] = [
    "not",
    "no",
    "none",
    "never",
    "undeliverable",
    "unavailable",
    "dropped",
    "disabled",
    "unsupported",
];

/// The route response's statement that the receipt will not be delivered, if it makes one.
///
/// The spec names no field for this (12.2 only requires the statement), so any top-level
/// field whose name starts with `receipt` counts when it is `false` or a string saying no
/// (`"not_delivered"`, `"unavailable"`...). A field that says yes (`true`, `"retained"`) is
/// a promise, not a refusal, and is held to it.
pub(crate) fn refusal(route: Option<&Value>) -> Option<String> {
    let obj = route?.as_object()?;
    obj.iter()
        .filter(|(k, _)| k.to_ascii_lowercase().starts_with("receipt"))
        .find_map(|(k, v)| {
            let says_no = match v {
                Value::Bool(b) => !b,
                Value::String(s) => {
                    let s = s.to_ascii_lowercase();
                    s.split(|c: char| !c.is_ascii_alphanumeric())
                        .any(|word| REFUSAL_WORDS.contains(&word))
                }
                _ => false,
            };
            says_no.then(|| format!("`{k}`: {v}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refusal_reads_only_receipt_fields_that_say_no() {
        assert!(refusal(Some(&json!({"id": "m", "receipt": false}))).is_some());
        assert!(refusal(Some(&json!({"receipt_status": "not_delivered"}))).is_some());
        assert!(refusal(Some(&json!({"receipt": true}))).is_none());
        assert!(refusal(Some(&json!({"receipt_status": "retained"}))).is_none());
        assert!(refusal(Some(&json!({"receipt": "notified"}))).is_none());
        assert!(refusal(Some(&json!({"receipt": "will not be delivered"}))).is_some());
        assert!(refusal(Some(&json!({"status": "not_delivered"}))).is_none());
        assert!(refusal(None).is_none());
    }
}
