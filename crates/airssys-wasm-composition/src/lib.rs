//! airssys-wasm-composition
