//! `airssys-wasm compose`: plug components into another; `airssys-wasm
//! componentize`: make a component of a compiler's core module.

use std::path::PathBuf;
use std::process::ExitCode;

use airssys_wasm::{Error, Result};

/// Arguments of `compose`: a socket and plugs, or a WAC document and its
/// dependencies.
#[derive(clap::Args)]
pub struct ComposeArgs {
    /// The component whose imports the plugs satisfy.
    #[arg(required_unless_present = "wac", conflicts_with = "wac")]
    socket: Option<PathBuf>,
    /// A component whose exports satisfy imports of the socket (repeatable).
    #[arg(
        long = "plug",
        value_name = "PLUG",
        requires = "socket",
        required_unless_present = "wac"
    )]
    plugs: Vec<PathBuf>,
    /// Compose as a WAC document says instead (https://github.com/bytecodealliance/wac).
    #[arg(long, value_name = "FILE")]
    wac: Option<PathBuf>,
    /// A package the WAC document names, as NAME=FILE (repeatable).
    #[arg(long = "dep", value_name = "NAME=FILE", requires = "wac", value_parser = parse_dep)]
    deps: Vec<(String, PathBuf)>,
    /// Where to write the composed component.
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
}

/// `--dep NAME=FILE`, split as the command line is read (a usage error,
/// exit 2, without the `=`).
fn parse_dep(text: &str) -> std::result::Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((name, file)) if !name.is_empty() && !file.is_empty() => {
            Ok((name.to_owned(), PathBuf::from(file)))
        }
        _ => Err(
            "write NAME=FILE: the package name the WAC document uses, `=`, and the \
                  component's file, e.g. --dep example:greeter=greeter.wasm"
                .into(),
        ),
    }
}

/// Named inputs as the composition API takes them.
fn borrowed(inputs: &[(String, Vec<u8>)]) -> Vec<(&str, &[u8])> {
    inputs
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect()
}

fn composition_error(e: airssys_wasm_composition::ComposeError) -> Error {
    match e {
        airssys_wasm_composition::ComposeError::Invalid { .. } => {
            Error::InvalidComponent(e.to_string())
        }
        e => Error::Composition(e.to_string()),
    }
}

pub fn compose(args: ComposeArgs) -> Result<ExitCode> {
    let composed = match (&args.socket, &args.wac) {
        (Some(socket_path), None) => {
            let socket = crate::read_input(socket_path)?;
            let plugs = args
                .plugs
                .iter()
                .map(|p| Ok((p.display().to_string(), crate::read_input(p)?)))
                .collect::<Result<Vec<_>>>()?;
            airssys_wasm_composition::compose(
                (&socket_path.display().to_string(), &socket),
                &borrowed(&plugs),
            )
        }
        (None, Some(wac)) => {
            let text = String::from_utf8(crate::read_input(wac)?)
                .map_err(|_| Error::Composition(format!("{}: not UTF-8 text", wac.display())))?;
            let deps = args
                .deps
                .iter()
                .map(|(name, file)| Ok((name.clone(), crate::read_input(file)?)))
                .collect::<Result<Vec<_>>>()?;
            airssys_wasm_composition::compose_wac(
                (&wac.display().to_string(), &text),
                &borrowed(&deps),
            )
        }
        _ => unreachable!("clap requires exactly one of SOCKET and --wac"),
    }
    .map_err(composition_error)?;
    write_component(
        &args.output,
        &composed.bytes,
        &composed.info,
        "still imports",
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Writes a component and says what it (`verb`) imports.
fn write_component(
    output: &std::path::Path,
    bytes: &[u8],
    info: &airssys_wasm::ComponentInfo,
    verb: &str,
) -> Result<()> {
    std::fs::write(output, bytes).map_err(|source| Error::Io {
        path: output.display().to_string(),
        source,
    })?;
    let imports: Vec<&str> = info.imports().iter().map(|i| i.name.as_str()).collect();
    println!(
        "wrote {} ({} bytes); it {verb}: {}",
        output.display(),
        bytes.len(),
        if imports.is_empty() {
            "nothing".to_owned()
        } else {
            imports.join(", ")
        }
    );
    Ok(())
}

/// The string encodings `componentize --encoding` names.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Encoding {
    /// UTF-8: C, Rust, Go.
    Utf8,
    /// UTF-16: AssemblyScript.
    Utf16,
}

/// Arguments of `componentize`.
#[derive(clap::Args)]
pub struct ComponentizeArgs {
    /// The core module a compiler wrote (zig or clang for C, asc for
    /// AssemblyScript).
    module: PathBuf,
    /// The WIT file or directory holding the module's world (its `deps/`
    /// included). Leave it out when a binding generator put the world in the
    /// module (wit-bindgen's `component-type` section).
    #[arg(long, value_name = "PATH")]
    wit: Option<PathBuf>,
    /// The world, when the WIT package holds more than one.
    #[arg(long, value_name = "WORLD", requires = "wit")]
    world: Option<String>,
    /// How the module's strings are encoded in its memory.
    #[arg(long, value_enum, default_value = "utf8")]
    encoding: Encoding,
    /// Where to write the component.
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
}

/// Makes a component of a core module: its world embedded, WASI preview 1
/// imports adapted to WASI 0.2.
pub fn componentize(args: ComponentizeArgs) -> Result<ExitCode> {
    let module = crate::read_input(&args.module)?;
    let made = airssys_wasm_composition::componentize(
        (&args.module.display().to_string(), &module),
        airssys_wasm_composition::Componentize {
            wit: args.wit.as_deref(),
            world: args.world.as_deref(),
            encoding: match args.encoding {
                Encoding::Utf8 => airssys_wasm_composition::StringEncoding::Utf8,
                Encoding::Utf16 => airssys_wasm_composition::StringEncoding::Utf16,
            },
        },
    )
    .map_err(|e| match e {
        airssys_wasm_composition::ComposeError::Invalid { component, reason } => {
            Error::InvalidComponent(format!("{component}: {reason}"))
        }
        e => Error::Composition(e.to_string()),
    })?;
    if !made.adapted.is_empty() {
        eprintln!(
            "note: the module's WASI preview 1 imports ({}) are served through WASI 0.2 by the \
             preview 1 adapter",
            made.adapted.join(", ")
        );
    }
    write_component(&args.output, &made.bytes, &made.info, "imports")?;
    Ok(ExitCode::SUCCESS)
}
