//! Audit events serialise to stable JSON and back.

use airssys_wasm_core::{AuditEvent, AuditKind, CapabilityKind, ErrorClass, LimitKind};

#[test]
fn events_round_trip_through_json() {
    let events = [
        AuditKind::CapabilityDenied {
            capability: CapabilityKind::Filesystem,
            request: "read /etc/passwd".into(),
            outcome: "error".into(),
        },
        AuditKind::LimitHit {
            instance: 3,
            function: "spin".into(),
            limit: LimitKind::Fuel,
            error: "out of fuel".into(),
        },
        AuditKind::Trapped {
            instance: 3,
            function: "crash".into(),
            error: "trap".into(),
            class: ErrorClass::Trap,
        },
    ];
    for kind in events {
        let e = AuditEvent::new("demo", kind);
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains(r#""component":"demo""#), "{json}");
        let back: AuditEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(back.kind, e.kind);
        assert_eq!(back.component, e.component);
    }
    let json = serde_json::to_string(&AuditEvent::new(
        "demo",
        AuditKind::LimitHit {
            instance: 1,
            function: "spin".into(),
            limit: LimitKind::Fuel,
            error: "x".into(),
        },
    ))
    .unwrap();
    assert!(json.contains(r#""event":"limit-hit""#), "{json}");
    assert!(json.contains(r#""limit":"fuel""#), "{json}");
}
