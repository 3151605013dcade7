//! Webhook delivery (spec 05 "Webhook Delivery", 07 "Webhook Security", 12.5; WH-001..013,
//! NOTIFY-011/013).
//!
//! The provider's delivery code calls [`spawn_delivery`] for a recipient with a webhook and no
//! live socket. The message is already in the recipient's relay mailbox and stays there until
//! acknowledged (contract "Delivery", NOTIFY-011), so a webhook that never answers loses nothing:
//! "move to relay queue" after the last attempt (WH-006) is simply "stop trying".
//!
//! Each attempt:
//! - re-reads the mailbox first and stops if the message was acknowledged meanwhile (NOTIFY-013;
//!   12.1 rule 2 applies to the first attempt as well);
//! - re-reads and re-validates the agent's webhook URL (WH-011: again at delivery time);
//! - POSTs the exact bytes of `{envelope, payload[, security]}` with `Content-Type:
//!   application/json`, `X-AMP-Signature: sha256=<hex>` (HMAC-SHA256 keyed with the whole
//!   `webhook_secret` string over `"<timestamp>.<raw body>"`, WH-002/C-29), `X-AMP-Timestamp`
//!   (unix seconds, fresh per attempt so a 2-minute-late retry is not stale), the same
//!   `X-AMP-Message-Id` on every attempt and `X-AMP-Delivery-Attempt: <n>` (NOTIFY-013);
//! - classifies the answer: 2xx delivered; 4xx final, no retry; 5xx, timeout, connection failure
//!   retried after `MockConfig::webhook_retry_delays` (WH-005/006/007).
//!
//! SSRF defences on the sending side (WH-008..013): at most two redirect hops, each target
//! re-validated with the registration rules (`crate::ssrf`), HTTPS→HTTP never followed, and
//! every resolved IP checked after DNS resolution (DNS-rebinding defence) by a filtering
//! resolver. Loopback targets (and plain `http://` to them) are allowed only when
//! `allow_loopback_webhooks` is set, which the suite's embedded mock does. System proxies are
//! never used: a proxy would hide the real target from these checks.

use crate::defects::Defect;
use crate::service::AppState;
use crate::ssrf;
use crate::wire::{AgentRef, QueuedMessage};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect::{Attempt, Policy};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// WH-007 connect timeout.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// WH-008: at most this many redirect hops are followed.
pub const MAX_REDIRECTS: usize = 2;

/// What happened to one whole delivery (all attempts). Returned by [`deliver_with_retries`] so
/// tests and logs can see why delivery stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver answered 2xx on attempt `attempts`.
    Delivered {
        /// Attempts made (1-based count).
        attempts: u32,
        /// The 2xx status.
        status: u16,
    },
    /// The receiver answered 4xx (no retry, WH-005) or a redirect was refused (WH-008..010).
    Refused {
        /// Attempts made.
        attempts: u32,
        /// Why (status or redirect refusal).
        reason: String,
    },
    /// Every scheduled attempt failed (5xx, timeout, connection error); the message stays in
    /// the relay queue (WH-006).
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// Failure of the last attempt.
        last_error: String,
    },
    /// Stopped before an attempt: the message was acked/expired or the webhook was removed or
    /// became invalid (NOTIFY-013, WH-011).
    Cancelled {
        /// Attempts made before stopping.
        attempts: u32,
        /// Why.
        reason: String,
    },
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AttemptResult {
    Status(u16),
    /// Redirect refused by policy (too many hops, SSRF target, HTTPS→HTTP): retrying cannot help.
    RedirectRefused(String),
    /// Timeout, connection refused, DNS failure, reset: worth retrying.
    Transport(String),
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Delivered,
    Stop,
    Retry,
}

/// WH-005 classification; `retry_4xx` is the planted `webhook-retry-on-4xx` defect.
fn classify(result: &AttemptResult, retry_4xx: bool) -> Next {
    match result {
        AttemptResult::Status(s) if (200..300).contains(s) => Next::Delivered,
        AttemptResult::Status(s) if (400..500).contains(s) => {
            if retry_4xx {
                Next::Retry
            } else {
                Next::Stop
            }
        }
        // 3xx that was not followed (no Location) is a receiver misconfiguration: final.
        AttemptResult::Status(s) if (300..400).contains(s) => Next::Stop,
        AttemptResult::Status(_) => Next::Retry,
        AttemptResult::RedirectRefused(_) => Next::Stop,
        AttemptResult::Transport(_) => Next::Retry,
    }
}

/// Fire-and-forget delivery of `msg` to `agent`'s webhook (called by the provider's delivery
/// code). Needs a Tokio runtime; outside one it logs and does nothing (the message is in the
/// relay queue regardless).
pub fn spawn_delivery(state: &AppState, agent: &AgentRef, msg: &QueuedMessage) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(id = %msg.id, "webhook delivery skipped: no Tokio runtime");
        return;
    };
    let (state, agent, msg) = (state.clone(), agent.clone(), msg.clone());
    rt.spawn(async move {
        let outcome = deliver_with_retries(&state, &agent, &msg).await;
        tracing::debug!(id = %msg.id, to = %agent.address, ?outcome, "webhook delivery finished");
    });
}

/// Run the whole retry schedule for one message and report how it ended.
pub async fn deliver_with_retries(
    state: &AppState,
    agent: &AgentRef,
    msg: &QueuedMessage,
) -> DeliveryOutcome {
    let cfg = state.config();
    let delays = if cfg.webhook_retry_delays.is_empty() {
        vec![Duration::ZERO]
    } else {
        cfg.webhook_retry_delays.clone()
    };
    let body = match serde_json::to_vec(&msg.message_json()) {
        Ok(b) => bytes::Bytes::from(b),
        Err(e) => {
            return DeliveryOutcome::Cancelled {
                attempts: 0,
                reason: format!("message cannot be serialised: {e}"),
            };
        }
    };
    let retry_4xx = state.has(Defect::WebhookRetryOn4xx);
    let mut last_error = String::new();
    let mut attempts: u32 = 0;
    for delay in delays {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if !still_pending(state, agent, &msg.id) {
            return DeliveryOutcome::Cancelled {
                attempts,
                reason: "message acknowledged or expired (NOTIFY-013)".into(),
            };
        }
        let Some((url, secret)) = state.webhook_target(agent) else {
            return DeliveryOutcome::Cancelled {
                attempts,
                reason: "agent no longer has a webhook".into(),
            };
        };
        let url = match ssrf::validate_webhook_url(url.as_str(), cfg.allow_loopback_webhooks) {
            Ok(u) => u,
            Err(e) => {
                return DeliveryOutcome::Cancelled {
                    attempts,
                    reason: format!("webhook URL refused at delivery time (WH-011): {e}"),
                };
            }
        };
        attempts += 1;
        let key = hmac_key(state, agent, &secret);
        let result = attempt(state, &url, key.as_bytes(), &body, &msg.id, attempts).await;
        match classify(&result, retry_4xx) {
            Next::Delivered => {
                let status = match result {
                    AttemptResult::Status(s) => s,
                    _ => 0,
                };
                return DeliveryOutcome::Delivered { attempts, status };
            }
            Next::Stop => {
                return DeliveryOutcome::Refused {
                    attempts,
                    reason: describe(&result),
                };
            }
            Next::Retry => last_error = describe(&result),
        }
    }
    DeliveryOutcome::Exhausted {
        attempts,
        last_error,
    }
}

fn describe(r: &AttemptResult) -> String {
    match r {
        AttemptResult::Status(s) => format!("HTTP {s}"),
        AttemptResult::RedirectRefused(e) => format!("redirect refused: {e}"),
        AttemptResult::Transport(e) => e.clone(),
    }
}

/// The HMAC key: the whole `webhook_secret` string (C-29), or, under the planted
/// `webhook-hmac-wrong-key` defect, the hex SHA-256 of the agent's API key.
fn hmac_key(state: &AppState, agent: &AgentRef, secret: &str) -> String {
    if state.has(Defect::WebhookHmacWrongKey) {
        state.api_key_hash(agent).unwrap_or_default()
    } else {
        secret.to_string()
    }
}

/// Is the message still queued (not acked, not expired) for this agent?
fn still_pending(state: &AppState, agent: &AgentRef, id: &str) -> bool {
    state.pending_unacked(agent).iter().any(|m| m.id == id)
}

/// One POST.
async fn attempt(
    state: &AppState,
    url: &url::Url,
    key: &[u8],
    body: &bytes::Bytes,
    id: &str,
    n: u32,
) -> AttemptResult {
    let cfg = state.config();
    let client = match client(cfg.allow_loopback_webhooks, cfg.webhook_timeout) {
        Ok(c) => c,
        Err(e) => return AttemptResult::Transport(format!("HTTP client unavailable: {e}")),
    };
    let ts = state.clock().now_unix().to_string();
    let mut req = client
        .post(url.as_str())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-AMP-Timestamp", &ts)
        .header("X-AMP-Message-Id", id)
        .header("X-AMP-Delivery-Attempt", n.to_string())
        .body(body.clone());
    if !state.has(Defect::WebhookNoSignature) {
        req = req.header("X-AMP-Signature", signature_header(key, &ts, body));
    }
    match req.send().await {
        // The body is not read: only the status matters, and a hostile receiver could
        // stream forever. Dropping the response closes the connection.
        Ok(resp) => AttemptResult::Status(resp.status().as_u16()),
        Err(e) if e.is_redirect() => AttemptResult::RedirectRefused(error_chain(&e)),
        Err(e) if e.is_timeout() => AttemptResult::Transport(format!(
            "timed out (connect {} s / response {} ms, WH-007)",
            CONNECT_TIMEOUT.as_secs(),
            cfg.webhook_timeout.as_millis()
        )),
        Err(e) => AttemptResult::Transport(error_chain(&e)),
    }
}

/// `sha256=<lowercase hex>` over `"<ts>.<body>"` (WH-002).
fn signature_header(key: &[u8], ts: &str, body: &[u8]) -> String {
    let sig = amp_core::webhook_signature(key, ts, body);
    if sig.starts_with("sha256=") {
        sig
    } else {
        format!("sha256={sig}")
    }
}

/// An error and its sources on one line (reqwest's top-level message is often generic).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

/// One client per (loopback policy, response timeout), built on first use.
fn client(allow_loopback: bool, timeout: Duration) -> Result<reqwest::Client, String> {
    type Key = (bool, Duration);
    static CLIENTS: OnceLock<Mutex<HashMap<Key, reqwest::Client>>> = OnceLock::new();
    let map = CLIENTS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = map.get(&(allow_loopback, timeout)) {
        return Ok(c.clone());
    }
    // reqwest is built with `rustls-no-provider`: a process-wide crypto provider must be
    // installed before the first client is built (an already installed one is fine).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let c = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(timeout)
        .no_proxy()
        .redirect(redirect_policy(allow_loopback))
        .dns_resolver(GuardedResolver { allow_loopback })
        .user_agent(concat!("amp-mock/", env!("CARGO_PKG_VERSION"), " webhook"))
        .build()
        .map_err(|e| error_chain(&e))?;
    map.insert((allow_loopback, timeout), c.clone());
    Ok(c)
}

/// WH-008/009/010: bounded hops, each target re-validated, never HTTPS→HTTP.
fn redirect_policy(allow_loopback: bool) -> Policy {
    Policy::custom(move |a: Attempt| {
        match redirect_verdict(a.url(), a.previous(), allow_loopback) {
            Ok(()) => a.follow(),
            Err(why) => a.error(why),
        }
    })
}

/// Decide one redirect hop. `previous` holds the original URL and every earlier hop.
fn redirect_verdict(
    next: &url::Url,
    previous: &[url::Url],
    allow_loopback: bool,
) -> Result<(), String> {
    if previous.len() > MAX_REDIRECTS {
        return Err(format!("more than {MAX_REDIRECTS} redirect hops (WH-008)"));
    }
    if previous.last().is_some_and(|p| p.scheme() == "https") && next.scheme() != "https" {
        return Err("HTTPS to HTTP redirect refused (WH-010)".into());
    }
    ssrf::validate_webhook_url(next.as_str(), allow_loopback)
        .map(|_| ())
        .map_err(|e| format!("redirect target refused (WH-009): {e}"))
}

/// Is a resolved address an acceptable webhook peer?
fn ip_allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    let loopback = match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|m| m.is_loopback()),
    };
    if loopback {
        return allow_loopback;
    }
    match ip {
        IpAddr::V4(v4) => !ssrf::v4_forbidden(v4),
        IpAddr::V6(v6) => !ssrf::v6_forbidden(v6),
    }
}

/// DNS resolver that drops forbidden addresses after resolution (WH-013, DNS rebinding): a
/// public name that resolves to 169.254.169.254 is refused at connect time, not trusted.
#[derive(Debug, Clone, Copy)]
struct GuardedResolver {
    allow_loopback: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|a| ip_allowed(a.ip(), allow_loopback))
                .collect();
            if allowed.is_empty() {
                return Err(format!(
                    "webhook host `{host}` resolves only to private, loopback, link-local or metadata addresses (WH-012/013)"
                )
                .into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> url::Url {
        url::Url::parse(s).expect("test URL")
    }

    #[test]
    fn classification_follows_wh005() {
        assert_eq!(
            classify(&AttemptResult::Status(200), false),
            Next::Delivered
        );
        assert_eq!(
            classify(&AttemptResult::Status(204), false),
            Next::Delivered
        );
        assert_eq!(classify(&AttemptResult::Status(400), false), Next::Stop);
        assert_eq!(classify(&AttemptResult::Status(410), false), Next::Stop);
        assert_eq!(classify(&AttemptResult::Status(404), true), Next::Retry);
        assert_eq!(classify(&AttemptResult::Status(500), false), Next::Retry);
        assert_eq!(classify(&AttemptResult::Status(503), false), Next::Retry);
        assert_eq!(
            classify(&AttemptResult::Transport("timeout".into()), false),
            Next::Retry
        );
        assert_eq!(
            classify(&AttemptResult::RedirectRefused("x".into()), false),
            Next::Stop
        );
    }

    #[test]
    fn redirect_hops_are_bounded_and_revalidated() {
        let a = u("https://a.example/h");
        let b = u("https://b.example/h");
        let c = u("https://c.example/h");
        assert!(redirect_verdict(&b, std::slice::from_ref(&a), false).is_ok());
        assert!(redirect_verdict(&c, &[a.clone(), b.clone()], false).is_ok());
        assert!(redirect_verdict(&u("https://d.example/"), &[a.clone(), b, c], false).is_err());
        // WH-009: metadata / loopback targets.
        assert!(
            redirect_verdict(
                &u("https://169.254.169.254/"),
                std::slice::from_ref(&a),
                false
            )
            .is_err()
        );
        assert!(
            redirect_verdict(&u("https://127.0.0.1/"), std::slice::from_ref(&a), false).is_err()
        );
        assert!(
            redirect_verdict(&u("http://127.0.0.1:9/"), &[u("http://127.0.0.1:8/")], true).is_ok()
        );
        // WH-010 even when loopback is allowed.
        assert!(
            redirect_verdict(&u("http://127.0.0.1/"), &[u("https://127.0.0.1/")], true).is_err()
        );
    }

    #[test]
    fn resolved_addresses_are_filtered() {
        assert!(!ip_allowed("127.0.0.1".parse().expect("ip"), false));
        assert!(ip_allowed("127.0.0.1".parse().expect("ip"), true));
        assert!(ip_allowed("::1".parse().expect("ip"), true));
        assert!(!ip_allowed("169.254.169.254".parse().expect("ip"), true));
        assert!(!ip_allowed("10.0.0.1".parse().expect("ip"), true));
        assert!(!ip_allowed("::ffff:192.168.0.1".parse().expect("ip"), true));
        assert!(ip_allowed("93.184.216.34".parse().expect("ip"), false));
    }
}
