//! Minimal stand-in for `amp-conformance clauses` (the real command lives in the CLI):
//! `cargo run -p amp-catalogue --example clauses -- --level must --section 04 --contradictions`

use amp_catalogue::{Catalogue, ClauseFilter};

fn main() {
    let mut filter = ClauseFilter::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let result = match arg.as_str() {
            "--contradictions" => {
                filter.contradictions = true;
                Ok(())
            }
            "--level" | "--testability" | "--section" | "--width" => match args.next() {
                None => Err(format!("{arg} needs a value")),
                Some(v) => match arg.as_str() {
                    "--level" => v
                        .parse()
                        .map(|l| filter.levels.push(l))
                        .map_err(|e| e.to_string()),
                    "--testability" => v
                        .parse()
                        .map(|t| filter.testabilities.push(t))
                        .map_err(|e| e.to_string()),
                    "--width" => v
                        .parse()
                        .map(|w| filter.width = Some(w))
                        .map_err(|_| format!("--width takes a number, got `{v}`")),
                    _ => {
                        filter.sections.push(v);
                        Ok(())
                    }
                },
            },
            other => Err(format!(
                "unknown argument `{other}`: use --level, --testability, --section, --width, --contradictions"
            )),
        };
        if let Err(e) = result {
            eprintln!("clauses: {e}");
            std::process::exit(2);
        }
    }
    print!("{}", Catalogue::embedded().render_table(&filter));
}
