//! amp-runner: the case model, the per-case context, the runner and its reports.
//!
//! Suites define [`Case`]s (static data plus an async function taking a [`Ctx`]); [`run`]
//! selects, gates, executes them with bounded concurrency and per-case timeouts, cleans up
//! the agents they registered and returns a [`RunReport`], which renders as JSON
//! (`reports/report.schema.json`), JUnit XML and a terminal summary.

#![forbid(unsafe_code)]

pub mod case;
pub mod ctx;
pub mod expect;
pub mod options;
pub mod output;
pub mod prereq;
pub mod probe;
pub mod report;
pub mod run;
pub mod verdict;

pub use amp_client::{Method, Receiver, Resp, Secret, WsConn, WsEvent};
pub use case::{BoxFuture, Case, CaseFn, Need, Section};
pub use ctx::{Agent, Ctx, MessageBuilder};
pub use prereq::Prereq;
pub use probe::{Channels, Facts};
pub use verdict::{CaseResult, Failure, Level, Outcome, fail, pass, warn};
pub use options::{
    ConfigError, ContradictionProfiles, ExpectedFailures, FromHandling, PeerConfig, Reading,
    RunOptions, SigningPolicy, Target, Timing, UnknownRecipient, judge_reading,
};
pub use output::{closing_counts, render_terminal, to_junit, write_traces};
pub use report::{
    CaseReport, CoverageReport, Leftover, RunReport, SpecRevision, Summary, TimingInfo, Verdict,
    Warning, exit_code,
};
pub use run::{RunError, run, select};
