//! The audit trail of a normal life, and the artifact cache.

use crate::common;

use airssys_wasm::{
    AuditError, AuditEvent, AuditKind, AuditSink, Error, Limits, LoadOptions, MemorySink, Runtime,
    Value,
};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn a_call_is_audited_from_load_to_drop() {
    common::each_backend(|_| {
        let (rt, audit) = common::runtime();
        let c = common::load(&rt, "text-tools", LoadOptions::new());
        let mut i = c.instantiate().unwrap();
        let out = i.call("greet", &[Value::from("ada")]).unwrap();
        assert_eq!(out, vec![Value::from("Hello, ada!")]);
        drop(i);
        assert_eq!(
            common::event_names(&audit),
            vec!["loaded", "instantiated", "called", "returned", "dropped"]
        );
        let events = audit.events();
        assert!(events.iter().all(|e| &*e.component == "text-tools"));
        let AuditKind::Loaded { digest, .. } = &events[0].kind else {
            unreachable!()
        };
        assert_eq!(digest, &c.info().digest().to_string());
    });
}

/// Keeps every event it is given, but says it keeps no call events, like a
/// `TracingSink` while no subscriber takes INFO events.
struct NoCallEvents(MemorySink);

impl AuditSink for NoCallEvents {
    fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        self.0.record(event)
    }

    fn records_calls(&self) -> bool {
        false
    }
}

#[test]
fn a_sink_without_call_events_is_spared_them_but_not_limit_hits_or_traps() {
    common::each_backend(|kind| {
        let audit = Arc::new(NoCallEvents(MemorySink::new()));
        let rt = Runtime::builder()
            .backend(kind)
            .audit(audit.clone())
            .build()
            .unwrap();
        let timeout = Duration::from_millis(200);
        let c = rt
            .load(
                common::guest("hostile"),
                LoadOptions::new()
                    .name("hostile")
                    .limits(Limits::default().with_timeout(timeout)),
            )
            .unwrap();
        let mut i = c.instantiate().unwrap();
        // The caller still gets the call's usage.
        let ok = i.func("ok").unwrap();
        let (out, usage) = i.call_func(&ok, &[]).unwrap();
        assert_eq!(out, vec![Value::U32(42)]);
        assert!(usage.elapsed > Duration::ZERO);
        let typed = i.typed::<(), (u32,)>("ok").unwrap();
        assert_eq!(i.call_typed(&typed, ()).unwrap(), (42,));
        // A timeout on the typed path still says how long the call ran.
        let spin = i.typed::<(), (u32,)>("spin").unwrap();
        let err = i.call_typed(&spin, ()).unwrap_err();
        let Error::Timeout { elapsed, .. } = err else {
            panic!("expected a timeout on {kind}, got {err:?}");
        };
        assert!(elapsed >= timeout, "{elapsed:?}");
        let mut other = c.instantiate().unwrap();
        other.call("crash", &[]).unwrap_err();
        assert_eq!(
            common::event_names(&audit.0),
            vec![
                "loaded",
                "instantiated",
                "limit-hit",
                "instantiated",
                "trapped"
            ]
        );
    });
}

#[test]
fn usage_is_reported_per_call() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let c = common::load(
            &rt,
            "text-tools",
            LoadOptions::new().limits(airssys_wasm::Limits::default().with_fuel(10_000_000)),
        );
        let mut i = c.instantiate().unwrap();
        let f = i.func("stats").unwrap();
        let (_, usage) = i
            .call_func(&f, &[Value::from("a b a\nc"), Value::from(2u32)])
            .unwrap();
        let fuel = usage.fuel_consumed.expect("fuel is metered");
        assert!(fuel > 0 && fuel < 10_000_000, "{fuel}");
        assert!(usage.peak_memory_bytes >= 64 * 1024);
    });
}

/// The compiled artifacts in a cache directory (beside them is its key).
fn artifacts(dir: &Path) -> BTreeSet<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect()
}

/// A wasmtime runtime caching compiled code in `dir`, auditing to `audit`.
fn caching_runtime(dir: &Path, audit: &Arc<MemorySink>) -> airssys_wasm::Result<Runtime> {
    Runtime::builder()
        .audit(audit.clone())
        .wasmtime_config(airssys_wasm::wasmtime_backend::WasmtimeConfig {
            cache_dir: Some(dir.to_owned()),
            ..Default::default()
        })
        .build()
}

#[test]
fn another_components_artifact_planted_in_the_cache_is_refused_recompiled_and_audited() {
    let cache = tempfile::tempdir().unwrap();
    let audit = Arc::new(MemorySink::new());
    let load = |guest: &str, name: &str| {
        caching_runtime(cache.path(), &audit)
            .unwrap()
            .load(common::guest(guest), LoadOptions::new().name(name))
            .unwrap()
    };
    // Whoever can write the cache directory copies the compiled code of
    // another component (valid, with a valid tag) under the victim's name.
    load("text-tools", "attacker");
    let attackers = artifacts(cache.path());
    load("values", "victim");
    let victims: Vec<_> = artifacts(cache.path())
        .difference(&attackers)
        .cloned()
        .collect();
    let [victim_file] = &victims[..] else {
        panic!("one artifact for the victim: {victims:?}")
    };
    let [attacker_file] = &attackers.iter().collect::<Vec<_>>()[..] else {
        unreachable!()
    };
    std::fs::copy(attacker_file, victim_file).unwrap();
    audit.take();

    let victim = load("values", "victim");
    assert!(!victim.loaded_from_cache(), "the planted code is not used");
    // The victim is itself: compiled from its own bytes.
    let mut i = victim.instantiate().unwrap();
    assert_eq!(
        i.call("add", &[Value::from(1u32), Value::from(2u32)])
            .unwrap(),
        vec![Value::from(3u32)]
    );
    drop(i);
    let events = audit.take();
    let refusals: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            AuditKind::CacheRefused { reason } => Some((&*e.component, reason.as_str())),
            _ => None,
        })
        .collect();
    let [("victim", reason)] = refusals[..] else {
        panic!("one cache refusal, the victim's: {events:?}")
    };
    assert!(
        reason.contains(&victim_file.display().to_string())
            && reason.contains("authentication tag does not match")
            && reason.contains("replaced the file"),
        "{reason}"
    );
    assert!(
        matches!(events[1].kind, AuditKind::Loaded { .. }),
        "{events:?}"
    );

    // The file was replaced: the next load takes the victim's code from it.
    let again = load("values", "victim");
    assert!(again.loaded_from_cache());
    assert!(
        !audit
            .events()
            .iter()
            .any(|e| matches!(e.kind, AuditKind::CacheRefused { .. }))
    );
    let mut i = again.instantiate().unwrap();
    assert_eq!(
        i.call("add", &[Value::from(2u32), Value::from(2u32)])
            .unwrap(),
        vec![Value::from(4u32)]
    );
}

#[cfg(unix)]
#[test]
fn a_cache_directory_others_can_write_is_refused_when_the_runtime_is_built() {
    use std::os::unix::fs::PermissionsExt;
    let cache = tempfile::tempdir().unwrap();
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = caching_runtime(cache.path(), &Arc::new(MemorySink::new()))
        .err()
        .expect("the runtime is refused");
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&cache.path().display().to_string())
            && text.contains("writable by group or others (mode 0777)"),
        "{text}"
    );
}

#[test]
fn a_second_load_uses_the_artifact_cache() {
    common::each_backend(|_| {
        let cache = tempfile::tempdir().unwrap();
        let config = || airssys_wasm::wasmtime_backend::WasmtimeConfig {
            cache_dir: Some(cache.path().to_owned()),
            ..Default::default()
        };
        let load = || {
            let rt = Runtime::builder()
                .audit(Arc::new(MemorySink::new()))
                .wasmtime_config(config())
                .build()
                .unwrap();
            rt.load(common::guest("wasi-probe"), LoadOptions::new())
                .unwrap()
        };
        let first = load();
        assert!(!first.loaded_from_cache());
        assert_eq!(artifacts(cache.path()).len(), 1);
        let second = load();
        assert!(
            second.loaded_from_cache(),
            "second load must skip compilation"
        );
        let mut i = second.instantiate().unwrap();
        let out = i.call("get-env", &[Value::from("X")]).unwrap();
        assert_eq!(out, vec![Value::Option(None)]);
    });
}

#[test]
fn the_pooling_allocator_runs_and_limits_instances() {
    common::each_backend(|_| {
        use airssys_wasm::wasmtime_backend::{PoolingConfig, WasmtimeConfig};
        let audit = Arc::new(MemorySink::new());
        let rt = Runtime::builder()
            .audit(audit)
            .wasmtime_config(WasmtimeConfig {
                pooling: Some(PoolingConfig {
                    total_component_instances: 4,
                    max_memory_size: 8 << 20,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .build()
            .unwrap();
        let c = rt
            .load(common::guest("values"), LoadOptions::new())
            .unwrap();
        let mut live = Vec::new();
        for _ in 0..4 {
            let mut i = c.instantiate().unwrap();
            assert_eq!(
                i.call("add", &[Value::from(1u32), Value::from(2u32)])
                    .unwrap(),
                vec![Value::from(3u32)]
            );
            live.push(i);
        }
        // The pool is full: a fifth instance is refused with an error, not a crash.
        let err = c.instantiate().err().unwrap();
        assert!(
            matches!(err, airssys_wasm::Error::InstanceLimit { limit: 4, .. }),
            "{err:?}"
        );
        live.pop();
        c.instantiate().expect("a freed slot is reused");
    });
}

#[test]
fn a_reused_pool_slot_starts_with_fresh_memory() {
    use airssys_wasm::wasmtime_backend::{PoolingConfig, WasmtimeConfig};
    // Pages an instance touched stay resident when its slot is freed
    // (`keep_resident`) and are reset in place: the next instance in the
    // slot must not see them.
    let slot = common::component_of(
        "package airssys:slot;\nworld slot { export poke: func(addr: u32, value: u32); export peek: func(addr: u32) -> u32; }",
        "slot",
        r#"(module
            (memory (export "memory") 2)
            (func (export "poke") (param i32 i32) local.get 0 local.get 1 i32.store)
            (func (export "peek") (param i32) (result i32) local.get 0 i32.load))"#,
    );
    for keep_resident in [0, 2 << 20] {
        let rt = Runtime::builder()
            .wasmtime_config(WasmtimeConfig {
                pooling: Some(PoolingConfig {
                    total_component_instances: 1,
                    keep_resident,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .build()
            .unwrap();
        let c = rt.load(slot.as_slice(), LoadOptions::new()).unwrap();
        for round in 0..3 {
            // One slot: every instance reuses it.
            let mut i = c.instantiate().unwrap();
            for addr in [16u32, 70_000, 131_068] {
                let seen = i.call("peek", &[Value::U32(addr)]).unwrap();
                assert_eq!(
                    seen,
                    vec![Value::U32(0)],
                    "keep_resident {keep_resident}, round {round}: address {addr} kept an old value"
                );
                i.call("poke", &[Value::U32(addr), Value::U32(0xdead_beef)])
                    .unwrap();
            }
        }
    }
}

#[test]
fn fuel_and_epoch_checks_are_compiled_in_only_for_the_limits_that_need_them() {
    let cache = tempfile::tempdir().unwrap();
    let rt = Runtime::builder()
        .audit(Arc::new(MemorySink::new()))
        .wasmtime_config(airssys_wasm::wasmtime_backend::WasmtimeConfig {
            cache_dir: Some(cache.path().to_owned()),
            ..Default::default()
        })
        .build()
        .unwrap();
    let load = |limits: Limits| {
        rt.load(
            common::guest("text-tools"),
            LoadOptions::new().name("text-tools").limits(limits),
        )
        .unwrap()
    };
    let fuel_used = |c: &airssys_wasm::Component| {
        let mut i = c.instantiate().unwrap();
        let f = i.func("stats").unwrap();
        let (_, usage) = i
            .call_func(&f, &[Value::from("a b a\nc"), Value::from(2u32)])
            .unwrap();
        usage.fuel_consumed
    };
    let unmetered = load(Limits::default());
    assert!(!unmetered.loaded_from_cache());
    assert_eq!(fuel_used(&unmetered), None, "no fuel limit, no metering");
    // The metered code is another artifact, not the unmetered one's.
    let metered = load(Limits::default().with_fuel(10_000_000));
    assert!(!metered.loaded_from_cache());
    let fuel = fuel_used(&metered).expect("a fuel limit meters fuel");
    assert!(fuel > 0 && fuel < 10_000_000, "{fuel}");
    // A timeout alone: epoch checks, no fuel; a third artifact.
    let timed = load(Limits::default().with_timeout(Duration::from_secs(5)));
    assert!(!timed.loaded_from_cache());
    assert_eq!(fuel_used(&timed), None);
    assert_eq!(artifacts(cache.path()).len(), 3);
    assert!(load(Limits::default()).loaded_from_cache());
    assert!(load(Limits::default().with_fuel(1)).loaded_from_cache());
    assert!(load(Limits::default().with_timeout(Duration::from_secs(1))).loaded_from_cache());
}

#[cfg(feature = "wasmi")]
#[test]
fn wasmi_meters_fuel_only_for_the_limits_that_need_it() {
    use airssys_wasm::core::{
        Backend, CapabilitySet, ComponentInfo, HostFunctions, InstanceConfig, Stdio,
    };
    let backend = airssys_wasm::wasmi_backend::WasmiBackend::new().unwrap();
    let bytes = std::fs::read(common::guest("hostile")).unwrap();
    let info = ComponentInfo::parse(&bytes).unwrap();
    let host = Arc::new(HostFunctions::new());
    let fuel = Limits::default().with_fuel(1_000_000);
    let timeout = Limits::default().with_timeout(Duration::from_secs(5));
    let config = |limits: Limits| InstanceConfig {
        component: "hostile".into(),
        id: airssys_wasm::core::ComponentId::new(None, "hostile", None, info.digest()).unwrap(),
        instance: 1,
        capabilities: Arc::new(CapabilitySet::new()),
        limits,
        audit: Arc::new(MemorySink::new()),
        stdio: Stdio::default(),
        args: Vec::new(),
        host_data: None,
        max_call_data: airssys_wasm::core::DEFAULT_MAX_CALL_DATA,
    };
    let fuel_used = |limits: Limits| {
        let compiled = backend.compile(&bytes, &info, &host, &limits).unwrap();
        let mut i = compiled.instantiate(config(limits)).unwrap();
        let ok = i.func("ok").unwrap();
        let (out, usage) = i.call(&ok, &[]).unwrap();
        assert_eq!(out, vec![Value::U32(42)]);
        usage.fuel_consumed
    };
    assert_eq!(fuel_used(Limits::default()), None, "no limit, no metering");
    assert!(fuel_used(fuel).is_some_and(|f| f > 0));
    assert_eq!(
        fuel_used(timeout),
        None,
        "metered for its slices, not reported"
    );
    // Code compiled without metering cannot hold a fuel limit or a
    // timeout, and the other way round: the instance is refused, saying why.
    let plain = backend
        .compile(&bytes, &info, &host, &Limits::default())
        .unwrap();
    let metered = backend.compile(&bytes, &info, &host, &fuel).unwrap();
    for (compiled, limits) in [
        (&plain, fuel),
        (&plain, timeout),
        (&metered, Limits::default()),
    ] {
        let err = compiled.instantiate(config(limits)).err().unwrap();
        assert!(
            err.to_string().contains("compiled for other limits"),
            "{err}"
        );
    }
}
