//! Conformance with the Component Model's reference tests, on every
//! backend: the components of WebAssembly/component-model's `test/*.wast`
//! (adapted, each file under `tests/suite/conformance/` names where it comes
//! from), run through the facade. The wasmi backend implements the
//! canonical ABI itself, so these hold it to the spec and to wasmtime: the
//! same results, the same traps, in wasmtime's words.
//!
//! Over 700 lines on purpose: one regression test per divergence class of
//! the conformance issue, each short, and all on the same few helpers.

use crate::common;

use airssys_wasm::{Component, ErrorClass, LoadOptions, Runtime, Value};

/// Loads a component written in WAT.
fn load(rt: &Runtime, wat: &str) -> Component {
    let bytes = wat::parse_str(wat).expect("the WAT parses");
    rt.load(bytes, LoadOptions::new().name("conformance"))
        .unwrap_or_else(|e| panic!("loading: {e}"))
}

/// Calls `export` on a fresh instance of `c` (as each `assert_*` of the
/// reference tests does) and returns its results.
fn call(c: &Component, export: &str, args: &[Value]) -> Vec<Value> {
    let mut i = c.instantiate().unwrap();
    i.call(export, args)
        .unwrap_or_else(|e| panic!("calling `{export}`: {e}"))
}

/// Calls `export` on a fresh instance of `c`: it must trap, with a message
/// that contains `want`.
fn assert_trap(c: &Component, export: &str, args: &[Value], want: &str) {
    let mut i = c.instantiate().unwrap();
    let err = i.call(export, args).unwrap_err();
    assert_eq!(err.class(), ErrorClass::Trap, "`{export}`: {err:?}");
    assert!(
        err.to_string().contains(want),
        "`{export}`: expected a trap saying {want:?}, got: {err}"
    );
}

/// resources/borrows.wast, line 159 and 162: borrows of an owned handle
/// leave it usable after the call; moving the handle into the call that
/// borrows it traps.
#[test]
fn an_owned_handle_cannot_be_moved_while_it_is_lent() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let c = load(&rt, include_str!("conformance/borrows.wat"));
        assert_eq!(call(&c, "run", &[]), vec![Value::U32(42)]);
        assert_trap(
            &c,
            "lend-trap",
            &[],
            "cannot remove owned resource while borrowed",
        );
    });
}

/// A callee given a borrow handle must drop it before it returns.
#[test]
fn a_borrow_handle_kept_past_its_call_traps() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let c = load(&rt, include_str!("conformance/borrow-kept.wat"));
        assert_eq!(call(&c, "lend-dropped", &[]), vec![Value::U32(1)]);
        assert_trap(
            &c,
            "lend-kept",
            &[],
            "borrow handles still remain at the end of the call",
        );
    });
}

/// resources/handle-table.wast, line 49: handles count from 1, and a freed
/// handle is reused before a new one is made, the most recently freed
/// first.
#[test]
fn freed_handles_are_reused_most_recent_first() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let c = load(&rt, include_str!("conformance/handle-table-order.wat"));
        assert_eq!(call(&c, "run", &[]), vec![Value::U32(42)]);
    });
}

/// resources/handle-table.wast, line 106: dropping a handle and moving it
/// into a call both free its entry.
#[test]
fn a_drained_table_hands_out_handle_one_again() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let c = load(&rt, include_str!("conformance/handle-table-drained.wat"));
        assert_eq!(call(&c, "run", &[]), vec![Value::U32(43)]);
    });
}

/// values/realloc.wast, lines 109, 111 and 124: the pointer a guest's
/// `realloc` returns while the host lowers arguments into it is checked,
/// alignment first, then bounds (even of an empty list); a bad one is a
/// trap of the guest, not a bad call of the host.
#[test]
fn a_bad_pointer_from_the_guests_realloc_is_a_trap() {
    let list = |items: &[u32]| Value::List(items.iter().map(|&x| Value::U32(x)).collect());
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let oob = load(&rt, include_str!("conformance/realloc-host-oob.wat"));
        for args in [list(&[1, 2]), list(&[])] {
            assert_trap(&oob, "f", &[args], "realloc return: beyond end of memory");
        }
        let misaligned = load(&rt, include_str!("conformance/realloc-host-misaligned.wat"));
        assert_trap(
            &misaligned,
            "f",
            &[list(&[1, 2])],
            "realloc return: result not aligned",
        );
    });
}

/// The same check when the host copies a host function's result into the
/// guest: a bad pointer from the guest's `realloc` is the guest's trap, not
/// a failure of the host function.
#[test]
fn a_bad_pointer_from_the_guests_realloc_for_a_host_result_is_a_trap() {
    let bytes = common::component_of(
        "package test:r; world r { import get: func() -> string; export run: func() -> u32; }",
        "r",
        r#"(module
            (import "$root" "get" (func $get (param i32)))
            (memory (export "memory") 1)
            (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) i32.const -1)
            (func (export "run") (result i32)
              (call $get (i32.const 16))
              (i32.load (i32.const 20))))"#,
    );
    common::each_backend(|_| {
        let mut host = airssys_wasm::HostFunctions::new();
        host.define("", "get", |_, _, r| {
            r[0] = Value::from("hello");
            Ok(())
        });
        let (rt, _) = common::runtime_with_host(host);
        let c = rt.load(bytes.clone(), LoadOptions::new()).unwrap();
        assert_trap(&c, "run", &[], "realloc return: beyond end of memory");
    });
}

/// values/realloc.wast, lines 67 and 94: a fused adapter between two
/// components checks what the callee's `realloc` returned, and its trap
/// keeps its reason.
#[test]
fn an_adapter_trap_on_a_bad_realloc_result_keeps_its_reason() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let oob = load(&rt, include_str!("conformance/realloc-adapter-oob.wat"));
        assert_trap(&oob, "run", &[], "list content out-of-bounds");
        let misaligned = load(
            &rt,
            include_str!("conformance/realloc-adapter-misaligned.wat"),
        );
        assert_trap(&misaligned, "run", &[], "unaligned pointer");
    });
}

/// values/variants.wast, lines 73-79, and values/numerics.wast, lines
/// 194-198: out-of-range discriminants and invalid `char`s crossing
/// between two components trap with their reason.
#[test]
fn adapter_traps_on_bad_values_keep_their_reason() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let c = load(&rt, include_str!("conformance/bad-discriminant.wat"));
        for export in [
            "bad-variant-param",
            "bad-variant-result",
            "bad-enum-param",
            "bad-enum-result",
        ] {
            assert_trap(&c, export, &[], "invalid variant discriminant");
        }
        let c = load(&rt, include_str!("conformance/bad-char.wat"));
        for export in ["run-d800", "run-dfff", "run-too-big"] {
            assert_trap(&c, export, &[], "invalid `char` bit pattern");
        }
    });
}

/// resources/handle-table.wast, lines 201-213 and 322: unknown handles and
/// handles of another resource type trap, in wasmtime's words.
#[test]
fn bad_handles_trap_in_the_same_words() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let c = load(&rt, include_str!("conformance/handle-table-traps.wat"));
        for (export, want) in [
            ("drop-never-allocated", "unknown handle index 5"),
            ("rep-never-allocated", "unknown handle index 5"),
            ("double-drop", "unknown handle index 1"),
            ("drop-zero", "unknown handle index 0"),
            ("drop-max", "unknown handle index 4294967295"),
            ("own-use-after-drop", "unknown handle index 1"),
            ("borrow-never-valid", "unknown handle index 3"),
        ] {
            assert_trap(&c, export, &[], want);
        }
        let c = load(&rt, include_str!("conformance/handle-table-wrong-type.wat"));
        let want = "handle index 1 used with the wrong type, expected guest-defined resource but \
                    found a different guest-defined resource";
        assert_trap(&c, "drop-R1-as-R2", &[], want);
    });
}

/// A component that imports an interface function and a root function and
/// calls neither (no `canon lower` of them).
const UNCALLED_IMPORTS: &str = r#"(component
  (import "test:x/api" (instance (export "f" (func))))
  (import "log" (func))
  (core module $M (func (export "run") (result i32) (i32.const 1)))
  (core instance $m (instantiate $M))
  (func (export "run") (result u32) (canon lift (core func $m "run"))))"#;

/// A case of [`imports_no_one_calls_must_still_be_provided`]: the host
/// functions defined, the import named missing, what its hint says.
type MissingCase = (
    &'static [(&'static str, &'static str)],
    &'static str,
    &'static str,
);

/// Imports the host does not provide refuse the component at load, named,
/// even when the component never calls them, in the same words on every
/// backend.
#[test]
fn imports_no_one_calls_must_still_be_provided() {
    let define = |host: &mut airssys_wasm::HostFunctions, iface: &str, func: &str| {
        host.define(iface, func, |_, _, _| Ok(()));
    };
    let cases: [MissingCase; 3] = [
        (&[], "test:x/api", "no host function provides it"),
        (
            &[("test:x/api", "g")],
            "test:x/api#f",
            "the host defines this interface but not this function",
        ),
        (
            &[("test:x/api", "f")],
            "log",
            "no host function provides it",
        ),
    ];
    let mut words: Vec<Vec<String>> = Vec::new();
    common::each_backend(|_| {
        let mut seen = Vec::new();
        for (defined, missing, hint_text) in cases {
            let mut host = airssys_wasm::HostFunctions::new();
            for (iface, func) in defined {
                define(&mut host, iface, func);
            }
            let (rt, audit) = common::runtime_with_host(host);
            let bytes = wat::parse_str(UNCALLED_IMPORTS).unwrap();
            let err = rt.load(bytes, LoadOptions::new()).map(|_| ()).unwrap_err();
            assert_eq!(err.class(), ErrorClass::MissingImport, "{err:?}");
            let airssys_wasm::Error::MissingImport { name, hint } = &err else {
                panic!("expected a missing import, got {err:?}");
            };
            assert_eq!(name, missing);
            assert!(hint.contains(hint_text), "{hint}");
            assert_eq!(common::event_names(&audit), vec!["load-rejected"]);
            seen.push(err.to_string());
        }
        // With everything provided, the component loads and runs.
        let mut host = airssys_wasm::HostFunctions::new();
        define(&mut host, "test:x/api", "f");
        define(&mut host, "", "log");
        let (rt, _) = common::runtime_with_host(host);
        let c = load(&rt, UNCALLED_IMPORTS);
        assert_eq!(call(&c, "run", &[]), vec![Value::U32(1)]);
        words.push(seen);
    });
    assert!(
        words.windows(2).all(|w| w[0] == w[1]),
        "the backends word it differently: {words:#?}"
    );
}

/// A resource type imported from an interface that is not WASI: the host
/// provides none, so the component is refused at load, even when it never
/// uses it, in the same words on every backend.
#[test]
fn an_imported_resource_type_no_one_provides_is_refused_at_load() {
    let wat = r#"(component
      (import "test:x/res" (instance (export "r" (type (sub resource)))))
      (core module $M (func (export "run") (result i32) (i32.const 1)))
      (core instance $m (instantiate $M))
      (func (export "run") (result u32) (canon lift (core func $m "run"))))"#;
    let mut words = Vec::new();
    common::each_backend(|_| {
        let (rt, audit) = common::runtime();
        let bytes = wat::parse_str(wat).unwrap();
        let err = rt.load(bytes, LoadOptions::new()).map(|_| ()).unwrap_err();
        let airssys_wasm::Error::MissingImport { name, hint } = &err else {
            panic!("expected a missing import, got {err:?}");
        };
        assert_eq!(name, "test:x/res");
        assert!(
            hint.contains(
                "instance export `r` has the wrong type: resource implementation is missing"
            ),
            "{hint}"
        );
        assert_eq!(common::event_names(&audit), vec!["load-rejected"]);
        words.push(err.to_string());
    });
    assert!(
        words.windows(2).all(|w| w[0] == w[1]),
        "the backends word it differently: {words:#?}"
    );
}

/// A component given a borrow by the host must drop it before it returns,
/// as between two components.
#[test]
fn a_borrow_from_the_host_kept_past_its_call_traps() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let c = load(&rt, include_str!("conformance/host-borrow-kept.wat"));
        let mut i = c.instantiate().unwrap();
        // An owned handle passed where the function takes a borrow lends it.
        let handle = i.call("test:x/api#make", &[]).unwrap().remove(0);
        assert!(matches!(handle, Value::Resource(_)), "{handle:?}");
        for _ in 0..2 {
            i.call("test:x/api#drop", std::slice::from_ref(&handle))
                .unwrap();
        }
        let err = i.call("test:x/api#keep", &[handle]).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Trap, "{err:?}");
        assert!(
            err.to_string()
                .contains("borrow handles still remain at the end of the call"),
            "{err}"
        );
    });
}

/// values/strings.wast, lines 69 and 135: a string result outside memory
/// traps in wasmtime's words, even when it is empty; so do list results
/// outside memory or misaligned.
#[test]
fn results_outside_memory_trap_in_the_same_words() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        for wat in [
            include_str!("conformance/string-oob-empty.wat"),
            include_str!("conformance/string-oob-end.wat"),
        ] {
            let c = load(&rt, wat);
            assert_trap(
                &c,
                "f",
                &[],
                "string pointer/length out of bounds of memory",
            );
        }
        let c = load(&rt, include_str!("conformance/list-result-bad.wat"));
        assert_trap(
            &c,
            "oob",
            &[],
            "list pointer/length out of bounds of memory",
        );
        assert_trap(&c, "misaligned", &[], "list pointer is not aligned");
    });
}

/// The echo component of `conformance/transcode-echo.wat` with the caller
/// (`canon lower`) and callee (`canon lift`) string encodings filled in.
fn transcode_echo(rt: &Runtime, caller: &str, callee: &str) -> Component {
    let wat = include_str!("conformance/transcode-echo.wat")
        .replace(
            "string-encoding=CALLER",
            &format!("string-encoding={caller}"),
        )
        .replace(
            "string-encoding=CALLEE",
            &format!("string-encoding={callee}"),
        );
    load(rt, &wat)
}

/// Strings that take every path of the transcoders: empty, ASCII, Latin-1
/// only, wider than Latin-1 (in and beyond the BMP), long enough that a
/// first guess of the destination size is too small, and Latin-1 for a
/// long prefix before a wide character.
fn transcode_samples() -> Vec<String> {
    vec![
        String::new(),
        "ascii".into(),
        "grün höla".into(),
        "sn☃w".into(),
        "🍰 cake".into(),
        "ö".repeat(300),
        format!(
            "{}{}{}{}",
            "x".repeat(300),
            "ö".repeat(300),
            "☃".repeat(300),
            "🍰".repeat(100)
        ),
        format!("{}☃", "ö".repeat(200)),
        format!("{}🍰", "a".repeat(200)),
    ]
}

/// Calls `echo` with every sample on a component with encodings `caller`
/// to `callee`: each string comes back intact.
fn assert_echoes(rt: &Runtime, caller: &str, callee: &str) {
    let c = transcode_echo(rt, caller, callee);
    for s in transcode_samples() {
        let got = call(&c, "echo", &[Value::String(s.clone())]);
        assert_eq!(
            got,
            vec![Value::String(s.clone())],
            "{caller} -> {callee}: {s:?}"
        );
    }
}

/// values/transcode.wast, lines 5-111 and 113-200: strings cross between
/// a UTF-8 and a UTF-16 component both ways (utf8-to-utf16, utf16-to-utf8
/// with its partial first pass and growth), and are copied between two of
/// the same encoding.
#[test]
fn strings_are_transcoded_between_utf8_and_utf16_components() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        for (caller, callee) in [
            ("utf8", "utf16"),
            ("utf16", "utf8"),
            ("utf8", "utf8"),
            ("utf16", "utf16"),
        ] {
            assert_echoes(&rt, caller, callee);
        }
    });
}

/// values/transcode.wast, lines 202-300: strings cross to and from a
/// latin1+utf16 component: utf8-to-latin1 then utf8-to-compact-utf16,
/// utf16-to-latin1 then utf16-to-compact-utf16, and back latin1-to-utf8,
/// latin1-to-utf16 or a UTF-16 copy, as the content decides.
#[test]
fn strings_are_transcoded_to_and_from_latin1_utf16_components() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        for caller in ["utf8", "utf16"] {
            assert_echoes(&rt, caller, "latin1+utf16");
        }
    });
}

/// An invalid string (a lone UTF-8 lead byte, a lone surrogate) traps when
/// a fused adapter copies or transcodes it, in wasmtime's words.
#[test]
fn invalid_strings_trap_when_copied_or_transcoded() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        for callee in ["utf8", "utf16", "latin1+utf16"] {
            let c = transcode_echo(&rt, "utf8", callee);
            assert_trap(&c, "bad-utf8", &[], "invalid utf8 encoding");
            let c = transcode_echo(&rt, "utf16", callee);
            assert_trap(&c, "bad-utf16", &[], "invalid utf16 encoding");
        }
    });
}

/// values/transcode.wast, lines 202-400, with the host on one side: a
/// latin1+utf16 component takes strings from the host and gives them back
/// (Latin-1 or tagged UTF-16, as the content decides), also through a
/// second component of each encoding (utf16-to-compact-probably-utf16 and
/// the Latin-1 copy between two latin1+utf16 components).
#[test]
fn latin1_utf16_components_exchange_strings_with_the_host() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        for callee in ["utf8", "utf16", "latin1+utf16"] {
            assert_echoes(&rt, "latin1+utf16", callee);
        }
        // A lone surrogate behind a UTF-16-tagged length traps.
        let c = transcode_echo(&rt, "latin1+utf16", "utf8");
        assert_trap(&c, "bad-compact", &[], "invalid utf16 encoding");
    });
}

/// The host lowers a string argument with wasmtime's allocations: UTF-8
/// exactly; UTF-16 at two bytes per UTF-8 byte, then shrunk; latin1+utf16
/// at one byte per UTF-8 byte, shrunk when Latin-1 suffices, else grown to
/// two bytes per UTF-8 byte and shrunk to the code units (the length
/// tagged).
#[test]
fn string_arguments_are_allocated_as_wasmtime_allocates_them() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let tag = 1u32 << 31;
        // "ö☃": 5 UTF-8 bytes, 2 UTF-16 code units; "grün": 5 bytes, 4
        // Latin-1 characters.
        for (encoding, s, want) in [
            ("utf8", "ö☃", [1, 5, 5, 5]),
            ("utf16", "ö☃", [2, 10, 4, 2]),
            ("utf16", "ab", [1, 4, 4, 2]),
            ("latin1+utf16", "grün", [2, 5, 4, 4]),
            ("latin1+utf16", "abc", [1, 3, 3, 3]),
            ("latin1+utf16", "ö☃", [3, 5, 4, 2 | tag]),
            ("latin1+utf16", "", [1, 0, 0, 0]),
        ] {
            let wat = include_str!("conformance/string-lower-reallocs.wat").replace(
                "string-encoding=ENCODING",
                &format!("string-encoding={encoding}"),
            );
            let c = load(&rt, &wat);
            let got = call(&c, "take", &[Value::String(s.into())]);
            let want = Value::Tuple(want.into_iter().map(Value::U32).collect());
            assert_eq!(got, vec![want], "{encoding}: {s:?}");
        }
    });
}

/// A latin1+utf16 string the host lifts is 2-aligned even in its Latin-1
/// form; a UTF-8 one need not be.
#[test]
fn a_latin1_utf16_string_result_must_be_2_aligned() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let wat = include_str!("conformance/string-lower-reallocs.wat");
        let c = load(&rt, &wat.replace("ENCODING", "utf8"));
        assert_eq!(call(&c, "give-odd", &[]), vec![Value::String("\0".into())]);
        let c = load(&rt, &wat.replace("ENCODING", "latin1+utf16"));
        assert_trap(&c, "give-odd", &[], "string pointer not aligned to 2");
    });
}

/// A latin1+utf16 component calls a host function: the host lifts its
/// argument and lowers its result in that encoding, Latin-1 or tagged
/// UTF-16 as the content decides.
#[test]
fn a_latin1_utf16_component_calls_the_host_with_strings() {
    common::each_backend(|_| {
        let mut host = airssys_wasm::HostFunctions::new();
        host.define("", "shout", |_, args, r| {
            let Value::String(s) = &args[0] else {
                panic!("expected a string, got {args:?}");
            };
            r[0] = Value::String(format!("{}!", s.to_uppercase()));
            Ok(())
        });
        let (rt, _) = common::runtime_with_host(host);
        let c = load(
            &rt,
            include_str!("conformance/host-import-latin1-utf16.wat"),
        );
        for (s, want) in [("grün", "GRÜN!"), ("sn☃w", "SN☃W!"), ("ÿ", "Ÿ!"), ("", "!")] {
            let got = call(&c, "run", &[Value::String(s.into())]);
            assert_eq!(got, vec![Value::String(want.into())], "{s:?}");
        }
    });
}

/// validation/resources.wast, validation/core-modules.wast and
/// validation/annotated-names.wast define valid components that import
/// resource types, core modules and instances no host of ours provides:
/// `load` refuses them naming the import (the imports must resolve), and
/// `Runtime::check` accepts them (everything `load` checks but the
/// imports), as wasmtime's `Component::new` does. Checking audits nothing.
#[test]
fn a_valid_component_importing_what_no_host_provides_is_checked_not_loaded() {
    common::each_backend(|_| {
        let (rt, sink) = common::runtime();
        let bytes = wat::parse_str(include_str!("conformance/imports-unprovided.wat")).unwrap();
        let err = rt
            .load(bytes.clone(), LoadOptions::new())
            .err()
            .expect("refused");
        assert_eq!(err.class(), ErrorClass::MissingImport, "{err}");
        let text = err.to_string();
        assert!(
            ["`T1`", "`m`", "`i1`"].iter().any(|n| text.contains(n)),
            "{err}"
        );
        let before = sink.events().len();
        let info = rt.check(bytes).unwrap_or_else(|e| panic!("check: {e}"));
        let names: Vec<&str> = info.imports().iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["T1", "T2", "m", "i1"]);
        assert_eq!(sink.events().len(), before, "check audits nothing");
    });
}

/// `check` refuses what `load` would for the component itself: bytes that
/// are not a component, and code the backend cannot compile (exceptions:
/// off on both backends), with the error naming the cause.
#[test]
fn check_refuses_invalid_components_naming_the_cause() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let err = rt.check(b"\0asm\x0d\0\x01\0garbage".to_vec()).unwrap_err();
        assert_eq!(err.class(), ErrorClass::InvalidComponent, "{err}");
        let tags = wat::parse_str("(component (core module (tag)))").unwrap();
        let err = rt.check(tags).unwrap_err();
        assert_eq!(err.class(), ErrorClass::InvalidComponent, "{err}");
        assert!(err.to_string().contains("exceptions"), "{err}");
        let missing = std::env::temp_dir().join("airssys-wasm-no-such-component.wasm");
        let err = rt.check(missing.as_path()).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Io, "{err}");
    });
}

/// A component is validated with the WebAssembly features of the backend
/// that compiles it: what each backend's engine runs loads, and what it
/// does not is refused at validation with an error naming the proposal (no
/// description accepted that the engine then refuses, none refused that
/// it runs). Tail calls run on both; SIMD on wasmtime only (wasmi is built
/// without it); custom page sizes on neither.
#[test]
fn components_are_validated_with_their_backends_features() {
    common::each_backend(|kind| {
        let (rt, _) = common::runtime();
        let wasmi = kind.name() == "wasmi";
        let probes = [
            ("tail call", "(func $f return_call $f)", true, "tail"),
            (
                "simd",
                "(func (result v128) v128.const i64x2 0 0)",
                !wasmi,
                "SIMD",
            ),
            (
                "custom page sizes",
                "(memory 1 (pagesize 1))",
                false,
                "page size",
            ),
        ];
        for (proposal, module, runs, named) in probes {
            let bytes = wat::parse_str(format!(
                "(component (core module $m {module}) (core instance (instantiate $m)))"
            ))
            .unwrap();
            match rt.load(bytes, LoadOptions::new()) {
                Ok(_) => assert!(runs, "{proposal} loaded"),
                Err(e) => {
                    assert!(!runs, "{proposal}: {e}");
                    assert_eq!(e.class(), ErrorClass::InvalidComponent, "{e}");
                    assert!(e.to_string().contains(named), "{proposal}: {e}");
                }
            }
        }
    });
}

/// The wasmtime backend's feature set ([`FEATURES`]) is the one its engine
/// validates with: for each proposal a component can declare outside
/// function bodies, the engine and `ComponentInfo` agree on whether it is
/// valid. (Function bodies are validated by the engine alone.)
///
/// [`FEATURES`]: airssys_wasm::wasmtime_backend::FEATURES
#[cfg(feature = "wasmtime")]
#[test]
fn the_wasmtime_feature_set_is_the_engines() {
    use airssys_wasm::wasmtime_backend::{FEATURES, WasmtimeBackend, wasmtime};
    let backend = WasmtimeBackend::new().unwrap();
    let engine = backend
        .engine_for(&airssys_wasm::Limits::default())
        .unwrap();
    let probes = [
        ("simd", "(global v128 (v128.const i64x2 0 0))", true),
        (
            "reference types",
            "(table 1 funcref) (table 1 funcref)",
            true,
        ),
        ("externref", "(table 1 externref)", false),
        ("multi-memory", "(memory 1) (memory 1)", true),
        ("memory64", "(memory i64 1)", true),
        (
            "extended constants",
            "(global i32 (i32.add (i32.const 1) (i32.const 2)))",
            true,
        ),
        (
            "function references",
            "(type $t (func)) (global (ref null $t) (ref.null $t))",
            true,
        ),
        ("threads", "(memory 1 1 shared)", false),
        ("exceptions", "(tag)", false),
        ("GC", "(type (struct))", false),
        ("custom page sizes", "(memory 1 (pagesize 1))", false),
    ];
    for (proposal, module, accepted) in probes {
        let bytes = wat::parse_str(format!("(component (core module {module}))")).unwrap();
        let engine_ok = wasmtime::component::Component::new(engine, &bytes).is_ok();
        let info_ok = airssys_wasm::ComponentInfo::parse_for_compile(&bytes, FEATURES).is_ok();
        assert_eq!(engine_ok, accepted, "the engine on {proposal}");
        // Function bodies are left to the engine: these probes have none.
        assert_eq!(
            info_ok, engine_ok,
            "ComponentInfo and the engine on {proposal}"
        );
    }
}
