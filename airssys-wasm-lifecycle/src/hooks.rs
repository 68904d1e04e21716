//! A component's lifecycle exports: `airssys:lifecycle/component-lifecycle`
//! (`wit/lifecycle.wit`), all optional.
//!
//! - `init(config)` runs on every new instance before it serves; an error
//!   refuses the instance (and a deploy or upgrade whose first instance it
//!   refuses keeps the running version).
//! - `health()` is the active health check ([`crate::health`]).
//! - `shutdown()` runs on an instance the lifecycle drops while it is still
//!   sound (drained after a swap, retired by a restart); its errors are
//!   ignored, its time bounded by the component's limits.

use std::sync::Arc;

use airssys_wasm::{Component, FuncType, Instance, Value};

use crate::error::Error;

/// The interface the lifecycle calls, when a component exports it.
pub const INTERFACE: &str = "airssys:lifecycle/component-lifecycle@0.1.0";

/// The call names of the interface's functions.
pub(crate) fn call_name(function: &str) -> String {
    format!("{INTERFACE}#{function}")
}

/// Which lifecycle exports a version has, and the `init` configuration of
/// its deployment.
#[derive(Clone, Debug, Default)]
pub(crate) struct Hooks {
    /// `init` and the value it is called with.
    init: Option<Arc<Value>>,
    shutdown: bool,
    pub(crate) health: bool,
}

const SIGNATURES: [(&str, &[&str], Option<&str>); 3] = [
    (
        "init",
        &["list<tuple<string, string>>"],
        Some("result<_, string>"),
    ),
    ("health", &[], Some("result<_, string>")),
    ("shutdown", &[], None),
];

impl Hooks {
    /// The hooks of `component`, refusing one whose lifecycle export has
    /// another type than `wit/lifecycle.wit` gives it.
    pub(crate) fn of(component: &Component, config: &[(String, String)]) -> Result<Self, Error> {
        let mut hooks = Self::default();
        for (name, ty) in component.info().export_functions() {
            let Some(function) = name
                .strip_prefix(INTERFACE)
                .and_then(|f| f.strip_prefix('#'))
            else {
                continue;
            };
            let Some((_, params, result)) = SIGNATURES.iter().find(|(f, _, _)| *f == function)
            else {
                continue;
            };
            check(component, function, ty, params, *result)?;
            match function {
                "init" => {
                    let pairs = config
                        .iter()
                        .map(|(k, v)| {
                            Value::Tuple(vec![Value::from(k.as_str()), Value::from(v.as_str())])
                        })
                        .collect();
                    hooks.init = Some(Arc::new(Value::List(pairs)));
                }
                "shutdown" => hooks.shutdown = true,
                _ => hooks.health = true,
            }
        }
        Ok(hooks)
    }

    /// Runs `init` on a new instance, if the component has it.
    pub(crate) fn init(&self, instance: &mut Instance) -> Result<(), Error> {
        let Some(config) = &self.init else {
            return Ok(());
        };
        let out = instance.call(&call_name("init"), std::slice::from_ref(config))?;
        match outcome(&out) {
            Ok(()) => Ok(()),
            Err(why) => Err(Error::Lifecycle {
                component: instance.component_id().to_string(),
                detail: format!("`init` refused the instance: {why}"),
            }),
        }
    }

    /// Runs `shutdown` (if the component has it), then drops the instance.
    pub(crate) fn shutdown(&self, mut instance: Instance) {
        if self.shutdown {
            // The instance is going; what its shutdown says changes nothing
            // (the call itself is audited by the runtime).
            let _ = instance.call(&call_name("shutdown"), &[]);
        }
    }
}

/// `Ok` for `result::ok`, else the error's text.
pub(crate) fn outcome(out: &[Value]) -> Result<(), String> {
    match out.first() {
        Some(Value::Result(Ok(_))) => Ok(()),
        Some(Value::Result(Err(Some(e)))) => match &**e {
            Value::String(s) => Err(s.to_string()),
            other => Err(format!("{other:?}")),
        },
        Some(Value::Result(Err(None))) => Err("an error without a message".into()),
        other => Err(format!("an unexpected result {other:?}")),
    }
}

fn check(
    component: &Component,
    function: &str,
    ty: &FuncType,
    params: &[&str],
    result: Option<&str>,
) -> Result<(), Error> {
    let got: Vec<String> = ty.params.iter().map(|(_, t)| t.to_string()).collect();
    let got_result = ty.result.as_ref().map(ToString::to_string);
    if got == params && got_result.as_deref() == result {
        return Ok(());
    }
    let want = format!(
        "func({}){}",
        params.join(", "),
        result.map(|r| format!(" -> {r}")).unwrap_or_default()
    );
    Err(Error::Lifecycle {
        component: component.id().to_string(),
        detail: format!(
            "exports `{INTERFACE}#{function}` as `{ty}`, but `wit/lifecycle.wit` declares `{want}`"
        ),
    })
}
