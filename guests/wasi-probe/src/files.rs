//! The plain-`std` half of the WASI probe: files, environment, stdout and
//! the clock. Shared by the `wasi-probe` and `wasi-files` guests.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn read_file(path: String) -> Result<String, String> {
    std::fs::read_to_string(&path).map_err(|e| e.to_string())
}

pub fn write_file(path: String, contents: String) -> Result<(), String> {
    std::fs::write(&path, contents).map_err(|e| e.to_string())
}

pub fn rename_file(from: String, to: String) -> Result<(), String> {
    std::fs::rename(&from, &to).map_err(|e| e.to_string())
}

pub fn remove_file(path: String) -> Result<(), String> {
    std::fs::remove_file(&path).map_err(|e| e.to_string())
}

pub fn list_dir(path: String) -> Result<Vec<String>, String> {
    let mut names = std::fs::read_dir(&path)
        .map_err(|e| e.to_string())?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    names.sort();
    Ok(names)
}

pub fn get_env(name: String) -> Option<String> {
    std::env::var(name).ok()
}

pub fn print(msg: String) -> Result<(), String> {
    let mut out = std::io::stdout();
    writeln!(out, "{msg}")
        .and_then(|()| out.flush())
        .map_err(|e| e.to_string())
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
