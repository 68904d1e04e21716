//! Fixtures of the lifecycle's tests: components built here from WAT.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use airssys_wasm::{
    AuditKind, BackendKind, LifecycleStep, Limits, LoadOptions, MemorySink, Runtime,
};
use airssys_wasm_lifecycle::{
    Backoff, Clock, DeployOptions, Deployment, GroupSpec, Intensity, Lifecycle, LifecycleBuilder,
    ManualClock, Registration,
};

/// What the fixture's lifecycle exports do, chosen by the first value of
/// the deployment's `init` configuration.
#[derive(Clone, Copy)]
pub enum Mode {
    /// `health` passes.
    Ok,
    /// `health` returns `sick`.
    Sick,
    /// `health` never returns.
    Hang,
    /// `init` refuses the instance.
    FailInit,
}

impl Mode {
    pub fn config(self) -> (String, String) {
        let v = match self {
            Self::Ok => "ok",
            Self::Sick => "sick",
            Self::Hang => "hang",
            Self::FailInit => "fail",
        };
        ("mode".into(), v.into())
    }
}

const LIFECYCLE_WIT: &str = include_str!("../../../wit/lifecycle.wit");

/// A component whose `version` returns `n` (or traps, with `trap`), with
/// `crash` (traps) and `spin(n)` (loops `n` times), and with the
/// lifecycle exports when `hooks`.
pub fn app(n: u32, trap: bool, hooks: bool) -> Vec<u8> {
    let wit = format!(
        "package test:app;\nworld app {{\n  export version: func() -> u32;\n  export crash: func();\n  \
         export spin: func(n: u32);\n  {}\n}}\n",
        if hooks {
            "export airssys:lifecycle/component-lifecycle@0.1.0;"
        } else {
            ""
        }
    );
    let body = if trap {
        "unreachable".to_owned()
    } else {
        format!("i32.const {n}")
    };
    let hook_funcs = if hooks {
        r#"
  (func (export "airssys:lifecycle/component-lifecycle@0.1.0#init") (param $ptr i32) (param $len i32) (result i32)
    local.get $len
    if
      local.get $ptr
      i32.load offset=8
      i32.load8_u
      global.set $mode
    end
    global.get $mode
    i32.const 102
    i32.eq
    if (result i32)
      i32.const 64 i32.const 1 i32.store8
      i32.const 68 i32.const 32 i32.store
      i32.const 72 i32.const 6 i32.store
      i32.const 64
    else
      i32.const 64 i32.const 0 i32.store8
      i32.const 64
    end)
  (func (export "airssys:lifecycle/component-lifecycle@0.1.0#health") (result i32)
    global.get $mode
    i32.const 104
    i32.eq
    if
      (loop $forever (br $forever))
    end
    global.get $mode
    i32.const 115
    i32.eq
    if (result i32)
      i32.const 80 i32.const 1 i32.store8
      i32.const 84 i32.const 16 i32.store
      i32.const 88 i32.const 4 i32.store
      i32.const 80
    else
      i32.const 80 i32.const 0 i32.store8
      i32.const 80
    end)
  (func (export "airssys:lifecycle/component-lifecycle@0.1.0#shutdown"))"#
    } else {
        ""
    };
    let module = format!(
        r#"(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (global $mode (mut i32) (i32.const 111))
  (data (i32.const 16) "sick")
  (data (i32.const 32) "no way")
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    global.get $heap
    local.get 2
    i32.add
    i32.const 1
    i32.sub
    i32.const 0
    local.get 2
    i32.sub
    i32.and
    local.set $p
    local.get $p
    local.get 3
    i32.add
    global.set $heap
    local.get $p)
  (func (export "version") (result i32) {body})
  (func (export "crash") unreachable)
  (func (export "spin") (param $n i32)
    (loop $l
      local.get $n
      i32.const 1
      i32.sub
      local.tee $n
      br_if $l))
  {hook_funcs}
)"#
    );
    let mut resolve = wit_parser::Resolve::default();
    resolve
        .push_str("lifecycle.wit", LIFECYCLE_WIT)
        .expect("wit/lifecycle.wit parses");
    let pkg = resolve.push_str("app.wit", &wit).expect("the WIT parses");
    let world = resolve
        .select_world(&[pkg], Some("app"))
        .expect("the world exists");
    let mut module = wat::parse_str(&module).expect("the module parses");
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .expect("the metadata embeds");
    wit_component::ComponentEncoder::default()
        .module(&module)
        .and_then(|e| e.validate(true).encode())
        .expect("the component encodes")
}

/// Runs `check` on every backend, naming the backend on failure.
pub fn each_backend(mut check: impl FnMut(BackendKind)) {
    for &kind in BackendKind::ALL {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(kind)));
        if let Err(panic) = outcome {
            let message = airssys_wasm::core::panic_message(&*panic);
            panic!("on the {kind} backend: {message}");
        }
    }
}

/// A runtime on `kind` auditing into memory.
pub fn runtime(kind: BackendKind) -> (Runtime, Arc<MemorySink>) {
    let audit = Arc::new(MemorySink::new());
    let runtime = Runtime::builder()
        .backend(kind)
        .audit(audit.clone())
        .build()
        .expect("the runtime builds");
    (runtime, audit)
}

/// A lifecycle builder over `kind` whose versions get `limits`.
pub fn builder(kind: BackendKind, limits: Limits) -> (LifecycleBuilder, Arc<MemorySink>) {
    let (runtime, audit) = runtime(kind);
    let b = Lifecycle::builder(runtime).load_options(move |_| LoadOptions::new().limits(limits));
    (b, audit)
}

/// A lifecycle on a manual clock whose default group restarts after
/// `backoff`, at most `max_restarts` times in 10 s.
pub fn supervised(
    kind: BackendKind,
    backoff: Backoff,
    max_restarts: u32,
) -> (Lifecycle, Arc<ManualClock>, Arc<MemorySink>) {
    let clock = Arc::new(ManualClock::new());
    let (b, audit) = builder(kind, Limits::default());
    let spec = GroupSpec {
        intensity: Intensity {
            max_restarts,
            within: Duration::from_secs(10),
        },
        backoff,
        ..GroupSpec::default()
    };
    let lifecycle = b
        .clock(clock.clone() as Arc<dyn Clock>)
        .group("default", spec)
        .build()
        .expect("the lifecycle builds");
    (lifecycle, clock, audit)
}

/// A lifecycle over `kind` with versions 1 and 2 of `app` (version 2
/// trapping on `version` when `trap2`), version 1 deployed with the
/// default options.
pub fn two_versions(
    kind: BackendKind,
    trap2: bool,
) -> (Lifecycle, Arc<Deployment>, Arc<MemorySink>) {
    let (b, audit) = builder(kind, Limits::default());
    let lc = b.build().unwrap();
    register(&lc, "app", 1, false, false);
    register(&lc, "app", 2, trap2, false);
    let dep = lc.deploy("app", "1", DeployOptions::default()).unwrap();
    (lc, dep, audit)
}

/// Registers `app(n, trap, hooks)` as version `n` of `name`.
pub fn register(lifecycle: &Lifecycle, name: &str, n: u32, trap: bool, hooks: bool) {
    lifecycle
        .register(Registration::new(name, app(n, trap, hooks)).version(n.to_string()))
        .expect("the version registers");
}

/// The lifecycle steps recorded, with the label they were recorded under.
pub fn steps(audit: &MemorySink) -> Vec<(String, LifecycleStep, String)> {
    audit
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            AuditKind::Lifecycle { step, detail } => Some((e.component.to_string(), step, detail)),
            _ => None,
        })
        .collect()
}
