//! Verifying a chained log, and reading it back.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use airssys_wasm_core::AuditEvent;
use serde_json::{Map, Value as Json};

use super::checkpoint::{self, Checkpoint};
use super::head::{Head, head_path};
use super::{FORMAT, GENESIS, record_hash};
use crate::signing::hex;

/// What [`verify_with`] checks besides the chain itself.
#[derive(Clone, Default)]
pub struct VerifyOptions {
    /// The chain key the log was written with (`ChainConfig::key`): line
    /// hashes and the head's MAC are checked with it.
    pub key: Option<[u8; 32]>,
    /// The public half of the signing key (`ChainConfig::signing_key`):
    /// every checkpoint and the head must carry a valid signature by it.
    pub public_key: Option<[u8; 32]>,
    /// Accept a log whose head file is missing. This gives up detecting
    /// records cut off the end of the log (with a public key, cuts after
    /// the last checkpoint); [`VerifyReport::head`] says it was accepted.
    pub allow_missing_head: bool,
    /// Fail unless the log ends with a closing checkpoint: for the log of
    /// a writer known to have finished (a signed log only).
    pub require_closed: bool,
}

impl std::fmt::Debug for VerifyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyOptions")
            .field("key", &self.key.map(|_| "<secret>"))
            .field("public_key", &self.public_key.map(|k| hex(&k)))
            .field("allow_missing_head", &self.allow_missing_head)
            .field("require_closed", &self.require_closed)
            .finish()
    }
}

/// How the end of a good log was established.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadState {
    /// The head file names the last line, and its MAC and signature hold
    /// as far as the options could check them.
    Current,
    /// There was no head file and [`VerifyOptions::allow_missing_head`]
    /// accepted that: records cut off the end would not have been noticed.
    MissingAccepted,
}

/// What [`verify`] found in a good log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// How many lines (records) the log holds, checkpoints included.
    pub records: u64,
    /// How many of them are checkpoints.
    pub checkpoints: u64,
    /// How the end of the log was established.
    pub head: HeadState,
    /// Whether the head's MAC was checked (a chain key was given and the
    /// head carries one; a log written before head MACs has none).
    pub head_mac: bool,
    /// Whether checkpoint and head signatures were checked (a public key
    /// was given).
    pub signatures_checked: bool,
    /// The last checkpoint.
    pub last_checkpoint: Option<Checkpoint>,
    /// Records after the last checkpoint (all records when there is none):
    /// no checkpoint signature covers them; only the head's does.
    pub after_last_checkpoint: u64,
    /// Whether the log ends with a closing checkpoint (its writer closed it
    /// and nothing was written after).
    pub closed: bool,
    /// The last sequence number and hash.
    pub(super) last: (u64, String),
}

/// Why a log does not verify; [`VerifyError::line`] names the first bad line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The log file does not exist, nor does its head: it was never written.
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
    /// The log file is gone but its head file is there.
    #[error(
        "the log file is missing but its head file names {head} records: the log was deleted or moved"
    )]
    Deleted {
        /// Records the head file names.
        head: u64,
    },
    /// The head file is missing, so the end of the log cannot be checked.
    #[error(
        "the head file is missing: records cut off the end of the log ({records} records now) would go unnoticed"
    )]
    HeadMissing {
        /// Records in the log.
        records: u64,
    },
    /// The head file names an earlier record than the log's last.
    #[error(
        "stale head: the head file names record {head} but the log has {records}; an older head was put back after the log was cut, or the writer was killed between writing records and the head"
    )]
    StaleHead {
        /// The record the head file names.
        head: u64,
        /// Records in the log.
        records: u64,
    },
    /// The head file is not what the log's writer wrote.
    #[error("the head file: {0}")]
    Head(String),
    /// A public key was given but nothing in the log is signed.
    #[error(
        "nothing in the log is signed: it has no checkpoint and no head (it was not written with a signing key)"
    )]
    Unsigned,
    /// [`VerifyOptions::require_closed`] and the log does not end with a
    /// closing checkpoint.
    #[error(
        "the log does not end with a closing checkpoint ({after} records after the last one): its writer is still running or was killed, or the log and its head were put back to an earlier state"
    )]
    NotClosed {
        /// Records after the last checkpoint.
        after: u64,
    },
}

impl VerifyError {
    /// The first bad line, when one is to blame.
    pub fn line(&self) -> Option<u64> {
        match self {
            Self::BadLine { line, .. } => Some(*line),
            Self::Truncated { found, .. } => Some(found + 1),
            Self::StaleHead { head, .. } => Some(head + 1),
            _ => None,
        }
    }
}

/// Checks a chained log with default [`VerifyOptions`] and `key`: every
/// line's hash, sequence and link, and its end against the head file, which
/// must be present and name the last line.
pub fn verify(path: &Path, key: Option<&[u8; 32]>) -> Result<VerifyReport, VerifyError> {
    verify_with(
        path,
        &VerifyOptions {
            key: key.copied(),
            ..VerifyOptions::default()
        },
    )
}

/// What the lines of a log say, read in order.
struct Walk {
    n: u64,
    prev: String,
    checkpoints: u64,
    last_checkpoint: Option<Checkpoint>,
    after: u64,
    /// Whether the last line was written in the current format (one whose
    /// writer also MACs the head).
    last_current: bool,
}

impl Walk {
    fn line(&mut self, line: &str, options: &VerifyOptions) -> Result<(), String> {
        let n = self.n;
        let Ok(Json::Object(mut body)) = serde_json::from_str::<Json>(line) else {
            return Err("not a JSON object".into());
        };
        let Some(Json::String(hash)) = body.remove("hash") else {
            return Err("no `hash` field".into());
        };
        match body.get("seq").and_then(Json::as_u64) {
            Some(seq) if seq == n => {}
            Some(seq) => {
                return Err(format!(
                    "sequence number {seq} where {n} was expected (a line was deleted, inserted or moved)"
                ));
            }
            None => return Err("no `seq` field".into()),
        }
        match body.get("prev").and_then(Json::as_str) {
            Some(p) if p == self.prev => {}
            Some(_) => {
                return Err(
                    "`prev` does not match the hash of the line before (a line was deleted, inserted or moved)"
                        .into(),
                );
            }
            None => return Err("no `prev` field".into()),
        }
        if record_hash(&body, options.key.as_ref()) != hash {
            return Err(
                "the hash does not match the contents (the line was edited, or the key is wrong)"
                    .into(),
            );
        }
        self.last_current = match body.get("v") {
            None => false,
            Some(v) if v.as_u64() == Some(FORMAT) => true,
            Some(v) => return Err(format!("format version {v} is not supported")),
        };
        if body.contains_key("checkpoint") {
            self.checkpoint(&body, options)?;
        } else {
            self.event(body)?;
        }
        self.prev = hash;
        Ok(())
    }

    fn checkpoint(
        &mut self,
        body: &Map<String, Json>,
        options: &VerifyOptions,
    ) -> Result<(), String> {
        let cp = checkpoint::parse(body)?;
        if let Some(public) = &options.public_key {
            checkpoint::check_signature(body, &cp, public)?;
        }
        self.checkpoints += 1;
        self.after = 0;
        self.last_checkpoint = Some(cp);
        Ok(())
    }

    fn event(&mut self, body: Map<String, Json>) -> Result<(), String> {
        if serde_json::from_value::<AuditEvent>(Json::Object(body)).is_err() {
            return Err("not an audit event".into());
        }
        self.after += 1;
        if let Some(cp) = &self.last_checkpoint
            && let Some(every) = cp.every
            && self.after > every
        {
            return Err(format!(
                "{} records after the checkpoint at line {}, which promised another within {every}: a checkpoint was removed",
                self.after, cp.seq
            ));
        }
        Ok(())
    }
}

/// Checks a chained log: every line's hash, sequence and link; every
/// checkpoint's signature (with a public key); and the end of the log
/// against the head file, which must name the last line and carry a valid
/// MAC (with a chain key) and signature (with a public key).
pub fn verify_with(path: &Path, options: &VerifyOptions) -> Result<VerifyReport, VerifyError> {
    let head = Head::read(&head_path(path))?;
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(match head {
                Some(head) => VerifyError::Deleted { head: head.seq },
                None => VerifyError::Missing,
            });
        }
        Err(e) => return Err(VerifyError::Io(e.to_string())),
    };
    let mut walk = Walk {
        n: 0,
        prev: GENESIS.to_owned(),
        checkpoints: 0,
        last_checkpoint: None,
        after: 0,
        last_current: false,
    };
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| VerifyError::Io(e.to_string()))?;
        walk.n += 1;
        walk.line(&line, options)
            .map_err(|problem| VerifyError::BadLine {
                line: walk.n,
                problem,
            })?;
    }
    let n = walk.n;
    let (state, head_mac) = match head {
        None if options.allow_missing_head => (HeadState::MissingAccepted, false),
        None => return Err(VerifyError::HeadMissing { records: n }),
        Some(head) => (HeadState::Current, check_head(&head, &walk, options)?),
    };
    let closed = walk.after == 0 && walk.last_checkpoint.as_ref().is_some_and(|c| c.closing);
    if options.public_key.is_some() && state == HeadState::MissingAccepted && walk.checkpoints == 0
    {
        return Err(VerifyError::Unsigned);
    }
    if options.require_closed && !closed {
        return Err(VerifyError::NotClosed { after: walk.after });
    }
    Ok(VerifyReport {
        records: n,
        checkpoints: walk.checkpoints,
        head: state,
        head_mac,
        signatures_checked: options.public_key.is_some(),
        last_checkpoint: walk.last_checkpoint,
        after_last_checkpoint: walk.after,
        closed,
        last: (n, walk.prev),
    })
}

/// Checks that the head names the last line and is authenticated as far as
/// the options allow; returns whether a MAC was checked.
fn check_head(head: &Head, walk: &Walk, options: &VerifyOptions) -> Result<bool, VerifyError> {
    let n = walk.n;
    if head.seq > n {
        return Err(VerifyError::Truncated {
            expected: head.seq,
            found: n,
        });
    }
    if head.seq < n {
        return Err(VerifyError::StaleHead {
            head: head.seq,
            records: n,
        });
    }
    if head.hash != walk.prev {
        return Err(if n == 0 {
            VerifyError::Head("it names a record, but the log is empty".into())
        } else {
            VerifyError::BadLine {
                line: n,
                problem: "the last line differs from the one the head file names".into(),
            }
        });
    }
    let mut head_mac = false;
    if let Some(key) = &options.key {
        head_mac = head.check_mac(key).map_err(VerifyError::Head)?;
        // A log whose last line predates head MACs may have a head without
        // one; any log its writer touched since has both.
        if !head_mac && (walk.last_current || n == 0) {
            return Err(VerifyError::Head(
                "it carries no MAC though the log is keyed (it was written without the chain key)"
                    .into(),
            ));
        }
    }
    match &options.public_key {
        Some(public) => head.check_signature(public).map_err(VerifyError::Head)?,
        None if walk.checkpoints > 0 && head.signature.is_none() => {
            return Err(VerifyError::Head(
                "it is not signed though the log has signed checkpoints (it was written without the signing key)"
                    .into(),
            ));
        }
        None => {}
    }
    Ok(head_mac)
}

/// One record of a chained log.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    /// An audit event.
    Event(Box<AuditEvent>),
    /// A signed checkpoint.
    Checkpoint(Box<Checkpoint>),
}

/// Reads the records of a log (chain fields left out), for display. Nothing
/// is verified: use [`verify_with`] for that.
pub fn read_records(path: &Path) -> Result<Vec<(u64, Entry)>, VerifyError> {
    let file = File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => VerifyError::Missing,
        _ => VerifyError::Io(e.to_string()),
    })?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let n = i as u64 + 1;
        let line = line.map_err(|e| VerifyError::Io(e.to_string()))?;
        let bad = |problem: String| VerifyError::BadLine { line: n, problem };
        let Ok(Json::Object(mut body)) = serde_json::from_str::<Json>(&line) else {
            return Err(bad("not a JSON object".into()));
        };
        body.remove("hash");
        let entry = if body.contains_key("checkpoint") {
            Entry::Checkpoint(Box::new(checkpoint::parse(&body).map_err(bad)?))
        } else {
            let event: AuditEvent =
                serde_json::from_value(Json::Object(body)).map_err(|e| bad(e.to_string()))?;
            Entry::Event(Box::new(event))
        };
        out.push((n, entry));
    }
    Ok(out)
}

/// Reads the events of a log (chain fields and checkpoints left out), for
/// display.
pub fn read_events(path: &Path) -> Result<Vec<(u64, AuditEvent)>, VerifyError> {
    Ok(read_records(path)?
        .into_iter()
        .filter_map(|(n, entry)| match entry {
            Entry::Event(e) => Some((n, *e)),
            Entry::Checkpoint(_) => None,
        })
        .collect())
}
