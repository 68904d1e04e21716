//! Static composition of airssys-wasm components: plug the exports of some
//! components into the matching imports of another, into one component.
//!
//! ```no_run
//! let app = std::fs::read("app.wasm").unwrap();
//! let logger = std::fs::read("logger.wasm").unwrap();
//! let composed = airssys_wasm_composition::compose(
//!     ("app.wasm", &app),
//!     &[("logger.wasm", &logger)],
//! )
//! .unwrap();
//! println!("still imports: {:?}", composed.info.imports());
//! std::fs::write("composed.wasm", &composed.bytes).unwrap();
//! ```
//!
//! Composition uses `wac-graph`. wac 0.12 is built on the 0.258 release of
//! the wasm-tools crates while the rest of the workspace is on 0.254 (the
//! train wasmtime 48 uses, and no wac release targets it); the two never
//! meet, because this crate takes and returns bytes, and reads the result
//! with core's [`ComponentInfo`] like any other component.
//!
//! Errors say what to do: a plug that satisfies nothing lists what the
//! socket imports and what the plug exports; an interface whose types
//! differ names the function and both types in WIT text.
//!
//! [`componentize`] makes a component of a core module and its WIT world,
//! for compilers that write core modules (C, AssemblyScript).
//!
//! Run-time linking (an app's import served by a separately loaded
//! provider, each keeping its own capabilities) is the facade's
//! `Runtime::link`.

mod componentize;

pub use componentize::{Componentize, Componentized, StringEncoding, componentize};

use airssys_wasm_core::{ComponentInfo, interface_mismatches};
use wac_graph::types::{Package, SubtypeChecker};
use wac_graph::{CompositionGraph, EncodeOptions};

/// A composed component and what it still imports and exports.
pub struct Composed {
    /// The component's bytes (validated).
    pub bytes: Vec<u8>,
    /// Its shape, as core reads any component.
    pub info: ComponentInfo,
}

/// Why a composition failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ComposeError {
    /// An input is not a valid component.
    #[error("{component}: not a valid component: {reason}")]
    Invalid {
        /// The input's name.
        component: String,
        /// What is wrong.
        reason: String,
    },
    /// A plug satisfies none of the socket's imports.
    #[error(
        "{plug} satisfies none of {socket}'s imports\n  {socket} imports: {}\n  {plug} exports: {}",
        list(socket_imports),
        list(plug_exports)
    )]
    Unused {
        /// The socket's name.
        socket: String,
        /// The plug's name.
        plug: String,
        /// What the socket imports.
        socket_imports: Vec<String>,
        /// What the plug exports.
        plug_exports: Vec<String>,
    },
    /// A plug exports an interface the socket imports, with other types.
    #[error(
        "{plug} exports `{interface}`, but not with the types {socket} imports it with:\n  {}",
        details.join("\n  ")
    )]
    TypeMismatch {
        /// The socket's name.
        socket: String,
        /// The plug's name.
        plug: String,
        /// The interface.
        interface: String,
        /// One line per function that differs.
        details: Vec<String>,
    },
    /// Two plugs export the same interface the socket imports.
    #[error("both {first} and {second} export `{interface}`; give only one of them")]
    Ambiguous {
        /// The interface.
        interface: String,
        /// The plug used first.
        first: String,
        /// The other plug.
        second: String,
    },
    /// A WAC document does not parse or resolve.
    #[error("{at}: {message}")]
    Wac {
        /// Where: `file:line:column`.
        at: String,
        /// What is wrong.
        message: String,
    },
    /// Building or encoding the composition failed.
    #[error("composing failed: {0}")]
    Graph(String),
    /// A WIT file or directory does not parse, or holds no such world.
    #[error("{0}")]
    Wit(String),
    /// A core module does not match its world (an export missing, a
    /// signature that differs), so it cannot be made a component.
    #[error("{module} does not fit its world: {reason}")]
    Componentize {
        /// The module's name.
        module: String,
        /// What wit-component found.
        reason: String,
    },
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(nothing)".into()
    } else {
        items.join(", ")
    }
}

fn info(name: &str, bytes: &[u8]) -> Result<ComponentInfo, ComposeError> {
    ComponentInfo::parse(bytes).map_err(|e| ComposeError::Invalid {
        component: name.to_owned(),
        reason: e.to_string(),
    })
}

/// Why an interface's functions differ, function by function, in WIT.
fn differences(socket: &ComponentInfo, plug: &ComponentInfo, interface: &str) -> Vec<String> {
    let mut out = interface_mismatches(
        socket.imported_interface(interface).unwrap_or_default(),
        plug.exported_interface(interface).unwrap_or_default(),
    );
    if out.is_empty() {
        out.push("the interface's types differ (resources or type definitions)".into());
    }
    out
}

/// Composes from a WAC document (`let x = new ns:name { ... }; export
/// x...;`). `document` is `(file name for messages, text)`; `deps` maps each
/// package the document names (`ns:name`) to its component bytes.
/// Errors name the document's line and column.
///
/// ```no_run
/// let wac = "package demo:app;\nlet logger = new my:logger {};\n\
///            let app = new my:app { logger: logger.logger };\nexport app.run;\n";
/// let composed = airssys_wasm_composition::compose_wac(
///     ("app.wac", wac),
///     &[("my:logger", &std::fs::read("logger.wasm").unwrap()),
///       ("my:app", &std::fs::read("app.wasm").unwrap())],
/// )
/// .unwrap();
/// # let _ = composed;
/// ```
pub fn compose_wac(
    document: (&str, &str),
    deps: &[(&str, &[u8])],
) -> Result<Composed, ComposeError> {
    use miette::Diagnostic;
    let (file, text) = document;
    let at = |e: &dyn Diagnostic| {
        let offset = e
            .labels()
            .and_then(|mut l| l.next())
            .map_or(0, |l| l.offset());
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!("{file}:{line}:{column}")
    };
    let doc = wac_parser::Document::parse(text).map_err(|e| ComposeError::Wac {
        at: at(&e),
        message: e.to_string(),
    })?;
    let mut packages = indexmap::IndexMap::new();
    for (name, bytes) in deps {
        if name.contains('@') {
            return Err(ComposeError::Wac {
                at: file.to_owned(),
                message: format!("dependency `{name}`: give the package name without a version"),
            });
        }
        packages.insert(
            wac_types::BorrowedPackageKey {
                name,
                version: None,
            },
            bytes.to_vec(),
        );
    }
    let resolution = doc.resolve(packages).map_err(|e| {
        let mut message = e.to_string();
        if message.starts_with("unknown package") {
            message.push_str("; give its component as a dependency (CLI: --dep NAME=FILE)");
        }
        ComposeError::Wac {
            at: at(&e),
            message,
        }
    })?;
    let bytes = resolution
        .encode(EncodeOptions::default())
        .map_err(|e| ComposeError::Wac {
            at: at(&e),
            message: e.to_string(),
        })?;
    let info = info("the composed component", &bytes)?;
    Ok(Composed { bytes, info })
}

fn graph_error(e: impl std::fmt::Display) -> ComposeError {
    ComposeError::Graph(format!("{e:#}"))
}

/// Adds a component to the graph as package `key`; `name` is for messages.
fn register(
    graph: &mut CompositionGraph,
    key: &str,
    name: &str,
    bytes: &[u8],
) -> Result<wac_graph::PackageId, ComposeError> {
    let package =
        Package::from_bytes(key, None, bytes.to_vec(), graph.types_mut()).map_err(|e| {
            ComposeError::Invalid {
                component: name.to_owned(),
                reason: format!("{e:#}"),
            }
        })?;
    graph.register_package(package).map_err(graph_error)
}

/// Plugs each plug's exports into the socket's imports of the same name and
/// returns the composed component: it exports what the socket exports and
/// imports what no plug provided (host interfaces such as WASI stay
/// imports). Inputs are `(name for messages, bytes)`.
pub fn compose(socket: (&str, &[u8]), plugs: &[(&str, &[u8])]) -> Result<Composed, ComposeError> {
    let (socket_name, socket_bytes) = socket;
    let socket_info = info(socket_name, socket_bytes)?;
    let mut graph = CompositionGraph::new();
    let socket_id = register(&mut graph, "airssys:socket", socket_name, socket_bytes)?;
    let socket_node = graph.instantiate(socket_id);
    let mut used: Vec<(String, String)> = Vec::new();

    for (i, (plug_name, plug_bytes)) in plugs.iter().enumerate() {
        let plug_info = info(plug_name, plug_bytes)?;
        let plug_id = register(
            &mut graph,
            &format!("airssys:plug{i}"),
            plug_name,
            plug_bytes,
        )?;
        let socket_world = graph[socket_id].ty();
        let plug_world = graph[plug_id].ty();
        let mut matches = Vec::new();
        {
            let types = graph.types();
            let mut cache = Default::default();
            let mut checker = SubtypeChecker::new(&mut cache);
            for (name, plug_ty) in &types[plug_world].exports {
                let Some(socket_ty) = types[socket_world].imports.get(name) else {
                    continue;
                };
                if checker
                    .is_subtype(*plug_ty, types, *socket_ty, types)
                    .is_err()
                {
                    return Err(ComposeError::TypeMismatch {
                        socket: socket_name.to_owned(),
                        plug: plug_name.to_string(),
                        interface: name.clone(),
                        details: differences(&socket_info, &plug_info, name),
                    });
                }
                matches.push(name.clone());
            }
        }
        if matches.is_empty() {
            return Err(ComposeError::Unused {
                socket: socket_name.to_owned(),
                plug: plug_name.to_string(),
                socket_imports: socket_info
                    .imports()
                    .iter()
                    .map(|i| i.name.clone())
                    .collect(),
                plug_exports: plug_info.exports().iter().map(|i| i.name.clone()).collect(),
            });
        }
        let plug_node = graph.instantiate(plug_id);
        for name in matches {
            if let Some((_, first)) = used.iter().find(|(n, _)| *n == name) {
                return Err(ComposeError::Ambiguous {
                    interface: name,
                    first: first.clone(),
                    second: plug_name.to_string(),
                });
            }
            let export = graph
                .alias_instance_export(plug_node, &name)
                .map_err(graph_error)?;
            graph
                .set_instantiation_argument(socket_node, &name, export)
                .map_err(graph_error)?;
            used.push((name, plug_name.to_string()));
        }
    }

    let exports: Vec<String> = graph.types()[graph[socket_id].ty()]
        .exports
        .keys()
        .cloned()
        .collect();
    for name in exports {
        let export = graph
            .alias_instance_export(socket_node, &name)
            .map_err(graph_error)?;
        graph.export(export, &name).map_err(graph_error)?;
    }
    let bytes = graph
        .encode(EncodeOptions::default())
        .map_err(graph_error)?;
    let info = info("the composed component", &bytes)?;
    Ok(Composed { bytes, info })
}
