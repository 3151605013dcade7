//! Every embedded vector case is its own trial, named `<file-stem>::<case-id>`.
//!
//! Profile-dependent kinds (payload_hash, canonical_string, signature) are run under all four
//! payload profiles inside the trial; the failure message names the profile. Other kinds run
//! once. `AMP_VECTORS_PROFILE=<name>` restricts every trial to one profile.

use amp_core::PayloadProfile;
use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let args = Arguments::from_args();
    // amp-core panics (e.g. a `todo!()` body) are caught per trial and reported as failures;
    // the default hook would print a backtrace for each of them.
    std::panic::set_hook(Box::new(|_| {}));
    let files = match amp_vectors::embedded() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("embedded corpus does not parse: {e}");
            std::process::exit(101);
        }
    };
    let only: Option<PayloadProfile> = match std::env::var("AMP_VECTORS_PROFILE") {
        Ok(p) => match p.parse() {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        },
        Err(_) => None,
    };
    let mut trials = Vec::new();
    for file in &files {
        for case in &file.cases {
            let file = file.clone();
            let case = case.clone();
            let name = file.trial_name(&case);
            let kind = file.kind.name();
            trials.push(
                Trial::test(name, move || {
                    let profiles: Vec<PayloadProfile> = match only {
                        Some(p) => vec![p],
                        None if file.kind.profile_dependent() => PayloadProfile::ALL.to_vec(),
                        None => vec![PayloadProfile::Sorted],
                    };
                    let mut problems = Vec::new();
                    let mut skipped = None;
                    for p in profiles {
                        // A todo!() in amp-core must fail this trial, not abort the harness.
                        let out =
                            std::panic::catch_unwind(|| amp_vectors::run_case(&file, &case, p))
                                .unwrap_or_else(|e| {
                                    let msg = e
                                        .downcast_ref::<&str>()
                                        .map(|s| s.to_string())
                                        .or_else(|| e.downcast_ref::<String>().cloned())
                                        .unwrap_or_else(|| "non-string panic".into());
                                    amp_vectors::CaseOutcome::Fail {
                                        expected: "no panic".into(),
                                        got: format!("amp-core panicked: {msg}"),
                                    }
                                });
                        match out {
                            amp_vectors::CaseOutcome::Pass => {}
                            amp_vectors::CaseOutcome::Fail { expected, got } => problems
                                .push(format!("[{p}] expected {expected}\n[{p}]      got {got}")),
                            amp_vectors::CaseOutcome::Skip { reason } => skipped = Some(reason),
                        }
                    }
                    if !problems.is_empty() {
                        return Err(Failed::from(format!(
                            "{}\n{}",
                            case.description,
                            problems.join("\n")
                        )));
                    }
                    if let Some(r) = skipped {
                        eprintln!("skipped: {r}");
                    }
                    Ok(())
                })
                .with_kind(kind),
            );
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
