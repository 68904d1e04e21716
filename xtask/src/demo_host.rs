//! The demo's host segment: start `airssys-wasm host`, deploy two
//! components, call them, upgrade one under a loop of calls, show
//! `status`, scrape `/metrics`, save a screenshot of the status page and
//! stop the host.

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Runs the segment with the CLI `bin` in `work`; `guest` gives a built
/// guest's path.
pub fn run(bin: &Path, work: &Path, guest: impl Fn(&str) -> String) -> Result<()> {
    println!("\n== A long-running host: deploy, call, upgrade under load, status, metrics ==");
    let state = work.join("host-state");
    let _ = std::fs::remove_dir_all(&state);
    let config = work.join("host.toml");
    std::fs::write(
        &config,
        "drain = \"5s\"\n[metrics]\nlisten = \"127.0.0.1:0\"\n",
    )?;
    println!("$ airssys-wasm host --state target/demo/host-state --config target/demo/host.toml &");
    let mut host = Command::new(bin)
        .arg("host")
        .arg("--state")
        .arg(&state)
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(work.join("host.log"))?)
        .spawn()
        .context("starting the host")?;
    let outcome = drive(bin, work, &state, &guest, &mut host);
    // However the segment went, the host is stopped.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(host.id().to_string())
        .status();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = host.try_wait()? {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = host.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    outcome?;
    match status {
        Some(s) if s.success() => {
            println!("$ kill -TERM <host>\n  [the host drained, closed its audit log and exited 0]")
        }
        other => bail!("the host did not stop cleanly: {other:?}"),
    }
    let verify = cli(
        bin,
        &[
            "audit",
            "verify",
            "--require-closed",
            "--key",
            &state.join("audit.key").display().to_string(),
            "--pubkey",
            &state.join("host.pub").display().to_string(),
            &state.join("audit.log").display().to_string(),
        ],
    )?;
    println!(
        "$ airssys-wasm audit verify --require-closed --key ... --pubkey ... host-state/audit.log\n  {}",
        verify.trim()
    );
    Ok(())
}

fn drive(
    bin: &Path,
    work: &Path,
    state: &Path,
    guest: &impl Fn(&str) -> String,
    host: &mut std::process::Child,
) -> Result<()> {
    let endpoints = state.join("host.json");
    let start = Instant::now();
    let metrics: SocketAddr = loop {
        if let Ok(text) = std::fs::read_to_string(&endpoints)
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        {
            break v["metrics"]
                .as_str()
                .context("the host serves no metrics port")?
                .parse()?;
        }
        if let Some(s) = host.try_wait()? {
            bail!(
                "the host exited ({s}): {}",
                std::fs::read_to_string(work.join("host.log")).unwrap_or_default()
            );
        }
        if start.elapsed() > Duration::from_secs(60) {
            bail!("the host did not come up within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let socket = state.join("admin.sock").display().to_string();
    let op = |args: &[&str]| -> Result<String> {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--host", &socket]);
        println!("$ airssys-wasm {}", args.join(" "));
        let out = cli(bin, &all)?;
        for line in out.lines() {
            println!("  {line}");
        }
        Ok(out)
    };
    let (greeter, tools) = (guest("greeter-rust"), guest("text-tools"));
    op(&["deploy", &greeter, "--name", "greeter", "--version", "1"])?;
    op(&["deploy", &tools, "--name", "tools", "--version", "1"])?;
    op(&["call", "greeter", r#"greet("operator")"#])?;
    op(&["call", "tools", r#"stats("the cat saw the hat", 2)"#])?;
    // A loop of calls runs through the upgrade: none may fail.
    let (bin2, socket2) = (bin.to_owned(), socket.clone());
    let caller = std::thread::spawn(move || -> Result<u32> {
        let mut served = 0;
        for _ in 0..40 {
            cli(
                &bin2,
                &["call", "greeter", r#"greet("load")"#, "--host", &socket2],
            )?;
            served += 1;
        }
        Ok(served)
    });
    std::thread::sleep(Duration::from_millis(200));
    op(&["upgrade", "greeter", &tools, "--version", "2"])?;
    let served = caller
        .join()
        .map_err(|_| anyhow::anyhow!("the calling loop panicked"))??;
    println!("  [{served} calls through the upgrade, none failed]");
    op(&["status"])?;
    println!("$ curl -s http://{metrics}/metrics | grep calls_total");
    let text = http_get(metrics, "/metrics")?;
    let calls: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("airssys_wasm_calls_total"))
        .collect();
    if calls.is_empty() {
        bail!("the metrics lack airssys_wasm_calls_total:\n{text}");
    }
    for line in calls {
        println!("  {line}");
    }
    let chromium =
        crate::toolchain::debian("chromium", "chromium", "the status page's screenshot")?;
    let shot = work.join("status-page.png");
    let ok = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1100,420",
            "--virtual-time-budget=3000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            work.join("chromium").display()
        ))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("http://{metrics}/"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?
        .success();
    if !ok || !shot.exists() {
        bail!("chromium did not save the status page's screenshot");
    }
    println!("  [the status page at http://{metrics}/ saved as target/demo/status-page.png]");
    Ok(())
}

/// Runs the CLI; its stdout, or an error with its stderr.
fn cli(bin: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(bin).args(args).output()?;
    if !out.status.success() {
        bail!(
            "`airssys-wasm {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn http_get(addr: SocketAddr, path: &str) -> Result<String> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: demo\r\nconnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default())
}
