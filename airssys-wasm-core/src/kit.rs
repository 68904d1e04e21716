//! What every backend does the same way, written once: argument checks
//! against a function's type, poisoning an instance after a trap, and the
//! refusal of an instance whose limits its code was not compiled for, and
//! resolving a component's imports against the host table, and calling a
//! host function with its panics contained.
//! Backends use these, so their errors read the same.

use std::sync::Arc;
use std::time::Duration;

use crate::component::{ComponentInfo, ItemKind};
use crate::error::{Error, Result};
use crate::host::{CallContext, HostError, HostFn, HostFunctions};
use crate::limits::Limits;
use crate::value::{FuncType, Value};

/// Checks `args` against `ty` (their number, then each one's type) for a
/// call of `function`; the error is [`Error::InvalidArguments`] naming the
/// argument.
///
/// ```
/// use airssys_wasm_core::{FuncType, Value, ValueType, kit};
/// let ty = FuncType { params: vec![("n".into(), ValueType::U32)], result: None };
/// assert!(kit::check_args("f", &ty, &[Value::U32(1)]).is_ok());
/// let e = kit::check_args("f", &ty, &[]).unwrap_err();
/// assert!(e.to_string().contains("expected 1 argument(s)"), "{e}");
/// let e = kit::check_args("f", &ty, &[Value::Bool(true)]).unwrap_err();
/// assert!(e.to_string().contains("argument `n`"), "{e}");
/// ```
pub fn check_args(function: &str, ty: &FuncType, args: &[Value]) -> Result<()> {
    if args.len() != ty.params.len() {
        return Err(Error::InvalidArguments {
            function: function.to_owned(),
            detail: format!(
                "expected {} argument(s) ({ty}), got {}",
                ty.params.len(),
                args.len()
            ),
        });
    }
    for (arg, (name, pty)) in args.iter().zip(&ty.params) {
        arg.check_type(pty)
            .map_err(|detail| Error::InvalidArguments {
                function: function.to_owned(),
                detail: format!("argument `{name}`: {detail}"),
            })?;
    }
    Ok(())
}

/// Whether an instance may be entered again: the component model forbids
/// entering an instance after a trap, so the first trap poisons it and
/// every later call fails with [`Error::InstancePoisoned`] giving the
/// trap's text.
///
/// ```
/// use airssys_wasm_core::{Error, kit::Poison};
/// let mut p = Poison::default();
/// assert!(p.check().is_ok());
/// p.set(&Error::Backend("boom".into()));
/// assert!(matches!(p.check(), Err(Error::InstancePoisoned(why)) if why.contains("boom")));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Poison(Option<String>);

impl Poison {
    /// `Ok` unless the instance trapped.
    #[inline]
    pub fn check(&self) -> Result<()> {
        match &self.0 {
            Some(why) => Err(Error::InstancePoisoned(why.clone())),
            None => Ok(()),
        }
    }

    /// Poisons the instance with `err`'s text.
    pub fn set(&mut self, err: &Error) {
        self.0 = Some(err.to_string());
    }
}

/// The refusal of an instance whose limits the component's code was not
/// compiled for (`what` says what is compiled in for which limits): the
/// component must be loaded with the instance's limits.
pub fn compiled_for_other_limits(component: &str, what: &str) -> Error {
    Error::Backend(format!(
        "component `{component}` was compiled for other limits than this instance's \
         ({what}): load it with these limits"
    ))
}

/// One import of a component resolved against the host table: an
/// interface (`""` for functions at the world's root) and the host
/// function serving each of its functions. An interface that only shares
/// types has none.
pub struct HostImport<'a> {
    /// The interface's name, `""` at the root.
    pub interface: &'a str,
    /// Each imported function and the host function that serves it.
    pub functions: Vec<(&'a str, Arc<HostFn>)>,
}

/// Resolves a component's non-WASI imports against `host`, in the order
/// it imports them: the first one the host does not provide fails with
/// [`Error::MissingImport`] naming it (and `backend` in the hint), whether
/// or not the component ever calls it. WASI imports are the backend's own.
///
/// ```
/// use airssys_wasm_core::{ComponentInfo, Error, HostFunctions, kit};
/// let bytes = wat::parse_str(r#"(component (import "tick" (func)))"#).unwrap();
/// let info = ComponentInfo::parse(&bytes).unwrap();
/// let e = kit::resolve_host_imports(&info, &HostFunctions::new(), "wasmi").err().unwrap();
/// assert!(matches!(e, Error::MissingImport { name, .. } if name == "tick"));
/// let mut host = HostFunctions::new();
/// host.define("", "tick", |_, _, _| Ok(()));
/// let resolved = kit::resolve_host_imports(&info, &host, "wasmi").unwrap();
/// assert_eq!((resolved[0].interface, resolved[0].functions[0].0), ("", "tick"));
/// ```
pub fn resolve_host_imports<'a>(
    info: &'a ComponentInfo,
    host: &HostFunctions,
    backend: &str,
) -> Result<Vec<HostImport<'a>>> {
    let missing = |name: &str, known| Error::missing_import(name, known, backend);
    let mut out = Vec::new();
    for import in info.imports() {
        let name = import.name.as_str();
        match &import.kind {
            ItemKind::Interface(funcs) if !name.starts_with("wasi:") => {
                if !funcs.is_empty() && !host.provides_interface(name) {
                    return Err(missing(name, false));
                }
                let functions = funcs
                    .iter()
                    .map(|(func, _)| match host.get(name, func) {
                        Some(f) => Ok((func.as_str(), f.clone())),
                        None => Err(missing(&format!("{name}#{func}"), true)),
                    })
                    .collect::<Result<_>>()?;
                out.push(HostImport {
                    interface: name,
                    functions,
                });
            }
            ItemKind::Function(_) => {
                let f = host.get("", name).ok_or_else(|| missing(name, false))?;
                out.push(HostImport {
                    interface: "",
                    functions: vec![(name, f.clone())],
                });
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Calls a host function with the guest's arguments, containing a panic:
/// a host function that panics fails the call (a [`HostError::Failed`]
/// saying `panicked: …`, which traps the guest) and never unwinds into the
/// engine or takes the host down.
///
/// ```
/// use airssys_wasm_core::{CallContext, CapabilitySet, HostError, MemorySink, kit};
/// let (name, caps, audit) = ("c".into(), CapabilitySet::new(), MemorySink::new());
/// let mut cx = CallContext::new(&name, &caps, &audit);
/// let mut outs = [];
/// let panicking = |_: &mut CallContext<'_>, _: &[_], _: &mut [_]| -> Result<(), HostError> {
///     panic!("bad state")
/// };
/// let e = kit::call_host(&panicking, &mut cx, &[], &mut outs).unwrap_err();
/// assert!(matches!(e, HostError::Failed(m) if m == "panicked: bad state"));
/// ```
pub fn call_host(
    f: &HostFn,
    cx: &mut CallContext<'_>,
    args: &[Value],
    outs: &mut [Value],
) -> std::result::Result<(), HostError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(cx, args, outs))) {
        Ok(r) => r,
        Err(panic) => Err(HostError::Failed(format!(
            "panicked: {}",
            crate::error::panic_message(&*panic)
        ))),
    }
}

/// The error of a call of `function` that a host function (`host_fn`)
/// ended with `error`: a host function that waited until the call's
/// deadline ends the call as guest code running past it does
/// ([`Error::Timeout`] after `elapsed`); any other failure is the host
/// function's ([`Error::from_host`]).
pub fn host_call_error(
    function: String,
    host_fn: &str,
    error: &HostError,
    limits: &Limits,
    elapsed: Duration,
) -> Error {
    if *error == HostError::Timeout {
        return Error::Timeout {
            function,
            limit: limits.timeout.unwrap_or_default(),
            elapsed,
        };
    }
    Error::from_host(host_fn, error)
}
