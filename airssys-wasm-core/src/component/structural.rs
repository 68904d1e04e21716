//! A structural description of a component the WIT decoder cannot read:
//! its top-level imports and exports as the validator typed them.
//!
//! Every valid component has imports and exports with component types,
//! but not every one is shaped like a WIT world (a plain type exported at
//! the top level, a core module or a component imported, plain functions
//! under interface names). For those, the functions and instances are
//! described from wasmparser's types, so the component loads and its
//! functions can be called like any other.

use std::collections::HashMap;
use std::sync::Arc;

use wasmparser::component_types::{
    ComponentDefinedType, ComponentDefinedTypeId, ComponentEntityType, ComponentFuncTypeId,
    ComponentValType,
};
use wasmparser::{PrimitiveValType, types::TypesRef};

use super::{Item, ItemKind, MAX_TYPE_PARTS, unsupported};
use crate::error::{Error, Result};
use crate::value::{FuncType, ResourceType, ValueType};

/// The top-level import and export names, in order, and the types the
/// validator gave the component.
pub(super) struct Shape<'a> {
    pub imports: &'a [String],
    pub exports: &'a [String],
    pub types: TypesRef<'a>,
}

/// The imports and exports of `shape`, and a text describing them (in
/// place of WIT).
pub(super) fn describe(shape: &Shape<'_>, why: &str) -> Result<(Vec<Item>, Vec<Item>, String)> {
    let conv = Converter {
        types: shape.types,
        values: HashMap::new(),
        sizes: HashMap::new(),
    };
    let mut conv = conv;
    let mut text = format!(
        "// This component is not shaped like a WIT world ({why});\n\
         // its imports and exports, as the component declares them:\n"
    );
    let mut side = |names: &[String], import: bool, text: &mut String| -> Result<Vec<Item>> {
        let mut items = Vec::with_capacity(names.len());
        for name in names {
            let item = if import {
                shape.types.component_item_for_import(name)
            } else {
                shape.types.component_item_for_export(name)
            };
            let Some(item) = item else {
                continue;
            };
            let kind = conv.entity(name, &item.ty)?;
            let verb = if import { "import" } else { "export" };
            text.push_str(&format!("{verb} {}\n", describe_item(name, &kind)));
            items.push(Item {
                name: name.clone(),
                kind,
            });
        }
        Ok(items)
    };
    let imports = side(shape.imports, true, &mut text)?;
    let exports = side(shape.exports, false, &mut text)?;
    Ok((imports, exports, text))
}

fn describe_item(name: &str, kind: &ItemKind) -> String {
    match kind {
        ItemKind::Function(ty) => format!("{name}: {ty};"),
        ItemKind::Interface(funcs) => {
            let mut s = format!("{name}: instance {{");
            for (f, ty) in funcs {
                s.push_str(&format!(" {f}: {ty};"));
            }
            s.push_str(" }");
            s
        }
        ItemKind::Type => format!("{name}: type;"),
        ItemKind::Other(what) => format!("{name}: {what};"),
    }
}

struct Converter<'a> {
    types: TypesRef<'a>,
    /// Each defined type converted once: its uses share it.
    values: HashMap<ComponentDefinedTypeId, ValueType>,
    /// Each defined type's size written out, computed once.
    sizes: HashMap<ComponentDefinedTypeId, u64>,
}

impl Converter<'_> {
    fn entity(&mut self, name: &str, ty: &ComponentEntityType) -> Result<ItemKind> {
        Ok(match ty {
            ComponentEntityType::Func(id) => ItemKind::Function(Arc::new(self.func(name, *id)?)),
            ComponentEntityType::Instance(id) => {
                let types = self.types;
                let instance = &types[*id];
                let mut funcs = Vec::new();
                for (f, item) in &instance.exports {
                    if let ComponentEntityType::Func(fid) = item.ty {
                        funcs.push((f.clone(), Arc::new(self.func(f, fid)?)));
                    }
                }
                ItemKind::Interface(funcs)
            }
            ComponentEntityType::Type { .. } => ItemKind::Type,
            ComponentEntityType::Module(_) => ItemKind::Other("core module"),
            ComponentEntityType::Component(_) => ItemKind::Other("component"),
            ComponentEntityType::Value(_) => ItemKind::Other("value"),
        })
    }

    fn func(&mut self, name: &str, id: ComponentFuncTypeId) -> Result<FuncType> {
        let types = self.types;
        let f = &types[id];
        let in_function = |e: Error| match e {
            Error::InvalidComponent(msg) => {
                Error::InvalidComponent(format!("function `{name}`: {msg}"))
            }
            other => other,
        };
        if f.async_ {
            return Err(in_function(unsupported("async function")));
        }
        let parts = f
            .params
            .iter()
            .map(|(_, t)| t)
            .chain(&f.result)
            .fold(0u64, |n, t| n.saturating_add(self.size(t)));
        if parts > MAX_TYPE_PARTS {
            return Err(Error::InvalidComponent(format!(
                "function `{name}`: its type has more than {MAX_TYPE_PARTS} parts when written \
                 out ({parts}); such a component is refused"
            )));
        }
        let params = f
            .params
            .iter()
            .map(|(p, t)| Ok((p.to_string(), self.value(t)?)))
            .collect::<Result<Vec<_>>>()
            .map_err(in_function)?;
        let result = f
            .result
            .as_ref()
            .map(|t| self.value(t))
            .transpose()
            .map_err(in_function)?;
        Ok(FuncType { params, result })
    }

    fn value(&mut self, ty: &ComponentValType) -> Result<ValueType> {
        match ty {
            ComponentValType::Primitive(p) => primitive(*p),
            ComponentValType::Type(id) => {
                if let Some(t) = self.values.get(id) {
                    return Ok(t.clone());
                }
                let t = self.defined(*id)?;
                self.values.insert(*id, t.clone());
                Ok(t)
            }
        }
    }

    fn defined(&mut self, id: ComponentDefinedTypeId) -> Result<ValueType> {
        let types = self.types;
        Ok(match &types[id] {
            ComponentDefinedType::Primitive(p) => primitive(*p)?,
            ComponentDefinedType::Record(r) => ValueType::record(
                r.fields
                    .iter()
                    .map(|(n, t)| Ok((n.to_string(), self.value(t)?)))
                    .collect::<Result<Vec<_>>>()?,
            ),
            ComponentDefinedType::Variant(v) => ValueType::variant(
                v.cases
                    .iter()
                    .map(|(n, c)| {
                        Ok((
                            n.to_string(),
                            c.ty.as_ref().map(|t| self.value(t)).transpose()?,
                        ))
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
            ComponentDefinedType::List { element, .. } => ValueType::list(self.value(element)?),
            ComponentDefinedType::Tuple(t) => ValueType::tuple(
                t.types
                    .iter()
                    .map(|t| self.value(t))
                    .collect::<Result<Vec<_>>>()?,
            ),
            ComponentDefinedType::Flags(f) => ValueType::flags(f.iter().map(|n| n.to_string())),
            ComponentDefinedType::Enum(e) => {
                ValueType::enumeration(e.iter().map(|n| n.to_string()))
            }
            ComponentDefinedType::Option { ty, .. } => ValueType::option(self.value(ty)?),
            ComponentDefinedType::Result { ok, err, .. } => ValueType::result(
                ok.as_ref().map(|t| self.value(t)).transpose()?,
                err.as_ref().map(|t| self.value(t)).transpose()?,
            ),
            ComponentDefinedType::Own(_) => ValueType::Resource(ResourceType {
                name: "resource".into(),
                owned: true,
            }),
            ComponentDefinedType::Borrow(_) => ValueType::Resource(ResourceType {
                name: "resource".into(),
                owned: false,
            }),
            ComponentDefinedType::Future { .. } => return Err(unsupported("future")),
            ComponentDefinedType::Stream { .. } => return Err(unsupported("stream")),
            ComponentDefinedType::Map { .. } => return Err(unsupported("map")),
            ComponentDefinedType::FixedLengthList { .. } => {
                return Err(unsupported("fixed-length list"));
            }
            #[allow(unreachable_patterns)]
            _ => return Err(unsupported("this")),
        })
    }

    /// How many parts `ty` has written out (saturating).
    fn size(&mut self, ty: &ComponentValType) -> u64 {
        let ComponentValType::Type(id) = ty else {
            return 1;
        };
        if let Some(n) = self.sizes.get(id) {
            return *n;
        }
        let types = self.types;
        let sum = |this: &mut Self, tys: &mut dyn Iterator<Item = &ComponentValType>| {
            tys.fold(1u64, |n, t| n.saturating_add(this.size(t)))
        };
        let n = match &types[*id] {
            ComponentDefinedType::Record(r) => sum(self, &mut r.fields.values()),
            ComponentDefinedType::Variant(v) => {
                sum(self, &mut v.cases.values().filter_map(|c| c.ty.as_ref()))
            }
            ComponentDefinedType::List { element: t, .. }
            | ComponentDefinedType::Option { ty: t, .. } => 1u64.saturating_add(self.size(t)),
            ComponentDefinedType::Tuple(t) => sum(self, &mut t.types.iter()),
            ComponentDefinedType::Result { ok, err, .. } => {
                sum(self, &mut ok.iter().chain(err.iter()))
            }
            ComponentDefinedType::Flags(f) => f.len() as u64 + 1,
            ComponentDefinedType::Enum(e) => e.len() as u64 + 1,
            _ => 1,
        };
        self.sizes.insert(*id, n);
        n
    }
}

fn primitive(p: PrimitiveValType) -> Result<ValueType> {
    Ok(match p {
        PrimitiveValType::Bool => ValueType::Bool,
        PrimitiveValType::S8 => ValueType::S8,
        PrimitiveValType::U8 => ValueType::U8,
        PrimitiveValType::S16 => ValueType::S16,
        PrimitiveValType::U16 => ValueType::U16,
        PrimitiveValType::S32 => ValueType::S32,
        PrimitiveValType::U32 => ValueType::U32,
        PrimitiveValType::S64 => ValueType::S64,
        PrimitiveValType::U64 => ValueType::U64,
        PrimitiveValType::F32 => ValueType::F32,
        PrimitiveValType::F64 => ValueType::F64,
        PrimitiveValType::Char => ValueType::Char,
        PrimitiveValType::String => ValueType::String,
        PrimitiveValType::ErrorContext => return Err(unsupported("error-context")),
    })
}
