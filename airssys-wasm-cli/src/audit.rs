//! `airssys-wasm audit verify | show`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use airssys_wasm::audit::Escaped;
use airssys_wasm::security::VerifyError;
use airssys_wasm::security::chain::{
    Checkpoint, Entry, HeadState, VerifyOptions, VerifyReport, read_records, verify_with,
};
use airssys_wasm::security::signing::KeyPair;
use airssys_wasm::{AuditKind, Error, Result};

/// Arguments of `audit`.
#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Check a chained audit log: prints OK with the record count, or the first bad line.
    Verify {
        /// The log written by `run --audit FILE`.
        file: PathBuf,
        /// The chain key it was written with (`run --audit-key FILE`).
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// The public key (NAME.pub) of the host key that signed it (`run --audit-sign-key
        /// NAME.key`): every checkpoint and the head must carry its signature.
        #[arg(long, value_name = "FILE")]
        pubkey: Option<PathBuf>,
        /// Accept the log when FILE.head is missing. This gives up detecting records cut off
        /// the end of the log.
        #[arg(long)]
        allow_missing_head: bool,
        /// Fail unless the log ends with a closing checkpoint, as a signed log whose run has
        /// ended does.
        #[arg(long)]
        require_closed: bool,
    },
    /// Print a log's events readably, optionally filtered. Control characters in the events'
    /// text (a guest's request, error or name) are shown escaped, as \n or \u{1b}.
    Show {
        /// The log written by `run --audit FILE`.
        file: PathBuf,
        /// Only events of this component.
        #[arg(long)]
        component: Option<String>,
        /// Only refusals: denied capabilities, host limits, refused loads, refused cached
        /// artifacts and counts of suppressed refusals.
        #[arg(long)]
        denied: bool,
    },
    /// Print the latest records of a running host's audit log (`airssys-wasm host`).
    Tail(crate::ops::TailArgs),
}

fn io(file: &Path, e: VerifyError) -> Error {
    Error::Io {
        path: file.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    }
}

fn bad_key(file: &Path, what: &str) -> Error {
    Error::Io {
        path: file.display().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned()),
    }
}

fn read_text(file: &Path) -> Result<String> {
    Ok(String::from_utf8(crate::read_input(file)?).unwrap_or_default())
}

/// Reads a chain key: 64 hex digits (32 random bytes, e.g. from `openssl rand -hex 32`).
pub fn read_chain_key(file: &Path) -> Result<[u8; 32]> {
    KeyPair::public_from_hex(&read_text(file)?).ok_or_else(|| {
        bad_key(
            file,
            "not a chain key (64 hex digits, e.g. `openssl rand -hex 32`)",
        )
    })
}

/// Reads a secret key written by `keygen` (NAME.key).
pub fn read_signing_key(file: &Path) -> Result<KeyPair> {
    KeyPair::from_hex(&read_text(file)?).ok_or_else(|| {
        bad_key(
            file,
            "not a secret key (64 hex digits written by `airssys-wasm keygen` as NAME.key)",
        )
    })
}

/// Reads a public key written by `keygen` (NAME.pub).
fn read_public_key(file: &Path) -> Result<[u8; 32]> {
    KeyPair::public_from_hex(&read_text(file)?).ok_or_else(|| {
        bad_key(
            file,
            "not a public key (64 hex digits written by `airssys-wasm keygen` as NAME.pub)",
        )
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn audit(cmd: AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Verify {
            file,
            key,
            pubkey,
            allow_missing_head,
            require_closed,
        } => {
            let options = VerifyOptions {
                key: key.as_deref().map(read_chain_key).transpose()?,
                public_key: pubkey.as_deref().map(read_public_key).transpose()?,
                allow_missing_head,
                require_closed,
            };
            match verify_with(&file, &options) {
                Ok(report) => {
                    print_report(&file, &report, &options);
                    Ok(ExitCode::SUCCESS)
                }
                Err(e @ (VerifyError::Missing | VerifyError::Io(_))) => Err(io(&file, e)),
                Err(e) => {
                    println!("FAILED: {}: {}", file.display(), Escaped(&e));
                    if matches!(e, VerifyError::HeadMissing { .. }) {
                        println!(
                            "  (--allow-missing-head accepts a log without its head, giving up the detection of a cut tail)"
                        );
                    }
                    Ok(ExitCode::from(1))
                }
            }
        }
        AuditCommand::Tail(args) => Ok(crate::ops::audit_tail(args)),
        AuditCommand::Show {
            file,
            component,
            denied,
        } => {
            let records = read_records(&file).map_err(|e| io(&file, e))?;
            let filtered = component.is_some() || denied;
            // Every component the log names, for a filter that names none.
            let mut seen = std::collections::BTreeSet::new();
            let mut shown = 0usize;
            for (line, entry) in records {
                let e = match entry {
                    Entry::Event(e) => e,
                    Entry::Checkpoint(c) if !filtered => {
                        let time = humantime::format_rfc3339_millis(c.time);
                        println!(
                            "{line:>6} {time} {:<14} {}",
                            "(checkpoint)",
                            describe_checkpoint(&c)
                        );
                        continue;
                    }
                    Entry::Checkpoint(_) => continue,
                };
                if component.is_some() && !seen.contains(&*e.component) {
                    seen.insert(e.component.to_string());
                }
                if component.as_deref().is_some_and(|c| c != &*e.component) {
                    continue;
                }
                if denied
                    && !matches!(
                        e.kind,
                        AuditKind::CapabilityDenied { .. }
                            | AuditKind::HostLimit { .. }
                            | AuditKind::LoadRejected { .. }
                            | AuditKind::Suppressed { .. }
                            | AuditKind::CacheRefused { .. }
                    )
                {
                    continue;
                }
                let time = humantime::format_rfc3339_millis(e.time);
                // Whatever the log holds (a guest wrote much of it), one
                // event is one line of plain text.
                println!(
                    "{line:>6} {time} {:<14} {}",
                    Escaped(&*e.component),
                    Escaped(describe(&e.kind))
                );
                shown += 1;
            }
            if let Some(c) = &component
                && !seen.contains(c.as_str())
            {
                let names: Vec<&str> = seen.iter().map(String::as_str).collect();
                eprintln!(
                    "{}",
                    Escaped(format!(
                        "note: {} has no records of `{c}`{}; it has records of: {}",
                        file.display(),
                        airssys_wasm::core::did_you_mean(c, names.iter().copied()),
                        if names.is_empty() {
                            "no component".to_owned()
                        } else {
                            names.join(", ")
                        }
                    ))
                );
            } else if shown == 0 && denied {
                eprintln!("note: {} records no denials", Escaped(file.display()));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The lines after `OK:`: what the keys established, and what is not covered.
fn print_report(file: &Path, report: &VerifyReport, options: &VerifyOptions) {
    println!("OK: {} records, chain intact", report.records);
    if options.key.is_some() {
        if report.head_mac {
            println!("head: authenticated by the chain key");
        } else {
            println!("head: no MAC (the log's last line predates head MACs)");
        }
    }
    let head_missing = report.head == HeadState::MissingAccepted;
    if report.signatures_checked {
        let key = options.public_key.map(|k| hex(&k)).unwrap_or_default();
        let head = if head_missing { "" } else { " and the head" };
        println!(
            "signatures: {} checkpoints{head} verify with key {key}",
            report.checkpoints
        );
    } else if report.checkpoints > 0 {
        println!(
            "note: {} checkpoint signatures were not checked (give --pubkey NAME.pub)",
            report.checkpoints
        );
    }
    if report.checkpoints > 0 || report.signatures_checked {
        if let Some(c) = &report.last_checkpoint {
            println!(
                "last checkpoint: line {} at {}{}",
                c.seq,
                humantime::format_rfc3339_millis(c.time),
                if c.closing { " (closing)" } else { "" }
            );
        }
        if report.after_last_checkpoint > 0 {
            let by = if head_missing || !report.signatures_checked {
                "no signature"
            } else {
                "the head's signature only"
            };
            println!(
                "{} records after the last checkpoint are covered by {by}",
                report.after_last_checkpoint
            );
        }
        if !report.closed {
            println!(
                "WARNING: the log does not end with a closing checkpoint: its writer is still running or was killed, or the log and its head were put back to an earlier state"
            );
        }
    }
    if head_missing {
        println!(
            "WARNING: {}.head is missing; accepted because of --allow-missing-head: records cut off the end of the log are not detected",
            file.display()
        );
    }
}

fn describe_checkpoint(c: &Checkpoint) -> String {
    let key = hex(&c.key);
    format!(
        "signed checkpoint over lines 1-{} by key {}…{}",
        c.seq - 1,
        &key[..16],
        if c.closing { ", closing" } else { "" }
    )
}

/// One line saying what an event records.
pub(crate) fn describe(kind: &AuditKind) -> String {
    match kind {
        AuditKind::Loaded {
            digest,
            size,
            backend,
        } => {
            format!("loaded {digest} ({size} bytes) on {backend}")
        }
        AuditKind::LoadRejected { reason, .. } => format!("LOAD REJECTED: {reason}"),
        AuditKind::CacheRefused { reason } => format!("CACHE REFUSED: {reason}"),
        AuditKind::Instantiated { instance } => format!("instance {instance} created"),
        AuditKind::InstantiationFailed { error, .. } => format!("INSTANTIATION FAILED: {error}"),
        AuditKind::Dropped { instance } => format!("instance {instance} dropped"),
        AuditKind::Called { instance, function } => format!("#{instance} call {function}"),
        AuditKind::Returned {
            instance,
            function,
            usage,
        } => format!(
            "#{instance} {function} returned ({} us, fuel {}, peak memory {} bytes)",
            usage.elapsed.as_micros(),
            usage
                .fuel_consumed
                .map_or_else(|| "unmetered".to_owned(), |f| f.to_string()),
            usage.peak_memory_bytes
        ),
        AuditKind::Trapped {
            instance, error, ..
        } => format!("#{instance} TRAPPED: {error}"),
        AuditKind::LimitHit {
            instance,
            limit,
            error,
            ..
        } => {
            format!("#{instance} LIMIT {limit}: {error}")
        }
        AuditKind::CapabilityAllowed { request, .. } => format!("allowed {request}"),
        AuditKind::CapabilityDenied {
            request, outcome, ..
        } => {
            format!("DENIED {request}: {outcome}")
        }
        AuditKind::HostLimit { function, limit } => format!("HOST LIMIT in {function}: {limit}"),
        AuditKind::LinkCall {
            callee,
            function,
            outcome,
        } => format!("linked call {callee} {function}: {outcome}"),
        AuditKind::Suppressed {
            of,
            count,
            from,
            to,
        } => format!(
            "SUPPRESSED {count} more {of} events from {} to {}",
            humantime::format_rfc3339_millis(*from),
            humantime::format_rfc3339_millis(*to)
        ),
        AuditKind::HttpRequest {
            route,
            request,
            status,
            usage,
            error,
        } => {
            let fuel = usage
                .fuel_consumed
                .map_or_else(|| "unmetered".to_owned(), |f| f.to_string());
            let us = usage.elapsed.as_micros();
            let base = format!("HTTP {request} via route {route}: {status} ({us} us, fuel {fuel})");
            if error.is_empty() {
                base
            } else {
                format!("{base}: {error}")
            }
        }
        AuditKind::Lifecycle { step, detail } if detail.is_empty() => step.to_string(),
        AuditKind::Lifecycle { step, detail } => format!("{step} {detail}"),
        other => format!("{other:?}"),
    }
}
