//! What a run emits while it runs, and the reporters that consume it: the runner knows
//! nothing about terminals, files or formats (the split nextest makes between its runner and
//! its reporters). Reporters live in `crate::reporter`.

use crate::options::Target;
use crate::report::{CaseReport, RootCause, RunReport};
use std::sync::Mutex;

/// One thing that happened in a run, in the order it happened.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// Selection and preflight are done; `cases` cases will be reported.
    RunStarted {
        run_id: &'a str,
        target: &'a Target,
        cases: usize,
    },
    CaseStarted {
        id: &'a str,
    },
    /// A case has its verdict (cases finish in any order under concurrency).
    CaseFinished {
        case: &'a CaseReport,
    },
    /// A cause behind several verdicts (a failed probe, a repeated finding), with every case
    /// it blocked or explains; emitted once the run knows them all, before `RunFinished`.
    RootCause {
        cause: &'a RootCause,
    },
    /// Cleanup is done and the report is complete.
    RunFinished {
        report: &'a RunReport,
    },
}

/// Consumes the events of a run. Called from the runner's tasks one event at a time (never
/// concurrently), so a reporter needs no locking of its own; it must not block for long.
pub trait Reporter: Send {
    fn event(&mut self, event: &Event<'_>);
}

/// Hands each event to every reporter, in order.
pub(crate) struct Emitter(Mutex<Vec<Box<dyn Reporter>>>);

impl Emitter {
    pub(crate) fn new(reporters: Vec<Box<dyn Reporter>>) -> Emitter {
        Emitter(Mutex::new(reporters))
    }

    pub(crate) fn emit(&self, event: Event<'_>) {
        let mut rs = match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        for r in rs.iter_mut() {
            r.event(&event);
        }
    }
}
