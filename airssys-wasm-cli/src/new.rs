//! `airssys-wasm new NAME`: a plugin that builds and runs at once.
//!
//! The scaffold is a world exporting `greet` (`wit/world.wit`), its
//! implementation, a `Component.toml` asking for nothing, and a README with
//! the two commands that build and run it, with the toolchains the
//! project's own guests are built with: in Rust, a crate for
//! `wasm32-wasip2` with wit-bindgen 0.61; in JavaScript, a package built by
//! componentize-js 0.23.0; in Python, an app built by componentize-py
//! 0.25.1; in C, a reactor compiled by zig 0.17.0 (PyPI `ziglang`); in
//! AssemblyScript, a module compiled by asc 0.28.20. C and AssemblyScript
//! write their export's canonical ABI by hand and are made components by
//! `airssys-wasm componentize` (`cargo xtask test` builds and runs each). Its files are the
//! templates in `templates/<lang>/`, with `{{name}}` (the plugin's name)
//! and `{{crate}}` (the name of its `.wasm`) filled in.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use airssys_wasm::audit::Escaped;
use airssys_wasm::{Error, Result};

/// The languages `new` scaffolds.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum NewLang {
    /// Rust for wasm32-wasip2, with wit-bindgen.
    Rust,
    /// JavaScript, with componentize-js.
    #[value(alias = "js")]
    Javascript,
    /// Python, with componentize-py.
    #[value(alias = "py")]
    Python,
    /// C, compiled by zig (from PyPI) and made a component by `componentize`.
    C,
    /// AssemblyScript, compiled by asc and made a component by `componentize`.
    #[value(alias = "as")]
    Assemblyscript,
}

/// Arguments of `new`.
#[derive(clap::Args)]
pub struct NewArgs {
    /// The plugin's name: lower-case words of letters and digits joined by `-`
    /// (it names the crate, the WIT package and world, and the component).
    #[arg(value_parser = parse_name)]
    name: String,
    /// The plugin's language.
    #[arg(long, value_enum, default_value = "rust")]
    lang: NewLang,
    /// Where to create the plugin's directory. Default: the current directory.
    #[arg(long, value_name = "DIR", default_value = ".")]
    path: PathBuf,
}

/// The files of every plugin, whatever its language: the world and a
/// manifest asking for nothing.
const COMMON: &[(&str, &str)] = &[
    (
        "wit/world.wit",
        include_str!("../templates/common/world.wit.in"),
    ),
    (
        "Component.toml",
        include_str!("../templates/common/Component.toml.in"),
    ),
];

/// The files of a Rust plugin besides [`COMMON`]: where each goes, and its
/// template.
const RUST: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../templates/rust/Cargo.toml.in"),
    ),
    ("src/lib.rs", include_str!("../templates/rust/lib.rs.in")),
    ("README.md", include_str!("../templates/rust/README.md.in")),
    (".gitignore", include_str!("../templates/rust/gitignore.in")),
];

/// The files of a JavaScript plugin.
const JAVASCRIPT: &[(&str, &str)] = &[
    (
        "package.json",
        include_str!("../templates/javascript/package.json.in"),
    ),
    (
        "plugin.js",
        include_str!("../templates/javascript/plugin.js.in"),
    ),
    (
        "README.md",
        include_str!("../templates/javascript/README.md.in"),
    ),
    (
        ".gitignore",
        include_str!("../templates/javascript/gitignore.in"),
    ),
];

/// The files of a Python plugin.
const PYTHON: &[(&str, &str)] = &[
    ("app.py", include_str!("../templates/python/app.py.in")),
    (
        "requirements.txt",
        include_str!("../templates/python/requirements.txt.in"),
    ),
    ("build.sh", include_str!("../templates/python/build.sh.in")),
    (
        "README.md",
        include_str!("../templates/python/README.md.in"),
    ),
    (
        ".gitignore",
        include_str!("../templates/python/gitignore.in"),
    ),
];

/// The files of a C plugin.
const C: &[(&str, &str)] = &[
    ("plugin.c", include_str!("../templates/c/plugin.c.in")),
    (
        "requirements.txt",
        include_str!("../templates/c/requirements.txt.in"),
    ),
    ("build.sh", include_str!("../templates/c/build.sh.in")),
    ("README.md", include_str!("../templates/c/README.md.in")),
    (".gitignore", include_str!("../templates/c/gitignore.in")),
];

/// The files of an AssemblyScript plugin.
const ASSEMBLYSCRIPT: &[(&str, &str)] = &[
    (
        "package.json",
        include_str!("../templates/assemblyscript/package.json.in"),
    ),
    (
        "plugin.ts",
        include_str!("../templates/assemblyscript/plugin.ts.in"),
    ),
    (
        "README.md",
        include_str!("../templates/assemblyscript/README.md.in"),
    ),
    (
        ".gitignore",
        include_str!("../templates/assemblyscript/gitignore.in"),
    ),
];

/// Checks that `name` is a WIT identifier (which is also a crate and a
/// component name): `hello`, `text-tools2`.
fn check(name: &str) -> std::result::Result<(), String> {
    if is_name(name) {
        Ok(())
    } else {
        let suggestion = name
            .chars()
            .map(|c| match c {
                'A'..='Z' => c.to_ascii_lowercase(),
                '_' | ' ' | '.' => '-',
                c => c,
            })
            .collect::<String>();
        let suggestion = suggestion.trim_matches('-');
        let example = if is_name(suggestion) {
            suggestion
        } else {
            "my-plugin"
        };
        Err(format!(
            "`{}` is not a plugin name: use lower-case words of letters and digits, each \
             starting with a letter, joined by `-` (as WIT names are), e.g. `{example}`",
            Escaped(name),
        ))
    }
}

/// `NAME`, checked as the command line is read (a usage error, exit 2).
fn parse_name(name: &str) -> std::result::Result<String, String> {
    check(name).map(|()| name.to_owned())
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.split('-').all(|word| {
            word.starts_with(|c: char| c.is_ascii_lowercase())
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// Creates the plugin.
pub fn new(args: NewArgs) -> Result<ExitCode> {
    let dir = args.path.join(&args.name);
    if dir.exists() {
        return Err(Error::Io {
            path: dir.display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "already exists; `new` never writes into an existing directory (choose another \
                 name or --path)",
            ),
        });
    }
    // The name of the crate and of its `.wasm`, where Rust wants `_`.
    let crate_name = args.name.replace('-', "_");
    let (files, build, wasm) = match args.lang {
        NewLang::Rust => (
            RUST,
            "cargo build --target wasm32-wasip2 --release",
            format!("target/wasm32-wasip2/release/{crate_name}.wasm"),
        ),
        NewLang::Javascript => (
            JAVASCRIPT,
            "npm install && npm run build",
            format!("{}.wasm", args.name),
        ),
        NewLang::Python => (
            PYTHON,
            "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && \
             PATH=.venv/bin:$PATH sh build.sh",
            format!("{}.wasm", args.name),
        ),
        NewLang::C => (
            C,
            "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && \
             PATH=.venv/bin:$PATH sh build.sh",
            format!("{}.wasm", args.name),
        ),
        NewLang::Assemblyscript => (
            ASSEMBLYSCRIPT,
            "npm install && npm run build",
            format!("{}.wasm", args.name),
        ),
    };
    for (file, template) in COMMON.iter().chain(files) {
        let text = template
            .replace("{{name}}", &args.name)
            .replace("{{crate}}", &crate_name);
        write(&dir.join(file), &text)?;
    }
    println!("created {}", Escaped(dir.display()));
    println!("  cd {}", Escaped(dir.display()));
    println!("  {build}");
    println!("  airssys-wasm run {wasm} --invoke 'greet(\"ada\")'");
    Ok(ExitCode::SUCCESS)
}

fn write(file: &Path, text: &str) -> Result<()> {
    let io = |source| Error::Io {
        path: file.display().to_string(),
        source,
    };
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(file, text).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn names_are_wit_identifiers() {
        for good in ["hello", "text-tools2", "a-b-c"] {
            assert!(check(good).is_ok(), "{good}");
        }
        for (bad, suggested) in [
            ("Hello_World", "hello-world"),
            ("2fast", "my-plugin"),
            ("a--b", "my-plugin"),
            ("", "my-plugin"),
        ] {
            let e = check(bad).unwrap_err();
            assert!(e.ends_with(&format!("e.g. `{suggested}`")), "{bad}: {e}");
        }
    }
}
