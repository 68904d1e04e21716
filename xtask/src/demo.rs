//! `cargo xtask demo`: a short scripted tour of the CLI.
//!
//! Each step prints the command, what it printed and its exit code, and
//! checks the exit code it must have, so the demo also proves the tour works.

use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

use crate::guests::{self, Lang, cargo, out_dir, root, run};

struct Step<'a> {
    title: &'a str,
    args: Vec<String>,
    expect_code: i32,
}

fn step<'a>(title: &'a str, args: &[&str], expect_code: i32) -> Step<'a> {
    Step {
        title,
        args: args.iter().map(|s| s.to_string()).collect(),
        expect_code,
    }
}

pub fn run_demo() -> Result<()> {
    guests::build(Lang::All)?;
    println!("xtask: building the airssys-wasm CLI");
    run(
        cargo()
            .current_dir(root())
            .args(["build", "--quiet", "-p", "airssys-wasm-cli"]),
        "building the CLI",
    )?;
    let bin = root().join("target/debug/airssys-wasm");
    let g = |name: &str| out_dir().join(format!("{name}.wasm")).display().to_string();
    let audit = root().join("target/demo-audit.jsonl");
    let _ = std::fs::remove_file(&audit);
    let audit_s = audit.display().to_string();
    let (tools, probe, hello, hostile) =
        (g("text-tools"), g("wasi-probe"), g("hello"), g("hostile"));

    let steps = [
        step(
            "What does the plugin need? (inspect)",
            &["inspect", "--no-wit", &tools],
            0,
        ),
        step(
            "Call an export with WAVE arguments",
            &[
                "run",
                "--audit",
                &audit_s,
                &tools,
                "--invoke",
                r#"greet("plugin author")"#,
            ],
            0,
        ),
        step(
            "Records, lists and options come back in WAVE",
            &[
                "run",
                "--audit",
                &audit_s,
                &tools,
                "--invoke",
                r#"stats("the cat saw the hat", 2)"#,
            ],
            0,
        ),
        step(
            "Denied: a WASI guest reads /etc/passwd with nothing granted",
            &[
                "run",
                "--audit",
                &audit_s,
                &probe,
                "--invoke",
                r#"read-file("/etc/passwd")"#,
            ],
            0,
        ),
        step(
            "Denied: a command without --allow-stdio cannot print (its println! panics)",
            &["run", "--audit", &audit_s, &hello],
            83,
        ),
        step(
            "Granted: the same command with --allow-stdio and an env var",
            &[
                "run",
                "--allow-stdio",
                "--env",
                "GREETING=hi",
                &hello,
                "--",
                "demo",
            ],
            0,
        ),
        step(
            "Limit: an infinite loop stopped by fuel",
            &[
                "run", "--audit", &audit_s, "--fuel", "10000000", &hostile, "--invoke", "spin()",
            ],
            85,
        ),
        step(
            "Limit: a memory bomb stopped at 16MiB",
            &[
                "run",
                "--audit",
                &audit_s,
                "--memory",
                "16MiB",
                &hostile,
                "--invoke",
                "grow-memory()",
            ],
            87,
        ),
    ];
    for s in &steps {
        show(&bin, s)?;
    }
    println!("\n== The audit log ({}) ==", audit.display());
    let log = std::fs::read_to_string(&audit)?;
    for line in log.lines() {
        println!("  {line}");
    }
    let lines = log.lines().count();
    if !log.contains(r#""event":"limit-hit""#) || !log.contains(r#""event":"capability-denied""#) {
        bail!("the audit log lacks the limit hit or the denial");
    }
    println!(
        "\nxtask: demo done: {} steps, {lines} audit records",
        steps.len()
    );
    Ok(())
}

fn show(bin: &Path, s: &Step<'_>) -> Result<()> {
    println!("\n== {} ==", s.title);
    println!(
        "$ airssys-wasm {}",
        s.args
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let out = Command::new(bin).args(&s.args).output()?;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        println!("  {line}");
    }
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        println!("  (stderr) {line}");
    }
    let code = out.status.code().unwrap_or(-1);
    println!("  [exit code {code}]");
    if code != s.expect_code {
        bail!(
            "step `{}` exited with {code}, expected {}",
            s.title,
            s.expect_code
        );
    }
    Ok(())
}

fn shell_quote(a: &str) -> String {
    let plain = a
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./=:".contains(c));
    if plain && !a.is_empty() {
        let root = root().display().to_string();
        a.replace(&format!("{root}/"), "")
    } else {
        format!("'{a}'")
    }
}
