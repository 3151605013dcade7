//! Shared test helpers: spawn a mock, register agents, sign and route messages.
#![allow(dead_code)]

use amp_core::signing::{Priority, SecretKey, SigningFields};
use amp_core::{PayloadProfile, sign_fields};
use amp_mock::{Defect, DefectSet, MockConfig, MockHandle, RateLimits};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::sync::Once;
use std::time::Duration;

static INIT: Once = Once::new();

pub fn init() {
    INIT.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

pub fn config(defects: &[Defect]) -> MockConfig {
    MockConfig {
        defects: defects.iter().copied().collect::<DefectSet>(),
        allow_loopback_webhooks: true,
        ws_auth_timeout: Duration::from_millis(300),
        webhook_retry_delays: vec![Duration::ZERO, Duration::from_millis(20)],
        webhook_timeout: Duration::from_secs(2),
        ..MockConfig::default()
    }
}

pub async fn mock(defects: &[Defect]) -> Mock {
    mock_with(config(defects)).await
}

pub async fn mock_with(cfg: MockConfig) -> Mock {
    init();
    let handle = amp_mock::spawn(cfg).await.expect("spawn mock");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(40))
        .build()
        .expect("client");
    Mock { handle, http }
}

pub fn low_rate(limit: u32) -> RateLimits {
    RateLimits {
        api_requests_per_minute: limit,
        messages_per_minute: limit,
        register_per_minute: limit,
        anonymous_per_minute: limit,
        pending_per_minute: limit,
    }
}

pub struct Mock {
    pub handle: MockHandle,
    pub http: reqwest::Client,
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn err(&self) -> &str {
        self.body.get("error").and_then(Value::as_str).unwrap_or("")
    }
    pub fn is_spec_error(&self) -> bool {
        self.body.get("error").is_some_and(Value::is_string)
            && self.body.get("message").is_some_and(Value::is_string)
    }
}

pub struct Agent {
    pub address: String,
    pub api_key: String,
    pub key: SecretKey,
    pub name: String,
    pub tenant: String,
    pub reg: Value,
}

pub fn new_key() -> SecretKey {
    SecretKey::generate()
}

pub fn payload(msg: &str) -> Value {
    json!({"type": "notification", "message": msg})
}

pub fn sign(
    key: &SecretKey,
    from: &str,
    to: &str,
    subject: &str,
    priority: Priority,
    in_reply_to: Option<&str>,
    payload: &Value,
) -> String {
    let hash = amp_core::payload_hash(payload, PayloadProfile::Sorted).expect("hash");
    let f = SigningFields {
        from,
        to,
        subject,
        priority,
        in_reply_to,
        payload_hash: &hash,
    };
    sign_fields(key, &f).to_base64()
}

impl Mock {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.handle.base_url(), path)
    }

    pub async fn send_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Resp {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            self.url(path)
        };
        let mut rb = self.http.request(method, url);
        if let Some(k) = key {
            rb = rb.bearer_auth(k);
        }
        if let Some(b) = body {
            rb = rb.header("content-type", "application/json").body(b);
        }
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> Resp {
        self.send_raw(reqwest::Method::GET, path, key, None).await
    }
    pub async fn delete(&self, path: &str, key: Option<&str>) -> Resp {
        self.send_raw(reqwest::Method::DELETE, path, key, None)
            .await
    }
    pub async fn post(&self, path: &str, key: Option<&str>, body: &Value) -> Resp {
        self.send_raw(
            reqwest::Method::POST,
            path,
            key,
            Some(serde_json::to_vec(body).expect("json")),
        )
        .await
    }
    pub async fn patch(&self, path: &str, key: Option<&str>, body: &Value) -> Resp {
        self.send_raw(
            reqwest::Method::PATCH,
            path,
            key,
            Some(serde_json::to_vec(body).expect("json")),
        )
        .await
    }

    pub async fn register_with(&self, tenant: &str, name: &str, key: SecretKey) -> Agent {
        self.register_extra(tenant, name, key, &json!({})).await
    }

    /// Register with the fields of `extra` (an object) added to the body.
    pub async fn register_extra(
        &self,
        tenant: &str,
        name: &str,
        key: SecretKey,
        extra: &Value,
    ) -> Agent {
        let mut body = json!({
            "tenant": tenant, "name": name,
            "public_key": key.public_key().to_spki_pem(),
            "key_algorithm": "Ed25519",
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let r = self.post("/register", None, &body).await;
        assert_eq!(r.status, 201, "register failed: {}", r.text);
        Agent {
            address: r.body["address"].as_str().unwrap_or_default().to_string(),
            api_key: r.body["api_key"].as_str().unwrap_or_default().to_string(),
            key,
            name: name.to_string(),
            tenant: tenant.to_string(),
            reg: r.body,
        }
    }

    pub async fn register(&self, tenant: &str, name: &str) -> Agent {
        self.register_with(tenant, name, new_key()).await
    }

    /// Signed route body.
    pub fn body(&self, from: &Agent, to: &str, subject: &str, payload: &Value) -> Value {
        let sig = sign(
            &from.key,
            &from.address,
            to,
            subject,
            Priority::Normal,
            None,
            payload,
        );
        json!({"to": to, "subject": subject, "payload": payload, "signature": sig})
    }

    pub async fn route(&self, from: &Agent, body: &Value) -> Resp {
        self.post("/route", Some(&from.api_key), body).await
    }

    pub async fn send(&self, from: &Agent, to: &Agent, msg: &str) -> Resp {
        let b = self.body(from, &to.address, "hello", &payload(msg));
        self.route(from, &b).await
    }

    pub async fn pending(&self, who: &Agent) -> Vec<Value> {
        let r = self
            .get("/messages/pending?limit=100", Some(&who.api_key))
            .await;
        assert_eq!(r.status, 200, "pending: {}", r.text);
        r.body["messages"].as_array().cloned().unwrap_or_default()
    }
}

/// One test per planted defect: `$probe` must see the strict behaviour on a clean mock and must
/// not on a mock with only `$defect` planted (optionally with a config tweak).
#[macro_export]
macro_rules! defect_test {
    ($test:ident, $defect:expr, $probe:ident) => {
        defect_test!($test, $defect, $probe, |c: MockConfig| c);
    };
    ($test:ident, $defect:expr, $probe:ident, $cfg:expr) => {
        #[tokio::test]
        async fn $test() {
            let tweak = $cfg;
            let clean = mock_with(tweak(config(&[]))).await;
            assert!(
                $probe(&clean).await,
                "clean mock does not show the strict behaviour"
            );
            let bad = mock_with(tweak(config(&[$defect]))).await;
            assert!(
                !$probe(&bad).await,
                "defect {} is not observable",
                $defect.name()
            );
        }
    };
}

/// Two fresh agents in one tenant.
pub async fn pair(m: &Mock) -> (Agent, Agent) {
    (
        m.register("acme", "alice").await,
        m.register("acme", "bob").await,
    )
}
