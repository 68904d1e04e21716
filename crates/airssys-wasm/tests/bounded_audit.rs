//! What the runtime records is bounded: a guest's huge request is recorded
//! capped and marked.

mod common;

use airssys_wasm::audit::MAX_AUDIT_TEXT;
use airssys_wasm::{AuditKind, Limits, LoadOptions, Value};

fn err_text(v: &Value) -> String {
    match v {
        Value::Result(Err(Some(e))) => e.as_str().unwrap().to_owned(),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn a_50_mib_namespace_is_recorded_capped_and_marked() {
    common::each_backend(|_| {
        let (rt, audit) = common::runtime();
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
