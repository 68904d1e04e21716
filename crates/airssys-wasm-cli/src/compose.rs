//! `airssys-wasm compose`: plug components into another.

use std::path::PathBuf;
use std::process::ExitCode;

use airssys_wasm::{Error, Result};

/// Arguments of `compose`.
#[derive(clap::Args)]
pub struct ComposeArgs {
    /// The component whose imports the plugs satisfy.
    socket: PathBuf,
    /// A component whose exports satisfy imports of the socket (repeatable).
    #[arg(long = "plug", value_name = "PLUG", required = true)]
    plugs: Vec<PathBuf>,
    /// Where to write the composed component.
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
}

fn read(path: &PathBuf) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

pub fn compose(args: ComposeArgs) -> Result<ExitCode> {
    let socket = read(&args.socket)?;
    let plugs = args
        .plugs
        .iter()
        .map(|p| Ok((p.display().to_string(), read(p)?)))
        .collect::<Result<Vec<_>>>()?;
    let plug_refs: Vec<(&str, &[u8])> = plugs
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let composed = airssys_wasm_composition::compose(
        (&args.socket.display().to_string(), &socket),
        &plug_refs,
    )
    .map_err(|e| match e {
        airssys_wasm_composition::ComposeError::Invalid { .. } => {
            Error::InvalidComponent(e.to_string())
        }
        e => Error::Composition(e.to_string()),
    })?;
    std::fs::write(&args.output, &composed.bytes).map_err(|source| Error::Io {
        path: args.output.display().to_string(),
        source,
    })?;
    let imports: Vec<&str> = composed
        .info
        .imports()
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    println!(
        "wrote {} ({} bytes); it still imports: {}",
        args.output.display(),
        composed.bytes.len(),
        if imports.is_empty() {
            "nothing".to_owned()
        } else {
            imports.join(", ")
        }
    );
    Ok(ExitCode::SUCCESS)
}
