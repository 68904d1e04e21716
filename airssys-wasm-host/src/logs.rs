//! The components' log records (`airssys:host/logging`), kept for `logs`,
//! and the host's audit sink, which counts what the metrics show before the
//! chained log records it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use airssys_wasm::{AuditError, AuditEvent, AuditKind, AuditSink, ChainedLog, LifecycleStep};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

use crate::api::{LogRecord, Logs};
use crate::metrics::{Denial, Labels, Metrics};

/// The most records a host keeps (the oldest go first).
const KEPT: usize = 10_000;

/// The guests' log records of one host, newest last. Its [`LogBook::layer`]
/// fills it from `tracing`.
#[derive(Default)]
pub struct LogBook {
    inner: Mutex<Book>,
}

#[derive(Default)]
struct Book {
    next: u64,
    records: VecDeque<(String, LogRecord)>,
}

impl std::fmt::Debug for LogBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogBook").finish_non_exhaustive()
    }
}

impl LogBook {
    /// An empty book.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A `tracing` layer that keeps every guest record (target
    /// `airssys_wasm::guest`) in this book.
    pub fn layer(self: &Arc<Self>) -> LogLayer {
        LogLayer(self.clone())
    }

    /// Keeps a record of `component` (`tenant/name@version`).
    pub fn push(&self, component: &str, level: &str, message: String) {
        let (deployment, version) = split_label(component);
        let mut book = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let seq = book.next;
        book.next += 1;
        if book.records.len() == KEPT {
            book.records.pop_front();
        }
        book.records.push_back((
            deployment.to_owned(),
            LogRecord {
                seq,
                time: humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string(),
                version: version.to_owned(),
                level: level.to_owned(),
                message,
            },
        ));
    }

    /// The records of `deployment` from `since` (or its last `limit`).
    pub fn records(&self, deployment: &str, since: Option<u64>, limit: usize) -> Logs {
        let book = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mine = book
            .records
            .iter()
            .filter(|(d, r)| d == deployment && since.is_none_or(|s| r.seq >= s))
            .map(|(_, r)| r);
        let records: Vec<LogRecord> = match since {
            Some(_) => mine.take(limit).cloned().collect(),
            None => {
                let all: Vec<&LogRecord> = mine.collect();
                all[all.len().saturating_sub(limit)..]
                    .iter()
                    .map(|r| (*r).clone())
                    .collect()
            }
        };
        let next = records
            .last()
            .map_or(since.unwrap_or(book.next), |r| r.seq + 1);
        Logs { records, next }
    }
}

/// `tenant/name@version` → (`tenant/name`, `version`).
pub(crate) fn split_label(label: &str) -> (&str, &str) {
    label.rsplit_once('@').unwrap_or((label, ""))
}

/// The layer of [`LogBook::layer`].
pub struct LogLayer(Arc<LogBook>);

impl std::fmt::Debug for LogLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("LogLayer").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Fields {
    component: String,
    message: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "component" => self.component = format!("{value:?}"),
            "message" => self.message = format!("{value:?}"),
            _ => {}
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "component" => self.component = value.to_owned(),
            "message" => self.message = value.to_owned(),
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for LogLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        if meta.target() != "airssys_wasm::guest" {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let level = meta.level().as_str().to_ascii_lowercase();
        self.0.push(&fields.component, &level, fields.message);
    }
}

/// The runtime's audit sink in a host: counts denials and restarts of
/// deployed versions, then hands every event to the chained log.
pub(crate) struct HostAudit {
    pub(crate) log: Arc<ChainedLog>,
    pub(crate) metrics: Arc<Metrics>,
}

impl HostAudit {
    /// The labels of a deployed version's audit label, `None` for a
    /// component the host does not serve.
    fn labels_of(&self, component: &str) -> Option<Labels> {
        let (deployment, version) = split_label(component);
        self.metrics.known(deployment).then(|| Labels {
            deployment: deployment.to_owned(),
            version: version.to_owned(),
        })
    }
}

impl AuditSink for HostAudit {
    fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        // Only denials and restarts are counted, and only they look up
        // whose they are: every call's events pass straight through.
        match &event.kind {
            AuditKind::CapabilityDenied { request, .. } => {
                if let Some(labels) = self.labels_of(&event.component) {
                    let denial = Denial {
                        time: humantime::format_rfc3339_micros(event.time).to_string(),
                        component: event.component.to_string(),
                        request: airssys_wasm::audit::Escaped(request).to_string(),
                    };
                    self.metrics.denied(&labels, denial);
                }
            }
            AuditKind::Lifecycle {
                step: LifecycleStep::Restarted,
                ..
            } => {
                if let Some(labels) = self.labels_of(&event.component) {
                    self.metrics.restarted(&labels);
                }
            }
            _ => {}
        }
        self.log.record(event)
    }

    fn records_calls(&self) -> bool {
        self.log.records_calls()
    }

    fn flush(&self) -> Result<(), AuditError> {
        self.log.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_book_keeps_each_deployments_records_in_order() {
        let book = LogBook::new();
        book.push("app@1", "info", "one".into());
        book.push("t/other@2", "warn", "x".into());
        book.push("app@2", "error", "two".into());
        let all = book.records("app", None, 100);
        let said: Vec<_> = all
            .records
            .iter()
            .map(|r| (r.version.as_str(), r.message.as_str()))
            .collect();
        assert_eq!(said, [("1", "one"), ("2", "two")]);
        assert_eq!(all.next, 3);
        assert!(book.records("app", Some(3), 100).records.is_empty());
        assert_eq!(book.records("app", None, 1).records[0].message, "two");
        assert_eq!(
            book.records("t/other", Some(0), 10).records[0].level,
            "warn"
        );
    }
}
