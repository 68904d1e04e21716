//! A tamper-evident audit log: JSON lines chained by blake3 hashes.
//!
//! Each line is one [`AuditEvent`] plus three fields:
//!
//! - `seq`: 1, 2, 3, ... with no gaps;
//! - `prev`: the `hash` of the line before (64 zeros for the first);
//! - `hash`: blake3 of `prev` and the line's other fields (keyed blake3 when
//!   the log has a key).
//!
//! Editing a field breaks that line's `hash`; deleting, inserting or swapping
//! lines breaks `seq` and `prev`; cutting lines off the end disagrees with the
//! head file (`<log>.head`, rewritten atomically after every write) that
//! records the last sequence number and hash. Without a key, someone who can
//! rewrite the log AND its head file can forge a consistent history; with a
//! key (kept away from the log) they cannot. [`verify`] names the first bad
//! line.
//!
//! Encoding, hashing and writing happen on a writer thread fed by a bounded
//! queue, so the caller only pays for a channel send. When the queue is full the
//! [`FullPolicy`] decides: block the caller, or fail its operation — events
//! are never dropped silently. [`AuditSink::flush`] waits until every event
//! recorded before it is written and fsync'd; that is the acknowledgement a
//! caller can rely on after a crash. On open, an existing log is checked and
//! continued; a torn last line (from a crash mid-write) is cut off first.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use airssys_wasm_core::{AuditError, AuditEvent, AuditSink};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

/// What [`ChainedLog::record`] does when the writer's queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FullPolicy {
    /// Wait for room (the default): the guest's call is slowed, never
    /// unaudited.
    #[default]
    Block,
    /// Fail the operation that produced the event with an audit error.
    Fail,
}

/// Settings of a [`ChainedLog`].
#[derive(Clone, Debug)]
pub struct ChainConfig {
    /// Events that may wait for the writer. Default 4096.
    pub queue: usize,
    /// What to do when the queue is full.
    pub when_full: FullPolicy,
    /// Key for keyed blake3 hashes; `None` uses plain blake3.
    pub key: Option<[u8; 32]>,
}

impl Default for ChainConfig {
    fn default() -> Self {
        Self {
            queue: 4096,
            when_full: FullPolicy::Block,
            key: None,
        }
    }
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The head file: the last sequence number and hash written.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Head {
    seq: u64,
    hash: String,
}

fn head_path(log: &Path) -> PathBuf {
    let mut p = log.as_os_str().to_owned();
    p.push(".head");
    PathBuf::from(p)
}

enum Msg {
    /// An event, encoded by the writer thread: the caller only queues it.
    Line(Box<AuditEvent>),
    Flush(SyncSender<Result<(), String>>),
}

/// The chained JSON-lines audit sink.
pub struct ChainedLog {
    tx: Mutex<Option<SyncSender<Msg>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    when_full: FullPolicy,
    path: PathBuf,
}

impl ChainedLog {
    /// Opens (or creates) the log at `path` and continues its chain.
    ///
    /// Fails if the existing log does not verify: a broken history is not
    /// extended silently.
    pub fn open(path: impl AsRef<Path>, config: ChainConfig) -> Result<Self, AuditError> {
        let path = path.as_ref().to_owned();
        repair_torn_tail(&path)?;
        let state = match verify(&path, config.key.as_ref()) {
            Ok(report) => report.last,
            Err(VerifyError::Missing) => (0, GENESIS.to_owned()),
            Err(e) => {
                return Err(AuditError(format!(
                    "{}: the existing audit log does not verify ({e}); move it aside to start a new one",
                    path.display()
                )));
            }
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| AuditError(format!("opening {}: {e}", path.display())))?;
        let (tx, rx) = sync_channel(config.queue.max(1));
        let writer = Writer {
            out: BufWriter::new(file),
            head: head_path(&path),
            seq: state.0,
            prev: state.1,
            key: config.key,
        };
        let handle = std::thread::Builder::new()
            .name("airssys-wasm-audit".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| AuditError(format!("starting the audit writer: {e}")))?;
        Ok(Self {
            tx: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(handle)),
            when_full: config.when_full,
            path,
        })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sender(&self) -> Result<SyncSender<Msg>, AuditError> {
        self.tx
            .lock()
            .map_err(|_| AuditError("audit sender lock poisoned".into()))?
            .clone()
            .ok_or_else(|| AuditError("the audit log is closed".into()))
    }
}

impl AuditSink for ChainedLog {
    fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        let tx = self.sender()?;
        let line = Msg::Line(Box::new(event));
        match self.when_full {
            FullPolicy::Block => tx
                .send(line)
                .map_err(|_| AuditError("the audit writer stopped".into())),
            FullPolicy::Fail => tx.try_send(line).map_err(|e| match e {
                TrySendError::Full(_) => {
                    AuditError("the audit queue is full; the operation was refused".into())
                }
                TrySendError::Disconnected(_) => AuditError("the audit writer stopped".into()),
            }),
        }
    }

    fn flush(&self) -> Result<(), AuditError> {
        let (done_tx, done_rx) = sync_channel(1);
        self.sender()?
            .send(Msg::Flush(done_tx))
            .map_err(|_| AuditError("the audit writer stopped".into()))?;
        done_rx
            .recv()
            .map_err(|_| AuditError("the audit writer stopped".into()))?
            .map_err(AuditError)
    }
}

impl Drop for ChainedLog {
    fn drop(&mut self) {
        let _ = self.flush();
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        if let Ok(mut w) = self.writer.lock()
            && let Some(handle) = w.take()
        {
            let _ = handle.join();
        }
    }
}

struct Writer {
    out: BufWriter<File>,
    head: PathBuf,
    seq: u64,
    prev: String,
    key: Option<[u8; 32]>,
}

impl Writer {
    fn run(mut self, rx: Receiver<Msg>) {
        let mut failed: Option<String> = None;
        while let Ok(first) = rx.recv() {
            // Write everything already queued, then update the head once.
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Line(event) => {
                        if failed.is_none() {
                            failed = self.write(&event).err();
                        }
                    }
                    Msg::Flush(done) => {
                        let r = match &failed {
                            Some(e) => Err(e.clone()),
                            None => self.sync_head(true),
                        };
                        let _ = done.send(r);
                    }
                }
                next = rx.try_recv().ok();
            }
            if failed.is_none() {
                failed = self.sync_head(false).err();
            }
        }
    }

    fn write(&mut self, event: &AuditEvent) -> Result<(), String> {
        let json = serde_json::to_value(event).map_err(|e| format!("encoding an event: {e}"))?;
        let Json::Object(mut body) = json else {
            return Err("an audit event did not encode as an object".into());
        };
        self.seq += 1;
        body.insert("seq".into(), Json::from(self.seq));
        body.insert("prev".into(), Json::from(self.prev.clone()));
        let hash = record_hash(&body, self.key.as_ref());
        body.insert("hash".into(), Json::from(hash.clone()));
        let mut line = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
        line.push(b'\n');
        self.out
            .write_all(&line)
            .map_err(|e| format!("writing the audit log: {e}"))?;
        self.prev = hash;
        Ok(())
    }

    fn sync_head(&mut self, fsync: bool) -> Result<(), String> {
        self.out
            .flush()
            .map_err(|e| format!("writing the audit log: {e}"))?;
        if fsync {
            self.out
                .get_ref()
                .sync_data()
                .map_err(|e| format!("syncing the audit log: {e}"))?;
        }
        let head = Head {
            seq: self.seq,
            hash: self.prev.clone(),
        };
        let tmp = self.head.with_extension("head.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&head).map_err(|e| e.to_string())?)
            .and_then(|()| std::fs::rename(&tmp, &self.head))
            .map_err(|e| format!("writing {}: {e}", self.head.display()))
    }
}

/// blake3 over `prev` and the record's fields (without `hash`), in the
/// canonical order serde_json's map keeps (sorted keys).
fn record_hash(body: &Map<String, Json>, key: Option<&[u8; 32]>) -> String {
    let canonical = serde_json::to_vec(body).expect("a JSON map always encodes");
    let mut h = match key {
        Some(k) => blake3::Hasher::new_keyed(k),
        None => blake3::Hasher::new(),
    };
    h.update(&canonical);
    h.finalize().to_hex().to_string()
}

/// Cuts off a last line that lacks its newline: the trace of a crash in the
/// middle of a write. Such a line was never acknowledged.
fn repair_torn_tail(path: &Path) -> Result<(), AuditError> {
    let Ok(bytes) = std::fs::read(path) else {
        return Ok(());
    };
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| AuditError(format!("opening {}: {e}", path.display())))?;
    f.set_len(keep as u64).map_err(|e| {
        AuditError(format!(
            "cutting the torn last line of {}: {e}",
            path.display()
        ))
    })
}

/// What [`verify`] found in a good log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// How many records the log holds.
    pub records: u64,
    /// The last sequence number and hash.
    last: (u64, String),
}

/// Why a log does not verify; [`VerifyError::line`] names the first bad line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The log file does not exist.
    #[error("the audit log does not exist")]
    Missing,
    /// Reading failed.
    #[error("cannot read the audit log: {0}")]
    Io(String),
    /// A line is wrong.
    #[error("line {line}: {problem}")]
    BadLine {
        /// 1-based line number.
        line: u64,
        /// What is wrong with it.
        problem: String,
    },
    /// The log ends before the last record the head file names.
    #[error("truncated: the head file says {expected} records were written, the log has {found}")]
    Truncated {
        /// Records the head file names.
        expected: u64,
        /// Records in the log.
        found: u64,
    },
}

impl VerifyError {
    /// The first bad line, when one is to blame.
    pub fn line(&self) -> Option<u64> {
        match self {
            Self::BadLine { line, .. } => Some(*line),
            Self::Truncated { found, .. } => Some(found + 1),
            _ => None,
        }
    }
}

/// Checks a chained log: every line's hash, sequence and link, and the end
/// against the head file (when there is one).
pub fn verify(path: &Path, key: Option<&[u8; 32]>) -> Result<VerifyReport, VerifyError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(VerifyError::Missing),
        Err(e) => return Err(VerifyError::Io(e.to_string())),
    };
    let mut prev = GENESIS.to_owned();
    let mut n: u64 = 0;
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| VerifyError::Io(e.to_string()))?;
        n += 1;
        let bad = |problem: String| VerifyError::BadLine { line: n, problem };
        let Ok(Json::Object(mut body)) = serde_json::from_str::<Json>(&line) else {
            return Err(bad("not a JSON object".into()));
        };
        let Some(Json::String(hash)) = body.remove("hash") else {
            return Err(bad("no `hash` field".into()));
        };
        match body.get("seq").and_then(Json::as_u64) {
            Some(seq) if seq == n => {}
            Some(seq) => {
                return Err(bad(format!(
                    "sequence number {seq} where {n} was expected (a line was deleted, inserted or moved)"
                )));
            }
            None => return Err(bad("no `seq` field".into())),
        }
        match body.get("prev").and_then(Json::as_str) {
            Some(p) if p == prev => {}
            Some(_) => {
                return Err(bad(
                    "`prev` does not match the hash of the line before (a line was deleted, inserted or moved)"
                        .into(),
                ));
            }
            None => return Err(bad("no `prev` field".into())),
        }
        if record_hash(&body, key) != hash {
            return Err(bad(
                "the hash does not match the contents (the line was edited, or the key is wrong)"
                    .into(),
            ));
        }
        if serde_json::from_value::<AuditEvent>(Json::Object(body)).is_err() {
            return Err(bad("not an audit event".into()));
        }
        prev = hash;
    }
    if let Ok(head) = std::fs::read(head_path(path)) {
        let head: Head = serde_json::from_slice(&head)
            .map_err(|e| VerifyError::Io(format!("reading the head file: {e}")))?;
        if head.seq > n {
            return Err(VerifyError::Truncated {
                expected: head.seq,
                found: n,
            });
        }
        if head.seq == n && head.hash != prev {
            return Err(VerifyError::BadLine {
                line: n,
                problem: "the last line differs from the one the head file names".into(),
            });
        }
    }
    Ok(VerifyReport {
        records: n,
        last: (n, prev),
    })
}

/// Reads the events of a log (chain fields left out), for display.
pub fn read_events(path: &Path) -> Result<Vec<(u64, AuditEvent)>, VerifyError> {
    let file = File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => VerifyError::Missing,
        _ => VerifyError::Io(e.to_string()),
    })?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| VerifyError::Io(e.to_string()))?;
        let event: AuditEvent = serde_json::from_str(&line).map_err(|e| VerifyError::BadLine {
            line: i as u64 + 1,
            problem: e.to_string(),
        })?;
        out.push((i as u64 + 1, event));
    }
    Ok(out)
}
