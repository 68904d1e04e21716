//! `cargo xtask guests --report`: measure the polyglot greeters and print a
//! markdown table for the README.
//!
//! The measuring is the ignored test `measure_for_report` of
//! `airssys-wasm/tests/suite/polyglot.rs`, run in release so it uses the
//! runtime exactly as an embedder does, on every backend the facade has.
//! Latencies come from a timed loop: a report, not a benchmark.

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::lang::Lang;
use crate::workspace::{cargo, out_dir, root, run};

/// One language on one backend, as the measurement wrote it.
#[derive(serde::Deserialize)]
struct Row {
    lang: String,
    backend: String,
    size: u64,
    compile_ms: f64,
    cached_ms: f64,
    greet_us: f64,
    transform_us: f64,
}

/// Measures the greeters of `langs` (built already) and prints the table,
/// also written to `target/guests/report.md`.
pub fn run_report(langs: &[Lang]) -> Result<()> {
    let langs: Vec<Lang> = langs.iter().flat_map(|l| l.expand()).collect();
    let names: Vec<&str> = langs.iter().map(|l| l.name()).collect();
    let jsonl = out_dir().join("report.jsonl");
    println!("xtask: measuring the greeters (release build of the runtime)");
    run(
        cargo()
            .current_dir(root())
            .args(["test", "--release", "--quiet", "-p", "airssys-wasm"])
            .args(["--features", "wasmtime,wasmi"])
            .args(["--test", "suite", "--", "--ignored", "--exact"])
            .arg("polyglot::measure_for_report")
            .env("AIRSSYS_GREETERS", names.join(","))
            .env("AIRSSYS_GREETER_REPORT", &jsonl),
        "measuring the greeters",
    )?;
    let text =
        std::fs::read_to_string(&jsonl).with_context(|| format!("reading {}", jsonl.display()))?;
    let rows: Vec<Row> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading the measurements in {}", jsonl.display()))?;
    let table = render(&langs, &rows)?;
    let path = out_dir().join("report.md");
    std::fs::write(&path, &table).with_context(|| format!("writing {}", path.display()))?;
    println!("\n{table}");
    println!("xtask: written to {}", path.display());
    Ok(())
}

/// The markdown: when and where, then one row per language with a column
/// group per backend.
fn render(langs: &[Lang], rows: &[Row]) -> Result<String> {
    let mut backends: Vec<&str> = Vec::new();
    let mut by: BTreeMap<(&str, &str), &Row> = BTreeMap::new();
    for row in rows {
        if !backends.contains(&row.backend.as_str()) {
            backends.push(&row.backend);
        }
        by.insert((&row.lang, &row.backend), row);
    }
    let mut s = format!(
        "Measured {} on {} ({} cores) with `cargo xtask guests --report`: release build; \
         cold compile is a load with an empty artifact cache, cached load a later runtime's \
         load of the same component; latency is the mean of a timed \
         loop of calls through the dynamic-value API (`Instance::call_func`), `greet(\"ada\")` \
         (which logs one record through `airssys:host/logging`) and `transform` of 1 KiB.\n\n",
        utc_now(),
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    s.push_str("| language | toolchain | build command | imports | component |");
    for b in &backends {
        s.push_str(&format!(
            " cold compile ({b}) | cached load ({b}) | greet ({b}) | transform 1 KiB ({b}) |"
        ));
    }
    s.push_str("\n|---|---|---|---|---:|");
    s.push_str(&"---:|---:|---:|---:|".repeat(backends.len()));
    s.push('\n');
    for lang in langs {
        let name = lang.name();
        let size = by
            .iter()
            .find(|((l, _), _)| *l == name)
            .map(|(_, r)| r.size)
            .with_context(|| format!("no measurement of the {name} greeter"))?;
        s.push_str(&format!(
            "| {name} | {} | `cargo xtask guests --lang {name}` | {} | {} |",
            lang.toolchain(),
            imports(*lang),
            human_size(size)
        ));
        for b in &backends {
            let Some(r) = by.get(&(name, b)) else {
                bail!("no measurement of the {name} greeter on {b}");
            };
            s.push_str(&format!(
                " {} | {} | {} | {} |",
                millis(r.compile_ms),
                millis(r.cached_ms),
                micros(r.greet_us),
                micros(r.transform_us)
            ));
        }
        s.push('\n');
    }
    Ok(s)
}

/// What the greeter of `lang` imports.
fn imports(lang: Lang) -> &'static str {
    match lang {
        Lang::Go => "logging; WASI 0.2 via the preview1 adapter (granted: clocks)",
        _ => "logging",
    }
}

fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

fn millis(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.1} ms")
    }
}

fn micros(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.1} µs")
    }
}

fn utc_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "(date unknown)".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(lang: &str, backend: &str) -> Row {
        Row {
            lang: lang.into(),
            backend: backend.into(),
            size: 12_000_000,
            compile_ms: 4321.0,
            cached_ms: 12.5,
            greet_us: 12.34,
            transform_us: 0.5,
        }
    }

    #[test]
    fn the_table_has_a_row_per_language_and_columns_per_backend() {
        let rows = [
            row("c", "wasmtime"),
            row("c", "wasmi"),
            row("javascript", "wasmtime"),
            row("javascript", "wasmi"),
        ];
        let table = render(&[Lang::C, Lang::Javascript], &rows).unwrap();
        let lines: Vec<&str> = table.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(lines[0].contains("greet (wasmtime)") && lines[0].contains("greet (wasmi)"));
        assert!(lines[3].starts_with("| javascript |"), "{}", lines[3]);
        assert!(lines[3].contains("| 11.4 MiB | 4.32 s | 12.5 ms | 12.3 µs | 0.5 µs |"));
        // Every row has as many cells as the header.
        let cells = |l: &str| l.matches('|').count();
        assert!(lines.iter().all(|l| cells(l) == cells(lines[0])), "{table}");
    }

    #[test]
    fn a_missing_measurement_is_an_error_naming_it() {
        let err = render(&[Lang::C], &[row("c", "wasmtime"), row("go", "wasmi")]).unwrap_err();
        assert_eq!(err.to_string(), "no measurement of the c greeter on wasmi");
    }
}
