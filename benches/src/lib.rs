//! Criterion benchmarks of airssys-wasm; the benchmark issue fills this crate.
