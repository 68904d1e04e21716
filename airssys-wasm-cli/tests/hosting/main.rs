//! `airssys-wasm host` end to end, with the real binaries: a host on a
//! temporary state directory driven by the operator commands, stopped,
//! started again, killed with SIGKILL, flooded and scraped.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::Duration;

use common::*;

fn status_json(host: &HostProc) -> serde_json::Value {
    serde_json::from_str(&ok(&host.cli(&["status", "--json"]))).unwrap()
}

#[test]
fn operators_deploy_call_upgrade_canary_promote_roll_back_and_a_restart_keeps_it_all() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let cfg = config(tmp.path(), "");
    let (v1, v2, v3) = (
        write(tmp.path(), "v1.wasm", &app(1)),
        write(tmp.path(), "v2.wasm", &app(2)),
        write(tmp.path(), "v3.wasm", &app(3)),
    );
    let host = HostProc::start(&state, &cfg);
    ok(&host.cli(&["deploy", &v1, "--name", "app", "--version", "1"]));
    ok(&host.cli(&["deploy", &v1, "--name", "acme/other"]));
    assert_eq!(ok(&host.cli(&["call", "app", "version()"])), "1");
    assert_eq!(ok(&host.cli(&["call", "acme/other", "add(2, 40)"])), "42");
    ok(&host.cli(&["upgrade", "app", &v2, "--version", "2"]));
    assert_eq!(ok(&host.cli(&["call", "app", "version()"])), "2");
    ok(&host.cli(&["canary", "app", &v3, "--version", "3", "--percent", "100"]));
    assert_eq!(ok(&host.cli(&["call", "app", "version()"])), "3");
    let listed = ok(&host.cli(&["list"]));
    assert!(
        listed.contains("app") && listed.contains("3 (100%"),
        "{listed}"
    );
    ok(&host.cli(&["promote", "app"]));
    assert_eq!(ok(&host.cli(&["call", "app", "version()"])), "3");
    // Rollback returns to the version active before the promotion.
    ok(&host.cli(&["rollback", "app"]));
    assert_eq!(ok(&host.cli(&["call", "app", "version()"])), "2");
    ok(&host.cli(&["call", "app", "say()"]));
    let logs = ok(&host.cli(&["logs", "app"]));
    assert!(logs.contains("hello from version 2"), "{logs}");

    let all = status_json(&host);
    let app_status = all
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "app")
        .unwrap();
    assert_eq!(app_status["version"], "2");
    assert_eq!(app_status["calls"], 6);
    assert_eq!(app_status["state"], "running");
    let info = ok(&host.cli(&["info", "app"]));
    assert!(
        info.contains("blake3:") && info.lines().count() >= 4,
        "{info}"
    );

    // Mistakes: a clear error, the exit code of its class, nothing changed.
    let (code, err) = failed(&host.cli(&["call", "nothing", "version()"]));
    assert_eq!(code, 82, "{err}");
    assert!(
        err.contains("no deployment `nothing`") && err.contains("app"),
        "{err}"
    );
    let (code, err) = failed(&host.cli(&["call", "app", "add(1,"]));
    assert_eq!(code, 82, "{err}");
    let (code, err) = failed(&host.cli(&["call", "app", "nope()"]));
    assert_eq!(code, 82, "{err}");
    assert!(err.contains("version"), "names the exports: {err}");
    let junk = write(tmp.path(), "junk.wasm", b"not a component");
    let (code, err) = failed(&host.cli(&["upgrade", "app", &junk]));
    assert_eq!(code, 80, "{err}");
    let (code, err) = failed(&host.cli(&["deploy", &junk, "--name", "junk"]));
    assert_eq!(code, 80, "{err}");
    let (code, err) = failed(&host.cli(&["call", "app", "spin()"]));
    assert_eq!(code, 85, "out of fuel: {err}");
    // A call out of fuel fails alone: the next call is served.
    assert_eq!(ok(&host.cli(&["call", "app", "version()"])), "2");
    let after = ok(&host.cli(&["info", "app"]));
    assert_eq!(
        after.lines().count(),
        info.lines().count(),
        "no version added: {after}"
    );
    assert!(!ok(&host.cli(&["list"])).contains("junk"));
    // A manifest asking for what the policy forbids: refused (policy, 91),
    // nothing deployed and no version kept.
    let greedy = tmp.path().join("greedy.toml");
    std::fs::write(
        &greedy,
        "[component]\nname = \"greedy\"\n[capabilities]\nenv = [\"SECRET_TOKEN\"]\n",
    )
    .unwrap();
    let greedy = greedy.display().to_string();
    let (code, err) =
        failed(&host.cli(&["deploy", &v3, "--name", "greedy", "--manifest", &greedy]));
    assert_eq!(code, 91, "{err}");
    assert!(
        err.contains("SECRET_TOKEN") && err.contains("forbid"),
        "{err}"
    );
    let (code, err) = failed(&host.cli(&[
        "upgrade",
        "app",
        &v3,
        "--version",
        "9",
        "--manifest",
        &greedy,
    ]));
    assert_eq!(code, 91, "{err}");
    assert!(!ok(&host.cli(&["list"])).contains("greedy"));
    assert_eq!(
        ok(&host.cli(&["info", "app"])).lines().count(),
        info.lines().count()
    );
    ok(&host.cli(&["undeploy", "acme/other"]));

    // A client keeps its connection, and makes a new one when the host
    // it talked to was restarted.
    let kept = airssys_wasm_host::Client::socket(&host.socket);
    let listed: Vec<serde_json::Value> = kept.get("list").unwrap();
    assert_eq!(listed.len(), 1);
    let tail = ok(&host.cli(&["audit", "tail"]));
    assert!(
        tail.contains("lifecycle") && tail.contains("app@2"),
        "{tail}"
    );
    assert!(host.stop().success(), "SIGTERM stops the host with 0");

    // The audit log verifies with the host's keys and is closed.
    verify_audit(&state, true);

    // Started again, it serves what it served.
    let host = HostProc::start(&state, &cfg);
    let again: Vec<serde_json::Value> = kept.get("list").unwrap();
    let names = |l: &[serde_json::Value]| -> Vec<(String, String)> {
        l.iter()
            .map(|d| (d["name"].to_string(), d["version"].to_string()))
            .collect()
    };
    assert_eq!(names(&again), names(&listed));
    let listed = ok(&host.cli(&["list"]));
    assert!(
        listed.contains("app") && !listed.contains("acme/other"),
        "{listed}"
    );
    assert_eq!(ok(&host.cli(&["call", "app", "version()"])), "2");
    assert!(host.stop().success());

    // No host: one line saying so and how to start one.
    let gone = std::process::Command::new(BIN)
        .args(["list", "--host"])
        .arg(state.join("admin.sock"))
        .output()
        .unwrap();
    let (code, err) = failed(&gone);
    assert_eq!(code, 90);
    assert!(
        err.contains("no host is running") && err.contains("airssys-wasm host"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn the_admin_port_needs_the_token_the_secrets_are_owner_only_and_metrics_move_with_calls() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let cfg = config(
        tmp.path(),
        "max_upload = \"1MiB\"\n[admin]\ntcp = \"127.0.0.1:0\"\n",
    );
    let v1 = write(tmp.path(), "v1.wasm", &app(1));
    let host = HostProc::start(&state, &cfg);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&host.socket), 0o600);
    for secret in ["admin.token", "audit.key", "host.key"] {
        assert_eq!(mode(&state.join(secret)), 0o600, "{secret}");
    }
    let tcp = host.tcp.expect("the TCP admin port");
    let (status, body) = http(tcp, "GET", "/v1/list", "", "");
    assert_eq!(status, 401, "{body}");
    let (status, _) = http(tcp, "GET", "/v1/list", "authorization: Bearer 0000\r\n", "");
    assert_eq!(status, 401);
    let token = std::fs::read_to_string(state.join("admin.token")).unwrap();
    let bearer = format!("authorization: Bearer {}\r\n", token.trim());
    let (status, body) = http(tcp, "GET", "/v1/list", &bearer, "");
    assert_eq!((status, body.as_str()), (200, "[]"));
    // Malformed requests: typed errors, the host unharmed.
    for (method, path, body, says) in [
        ("POST", "/v1/deploy", "{", "not the operation's JSON"),
        (
            "POST",
            "/v1/deploy",
            r#"{"name":"x","component":"%%%"}"#,
            "not base64",
        ),
        (
            "POST",
            "/v1/call",
            r#"{"name":"x","call":"f()","extra":1}"#,
            "unknown field",
        ),
        ("DELETE", "/v1/list", "", "no operation"),
        ("GET", "/v1/%0a%1b[31m", "", "no operation"),
        ("GET", "/admin", "", "no such API path"),
    ] {
        let (status, answer) = http(tcp, method, path, &bearer, body);
        assert_eq!(status, 400, "{method} {path}: {answer}");
        let e: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(e["class"], "bad-call", "{answer}");
        assert!(e["error"].as_str().unwrap().contains(says), "{answer}");
    }

    ok(&host.cli(&["deploy", &v1, "--name", "app"]));
    let metrics = host.metrics.expect("the metrics port");
    let scrape = || {
        let (status, text) = http(metrics, "GET", "/metrics", "", "");
        assert_eq!(status, 200);
        check_exposition(&text);
        text
    };
    let value = |text: &str, series: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(series))
            .and_then(|l| l.rsplit(' ').next())
            .map_or(0.0, |v| v.parse().unwrap())
    };
    let calls = "airssys_wasm_calls_total{deployment=\"app\",version=\"1\"}";
    let before = scrape();
    for _ in 0..3 {
        ok(&host.cli(&["call", "app", "version()"]));
    }
    failed(&host.cli(&["call", "app", "spin()"]));
    let after = scrape();
    assert_eq!(value(&after, calls) - value(&before, calls), 4.0, "{after}");
    assert!(after.contains("kind=\"out-of-fuel\""), "{after}");
    assert!(
        value(&after, "airssys_wasm_fuel_consumed_total{") > 20_000_000.0 - 1.0,
        "{after}"
    );
    assert!(
        value(&after, "airssys_wasm_audit_records_written_total")
            > value(&before, "airssys_wasm_audit_records_written_total")
    );
    assert!(
        // The 4 calls above and the malformed one.
        after.contains("airssys_wasm_admin_requests_total{operation=\"call\"} 5")
            && after.contains("airssys_wasm_admin_requests_total{operation=\"unknown\"} 1"),
        "{after}"
    );
    // The status page and its data.
    let (status, page) = http(metrics, "GET", "/", "", "");
    assert_eq!(status, 200);
    assert!(page.contains("<td>app</td>"), "{page}");
    let (_, json) = http(metrics, "GET", "/status.json", "", "");
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["deployments"][0]["calls"], 4);
    // SIGHUP reloads the policy; one that does not parse is refused and
    // the one in force stays (the admin API's reload says why).
    let policy = tmp.path().join("policy.toml");
    let good = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(&policy, "[limits.default\nfuel = ").unwrap();
    host.signal("HUP");
    let client = airssys_wasm_host::Client::socket(&host.socket);
    let refused = client
        .post::<_, airssys_wasm_host::api::Done>("reload", &())
        .unwrap_err()
        .to_string();
    assert!(refused.contains("the policy in force stays"), "{refused}");
    assert_eq!(ok(&host.cli(&["call", "app", "version()"])), "1");
    let (code, _) = failed(&host.cli(&["call", "app", "spin()"]));
    assert_eq!(code, 85, "the old policy's fuel limit holds");
    std::fs::write(&policy, good.replace("20_000_000", "1_000")).unwrap();
    host.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    let done: airssys_wasm_host::api::Done = client.post("reload", &()).unwrap();
    assert!(
        done.done.contains("every deployment runs under it"),
        "{}",
        done.done
    );
    let (code, err) = failed(&host.cli(&["call", "app", "spin()"]));
    assert!(
        code == 85 && err.contains("1000 units"),
        "the new limit holds: {err}"
    );
    // A policy that now forbids what a running deployment's manifest asks
    // stops it at once (fails closed); the others keep serving.
    let asking = tmp.path().join("asking.toml");
    std::fs::write(
        &asking,
        "[component]\nname = \"asking\"\n[capabilities]\nenv = [\"APP_MODE\"]\n",
    )
    .unwrap();
    let v1 = write(tmp.path(), "v1-again.wasm", &app(1));
    ok(&host.cli(&[
        "deploy",
        &v1,
        "--name",
        "asking",
        "--manifest",
        &asking.display().to_string(),
    ]));
    assert_eq!(ok(&host.cli(&["call", "asking", "version()"])), "1");
    std::fs::write(
        &policy,
        good.replace("\"SECRET_*\"", "\"SECRET_*\", \"APP_*\""),
    )
    .unwrap();
    let done: airssys_wasm_host::api::Done = client.post("reload", &()).unwrap();
    assert!(
        done.done.contains("refused and stopped: `asking`"),
        "{}",
        done.done
    );
    let (code, err) = failed(&host.cli(&["call", "asking", "version()"]));
    assert!(code == 87 && err.contains("failed"), "{code}: {err}");
    assert_eq!(ok(&host.cli(&["call", "app", "version()"])), "1");
    // A request body over max_upload is refused before it is read whole.
    let big = "x".repeat(2 << 20);
    let (status, body) = http(tcp, "POST", "/v1/deploy", &bearer, &big);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("max_upload"), "{body}");
    assert!(host.stop().success());
}

/// Checks Prometheus/OpenMetrics text: comments are HELP, TYPE or UNIT of
/// a metric, every sample is `name{labels} value` with a number, and it
/// ends with `# EOF`.
fn check_exposition(text: &str) {
    assert!(text.ends_with("# EOF\n"), "{text}");
    let mut typed = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(c) = line.strip_prefix("# ") {
            let mut parts = c.splitn(3, ' ');
            let (kind, name) = (parts.next().unwrap(), parts.next().unwrap_or(""));
            if kind == "TYPE" {
                typed.insert(name.to_owned());
            }
            assert!(matches!(kind, "HELP" | "TYPE" | "UNIT" | "EOF"), "{line}");
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        assert!(value.parse::<f64>().is_ok() || value == "+Inf", "{line}");
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line}"
            );
        }
        assert!(
            typed.iter().any(|t| name.starts_with(t.as_str())),
            "{name} has no TYPE line before it"
        );
    }
}

#[test]
fn a_host_killed_in_the_middle_of_deploys_and_upgrades_comes_back_before_or_after_each_one() {
    for kill_after in [120, 260, 400] {
        killed_after(Duration::from_millis(kill_after));
    }
}

/// Deploys `d2`, upgrades `app` to 2, deploys `d3`, upgrades to 3, ...,
/// kills the host with SIGKILL after `delay`, starts it again and checks
/// that each operation happened whole or not at all.
fn killed_after(delay: Duration) {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let cfg = config(tmp.path(), "");
    let files: Vec<String> = (1..=12)
        .map(|n| write(tmp.path(), &format!("v{n}.wasm"), &app(n)))
        .collect();
    let host = HostProc::start(&state, &cfg);
    ok(&host.cli(&["deploy", &files[0], "--name", "app", "--version", "1"]));
    let socket = host.socket.clone();
    // The operations acknowledged, in order: (deployed name or upgrade, n).
    let operations = std::thread::spawn(move || {
        let mut acknowledged = Vec::new();
        'ops: for n in 2..=files.len() {
            let name = format!("d{n}");
            let version = n.to_string();
            let steps: [(&str, Vec<&str>); 2] = [
                ("deploy", vec!["deploy", &files[n - 1], "--name", &name]),
                (
                    "upgrade",
                    vec!["upgrade", "app", &files[n - 1], "--version", &version],
                ),
            ];
            for (kind, args) in steps {
                let out = std::process::Command::new(BIN)
                    .args(&args)
                    .arg("--host")
                    .arg(&socket)
                    .output()
                    .unwrap();
                if !out.status.success() {
                    break 'ops;
                }
                acknowledged.push((kind, n));
            }
        }
        acknowledged
    });
    std::thread::sleep(delay);
    host.signal("KILL");
    let acknowledged = operations.join().unwrap();
    drop(host);
    let host = HostProc::start(&state, &cfg);
    let upgraded = acknowledged
        .iter()
        .filter(|(k, _)| *k == "upgrade")
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(1);
    let deployed: Vec<usize> = acknowledged
        .iter()
        .filter(|(k, _)| *k == "deploy")
        .map(|(_, n)| *n)
        .collect();
    let v: usize = ok(&host.cli(&["call", "app", "version()"]))
        .parse()
        .unwrap();
    // The operation in flight at the kill is the one after the last
    // acknowledged: before or after it, never in between.
    let in_flight = match acknowledged.last() {
        Some(("deploy", n)) => ("upgrade", *n),
        Some((_, n)) => ("deploy", n + 1),
        None => ("deploy", 2),
    };
    assert!(
        v == upgraded || (in_flight.0 == "upgrade" && v == in_flight.1),
        "serving {v}; acknowledged {acknowledged:?}"
    );
    let all = status_json(&host);
    let listed: Vec<String> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_owned())
        .collect();
    for d in &listed {
        assert_eq!(
            all.as_array()
                .unwrap()
                .iter()
                .find(|x| x["name"] == d.as_str())
                .unwrap()["state"],
            "running",
            "{d}"
        );
        if d != "app" {
            let n: usize = d[1..].parse().unwrap();
            assert!(
                deployed.contains(&n) || in_flight == ("deploy", n),
                "{d} is deployed, yet its deploy was neither acknowledged nor in flight: {acknowledged:?}"
            );
            assert_eq!(
                ok(&host.cli(&["call", d, "version()"])),
                n.to_string(),
                "{d} serves its component"
            );
        }
    }
    for n in &deployed {
        assert!(
            listed.contains(&format!("d{n}")),
            "d{n} was acknowledged and is gone: {listed:?}"
        );
    }
    assert!(host.stop().success());
    verify_audit(&state, false);
}

/// Debian's chromium (`cargo xtask test` installs it and says where in
/// `AIRSSYS_CHROMIUM`).
fn chromium() -> std::path::PathBuf {
    std::env::var_os("AIRSSYS_CHROMIUM")
        .map(Into::into)
        .or_else(|| {
            std::env::split_paths(&std::env::var_os("PATH")?)
                .map(|d| d.join("chromium"))
                .find(|p| p.is_file())
        })
        .expect("the status page's test needs chromium: `cargo xtask test` installs it (apt-get install chromium)")
}

/// The DOM of `url` after its scripts ran, rendered by headless chromium
/// (killed after 60 s).
fn rendered(url: &str, profile: &Path) -> String {
    let mut child = std::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--dump-dom", url])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = String::new();
    let reader = {
        let mut stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            use std::io::Read as _;
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s
        })
    };
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    out.push_str(&reader.join().unwrap());
    out
}

/// The call count the rendered page shows for `name`.
fn calls_shown(dom: &str, name: &str) -> u64 {
    let row = dom
        .split("<tr ")
        .find(|r| r.starts_with(&format!("data-name=\"{name}\"")))
        .unwrap_or_else(|| panic!("no row of {name}: {dom}"));
    let cell = row.split("<td class=\"calls\">").nth(1).unwrap();
    cell.split('<').next().unwrap().parse().unwrap()
}

#[test]
fn the_status_page_renders_in_a_headless_browser_with_a_moving_call_count() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let cfg = config(tmp.path(), "");
    let v1 = write(tmp.path(), "v1.wasm", &app(1));
    let host = HostProc::start(&state, &cfg);
    ok(&host.cli(&["deploy", &v1, "--name", "app"]));
    ok(&host.cli(&["deploy", &v1, "--name", "tenant/other"]));
    for _ in 0..3 {
        ok(&host.cli(&["call", "app", "version()"]));
    }
    let url = format!("http://{}/", host.metrics.unwrap());
    let dom = rendered(&url, &tmp.path().join("profile"));
    assert!(
        dom.contains("data-refreshed="),
        "the page's script ran: {dom}"
    );
    assert_eq!(calls_shown(&dom, "app"), 3, "{dom}");
    assert_eq!(calls_shown(&dom, "tenant/other"), 0, "{dom}");
    for _ in 0..5 {
        ok(&host.cli(&["call", "app", "version()"]));
    }
    let dom = rendered(&url, &tmp.path().join("profile"));
    assert_eq!(calls_shown(&dom, "app"), 8, "the count moved: {dom}");
    assert!(host.stop().success());
}

#[test]
fn json_logs_carry_each_calls_span_and_the_guests_records() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let cfg = config(tmp.path(), "");
    let v1 = write(tmp.path(), "v1.wasm", &app(1));
    let host = HostProc::start_with(&state, &cfg, &["--log-format", "json"]);
    ok(&host.cli(&["deploy", &v1, "--name", "app"]));
    ok(&host.cli(&["call", "app", "say()"]));
    assert!(host.stop().success());
    let log = std::fs::read_to_string(state.with_extension("log")).unwrap();
    let records: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let said = records
        .iter()
        .find(|r| r["target"] == "airssys_wasm::guest")
        .unwrap_or_else(|| panic!("no guest record: {log}"));
    assert!(
        said["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("hello from version 1"),
        "{said}"
    );
    assert_eq!(said["span"]["name"], "call", "{said}");
    assert_eq!(said["span"]["deployment"], "app", "{said}");
    assert_eq!(said["span"]["function"], "say", "{said}");
}

/// The lines of a command's stdout as they come, and the command.
fn following(
    host: &HostProc,
    args: &[&str],
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(BIN)
        .args(args)
        .arg("--host")
        .arg(&host.socket)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (child, rx)
}

/// Waits (at most 30 s) for a line containing `want`.
fn line_with(rx: &std::sync::mpsc::Receiver<String>, want: &str) -> String {
    loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line.contains(want) => return line,
            Ok(_) => {}
            Err(e) => panic!("no line with `{want}`: {e}"),
        }
    }
}

#[test]
fn logs_and_audit_tail_follow_what_happens_next() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let cfg = config(tmp.path(), "");
    let v1 = write(tmp.path(), "v1.wasm", &app(1));
    let v2 = write(tmp.path(), "v2.wasm", &app(2));
    let host = HostProc::start(&state, &cfg);
    ok(&host.cli(&["deploy", &v1, "--name", "app"]));
    let (mut logs, log_lines) = following(&host, &["logs", "app", "--follow"]);
    let (mut tail, audit_lines) = following(&host, &["audit", "tail", "--follow"]);
    ok(&host.cli(&["call", "app", "say()"]));
    line_with(&log_lines, "hello from version 1");
    ok(&host.cli(&["upgrade", "app", &v2, "--version", "2"]));
    ok(&host.cli(&["call", "app", "say()"]));
    let said = line_with(&log_lines, "hello from version 2");
    assert!(said.contains("app@2"), "{said}");
    let swapped = line_with(&audit_lines, "step=swapped");
    assert!(
        swapped.contains("app@2") && swapped.contains("from 1"),
        "{swapped}"
    );
    let _ = (logs.kill(), tail.kill(), logs.wait(), tail.wait());
    assert!(host.stop().success());
}
