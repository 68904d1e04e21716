//! `cargo xtask test`: every check the project has.

use anyhow::Result;

use crate::guests;
use crate::lang::Lang;
use crate::workspace::{cargo, root, run};

/// Builds the guests, checks formatting and lints, and runs every test.
/// The polyglot test checks the greeters of [`Lang::CI`], or of every
/// language with `all_guests`: it is told which through `AIRSSYS_GREETERS`.
pub fn run_all(lint: bool, all_guests: bool) -> Result<()> {
    let langs: &[Lang] = if all_guests { &Lang::EVERY } else { &Lang::CI };
    guests::build_many(langs)?;
    let greeters: Vec<&str> = langs.iter().map(|l| l.name()).collect();
    if lint {
        println!("xtask: cargo fmt --check");
        run(
            cargo()
                .current_dir(root())
                .args(["fmt", "--all", "--", "--check"]),
            "cargo fmt --check (run `cargo fmt --all`)",
        )?;
        println!("xtask: cargo clippy");
        run(
            cargo().current_dir(root()).args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--quiet",
                "--",
                "-D",
                "warnings",
            ]),
            "cargo clippy",
        )?;
    }
    crate::cycles::check(&root())?;
    crate::backends::check_wasmi_only()?;
    // The host's status page is checked in a real headless browser.
    let chromium =
        crate::toolchain::debian("chromium", "chromium", "the status page's browser test")?;
    println!("xtask: cargo test --workspace");
    run(
        cargo()
            .current_dir(root())
            .args(["test", "--workspace"])
            .env("AIRSSYS_GREETERS", greeters.join(","))
            .env("AIRSSYS_CHROMIUM", &chromium),
        "cargo test",
    )?;
    // The scaffolds of `airssys-wasm new` whose toolchain this run has.
    for lang in [
        Lang::Javascript,
        Lang::Python,
        Lang::C,
        Lang::Assemblyscript,
    ] {
        if langs.contains(&lang) {
            crate::polyglot::check_scaffold(lang, &root().join("target/debug/airssys-wasm"))?;
        }
    }
    // Each benchmark once, unmeasured: a benchmark whose setup or checks
    // broke (a guest renders differently, a sink is not called) fails here
    // rather than at the next `cargo xtask bench`.
    // `--workspace`, not `-p`: the features stay those of the build above,
    // so nothing is compiled twice.
    println!("xtask: cargo test --bench '*' (each benchmark run once)");
    run(
        cargo()
            .current_dir(root())
            .args(["test", "--workspace", "--bench", "*"]),
        "cargo test --bench '*'",
    )?;
    Ok(())
}
