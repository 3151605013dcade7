//! Start of run: the seed and run id, the redactor, the HTTP client, and the preflight
//! `GET /info` whose answer the whole run shares.

use crate::options::RunOptions;
use crate::report::Warning;
use crate::run_error::RunError;
use crate::shared::{RunShared, info_capabilities};
use amp_client::{Http, HttpConfig, Redactor, Req, WsConfig};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

/// 6 lowercase hex characters derived from the seed (part of every agent name).
pub(crate) fn run_id_for(seed: u64) -> String {
    let h = Sha256::digest(seed.to_be_bytes());
    hex::encode(&h[..3])
}

/// The state every case of the run shares, after the preflight. A target that does not answer
/// `/info` at all is [`RunError::Unreachable`]; one that answers without a JSON object gets a
/// `preflight` warning in `warnings`.
pub(crate) async fn open(
    opts: &RunOptions,
    warnings: &mut Vec<Warning>,
) -> Result<Arc<RunShared>, RunError> {
    let seed = match opts.seed {
        Some(s) => s,
        None => getrandom::u64().map_err(|e| {
            RunError::Harness(format!(
                "no OS randomness for the run seed: {e} (pass --seed)"
            ))
        })?,
    };
    let redactor = Redactor::new();
    if let Some(k) = &opts.admin_key {
        redactor.add_secret("admin_key", k);
    }
    if let Some(k) = &opts.user_key {
        redactor.add_secret("user_key", k);
    }
    for (name, v) in &opts.registration_headers {
        redactor.add_secret(&format!("header:{}", name.to_ascii_lowercase()), v);
    }
    let http = Http::new(HttpConfig {
        timeout: opts.request_timeout,
        ..HttpConfig::default()
    })
    .map_err(|e| RunError::Harness(e.to_string()))?;

    let info_url = opts.target.url("/info");
    let info = match http.send(&Req::get(info_url.clone())).await {
        Err(e) => {
            return Err(RunError::Unreachable {
                url: info_url,
                reason: redactor.redact(&e.to_string()),
            });
        }
        Ok(r) => match r.json() {
            Some(v @ Value::Object(_)) if r.is_success() => Some(v.clone()),
            _ => {
                warnings.push(Warning {
                    kind: "preflight".to_string(),
                    message: format!(
                        "GET {info_url} answered HTTP {} without a JSON object; capability-gated \
                         cases are skipped and cases reading /info error",
                        r.status
                    ),
                    case: None,
                    contradiction: None,
                });
                None
            }
        },
    };
    let rate = info
        .as_ref()
        .and_then(|v| v.pointer("/rate_limits/api_requests_per_minute"))
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok());
    http.set_rate_limit(rate);

    Ok(Arc::new(RunShared {
        opts: opts.clone(),
        http,
        redactor,
        run_id: run_id_for(seed),
        seed,
        counter: AtomicU64::new(0),
        caps: info_capabilities(info.as_ref()),
        info,
        created: Mutex::new(Vec::new()),
        probes: Default::default(),
        prober: crate::probe::run,
        findings: Mutex::new(Default::default()),
        scoped: Mutex::default(),
        ws: WsConfig {
            op_timeout: opts.request_timeout,
            ..WsConfig::default()
        },
    }))
}
