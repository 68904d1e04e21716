//! Host memory spent for a guest is bounded before it is spent: a host call
//! whose arguments exceed the host's limit fails before they are copied out
//! of the guest, and byte lists reach host functions as bytes. Measured as
//! the process's peak RSS (Linux), so this file holds one test: nothing else
//! runs in the process meanwhile.
#![cfg(target_os = "linux")]

use crate::common;

use airssys_wasm::capability::KvQuota;
use airssys_wasm::{AuditKind, Capability, Error, Limits, LoadOptions, MIB, Value};

/// Resets the peak RSS to the current RSS (`clear_refs` 5).
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("resetting the peak RSS");
}

/// `VmHWM` and `VmRSS`, in bytes.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/self/status"))
            * 1024
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Peak RSS growth while `f` runs.
fn peak_growth<T>(f: impl FnOnce() -> T) -> (T, u64) {
    reset_peak();
    let (_, before) = rss();
    let out = f();
    let (peak, _) = rss();
    (out, peak.saturating_sub(before))
}

#[test]
fn a_host_call_over_the_limit_fails_before_its_arguments_are_copied() {
    common::each_backend(|backend| {
        let (rt, audit) = common::runtime();
        let quota = KvQuota {
            bytes: 64 * MIB,
            max_key_bytes: 256,
            max_value_bytes: 64 << 20,
        };
        let c = common::load(
            &rt,
            "host-probe",
            LoadOptions::new()
                .grant(Capability::key_value("big", quota))
                .limits(Limits::default().with_memory_bytes(256 * MIB)),
        );
        let mut i = c.instantiate().unwrap();
        // Over the 4 MiB limit: refused, and the host never holds the bytes
        // as values (on wasmi that was 40 bytes of host memory per byte).
        let value = Value::from("x".repeat(48 << 20));
        let args = [Value::from("big"), Value::from("k"), value];
        let (out, growth) = peak_growth(|| i.call("kv-set", &args));
        match out {
            Err(Error::HostFailed { message, .. }) => {
                assert!(message.contains("max_call_data"), "{backend}: {message}")
            }
            other => panic!("{backend}: expected a refusal, got {other:?}"),
        }
        // The guest holds the 48 MiB string in its own memory, and on wasmi
        // makes a byte list of it too; the host adds little to that (before,
        // wasmi's host made one 32-byte value per byte: 1.5 GiB).
        let bound = if backend.name() == "wasmi" { 100 } else { 160 };
        assert!(
            growth < bound * MIB,
            "{backend}: peak RSS grew by {} MiB",
            growth / MIB
        );
        let recorded = audit.events().into_iter().any(|e| match e.kind {
            AuditKind::HostLimit { limit, .. } => limit.contains("max_call_data"),
            AuditKind::Trapped { error, .. } => error.contains("max_call_data"),
            _ => false,
        });
        assert!(recorded, "{backend}: the refusal is audited");

        // Under the limit the bytes arrive, once.
        let mut i = c.instantiate().unwrap();
        let value = Value::from("y".repeat(2 << 20));
        let args = [Value::from("big"), Value::from("k"), value];
        let (out, growth) = peak_growth(|| i.call("kv-set", &args));
        assert_eq!(out.unwrap(), vec![Value::Result(Ok(None))], "{backend}");
        // wasmtime lifts a dynamically typed host call's byte list into one
        // of its own values per byte first (bounded by the same limit);
        // wasmi hands the bytes over as they are.
        let bound = if backend.name() == "wasmi" { 48 } else { 160 };
        assert!(
            growth < bound * MIB,
            "{backend}: peak RSS grew by {} MiB for a 2 MiB value",
            growth / MIB
        );
    });
}
