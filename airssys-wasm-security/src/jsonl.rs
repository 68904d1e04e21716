//! An audit sink that appends one JSON object per line to a file.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;

use airssys_wasm_core::{AuditError, AuditEvent, AuditSink};

/// Appends each event as one JSON line and flushes it before returning, so
/// an event the caller saw recorded is in the file (in the OS's hands) even
/// if the host crashes right after. Not tamper-evident: anyone who can write
/// the file can edit it unnoticed.
///
/// ```
/// use airssys_wasm_core::{AuditEvent, AuditKind, AuditSink};
/// use airssys_wasm_security::JsonLinesSink;
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("audit.jsonl");
/// let sink = JsonLinesSink::open(&path).unwrap();
/// sink.record(AuditEvent::new("demo", AuditKind::Instantiated { instance: 1 })).unwrap();
/// let text = std::fs::read_to_string(&path).unwrap();
/// assert!(text.contains(r#""event":"instantiated""#));
/// ```
pub struct JsonLinesSink {
    out: Mutex<BufWriter<File>>,
}

impl JsonLinesSink {
    /// Opens (creating or appending to) the file at `path`.
    pub fn open(path: impl AsRef<Path>) -> std::io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path.as_ref())?;
        Ok(Self {
            out: Mutex::new(BufWriter::new(file)),
        })
    }
}

impl AuditSink for JsonLinesSink {
    fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        let mut line =
            serde_json::to_vec(&event).map_err(|e| AuditError(format!("encoding event: {e}")))?;
        line.push(b'\n');
        let mut out = self
            .out
            .lock()
            .map_err(|_| AuditError("audit file lock poisoned".into()))?;
        out.write_all(&line)
            .and_then(|()| out.flush())
            .map_err(|e| AuditError(format!("writing audit file: {e}")))
    }

    fn flush(&self) -> Result<(), AuditError> {
        let mut out = self
            .out
            .lock()
            .map_err(|_| AuditError("audit file lock poisoned".into()))?;
        out.flush()
            .and_then(|()| out.get_ref().sync_data())
            .map_err(|e| AuditError(format!("syncing audit file: {e}")))
    }
}
