//! The goals of the benchmark issue, and how a run meets them.

use super::Run;
use super::report::{median, ratio, show};

/// A goal from the benchmark issue, checked against one run.
pub(super) enum Goal {
    /// `bench` of `group` (every benchmark of the group when `None`) at
    /// most `ns`.
    MaxNs {
        group: &'static str,
        bench: Option<&'static str>,
        ns: f64,
        what: &'static str,
    },
    /// `bench` at most `ratio` times `baseline`, in `group`.
    MaxRatio {
        group: &'static str,
        bench: &'static str,
        baseline: &'static str,
        ratio: f64,
        what: &'static str,
        /// Why `bench` may be missing from a run.
        pending: Option<&'static str>,
    },
    /// `bench` at least `speed` times as fast as `baseline` (the baseline's
    /// time over the bench's); without a threshold, only reported.
    MinSpeed {
        group: &'static str,
        bench: &'static str,
        baseline: &'static str,
        speed: Option<f64>,
        what: &'static str,
    },
    /// At least `per_gib` idle instances of `subject` per GiB.
    Density {
        subject: &'static str,
        per_gib: f64,
        what: &'static str,
    },
}

pub(super) const GOALS: &[Goal] = &[
    Goal::MaxRatio {
        group: "call-add",
        bench: "ours-typed",
        baseline: "raw-wasmtime-same-config",
        ratio: 1.10,
        what: "`add` through airssys-wasm ≤ 1.10× raw wasmtime, same config (default sink: call events not kept)",
        pending: None,
    },
    Goal::MaxRatio {
        group: "call-add",
        bench: "ours-audited-typed",
        baseline: "raw-wasmtime-same-config",
        ratio: 1.10,
        what: "`add` through airssys-wasm ≤ 1.10× raw wasmtime, same config, every call's events recorded",
        pending: None,
    },
    Goal::MaxRatio {
        group: "call-echo-string-1KiB",
        bench: "ours-typed",
        baseline: "raw-wasmtime-same-config",
        ratio: 1.10,
        what: "1 KiB string through airssys-wasm ≤ 1.10× raw wasmtime, same config",
        pending: None,
    },
    Goal::MaxRatio {
        group: "call-echo-bytes-64KiB",
        bench: "ours-typed",
        baseline: "raw-wasmtime-same-config",
        ratio: 1.10,
        what: "64 KiB list<u8> through airssys-wasm ≤ 1.10× raw wasmtime, same config",
        pending: None,
    },
    Goal::MaxNs {
        group: "call-add",
        bench: Some("ours-typed"),
        ns: 200.0,
        what: "`add` call through airssys-wasm on wasmtime ≤ 200 ns",
    },
    Goal::MaxNs {
        group: "call-add",
        bench: Some("ours-audited-typed"),
        ns: 200.0,
        what: "`add` call through airssys-wasm on wasmtime ≤ 200 ns, every call's events recorded",
    },
    Goal::MaxRatio {
        group: "call-add",
        bench: "ours-wasmi-typed",
        baseline: "raw-wasmi",
        ratio: 1.20,
        what: "`add` through airssys-wasm on wasmi ≤ 1.20× raw wasmi",
        pending: None,
    },
    Goal::MaxNs {
        group: "instantiation",
        bench: Some("ours-pooling"),
        ns: 5_000.0,
        what: "new instance of a compiled component (pooling) ≤ 5 µs",
    },
    Goal::MinSpeed {
        group: "load-large",
        bench: "ours-cached",
        baseline: "ours-compile",
        speed: Some(100.0),
        what: "cached load of a ≥ 1 MB component ≥ 100× faster than compiling it",
    },
    Goal::Density {
        subject: "ours-wasmtime",
        per_gib: 10_000.0,
        what: "≥ 10,000 idle instances per GiB on wasmtime",
    },
    Goal::MaxNs {
        group: "capability-check",
        bench: None,
        ns: 100.0,
        what: "capability check (path glob, host pattern, topic) ≤ 100 ns",
    },
    Goal::MaxNs {
        group: "audit-event",
        bench: Some("tracing-no-subscriber"),
        ns: 200.0,
        what: "audit event on the caller ≤ 200 ns: tracing sink, no subscriber (the default)",
    },
    Goal::MaxNs {
        group: "audit-event",
        bench: Some("memory"),
        ns: 200.0,
        what: "audit event on the caller ≤ 200 ns: in-memory sink",
    },
    Goal::MaxNs {
        group: "audit-event",
        bench: Some("tracing-fmt"),
        ns: 200.0,
        what: "audit event on the caller ≤ 200 ns: tracing sink, fmt subscriber",
    },
    Goal::MaxNs {
        group: "audit-event",
        bench: Some("chained-jsonl-burst"),
        ns: 200.0,
        what: "audit event on the caller ≤ 200 ns: hash-chained JSON lines, writer keeping up (bursts of 1000)",
    },
    Goal::MaxNs {
        group: "audit-event",
        bench: Some("chained-jsonl"),
        ns: 200.0,
        what: "audit event on the caller ≤ 200 ns: hash-chained JSON lines, sustained",
    },
    Goal::MinSpeed {
        group: "markdown-100KB",
        bench: "ours-typed",
        baseline: "native",
        speed: Some(0.7),
        what: "markdown plugin on wasmtime ≥ 0.7× native speed",
    },
    Goal::MinSpeed {
        group: "isolation",
        bench: "ours-pooling",
        baseline: "native-process",
        speed: None,
        what: "fresh instance + call vs spawning a process (reported, no goal)",
    },
    Goal::MaxNs {
        group: "lifecycle-swap",
        bench: None,
        ns: 1_000_000.0,
        what: "hot swap, decision to first call on the new version ≤ 1 ms (criterion's median; the issue's goal is the p99)",
    },
    Goal::MaxNs {
        group: "lifecycle-restart",
        bench: None,
        ns: 20_000.0,
        what: "restart after a trap to a callable fresh instance ≤ 20 µs on wasmtime with pooling (the trapping call included)",
    },
    Goal::MaxRatio {
        group: "lifecycle-call",
        bench: "deployment",
        baseline: "bare-instance",
        ratio: 1.10,
        what: "a call through a deployment ≤ 1.10× the call on a bare instance",
        pending: None,
    },
    Goal::MinSpeed {
        group: "lifecycle-2-threads",
        bench: "deployment",
        baseline: "bare-instances",
        speed: None,
        what: "calls per second through one deployment from 2 threads, against 2 bare instances",
    },
    Goal::MinSpeed {
        group: "admin-call",
        bench: "admin-api",
        baseline: "deployment",
        speed: None,
        what: "a call through the host's admin API (Unix socket, HTTP, JSON, WAVE, audited) against the same call on the deployment in process",
    },
    Goal::MaxRatio {
        group: "serve-throughput",
        bench: "ours",
        baseline: "raw-wasmtime-serve",
        ratio: 1.0 / 0.9,
        what: "requests/s serving `http-hello` with a tenant policy ≥ 0.9× a raw wasmtime-wasi-http server built like `wasmtime serve` (4 clients; time per request ≤ 1.11×)",
        pending: None,
    },
    Goal::MaxRatio {
        group: "serve-latency-p99",
        bench: "ours",
        baseline: "raw-wasmtime-serve",
        ratio: 1.2,
        what: "p99 of sequential `http-hello` requests ≤ 1.2× the raw wasmtime-wasi-http server's",
        pending: None,
    },
    Goal::MinSpeed {
        group: "serve-throughput",
        bench: "ours",
        baseline: "native",
        speed: None,
        what: "requests/s serving `http-hello`, against a native hyper handler doing the same work",
    },
    Goal::MinSpeed {
        group: "admin-call-throughput",
        bench: "4-clients",
        baseline: "1-client",
        speed: None,
        what: "the host's admin-call throughput with 4 clients at once, against 1 client",
    },
];
pub(super) fn goal_what(goal: &Goal) -> &'static str {
    match goal {
        Goal::MaxNs { what, .. }
        | Goal::MaxRatio { what, .. }
        | Goal::MinSpeed { what, .. }
        | Goal::Density { what, .. } => what,
    }
}

pub(super) fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**NOT MET**" }
}

/// `met` / `NOT MET` / `not measured` for a goal, with the numbers.
pub(super) fn check(goal: &Goal, run: &Run) -> String {
    let m = &run.measurements;
    let missing =
        |group: &str, bench: &str| format!("not measured: no {group}/{bench} in this run");
    match goal {
        Goal::MaxNs {
            group, bench, ns, ..
        } => {
            let worst = m
                .iter()
                .filter(|x| x.group == *group && bench.is_none_or(|b| x.bench == b))
                .max_by(|a, b| a.median_ns.total_cmp(&b.median_ns));
            match worst {
                Some(w) => format!(
                    "{} ({}{})",
                    verdict(w.median_ns <= *ns),
                    if bench.is_none() {
                        format!("slowest: {} at ", w.bench)
                    } else {
                        String::new()
                    },
                    show(w.median_ns)
                ),
                None => missing(group, bench.unwrap_or("*")),
            }
        }
        Goal::MaxRatio {
            group,
            bench,
            baseline,
            ratio: max,
            pending,
            ..
        } => match (median(m, group, bench), median(m, group, baseline)) {
            (Some(b), Some(base)) => {
                let r = b / base;
                format!(
                    "{} ({}× : {} vs {})",
                    verdict(r <= *max),
                    ratio(r),
                    show(b),
                    show(base)
                )
            }
            (None, _) if pending.is_some() => {
                format!("not measured yet: {}", pending.unwrap_or_default())
            }
            (None, _) => missing(group, bench),
            (_, None) => missing(group, baseline),
        },
        Goal::MinSpeed {
            group,
            bench,
            baseline,
            speed,
            ..
        } => match (median(m, group, bench), median(m, group, baseline)) {
            (Some(b), Some(base)) => {
                let x = base / b;
                let numbers = format!("{}× : {} vs {}", ratio(x), show(b), show(base));
                match speed {
                    Some(min) => format!("{} ({numbers})", verdict(x >= *min)),
                    None => numbers,
                }
            }
            (None, _) => missing(group, bench),
            (_, None) => missing(group, baseline),
        },
        Goal::Density {
            subject, per_gib, ..
        } => match run.density.iter().find(|d| d.subject == *subject) {
            Some(d) => format!(
                "{} ({:.0} per GiB, {:.1} KiB each)",
                verdict(d.per_gib() >= *per_gib),
                d.per_gib(),
                d.kib_per_instance()
            ),
            None => format!("not measured: no density run of {subject}"),
        },
    }
}
