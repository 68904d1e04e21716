//! `airssys-wasm audit verify | show`.

use std::path::PathBuf;
use std::process::ExitCode;

use airssys_wasm::security::VerifyError;
use airssys_wasm::security::chain::{read_events, verify};
use airssys_wasm::{AuditKind, Error, Result};

/// Arguments of `audit`.
#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Check a chained audit log: prints OK with the record count, or the first bad line.
    Verify {
        /// The log written by `run --audit FILE`.
        file: PathBuf,
    },
    /// Print a log's events readably, optionally filtered.
    Show {
        /// The log written by `run --audit FILE`.
        file: PathBuf,
        /// Only events of this component.
        #[arg(long)]
        component: Option<String>,
        /// Only refusals: denied capabilities, host limits, refused loads and refused cached artifacts.
        #[arg(long)]
        denied: bool,
    },
}

fn io(file: &std::path::Path, e: VerifyError) -> Error {
    Error::Io {
        path: file.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    }
}

pub fn audit(cmd: AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Verify { file } => match verify(&file, None) {
            Ok(report) => {
                println!("OK: {} records, chain intact", report.records);
                Ok(ExitCode::SUCCESS)
            }
            Err(e @ (VerifyError::BadLine { .. } | VerifyError::Truncated { .. })) => {
                println!("FAILED: {}: {e}", file.display());
                Ok(ExitCode::from(1))
            }
            Err(e) => Err(io(&file, e)),
        },
        AuditCommand::Show {
            file,
            component,
            denied,
        } => {
            let events = read_events(&file).map_err(|e| io(&file, e))?;
            for (line, e) in events {
                if component.as_deref().is_some_and(|c| c != &*e.component) {
                    continue;
                }
                if denied
                    && !matches!(
                        e.kind,
                        AuditKind::CapabilityDenied { .. }
                            | AuditKind::HostLimit { .. }
                            | AuditKind::LoadRejected { .. }
                            | AuditKind::CacheRefused { .. }
                    )
                {
                    continue;
                }
                let time = humantime::format_rfc3339_millis(e.time);
                println!("{line:>6} {time} {:<14} {}", e.component, describe(&e.kind));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn describe(kind: &AuditKind) -> String {
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
        other => format!("{other:?}"),
    }
}
