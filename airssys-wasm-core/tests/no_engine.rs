//! airssys-wasm-core must not depend on any engine: other AirsSys crates use
//! it for the vocabulary alone.

use std::process::Command;

#[test]
fn core_has_no_engine_in_its_dependency_tree() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--package",
            "airssys-wasm-core",
            "--edges",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).unwrap();
    assert!(tree.contains("wasmparser"), "the tree was read: {tree}");
    for engine in ["wasmtime", "wasmi", "cranelift", "wasmer"] {
        let found: Vec<&str> = tree.lines().filter(|l| l.starts_with(engine)).collect();
        assert!(found.is_empty(), "core depends on an engine: {found:?}");
    }
}
