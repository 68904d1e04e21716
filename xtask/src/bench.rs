//! `cargo xtask bench [--quick]`: run the criterion benchmarks and the
//! density measurement in release, then write `target/bench-report/`:
//! `report.md` and one SVG chart per group.
//!
//! The report has the goals of the benchmark issue first (met, NOT MET, or
//! not measured, with the numbers), then one table per criterion group
//! with each benchmark's median (from criterion's `estimates.json`) and its
//! ratio to the group's baselines (raw engines, native code), then the
//! density table. Absolute times on a shared machine are noise; ratios
//! within one run are what count, and each group compares like with like.

mod chart;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};

use crate::guests;
use crate::workspace::{cargo, root};

/// The criterion bench targets of `benches/`, in the order they run.
const TARGETS: &[&str] = &[
    "calls",
    "capabilities",
    "audit",
    "instantiation",
    "load",
    "markdown",
    "host_calls",
    "isolation",
];

/// Criterion's warm-up and measurement time per benchmark in a full run,
/// in seconds.
const WARM_UP_S: &str = "0.3";
const MEASURE_S: &str = "1.5";

/// The guests the benchmarks load (built before they run).
const BENCH_GUESTS: &[&str] = &["values", "host-probe", "markdown"];

/// Subjects of the density measurement (`bench-density SUBJECT N`).
const DENSITY: &[&str] = &["ours-wasmtime", "ours-wasmi", "raw-wasmtime", "raw-wasmi"];

/// The baselines a group is compared with, when it has them: a ratio column
/// each.
const BASELINES: &[&str] = &[
    "raw-wasmtime-same-config",
    "raw-wasmtime-pooling",
    "raw-wasmtime-noop-host",
    "raw-wasmi",
    "ours-compile",
    "native",
    "native-process",
];

/// A goal from the benchmark issue, checked against one run.
enum Goal {
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

const GOALS: &[Goal] = &[
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
];

/// One criterion benchmark's result.
struct Measurement {
    group: String,
    bench: String,
    median_ns: f64,
}

/// One density measurement.
#[derive(Debug)]
struct Density {
    subject: String,
    instances: u64,
    rss_growth_bytes: u64,
}

impl Density {
    fn kib_per_instance(&self) -> f64 {
        self.rss_growth_bytes as f64 / 1024.0 / self.instances as f64
    }

    fn per_gib(&self) -> f64 {
        (1u64 << 30) as f64 * self.instances as f64 / self.rss_growth_bytes.max(1) as f64
    }
}

/// Everything one run measured.
struct Run {
    measurements: Vec<Measurement>,
    density: Vec<Density>,
}

pub fn run_bench(quick: bool) -> Result<()> {
    let started = Instant::now();
    let dir = root().join("target/bench-report");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // The release build of the benchmarks and the guests' build (their
    // own target directory) run side by side: each leaves a core idle for
    // long stretches on its own.
    println!("xtask: building the benchmarks (release) and the guests");
    let mut benches = cargo()
        .current_dir(root())
        .args([
            "bench",
            "-p",
            "airssys-wasm-benches",
            "--benches",
            "--no-run",
            "--quiet",
        ])
        .spawn()
        .context("starting the benchmarks' build")?;
    let guests = guests::build_rust_guests(BENCH_GUESTS);
    let built = benches
        .wait()
        .context("waiting for the benchmarks' build")?;
    guests?;
    if !built.success() {
        bail!("building the benchmarks failed ({built})");
    }
    println!("xtask: built in {:.0?}", started.elapsed());
    // The build wrote gigabytes; flushing them now keeps the kernel's
    // writeback from disturbing the first measurements.
    let _ = std::process::Command::new("sync").status();
    // Only this run's results go into the report.
    let criterion = root().join("target/criterion");
    if criterion.exists() {
        std::fs::remove_dir_all(&criterion)
            .with_context(|| format!("removing old results in {}", criterion.display()))?;
    }
    let log_path = dir.join("criterion.log");
    let mut log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    let progress = ProgressBar::new((TARGETS.len() + DENSITY.len()) as u64);
    progress.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .expect("the template is valid"),
    );
    progress.enable_steady_tick(Duration::from_millis(200));
    for target in TARGETS {
        progress.set_message(format!("{target}: building"));
        run_criterion(target, quick, &mut log, &progress)?;
        progress.inc(1);
    }
    let mut density = Vec::new();
    for subject in DENSITY {
        progress.set_message(format!("density: {subject}"));
        density.push(run_density(subject, if quick { 200 } else { 2000 })?);
        progress.inc(1);
    }
    progress.finish_and_clear();

    let run = Run {
        measurements: collect(&criterion)?,
        density,
    };
    let charts = chart::draw_all(&run, &dir)?;
    let report = render(&run, quick, &charts, &Environment::detect());
    let file = dir.join("report.md");
    std::fs::write(&file, &report).with_context(|| format!("writing {}", file.display()))?;
    println!("{report}");
    println!(
        "xtask: report written to {} in {:.0?} (criterion's output: {})",
        file.display(),
        started.elapsed(),
        log_path.display()
    );
    Ok(())
}

/// Runs one bench target, its output into `log`, showing which benchmark
/// runs on the progress bar.
fn run_criterion(
    target: &str,
    quick: bool,
    log: &mut std::fs::File,
    progress: &ProgressBar,
) -> Result<()> {
    let mut cmd = cargo();
    cmd.current_dir(root())
        .args([
            "bench",
            "-p",
            "airssys-wasm-benches",
            "--bench",
            target,
            "--",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Criterion's settings per benchmark: a smoke run stops as soon as
    // the estimate is stable (at most half a second); a full run warms up
    // for half a second and measures for two (100 samples: enough for
    // the medians, and the whole run stays within its time on 2 cores).
    if quick {
        cmd.args([
            "--quick",
            "--measurement-time",
            "0.5",
            "--nresamples",
            "1000",
        ]);
    } else {
        cmd.args(["--warm-up-time", WARM_UP_S, "--measurement-time", MEASURE_S]);
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting bench target {target}"))?;
    let stderr = child.stderr.take().expect("stderr is piped");
    // cargo's and the bench's errors, kept for the failure message.
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in BufReader::new(stdout).split(b'\n').map_while(Result::ok) {
        log.write_all(&line)?;
        log.write_all(b"\n")?;
        let text = String::from_utf8_lossy(&line);
        if let Some(name) = text
            .rsplit('\r')
            .find_map(|part| part.strip_prefix("Benchmarking "))
            .and_then(|rest| rest.split(':').next())
        {
            progress.set_message(name.to_owned());
        }
    }
    let status = child.wait()?;
    let errors = errors.join().unwrap_or_default();
    log.write_all(errors.as_bytes())?;
    if !status.success() {
        bail!("bench target {target} failed ({status}):\n{errors}");
    }
    Ok(())
}

/// Runs the density binary for one subject in a process of its own.
fn run_density(subject: &str, instances: u32) -> Result<Density> {
    let exe = root().join("target/release/bench-density");
    let out = std::process::Command::new(&exe)
        .args([subject, &instances.to_string()])
        .current_dir(root())
        .output()
        .with_context(|| format!("running {}", exe.display()))?;
    if !out.status.success() {
        bail!(
            "bench-density {subject} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse_density(&String::from_utf8_lossy(&out.stdout))
}

fn parse_density(line: &str) -> Result<Density> {
    let json: serde_json::Value = serde_json::from_str(line.trim())
        .with_context(|| format!("bench-density printed `{}`", line.trim()))?;
    let field = |name: &str| {
        json[name]
            .as_u64()
            .with_context(|| format!("bench-density output has no `{name}`: {line}"))
    };
    Ok(Density {
        subject: json["subject"].as_str().unwrap_or("?").to_owned(),
        instances: field("instances")?.max(1),
        rss_growth_bytes: field("rss_growth_bytes")?,
    })
}

/// Every `<group>/<bench>/new/estimates.json` under criterion's output.
fn collect(criterion: &Path) -> Result<Vec<Measurement>> {
    let mut out = Vec::new();
    let groups =
        std::fs::read_dir(criterion).with_context(|| format!("reading {}", criterion.display()))?;
    for group in groups {
        let group = group?.path();
        if !group.is_dir() || group.file_name().is_some_and(|n| n == "report") {
            continue;
        }
        for bench in std::fs::read_dir(&group)? {
            let bench = bench?.path();
            let estimates: PathBuf = bench.join("new/estimates.json");
            if !estimates.is_file() {
                continue;
            }
            let json: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&estimates)?)
                    .with_context(|| format!("reading {}", estimates.display()))?;
            let median_ns = json["median"]["point_estimate"]
                .as_f64()
                .with_context(|| format!("{}: no median", estimates.display()))?;
            let name = |p: &Path| {
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            };
            out.push(Measurement {
                group: name(&group),
                bench: name(&bench),
                median_ns,
            });
        }
    }
    out.sort_by(|a, b| (&a.group, &a.bench).cmp(&(&b.group, &b.bench)));
    Ok(out)
}

/// Where and with what the run happened.
struct Environment {
    date: String,
    machine: String,
    versions: String,
}

impl Environment {
    fn detect() -> Self {
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
fn locked_version<'l>(lock: &'l str, name: &str) -> Option<&'l str> {
    let needle = format!("name = \"{name}\"\nversion = \"");
    let start = lock.find(&needle)? + needle.len();
    lock[start..].split('"').next()
}

fn median(measurements: &[Measurement], group: &str, bench: &str) -> Option<f64> {
    measurements
        .iter()
        .find(|m| m.group == group && m.bench == bench)
        .map(|m| m.median_ns)
}

/// The groups in the order of their first measurement.
fn groups(measurements: &[Measurement]) -> Vec<&str> {
    let mut groups: Vec<&str> = measurements.iter().map(|m| m.group.as_str()).collect();
    groups.dedup();
    groups
}

/// The baselines `group` has, with their medians.
fn baselines(measurements: &[Measurement], group: &str) -> Vec<(&'static str, f64)> {
    BASELINES
        .iter()
        .filter_map(|b| median(measurements, group, b).map(|m| (*b, m)))
        .collect()
}

fn render(run: &Run, quick: bool, charts: &[(String, String)], env: &Environment) -> String {
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

fn goal_what(goal: &Goal) -> &'static str {
    match goal {
        Goal::MaxNs { what, .. }
        | Goal::MaxRatio { what, .. }
        | Goal::MinSpeed { what, .. }
        | Goal::Density { what, .. } => what,
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**NOT MET**" }
}

/// `met` / `NOT MET` / `not measured` for a goal, with the numbers.
fn check(goal: &Goal, run: &Run) -> String {
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

/// A ratio with enough digits to read both 0.004 and 250.
fn ratio(r: f64) -> String {
    if r < 0.1 {
        format!("{r:.4}")
    } else if r < 100.0 {
        format!("{r:.2}")
    } else {
        format!("{r:.0}")
    }
}

fn show(ns: f64) -> String {
    if ns < 1_000.0 {
        format!("{ns:.1} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.2} µs", ns / 1_000.0)
    } else {
        format!("{:.2} ms", ns / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate(root: &Path, group: &str, bench: &str, median: f64) {
        let dir = root.join(group).join(bench).join("new");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("estimates.json"),
            format!(r#"{{"median": {{"point_estimate": {median}}}}}"#),
        )
        .unwrap();
    }

    fn env() -> Environment {
        Environment {
            date: "2026-01-02 03:04 UTC".into(),
            machine: "a CPU, 2 cores".into(),
            versions: "wasmtime 48.0.8".into(),
        }
    }

    fn report(dir: &Path, density: Vec<Density>) -> String {
        let run = Run {
            measurements: collect(dir).unwrap(),
            density,
        };
        render(
            &run,
            false,
            &[("call-add".into(), "call-add.svg".into())],
            &env(),
        )
    }

    #[test]
    fn the_report_shows_medians_ratios_and_misses() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        estimate(&dir, "capability-check", "fast", 42.0);
        estimate(&dir, "capability-check", "slow", 250.0);
        estimate(&dir, "other", "call", 1_500.0);
        estimate(&dir, "call-add", "raw-wasmtime-same-config", 100.0);
        estimate(&dir, "call-add", "ours-typed", 120.0);
        estimate(&dir, "call-add", "native", 2.0);
        estimate(&dir, "call-add", "raw-wasmi", 100.0);
        estimate(&dir, "call-add", "ours-wasmi-typed", 110.0);
        estimate(&dir, "load-large", "ours-compile", 500_000_000.0);
        estimate(&dir, "load-large", "ours-cached", 2_000_000.0);
        std::fs::create_dir_all(dir.join("report")).unwrap();
        let density = vec![Density {
            subject: "ours-wasmtime".into(),
            instances: 1000,
            rss_growth_bytes: 200 << 20,
        }];
        let report = report(&dir, density);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(report.contains("- Date: 2026-01-02 03:04 UTC"), "{report}");
        assert!(
            report.contains("(0.3 s warm-up, 1.5 s of samples"),
            "{report}"
        );
        assert!(report.contains("| fast | 42.0 ns |\n"), "{report}");
        assert!(report.contains("| call | 1.50 µs |\n"), "{report}");
        assert!(
            report.contains(
                "| capability check (path glob, host pattern, topic) ≤ 100 ns | \
                 **NOT MET** (slowest: slow at 250.0 ns) |"
            ),
            "{report}"
        );
        // Ratio columns for the baselines a group has, and its chart.
        assert!(
            report.contains("| ours-typed | 120.0 ns | 1.20 | 1.20 | 60.00 |"),
            "{report}"
        );
        assert!(report.contains("![call-add](call-add.svg)"), "{report}");
        assert!(
            report.contains(
                "same config (default sink: call events not kept) | **NOT MET** \
                 (1.20× : 120.0 ns vs 100.0 ns) |"
            ),
            "{report}"
        );
        assert!(report.contains("≤ 200 ns | met (120.0 ns) |"), "{report}");
        // A missed goal says why; a met one does not.
        assert!(
            report.contains("Why, where a goal is missed")
                && report.contains(
                    "- *capability check (path glob, host pattern, topic) ≤ 100 ns*: path globs"
                ),
            "{report}"
        );
        assert!(
            !report.contains("- *`add` through airssys-wasm on wasmi"),
            "{report}"
        );
        assert!(
            report.contains("≤ 1.20× raw wasmi | met (1.10× : 110.0 ns vs 100.0 ns) |"),
            "{report}"
        );
        assert!(
            report.contains("compiling it | met (250× : 2.00 ms vs 500.00 ms) |"),
            "{report}"
        );
        // Goals whose groups did not run say so.
        assert!(
            report.contains("not measured: no markdown-100KB/ours-typed in this run"),
            "{report}"
        );
        // 200 MiB for 1000 instances: 204.8 KiB each, 5120 per GiB.
        assert!(
            report.contains("| ours-wasmtime | 1000 | 200.0 MiB | 204.8 | 5120 |"),
            "{report}"
        );
        assert!(
            report.contains("per GiB on wasmtime | **NOT MET** (5120 per GiB, 204.8 KiB each) |"),
            "{report}"
        );
    }

    #[test]
    fn density_output_is_parsed_and_bad_output_named() {
        let d = parse_density(
            "{\"subject\": \"raw-wasmi\", \"instances\": 10, \"rss_growth_bytes\": 20480}\n",
        )
        .unwrap();
        assert_eq!((d.subject.as_str(), d.instances), ("raw-wasmi", 10));
        assert_eq!(d.kib_per_instance(), 2.0);
        let e = parse_density("panicked").unwrap_err().to_string();
        assert!(e.contains("bench-density printed `panicked`"), "{e}");
    }

    #[test]
    fn versions_come_from_the_lock_file() {
        let lock = "[[package]]\nname = \"wasmi\"\nversion = \"2.0.0\"\n\n\
                    [[package]]\nname = \"wasmtime\"\nversion = \"48.0.8\"\n";
        assert_eq!(locked_version(lock, "wasmtime"), Some("48.0.8"));
        assert_eq!(locked_version(lock, "wasmi"), Some("2.0.0"));
        assert_eq!(locked_version(lock, "criterion"), None);
    }
}
