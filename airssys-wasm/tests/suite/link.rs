//! Run-time linking: `logger-app` imports `logger`; providers `logger-plug`
//! and `logger-shout` (which can also panic or spin) are loaded separately
//! and linked, relinked, and fail, while each side keeps its own identity,
//! grants and limits.

use crate::common;

use airssys_wasm::{AuditKind, Capability, Error, Limits, LoadOptions, Value};

const LOGGER: &str = "airssys:test/logger@0.1.0";

fn run(app: &mut airssys_wasm::Instance, name: &str) -> Result<String, Error> {
    app.call("run", &[Value::from(name)])
        .map(|v| v[0].as_str().unwrap().to_owned())
}

#[test]
fn link_relink_and_survive_a_failing_provider() {
    common::each_backend(|_| {
        let (rt, audit) = common::runtime();
        let app = common::load(&rt, "logger-app", LoadOptions::new().linked(LOGGER));
        let mut i = app.instantiate().unwrap();

        let e = run(&mut i, "ada").unwrap_err();
        assert!(
            matches!(&e, Error::HostFailed { message, .. } if message.contains("not linked")),
            "{e}"
        );

        let plug = common::load(&rt, "logger-plug", LoadOptions::new());
        rt.link(&app, LOGGER, &plug).unwrap();
        assert_eq!(
            run(&mut i, "ada").unwrap(),
            "[logger-plug] hello ada (from logger-app)"
        );

        // Relink: the same app instance now reaches the new provider.
        let shout = common::load(
            &rt,
            "logger-shout",
            LoadOptions::new()
                .grant(Capability::Clocks)
                .limits(Limits::default().with_fuel(5_000_000)),
        );
        rt.link(&app, LOGGER, &shout).unwrap();
        assert_eq!(
            run(&mut i, "ada").unwrap(),
            "[SHOUT] HELLO ADA (from logger-app)"
        );

        // The provider traps: the app sees a typed error naming it, and both go on.
        let e = run(&mut i, "panic").unwrap_err();
        assert!(
            matches!(&e, Error::HostFailed { message, .. }
                if message.contains("provider `logger-shout` failed") && message.contains("trap")),
            "{e}"
        );
        assert_eq!(
            run(&mut i, "bob").unwrap(),
            "[SHOUT] HELLO BOB (from logger-app)"
        );

        // The provider spins: its own fuel stops it; the app's budget is its own.
        let e = run(&mut i, "spin").unwrap_err();
        assert!(
            matches!(&e, Error::HostFailed { message, .. } if message.contains("out of fuel after 5000000")),
            "{e}"
        );
        assert_eq!(
            run(&mut i, "cy").unwrap(),
            "[SHOUT] HELLO CY (from logger-app)"
        );

        // Identities and grants stay apart: the provider holds clocks, the app
        // is still denied them.
        let now = i.call("now", &[]).unwrap().remove(0);
        assert!(
            matches!(&now, Value::Result(Err(Some(e))) if e.as_str().unwrap().contains("clocks")),
            "{now:?}"
        );
        assert!(
            app.capabilities().is_empty(),
            "the provider's grants do not reach the app"
        );
        let events = audit.events();
        assert!(
            events
                .iter()
                .any(|e| &*e.component == "logger-shout"
                    && matches!(e.kind, AuditKind::LimitHit { .. })),
            "the provider's limit hit is its own"
        );
        let link_calls: Vec<(&str, String)> = events
            .iter()
            .filter_map(|e| match &e.kind {
                AuditKind::LinkCall {
                    callee, outcome, ..
                } => Some((&*e.component, format!("{callee}: {outcome}"))),
                _ => None,
            })
            .collect();
        assert!(
            link_calls.iter().all(|(caller, _)| *caller == "logger-app"),
            "{link_calls:?}"
        );
        assert_eq!(link_calls.len(), 6, "{link_calls:?}");
        assert_eq!(link_calls[0].1, "logger-plug: ok");
    });
}

#[test]
fn link_errors_say_what_to_fix() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let plain = common::load(
            &rt,
            "logger-app",
            LoadOptions::new().name("plain").linked(LOGGER),
        );
        let values = common::load(&rt, "values", LoadOptions::new());
        let e = rt.link(&plain, LOGGER, &values).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`values` does not export `airssys:test/logger@0.1.0`"
        );
        let e = rt
            .link(&plain, "airssys:test/other@0.1.0", &values)
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("was not loaded with LoadOptions::linked"),
            "{e}"
        );

        let e = rt
            .load(
                common::guest("logger-app"),
                LoadOptions::new().linked("airssys:test/nothing@0.1.0"),
            )
            .err()
            .unwrap();
        assert!(
            e.to_string().contains(
                "is not an interface this component imports; it imports: airssys:test/logger@0.1.0"
            ),
            "{e}"
        );
    });
}

/// An app whose imported interface passes resources: built here from the
/// test WIT with trapping bodies (only its types matter).
fn resource_app() -> Vec<u8> {
    let mut resolve = wit_parser::Resolve::default();
    let wit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../guests/wit/test.wit");
    resolve.push_file(&wit).unwrap();
    let pkg = resolve
        .push_str(
            "app.wit",
            "package airssys:res-app;\nworld app { import airssys:test/resources@0.1.0; export go: func(); }",
        )
        .unwrap();
    let world = resolve.select_world(&[pkg], Some("app")).unwrap();
    let mut module =
        wit_component::dummy_module(&resolve, world, wit_parser::ManglingAndAbi::Standard32);
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .unwrap();
    wit_component::ComponentEncoder::default()
        .module(&module)
        .unwrap()
        .validate(true)
        .encode()
        .unwrap()
}

#[test]
fn resources_do_not_cross_a_link() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let outcome = rt
            .load(
                resource_app(),
                LoadOptions::new()
                    .name("res-app")
                    .linked("airssys:test/resources@0.1.0"),
            )
            .and_then(|app| {
                let values = common::load(&rt, "values", LoadOptions::new());
                rt.link(&app, "airssys:test/resources@0.1.0", &values)
            });
        let e = outcome.unwrap_err();
        assert!(matches!(e, Error::Composition(_)), "{e}");
        assert!(
            e.to_string().starts_with(
                "`airssys:test/resources@0.1.0` passes resources (`[constructor]counter: func(start: u32) -> own<counter>`), which do not cross a run-time link"
            ),
            "{e}"
        );
    });
}
