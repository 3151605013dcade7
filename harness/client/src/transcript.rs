//! Ordered record of everything a case sent and received, redacted on the way in.

use crate::error::ClientError;
use crate::http::{Req, Resp};
use crate::redact::Redactor;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Bodies kept in a transcript are cut at this many bytes (with a note).
pub const TRANSCRIPT_BODY_CAP: usize = 16 * 1024;

/// A recorded HTTP request (redacted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// A recorded HTTP response (redacted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The client cut the body at its cap (the target sent more).
    pub truncated: bool,
    pub elapsed_ms: u64,
}

/// One entry of a transcript. `at_ms` is milliseconds since the transcript started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Exchange {
    Http {
        at_ms: u64,
        request: RecordedRequest,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        response: Option<RecordedResponse>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    WsConnect {
        at_ms: u64,
        url: String,
        subprotocols: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        accepted_subprotocol: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    WsSend {
        at_ms: u64,
        frame: String,
    },
    WsRecv {
        at_ms: u64,
        frame: String,
    },
    Webhook {
        at_ms: u64,
        method: String,
        path: String,
        headers: Vec<(String, String)>,
        body: String,
        answered: u16,
    },
    Note {
        at_ms: u64,
        text: String,
    },
}

/// A shared, append-only transcript. Clones append to the same list.
#[derive(Debug, Clone)]
pub struct Transcript {
    entries: Arc<Mutex<Vec<Exchange>>>,
    redactor: Redactor,
    start: Instant,
    body_cap: usize,
}

impl Transcript {
    pub fn new(redactor: Redactor) -> Transcript {
        Transcript {
            entries: Arc::new(Mutex::new(Vec::new())),
            redactor,
            start: Instant::now(),
            body_cap: TRANSCRIPT_BODY_CAP,
        }
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn push(&self, e: Exchange) {
        if let Ok(mut v) = self.entries.lock() {
            v.push(e);
        }
    }

    /// Redact and cap a body for storage. Redaction covers every secret that starts before the
    /// cut, so a secret straddling the cap is never half-kept.
    pub fn body_text(&self, body: &[u8]) -> String {
        let full = self
            .redactor
            .redact_prefix(&String::from_utf8_lossy(body), self.body_cap);
        if full.len() <= self.body_cap {
            return full;
        }
        let mut end = self.body_cap;
        while !full.is_char_boundary(end) {
            end -= 1;
        }
        format!(
            "{}\n[… body cut in transcript: {} bytes total]",
            &full[..end],
            body.len()
        )
    }

    pub fn record_http(&self, req: &Req, result: &Result<Resp, ClientError>) {
        let request = RecordedRequest {
            method: req.method.to_string(),
            url: self.redactor.redact(&req.url),
            headers: self.redactor.redact_headers(&req.headers),
            body: req.body.as_ref().map(|b| self.body_text(b)),
        };
        let (response, error) = match result {
            Ok(r) => (
                Some(RecordedResponse {
                    status: r.status,
                    headers: self.redactor.redact_headers(&r.headers),
                    body: self.body_text(&r.body),
                    truncated: r.truncated,
                    elapsed_ms: u64::try_from(r.elapsed.as_millis()).unwrap_or(u64::MAX),
                }),
                None,
            ),
            Err(e) => (None, Some(self.redactor.redact(&e.to_string()))),
        };
        self.push(Exchange::Http {
            at_ms: self.now_ms(),
            request,
            response,
            error,
        });
    }

    pub fn record_ws_connect(
        &self,
        url: &str,
        subprotocols: &[&str],
        accepted: Option<&str>,
        error: Option<&str>,
    ) {
        self.push(Exchange::WsConnect {
            at_ms: self.now_ms(),
            url: self.redactor.redact(url),
            subprotocols: subprotocols.iter().map(|s| s.to_string()).collect(),
            accepted_subprotocol: accepted.map(str::to_string),
            error: error.map(|e| self.redactor.redact(e)),
        });
    }

    pub fn record_ws_send(&self, frame: &str) {
        self.push(Exchange::WsSend {
            at_ms: self.now_ms(),
            frame: self.body_text(frame.as_bytes()),
        });
    }

    pub fn record_ws_recv(&self, frame: &str) {
        self.push(Exchange::WsRecv {
            at_ms: self.now_ms(),
            frame: self.body_text(frame.as_bytes()),
        });
    }

    pub fn record_webhook(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
        answered: u16,
    ) {
        self.push(Exchange::Webhook {
            at_ms: self.now_ms(),
            method: method.to_string(),
            path: self.redactor.redact(path),
            headers: self.redactor.redact_headers(headers),
            body: self.body_text(body),
            answered,
        });
    }

    /// A free-form line (what the case is about to do, a value it computed).
    pub fn note(&self, text: &str) {
        self.push(Exchange::Note {
            at_ms: self.now_ms(),
            text: self.redactor.redact(text),
        });
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|v| v.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries, redacted again with every secret known *now* (a secret registered after
    /// an exchange was stored is still removed from the output).
    pub fn entries(&self) -> Vec<Exchange> {
        let v = self.entries.lock().map(|v| v.clone()).unwrap_or_default();
        v.into_iter()
            .map(|e| redact_exchange(&self.redactor, e))
            .collect()
    }
}

/// Apply `r` to every text field of `e`.
pub fn redact_exchange(r: &Redactor, e: Exchange) -> Exchange {
    let hs = |h: Vec<(String, String)>| r.redact_headers(&h);
    match e {
        Exchange::Http {
            at_ms,
            request,
            response,
            error,
        } => Exchange::Http {
            at_ms,
            request: RecordedRequest {
                method: request.method,
                url: r.redact(&request.url),
                headers: hs(request.headers),
                body: request.body.map(|b| r.redact(&b)),
            },
            response: response.map(|x| RecordedResponse {
                headers: hs(x.headers),
                body: r.redact(&x.body),
                ..x
            }),
            error: error.map(|x| r.redact(&x)),
        },
        Exchange::WsConnect {
            at_ms,
            url,
            subprotocols,
            accepted_subprotocol,
            error,
        } => Exchange::WsConnect {
            at_ms,
            url: r.redact(&url),
            subprotocols,
            accepted_subprotocol,
            error: error.map(|x| r.redact(&x)),
        },
        Exchange::WsSend { at_ms, frame } => Exchange::WsSend {
            at_ms,
            frame: r.redact(&frame),
        },
        Exchange::WsRecv { at_ms, frame } => Exchange::WsRecv {
            at_ms,
            frame: r.redact(&frame),
        },
        Exchange::Webhook {
            at_ms,
            method,
            path,
            headers,
            body,
            answered,
        } => Exchange::Webhook {
            at_ms,
            method,
            path: r.redact(&path),
            headers: hs(headers),
            body: r.redact(&body),
            answered,
        },
        Exchange::Note { at_ms, text } => Exchange::Note {
            at_ms,
            text: r.redact(&text),
        },
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} more bytes]", &s[..end], s.len() - end)
}

/// Human-readable rendering (terminal summary, trace files). Bodies are cut at `max_body`
/// bytes. Every line is prefixed with `indent`.
pub fn render_exchanges(entries: &[Exchange], max_body: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = |s: &str| {
        for l in s.lines() {
            out.push_str(indent);
            out.push_str(l);
            out.push('\n');
        }
    };
    for e in entries {
        match e {
            Exchange::Http {
                at_ms,
                request,
                response,
                error,
            } => {
                line(&format!(
                    "[{at_ms:>6} ms] → {} {}",
                    request.method, request.url
                ));
                for (k, v) in &request.headers {
                    line(&format!("    {k}: {v}"));
                }
                if let Some(b) = &request.body {
                    line(&format!("    {}", cut(b, max_body)));
                }
                if let Some(r) = response {
                    line(&format!(
                        "           ← {} ({} ms){}",
                        r.status,
                        r.elapsed_ms,
                        if r.truncated {
                            " [body truncated by client cap]"
                        } else {
                            ""
                        }
                    ));
                    for (k, v) in &r.headers {
                        line(&format!("    {k}: {v}"));
                    }
                    if !r.body.is_empty() {
                        line(&format!("    {}", cut(&r.body, max_body)));
                    }
                }
                if let Some(err) = error {
                    line(&format!("           ✗ {err}"));
                }
            }
            Exchange::WsConnect {
                at_ms,
                url,
                subprotocols,
                accepted_subprotocol,
                error,
            } => {
                line(&format!(
                    "[{at_ms:>6} ms] ⇄ WS connect {url} protocols={subprotocols:?} accepted={accepted_subprotocol:?}"
                ));
                if let Some(err) = error {
                    line(&format!("           ✗ {err}"));
                }
            }
            Exchange::WsSend { at_ms, frame } => {
                line(&format!("[{at_ms:>6} ms] ⇢ {}", cut(frame, max_body)));
            }
            Exchange::WsRecv { at_ms, frame } => {
                line(&format!("[{at_ms:>6} ms] ⇠ {}", cut(frame, max_body)));
            }
            Exchange::Webhook {
                at_ms,
                method,
                path,
                headers,
                body,
                answered,
            } => {
                line(&format!(
                    "[{at_ms:>6} ms] ⇐ webhook {method} {path} (answered {answered})"
                ));
                for (k, v) in headers {
                    line(&format!("    {k}: {v}"));
                }
                if !body.is_empty() {
                    line(&format!("    {}", cut(body, max_body)));
                }
            }
            Exchange::Note { at_ms, text } => {
                line(&format!("[{at_ms:>6} ms] # {text}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    const TOKEN: &str = "427488b202c0fd4052d5a00abc93fe11";

    /// Everything a transcript can be turned into (JSON for the report, text for traces).
    fn all_text(t: &Transcript) -> String {
        let entries = t.entries();
        serde_json::to_string(&entries).unwrap_or_default() + &render_exchanges(&entries, 4096, "")
    }

    #[test]
    fn capability_urls_redacted_in_request_line_location_and_json_body() {
        let t = Transcript::new(Redactor::new());
        let upload = format!("http://127.0.0.1:1/v1/attachments/att_1_a/content?token={TOKEN}");
        let req = Req {
            method: Method::PUT,
            url: upload.clone(),
            headers: vec![("content-type".into(), "text/plain".into())],
            body: Some(bytes::Bytes::from_static(b"hello")),
        };
        let body = format!(
            r#"{{"id":"att_1_a","upload_url":"{upload}","url":"http://127.0.0.1:1/v1/attachments/att_1_a/file?token={TOKEN}&x=1"}}"#
        );
        let resp = Resp::new(
            201,
            vec![(
                "location".into(),
                format!("/v1/attachments/att_1_a/file?sig={TOKEN}"),
            )],
            body,
        );
        t.record_http(&req, &Ok(resp));
        t.note(&format!("uploading to {upload}"));
        let text = all_text(&t);
        assert!(!text.contains(&TOKEN[..12]), "{text}");
        assert!(text.contains("content?token=[REDACTED]"), "{text}");
        assert!(text.contains("file?sig=[REDACTED]"), "{text}");
        assert!(text.contains("file?token=[REDACTED]&x=1"), "{text}");
    }

    #[test]
    fn webhook_signature_header_shortened_in_recorded_webhooks() {
        let t = Transcript::new(Redactor::new());
        let hex = "5f3a9c0e8b7d6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa998877";
        t.record_webhook(
            "POST",
            "/hook?token=hooktoken123",
            &[
                ("X-AMP-Signature".into(), format!("sha256={hex}")),
                ("X-AMP-Timestamp".into(), "1767225600".into()),
            ],
            b"{}",
            200,
        );
        let text = all_text(&t);
        assert!(text.contains("sha256=5f3a9c0e…[sig]"), "{text}");
        assert!(!text.contains(&hex[8..24]), "{text}");
        assert!(text.contains("/hook?token=[REDACTED]"), "{text}");
        assert!(text.contains("1767225600"), "{text}");
    }
}
