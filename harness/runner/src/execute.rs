//! Running one case: gates (needs, prerequisite probes), the case task with its deadline,
//! and the case's verdict.

use crate::case::{Case, Need};
use crate::ctx::Ctx;
use crate::options::RunOptions;
use crate::report::CaseReport;
use crate::shared::RunShared;
use crate::verdict::{CaseResult, Failure, Judged, Outcome, Verdict, apply_expected, judge};
use amp_client::Transcript;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn unmet_need(case: &Case, opts: &RunOptions, caps: &[String]) -> Option<String> {
    for n in case.needs {
        match n {
            Need::Capability(c) if !caps.iter().any(|x| x == c) => {
                return Some(format!(
                    "target does not advertise capability `{c}` in /info.capabilities"
                ));
            }
            Need::FederationPeer if opts.federation_peer.is_none() => {
                return Some("no federation peer configured (--federation-peer)".to_string());
            }
            Need::LoopbackWebhooks if !opts.loopback_webhooks => {
                return Some(
                    "webhook delivery to 127.0.0.1 not enabled (--loopback-webhooks)".to_string(),
                );
            }
            Need::AdminKey if opts.admin_key.is_none() => {
                return Some(
                    "no admin credential configured (config `[admin] key_env`)".to_string(),
                );
            }
            _ => {}
        }
    }
    None
}

/// Run `case` (or gate it) and return its report.
pub(crate) async fn run_one(case: Case, shared: Arc<RunShared>) -> CaseReport {
    let started = Instant::now();
    let listed = shared.opts.expected_failures.contains(case.id);
    let report = |j: Judged, transcript| CaseReport {
        id: case.id.to_string(),
        title: case.title.to_string(),
        section: case.section(),
        clauses: case.clauses.iter().map(|s| s.to_string()).collect(),
        level: case.level,
        verdict: j.verdict,
        duration_ms: ms(started.elapsed()),
        reason: j.reason,
        contradiction: j.contradiction,
        blocked_by: j.blocked_by,
        expectation: case.expectation.to_string(),
        transcript,
    };
    if let Some(why) = unmet_need(&case, &shared.opts, &shared.caps) {
        let j = judge(case.level, &Ok(Outcome::Skip(why)));
        return report(j, Vec::new());
    }
    for need in case.needs {
        if let Need::Prereq(p) = need {
            if let Some(b) = shared.establish(*p).await.blocked() {
                return report(judge(case.level, &Err(b)), Vec::new());
            }
        }
    }
    let mut ctx = Ctx::new(shared.clone(), case.id);
    let transcript: Transcript = ctx.transcript.clone();
    let deadline = ctx.deadline.clone();
    // Spawned so a panicking case becomes an `error` verdict instead of ending the run. The
    // deadline starts at the case timeout and may be extended by the case (`Ctx::need_time`)
    // while it runs, so it is re-read whenever it seems to have passed.
    let handle = tokio::spawn(async move {
        let result = {
            let fut = (case.run)(&mut ctx);
            tokio::pin!(fut);
            loop {
                let at = deadline.get();
                tokio::select! {
                    r = &mut fut => break Some(r),
                    () = tokio::time::sleep_until(at.into()) => {
                        if deadline.get() <= Instant::now() {
                            break None;
                        }
                    }
                }
            }
        };
        ctx.close_watches().await;
        result
    });
    let result: CaseResult = match handle.await {
        Ok(Some(r)) => r,
        Ok(None) => Err(Failure::Error(format!(
            "case did not finish within {:?} (case timeout, extended by the case's declared \
             waits if any); the target may hang",
            started.elapsed()
        ))),
        Err(e) if e.is_panic() => {
            let p = e.into_panic();
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(Failure::Error(format!(
                "case panicked (harness bug, please report): {msg}"
            )))
        }
        Err(e) => Err(Failure::Error(format!("case task failed: {e}"))),
    };
    let mut j = judge(case.level, &result);
    j.verdict = apply_expected(listed, j.verdict);
    j.reason = match j.verdict {
        Verdict::Xpass => {
            Some("listed in expected-failures but passed: remove it from the list".to_string())
        }
        Verdict::Xfail => j.reason.map(|r| format!("expected failure: {r}")),
        _ => j.reason,
    };
    report(j, transcript.entries())
}
