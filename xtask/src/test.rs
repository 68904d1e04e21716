//! `cargo xtask test`: every check the project has.

use anyhow::Result;

use crate::guests::{self, Lang, cargo, root, run};

/// Builds the guests, checks formatting and lints, and runs every test.
pub fn run_all(lint: bool) -> Result<()> {
    guests::build(Lang::All)?;
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
    crate::backends::check_wasmi_only()?;
    println!("xtask: cargo test --workspace");
    run(
        cargo().current_dir(root()).args(["test", "--workspace"]),
        "cargo test",
    )?;
    Ok(())
}
