//! `amp-conformance run`: the suite against a provider, or against the embedded mock.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use amp_mock::DefectSet;
use amp_runner::{
    Case, ContradictionProfiles, Document, DocumentReporter, ExpectedFailures, Level, PeerConfig,
    PreviousReport, ProgressReporter, Reporter, RunOptions, RunReport, Secret, WithChanges,
    WriteError,
};

use crate::args::{LevelArg, RunArgs};
use crate::config::Config;
use crate::exit::{CliError, ExitCode};

pub fn run(args: &RunArgs) -> Result<ExitCode, CliError> {
    let config = match &args.config {
        Some(path) => Some((Config::load(path)?, path.display().to_string())),
        None => None,
    };
    let target_url = args
        .target
        .clone()
        .or_else(|| config.as_ref().and_then(|(c, _)| c.target.base_url.clone()));
    if target_url.is_some() && !args.defects.is_empty() {
        return Err(CliError::usage(
            "--defect plants defects in the embedded mock; it cannot be combined with --target",
        ));
    }
    let cases = cases(args)?;
    // Read before the run, so that a wrong file is a usage error at once, not after the suite.
    let previous = match &args.compare {
        Some(path) => Some(PreviousReport::load(path).map_err(|e| CliError::usage(e.to_string()))?),
        None => None,
    };
    if args.list {
        let opts = options(args, "http://127.0.0.1:1/v1", config.as_ref())?;
        return crate::cmd::list::print_selection(&cases, &opts);
    }
    let rt = crate::runtime()?;
    rt.block_on(async {
        match target_url {
            Some(url) => {
                let opts = options(args, &url, config.as_ref())?;
                let outputs = Outputs::open(args, previous)?;
                let report = execute(&cases, opts, outputs.reporters).await?;
                finish(args, report, &outputs.errors)
            }
            None => {
                let names: Vec<&str> = args.defects.iter().map(String::as_str).collect();
                let defects = DefectSet::from_names(&names).map_err(|e| {
                    CliError::usage(format!(
                        "{e}; `amp-conformance mock --list-defects` lists the known defects"
                    ))
                })?;
                let mock =
                    amp_mock::spawn(crate::embedded::mock_config(defects, args.profile.into()))
                        .await
                        .map_err(|e| {
                            CliError::broken(format!("cannot start the embedded mock: {e}"))
                        })?;
                eprintln!(
                    "amp-conformance: no --target given; running against the embedded mock at {}",
                    mock.base_url()
                );
                let mut opts = options(args, &mock.base_url(), config.as_ref())?;
                crate::embedded::adapt_options(&mut opts, &mock);
                let outputs = Outputs::open(args, previous)?;
                let report = execute(&cases, opts, outputs.reporters).await;
                mock.shutdown().await;
                finish(args, report?, &outputs.errors)
            }
        }
    })
}

/// Build the runner's options from the command line and the config file.
pub fn options(
    args: &RunArgs,
    base_url: &str,
    config: Option<&(Config, String)>,
) -> Result<RunOptions, CliError> {
    if !(args.timeout > 0.0 && args.timeout.is_finite()) {
        return Err(CliError::usage(
            "--timeout must be a positive number of seconds",
        ));
    }
    if !(args.case_timeout > 0.0 && args.case_timeout.is_finite()) {
        return Err(CliError::usage(
            "--case-timeout must be a positive number of seconds",
        ));
    }
    if args.concurrency == 0 {
        return Err(CliError::usage("--concurrency must be at least 1"));
    }
    let mut opts =
        RunOptions::for_target(base_url).map_err(|e| CliError::usage(format!("--target: {e}")))?;
    opts.profile = args.profile.into();
    opts.level_filter = args.level.map(|l| match l {
        LevelArg::Must => Level::Must,
        LevelArg::Should => Level::Should,
        LevelArg::May => Level::May,
    });
    opts.strict = args.strict;
    opts.run_patterns = args.run_patterns.clone();
    opts.skip_patterns = args.skip_patterns.clone();
    opts.concurrency = args.concurrency;
    opts.request_timeout = Duration::from_secs_f64(args.timeout);
    opts.case_timeout = Duration::from_secs_f64(args.case_timeout);
    opts.seed = args.seed;
    opts.progress = std::io::stderr().is_terminal();
    opts.contradictions = ContradictionProfiles {
        from_handling: args.from_handling.map(Into::into),
        unknown_recipient: args.unknown_recipient.map(Into::into),
        signing: args.signing.map(Into::into),
        fingerprint: args.fingerprint.map(Into::into),
        risk: args.risk.map(Into::into),
        strict_ids: args.strict_ids,
        strict_schema: args.strict_schema,
    };
    if let Some(path) = &args.expected_failures {
        opts.expected_failures = ExpectedFailures::load(path)
            .map_err(|e| CliError::usage(format!("--expected-failures: {e}")))?;
    }
    if let Some((cfg, path)) = config {
        if let Some(ws) = &cfg.target.ws_url {
            opts.target.ws_url = ws.clone();
        }
        opts.tenant = cfg.target.tenant.clone();
        opts.registration_headers = cfg
            .registration_headers(path)?
            .into_iter()
            .map(|(k, v)| (k, Secret::new(v)))
            .collect();
        opts.loopback_webhooks = cfg.webhooks.loopback;
        opts.admin_key = cfg.admin_key(path)?.map(Secret::new);
        opts.user_key = cfg.user_key(path)?.map(Secret::new);
        opts.timing = cfg.timing.apply(opts.timing, path)?;
        if let Some((domain, seed)) = cfg.peer_seed(path)? {
            opts.federation_peer = Some(PeerConfig {
                provider: domain.clone(),
                endpoint: format!("https://{domain}/v1"),
                key_seed: seed,
            });
        }
    }
    Ok(opts)
}

/// The reporters of a run and where they leave write errors. The report files are created
/// before the run, so an unwritable path fails at once instead of after the whole suite.
struct Outputs {
    reporters: Vec<Box<dyn Reporter>>,
    errors: Vec<(String, WriteError)>,
}

impl Outputs {
    /// The document reporters (every report file, then the terminal summary) and, on a
    /// terminal, the progress bar; with `previous`, the documents show the changes since it.
    fn open(args: &RunArgs, previous: Option<PreviousReport>) -> Result<Outputs, CliError> {
        let mut out = Outputs {
            reporters: Vec::new(),
            errors: Vec::new(),
        };
        let strict = args.strict;
        let files = [
            (&args.report_json, Document::Json),
            (&args.report_junit, Document::Junit { strict }),
            (&args.report_md, Document::Markdown { strict }),
            (&args.report_html, Document::Html { strict }),
        ];
        for (path, document) in files {
            if let Some(path) = path {
                out.add(
                    document,
                    Box::new(create_file(path)?),
                    path.display().to_string(),
                );
            }
        }
        let color = std::io::stdout().is_terminal();
        out.add(
            Document::Terminal { strict, color },
            Box::new(std::io::stdout()),
            "stdout".to_string(),
        );
        if let Some(previous) = previous {
            let documents = std::mem::take(&mut out.reporters);
            out.reporters
                .push(Box::new(WithChanges::new(previous, documents)));
        }
        if std::io::stderr().is_terminal() {
            out.reporters.insert(0, Box::new(ProgressReporter::new()));
        }
        Ok(out)
    }

    fn add(&mut self, document: Document, sink: Box<dyn Write + Send>, name: String) {
        let (reporter, error) = DocumentReporter::new(document, sink);
        self.reporters.push(Box::new(reporter));
        self.errors.push((name, error));
    }
}

/// The cases a run executes: the suite with the embedded corpus's live vector trials (none
/// with `--skip-vectors`), plus one trial per case of the `--vectors` files, which must lint
/// clean and must not redefine a trial id.
pub fn cases(args: &RunArgs) -> Result<Vec<Case>, CliError> {
    let mut cases = amp_suites::all();
    if args.skip_vectors {
        cases.retain(|c| !amp_suites::live_vectors::is_trial(c.id));
    }
    if args.vectors.is_empty() {
        return Ok(cases);
    }
    let files = args
        .vectors
        .iter()
        .map(amp_vectors::load_file)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::usage(format!("--vectors: {e}")))?;
    let problems = amp_vectors::lint(&files);
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        return Err(CliError::usage(format!(
            "--vectors: the files do not lint clean (format: vectors/README.md; check them with \
             `amp-conformance vectors lint FILE`):\n{}",
            list.join("\n")
        )));
    }
    let trials = amp_suites::live_vectors::trials(&files)
        .map_err(|e| CliError::usage(format!("--vectors: {e}")))?;
    for file in &files {
        let live = file.kind.runs_live()
            && file
                .cases
                .iter()
                .any(|c| file.case_live(c) == amp_vectors::Live::Runs);
        if !live {
            let why = match file.live() {
                amp_vectors::Live::CoreOnly(why) => format!("core-only: {why}"),
                _ if !file.kind.runs_live() => format!("kind {} has no live trial", file.kind),
                _ => "every case is marked core-only".to_string(),
            };
            eprintln!(
                "amp-conformance: --vectors {}: no case runs live ({why})",
                file.name
            );
        }
    }
    let known: std::collections::HashSet<&str> = cases.iter().map(|c| c.id).collect();
    if let Some(t) = trials.iter().find(|t| known.contains(t.id)) {
        return Err(CliError::usage(format!(
            "--vectors: trial `{}` is already defined (by the embedded corpus or another \
             file): give the case another id",
            t.id
        )));
    }
    cases.extend(trials);
    cases.sort_by_key(|c| c.id);
    Ok(cases)
}

async fn execute(
    cases: &[Case],
    opts: RunOptions,
    reporters: Vec<Box<dyn Reporter>>,
) -> Result<RunReport, CliError> {
    amp_runner::run_with(cases, opts, reporters)
        .await
        .map_err(|e| {
            let code = if e.exit_code() == 2 {
                ExitCode::Usage
            } else {
                ExitCode::Broken
            };
            CliError {
                code,
                message: e.to_string(),
            }
        })
}

/// The reporters wrote the reports and the summary during the run; write the traces, surface
/// any write error, and turn the verdicts into the exit code.
fn finish(
    args: &RunArgs,
    report: RunReport,
    errors: &[(String, WriteError)],
) -> Result<ExitCode, CliError> {
    for (name, slot) in errors {
        if let Some(e) = slot.lock().ok().and_then(|g| g.clone()) {
            return Err(CliError::broken(format!("cannot write {name}: {e}")));
        }
    }
    if let Some(dir) = &args.trace {
        amp_runner::write_traces(&report, dir).map_err(|e| {
            CliError::broken(format!("cannot write traces to {}: {e}", dir.display()))
        })?;
    }
    Ok(match amp_runner::exit_code(&report, args.strict) {
        0 => ExitCode::Ok,
        1 => ExitCode::Failed,
        2 => ExitCode::Usage,
        _ => ExitCode::Broken,
    })
}

/// Create `path` (and its parent folders) for writing.
fn create_file(path: &Path) -> Result<std::fs::File, CliError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| CliError::broken(format!("cannot create {}: {e}", parent.display())))?;
    }
    std::fs::File::create(path)
        .map_err(|e| CliError::broken(format!("cannot write {}: {e}", path.display())))
}
