//! `amp-conformance fuzz`: the structure-aware network fuzzer, against a provider or the
//! embedded mock; `--replay FILE` re-runs a saved reproducer.

use std::path::Path;
use std::time::Duration;

use amp_mock::{DefectSet, RateLimits};
use amp_netfuzz::{Budget, FuzzOptions};

use crate::args::FuzzArgs;
use crate::exit::{CliError, ExitCode};

pub fn run(args: &FuzzArgs) -> Result<ExitCode, CliError> {
    if args.target.is_some() && !args.defects.is_empty() {
        return Err(CliError::usage(
            "--defect plants defects in the embedded mock; it cannot be combined with --target",
        ));
    }
    let budget = match (&args.duration, args.requests) {
        (Some(_), Some(_)) => {
            return Err(CliError::usage(
                "give either --duration or --requests, not both",
            ));
        }
        (Some(d), None) => Budget::Duration(parse_duration(d)?),
        (None, Some(n)) if n > 0 => Budget::Requests(n),
        (None, Some(_)) => return Err(CliError::usage("--requests must be at least 1")),
        (None, None) => Budget::Requests(2000),
    };
    if args.concurrency == 0 {
        return Err(CliError::usage("--concurrency must be at least 1"));
    }
    let names: Vec<&str> = args.defects.iter().map(String::as_str).collect();
    let defects = DefectSet::from_names(&names).map_err(|e| {
        CliError::usage(format!(
            "{e}; `amp-conformance mock --list-defects` lists the known defects"
        ))
    })?;
    let rt = crate::runtime()?;
    rt.block_on(async {
        let mock = match &args.target {
            Some(_) => None,
            None => {
                let mut config = crate::embedded::mock_config(defects, args.profile.into());
                // The fuzzer is meant to find protocol violations, not to measure rate limits.
                config.rate_limits = RateLimits::default();
                Some(amp_mock::spawn(config).await.map_err(|e| {
                    CliError::broken(format!("cannot start the embedded mock: {e}"))
                })?)
            }
        };
        let base_url = match (&args.target, &mock) {
            (Some(t), _) => t.clone(),
            (None, Some(m)) => m.base_url(),
            (None, None) => unreachable!("a mock is started when no target is given"),
        };
        let result = if let Some(file) = &args.replay {
            replay(file, &base_url, args.allow_remote).await
        } else {
            let mut opts = FuzzOptions::new(base_url, args.out.clone());
            opts.seed = args.seed;
            opts.budget = budget;
            opts.profile = args.profile.into();
            opts.concurrency = args.concurrency;
            opts.allow_remote = args.allow_remote;
            opts.request_timeout = Duration::from_secs_f64(args.timeout.max(0.1));
            match amp_netfuzz::fuzz(opts).await {
                Ok(report) => {
                    print!("{}", report.summary());
                    let n = report.violations.len();
                    println!("{} passed, {n} failed", usize::from(n == 0));
                    Ok(if n == 0 {
                        ExitCode::Ok
                    } else {
                        ExitCode::Failed
                    })
                }
                Err(e) => Err(fuzz_error(e)),
            }
        };
        if let Some(m) = mock {
            m.shutdown().await;
        }
        result
    })
}

async fn replay(file: &Path, base_url: &str, allow_remote: bool) -> Result<ExitCode, CliError> {
    let r = amp_netfuzz::replay_with(file, base_url, allow_remote)
        .await
        .map_err(fuzz_error)?;
    println!(
        "replayed {} ({} requests): invariant {} [{}] {}",
        file.display(),
        r.requests,
        r.invariant.name(),
        r.clause.as_deref().unwrap_or("-"),
        if r.reproduced {
            "REPRODUCED"
        } else {
            "not reproduced"
        }
    );
    Ok(if r.reproduced {
        ExitCode::Failed
    } else {
        ExitCode::Ok
    })
}

fn fuzz_error(e: amp_netfuzz::FuzzError) -> CliError {
    match e {
        amp_netfuzz::FuzzError::NotLoopback(_)
        | amp_netfuzz::FuzzError::BadUrl(_)
        | amp_netfuzz::FuzzError::BadReproducer { .. } => CliError::usage(e.to_string()),
        _ => CliError::broken(e.to_string()),
    }
}

/// `20s`, `2m`, `500ms`, `1h`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, CliError> {
    let t = s.trim();
    let (num, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: f64 = num.parse().map_err(|_| bad_duration(s))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad_duration(s)),
    };
    if !(secs.is_finite() && secs > 0.0 && secs <= 7.0 * 86400.0) {
        return Err(bad_duration(s));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn bad_duration(s: &str) -> CliError {
    CliError::usage(format!(
        "--duration `{s}` is not a duration: use e.g. 20s, 2m, 500ms"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("20s").unwrap(), Duration::from_secs(20));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        for bad in ["", "s", "-1s", "1y", "0s", "1e999s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
