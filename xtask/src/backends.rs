//! The interpreter-only build: `airssys-wasm` with only the `wasmi` feature
//! must build, and must not pull in a JIT (the `wasmtime` runtime crate or
//! `cranelift-codegen`). The wasmi backend does use `wasmtime-environ`'s
//! component translator and the small data crates it needs
//! (`cranelift-entity`, `cranelift-bitset`, `cranelift-bforest`): no code
//! generator among them.

use anyhow::{Context, Result, bail};

use crate::workspace::{cargo, root, run};

/// Crates that mean a JIT is in the build.
const JIT: &[&str] = &["wasmtime", "cranelift-codegen", "wasmtime-cranelift"];

/// Checks the dependency tree of the wasmi-only build and that it compiles.
pub fn check_wasmi_only() -> Result<()> {
    println!("xtask: checking the wasmi-only build has no JIT (cargo tree)");
    let out = cargo()
        .current_dir(root())
        .args(wasmi_only(&["tree", "-e", "normal", "--prefix", "none"]))
        .output()
        .context("running cargo tree")?;
    if !out.status.success() {
        bail!(
            "cargo tree failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let tree = String::from_utf8_lossy(&out.stdout);
    let found = jit_crates(&tree);
    if !found.is_empty() {
        bail!(
            "the wasmi-only build of airssys-wasm depends on {} — a JIT must not be in it; \
             find the path with `cargo tree -p airssys-wasm --no-default-features --features \
             wasmi -i {}`",
            found.join(", "),
            found[0]
        );
    }
    println!("xtask: cargo check of the wasmi-only build");
    run(
        cargo()
            .current_dir(root())
            .args(wasmi_only(&["check", "--quiet"])),
        "cargo check -p airssys-wasm --no-default-features --features wasmi",
    )
}

/// `cargo xtask fuzz`: the fuzz targets of the facade
/// (`airssys-wasm/tests/suite/fuzz/`) and its differential test
/// (`tests/suite/differential.rs`), each with `cases` cases from seed
/// `seed`, in release mode with both backends; `target` keeps the tests
/// whose path contains it (`fuzz::wave`, `differential::`). Each target
/// prints how many executions ran and what it found; a finding fails the
/// run and keeps its input under `target/release/build/.../fuzz-findings`
/// (the path is printed).
pub fn fuzz(cases: u64, seed: u64, target: Option<&str>) -> Result<()> {
    // The component target mutates the guests.
    crate::guests::build_many(&[crate::lang::Lang::Rust])?;
    println!("xtask: fuzz targets and the differential run, {cases} cases each from seed {seed}");
    let mut args = vec![
        "test",
        "--release",
        "-p",
        "airssys-wasm",
        "--features",
        "wasmtime,wasmi",
        "--test",
        "suite",
        "--",
        "--nocapture",
    ];
    // The fuzz targets and the differential test are modules of the
    // facade's one test binary: the filters pick them out of it.
    match target {
        Some(t) => args.push(t),
        None => args.extend(["fuzz::", "differential::"]),
    }
    run(
        cargo()
            .current_dir(root())
            .env("AIRSSYS_FUZZ_CASES", cases.to_string())
            .env("AIRSSYS_FUZZ_SEED", seed.to_string())
            .args(args),
        "the fuzz run (each finding prints its seed and where its input is kept)",
    )
}

fn wasmi_only<'a>(cmd: &[&'a str]) -> Vec<&'a str> {
    let mut args = cmd.to_vec();
    args.extend([
        "-p",
        "airssys-wasm",
        "--no-default-features",
        "--features",
        "wasmi",
    ]);
    args
}

/// The JIT crates named in `cargo tree --prefix none` output.
fn jit_crates(tree: &str) -> Vec<&'static str> {
    JIT.iter()
        .copied()
        .filter(|name| {
            tree.lines()
                .any(|l| l.split_whitespace().next() == Some(name))
        })
        .collect()
}

/// `cargo xtask conformance`: the facade's `conformance` example on the
/// `.wast` files under `suite`, on `backend` or on both. Prints pass, fail
/// and skip per file with the reasons; fails when a directive failed.
pub fn conformance(suite: &std::path::Path, backend: Option<&str>) -> Result<()> {
    let suite = suite
        .canonicalize()
        .with_context(|| format!("the suite directory {}", suite.display()))?;
    println!(
        "xtask: the Component Model tests in {} through airssys-wasm",
        suite.display()
    );
    let suite = suite.display().to_string();
    // From the workspace root without `-p`: the workspace's feature
    // resolution, so the build shares what `cargo test --workspace` built.
    let mut args = vec![
        "run",
        "--quiet",
        "--features",
        "airssys-wasm/wasmtime,airssys-wasm/wasmi",
        "--example",
        "conformance",
        "--",
        &suite,
    ];
    args.extend(backend);
    run(
        cargo().current_dir(root()).args(args),
        "the conformance run (each failing directive is listed above with its reason)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jit_crates_are_found_by_exact_name() {
        let tree = "airssys-wasm v0.1.0\nwasmtime-environ v48.0.8\ncranelift-entity v0.135.8\n";
        assert!(jit_crates(tree).is_empty());
        let tree = "airssys-wasm v0.1.0\nwasmtime v48.0.8\ncranelift-codegen v0.135.8 (*)\n";
        assert_eq!(jit_crates(tree), vec!["wasmtime", "cranelift-codegen"]);
    }
}
