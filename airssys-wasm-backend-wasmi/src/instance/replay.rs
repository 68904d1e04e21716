//! The replay of the plan's initializers on a store: instantiating the
//! core modules in order and resolving core definitions to wasmi externs.

use std::collections::HashMap;

use wasmi::{Extern, Func, Global, Mutability, Store, Val};
use wasmtime_environ::component::{CoreDef, ExportItem, GlobalInitializer, InstantiateModule};

use super::trampolines::trampoline;
use crate::plan::Plan;
use crate::store::StoreData;

/// Replays the plan's initializers: instantiates the core modules in order
/// and collects memories, reallocs, post-returns and destructors.
pub(super) fn initialize(
    store: &mut Store<StoreData>,
    plan: &Plan,
) -> std::result::Result<(), wasmi::Error> {
    for init in &plan.component.initializers {
        match init {
            GlobalInitializer::InstantiateModule(InstantiateModule::Static(module, args), _) => {
                // The arguments follow the binary's import order; wasmi
                // takes them in the order its `imports()` lists them.
                let mut by_name: HashMap<(&str, &str), Vec<Extern>> = HashMap::new();
                for ((m, n), d) in plan.import_names[*module].iter().zip(args.iter()).rev() {
                    by_name
                        .entry((m.as_str(), n.as_str()))
                        .or_default()
                        .push(core_def(store, plan, d)?);
                }
                let imports = plan.modules[*module]
                    .imports()
                    .map(|i| {
                        by_name
                            .get_mut(&(i.module(), i.name()))
                            .and_then(Vec::pop)
                            .ok_or_else(|| {
                                wasmi::Error::new(format!(
                                    "no definition for the core import {}::{}",
                                    i.module(),
                                    i.name()
                                ))
                            })
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                let instance = wasmi::Instance::new(&mut *store, &plan.modules[*module], &imports)?;
                store.data_mut().rt.instances.push((instance, *module));
            }
            GlobalInitializer::InstantiateModule(InstantiateModule::Import(..), _) => {
                return Err(wasmi::Error::new(
                    "components that import core modules are not supported",
                ));
            }
            GlobalInitializer::LowerImport { .. } => {}
            GlobalInitializer::ExtractMemory(m) => {
                let def = CoreDef::Export(m.export.clone().map_index(Into::into));
                let memory = match core_def(store, plan, &def)? {
                    Extern::Memory(mem) => mem,
                    _ => {
                        return Err(wasmi::Error::new(
                            "a canonical memory option is not a memory",
                        ));
                    }
                };
                store.data_mut().rt.memories[m.index.as_u32() as usize] = Some(memory);
            }
            GlobalInitializer::ExtractRealloc(r) => {
                let f = core_func(store, plan, &r.def)?;
                store.data_mut().rt.reallocs[r.index.as_u32() as usize] = Some(f);
            }
            GlobalInitializer::ExtractPostReturn(p) => {
                let f = core_func(store, plan, &p.def)?;
                store.data_mut().rt.post_returns[p.index.as_u32() as usize] = Some(f);
            }
            GlobalInitializer::Resource(r) => {
                let dtor = r
                    .dtor
                    .as_ref()
                    .map(|d| core_func(store, plan, d))
                    .transpose()?;
                let index = plan.component.resource_index(r.index);
                store.data_mut().rt.dtors[index.as_u32() as usize] = dtor;
            }
            GlobalInitializer::ExtractCallback(_) | GlobalInitializer::ExtractTable(_) => {
                return Err(wasmi::Error::new(
                    "async callbacks and thread tables are not supported by the wasmi backend",
                ));
            }
        }
    }
    Ok(())
}

pub(super) fn core_func(
    store: &mut Store<StoreData>,
    plan: &Plan,
    def: &CoreDef,
) -> std::result::Result<Func, wasmi::Error> {
    match core_def(store, plan, def)? {
        Extern::Func(f) => Ok(f),
        _ => Err(wasmi::Error::new(
            "a canonical function option is not a function",
        )),
    }
}

/// Resolves a core definition to a wasmi extern.
fn core_def(
    store: &mut Store<StoreData>,
    plan: &Plan,
    def: &CoreDef,
) -> std::result::Result<Extern, wasmi::Error> {
    match def {
        CoreDef::Export(e) => {
            let (instance, module) = store.data().rt.instances[e.instance.as_u32() as usize];
            let name = match &e.item {
                ExportItem::Name(n) => n.as_str(),
                ExportItem::Index(i) => plan.export_names_by_index[module]
                    .get(i)
                    .map(String::as_str)
                    .ok_or_else(|| {
                        wasmi::Error::new("a core export the component uses is missing")
                    })?,
            };
            instance
                .get_export(&*store, name)
                .ok_or_else(|| wasmi::Error::new(format!("core instance has no export `{name}`")))
        }
        CoreDef::Trampoline(t) => {
            if let Some(f) = store.data().rt.trampolines.get(t) {
                return Ok(Extern::Func(*f));
            }
            let f = trampoline(store, plan, *t);
            store.data_mut().rt.trampolines.insert(*t, f);
            Ok(Extern::Func(f))
        }
        CoreDef::InstanceFlags(i) => {
            if let Some(g) = store.data().rt.flags.get(i) {
                return Ok(Extern::Global(*g));
            }
            // may-leave | may-enter, as the adapters expect on entry.
            let g = Global::new(&mut *store, Val::I32(0b11), Mutability::Var);
            store.data_mut().rt.flags.insert(*i, g);
            Ok(Extern::Global(g))
        }
        CoreDef::UnsafeIntrinsic(_) | CoreDef::TaskMayBlock => Err(wasmi::Error::new(
            "the component uses an intrinsic the wasmi backend does not provide",
        )),
    }
}
