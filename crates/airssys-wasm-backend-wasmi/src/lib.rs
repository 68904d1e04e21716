//! airssys-wasm-backend-wasmi
