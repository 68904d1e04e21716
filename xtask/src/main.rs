//! Project automation for airssys-wasm.
//!
//! - `cargo xtask bench [--quick]`: run the benchmarks, write a report.
//! - `cargo xtask guests [--lang all|rust|c|cpp|javascript|python|go|assemblyscript]
//!   [--report]`: build the guests from source, installing the toolchains
//!   they need; `--report` measures the polyglot greeters.
//! - `cargo xtask demo`: build the guests and tour the CLI.
//! - `cargo xtask test [--all-guests]`: build the guests and run every test.
//! - `cargo xtask conformance --suite DIR [--backend B]`: the Component
//!   Model reference tests in DIR through the public API, per backend,
//!   beside raw wasmtime with our engine settings.
//! - `cargo xtask fuzz [--cases N] [--seed S] [--target NAME]`: longer runs
//!   of the fuzz targets (manifests and policy, WAVE, components, the
//!   canonical ABI) and of the differential test of the two backends.
//!
//! Each step works on a machine with only rustup's toolchain: missing wasm
//! targets are installed with `rustup target add`.

mod backends;
mod bench;
mod cycles;
mod demo;
mod demo_host;
mod guests;
mod lang;
mod polyglot;
mod report;
mod test;
mod toolchain;
mod workspace;

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
        /// Which languages' guests to build (comma-separated).
        #[arg(long, value_enum, value_delimiter = ',', default_value = "all")]
        lang: Vec<lang::Lang>,
        /// Then measure each greeter (size, cold compile, call latency on
        /// every backend) and print a markdown table for the README.
        #[arg(long)]
        report: bool,
    },
    /// Run the criterion benchmarks (release) and write target/bench-report/report.md.
    Bench {
        /// A smoke run: each benchmark briefly.
        #[arg(long)]
        quick: bool,
    },
    /// Build the guests and run a short scripted tour of the CLI.
    Demo,
    /// Run every fuzz target and the backends' differential test with N
    /// cases each (release build).
    Fuzz {
        /// How many cases each target runs.
        #[arg(long, default_value_t = 5000)]
        cases: u64,
        /// The first seed (a run covers seeds S..S+N).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Only the tests whose path contains this (`fuzz::config`,
        /// `fuzz::wave`, `fuzz::component`, `fuzz::abi`, `differential`).
        #[arg(long)]
        target: Option<String>,
    },
    /// Run a directory of Component Model `.wast` files (the reference
    /// tests of WebAssembly/component-model, `test/`) on each backend.
    Conformance {
        /// The directory of `.wast` files (a checkout's `test/`).
        #[arg(long)]
        suite: std::path::PathBuf,
        /// Only this backend (`wasmtime` or `wasmi`), or `raw-wasmtime`:
        /// wasmtime itself with our engine settings, the reference.
        #[arg(long)]
        backend: Option<String>,
    },
    /// Build the guests, then run fmt check, clippy and every test.
    Test {
        /// Skip `cargo fmt --check` and clippy.
        #[arg(long)]
        no_lint: bool,
        /// Build and test the greeter in every language, not only Rust, C and
        /// JavaScript.
        #[arg(long)]
        all_guests: bool,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Guests { lang, report } => {
            guests::build_many(&lang)?;
            if report {
                report::run_report(&lang)?;
            }
            Ok(())
        }
        Command::Bench { quick } => bench::run_bench(quick),
        Command::Demo => demo::run_demo(),
        Command::Test {
            no_lint,
            all_guests,
        } => test::run_all(!no_lint, all_guests),
        Command::Fuzz {
            cases,
            seed,
            target,
        } => backends::fuzz(cases, seed, target.as_deref()),
        Command::Conformance { suite, backend } => {
            backends::conformance(&suite, backend.as_deref())
        }
    }
}
