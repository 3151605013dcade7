//! `amp-conformance list`: the cases, their clauses, level and needs, grouped by spec section
//! (the catalogue section of each case's first clause, which is also the suite module that
//! holds it).

use std::collections::BTreeMap;

use amp_runner::{Case, Level, RunOptions, Section};

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
    let mut cases = amp_suites::all();
    if let Some(wanted) = &args.section {
        let known: BTreeMap<Section, ()> = cases.iter().map(|c| (c.section(), ())).collect();
        let matches =
            |s: &Section| s.as_str() == wanted || s.as_str().starts_with(&format!("{wanted}-"));
        if !known.keys().any(matches) {
            let names: Vec<&str> = known.keys().map(Section::as_str).collect();
            return Err(CliError::usage(format!(
                "no case belongs to section `{wanted}`; sections with cases: {}",
                names.join(", ")
            )));
        }
        cases.retain(|c| matches(&c.section()));
    }
    print_selection(&cases, &opts)
}

/// Print the cases of `cases` that `opts` selects, one per line, then a count.
pub fn print_selection(cases: &[Case], opts: &RunOptions) -> Result<ExitCode, CliError> {
    let selected = amp_runner::select(cases, opts).map_err(|e| CliError::usage(e.to_string()))?;
    let mut by_section: BTreeMap<Section, Vec<&Case>> = BTreeMap::new();
    for case in &selected {
        by_section.entry(case.section()).or_default().push(case);
    }
    for (section, cases) in by_section {
        println!("{section} ({} cases)", cases.len());
        for case in cases {
            print_case(case);
        }
    }
    println!("{} cases", selected.len());
    Ok(ExitCode::Ok)
}

fn print_case(case: &Case) {
    let needs: Vec<String> = case.needs.iter().map(|n| format!("{n:?}")).collect();
    println!(
        "  {:<48} {:<6} {:<24} {}{}",
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
