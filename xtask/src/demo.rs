//! `cargo xtask demo`: a short scripted tour of the CLI.
//!
//! Each step prints the command, what it printed and its exit code, and
//! checks the exit code it must have, so the demo also proves the tour works.

use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

use crate::guests;
use crate::lang::Lang;
use crate::workspace::{cargo, out_dir, root, run};

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
    guests::build(Lang::Rust)?;
    println!("xtask: building the airssys-wasm CLI");
    run(
        cargo()
            .current_dir(root())
            .args(["build", "--quiet", "-p", "airssys-wasm-cli"]),
        "building the CLI",
    )?;
    let bin = root().join("target/debug/airssys-wasm");
    let g = |name: &str| out_dir().join(format!("{name}.wasm")).display().to_string();
    let work = root().join("target/demo");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let audit = work.join("audit.jsonl");
    let audit_s = audit.display().to_string();
    let (tools, probe, hello, hostile, host_probe) = (
        g("text-tools"),
        g("wasi-probe"),
        g("hello"),
        g("hostile"),
        g("host-probe"),
    );
    let examples = root().join("examples");
    let policy = examples.join("policy.toml").display().to_string();
    let manifest = examples
        .join("wasi-probe.Component.toml")
        .display()
        .to_string();
    let greedy = work.join("greedy.Component.toml");
    std::fs::write(
        &greedy,
        "[component]\nname = \"wasi-probe\"\n\n[capabilities]\nenv = [\"AWS_SECRET_ACCESS_KEY\"]\n",
    )?;
    let greedy = greedy.display().to_string();
    let signed = work.join("text-tools.wasm");
    std::fs::copy(&tools, &signed)?;
    let signed = signed.display().to_string();
    let keys = work.display().to_string();
    let key = work.join("acme.key").display().to_string();
    let public = work.join("acme.pub").display().to_string();

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
            "The same command on the wasmi backend (an interpreter, no JIT)",
            &[
                "run",
                "--backend",
                "wasmi",
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
        step(
            "Policy: what the manifest asks, what the operator grants, what it gets",
            &[
                "inspect",
                "--no-wit",
                "--name",
                "wasi-probe",
                "--policy",
                &policy,
                "--manifest",
                &manifest,
                &probe,
            ],
            0,
        ),
        step(
            "Policy: the run gets the effective grants of the name the operator gives it (GREETING is the policy's value)",
            &[
                "run",
                "--audit",
                &audit_s,
                "--name",
                "wasi-probe",
                "--policy",
                &policy,
                "--manifest",
                &manifest,
                &probe,
                "--invoke",
                r#"get-env("GREETING")"#,
            ],
            0,
        ),
        step(
            "Policy: a manifest asking for a forbidden capability is refused",
            &[
                "run",
                "--audit",
                &audit_s,
                "--policy",
                &policy,
                "--manifest",
                &greedy,
                &probe,
                "--invoke",
                "now-secs()",
            ],
            91,
        ),
        step(
            "airssys:host: an ungranted file read comes back as error::denied",
            &[
                "run",
                "--audit",
                &audit_s,
                &host_probe,
                "--invoke",
                r#"fs-read("/etc/passwd")"#,
            ],
            0,
        ),
        step(
            "Signing: a key for the publisher",
            &["keygen", "acme", "--dir", &keys],
            0,
        ),
        step(
            "Signing: sign the component (writes text-tools.wasm.sig)",
            &["sign", &signed, "--key", &key],
            0,
        ),
        step(
            "Signing: verify it",
            &["verify", &signed, "--pubkey", &public],
            0,
        ),
        step(
            "The audit log: every decision above, hash-chained",
            &["audit", "verify", &audit_s],
            0,
        ),
        step(
            "The audit log: just the refusals",
            &["audit", "show", "--denied", &audit_s],
            0,
        ),
    ];
    for s in &steps {
        show(&bin, s)?;
    }
    crate::demo_host::run(&bin, &work, g)?;
    let log = std::fs::read_to_string(&audit)?;
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
