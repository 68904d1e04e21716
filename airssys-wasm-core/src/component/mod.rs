//! What a component is: its digest and its WIT-level imports and exports,
//! read from the binary with `wasmparser` and `wit-parser`'s decoder, without
//! any engine; a component the decoder cannot read as a WIT world is
//! described structurally (`structural`).

mod structural;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use wasmparser::WasmFeatures;
use wit_parser::decoding::DecodedWasm;
use wit_parser::{Handle, Resolve, Type, TypeDefKind, WorldItem, WorldKey};

use crate::capability::CapabilityKind;
use crate::error::{Error, Result};
use crate::value::{FuncType, ValueType};

/// A blake3 digest of a component's bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(*blake3::hash(bytes).as_bytes())
    }

    /// Lowercase hex, without the `blake3:` prefix.
    pub fn to_hex(&self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "blake3:{}", self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An import or export of a component's world.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// The name: a plain name for root functions (`greet`), the full
    /// interface name for interfaces (`wasi:cli/stdout@0.2.6`).
    pub name: String,
    /// What it is.
    pub kind: ItemKind,
}

/// The kind of an [`Item`].
#[derive(Clone, Debug, PartialEq)]
pub enum ItemKind {
    /// A function at the world's root.
    Function(Arc<FuncType>),
    /// An interface and its functions.
    Interface(Vec<(String, Arc<FuncType>)>),
    /// A type (resources, records) the world shares.
    Type,
    /// Something else a component can import or export (a core module, a
    /// component, a value), named in words: only in components that are
    /// not shaped like a WIT world.
    Other(&'static str),
}

/// A component's identity and shape.
#[derive(Clone, Debug)]
pub struct ComponentInfo {
    digest: Digest,
    size: u64,
    imports: Vec<Item>,
    exports: Vec<Item>,
    wit: String,
}

impl ComponentInfo {
    /// Validates `bytes` as a component, function bodies included, and
    /// reads its shape.
    ///
    /// Fails with [`Error::InvalidComponent`] for malformed bytes, for a core
    /// module (with advice on wrapping it), and for components using types
    /// this version cannot call (`stream`, `future`, `error-context`).
    ///
    /// It validates with wasmparser's default set of WebAssembly features
    /// (the finished proposals); a runtime's load validates with its
    /// backend's set instead ([`crate::Backend::features`]).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        Self::parse_checking(bytes, true, WasmFeatures::default())
    }

    /// Like [`ComponentInfo::parse`], but leaves the validation of function
    /// bodies (most of the work for a large component) to the backend that
    /// compiles it: for a runtime's load, which always hands the bytes to a
    /// [`crate::Backend`], whose compilation validates them (wasmtime's, and
    /// wasmi's), or takes code from a cache that holds only code compiled
    /// from bytes with the same digest. Everything else is checked as by
    /// `parse`, against `features`: the WebAssembly features of the
    /// backend that compiles the component ([`crate::Backend::features`]),
    /// so the description never refuses a component the backend's engine
    /// accepts, nor accepts one it refuses.
    ///
    /// ```
    /// # let bytes = wat::parse_str("(component)").unwrap();
    /// use airssys_wasm_core::{ComponentInfo, WasmFeatures};
    /// let info = ComponentInfo::parse_for_compile(&bytes, WasmFeatures::default()).unwrap();
    /// assert!(info.exports().is_empty());
    /// ```
    pub fn parse_for_compile(bytes: &[u8], features: WasmFeatures) -> Result<Self> {
        Self::parse_checking(bytes, false, features)
    }

    fn parse_checking(bytes: &[u8], bodies: bool, features: WasmFeatures) -> Result<Self> {
        if wasmparser::Parser::is_core_wasm(bytes) {
            return Err(Error::InvalidComponent(
                "this is a core WebAssembly module, not a component; build it for a \
                 component target (e.g. wasm32-wasip2) or wrap it with \
                 `wasm-tools component new`"
                    .into(),
            ));
        }
        if !wasmparser::Parser::is_component(bytes) {
            return Err(Error::InvalidComponent(
                "not a WebAssembly binary (bad magic number or version)".into(),
            ));
        }
        let invalid = |e: wasmparser::BinaryReaderError| {
            Error::InvalidComponent(format!("validation failed: {e}"))
        };
        let mut validator = wasmparser::Validator::new_with_features(features);
        let mut parser = wasmparser::Parser::new(0);
        parser.set_features(*validator.features());
        let mut functions = Vec::new();
        // The top-level import and export names, in order (nested modules
        // and components have their own), and the top level's types.
        let (mut imports, mut exports) = (Vec::new(), Vec::new());
        let mut depth = 0usize;
        let mut types = None;
        for payload in parser.parse_all(bytes) {
            let payload = payload.map_err(invalid)?;
            match &payload {
                wasmparser::Payload::ModuleSection { .. }
                | wasmparser::Payload::ComponentSection { .. } => depth += 1,
                wasmparser::Payload::ComponentImportSection(s) if depth == 0 => {
                    for import in s.clone() {
                        imports.push(import.map_err(invalid)?.name.name.to_owned());
                    }
                }
                wasmparser::Payload::ComponentExportSection(s) if depth == 0 => {
                    for export in s.clone() {
                        exports.push(export.map_err(invalid)?.name.name.to_owned());
                    }
                }
                _ => {}
            }
            match validator.payload(&payload).map_err(invalid)? {
                wasmparser::ValidPayload::Func(func, body) if bodies => {
                    functions.push((func, body));
                }
                wasmparser::ValidPayload::End(t) => {
                    if depth == 0 {
                        types = Some(t);
                    } else {
                        depth -= 1;
                    }
                }
                _ => {}
            }
        }
        let mut allocations = wasmparser::FuncValidatorAllocations::default();
        for (func, body) in functions {
            let mut v = func.into_validator(allocations);
            v.validate(&body).map_err(invalid)?;
            allocations = v.into_allocations();
        }
        // The WIT decoder and printer are not written for hostile input:
        // a panic in them (a component the validator accepts but they do
        // not expect, such as plain functions imported under interface
        // names) is contained and refuses the component.
        let described =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Self::describe(bytes)))
                .unwrap_or_else(|panic| {
                    let why = crate::error::panic_message(&*panic);
                    Err(Error::InvalidComponent(format!(
                        "{NOT_WIT_SHAPED} the WIT decoder failed on it ({})",
                        crate::audit::capped(why)
                    )))
                });
        // A description that leaves out a top-level import or export (the
        // decoder skips what WIT has no word for, such as an imported core
        // module) is no description: the component is described
        // structurally instead.
        let described = described.and_then(|info| {
            let named = |items: &[Item], names: &[String]| {
                names
                    .iter()
                    .find(|n| !items.iter().any(|i| &i.name == *n))
                    .cloned()
            };
            match named(&info.imports, &imports).or_else(|| named(&info.exports, &exports)) {
                None => Ok(info),
                Some(left_out) => Err(Error::InvalidComponent(format!(
                    "{NOT_WIT_SHAPED} its WIT leaves out `{left_out}`"
                ))),
            }
        });
        // A valid component the decoder cannot read as a WIT world is
        // described as the validator typed it; its types are bounded the
        // same way.
        match described {
            Err(Error::InvalidComponent(why)) if why.starts_with(NOT_WIT_SHAPED) => {
                let types = types.ok_or_else(|| {
                    Error::InvalidComponent(format!("{why} (and it has no top-level types)"))
                })?;
                let shape = structural::Shape {
                    imports: &imports,
                    exports: &exports,
                    types: types.as_ref(),
                };
                let reason = why
                    .strip_prefix(NOT_WIT_SHAPED)
                    .unwrap_or(&why)
                    .trim_start();
                let (imports, exports, wit) = structural::describe(&shape, reason)?;
                Ok(Self {
                    digest: Digest::of(bytes),
                    size: bytes.len() as u64,
                    imports,
                    exports,
                    wit,
                })
            }
            other => other,
        }
    }

    /// The description of a valid component: its WIT, imports and exports.
    fn describe(bytes: &[u8]) -> Result<Self> {
        let decoded = wit_parser::decoding::decode(bytes)
            .map_err(|e| Error::InvalidComponent(format!("{NOT_WIT_SHAPED} {e:#}")))?;
        let DecodedWasm::Component(resolve, world_id) = decoded else {
            return Err(Error::InvalidComponent(
                "this is a WIT package encoded as WebAssembly, not a runnable component".into(),
            ));
        };
        let world = &resolve.worlds[world_id];
        let conv = Converter {
            resolve: &resolve,
            types: Default::default(),
            sizes: Default::default(),
        };
        let items = |map: &wit_parser::IndexMap<WorldKey, WorldItem>| -> Result<Vec<Item>> {
            map.iter()
                .map(|(key, item)| conv.item(&resolve.name_world_key(key), item))
                .collect()
        };
        let imports = items(&world.imports)?;
        let exports = items(&world.exports)?;
        let mut printer = wit_component::WitPrinter::default();
        printer
            .print(
                &resolve,
                world.package.expect("decoded worlds have a package"),
                &[],
            )
            .map_err(|e| Error::InvalidComponent(format!("{NOT_WIT_SHAPED} printing it: {e:#}")))?;
        Ok(Self {
            digest: Digest::of(bytes),
            size: bytes.len() as u64,
            imports,
            exports,
            wit: printer.output.to_string(),
        })
    }

    /// The digest of the bytes.
    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// The size of the bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// What the component imports.
    pub fn imports(&self) -> &[Item] {
        &self.imports
    }

    /// What the component exports.
    pub fn exports(&self) -> &[Item] {
        &self.exports
    }

    /// The component's world in WIT text.
    pub fn wit(&self) -> &str {
        &self.wit
    }

    /// Every exported function by call name (`greet`, `iface#func`) with its
    /// signature.
    pub fn export_functions(&self) -> impl Iterator<Item = (String, &Arc<FuncType>)> {
        self.exports.iter().flat_map(|item| {
            let funcs: Vec<(String, &Arc<FuncType>)> = match &item.kind {
                ItemKind::Function(ty) => vec![(item.name.clone(), ty)],
                ItemKind::Interface(fs) => fs
                    .iter()
                    .map(|(f, ty)| (format!("{}#{f}", item.name), ty))
                    .collect(),
                ItemKind::Type | ItemKind::Other(_) => Vec::new(),
            };
            funcs
        })
    }

    /// The signature of the export with call name `name`.
    pub fn export_function(&self, name: &str) -> Option<Arc<FuncType>> {
        let (iface, func) = match name.split_once('#') {
            Some((i, f)) => (Some(i), f),
            None => (None, name),
        };
        self.exports
            .iter()
            .find_map(|item| match (&item.kind, iface) {
                (ItemKind::Function(ty), None) if item.name == func => Some(ty.clone()),
                (ItemKind::Interface(fs), Some(i)) if item.name == i => {
                    fs.iter().find(|(f, _)| f == func).map(|(_, ty)| ty.clone())
                }
                _ => None,
            })
    }

    /// The call names of all exported functions, comma-separated (for error
    /// messages).
    pub fn export_names(&self) -> String {
        let names: Vec<String> = self.export_functions().map(|(n, _)| n).collect();
        if names.is_empty() {
            "(none)".into()
        } else {
            names.join(", ")
        }
    }

    /// Warnings about the exports' names: a function exported at the
    /// world's root under the name of a libc function that Rust's std and
    /// C's wasi-libc call (`read`, `write`, `open`, ...). Built with them,
    /// the guest's own calls of that function are linked to the export, so
    /// its file and stdin reads (say) trap with `unreachable`, with nothing
    /// else to tell its author why. Each warning names the export and what
    /// to rename it to.
    ///
    /// ```
    /// use airssys_wasm_core::ComponentInfo;
    /// let bytes = wat::parse_str(r#"(component
    ///   (core module $m (func (export "f") (result i32) i32.const 0))
    ///   (core instance $i (instantiate $m))
    ///   (func (export "read") (result u32) (canon lift (core func $i "f"))))"#).unwrap();
    /// let w = ComponentInfo::parse(&bytes).unwrap().export_warnings();
    /// assert!(w[0].starts_with("export `read` has the name of a libc function"), "{w:?}");
    /// ```
    pub fn export_warnings(&self) -> Vec<String> {
        self.exports
            .iter()
            .filter(|i| matches!(i.kind, ItemKind::Function(_)))
            .filter_map(|i| {
                let rename = LIBC_NAMES
                    .iter()
                    .find(|(name, _)| *name == i.name)
                    .map(|(_, rename)| rename)?;
                Some(format!(
                    "export `{name}` has the name of a libc function: in a guest built from \
                     Rust (wasm32-wasip2) or C with wasi-libc, the guest's own calls of libc's \
                     `{name}` (std makes them for files, stdin and sockets) run this export \
                     instead, which typically traps with `unreachable`; rename it, e.g. to \
                     `{rename}`",
                    name = i.name
                ))
            })
            .collect()
    }

    /// The functions of an interface this component imports, if it does.
    pub fn imported_interface(&self, name: &str) -> Option<&[(String, Arc<FuncType>)]> {
        interface_in(&self.imports, name)
    }

    /// The functions of an interface this component exports, if it does.
    pub fn exported_interface(&self, name: &str) -> Option<&[(String, Arc<FuncType>)]> {
        interface_in(&self.exports, name)
    }

    /// The kinds of capability the imports would need to do anything
    /// useful: WASI's, and those the providers serving the other imports
    /// declare.
    pub fn needed_capabilities(&self, providers: &crate::Providers) -> BTreeSet<CapabilityKind> {
        providers.needed_capabilities(self)
    }
}

fn interface_in<'a>(items: &'a [Item], name: &str) -> Option<&'a [(String, Arc<FuncType>)]> {
    items
        .iter()
        .find(|i| i.name == name)
        .and_then(|i| match &i.kind {
            ItemKind::Interface(funcs) => Some(funcs.as_slice()),
            _ => None,
        })
}

/// How an exported interface falls short of an import of it, one line per
/// function: `` `f`: imported as `T`, not exported `` or `` `f`: imported
/// as `T`, exported as `U` `` (types in WIT). Empty when every imported
/// function is exported with the same type. Composition and run-time
/// linking report mismatches with it.
///
/// ```
/// use airssys_wasm_core::interface_mismatches;
/// assert!(interface_mismatches(&[], &[]).is_empty());
/// ```
pub fn interface_mismatches(
    imported: &[(String, Arc<FuncType>)],
    exported: &[(String, Arc<FuncType>)],
) -> Vec<String> {
    imported
        .iter()
        .filter_map(
            |(name, ty)| match exported.iter().find(|(n, _)| n == name) {
                None => Some(format!("`{name}`: imported as `{ty}`, not exported")),
                Some((_, g)) if g.to_string() != ty.to_string() => {
                    Some(format!("`{name}`: imported as `{ty}`, exported as `{g}`"))
                }
                Some(_) => None,
            },
        )
        .collect()
}

/// How a failure to read a component as a WIT world begins; such a
/// component is described structurally instead.
const NOT_WIT_SHAPED: &str = "cannot read its WIT:";

/// The most parts one function's type may have, written out (every use of
/// a shared type counted again): a small file can name a type of 2^64
/// parts by nesting tuples of the type before, and every display, check
/// and layout of it would take that long. A larger type refuses the
/// component.
pub const MAX_TYPE_PARTS: u64 = 1 << 16;

struct Converter<'a> {
    resolve: &'a Resolve,
    /// Each named type converted once: its uses share it.
    types: std::cell::RefCell<std::collections::HashMap<wit_parser::TypeId, ValueType>>,
    /// Each type's size written out, computed once.
    sizes: std::cell::RefCell<std::collections::HashMap<wit_parser::TypeId, u64>>,
}

impl Converter<'_> {
    fn item(&self, name: &str, item: &WorldItem) -> Result<Item> {
        let kind = match item {
            WorldItem::Function(f) => ItemKind::Function(Arc::new(self.func(f)?)),
            WorldItem::Interface { id, .. } => {
                let iface = &self.resolve.interfaces[*id];
                ItemKind::Interface(
                    iface
                        .functions
                        .values()
                        .map(|f| Ok((f.name.clone(), Arc::new(self.func(f)?))))
                        .collect::<Result<_>>()?,
                )
            }
            WorldItem::Type { .. } => ItemKind::Type,
        };
        Ok(Item {
            name: name.to_owned(),
            kind,
        })
    }

    fn func(&self, f: &wit_parser::Function) -> Result<FuncType> {
        let parts = f
            .params
            .iter()
            .map(|p| &p.ty)
            .chain(&f.result)
            .fold(0u64, |n, t| n.saturating_add(self.size(t)));
        if parts > MAX_TYPE_PARTS {
            return Err(Error::InvalidComponent(format!(
                "function `{}`: its type has more than {MAX_TYPE_PARTS} parts when written out \
                 ({parts}); such a component is refused",
                f.name
            )));
        }
        Ok(FuncType {
            params: f
                .params
                .iter()
                .map(|p| Ok((p.name.clone(), self.ty(&p.ty)?)))
                .collect::<Result<_>>()?,
            result: f.result.as_ref().map(|t| self.ty(t)).transpose()?,
        })
        .map_err(|e: Error| match e {
            Error::InvalidComponent(msg) => {
                Error::InvalidComponent(format!("function `{}`: {msg}", f.name))
            }
            other => other,
        })
    }

    fn ty(&self, ty: &Type) -> Result<ValueType> {
        Ok(match ty {
            Type::Bool => ValueType::Bool,
            Type::U8 => ValueType::U8,
            Type::U16 => ValueType::U16,
            Type::U32 => ValueType::U32,
            Type::U64 => ValueType::U64,
            Type::S8 => ValueType::S8,
            Type::S16 => ValueType::S16,
            Type::S32 => ValueType::S32,
            Type::S64 => ValueType::S64,
            Type::F32 => ValueType::F32,
            Type::F64 => ValueType::F64,
            Type::Char => ValueType::Char,
            Type::String => ValueType::String,
            Type::ErrorContext => return Err(unsupported("error-context")),
            Type::Id(id) => {
                if let Some(t) = self.types.borrow().get(id) {
                    return Ok(t.clone());
                }
                let t = self.def(&self.resolve.types[*id].kind)?;
                self.types.borrow_mut().insert(*id, t.clone());
                t
            }
        })
    }

    /// How many parts `ty` has written out (saturating).
    fn size(&self, ty: &Type) -> u64 {
        let Type::Id(id) = ty else {
            return 1;
        };
        if let Some(n) = self.sizes.borrow().get(id) {
            return *n;
        }
        let sum = |types: &mut dyn Iterator<Item = &Type>| {
            types.fold(1u64, |n, t| n.saturating_add(self.size(t)))
        };
        let n = match &self.resolve.types[*id].kind {
            TypeDefKind::Type(t) | TypeDefKind::Option(t) | TypeDefKind::List(t) => {
                1u64.saturating_add(self.size(t))
            }
            TypeDefKind::Record(r) => sum(&mut r.fields.iter().map(|f| &f.ty)),
            TypeDefKind::Tuple(t) => sum(&mut t.types.iter()),
            TypeDefKind::Variant(v) => sum(&mut v.cases.iter().filter_map(|c| c.ty.as_ref())),
            TypeDefKind::Result(r) => sum(&mut r.ok.iter().chain(r.err.iter())),
            TypeDefKind::Enum(e) => e.cases.len() as u64 + 1,
            TypeDefKind::Flags(f) => f.flags.len() as u64 + 1,
            _ => 1,
        };
        self.sizes.borrow_mut().insert(*id, n);
        n
    }

    fn def(&self, kind: &TypeDefKind) -> Result<ValueType> {
        Ok(match kind {
            TypeDefKind::Type(t) => self.ty(t)?,
            TypeDefKind::Record(r) => ValueType::record(
                r.fields
                    .iter()
                    .map(|f| Ok((f.name.clone(), self.ty(&f.ty)?)))
                    .collect::<Result<Vec<_>>>()?,
            ),
            TypeDefKind::Tuple(t) => ValueType::tuple(
                t.types
                    .iter()
                    .map(|t| self.ty(t))
                    .collect::<Result<Vec<_>>>()?,
            ),
            TypeDefKind::Variant(v) => ValueType::variant(
                v.cases
                    .iter()
                    .map(|c| {
                        Ok((
                            c.name.clone(),
                            c.ty.as_ref().map(|t| self.ty(t)).transpose()?,
                        ))
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
            TypeDefKind::Enum(e) => ValueType::enumeration(e.cases.iter().map(|c| c.name.clone())),
            TypeDefKind::Flags(f) => ValueType::flags(f.flags.iter().map(|f| f.name.clone())),
            TypeDefKind::Option(t) => ValueType::option(self.ty(t)?),
            TypeDefKind::Result(r) => ValueType::result(
                r.ok.as_ref().map(|t| self.ty(t)).transpose()?,
                r.err.as_ref().map(|t| self.ty(t)).transpose()?,
            ),
            TypeDefKind::List(t) => ValueType::list(self.ty(t)?),
            TypeDefKind::Handle(h) => {
                let (id, owned) = match h {
                    Handle::Own(id) => (id, true),
                    Handle::Borrow(id) => (id, false),
                };
                ValueType::Resource(crate::value::ResourceType {
                    name: self.resource_name(*id).into(),
                    owned,
                })
            }
            TypeDefKind::Resource => {
                return Err(unsupported("a bare resource type outside a handle"));
            }
            TypeDefKind::Future(_) => return Err(unsupported("future")),
            TypeDefKind::Stream(_) => return Err(unsupported("stream")),
            other => return Err(unsupported(other.as_str())),
        })
    }

    fn resource_name(&self, mut id: wit_parser::TypeId) -> String {
        // Follow `type a = b` aliases to the resource itself.
        while let TypeDefKind::Type(Type::Id(next)) = self.resolve.types[id].kind {
            id = next;
        }
        self.resolve.types[id]
            .name
            .clone()
            .unwrap_or_else(|| "resource".into())
    }
}

pub(crate) fn unsupported(what: &str) -> Error {
    Error::InvalidComponent(format!(
        "uses the `{what}` type, which this version of airssys-wasm cannot call"
    ))
}

/// libc functions Rust's std and wasi-libc call on WASI, with a name to
/// rename an export of that name to.
const LIBC_NAMES: &[(&str, &str)] = &[
    ("read", "read-data"),
    ("write", "write-data"),
    ("open", "open-file"),
    ("close", "close-file"),
    ("lseek", "seek"),
    ("stat", "file-stat"),
    ("fstat", "file-stat"),
    ("unlink", "remove-file"),
    ("rename", "rename-file"),
    ("mkdir", "make-dir"),
    ("rmdir", "remove-dir"),
    ("opendir", "open-dir"),
    ("readdir", "read-dir"),
    ("closedir", "close-dir"),
    ("readlink", "read-link"),
    ("getcwd", "current-dir"),
    ("chdir", "change-dir"),
    ("getenv", "get-setting"),
    ("setenv", "set-setting"),
    ("exit", "finish"),
    ("abort", "stop"),
    ("malloc", "allocate"),
    ("calloc", "allocate"),
    ("realloc", "reallocate"),
    ("free", "release"),
    ("poll", "poll-events"),
    ("sleep", "pause"),
    ("nanosleep", "pause"),
    ("time", "now"),
    ("socket", "open-socket"),
    ("connect", "connect-to"),
    ("send", "send-data"),
    ("recv", "receive-data"),
    ("fsync", "sync-file"),
    ("isatty", "is-terminal"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_module_is_refused_with_advice() {
        let module = wat::parse_str("(module)").unwrap();
        let err = ComponentInfo::parse(&module).unwrap_err();
        assert!(matches!(err, Error::InvalidComponent(_)));
        assert!(err.to_string().contains("core WebAssembly module"), "{err}");
    }

    #[test]
    fn garbage_is_refused() {
        let err = ComponentInfo::parse(b"\0asm\x0d\0\x01\0garbage").unwrap_err();
        assert!(err.to_string().starts_with("invalid component"), "{err}");
        let err = ComponentInfo::parse(b"hello").unwrap_err();
        assert!(err.to_string().contains("bad magic"), "{err}");
    }

    #[test]
    fn empty_component_has_no_items() {
        let bytes = wat::parse_str("(component)").unwrap();
        let info = ComponentInfo::parse(&bytes).unwrap();
        assert!(info.imports().is_empty());
        assert!(info.exports().is_empty());
        assert_eq!(info.digest(), Digest::of(&bytes));
        assert_eq!(info.export_names(), "(none)");
    }
}
