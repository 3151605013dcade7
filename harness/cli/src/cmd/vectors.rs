//! `amp-conformance vectors [lint] [FILE...]`: run or lint the data-driven vectors.
//!
//! The corpus is embedded in the binary (it works after `cargo install`); files given on the
//! command line replace it.

use std::path::PathBuf;

use amp_vectors::VectorFile;

use crate::args::VectorsArgs;
use crate::exit::{CliError, ExitCode};

pub fn run(args: &VectorsArgs) -> Result<ExitCode, CliError> {
    let (lint_mode, files) = match args.files.split_first() {
        Some((first, rest)) if first.as_os_str() == "lint" => (true, rest),
        _ => (false, args.files.as_slice()),
    };
    let corpus = load(files)?;
    // A file that does not lint cannot be trusted to run either.
    let problems = amp_vectors::lint(&corpus);
    for p in &problems {
        eprintln!("lint: {p}");
    }
    if lint_mode {
        let cases: usize = corpus.iter().map(|f| f.cases.len()).sum();
        println!(
            "{} files, {cases} cases, {} problems",
            corpus.len(),
            problems.len()
        );
        return Ok(if problems.is_empty() {
            ExitCode::Ok
        } else {
            ExitCode::Failed
        });
    }
    let summary = amp_vectors::run_all(&corpus, args.profile.into());
    if args.verbose {
        for r in &summary.reports {
            println!("{:<60} {:?}", r.name, r.outcome);
        }
    }
    let core_only = amp_suites::live_vectors::core_only(&corpus);
    if args.verbose {
        for (what, why) in &core_only {
            println!("core-only {what}: {why}");
        }
    }
    let total: usize = corpus.iter().map(|f| f.cases.len()).sum();
    let live = corpus
        .iter()
        .filter(|f| f.kind.runs_live())
        .flat_map(|f| f.cases.iter().map(move |c| f.case_live(c)))
        .filter(|l| *l == amp_vectors::Live::Runs)
        .count();
    println!(
        "live: {live} of {total} cases also run against providers (`run`, trials \
         vector.<kind>.<case-id>); the other {} are core-only (reasons: -v)",
        total - live
    );
    println!("profile: {}", summary.profile);
    println!("{summary}");
    Ok(if summary.is_success() && problems.is_empty() {
        ExitCode::Ok
    } else {
        ExitCode::Failed
    })
}

fn load(files: &[PathBuf]) -> Result<Vec<VectorFile>, CliError> {
    if files.is_empty() {
        return amp_vectors::embedded()
            .map_err(|e| CliError::broken(format!("the embedded vector corpus is broken: {e}")));
    }
    files
        .iter()
        .map(|path| {
            amp_vectors::load_file(path)
                .map_err(|e| CliError::usage(format!("{}: {e}", path.display())))
        })
        .collect()
}
