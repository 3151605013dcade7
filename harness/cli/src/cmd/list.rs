//! `amp-conformance list`: the cases, their clauses, level and needs.

use amp_runner::{Case, Level, RunOptions};

use crate::args::{LevelArg, ListArgs};
use crate::exit::{CliError, ExitCode};

pub fn run(args: &ListArgs) -> Result<ExitCode, CliError> {
    let mut opts = RunOptions::for_target("http://127.0.0.1:1/v1")
        .map_err(|e| CliError::broken(e.to_string()))?;
    opts.level_filter = args.level.map(|l| match l {
        LevelArg::Must => Level::Must,
        LevelArg::Should => Level::Should,
        LevelArg::May => Level::May,
    });
    opts.run_patterns = args.run_patterns.clone();
    print_selection(&amp_suites::all(), &opts)
}

/// Print the cases of `cases` that `opts` selects, one per line, then a count.
pub fn print_selection(cases: &[Case], opts: &RunOptions) -> Result<ExitCode, CliError> {
    let selected = amp_runner::select(cases, opts).map_err(|e| CliError::usage(e.to_string()))?;
    for case in &selected {
        let needs: Vec<String> = case.needs.iter().map(|n| format!("{n:?}")).collect();
        println!(
            "{:<48} {:<6} {:<24} {}{}",
            case.id,
            case.level.as_str(),
            case.clauses.join(","),
            case.title,
            if needs.is_empty() {
                String::new()
            } else {
                format!("  [needs {}]", needs.join(", "))
            }
        );
    }
    println!("{} cases", selected.len());
    Ok(ExitCode::Ok)
}
