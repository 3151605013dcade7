//! Webhook HMAC signatures (WH-001..003, C-29).

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("placeholder")]
    Malformed,
}

pub fn webhook_signature(_secret: &[u8], _timestamp: &str, _body: &[u8]) -> String {
    todo!()
}

pub fn verify_webhook(
    _secret: &[u8],
    _sig_header: &str,
    _ts_header: &str,
    _body: &[u8],
    _now_unix: i64,
    _window_secs: i64,
) -> Result<(), WebhookError> {
    todo!()
}
