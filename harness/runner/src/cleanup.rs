//! End of run: deregister every agent the run created.

use crate::options::RunOptions;
use crate::report::Leftover;
use crate::shared::Created;
use amp_client::{Http, Redactor, Req};
use futures_util::StreamExt;

/// Deregister every agent the run created, each with the newest of its keys that still works
/// (a case may have rotated or revoked them). An agent no key deregisters is a leftover.
pub(crate) async fn cleanup(
    http: &Http,
    opts: &RunOptions,
    created: Vec<Created>,
    redactor: &Redactor,
) -> Vec<Leftover> {
    let url = opts.target.url("/agents/me");
    let results: Vec<Option<Leftover>> = futures_util::stream::iter(created)
        .map(|c| {
            let url = url.clone();
            async move {
                if let Some(why) = &c.unanswered {
                    return Some(Leftover {
                        address: c.address.clone(),
                        case: c.case_id.clone(),
                        reason: redactor.redact(&format!(
                            "POST /register got no answer ({why}); the provider may have \
                             created the agent without the run ever seeing its API key: check \
                             and remove it by hand"
                        )),
                    });
                }
                let mut tried = Vec::new();
                for key in c.keys.iter().rev() {
                    let req = Req::new(amp_client::Method::DELETE, url.clone()).bearer(key);
                    match http.send(&req).await {
                        Ok(r) if r.is_success() => return None,
                        Ok(r) => tried.push(format!(
                            "HTTP {}{}",
                            r.status,
                            r.error_code()
                                .map(|c| format!(" ({c})"))
                                .unwrap_or_default()
                        )),
                        Err(e) => tried.push(e.to_string()),
                    }
                }
                let keys = if c.keys.len() == 1 {
                    "its API key".to_string()
                } else {
                    format!("each of its {} API keys", c.keys.len())
                };
                let revoked = if c.revoked {
                    " (the case revoked its key)"
                } else {
                    ""
                };
                Some(Leftover {
                    address: c.address.clone(),
                    case: c.case_id.clone(),
                    reason: redactor.redact(&format!(
                        "DELETE /agents/me with {keys} answered {}{revoked}; remove it by hand",
                        tried.join(", ")
                    )),
                })
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let mut v: Vec<Leftover> = results.into_iter().flatten().collect();
    v.sort_by(|a, b| a.address.cmp(&b.address));
    v
}
