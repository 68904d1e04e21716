//! The report: the goals' verdicts, one table per criterion group with
//! medians and ratios, the density table, and the run's environment.

use std::fmt::Write as _;

use super::goals::{GOALS, check, goal_what};
use super::{BASELINES, MEASURE_S, Measurement, Run, WARM_UP_S};
use crate::workspace::root;

/// Where and with what the run happened.
pub(super) struct Environment {
    pub(super) date: String,
    pub(super) machine: String,
    pub(super) versions: String,
}

impl Environment {
    pub(super) fn detect() -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| {
                c.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let command = |program: &str, args: &[&str]| {
            std::process::Command::new(program)
                .args(args)
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_default()
        };
        let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap_or_default();
        let versions = ["wasmtime", "wasmi", "pulldown-cmark", "criterion"]
            .iter()
            .map(|c| format!("{c} {}", locked_version(&lock, c).unwrap_or("?")))
            .chain([command("rustc", &["-V"])])
            .collect::<Vec<_>>()
            .join(", ");
        Self {
            date: command("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            machine: format!("{cpu}, {cores} cores"),
            versions,
        }
    }
}

/// The version of `name` in a Cargo.lock (the first, if several).
pub(super) fn locked_version<'l>(lock: &'l str, name: &str) -> Option<&'l str> {
    let needle = format!("name = \"{name}\"\nversion = \"");
    let start = lock.find(&needle)? + needle.len();
    lock[start..].split('"').next()
}

pub(super) fn median(measurements: &[Measurement], group: &str, bench: &str) -> Option<f64> {
    measurements
        .iter()
        .find(|m| m.group == group && m.bench == bench)
        .map(|m| m.median_ns)
}

/// The groups in the order of their first measurement.
pub(super) fn groups(measurements: &[Measurement]) -> Vec<&str> {
    let mut groups: Vec<&str> = measurements.iter().map(|m| m.group.as_str()).collect();
    groups.dedup();
    groups
}

/// The baselines `group` has, with their medians.
pub(super) fn baselines(measurements: &[Measurement], group: &str) -> Vec<(&'static str, f64)> {
    BASELINES
        .iter()
        .filter_map(|b| median(measurements, group, b).map(|m| (*b, m)))
        .collect()
}

pub(super) fn render(
    run: &Run,
    quick: bool,
    charts: &[(String, String)],
    env: &Environment,
) -> String {
    let measurements = &run.measurements;
    let mut s = String::from("# airssys-wasm benchmark report\n\n");
    let _ = writeln!(s, "- Date: {}", env.date);
    let _ = writeln!(s, "- Machine: {}", env.machine);
    let _ = writeln!(s, "- Versions: {}", env.versions);
    let _ = writeln!(
        s,
        "\nMedians of criterion runs ({WARM_UP_S} s warm-up, {MEASURE_S} s of samples per \
         benchmark; the compiles of the large component: ten samples of one). Absolute times on \
         a shared machine are noisy; the ratios between rows of one group, measured in the same \
         run, are the result. `x NAME` columns are the row's time over NAME's."
    );
    if quick {
        s.push_str("\n**Quick mode (`--quick`)**: a smoke run, not a measurement.\n");
    }
    s.push_str("\n## Goals\n\n| goal | result |\n|---|---|\n");
    let mut missed = Vec::new();
    for goal in GOALS {
        let result = check(goal, run);
        if result.starts_with("**NOT MET**") {
            missed.push(goal_what(goal));
        }
        let _ = writeln!(s, "| {} | {} |", goal_what(goal), result);
    }
    let causes: Vec<_> = missed
        .iter()
        .filter_map(|m| {
            CAUSES
                .iter()
                .find(|(goal, _)| m.starts_with(goal))
                .map(|(_, cause)| (m, cause))
        })
        .collect();
    if !causes.is_empty() {
        s.push_str("\nWhy, where a goal is missed (what profiling found):\n\n");
        for (goal, cause) in causes {
            let _ = writeln!(s, "- *{goal}*: {cause}");
        }
    }
    for group in groups(measurements) {
        let _ = writeln!(s, "\n## {group}\n");
        if let Some((_, file)) = charts.iter().find(|(g, _)| g == group) {
            let _ = writeln!(s, "![{group}]({file})\n");
        }
        let baselines = baselines(measurements, group);
        s.push_str("| benchmark | median |");
        for (b, _) in &baselines {
            let _ = write!(s, " x {b} |");
        }
        s.push_str("\n|---|---:|");
        s.push_str(&"---:|".repeat(baselines.len()));
        s.push('\n');
        for m in measurements.iter().filter(|m| m.group == group) {
            let _ = write!(s, "| {} | {} |", m.bench, show(m.median_ns));
            for (_, base) in &baselines {
                let _ = write!(s, " {} |", ratio(m.median_ns / base));
            }
            s.push('\n');
        }
    }
    if !run.density.is_empty() {
        s.push_str(
            "\n## density\n\nIdle instances of the `values` guest kept alive in a process of \
             their own; the growth of its resident set, per instance.\n\n",
        );
        if let Some((_, file)) = charts.iter().find(|(g, _)| g == "density") {
            let _ = writeln!(s, "![density]({file})\n");
        }
        s.push_str(
            "| subject | instances | RSS growth | KiB per instance | instances per GiB |\n\
             |---|---:|---:|---:|---:|\n",
        );
        for d in &run.density {
            let _ = writeln!(
                s,
                "| {} | {} | {:.1} MiB | {:.1} | {:.0} |",
                d.subject,
                d.instances,
                d.rss_growth_bytes as f64 / (1 << 20) as f64,
                d.kib_per_instance(),
                d.per_gib()
            );
        }
    }
    s
}

/// What profiling found behind the goals a run may miss, keyed by the start
/// of the goal's text; the report lists those of the goals it misses.
const CAUSES: &[(&str, &str)] = &[
    (
        "`add` through airssys-wasm ≤ 1.10× raw wasmtime, same config (default sink",
        "the facade's per-call checks (the typed function belongs to this instance and \
         generation, the instance is not poisoned, which limits to re-arm), asking the sink \
         whether it keeps call events, and the dispatch to the backend: tens of nanoseconds, \
         about as much as this ratio moves between runs on a shared machine.",
    ),
    (
        "1 KiB string through airssys-wasm",
        "the same per-call checks as `add`'s, a few percent of this call; the ratio moves \
         across 1.10 between runs on a shared machine.",
    ),
    (
        "`add` through airssys-wasm ≤ 1.10× raw wasmtime, same config, every call",
        "two audit events per call (`called`, `returned`) and the two clock readings that \
         stamp them and time the call: the price of auditing every call.",
    ),
    (
        "`add` call through airssys-wasm on wasmtime ≤ 200 ns",
        "raw wasmtime's own typed call of `add` takes most of 200 ns on this machine; see the \
         ratio goals for what airssys-wasm adds.",
    ),
    (
        "`add` through airssys-wasm on wasmi",
        "our typed call is wasmi's own typed call plus the facade's checks (the handle belongs \
         to this instance and generation, the instance is not poisoned, whether the sink keeps \
         call events) and the dispatch to the backend: a few nanoseconds, about as much as \
         wasmi's own call moves between runs on a shared machine.",
    ),
    (
        "new instance of a compiled component",
        "raw wasmtime's own pooling instantiation (`InstancePre`, same configuration) is near \
         or above 5 µs here; what airssys-wasm adds is the instance's store data (the WASI \
         context built from the grants, the limiter, the handle table) and the `instantiated` \
         audit event.",
    ),
    (
        "audit event on the caller ≤ 200 ns: tracing sink, fmt subscriber",
        "a `tracing` fmt subscriber formats each event on the caller's thread; a non-blocking \
         writer or the chained log keeps that off the caller.",
    ),
    (
        "audit event on the caller ≤ 200 ns: hash-chained JSON lines, sustained",
        "under a flood the queue stays full, so the caller waits for the writer thread, which \
         encodes, hashes and writes each event: this is the log's throughput.",
    ),
    (
        "markdown plugin on wasmtime",
        "our call runs as fast as raw wasmtime (see the raw rows); pulldown-cmark compiled to \
         wasm32 is this much slower than its native build on wasmtime itself (natively its \
         byte scans use `memchr`'s SIMD code; the guest is plain wasm32 so that wasmi runs it \
         too).",
    ),
    (
        "capability check",
        "path globs are matched with `globset`'s regular expressions, in the tens of \
         nanoseconds; a loaded machine pushes them over.",
    ),
];

/// A ratio with enough digits to read both 0.004 and 250.
pub(super) fn ratio(r: f64) -> String {
    if r < 0.1 {
        format!("{r:.4}")
    } else if r < 100.0 {
        format!("{r:.2}")
    } else {
        format!("{r:.0}")
    }
}

pub(super) fn show(ns: f64) -> String {
    if ns < 1_000.0 {
        format!("{ns:.1} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.2} µs", ns / 1_000.0)
    } else {
        format!("{:.2} ms", ns / 1_000_000.0)
    }
}
