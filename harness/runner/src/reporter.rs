//! Reporters: consumers of [`Event`]s. The progress bar follows the cases as they finish; the
//! terminal, JSON and JUnit reporters write their document when the run finishes (their
//! renderings are the pure functions of `crate::output` and `RunReport::to_json`).

use crate::event::{Event, Reporter};
use crate::output::{render_terminal, to_junit};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// A live progress bar on stderr: one tick per finished case, the root causes as they are
/// announced.
pub struct ProgressReporter {
    bar: Option<indicatif::ProgressBar>,
}

impl ProgressReporter {
    pub fn new() -> ProgressReporter {
        ProgressReporter { bar: None }
    }
}

impl Default for ProgressReporter {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter for ProgressReporter {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::RunStarted { cases, .. } => {
                let b = indicatif::ProgressBar::new(*cases as u64);
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
                ) {
                    b.set_style(style);
                }
                self.bar = Some(b);
            }
            Event::CaseStarted { .. } => {}
            Event::CaseFinished { case } => {
                if let Some(b) = &self.bar {
                    b.inc(1);
                    b.set_message(case.id.clone());
                }
            }
            Event::RootCause { cause } => {
                if let Some(b) = &self.bar {
                    b.println(format!(
                        "root cause [{}] {} ({} cases)",
                        cause.clause,
                        cause.key,
                        cause.cases.len()
                    ));
                }
            }
            Event::RunFinished { .. } => {
                if let Some(b) = self.bar.take() {
                    b.finish_and_clear();
                }
            }
        }
    }
}

/// The first write error a document reporter met (shared with whoever made the reporter, so
/// it can report the error after the run).
pub type WriteError = Arc<Mutex<Option<String>>>;

/// Which document a [`DocumentReporter`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// The terminal summary (root causes first, then the cases by section, then the closing
    /// line), with ANSI colours when `color`.
    Terminal { strict: bool, color: bool },
    /// The JSON report (`reports/report.schema.json`).
    Json,
    /// JUnit XML.
    Junit { strict: bool },
}

/// Writes one document to `out` when the run finishes.
pub struct DocumentReporter {
    document: Document,
    out: Box<dyn Write + Send>,
    error: WriteError,
}

impl DocumentReporter {
    /// A reporter and the slot where it leaves a write error.
    pub fn new(document: Document, out: Box<dyn Write + Send>) -> (DocumentReporter, WriteError) {
        let error = WriteError::default();
        (
            DocumentReporter {
                document,
                out,
                error: error.clone(),
            },
            error,
        )
    }
}

impl Reporter for DocumentReporter {
    fn event(&mut self, event: &Event<'_>) {
        let Event::RunFinished { report } = event else {
            return;
        };
        let text = match self.document {
            Document::Terminal { strict, color } => Ok(render_terminal(report, strict, color)),
            Document::Json => Ok(report.to_json()),
            Document::Junit { strict } => to_junit(report, strict),
        };
        let result = text.and_then(|t| {
            self.out
                .write_all(t.as_bytes())
                .and_then(|()| self.out.flush())
                .map_err(|e| e.to_string())
        });
        if let Err(e) = result {
            if let Ok(mut slot) = self.error.lock() {
                slot.get_or_insert(e);
            }
        }
    }
}
