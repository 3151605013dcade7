//! The runner: preflight, selection, gating, bounded concurrent execution, cleanup, report.

use crate::case::{Case, Need};
use crate::verdict::{CaseResult, Failure, Judged, Outcome, judge};
pub use crate::verdict::{apply_expected, verdict_of};
use crate::ctx::{Created, Ctx, RunShared, info_capabilities};
use crate::options::{ConfigError, RunOptions};
use crate::report::{
    CaseReport, CoverageReport, Leftover, OptionsInfo, REPORT_SCHEMA, RunMeta, RunReport,
    SpecRevision, Summary, TargetInfo, TimingInfo, ToolInfo, Verdict, Warning,
};
use amp_client::{Http, HttpConfig, Redactor, Req, Transcript, WsConfig};
use futures_util::StreamExt;
use globset::{Glob, GlobSet, GlobSetBuilder};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashSet};
use std::io::IsTerminal;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why a run produced no report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("target unreachable: GET {url} failed: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("harness problem: {0}")]
    Harness(String),
}

impl RunError {
    /// 2 for configuration/usage errors, 3 for an unreachable target or a broken harness.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Config(_) => 2,
            RunError::Unreachable { .. } | RunError::Harness(_) => 3,
        }
    }
}

fn globset(patterns: &[String]) -> Result<Option<GlobSet>, ConfigError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let g = Glob::new(p).map_err(|e| ConfigError::BadPattern {
            pattern: p.clone(),
            reason: e.to_string(),
        })?;
        b.add(g);
    }
    b.build().map(Some).map_err(|e| ConfigError::BadPattern {
        pattern: patterns.join(","),
        reason: e.to_string(),
    })
}

/// The cases `opts` selects (patterns and level), sorted by id. Also what `list` shows.
pub fn select<'c>(cases: &'c [Case], opts: &RunOptions) -> Result<Vec<&'c Case>, ConfigError> {
    let run = globset(&opts.run_patterns)?;
    let skip = globset(&opts.skip_patterns)?;
    let mut out: Vec<&Case> = cases
        .iter()
        .filter(|c| run.as_ref().is_none_or(|g| g.is_match(c.id)))
        .filter(|c| skip.as_ref().is_none_or(|g| !g.is_match(c.id)))
        .filter(|c| opts.level_filter.is_none_or(|l| c.level >= l))
        .collect();
    out.sort_by_key(|c| c.id);
    Ok(out)
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

fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn run_id_for(seed: u64) -> String {
    let h = Sha256::digest(seed.to_be_bytes());
    hex::encode(&h[..3])
}

struct Finished {
    report: CaseReport,
}

/// Run `cases` against the target. Returns a report unless the configuration is invalid
/// or the target does not answer at all.
pub async fn run(cases: &[Case], opts: RunOptions) -> Result<RunReport, RunError> {
    let started = Instant::now();
    let started_at = now_rfc3339();

    let mut seen = HashSet::new();
    for c in cases {
        if !seen.insert(c.id) {
            return Err(RunError::Harness(format!(
                "duplicate case id `{}` in the suite",
                c.id
            )));
        }
    }
    let selected = select(cases, &opts)?;
    let mut warnings = Vec::new();
    let known: HashSet<&str> = cases.iter().map(|c| c.id).collect();
    for id in &opts.expected_failures.ids {
        if !known.contains(id.as_str()) {
            warnings.push(Warning {
                kind: "expected-failures".to_string(),
                message: format!(
                    "expected-failures lists `{id}`, which is not a case id (typo or removed case?)"
                ),
                case: None,
                contradiction: None,
            });
        }
    }

    let seed = match opts.seed {
        Some(s) => s,
        None => getrandom::u64().map_err(|e| {
            RunError::Harness(format!(
                "no OS randomness for the run seed: {e} (pass --seed)"
            ))
        })?,
    };
    let run_id = run_id_for(seed);

    let redactor = Redactor::new();
    if let Some(k) = &opts.admin_key {
        redactor.add_secret("admin_key", k);
    }
    for (name, v) in &opts.registration_headers {
        redactor.add_secret(&format!("header:{}", name.to_ascii_lowercase()), v);
    }
    let http = Http::new(HttpConfig {
        timeout: opts.request_timeout,
        ..HttpConfig::default()
    })
    .map_err(|e| RunError::Harness(e.to_string()))?;

    // Preflight: the target must answer something on /info.
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
    let caps = info_capabilities(info.as_ref());
    let rate = info
        .as_ref()
        .and_then(|v| v.pointer("/rate_limits/api_requests_per_minute"))
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok());
    http.set_rate_limit(rate);

    let shared = Arc::new(RunShared {
        opts: opts.clone(),
        http: http.clone(),
        redactor: redactor.clone(),
        run_id: run_id.clone(),
        seed,
        counter: AtomicU64::new(0),
        info: info.clone(),
        created: Mutex::new(Vec::new()),
        probes: Default::default(),
        findings: Mutex::new(Default::default()),
        ws: WsConfig {
            op_timeout: opts.request_timeout,
            ..WsConfig::default()
        },
    });

    let bar = if opts.progress && std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(selected.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
        ) {
            b.set_style(style);
        }
        Some(b)
    } else {
        None
    };

    let concurrency = opts.concurrency.max(1);
    let finished: Vec<Finished> = futures_util::stream::iter(selected.iter().map(|c| **c))
        .map(|case| {
            let shared = shared.clone();
            let caps = caps.clone();
            let bar = bar.clone();
            async move {
                let f = run_one(case, shared, &caps).await;
                if let Some(b) = &bar {
                    b.inc(1);
                    b.set_message(case.id);
                }
                f
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }

    let mut case_reports: Vec<CaseReport> = finished.into_iter().map(|f| f.report).collect();
    case_reports.sort_by(|a, b| a.id.cmp(&b.id));

    // Cleanup.
    let created: Vec<Created> = shared.created.lock().map(|c| c.clone()).unwrap_or_default();
    let leftovers = cleanup(&http, &opts, created, &redactor).await;

    // Final redaction pass with every secret learned during the run.
    for c in &mut case_reports {
        c.reason = c.reason.as_ref().map(|r| redactor.redact(r));
        c.transcript = c
            .transcript
            .drain(..)
            .map(|e| amp_client::transcript::redact_exchange(&redactor, e))
            .collect();
    }
    for c in &case_reports {
        if let Some(con) = &c.contradiction {
            warnings.push(Warning {
                kind: "contradiction".to_string(),
                message: format!(
                    "{}: verdict depends on spec contradiction {con}: {}",
                    c.id,
                    c.reason.clone().unwrap_or_default()
                ),
                case: Some(c.id.clone()),
                contradiction: Some(con.clone()),
            });
        }
    }

    let findings = shared.findings.lock().map(|f| f.clone()).unwrap_or_default();
    let mut root_causes =
        crate::probe::root_causes(&shared.probes.records(), &findings, &case_reports);
    for rc in &mut root_causes {
        rc.summary = redactor.redact(&rc.summary);
        rc.transcript = rc
            .transcript
            .drain(..)
            .map(|e| amp_client::transcript::redact_exchange(&redactor, e))
            .collect();
    }
    let coverage = coverage(&case_reports);
    let spec_revision = amp_catalogue::Catalogue::try_embedded()
        .ok()
        .map(|cat| SpecRevision {
            repo: cat.meta().spec_repo.clone(),
            catalogue_version: cat.meta().catalogue_version.clone(),
            files: cat.meta().spec_revision.clone(),
        });
    let summary = Summary::compute(&case_reports, opts.strict);
    let str_of = |k: &str| {
        info.as_ref()
            .and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Ok(RunReport {
        schema: REPORT_SCHEMA.to_string(),
        tool: ToolInfo {
            name: "amp-conformance".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        },
        run: RunMeta {
            id: run_id,
            seed,
            started_at,
            duration_ms: ms(started.elapsed()),
        },
        target: TargetInfo {
            base_url: opts.target.base_url.clone(),
            origin: opts.target.origin.clone(),
            ws_url: opts.target.ws_url.clone(),
            provider: str_of("provider"),
            version: str_of("version"),
            capabilities: caps,
        },
        profile: opts.profile.name().to_string(),
        spec_revision,
        options: OptionsInfo {
            level: opts.level_filter,
            strict: opts.strict,
            run_patterns: opts.run_patterns.clone(),
            skip_patterns: opts.skip_patterns.clone(),
            concurrency,
            case_timeout_ms: ms(opts.case_timeout),
            request_timeout_ms: ms(opts.request_timeout),
            expected_failures: opts.expected_failures.ids.iter().cloned().collect(),
            expected_failures_source: opts.expected_failures.source.clone(),
            tenant: shared.tenant(),
            loopback_webhooks: opts.loopback_webhooks,
            federation_peer: opts.federation_peer.is_some(),
            contradiction_profiles: opts
                .contradictions
                .declared()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            timing_ms: TimingInfo {
                ws_auth_timeout: ms(opts.timing.ws_auth_timeout),
                ws_pong_wait: ms(opts.timing.ws_pong_wait),
                webhook_first_retry: ms(opts.timing.webhook_first_retry),
                observe_window: ms(opts.timing.observe_window),
            },
            cases_known: cases.len(),
            cases_filtered_out: cases.len() - selected.len(),
        },
        root_causes,
        cases: case_reports,
        summary,
        coverage,
        leftovers,
        warnings,
    })
}

async fn run_one(case: Case, shared: Arc<RunShared>, caps: &[String]) -> Finished {
    let started = Instant::now();
    let listed = shared.opts.expected_failures.contains(case.id);
    let report = |j: Judged, transcript| CaseReport {
        id: case.id.to_string(),
        title: case.title.to_string(),
        section: case.section,
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
    if let Some(why) = unmet_need(&case, &shared.opts, caps) {
        let j = judge(case.level, &Ok(Outcome::Skip(why)));
        return Finished {
            report: report(j, Vec::new()),
        };
    }
    for need in case.needs {
        if let Need::Prereq(p) = need {
            if let Some(b) = crate::probe::establish(&shared, *p).await.blocked() {
                return Finished {
                    report: report(judge(case.level, &Err(b)), Vec::new()),
                };
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
    Finished {
        report: report(j, transcript.entries()),
    }
}

async fn cleanup(
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
                let req = Req::new(amp_client::Method::DELETE, url).bearer(&c.api_key);
                let reason = match http.send(&req).await {
                    Ok(r) if r.is_success() => return None,
                    Ok(r) => format!(
                        "DELETE /agents/me answered HTTP {}{}",
                        r.status,
                        r.error_code()
                            .map(|c| format!(" ({c})"))
                            .unwrap_or_default()
                    ),
                    Err(e) => e.to_string(),
                };
                Some(Leftover {
                    address: c.address.clone(),
                    case: c.case_id.clone(),
                    reason: redactor.redact(&reason),
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

fn coverage(cases: &[CaseReport]) -> CoverageReport {
    let Ok(cat) = amp_catalogue::Catalogue::try_embedded() else {
        return CoverageReport::default();
    };
    let cited: BTreeSet<&str> = cases
        .iter()
        .filter(|c| c.verdict.judged())
        .flat_map(|c| c.clauses.iter().map(String::as_str))
        .collect();
    let cov = cat.coverage(cited.iter().copied());
    let (required_covered, required_total) = cov.required();
    CoverageReport {
        catalogue: true,
        testable: cov.total(),
        covered: cov.groups.iter().flat_map(|g| g.covered.clone()).collect(),
        uncovered: cov
            .groups
            .iter()
            .flat_map(|g| g.uncovered.clone())
            .collect(),
        required_covered,
        required_total,
        unknown: cov.unknown.clone(),
        untestable_cited: cov.untestable.clone(),
    }
}
