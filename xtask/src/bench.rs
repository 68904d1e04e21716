//! `cargo xtask bench [--quick]`: run the criterion benchmarks in release
//! and write `target/bench-report/report.md`.
//!
//! The report has one table per criterion group with each benchmark's
//! median (from criterion's `estimates.json`), and for the groups that have
//! a goal, whether it was met — misses are shown, not hidden. Absolute
//! times on a shared machine are noise; ratios within one run are what
//! count, and each group compares like with like.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::guests::{self, Lang, cargo, root, run};

/// The baselines every group is compared with, when it has them.
const BASELINES: &[&str] = &["raw-wasmtime-same-config", "native"];

/// A goal from the benchmark issue, checked against one run.
enum Goal {
    /// Every benchmark of `group` (or just `bench`) at most `ns`.
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
    },
}

const GOALS: &[Goal] = &[
    Goal::MaxNs {
        group: "capability-check",
        bench: None,
        ns: 100.0,
        what: "a capability check (glob, host pattern, topic) takes at most 100 ns",
    },
    Goal::MaxNs {
        group: "call-add",
        bench: Some("ours-typed"),
        ns: 200.0,
        what: "an `add` call through airssys-wasm takes at most 200 ns",
    },
    Goal::MaxRatio {
        group: "call-add",
        bench: "ours-typed",
        baseline: "raw-wasmtime-same-config",
        ratio: 1.10,
        what: "our component call costs at most 1.10x raw wasmtime with the same config",
    },
];

struct Measurement {
    group: String,
    bench: String,
    median_ns: f64,
}

pub fn run_bench(quick: bool) -> Result<()> {
    guests::build(Lang::Rust)?;
    let mut cmd = cargo();
    cmd.current_dir(root())
        .args(["bench", "-p", "airssys-wasm-benches", "--benches", "--"]);
    if quick {
        cmd.arg("--quick");
    }
    run(&mut cmd, "running the benchmarks")?;
    let criterion = root().join("target/criterion");
    let measurements = collect(&criterion)?;
    let report = render(&measurements, quick);
    let dir = root().join("target/bench-report");
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("report.md");
    std::fs::write(&file, &report)?;
    println!("{report}");
    println!("xtask: report written to {}", file.display());
    Ok(())
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

fn machine() -> String {
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
    let rustc = std::process::Command::new("rustc")
        .arg("-V")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!("{cpu}, {cores} cores; {rustc}")
}

fn median(measurements: &[Measurement], group: &str, bench: &str) -> Option<f64> {
    measurements
        .iter()
        .find(|m| m.group == group && m.bench == bench)
        .map(|m| m.median_ns)
}

fn render(measurements: &[Measurement], quick: bool) -> String {
    let mut s = String::from("# airssys-wasm benchmark report\n\n");
    let _ = writeln!(s, "Machine: {}", machine());
    if quick {
        s.push_str("\nQuick mode (`--quick`): a smoke run, not a measurement.\n");
    }
    let mut groups: Vec<&str> = measurements.iter().map(|m| m.group.as_str()).collect();
    groups.dedup();
    for group in groups {
        let _ = writeln!(s, "\n## {group}\n");
        let baselines: Vec<(&str, f64)> = BASELINES
            .iter()
            .filter_map(|b| median(measurements, group, b).map(|m| (*b, m)))
            .collect();
        s.push_str("| benchmark | median |");
        for (b, _) in &baselines {
            let _ = write!(s, " x {b} |");
        }
        s.push_str("\n|---|---|");
        s.push_str(&"---|".repeat(baselines.len()));
        s.push('\n');
        for m in measurements.iter().filter(|m| m.group == group) {
            let _ = write!(s, "| {} | {} |", m.bench, show(m.median_ns));
            for (_, base) in &baselines {
                let _ = write!(s, " {:.2} |", m.median_ns / base);
            }
            s.push('\n');
        }
        let goals: Vec<String> = GOALS
            .iter()
            .filter_map(|g| check(g, group, measurements))
            .collect();
        if !goals.is_empty() {
            s.push_str("\nGoals:\n");
            for g in goals {
                let _ = writeln!(s, "- {g}");
            }
        }
    }
    s
}

/// `met` / `NOT MET` for a goal of `group`, with the numbers.
fn check(goal: &Goal, group: &str, measurements: &[Measurement]) -> Option<String> {
    match goal {
        Goal::MaxNs {
            group: g,
            bench,
            ns,
            what,
        } if *g == group => {
            let worst = measurements
                .iter()
                .filter(|m| m.group == group && bench.is_none_or(|b| m.bench == b))
                .max_by(|a, b| a.median_ns.total_cmp(&b.median_ns))?;
            let verdict = if worst.median_ns <= *ns {
                "met"
            } else {
                "NOT MET"
            };
            Some(format!(
                "{what}: {verdict} (slowest: {} at {})",
                worst.bench,
                show(worst.median_ns)
            ))
        }
        Goal::MaxRatio {
            group: g,
            bench,
            baseline,
            ratio,
            what,
        } if *g == group => {
            let r = median(measurements, group, bench)? / median(measurements, group, baseline)?;
            let verdict = if r <= *ratio { "met" } else { "NOT MET" };
            Some(format!("{what}: {verdict} ({r:.2}x)"))
        }
        _ => None,
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

    #[test]
    fn the_report_shows_medians_and_misses() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        estimate(&dir, "capability-check", "fast", 42.0);
        estimate(&dir, "capability-check", "slow", 250.0);
        estimate(&dir, "other", "call", 1_500.0);
        std::fs::create_dir_all(dir.join("report")).unwrap();
        let report = render(&collect(&dir).unwrap(), false);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(report.contains("| fast | 42.0 ns |\n"), "{report}");
        assert!(
            report.contains("at most 100 ns: NOT MET (slowest: slow at 250.0 ns)"),
            "{report}"
        );
        assert!(report.contains("| call | 1.50 µs |\n"), "{report}");
        // Ratios against the baselines a group has.
        let dir2 = std::env::temp_dir().join(format!("xtask-bench2-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir2);
        estimate(&dir2, "call-add", "raw-wasmtime-same-config", 100.0);
        estimate(&dir2, "call-add", "ours-typed", 120.0);
        estimate(&dir2, "call-add", "native", 2.0);
        let report = render(&collect(&dir2).unwrap(), false);
        std::fs::remove_dir_all(&dir2).unwrap();
        assert!(
            report.contains("| ours-typed | 120.0 ns | 1.20 | 60.00 |"),
            "{report}"
        );
        assert!(
            report.contains("1.10x raw wasmtime with the same config: NOT MET (1.20x)"),
            "{report}"
        );
        assert!(report.contains("at most 200 ns: met"), "{report}");
    }
}
