//! The writer thread: encodes, hashes, signs and writes; the caller only
//! queues events.

use std::fs::File;
use std::io::Write;
use std::num::NonZeroU64;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use airssys_wasm_core::AuditEvent;
use serde_json::{Map, Value as Json};

use super::head::Head;
use super::{FORMAT, checkpoint, record_hash};
use crate::signing::KeyPair;

/// The most encoded lines held before they are written.
const BATCH_BYTES: usize = 256 * 1024;

pub(super) enum Msg {
    /// An event, encoded by the writer thread: the caller only queues it.
    Line(Box<AuditEvent>),
    Flush(SyncSender<Result<(), String>>),
}

/// The checkpoint side of the writer (present with a signing key).
pub(super) struct Signer {
    pub key: KeyPair,
    pub every: Option<NonZeroU64>,
    pub interval: Option<Duration>,
    /// Events written since the last checkpoint.
    pub since: u64,
    /// When the last checkpoint was written (or the log opened).
    pub last: Instant,
    /// Whether the log ends with a closing checkpoint.
    pub closed: bool,
}

pub(super) struct Writer {
    pub counts: std::sync::Arc<super::Counts>,
    pub file: File,
    pub head: PathBuf,
    pub seq: u64,
    pub prev: String,
    pub key: Option<[u8; 32]>,
    pub signer: Option<Signer>,
    /// Lines encoded but not yet written: a batch goes out in one write,
    /// right before the head that names its end.
    pub pending: Vec<u8>,
}

impl Writer {
    /// Runs until every sender is gone, then closes the log: a closing
    /// checkpoint (with a signing key) and a synced head. Returns the first
    /// failure, which also fails every later flush.
    pub fn run(mut self, rx: Receiver<Msg>) -> Result<(), String> {
        let mut failed: Option<String> = None;
        loop {
            let first = match self.wait() {
                Some(timeout) => match rx.recv_timeout(timeout) {
                    Ok(msg) => Some(msg),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                },
                None => match rx.recv() {
                    Ok(msg) => Some(msg),
                    Err(_) => break,
                },
            };
            // Encode everything already queued, then write it and the head once.
            let mut next = first;
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Line(event) => {
                        if failed.is_none() {
                            failed = self.event(&event).err();
                        }
                        self.counts
                            .written
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        // Under a steady stream the queue never drains: write
                        // (and checkpoint by time) in bounded batches anyway.
                        if failed.is_none() && self.pending.len() >= BATCH_BYTES {
                            if self.checkpoint_due() {
                                self.checkpoint(false);
                            }
                            failed = self.commit(false).err();
                        }
                    }
                    Msg::Flush(done) => {
                        let r = match &failed {
                            Some(e) => Err(e.clone()),
                            None => self.commit(true),
                        };
                        if let Err(e) = &r {
                            failed.get_or_insert_with(|| e.clone());
                        }
                        let _ = done.send(r);
                    }
                }
                next = rx.try_recv().ok();
            }
            if failed.is_none() && self.checkpoint_due() {
                self.checkpoint(false);
            }
            if failed.is_none() && !self.pending.is_empty() {
                failed = self.commit(false).err();
            }
        }
        match failed {
            Some(e) => Err(e),
            None => self.close(),
        }
    }

    /// How long to wait for the next event before a checkpoint is due by
    /// time; `None` when none can be.
    fn wait(&self) -> Option<Duration> {
        let s = self.signer.as_ref()?;
        let interval = s.interval?;
        (s.since > 0).then(|| interval.saturating_sub(s.last.elapsed()))
    }

    fn checkpoint_due(&self) -> bool {
        self.signer.as_ref().is_some_and(|s| {
            s.since > 0
                && (s.every.is_some_and(|n| s.since >= n.get())
                    || s.interval.is_some_and(|t| s.last.elapsed() >= t))
        })
    }

    fn event(&mut self, event: &AuditEvent) -> Result<(), String> {
        let json = serde_json::to_value(event).map_err(|e| format!("encoding an event: {e}"))?;
        let Json::Object(mut body) = json else {
            return Err("an audit event did not encode as an object".into());
        };
        body.insert("v".into(), Json::from(FORMAT));
        body.insert("seq".into(), Json::from(self.seq + 1));
        body.insert("prev".into(), Json::from(self.prev.clone()));
        self.push(body)?;
        if let Some(s) = &mut self.signer {
            s.since += 1;
            s.closed = false;
        }
        // The count is exact: the checkpoint goes out in the same write as
        // the event that makes it due.
        if self
            .signer
            .as_ref()
            .is_some_and(|s| s.every.is_some_and(|n| s.since >= n.get()))
        {
            self.checkpoint(false);
        }
        Ok(())
    }

    /// Appends a signed checkpoint (a no-op without a signing key).
    pub fn checkpoint(&mut self, closing: bool) {
        let Some(s) = &self.signer else {
            return;
        };
        let every = s.every.map(NonZeroU64::get);
        let body = checkpoint::build(self.seq + 1, &self.prev, &s.key, every, closing);
        self.push(body).expect("a checkpoint always encodes");
        if let Some(s) = &mut self.signer {
            s.since = 0;
            s.last = Instant::now();
            s.closed = closing;
        }
    }

    /// Hashes a line's body (which has `seq` and `prev`), adds it to the
    /// pending batch and moves the chain on.
    fn push(&mut self, mut body: Map<String, Json>) -> Result<(), String> {
        let hash = record_hash(&body, self.key.as_ref());
        body.insert("hash".into(), Json::from(hash.clone()));
        serde_json::to_writer(&mut self.pending, &body).map_err(|e| e.to_string())?;
        self.pending.push(b'\n');
        self.seq += 1;
        self.prev = hash;
        Ok(())
    }

    /// Writes the pending lines and then the head naming their end. The
    /// head is prepared first, so only a rename separates the two writes: a
    /// process killed in between is the one way to leave a stale head. With
    /// `sync`, both are on disk before this returns.
    pub fn commit(&mut self, sync: bool) -> Result<(), String> {
        let head = Head::new(
            self.seq,
            &self.prev,
            self.key.as_ref(),
            self.signer.as_ref().map(|s| &s.key),
        );
        let tmp = self.head.with_extension("head.tmp");
        let head_error = |e: std::io::Error| format!("writing {}: {e}", self.head.display());
        {
            let mut f = File::create(&tmp).map_err(head_error)?;
            f.write_all(&serde_json::to_vec(&head).map_err(|e| e.to_string())?)
                .map_err(head_error)?;
            if sync {
                f.sync_all().map_err(head_error)?;
            }
        }
        self.file
            .write_all(&self.pending)
            .map_err(|e| format!("writing the audit log: {e}"))?;
        self.pending.clear();
        std::fs::rename(&tmp, &self.head).map_err(head_error)?;
        if sync {
            self.file
                .sync_data()
                .map_err(|e| format!("syncing the audit log: {e}"))?;
            if let Some(dir) = self.head.parent().filter(|d| !d.as_os_str().is_empty()) {
                // The rename is durable once the directory is synced; not
                // every platform can open a directory for that.
                if let Ok(d) = File::open(dir) {
                    let _ = d.sync_all();
                }
            }
        }
        Ok(())
    }

    /// Ends the log: a closing checkpoint unless it already ends with one,
    /// and a synced head.
    fn close(mut self) -> Result<(), String> {
        if self.signer.as_ref().is_some_and(|s| !s.closed) {
            self.checkpoint(true);
        }
        self.commit(true)
    }
}
