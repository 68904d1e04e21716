//! `airssys-wasm inspect`.

use std::path::PathBuf;
use std::process::ExitCode;

use airssys_wasm::{ComponentInfo, Error, ItemKind, Result};

/// Arguments of `inspect`.
#[derive(clap::Args)]
pub struct InspectArgs {
    /// The component file.
    component: PathBuf,
    /// Leave out the WIT text of the component's world.
    #[arg(long)]
    no_wit: bool,
}

pub fn inspect(args: InspectArgs) -> Result<ExitCode> {
    let bytes = std::fs::read(&args.component).map_err(|source| Error::Io {
        path: args.component.display().to_string(),
        source,
    })?;
    let info = ComponentInfo::parse(&bytes)?;
    print!(
        "{}",
        render(&args.component.display().to_string(), &info, !args.no_wit)
    );
    Ok(ExitCode::SUCCESS)
}

/// The text `inspect` prints.
pub fn render(path: &str, info: &ComponentInfo, with_wit: bool) -> String {
    let mut out = String::new();
    out.push_str(&format!("component: {path}\n"));
    out.push_str(&format!("digest:    {}\n", info.digest()));
    out.push_str(&format!("size:      {} bytes\n", info.size()));
    out.push_str("imports:\n");
    if info.imports().is_empty() {
        out.push_str("  (none)\n");
    }
    for item in info.imports() {
        let need = airssys_wasm::CapabilityKind::for_import(&item.name)
            .map(|k| format!("  [needs {k}]"))
            .unwrap_or_default();
        out.push_str(&format!("  {}{need}\n", describe(&item.name, &item.kind)));
    }
    out.push_str("exports:\n");
    let mut any = false;
    for (name, ty) in info.export_functions() {
        any = true;
        out.push_str(&format!("  {name}: {ty}\n"));
    }
    if !any {
        out.push_str("  (none)\n");
    }
    let needed: Vec<String> = info
        .needed_capabilities()
        .iter()
        .map(|k| k.to_string())
        .collect();
    out.push_str(&format!(
        "capabilities its imports need: {}\n",
        if needed.is_empty() {
            "none".to_owned()
        } else {
            needed.join(", ")
        }
    ));
    if with_wit {
        out.push_str("\nWIT:\n");
        out.push_str(info.wit());
        if !info.wit().ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

fn describe(name: &str, kind: &ItemKind) -> String {
    match kind {
        ItemKind::Function(ty) => format!("{name}: {ty}"),
        ItemKind::Interface(funcs) => format!(
            "{name} ({} function{})",
            funcs.len(),
            if funcs.len() == 1 { "" } else { "s" }
        ),
        ItemKind::Type => format!("{name} (type)"),
    }
}
