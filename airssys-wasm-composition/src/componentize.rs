//! A core WebAssembly module made into a component: what
//! `wasm-tools component embed` and `component new` do together, for guest
//! languages whose compilers write core modules (C with zig or clang,
//! AssemblyScript, TinyGo).
//!
//! The module's world comes from a WIT file or directory (its `deps/`
//! included) or from the `component-type` section a binding generator
//! already put in the module. A module that imports WASI preview 1
//! (`wasi_snapshot_preview1`, as wasi-libc does) is adapted to WASI 0.2 with
//! the reactor adapter of the wasmtime release the runtime is built on.

use std::path::Path;

use airssys_wasm_core::ComponentInfo;

use crate::ComposeError;

/// How the module's strings are encoded in its memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum StringEncoding {
    /// UTF-8 (C, Rust, Go).
    #[default]
    Utf8,
    /// UTF-16 (AssemblyScript, JavaScript engines): the host transcodes.
    Utf16,
}

/// What to make a component from, besides the module.
#[derive(Clone, Copy, Debug, Default)]
pub struct Componentize<'a> {
    /// The WIT file or directory holding the module's world. `None`: the
    /// module carries its world already (a binding generator's
    /// `component-type` section).
    pub wit: Option<&'a Path>,
    /// The world's name (`greeter`, or `ns:pkg/greeter`) when the WIT
    /// package holds more than one.
    pub world: Option<&'a str>,
    /// The module's string encoding.
    pub encoding: StringEncoding,
}

/// A component made from a core module.
pub struct Componentized {
    /// The component's bytes (validated).
    pub bytes: Vec<u8>,
    /// Its shape, as core reads any component.
    pub info: ComponentInfo,
    /// The WASI preview 1 functions the module imported, now served by the
    /// adapter through WASI 0.2 (empty: no adapter was needed).
    pub adapted: Vec<String>,
}

/// Makes a component of the core module `module` (`name` is used in
/// messages).
///
/// ```no_run
/// use airssys_wasm_composition::{Componentize, StringEncoding, componentize};
/// let core = std::fs::read("plugin.core.wasm").unwrap();
/// let made = componentize(
///     ("plugin.core.wasm", &core),
///     Componentize {
///         wit: Some(std::path::Path::new("wit")),
///         world: None,
///         encoding: StringEncoding::Utf8,
///     },
/// )
/// .unwrap();
/// std::fs::write("plugin.wasm", &made.bytes).unwrap();
/// ```
pub fn componentize(
    (name, module): (&str, &[u8]),
    options: Componentize<'_>,
) -> Result<Componentized, ComposeError> {
    let invalid = |reason: String| ComposeError::Invalid {
        component: name.to_owned(),
        reason,
    };
    if !wasmparser::Parser::is_core_wasm(module) {
        return Err(invalid(if wasmparser::Parser::is_component(module) {
            "it is a component already: nothing to do".into()
        } else {
            "not a core WebAssembly module (a compiler's `.wasm` output is)".into()
        }));
    }
    let adapted = preview1_imports(module).map_err(invalid)?;
    let mut module = module.to_vec();
    match options.wit {
        Some(wit) => {
            let mut resolve = wit_parser::Resolve::default();
            let (package, _) = resolve
                .push_path(wit)
                .map_err(|e| ComposeError::Wit(wit_error(&resolve, &e)))?;
            let world = resolve
                .select_world(&[package], options.world)
                .map_err(|e| ComposeError::Wit(format!("{}: {e:#}", wit.display())))?;
            let encoding = match options.encoding {
                StringEncoding::Utf8 => wit_component::StringEncoding::UTF8,
                StringEncoding::Utf16 => wit_component::StringEncoding::UTF16,
            };
            wit_component::embed_component_metadata(&mut module, &resolve, world, encoding)
                .map_err(|e| ComposeError::Wit(format!("{e:#}")))?;
        }
        None if !has_component_type(&module) => {
            return Err(invalid(
                "it carries no WIT world: give the WIT that describes it (--wit DIR)".into(),
            ));
        }
        None => {}
    }
    let mut encoder = wit_component::ComponentEncoder::default()
        .module(&module)
        .map_err(|e| invalid(format!("{e:#}")))?;
    if !adapted.is_empty() {
        use wasi_preview1_component_adapter_provider as adapter;
        encoder = encoder
            .adapter(
                adapter::WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
                adapter::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
            )
            .map_err(|e| ComposeError::Graph(format!("the WASI preview 1 adapter: {e:#}")))?;
    }
    let bytes = encoder
        .validate(true)
        .encode()
        .map_err(|e| ComposeError::Componentize {
            module: name.to_owned(),
            reason: format!("{e:#}"),
        })?;
    let info = crate::info(name, &bytes)?;
    Ok(Componentized {
        bytes,
        info,
        adapted,
    })
}

/// A WIT error on one line, led by the file, line and column it names
/// (`world.wit:2:26: expected ...`) when it names one.
fn wit_error(resolve: &wit_parser::Resolve, e: &anyhow::Error) -> String {
    let rendered = resolve.render_error(e);
    let at = rendered
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("--> "));
    let innermost = e
        .chain()
        .last()
        .map(ToString::to_string)
        .unwrap_or_default();
    match at {
        Some(at) => format!("{at}: {innermost}"),
        None => format!("{e:#}"),
    }
}

/// The `wasi_snapshot_preview1` functions a core module imports.
fn preview1_imports(module: &[u8]) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        if let wasmparser::Payload::ImportSection(imports) = payload.map_err(|e| e.to_string())? {
            for import in imports.into_imports() {
                let import = import.map_err(|e| e.to_string())?;
                if import.module == "wasi_snapshot_preview1" {
                    names.push(import.name.to_string());
                }
            }
        }
    }
    Ok(names)
}

/// Whether a binding generator left the module's world in it.
fn has_component_type(module: &[u8]) -> bool {
    wasmparser::Parser::new(0)
        .parse_all(module)
        .filter_map(Result::ok)
        .any(|payload| {
            matches!(payload, wasmparser::Payload::CustomSection(s)
                if s.name().starts_with("component-type"))
        })
}
