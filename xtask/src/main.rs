//! Project automation for airssys-wasm.
//!
//! - `cargo xtask bench [--quick]`: run the benchmarks, write a report.
//! - `cargo xtask guests`: build the example and test guests from source.
//! - `cargo xtask demo`: build the guests and tour the CLI.
//! - `cargo xtask test`: build the guests and run every test.
//! - `cargo xtask fuzz [--cases N]`: a longer differential run of the two
//!   backends on generated modules.
//!
//! Each step works on a machine with only rustup's toolchain: missing wasm
//! targets are installed with `rustup target add`.

mod backends;
mod bench;
mod demo;
mod guests;
mod test;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "airssys-wasm project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the guests in guests/ into target/guests/*.wasm.
    Guests {
        /// Which language's guests to build.
        #[arg(long, value_enum, default_value = "all")]
        lang: guests::Lang,
    },
    /// Run the criterion benchmarks (release) and write target/bench-report/report.md.
    Bench {
        /// A smoke run: each benchmark briefly.
        #[arg(long)]
        quick: bool,
    },
    /// Build the guests and run a short scripted tour of the CLI.
    Demo,
    /// Run the backends' differential test on N generated modules (release build).
    Fuzz {
        /// How many modules to generate.
        #[arg(long, default_value_t = 5000)]
        cases: u64,
    },
    /// Build the guests, then run fmt check, clippy and every test.
    Test {
        /// Skip `cargo fmt --check` and clippy.
        #[arg(long)]
        no_lint: bool,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Guests { lang } => guests::build(lang).map(|_| ()),
        Command::Bench { quick } => bench::run_bench(quick),
        Command::Demo => demo::run_demo(),
        Command::Test { no_lint } => test::run_all(!no_lint),
        Command::Fuzz { cases } => backends::fuzz(cases),
    }
}
