//! `airssys-wasm completions SHELL` and `airssys-wasm man`: shell
//! completions and manual pages, generated from the CLI's own definition
//! (clap_complete, clap_mangen), so they never disagree with `--help`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use airssys_wasm::{Error, Result};
use clap::CommandFactory;

/// Arguments of `completions`.
#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for. Install, for example:
    /// `airssys-wasm completions bash > ~/.local/share/bash-completion/completions/airssys-wasm`,
    /// `airssys-wasm completions zsh > ~/.zfunc/_airssys-wasm`,
    /// `airssys-wasm completions fish > ~/.config/fish/completions/airssys-wasm.fish`.
    shell: clap_complete::Shell,
}

/// Arguments of `man`.
#[derive(clap::Args)]
pub struct ManArgs {
    /// Write a page for the command and one for each subcommand
    /// (`airssys-wasm.1`, `airssys-wasm-run.1`, ...) into this directory,
    /// instead of printing the command's page.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

fn io(path: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}

/// Prints the completion script for a shell.
pub fn completions(args: CompletionsArgs) -> Result<ExitCode> {
    let mut cmd = crate::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "airssys-wasm", &mut out);
    std::io::stdout().write_all(&out).map_err(io("(stdout)"))?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the manual page, or writes every page into a directory.
pub fn man(args: ManArgs) -> Result<ExitCode> {
    let cmd = crate::Cli::command();
    match args.out {
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(io(dir.display().to_string()))?;
            clap_mangen::generate_to(cmd, &dir).map_err(io(dir.display().to_string()))?;
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .map_err(io("(stdout)"))?;
            std::io::stdout().write_all(&out).map_err(io("(stdout)"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
