//! Plug composition: the guests `logger-app` (imports `logger`) and
//! `logger-plug` (exports it), plus plugs made here that do not fit.

use std::path::PathBuf;

use airssys_wasm_composition::{ComposeError, compose};

fn guest(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/guests")
        .join(format!("{name}.wasm"));
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}: run `cargo xtask guests` first", path.display()))
}

/// A component exporting `world`'s interfaces from `wit`, with bodies that
/// trap: enough to compose, which only needs types.
fn component_from_wit(wit: &str, world: &str) -> Vec<u8> {
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve.push_str("plug.wit", wit).unwrap();
    let world = resolve.select_world(&[pkg], Some(world)).unwrap();
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

/// The composed app: its logger is inside, so it imports only what the
/// host provides (airssys:host), and exports what the app exports.
fn assert_needs_only_the_host(composed: &airssys_wasm_composition::Composed) {
    let imports: Vec<&str> = composed
        .info
        .imports()
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(
        imports,
        ["airssys:host/types@0.1.0", "airssys:host/clocks@0.1.0"]
    );
    let exports: Vec<&str> = composed
        .info
        .exports()
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(exports, ["run", "now"]);
}

fn error(socket: &[u8], plugs: &[(&str, &[u8])]) -> ComposeError {
    match compose(("logger-app.wasm", socket), plugs) {
        Ok(_) => panic!("composition should fail"),
        Err(e) => e,
    }
}

#[test]
fn a_plug_satisfies_the_apps_import() {
    let composed = compose(
        ("logger-app.wasm", &guest("logger-app")),
        &[("logger-plug.wasm", &guest("logger-plug"))],
    )
    .unwrap();
    assert_needs_only_the_host(&composed);
}

#[test]
fn a_plug_that_fits_nothing_is_named_with_both_sides() {
    let e = error(&guest("logger-app"), &[("hostile.wasm", &guest("hostile"))]);
    assert!(matches!(e, ComposeError::Unused { .. }));
    insta::assert_snapshot!(e.to_string(), @r"
    hostile.wasm satisfies none of logger-app.wasm's imports
      logger-app.wasm imports: airssys:test/logger@0.1.0, airssys:host/types@0.1.0, airssys:host/clocks@0.1.0
      hostile.wasm exports: spin, grow-memory, recurse, crash, huge-string, ok
    ");
}

#[test]
fn a_type_mismatch_names_the_function_and_both_types() {
    let bad = component_from_wit(
        "package airssys:test@0.1.0;\n\
         interface logger { log: func(message: u32) -> string; }\n\
         world bad { export logger; }",
        "bad",
    );
    let e = error(&guest("logger-app"), &[("bad-logger.wasm", &bad)]);
    insta::assert_snapshot!(e.to_string(), @r"
    bad-logger.wasm exports `airssys:test/logger@0.1.0`, but not with the types logger-app.wasm imports it with:
      `log`: imported as `func(message: string) -> string`, exported as `func(message: u32) -> string`
    ");
}

#[test]
fn two_plugs_for_one_import_are_refused() {
    let plug = guest("logger-plug");
    let e = error(
        &guest("logger-app"),
        &[("a.wasm", &plug), ("b.wasm", &plug)],
    );
    assert_eq!(
        e.to_string(),
        "both a.wasm and b.wasm export `airssys:test/logger@0.1.0`; give only one of them"
    );
}

#[test]
fn garbage_is_refused_as_invalid() {
    let e = error(b"not wasm", &[]);
    assert!(
        matches!(e, ComposeError::Invalid { ref component, .. } if component == "logger-app.wasm"),
        "{e}"
    );
}

const WAC: &str = r#"package airssys:composed;

let logger = new airssys:logger-plug {};
let app = new airssys:logger-app {
    "airssys:test/logger@0.1.0": logger["airssys:test/logger@0.1.0"],
    ...
};
export app["run"];
export app["now"];
"#;

#[test]
fn a_wac_document_composes_named_packages() {
    let (app, plug) = (guest("logger-app"), guest("logger-plug"));
    let composed = airssys_wasm_composition::compose_wac(
        ("app.wac", WAC),
        &[("airssys:logger-app", &app), ("airssys:logger-plug", &plug)],
    )
    .unwrap();
    assert_needs_only_the_host(&composed);
}

#[test]
fn wac_errors_name_the_line() {
    let (app, plug) = (guest("logger-app"), guest("logger-plug"));
    let deps: [(&str, &[u8]); 2] = [("airssys:logger-app", &app), ("airssys:logger-plug", &plug)];
    let missing = airssys_wasm_composition::compose_wac(("app.wac", WAC), &deps[..1])
        .err()
        .unwrap();
    let typo = WAC.replace("export app[\"run\"];", "export app[\"rn\"];");
    let bad_export = airssys_wasm_composition::compose_wac(("app.wac", &typo), &deps)
        .err()
        .unwrap();
    let syntax =
        airssys_wasm_composition::compose_wac(("app.wac", "package x:y;\nlet = 1;\n"), &deps)
            .err()
            .unwrap();
    insta::assert_snapshot!(format!("{missing}\n---\n{bad_export}\n---\n{syntax}"));
}
