//! `airssys-wasm inspect`.

use std::path::PathBuf;
use std::process::ExitCode;

use airssys_wasm::security::signing::Signature;
use airssys_wasm::security::{Evaluation, Manifest, Subject};
use airssys_wasm::{
    Capability, ComponentInfo, Error, HostSettings, ItemKind, Limits, Providers, Result,
};

/// Arguments of `inspect`.
#[derive(clap::Args)]
pub struct InspectArgs {
    /// The component file.
    component: PathBuf,
    /// Leave out the WIT text of the component's world.
    #[arg(long)]
    no_wit: bool,
    /// With --policy: the name the component would be run under (as `run --name`); without
    /// it, the manifest's name is the component's own claim and `[grant.NAME]` applies only
    /// if the grant pins a signer whose signature the component carries.
    #[arg(long, value_parser = crate::run::parse_component_name)]
    name: Option<String>,
    /// With --policy: show requested / granted / effective capabilities and limits.
    #[command(flatten)]
    governed: crate::governed::PolicyArgs,
}

pub fn inspect(args: InspectArgs) -> Result<ExitCode> {
    let bytes = crate::read_input(&args.component)?;
    let info = ComponentInfo::parse(&bytes)?;
    let (policy, manifest) = crate::governed::load(&args.governed, &args.component)?;
    // The providers `run` has (the key-value store in memory: nothing is
    // opened), which say what each import needs.
    let mut providers = Providers::new();
    airssys_wasm::host::register(&mut providers, &HostSettings::default())?;
    let mut out = render(
        &args.component.display().to_string(),
        &info,
        &providers,
        !args.no_wit,
    );
    if let Some(m) = &manifest {
        out.push_str(&render_manifest(m));
    }
    if let Some(p) = &policy {
        let name = args.name.clone().unwrap_or_else(|| {
            manifest.as_ref().map_or_else(
                || {
                    args.component
                        .file_stem()
                        .map_or("component".into(), |s| s.to_string_lossy().into_owned())
                },
                |m| m.name.clone(),
            )
        });
        // The trusted key that signed it, if a valid signature lies beside it.
        let signer = Signature::load_for(&args.component).ok().and_then(|s| {
            s.verify_trusted(
                &bytes,
                &p.trusted_keys,
                manifest.as_ref().and_then(|m| m.signer.as_deref()),
            )
            .ok()
            .map(|k| k.name.clone())
        });
        let subject = Subject {
            name: &name,
            named_by_operator: args.name.is_some(),
            signer: signer.as_deref(),
        };
        let e = p
            .evaluate(&subject, manifest.as_deref(), &[], &Limits::unlimited())
            .map_err(|e| Error::Policy(e.to_string()))?;
        out.push_str(&render_evaluation(&p.file().display().to_string(), &e));
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

fn render_manifest(m: &Manifest) -> String {
    let mut out = format!("\nmanifest:  {}\n", m.file().display());
    out.push_str(&format!(
        "  name {}{}{}\n",
        m.name,
        m.version
            .as_deref()
            .map(|v| format!(" {v}"))
            .unwrap_or_default(),
        m.description
            .as_deref()
            .map(|d| format!(" - {d}"))
            .unwrap_or_default()
    ));
    if let Some(signer) = &m.signer {
        out.push_str(&format!("  signed by {signer}\n"));
    }
    out
}

/// Requested / granted / effective, side by side, then limits and warnings.
pub fn render_evaluation(policy: &str, e: &Evaluation) -> String {
    let cell = |caps: &[Capability]| {
        if caps.is_empty() {
            "-".to_owned()
        } else {
            caps.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        }
    };
    let mut table = vec![[
        "requested".to_owned(),
        "granted".to_owned(),
        "effective".to_owned(),
    ]];
    for row in &e.rows {
        table.push([
            row.requested.as_ref().map_or("-".into(), |c| c.to_string()),
            cell(&row.granted),
            cell(&row.effective),
        ]);
    }
    let width = |i: usize| {
        table
            .iter()
            .map(|r| r[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1) = (width(0), width(1));
    let mut out = format!("\npolicy:    {policy} (component `{}`)\n", e.name);
    for r in &table {
        out.push_str(format!("  {:w0$}  {:w1$}  {}", r[0], r[1], r[2]).trim_end());
        out.push('\n');
    }
    let l = &e.limits;
    let show = |v: Option<String>| v.unwrap_or_else(|| "unlimited".into());
    out.push_str(&format!(
        "limits:    memory {}, fuel {}, timeout {}, instances {}, table elements {}\n",
        show(
            l.memory_bytes
                .map(|b| bytesize::ByteSize(b).display().iec().to_string())
        ),
        show(l.fuel.map(|f| f.to_string())),
        show(l.timeout.map(|t| humantime::format_duration(t).to_string())),
        show(l.max_instances.map(|i| i.to_string())),
        show(l.table_elements.map(|t| t.to_string())),
    ));
    if !e.warnings.is_empty() {
        out.push_str("warnings:\n");
        for w in &e.warnings {
            out.push_str(&format!("  {w}\n"));
        }
    }
    out
}

/// The text `inspect` prints; `providers` say what each import needs.
pub fn render(path: &str, info: &ComponentInfo, providers: &Providers, with_wit: bool) -> String {
    let mut out = String::new();
    out.push_str(&format!("component: {path}\n"));
    out.push_str(&format!("digest:    {}\n", info.digest()));
    out.push_str(&format!("size:      {} bytes\n", info.size()));
    out.push_str("imports:\n");
    if info.imports().is_empty() {
        out.push_str("  (none)\n");
    }
    for item in info.imports() {
        let need = providers
            .capability_for(&item.name)
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
    for w in info.export_warnings() {
        out.push_str(&format!("  warning: {w}\n"));
    }
    let needed = info.needed_capabilities(providers);
    let names: Vec<&str> = needed.iter().map(|k| k.as_str()).collect();
    out.push_str(&format!(
        "capabilities its imports need: {}\n",
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    ));
    for kind in &needed {
        out.push_str(&format!("  {kind}: granted by {}\n", kind.how_granted()));
    }
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
        ItemKind::Other(what) => format!("{name} ({what})"),
    }
}
