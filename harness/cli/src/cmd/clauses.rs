//! `amp-conformance clauses`: the requirement catalogue, filtered.

use amp_catalogue::{Catalogue, ClauseFilter, Level, Testability};

use crate::args::{ClausesArgs, LevelArg};
use crate::exit::{CliError, ExitCode};

pub fn run(args: &ClausesArgs) -> Result<ExitCode, CliError> {
    let catalogue = Catalogue::embedded();
    let mut filter = ClauseFilter {
        contradictions: args.contradictions,
        ..ClauseFilter::default()
    };
    if let Some(level) = args.level {
        filter.levels = match level {
            LevelArg::Must => vec![Level::Must, Level::MustNot],
            LevelArg::Should => vec![Level::Should, Level::ShouldNot],
            LevelArg::May => vec![Level::May],
        };
    }
    if let Some(t) = &args.testability {
        let found = Testability::ALL
            .iter()
            .find(|x| x.name().eq_ignore_ascii_case(t.trim()))
            .copied()
            .ok_or_else(|| {
                let names: Vec<&str> = Testability::ALL.iter().map(|x| x.name()).collect();
                CliError::usage(format!(
                    "unknown testability `{t}`; use one of: {}",
                    names.join(", ")
                ))
            })?;
        filter.testabilities = vec![found];
    }
    if let Some(s) = &args.section {
        filter.sections = vec![s.clone()];
    }
    print!("{}", catalogue.render_table(&filter));
    if args.coverage {
        let covered = crate::coverage::covered_ids();
        let cov = catalogue.coverage(covered.iter().map(String::as_str));
        let (req_cov, req_total) = cov.required();
        println!();
        println!(
            "coverage: {} of {} testable requirements have a case or vector ({:.0}%); required: {req_cov} of {req_total}",
            cov.covered_count(),
            cov.total(),
            cov.percent()
        );
        let uncovered: Vec<&str> = cov.uncovered_required().collect();
        if !uncovered.is_empty() {
            println!("uncovered MUST/MUST NOT: {}", uncovered.join(" "));
        }
    }
    Ok(ExitCode::Ok)
}
