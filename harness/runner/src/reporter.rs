//! Reporters: consumers of [`Event`]s. The progress bar follows the cases as they finish; the
//! terminal, JSON, JUnit, Markdown and HTML reporters write their document when the run
//! finishes (their renderings are the pure functions of `crate::output`, `crate::markdown`,
//! `crate::html` and `RunReport::to_json`); [`WithChanges`] adds the comparison with a
//! previous run to the report those reporters see.

use crate::compare::{Changes, PreviousReport};
use crate::event::{Event, Reporter};
use crate::html::to_html;
use crate::markdown::to_markdown;
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
    /// GitHub-flavoured Markdown for a pull-request comment or a job summary.
    Markdown { strict: bool },
    /// One self-contained HTML page.
    Html { strict: bool },
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
            Document::Markdown { strict } => Ok(to_markdown(report, strict)),
            Document::Html { strict } => Ok(to_html(report, strict)),
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

/// Hands every event to `inner`, the finished report with its [`Changes`] since `previous`
/// (the runner itself knows nothing of earlier runs).
pub struct WithChanges {
    previous: PreviousReport,
    inner: Vec<Box<dyn Reporter>>,
}

impl WithChanges {
    pub fn new(previous: PreviousReport, inner: Vec<Box<dyn Reporter>>) -> WithChanges {
        WithChanges { previous, inner }
    }
}

impl Reporter for WithChanges {
    fn event(&mut self, event: &Event<'_>) {
        let compared;
        let event = match event {
            Event::RunFinished { report } => {
                let mut r = (*report).clone();
                r.changes = Some(Changes::between(&self.previous, &r.cases));
                compared = r;
                Event::RunFinished { report: &compared }
            }
            other => *other,
        };
        for r in &mut self.inner {
            r.event(&event);
        }
    }
}
