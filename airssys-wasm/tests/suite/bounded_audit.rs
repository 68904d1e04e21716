//! What the runtime records is bounded: a guest's huge request is recorded
//! capped and marked, a flood of denials is recorded as a burst and a
//! count (the guest is denied every time all the same), and a component
//! name is never anything but plain characters.

use crate::common;

use std::time::Instant;

use airssys_wasm::audit::{DENIAL_BURST, MAX_AUDIT_TEXT};
use airssys_wasm::{AuditKind, Error, Limits, LoadOptions, Runtime, Value};

fn err_text(v: &Value) -> String {
    match v {
        Value::Result(Err(Some(e))) => e.as_str().unwrap().to_owned(),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn a_50_mib_namespace_is_recorded_capped_and_marked() {
    common::each_backend(|_| {
        // A host that takes 50 MiB arguments (by default it refuses them
        // before the host function runs): the recording must still be small.
        let audit = std::sync::Arc::new(airssys_wasm::MemorySink::new());
        let rt = Runtime::builder()
            .backend(common::backend())
            .audit(audit.clone())
            .host_settings(airssys_wasm::HostSettings {
                max_call_data: 128 << 20,
                ..Default::default()
            })
            .build()
            .unwrap();
        let options = LoadOptions::new().limits(Limits::default().with_memory_bytes(512 << 20));
        let mut i = common::load(&rt, "host-probe", options)
            .instantiate()
            .unwrap();
        let namespace = "n".repeat(50 << 20);
        let out = i
            .call(
                "kv-get",
                &[Value::from(namespace.as_str()), Value::from("k")],
            )
            .unwrap()
            .remove(0);
        // The guest is denied, and told so in capped text too.
        let told = err_text(&out);
        assert!(told.starts_with("denied: kv nnnn"), "{}", &told[..40]);
        assert!(
            told.len() <= MAX_AUDIT_TEXT + "denied: ".len(),
            "{}",
            told.len()
        );

        let requests: Vec<String> = audit
            .events()
            .into_iter()
            .filter_map(|e| match e.kind {
                AuditKind::CapabilityDenied { request, .. } => Some(request),
                _ => None,
            })
            .collect();
        assert_eq!(requests.len(), 1);
        let request = &requests[0];
        assert!(request.len() <= MAX_AUDIT_TEXT, "{}", request.len());
        let (kept, marker) = request.split_once('…').expect("marked as cut");
        assert!(kept.starts_with("kv nnnn"), "{kept}");
        let cut = "kv ".len() + namespace.len() - kept.len();
        assert_eq!(marker, format!("[cut {cut} bytes]"));
        assert!(cut > (50 << 20) - MAX_AUDIT_TEXT);
    });
}

#[test]
fn ten_thousand_denials_are_a_burst_and_a_count() {
    common::each_backend(|_| {
        let (rt, audit) = common::runtime();
        let mut i = common::load(&rt, "host-probe", LoadOptions::new())
            .instantiate()
            .unwrap();
        let started = Instant::now();
        for n in 0..10_000 {
            let out = i
                .call("kv-get", &[Value::from("secret"), Value::from("k")])
                .unwrap()
                .remove(0);
            assert_eq!(err_text(&out), "denied: kv secret", "call {n}");
        }
        let elapsed = started.elapsed();
        drop(i);
        // Whatever is still counted is recorded on flush.
        rt.flush_audit().unwrap();
        let events = audit.events();
        let denials = events
            .iter()
            .filter(|e| matches!(e.kind, AuditKind::CapabilityDenied { .. }))
            .count() as u64;
        let counts: Vec<u64> = events
            .iter()
            .filter_map(|e| match &e.kind {
                AuditKind::Suppressed {
                    of,
                    count,
                    from,
                    to,
                } => {
                    assert_eq!(of, "capability-denied");
                    assert!(from <= to);
                    assert_eq!(&*e.component, "host-probe");
                    Some(*count)
                }
                _ => None,
            })
            .collect();
        // Every denial is accounted for: recorded, or counted.
        assert_eq!(denials + counts.iter().sum::<u64>(), 10_000, "{counts:?}");
        assert!(!counts.is_empty());
        // Each window records at most a burst; a window that suppressed
        // some ended with its count, and the last may have none.
        assert!(
            denials <= u64::from(DENIAL_BURST) * (counts.len() as u64 + 1),
            "{denials} denials recorded in {} windows",
            counts.len()
        );
        let windows = elapsed.as_secs() + 1;
        assert!(
            denials <= u64::from(DENIAL_BURST) * (windows + 1),
            "{denials} denials recorded in {elapsed:?}"
        );
        // The calls themselves are all recorded.
        let calls = events
            .iter()
            .filter(|e| matches!(e.kind, AuditKind::Called { .. }))
            .count();
        assert_eq!(calls, 10_000);
    });
}

#[test]
fn a_count_still_held_is_recorded_when_the_runtime_goes() {
    let (rt, audit) = common::runtime();
    let mut i = common::load(&rt, "host-probe", LoadOptions::new())
        .instantiate()
        .unwrap();
    for _ in 0..DENIAL_BURST + 5 {
        i.call("kv-get", &[Value::from("secret"), Value::from("k")])
            .unwrap();
    }
    drop(i);
    drop(rt);
    let suppressed: u64 = audit
        .events()
        .iter()
        .filter_map(|e| match e.kind {
            AuditKind::Suppressed { count, .. } => Some(count),
            _ => None,
        })
        .sum();
    let denials = audit
        .events()
        .iter()
        .filter(|e| matches!(e.kind, AuditKind::CapabilityDenied { .. }))
        .count() as u64;
    assert_eq!(denials + suppressed, u64::from(DENIAL_BURST) + 5);
    assert!(suppressed > 0 || denials == u64::from(DENIAL_BURST) + 5);
}

#[test]
fn a_name_outside_the_character_set_is_refused_at_load() {
    let (rt, audit) = common::runtime();
    for bad in ["evil\nFAKE LINE", "two words", "\u{1b}[2J", ""] {
        let Err(e) = rt.load(common::guest("hello"), LoadOptions::new().name(bad)) else {
            panic!("{bad:?} was accepted")
        };
        let Error::InvalidName(name) = &e else {
            panic!("{bad:?}: {e}")
        };
        assert_eq!(e.class(), airssys_wasm::ErrorClass::Policy);
        assert!(!e.to_string().contains(['\n', '\u{1b}']), "{e}");
        assert!(!name.why.is_empty());
    }
    let events = audit.events();
    assert_eq!(events.len(), 4);
    for e in &events {
        assert_eq!(&*e.component, Runtime::INVALID_NAME);
        let AuditKind::LoadRejected { reason, .. } = &e.kind else {
            panic!("{:?}", e.kind)
        };
        assert!(reason.starts_with("invalid component name `"), "{reason}");
    }
    let AuditKind::LoadRejected { reason, .. } = &events[0].kind else {
        unreachable!()
    };
    assert!(reason.contains(r"`evil\nFAKE LINE`"), "{reason}");
    // A good name loads.
    rt.load(
        common::guest("hello"),
        LoadOptions::new().name("hello.v2_x-y"),
    )
    .unwrap();
}

#[test]
fn a_file_stem_becomes_a_name_of_plain_characters() {
    let (rt, audit) = common::runtime();
    let dir = tempfile::tempdir().unwrap();
    let hostile = dir.path().join("\u{1b}[2J\nroot me.wasm");
    std::fs::copy(common::guest("hello"), &hostile).unwrap();
    let c = rt.load(hostile.as_path(), LoadOptions::new()).unwrap();
    assert_eq!(c.name(), "2J_root_me");
    assert!(audit.events().iter().all(|e| &*e.component == "2J_root_me"));
    let plain = dir.path().join("plain-name.wasm");
    std::fs::copy(common::guest("hello"), &plain).unwrap();
    assert_eq!(
        rt.load(plain.as_path(), LoadOptions::new()).unwrap().name(),
        "plain-name"
    );
}
