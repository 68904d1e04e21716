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
mod goals;
mod report;

use report::{Environment, groups, render};

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
    "lifecycle",
    "host",
    "serve",
];

/// Criterion's warm-up and measurement time per benchmark in a full run,
/// in seconds.
const WARM_UP_S: &str = "0.3";
const MEASURE_S: &str = "1.5";

/// The guests the benchmarks load (built before they run).
const BENCH_GUESTS: &[&str] = &["values", "host-probe", "markdown", "http-hello"];

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
    "raw-wasmtime-serve",
    "native",
    "native-process",
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

#[cfg(test)]
mod tests {
    use super::report::locked_version;
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
