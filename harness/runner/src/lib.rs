//! amp-runner: the case model, the per-case context, the runner and its reports.
//!
//! Suites define [`Case`]s (static data plus an async function taking a [`Ctx`]); [`run`]
//! selects, gates, executes them with bounded concurrency and per-case timeouts, cleans up
//! the agents they registered and returns a [`RunReport`], which renders as JSON
//! (`reports/report.schema.json`), JUnit XML, Markdown, HTML and a terminal summary; compared
//! with a previous run's JSON report ([`PreviousReport`]), every rendering lists the
//! [`Changes`].
//!
//! Prerequisites many cases build on ([`Prereq`]: registration, observable delivery, a
//! WebSocket session) are established once per run by probes; a case whose prerequisite
//! failed is `blocked`, and the failed probe is reported once, as a root cause. While it runs,
//! the runner emits [`Event`]s to [`Reporter`]s (progress bar, terminal, JSON, JUnit).
//!
//! Module graph (no circles): `prereq` ← `verdict` ← `options` ← `facts` ← `shared` ← `ctx`
//! ← `case`, with `agent`, `message` and `observe` under `ctx`; `probe` uses `ctx` and is
//! handed to `shared` as a function; `run` drives `session` → `execute` → `cleanup` →
//! `assemble` and emits `event`s to `reporter`s.

#![forbid(unsafe_code)]

mod agent;
mod assemble;
pub mod case;
mod cleanup;
pub mod compare;
pub mod ctx;
pub mod event;
mod excerpt;
mod execute;
pub mod expect;
pub mod facts;
pub mod html;
pub mod markdown;
pub mod message;
mod observe;
pub mod options;
pub mod output;
pub mod prereq;
mod probe;
pub mod report;
pub mod reporter;
pub mod run;
mod run_error;
mod session;
mod shared;
pub mod verdict;

pub use agent::Agent;
pub use amp_client::{Method, Receiver, Resp, Secret, WsConn, WsEvent};
pub use case::{BoxFuture, Case, CaseFn, Need, Section};
pub use compare::{CaseChange, Changes, PreviousError, PreviousReport};
pub use ctx::Ctx;
pub use event::{Event, Reporter};
pub use facts::{Channels, Facts};
pub use html::to_html;
pub use markdown::to_markdown;
pub use message::{MessageBuilder, fingerprint_of};
pub use options::{
    ConfigError, ContradictionProfiles, ExpectedFailures, FromHandling, PeerConfig, Reading,
    RiskRange, RunOptions, SigningPolicy, Target, Timing, UnknownRecipient, judge_reading,
    judge_reported_reading,
};
pub use output::{closing_counts, render_terminal, to_junit, write_traces};
pub use prereq::Prereq;
pub use report::{
    CaseReport, CoverageReport, Leftover, RootCause, RootCauseKind, RunReport, SpecRevision,
    Summary, TimingInfo, Verdict, Warning, exit_code,
};
pub use reporter::{Document, DocumentReporter, ProgressReporter, WithChanges, WriteError};
pub use run::{RunError, run, run_with, select};
pub use verdict::{CaseResult, Failure, Level, Outcome, fail, pass, warn};
