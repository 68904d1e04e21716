//! A tamper-evident audit log: JSON lines chained by blake3 hashes, with an
//! authenticated end and optional signed checkpoints.
//!
//! Each line is one [`AuditEvent`] plus four fields:
//!
//! - `v`: the line format, 2 (lines written before it existed have none);
//! - `seq`: 1, 2, 3, ... with no gaps;
//! - `prev`: the `hash` of the line before (64 zeros for the first);
//! - `hash`: blake3 of `prev` and the line's other fields (keyed blake3 when
//!   the log has a chain key, [`ChainConfig::key`]).
//!
//! With a signing key ([`ChainConfig::signing_key`], an Ed25519 host key as
//! `airssys-wasm keygen` writes it) some lines are [`Checkpoint`]s instead:
//! part of the chain like any line, they carry a signature over the hash of
//! everything before them. The writer adds one every
//! [`Cadence::records`] events and after [`Cadence::interval`] (the defaults
//! are 1000 events and 60 seconds), when it reopens a log with records no
//! checkpoint covers (after a crash), and when the log is closed
//! ([`ChainedLog::close`], or drop): a cleanly closed log ends with a
//! closing checkpoint. A log is signed from its first line or not at all:
//! an unsigned log is not continued with a signing key, nor a signed one
//! without it.
//!
//! The head file (`<log>.head`), rewritten atomically after every batch of
//! lines, names the last line: its `seq` and `hash`, a MAC of both under a
//! key derived from the chain key (when there is one) and an Ed25519
//! signature of both (with a signing key).
//!
//! [`verify_with`] names the first bad line. What it detects, against
//! someone who can edit the log's files but holds neither key:
//!
//! - Always: an edited, deleted, inserted or moved line when the rest is
//!   left alone; a missing head file ([`VerifyOptions::allow_missing_head`]
//!   accepts that, and then a cut tail goes unnoticed); a head that names
//!   an earlier or later record than the log's last (a cut tail, unless the
//!   head was rewritten to match).
//! - No key: nothing more. Anyone can recompute the hashes, so rewriting
//!   the log and its head together forges any history; the head only
//!   catches accidental truncation.
//! - Chain key (`verify_with` given it): lines and heads cannot be forged,
//!   so a cut tail is caught unless an older genuine head file, copied
//!   earlier, is put back with the log cut to match it.
//! - Signing key (`verify_with` given its public key): the same, verifiable
//!   by anyone with the public key; without a chain key, records covered by
//!   a checkpoint or by the signed head cannot be changed, and removing a
//!   checkpoint breaks the next signature (and the cadence it promised).
//!   Putting back an older signed head with the log cut to match shows as a
//!   log that was not closed ([`VerifyReport::closed`];
//!   [`VerifyOptions::require_closed`] makes it a failure).
//!
//! No file-local scheme detects the log and its head being put back
//! together to a state they really had earlier (say, a copy taken at an
//! earlier clean close), or both being deleted: compare the last checkpoint
//! with a copy kept elsewhere for that. Old logs (no `v`, no MAC, no
//! checkpoints) still verify when their head is present and current; a
//! chain key then cannot authenticate the head of a log cut back to lines
//! written before head MACs existed.
//!
//! Encoding, hashing, signing and writing happen on a writer thread fed by
//! a bounded queue, so the caller only pays for a channel send. When the
//! queue is full the [`FullPolicy`] decides: block the caller, or fail its
//! operation — events are never dropped silently. [`AuditSink::flush`]
//! waits until every event recorded before it is written and fsync'd; that
//! is the acknowledgement a caller can rely on after a crash. On open, an
//! existing log is checked and continued; a torn last line (from a crash
//! mid-write) is cut off first. A log whose head is missing or stale is not
//! continued: the error says how to proceed.
//!
//! ```
//! use airssys_wasm_core::{AuditEvent, AuditKind, AuditSink};
//! use airssys_wasm_security::chain::{verify_with, VerifyOptions};
//! use airssys_wasm_security::signing::KeyPair;
//! use airssys_wasm_security::{ChainConfig, ChainedLog};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("audit.jsonl");
//! let host_key = KeyPair::from_seed([9; 32]);
//! let config = ChainConfig {
//!     key: Some([7; 32]),
//!     signing_key: Some(host_key.clone()),
//!     ..ChainConfig::default()
//! };
//! let log = ChainedLog::open(&path, config).unwrap();
//! log.record(AuditEvent::new("demo", AuditKind::Instantiated { instance: 1 })).unwrap();
//! log.close().unwrap();
//!
//! let options = VerifyOptions {
//!     key: Some([7; 32]),
//!     public_key: Some(host_key.public_key()),
//!     ..VerifyOptions::default()
//! };
//! let report = verify_with(&path, &options).unwrap();
//! assert_eq!((report.records, report.checkpoints), (2, 1));
//! assert!(report.closed);
//! ```

mod checkpoint;
mod head;
mod verify;
mod writer;

use std::fs::OpenOptions;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use airssys_wasm_core::{AuditError, AuditEvent, AuditSink};
use serde_json::{Map, Value as Json};

use crate::signing::KeyPair;
pub use checkpoint::Checkpoint;
use head::head_path;
pub use verify::{
    Entry, HeadState, VerifyError, VerifyOptions, VerifyReport, read_events, read_records, verify,
    verify_with,
};
use writer::{Msg, Signer, Writer};

/// The line format this writer produces (the `v` field).
const FORMAT: u64 = 2;

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

/// When the writer adds a signed checkpoint (with a signing key): after
/// `records` events since the last one, or once `interval` has passed
/// since it while some event is not yet covered — whichever comes first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cadence {
    /// Events between checkpoints. Default 1000. Each checkpoint records
    /// it, and [`verify_with`] fails a log that goes longer without one.
    pub records: Option<NonZeroU64>,
    /// Longest time an event waits for a checkpoint. Default 60 s.
    pub interval: Option<Duration>,
}

impl Default for Cadence {
    fn default() -> Self {
        Self {
            records: NonZeroU64::new(1000),
            interval: Some(Duration::from_secs(60)),
        }
    }
}

/// Settings of a [`ChainedLog`]. Its `Debug` form hides the keys' secrets.
#[derive(Clone)]
pub struct ChainConfig {
    /// Events that may wait for the writer. Default 4096.
    pub queue: usize,
    /// What to do when the queue is full.
    pub when_full: FullPolicy,
    /// Key for keyed blake3 hashes and the head's MAC; `None` uses plain
    /// blake3 and leaves the head unauthenticated.
    pub key: Option<[u8; 32]>,
    /// The host key that signs checkpoints and the head; `None` writes
    /// neither signature.
    pub signing_key: Option<KeyPair>,
    /// When checkpoints are written (with a signing key).
    pub checkpoints: Cadence,
}

impl Default for ChainConfig {
    fn default() -> Self {
        Self {
            queue: 4096,
            when_full: FullPolicy::Block,
            key: None,
            signing_key: None,
            checkpoints: Cadence::default(),
        }
    }
}

impl std::fmt::Debug for ChainConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainConfig")
            .field("queue", &self.queue)
            .field("when_full", &self.when_full)
            .field("key", &self.key.map(|_| "<secret>"))
            .field("signing_key", &self.signing_key)
            .field("checkpoints", &self.checkpoints)
            .finish()
    }
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chained JSON-lines audit sink.
pub struct ChainedLog {
    counts: Arc<Counts>,
    tx: Mutex<Option<SyncSender<Msg>>>,
    writer: Mutex<Option<JoinHandle<Result<(), String>>>>,
    when_full: FullPolicy,
    path: PathBuf,
}

impl ChainedLog {
    /// Opens (or creates) the log at `path` and continues its chain.
    ///
    /// Fails if the existing log does not verify with the config's keys
    /// (with a signing key, its head must be signed by it), if its head file
    /// is missing or stale, if its log file is gone while its head is there,
    /// or if it has signed checkpoints and `config` no signing key: a broken
    /// or weakened history is not extended silently.
    pub fn open(path: impl AsRef<Path>, config: ChainConfig) -> Result<Self, AuditError> {
        let path = path.as_ref().to_owned();
        if config.checkpoints.interval == Some(Duration::ZERO) {
            return Err(AuditError(
                "the checkpoint interval must be longer than zero".into(),
            ));
        }
        repair_torn_tail(&path)?;
        let options = VerifyOptions {
            key: config.key,
            public_key: config.signing_key.as_ref().map(KeyPair::public_key),
            ..VerifyOptions::default()
        };
        let found = match verify_with(&path, &options) {
            Ok(report) => Some(report),
            Err(VerifyError::Missing) => None,
            Err(e) => return Err(refusal(&path, &e, config.signing_key.is_some())),
        };
        if found.as_ref().is_some_and(|r| r.checkpoints > 0) && config.signing_key.is_none() {
            return Err(AuditError(format!(
                "{}: the log has signed checkpoints; continue it with its signing key (`ChainConfig::signing_key`, `run --audit-sign-key`) so it stays signed, or move it aside to start a new one",
                path.display()
            )));
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| AuditError(format!("opening {}: {e}", path.display())))?;
        let every = config.checkpoints.records;
        let signer = config.signing_key.map(|key| Signer {
            key,
            every,
            interval: config.checkpoints.interval,
            since: 0,
            last: Instant::now(),
            closed: found.as_ref().is_some_and(|r| r.closed),
        });
        let (seq, prev) = found
            .as_ref()
            .map_or((0, GENESIS.to_owned()), |r| r.last.clone());
        let counts = Arc::new(Counts::default());
        let mut writer = Writer {
            counts: counts.clone(),
            file,
            head: head_path(&path),
            seq,
            prev,
            key: config.key,
            signer,
            pending: Vec::new(),
        };
        // Sign what no checkpoint covers yet (a crash's tail, which the
        // verified head signature covered), and start a new cadence with a
        // checkpoint that promises it.
        if let Some(report) = &found
            && writer.signer.is_some()
        {
            let promised = report.last_checkpoint.as_ref().and_then(|c| c.every);
            if report.after_last_checkpoint > 0
                || (report.last_checkpoint.is_some() && promised != every.map(NonZeroU64::get))
            {
                writer.checkpoint(false);
            }
        }
        // The head goes out now, so a new or upgraded log verifies (and
        // carries its MAC and signature) even if nothing else is written.
        writer
            .commit(true)
            .map_err(|e| AuditError(format!("{}: {e}", path.display())))?;
        let (tx, rx) = sync_channel(config.queue.max(1));
        let handle = std::thread::Builder::new()
            .name("airssys-wasm-audit".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| AuditError(format!("starting the audit writer: {e}")))?;
        Ok(Self {
            counts,
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

    /// How many events wait for the writer, and how many it has written
    /// since the log was opened: for a host's metrics.
    pub fn stats(&self) -> ChainStats {
        let queued = self.counts.queued.load(Ordering::Relaxed);
        let written = self.counts.written.load(Ordering::Relaxed);
        ChainStats {
            queued: queued.saturating_sub(written),
            written,
        }
    }

    /// Closes the log: waits for every event recorded before, writes a
    /// closing checkpoint (with a signing key) and syncs the log and its
    /// head. Later records fail. Dropping the log does the same but cannot
    /// report a failure; closing twice is a no-op.
    pub fn close(&self) -> Result<(), AuditError> {
        let tx = self
            .tx
            .lock()
            .map_err(|_| AuditError("audit sender lock poisoned".into()))?
            .take();
        if tx.is_none() {
            return Ok(());
        }
        // The writer closes once every sender is gone, so an event queued by
        // a record call still in flight is written before the closing
        // checkpoint.
        drop(tx);
        let handle = self
            .writer
            .lock()
            .map_err(|_| AuditError("audit writer lock poisoned".into()))?
            .take();
        match handle.map(JoinHandle::join) {
            Some(Ok(result)) => result.map_err(AuditError),
            Some(Err(_)) => Err(AuditError("the audit writer panicked".into())),
            None => Ok(()),
        }
    }

    fn sender(&self) -> Result<SyncSender<Msg>, AuditError> {
        self.tx
            .lock()
            .map_err(|_| AuditError("audit sender lock poisoned".into()))?
            .clone()
            .ok_or_else(|| AuditError("the audit log is closed".into()))
    }
}

/// Why an existing log is not continued, and what to do.
fn refusal(path: &Path, e: &VerifyError, signing: bool) -> AuditError {
    let log = path.display();
    let head = head_path(path);
    let head = head.display();
    let next = match e {
        VerifyError::HeadMissing { .. } => format!(
            "restore {head}, or check the log with `airssys-wasm audit verify --allow-missing-head {log}` and move it aside to start a new one"
        ),
        VerifyError::StaleHead { .. } => format!(
            "if the host was killed, the records after the head were never acknowledged; check the log with `airssys-wasm audit verify {log}` and move it and {head} aside to start a new one"
        ),
        // An unsigned head cannot be told from one rewritten by someone
        // without the key, so a signing key never adopts an unsigned log.
        VerifyError::Head(problem) if signing && problem.starts_with("it is not signed") => {
            "a signing key signs a log from its first line: continue this one without a signing key, or move it aside to start a signed one".into()
        }
        VerifyError::Deleted { .. } => {
            format!("restore the log, or move {head} aside to start a new one")
        }
        _ => "move it aside to start a new one".into(),
    };
    AuditError(format!(
        "{log}: the existing audit log does not verify ({e}); {next}"
    ))
}

/// What [`ChainedLog::stats`] says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChainStats {
    /// Events queued and not yet written.
    pub queued: u64,
    /// Events written (encoded into the log; durable at the next commit,
    /// within a batch or a flush).
    pub written: u64,
}

/// Counters the caller and the writer share.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    /// Events handed to the queue.
    pub(crate) queued: AtomicU64,
    /// Events the writer has encoded.
    pub(crate) written: AtomicU64,
}

impl AuditSink for ChainedLog {
    fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        let tx = self.sender()?;
        let line = Msg::Line(Box::new(event));
        self.counts.queued.fetch_add(1, Ordering::Relaxed);
        let sent = match self.when_full {
            FullPolicy::Block => tx
                .send(line)
                .map_err(|_| AuditError("the audit writer stopped".into())),
            FullPolicy::Fail => tx.try_send(line).map_err(|e| match e {
                TrySendError::Full(_) => {
                    AuditError("the audit queue is full; the operation was refused".into())
                }
                TrySendError::Disconnected(_) => AuditError("the audit writer stopped".into()),
            }),
        };
        if sent.is_err() {
            self.counts.queued.fetch_sub(1, Ordering::Relaxed);
        }
        sent
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
        let _ = self.close();
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
