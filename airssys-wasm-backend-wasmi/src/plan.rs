//! Compile time: a component flattened by `wasmtime-environ`'s translator
//! into a plan that every instance replays on wasmi.
//!
//! The plan holds the component's core modules compiled for wasmi, its
//! initializers (instantiate a module, extract a memory, a `realloc`, a
//! `post-return`, declare a resource), its trampolines (lowered host imports,
//! resource intrinsics) and its lifted exports, all resolved once.

use std::collections::HashMap;
use std::sync::Arc;

use airssys_wasm_core::{ComponentInfo, Error, FuncType, HostFn, HostFunctions, ItemKind, Result};
use wasmtime_environ::component::{
    CanonicalOptions, Component, ComponentTypes, ComponentTypesBuilder, CoreDef, Export,
    GlobalInitializer, OptionsIndex, StaticModuleIndex, Trampoline, TrampolineIndex, Translator,
    TypeDef, TypeFuncIndex, TypeResourceTable,
};
use wasmtime_environ::{EntityIndex, PrimaryMap, ScopeVec, Tunables, WasmValType};

/// What serves a lowered import.
#[derive(Clone)]
pub(crate) enum Provider {
    /// A function of the runtime's host table.
    Host(Arc<HostFn>),
    /// A function of this backend's WASI subset.
    Wasi(crate::wasi::WasiFn),
}

/// One lowered host import: which host function a trampoline calls.
pub(crate) struct Lowered {
    /// `interface#function`, or `function` at the world's root.
    pub name: Arc<str>,
    /// What serves it.
    pub func: Provider,
    /// Its signature in the core value model.
    pub func_type: Arc<FuncType>,
}

/// One lifted export function.
pub(crate) struct LiftedExport {
    /// The component-level function type.
    pub ty: TypeFuncIndex,
    /// The core function that implements it.
    pub func: CoreDef,
    /// Its canonical options (memory, realloc, post-return).
    pub options: OptionsIndex,
    /// The signature in the core value model.
    pub func_type: Arc<FuncType>,
    /// Its flattened parameters and results.
    pub flat: Arc<crate::layout::FlatSig>,
}

/// A core function type, as wasmi needs it.
#[derive(Clone, Debug)]
pub(crate) struct CoreSig {
    pub params: Vec<wasmi::ValType>,
    pub results: Vec<wasmi::ValType>,
}

/// Everything an instance needs, computed once per component.
pub(crate) struct Plan {
    pub component: Component,
    pub types: ComponentTypes,
    pub trampolines: PrimaryMap<TrampolineIndex, Trampoline>,
    /// The core signature of each trampoline.
    pub trampoline_sigs: PrimaryMap<TrampolineIndex, CoreSig>,
    pub modules: PrimaryMap<StaticModuleIndex, wasmi::Module>,
    /// For each module, the export name of each exported entity: the
    /// translator refers to some exports by index.
    pub export_names_by_index: PrimaryMap<StaticModuleIndex, HashMap<EntityIndex, String>>,
    /// For each module, its imports `(module, name)` in binary order: the
    /// order of the translator's instantiation arguments.
    pub import_names: PrimaryMap<StaticModuleIndex, Vec<(String, String)>>,
    /// Host functions by `LoweredIndex`.
    pub lowered: Vec<Lowered>,
    /// Exports by call name (`name` or `interface#name`).
    pub exports: HashMap<String, LiftedExport>,
    /// The capability kinds whose grant decides what WASI gives.
    pub wasi_needed: Vec<airssys_wasm_core::CapabilityKind>,
}

impl Plan {
    /// The canonical options of `index`.
    pub fn options(&self, index: OptionsIndex) -> &CanonicalOptions {
        &self.component.options[index]
    }
}

/// Translates `bytes` and compiles its core modules on `engine`, linking
/// the component's function imports to `host`; without a host, imports are
/// not resolved (a check that the backend can compile the component).
pub(crate) fn build(
    engine: &wasmi::Engine,
    bytes: &[u8],
    info: &ComponentInfo,
    host: Option<&HostFunctions>,
) -> Result<Plan> {
    let mut tunables = Tunables::default_u32();
    // Synchronous components only (as on the wasmtime backend): fused
    // adapters then need no task state.
    tunables.concurrency_support = false;
    let scope = ScopeVec::new();
    let mut validator = wasmparser::Validator::new_with_features(crate::features::features());
    let mut types = ComponentTypesBuilder::new(&validator);
    let (translation, module_translations) =
        Translator::new(&tunables, &mut validator, &mut types, &scope)
            .translate(bytes)
            .map_err(|e| Error::InvalidComponent(format!("{e:#}")))?;
    let component = translation.component;
    let (types, _) = types.finish(&component);

    let mut modules = PrimaryMap::new();
    let mut export_names_by_index = PrimaryMap::new();
    let mut import_names = PrimaryMap::new();
    for (_, t) in module_translations.iter() {
        let module = wasmi::Module::new(engine, t.wasm).map_err(|e| {
            Error::InvalidComponent(format!("a core module cannot run on wasmi: {e}"))
        })?;
        modules.push(module);
        let names = t
            .module
            .exports
            .iter()
            .map(|(atom, index)| (*index, t.module.strings[atom].to_owned()))
            .collect();
        export_names_by_index.push(names);
        import_names.push(
            t.module
                .imports()
                .map(|(m, n, _)| (m.to_owned(), n.to_owned()))
                .collect(),
        );
    }

    let mut trampoline_sigs = PrimaryMap::new();
    for (index, trampoline) in translation.trampolines.iter() {
        check_trampoline(trampoline, &component)?;
        let ty = types.module_types()[component.trampolines[index]].unwrap_func();
        trampoline_sigs.push(CoreSig {
            params: ty.params().iter().map(val_type).collect::<Result<_>>()?,
            results: ty.results().iter().map(val_type).collect::<Result<_>>()?,
        });
    }
    for options in component.options.values() {
        check_options(options)?;
    }

    let lowered = match host {
        Some(host) => {
            // Refused whether or not the component calls them (lowers
            // them), as the wasmtime backend does when it links the
            // component, in the same order and words. WASI functions are
            // checked where they are lowered: the wasmi backend provides a
            // subset of WASI, and a component may import an interface of
            // which it calls only what the subset has.
            airssys_wasm_core::kit::resolve_host_imports(info, host, "wasmi")?;
            check_imported_resources(&component, &types)?;
            lowered_imports(&component, info, host)?
        }
        None => Vec::new(),
    };
    let exports = lifted_exports(&component, &types, info);
    let signatures = exports.iter().map(|(name, e)| (name.as_str(), e.ty)).chain(
        translation.trampolines.values().filter_map(|t| match t {
            Trampoline::LowerImport { lower_ty, .. } => Some(("an import", *lower_ty)),
            _ => None,
        }),
    );
    for (name, ty) in signatures {
        let f = &types[ty];
        let all = types[f.params]
            .types
            .iter()
            .chain(types[f.results].types.iter());
        if !all.clone().all(|t| crate::layout::supported(&types, t)) {
            return Err(unsupported(&format!(
                "a map, fixed-length list, future, stream or error-context type (in `{name}`)"
            )));
        }
    }
    Ok(Plan {
        component,
        types,
        trampolines: translation.trampolines,
        trampoline_sigs,
        wasi_needed: airssys_wasm_core::wasi::needed_kinds(
            info.imports().iter().map(|i| i.name.as_str()),
        ),
        modules,
        export_names_by_index,
        import_names,
        lowered,
        exports,
    })
}

fn val_type(t: &WasmValType) -> Result<wasmi::ValType> {
    use wasmi::ValType as V;
    Ok(match t {
        WasmValType::I32 => V::I32,
        WasmValType::I64 => V::I64,
        WasmValType::F32 => V::F32,
        WasmValType::F64 => V::F64,
        WasmValType::V128 => V::V128,
        WasmValType::Ref(_) => {
            return Err(unsupported(
                "a reference-typed parameter of a canonical function",
            ));
        }
    })
}

fn unsupported(what: &str) -> Error {
    Error::InvalidComponent(format!(
        "the component uses {what}, which the wasmi backend does not support; \
         run it on the wasmtime backend"
    ))
}

/// Refuses, at load, what this backend cannot run: async, streams,
/// futures, threads, error contexts and string transcoding with a
/// 64-bit memory.
fn check_trampoline(t: &Trampoline, component: &Component) -> Result<()> {
    match t {
        Trampoline::LowerImport { options, .. } => check_options(&component.options[*options]),
        Trampoline::ResourceNew { .. }
        | Trampoline::ResourceRep { .. }
        | Trampoline::ResourceDrop { .. }
        | Trampoline::ResourceTransferOwn
        | Trampoline::ResourceTransferBorrow
        | Trampoline::EnterSyncCall
        | Trampoline::ExitSyncCall
        | Trampoline::Trap => Ok(()),
        Trampoline::Transcoder {
            from64: false,
            to64: false,
            ..
        } => Ok(()),
        // Unreachable while validation refuses 64-bit memories in canonical
        // options (the `cm64` proposal is off); refused should it be on.
        Trampoline::Transcoder { op, .. } => Err(unsupported(&format!(
            "string transcoding ({}) to or from a 64-bit memory",
            op.desc()
        ))),
        other => Err(unsupported(&format!(
            "the component-model intrinsic `{}`",
            intrinsic_name(other)
        ))),
    }
}

fn intrinsic_name(t: &Trampoline) -> String {
    // `Trampoline`'s Debug starts with the variant's name.
    let debug = format!("{t:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("unknown")
        .to_owned()
}

fn check_options(o: &CanonicalOptions) -> Result<()> {
    if o.async_ {
        return Err(unsupported("an async canonical function"));
    }
    if o.memory().is_none()
        && !matches!(
            o.data_model,
            wasmtime_environ::component::CanonicalOptionsDataModel::LinearMemory(_)
        )
    {
        return Err(unsupported("the GC data model"));
    }
    Ok(())
}

/// Refuses a component that imports a core module or a component, or a
/// resource type from anything but WASI: the host provides no resource
/// types of its own (host functions
/// with resources are refused). The wasmtime backend's linker refuses the
/// same components, after the functions, naming the first import in the
/// same words.
fn check_imported_resources(component: &Component, types: &ComponentTypes) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for (name, ext) in component.import_types.values() {
        // The host provides no core modules and no components either.
        let what = match ext.ty {
            TypeDef::Module(_) => Some("module"),
            TypeDef::Component(_) => Some("component"),
            _ => None,
        };
        if let Some(what) = what {
            return Err(Error::MissingImport {
                name: name.clone(),
                hint: format!(
                    "component imports {} `{name}`, but a matching implementation was not found \
                     in the linker: {what} implementation is missing",
                    ext.ty.desc()
                ),
            });
        }
        let wasi = name.starts_with("wasi:");
        if let Some(why) = missing_resource(component, types, &ext.ty, wasi, &mut seen) {
            return Err(Error::MissingImport {
                name: name.clone(),
                hint: format!(
                    "component imports {} `{name}`, but a matching implementation was not found \
                     in the linker: {why}",
                    ext.ty.desc()
                ),
            });
        }
    }
    Ok(())
}

/// Why `ty` (imported, from WASI if `wasi`) needs a resource no one
/// provides, if it does; `seen` are the imported resources met so far
/// (a later import may name one again, which needs nothing more).
fn missing_resource(
    component: &Component,
    types: &ComponentTypes,
    ty: &TypeDef,
    wasi: bool,
    seen: &mut std::collections::HashSet<wasmtime_environ::component::ResourceIndex>,
) -> Option<String> {
    match ty {
        TypeDef::Resource(table) => {
            let TypeResourceTable::Concrete { ty: resource, .. } = &types[*table] else {
                return None;
            };
            let imported = component.defined_resource_index(*resource).is_none();
            (imported && seen.insert(*resource) && !wasi)
                .then(|| "resource implementation is missing".to_owned())
        }
        TypeDef::ComponentInstance(instance) => {
            types[*instance].exports.iter().find_map(|(export, ext)| {
                if matches!(ext.ty, TypeDef::Interface(_)) {
                    return None;
                }
                missing_resource(component, types, &ext.ty, wasi, seen)
                    .map(|why| format!("instance export `{export}` has the wrong type: {why}"))
            })
        }
        _ => None,
    }
}

/// Resolves each `LowerImport` initializer to a host function.
fn lowered_imports(
    component: &Component,
    info: &ComponentInfo,
    host: &HostFunctions,
) -> Result<Vec<Lowered>> {
    let mut lowered = Vec::new();
    for init in &component.initializers {
        let GlobalInitializer::LowerImport { index, import } = init else {
            continue;
        };
        debug_assert_eq!(index.as_u32() as usize, lowered.len());
        let (import_index, path) = &component.imports[*import];
        let (name, _) = &component.import_types[*import_index];
        let (interface, func) = match path.as_slice() {
            [] => ("", name.as_str()),
            [func] => (name.as_str(), func.as_str()),
            _ => {
                return Err(unsupported(&format!(
                    "a nested instance import (`{name}/{}`)",
                    path.join("/")
                )));
            }
        };
        let full: Arc<str> = if interface.is_empty() {
            func.into()
        } else {
            format!("{interface}#{func}").into()
        };
        let func_type = import_type(info, interface, func).ok_or_else(|| {
            Error::InvalidComponent(format!("cannot read the type of the import `{full}`"))
        })?;
        let f = if interface.starts_with("wasi:") {
            match crate::wasi::lookup(interface, func) {
                Some(f) => Provider::Wasi(f),
                None => {
                    return Err(Error::MissingImport {
                        name: full.to_string(),
                        hint: format!(
                            "the wasmi backend does not provide this WASI function; it provides {} \
                             (run the component on the wasmtime backend for the rest)",
                            crate::wasi::PROVIDED
                        ),
                    });
                }
            }
        } else {
            let Some(f) = host.get(interface, func) else {
                return Err(if host.provides_interface(interface) {
                    crate::missing(&full, true)
                } else {
                    crate::missing(
                        if interface.is_empty() {
                            func
                        } else {
                            interface
                        },
                        false,
                    )
                });
            };
            if func_type.has_resource() {
                return Err(unsupported(&format!(
                    "resource handles in the host function import `{full}`"
                )));
            }
            Provider::Host(f.clone())
        };
        lowered.push(Lowered {
            name: full,
            func: f,
            func_type,
        });
    }
    Ok(lowered)
}

/// The core-model signature of an imported function.
fn import_type(info: &ComponentInfo, interface: &str, func: &str) -> Option<Arc<FuncType>> {
    if interface.is_empty() {
        return info.imports().iter().find_map(|i| match &i.kind {
            ItemKind::Function(ft) if i.name == func => Some(ft.clone()),
            _ => None,
        });
    }
    info.imported_interface(interface)?
        .iter()
        .find(|(name, _)| name == func)
        .map(|(_, ft)| ft.clone())
}

/// Every lifted function the component exports, at its root or inside an
/// exported interface, by call name.
fn lifted_exports(
    component: &Component,
    types: &ComponentTypes,
    info: &ComponentInfo,
) -> HashMap<String, LiftedExport> {
    let flat = |ty: TypeFuncIndex| {
        let f = &types[ty];
        Arc::new(crate::layout::FlatSig::of(
            types,
            &types[f.params].types,
            &types[f.results].types,
        ))
    };
    let mut out = HashMap::new();
    // Records a lifted function under its call name, when the component's
    // described exports have it.
    let mut add = |call: String, export: &Export| {
        if let Export::LiftedFunction { ty, func, options } = export
            && let Some(ft) = info.export_function(&call)
        {
            let lifted = LiftedExport {
                ty: *ty,
                func: func.clone(),
                options: *options,
                func_type: ft,
                flat: flat(*ty),
            };
            out.insert(call, lifted);
        }
    };
    for (name, (index, _)) in component.exports.raw_iter() {
        match &component.export_items[*index] {
            export @ Export::LiftedFunction { .. } => add(name.to_string(), export),
            Export::Instance { exports, .. } => {
                for (fname, (findex, _)) in exports.raw_iter() {
                    add(format!("{name}#{fname}"), &component.export_items[*findex]);
                }
            }
            Export::ModuleStatic { .. } | Export::ModuleImport { .. } | Export::Type(_) => {}
        }
    }
    out
}
