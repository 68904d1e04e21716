//! The `airssys-wasm` command: results, output and one exit code per class
//! of failure. Guests come from `cargo xtask guests`.
//!
//! Over 700 lines on purpose: the command's end-to-end tests are one
//! binary (one link of the CLI's dependencies), and its insta snapshots
//! are named after this file's tests.

use std::path::PathBuf;
use std::process::{Command, Output};

fn guest(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/guests")
        .join(format!("{name}.wasm"));
    assert!(
        p.exists(),
        "{} is missing: run `cargo xtask guests` first",
        p.display()
    );
    p.display().to_string()
}

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_airssys-wasm"))
        .args(args)
        .env_remove("AIRSSYS_WASM_LOG")
        .output()
        .expect("running airssys-wasm")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The events of an audit log written by `run --audit FILE`, one JSON
/// object per line.
fn audit_events(file: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs and checks the exit code, showing the output when it differs.
fn expect(args: &[&str], code: i32) -> Output {
    let o = cli(args);
    assert_eq!(
        o.status.code(),
        Some(code),
        "airssys-wasm {args:?}\nstdout: {}\nstderr: {}",
        stdout(&o),
        stderr(&o)
    );
    o
}

/// Writes `text` to the file `name` in `dir`; returns its path, as the
/// command line takes it.
fn file_in(dir: &std::path::Path, name: &str, text: impl AsRef<[u8]>) -> String {
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    file.display().to_string()
}

/// The last line of stderr: the one-line error.
fn error_line(o: &Output) -> String {
    stderr(o)
        .lines()
        .rfind(|l| l.starts_with("error: "))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn invoke_prints_the_result_in_wave() {
    let tools = guest("text-tools");
    let o = expect(&["run", &tools, "--invoke", r#"greet("ada")"#], 0);
    assert_eq!(stdout(&o), "\"Hello, ada!\"\n");
    let o = expect(&["run", &tools, "--invoke", r#"stats("b a b", 1)"#], 0);
    assert_eq!(
        stdout(&o),
        "{words: 3, lines: 1, chars: 5, top: [{word: \"b\", count: 2}]}\n"
    );
    let o = expect(&["run", &tools, "--invoke", r#"parse-number("x1")"#], 0);
    assert!(
        stdout(&o).starts_with("err(\"not a number: \\\"x1\\\""),
        "{}",
        stdout(&o)
    );
    let o = expect(&["run", &tools, "--invoke", r#"find(["a", "b"], "b")"#], 0);
    assert_eq!(stdout(&o), "some(1)\n");
}

#[test]
fn inspect_shows_digest_exports_and_needed_capabilities() {
    let o = expect(&["inspect", &guest("text-tools")], 0);
    let out = stdout(&o);
    assert!(out.contains("digest:    blake3:"), "{out}");
    assert!(
        out.contains("  greet: func(name: string) -> string\n"),
        "{out}"
    );
    assert!(
        out.contains("  reverse-bytes: func(data: list<u8>) -> list<u8>\n"),
        "{out}"
    );
    assert!(
        out.contains("capabilities its imports need: none\n"),
        "{out}"
    );
    assert!(
        out.contains("  export greet: func(name: string) -> string;"),
        "WIT is printed: {out}"
    );

    let o = expect(&["inspect", "--no-wit", &guest("wasi-probe")], 0);
    let out = stdout(&o);
    assert!(out.contains("[needs filesystem]"), "{out}");
    assert!(
        out.contains("wasi:sockets/instance-network@0.2.12 (1 function)  [needs network]"),
        "{out}"
    );
    assert!(
        out.contains("capabilities its imports need: stdio, env, filesystem, clocks, network\n"),
        "{out}"
    );
    assert!(
        out.contains("  filesystem: granted by `dirs` or `files` (--dir HOST::GUEST)\n"),
        "{out}"
    );
    assert!(!out.contains("WIT:"), "{out}");
}

#[test]
fn a_command_runs_with_granted_stdio_args_env_and_dir() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), "file contents\n").unwrap();
    let hello = guest("hello");
    let o = expect(
        &[
            "run",
            "--allow-stdio",
            "--env",
            "GREETING=hey",
            &hello,
            "--",
            "x",
            "y z",
        ],
        0,
    );
    assert_eq!(
        stdout(&o),
        "hello from an airssys-wasm plugin\nGREETING=hey\narg: x\narg: y z\n"
    );
    let mapping = format!("{}::/data:ro", dir.path().display());
    let o = expect(
        &[
            "run",
            "--allow-stdio",
            "--dir",
            &mapping,
            &hello,
            "--",
            "--read",
            "/data/in.txt",
        ],
        0,
    );
    assert!(stdout(&o).ends_with("file contents\n"), "{}", stdout(&o));
}

#[test]
fn a_guest_exit_status_passes_through() {
    // WASI 0.2 `exit` carries success or failure only: failure is 1.
    let o = expect(
        &[
            "run",
            "--allow-stdio",
            &guest("hello"),
            "--",
            "--read",
            "/nowhere",
        ],
        1,
    );
    assert!(
        stderr(&o).contains("cannot read /nowhere"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn stdio_is_denied_without_the_grant() {
    let o = expect(&["run", &guest("hello")], 83);
    assert!(
        stdout(&o).is_empty(),
        "nothing may reach stdout: {}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("write stdout/stderr"),
        "the denial is audited: {}",
        stderr(&o)
    );
}

#[test]
fn each_failure_class_has_its_own_exit_code() {
    let hostile = guest("hostile");
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"\0asm\x0d\0\x01\0not really").unwrap();
    let garbage = garbage.display().to_string();

    let o = expect(&["run", &garbage, "--invoke", "f()"], 80);
    assert!(
        error_line(&o).starts_with("error: invalid component:"),
        "{}",
        error_line(&o)
    );

    let o = expect(&["run", &guest("host-user"), "--invoke", r#"run("x")"#], 81);
    assert!(
        error_line(&o).starts_with("error: missing import `airssys:test/host-fns@0.1.0`"),
        "{}",
        error_line(&o)
    );

    let o = expect(&["run", &hostile, "--invoke", "nope()"], 82);
    assert!(
        error_line(&o).contains("no export named `nope`"),
        "{}",
        error_line(&o)
    );
    let o = expect(&["run", &hostile, "--invoke", r#"recurse("deep")"#], 82);
    assert!(
        error_line(&o).contains("bad arguments"),
        "{}",
        error_line(&o)
    );
    let o = expect(&["run", &hostile], 82);
    assert!(
        error_line(&o).contains("wasi:cli/run"),
        "{}",
        error_line(&o)
    );

    let o = expect(&["run", &hostile, "--invoke", "crash()"], 83);
    assert_eq!(
        error_line(&o),
        "error: trap in export `crash`: wasm trap: wasm `unreachable` instruction executed"
    );
    let o = expect(&["run", &hostile, "--invoke", "recurse(0)"], 84);
    assert_eq!(error_line(&o), "error: stack overflow in export `recurse`");
    let o = expect(
        &["run", "--fuel", "10000000", &hostile, "--invoke", "spin()"],
        85,
    );
    assert_eq!(
        error_line(&o),
        "error: out of fuel after 10000000 units in export `spin`"
    );
    let o = expect(
        &["run", "--timeout", "300ms", &hostile, "--invoke", "spin()"],
        86,
    );
    assert!(
        error_line(&o).starts_with("error: timed out after 3"),
        "{}",
        error_line(&o)
    );
    assert!(
        error_line(&o).contains("(limit 300ms) in export `spin`"),
        "{}",
        error_line(&o)
    );
    let o = expect(
        &[
            "run",
            "--memory",
            "16MiB",
            &hostile,
            "--invoke",
            "grow-memory()",
        ],
        87,
    );
    assert!(
        error_line(&o).starts_with("error: memory limit of 16777216 bytes exceeded"),
        "{}",
        error_line(&o)
    );
    let o = expect(&["run", "/no/such/file.wasm", "--invoke", "f()"], 90);
    assert!(
        error_line(&o).contains("/no/such/file.wasm"),
        "{}",
        error_line(&o)
    );

    let o = expect(&["run", "--memory", "lots", &hostile], 2);
    assert!(
        stderr(&o).contains("64MiB"),
        "usage errors say what to write: {}",
        stderr(&o)
    );
}

#[test]
fn help_documents_every_exit_code() {
    let o = expect(&["run", "--help"], 0);
    let help = stdout(&o);
    for code in 80..=90 {
        assert!(
            help.contains(&format!("  {code} ")),
            "exit code {code} missing from --help"
        );
    }
}

#[test]
fn audit_file_gets_one_json_line_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let audit_s = audit.display().to_string();
    expect(
        &[
            "run",
            "--audit",
            &audit_s,
            "--fuel",
            "1000000",
            &guest("hostile"),
            "--invoke",
            "spin()",
        ],
        85,
    );
    let events = audit_events(&audit);
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["loaded", "instantiated", "called", "limit-hit", "dropped"]
    );
    assert_eq!(events[3]["limit"], "fuel");
    assert!(events.iter().all(|e| e["component"] == "hostile"));
}

#[test]
fn audit_verify_detects_tampering_and_show_filters() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let audit_s = audit.display().to_string();
    expect(
        &[
            "run",
            "--audit",
            &audit_s,
            &guest("wasi-probe"),
            "--invoke",
            r#"get-env("HOME")"#,
        ],
        0,
    );
    expect(
        &[
            "run",
            "--audit",
            &audit_s,
            &guest("text-tools"),
            "--invoke",
            r#"greet("x")"#,
        ],
        0,
    );
    let o = expect(&["audit", "verify", &audit_s], 0);
    let records = std::fs::read_to_string(&audit).unwrap().lines().count();
    assert_eq!(stdout(&o), format!("OK: {records} records, chain intact\n"));

    let o = expect(&["audit", "show", &audit_s, "--denied"], 0);
    let shown = stdout(&o);
    assert!(shown.lines().count() >= 3, "{shown}");
    assert!(shown.lines().all(|l| l.contains("DENIED")), "{shown}");
    let o = expect(&["audit", "show", &audit_s, "--component", "text-tools"], 0);
    assert!(
        stdout(&o).lines().all(|l| l.contains("text-tools")),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("call greet"), "{}", stdout(&o));

    // Edit one field of line 2: verify names line 2 and fails.
    let text = std::fs::read_to_string(&audit).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[1] = lines[1].replace("wasi-probe", "innocent");
    std::fs::write(&audit, lines.join("\n") + "\n").unwrap();
    let o = expect(&["audit", "verify", &audit_s], 1);
    assert!(
        stdout(&o).contains("line 2: the hash does not match"),
        "{}",
        stdout(&o)
    );
}

/// The example policy and manifest from `examples/`, as the README shows them.
fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn inspect_shows_requested_granted_and_effective_side_by_side() {
    let o = expect(
        &[
            "inspect",
            "--no-wit",
            "--name",
            "wasi-probe",
            "--policy",
            &example("policy.toml"),
            "--manifest",
            &example("wasi-probe.Component.toml"),
            &guest("wasi-probe"),
        ],
        0,
    );
    let out = stdout(&o);
    let from = out.find("\nmanifest:").expect("a manifest section");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/")
        .display()
        .to_string();
    insta::assert_snapshot!(out[from..].replace(&root, "examples/"));
}

#[test]
fn run_applies_the_policy_grants_and_limits() {
    let policy = example("policy.toml");
    let manifest = example("wasi-probe.Component.toml");
    // The manifest says `wasi-probe`, but that is the component's own claim:
    // [grant.wasi-probe] is for the component the operator names so.
    let o = expect(
        &[
            "run",
            "--policy",
            &policy,
            "--manifest",
            &manifest,
            &guest("wasi-probe"),
            "--invoke",
            r#"get-env("GREETING")"#,
        ],
        0,
    );
    assert_eq!(stdout(&o), "none\n");
    assert!(
        stderr(&o).contains("[grant.wasi-probe] is not applied"),
        "{}",
        stderr(&o)
    );
    let o = expect(
        &[
            "run",
            "--name",
            "wasi-probe",
            "--policy",
            &policy,
            "--manifest",
            &manifest,
            &guest("wasi-probe"),
            "--invoke",
            r#"get-env("GREETING")"#,
        ],
        0,
    );
    assert_eq!(stdout(&o), "some(\"hello from the policy\")\n");
    assert!(
        stderr(&o).contains("`env HOME` is requested but not granted"),
        "{}",
        stderr(&o)
    );

    // The policy's default fuel applies to a component without a manifest,
    // and a larger --fuel is clamped to the policy's maximum.
    let dir = tempfile::tempdir().unwrap();
    let tight = dir.path().join("policy.toml");
    std::fs::write(
        &tight,
        "[limits.default]\nfuel = 100000\n[limits.max]\nfuel = 200000\n",
    )
    .unwrap();
    let tight = tight.display().to_string();
    let o = expect(
        &[
            "run",
            "--policy",
            &tight,
            &guest("hostile"),
            "--invoke",
            "spin()",
        ],
        85,
    );
    assert!(
        error_line(&o).contains("100000 units"),
        "{}",
        error_line(&o)
    );
    let o = expect(
        &[
            "run",
            "--policy",
            &tight,
            "--fuel",
            "999999999",
            &guest("hostile"),
            "--invoke",
            "spin()",
        ],
        85,
    );
    assert!(
        error_line(&o).contains("200000 units"),
        "{}",
        error_line(&o)
    );
    assert!(
        stderr(&o).contains("fuel 999999999 is above the maximum 200000"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_forbidden_request_refuses_the_component_naming_the_lines() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("m.toml");
    std::fs::write(
        &manifest,
        "[component]\nname = \"wasi-probe\"\n[capabilities]\nenv = [\"AWS_SECRET_ACCESS_KEY\"]\n",
    )
    .unwrap();
    let audit = dir.path().join("audit.jsonl");
    let o = expect(
        &[
            "run",
            "--policy",
            &example("policy.toml"),
            "--manifest",
            &manifest.display().to_string(),
            "--audit",
            &audit.display().to_string(),
            &guest("wasi-probe"),
            "--invoke",
            "now-secs()",
        ],
        91,
    );
    let err = stderr(&o);
    assert!(err.contains("`wasi-probe` is refused"), "{err}");
    assert!(
        err.contains("m.toml:4:8: requests `env AWS_SECRET_ACCESS_KEY`"),
        "{err}"
    );
    assert!(err.contains("forbidden by `env AWS_*` at"), "{err}");
    assert!(err.contains("policy.toml:18:8"), "{err}");
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(log.contains("\"event\":\"load-rejected\""), "{log}");
    assert!(log.contains("\"class\":\"policy\""), "{log}");

    // A bad policy file names its line.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[grant.x]\nfiles = [{ path = \"rel/**\", rights = [\"read\"] }]\n",
    )
    .unwrap();
    let o = expect(
        &[
            "run",
            "--policy",
            &bad.display().to_string(),
            &guest("values"),
            "--invoke",
            "ok()",
        ],
        91,
    );
    assert!(
        error_line(&o).contains("bad.toml:2:10: invalid path pattern `rel/**`"),
        "{}",
        error_line(&o)
    );
}

#[test]
fn keygen_sign_verify_and_require_signed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let component = dir.path().join("values.wasm");
    std::fs::copy(guest("values"), &component).unwrap();
    let c = component.display().to_string();

    let o = expect(&["keygen", "acme", "--dir", &d], 0);
    let out = stdout(&o);
    assert!(
        out.contains("[[trusted-keys]]\nname = \"acme\"\npublic-key = \""),
        "{out}"
    );
    let public = std::fs::read_to_string(dir.path().join("acme.pub")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("acme.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the secret key is private");
    }
    expect(&["keygen", "acme", "--dir", &d], 90); // never overwrites
    expect(&["keygen", "mallory", "--dir", &d], 0);
    let key = |n: &str| dir.path().join(n).display().to_string();

    // Unsigned: refused under require-signed.
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "require-signed = true\n[[trusted-keys]]\nname = \"acme\"\npublic-key = \"{}\"\n",
            public.trim()
        ),
    )
    .unwrap();
    let p = policy.display().to_string();
    let run = |code| {
        expect(
            &["run", "--policy", &p, &c, "--invoke", "echo-string(\"hi\")"],
            code,
        )
    };
    let o = run(91);
    assert!(error_line(&o).contains("not signed"), "{}", error_line(&o));

    expect(&["sign", &c, "--key", &key("acme.key")], 0);
    let o = expect(&["verify", &c, "--pubkey", &key("acme.pub")], 0);
    assert!(
        stdout(&o).starts_with("OK: signed by `acme`, blake3:"),
        "{}",
        stdout(&o)
    );
    assert_eq!(stdout(&run(0)), "\"hi\"\n");
    let o = expect(&["verify", &c, "--pubkey", &key("mallory.pub")], 1);
    assert!(stdout(&o).contains("FAILED"), "{}", stdout(&o));

    // A flipped byte in the component.
    let mut bytes = std::fs::read(&component).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&component, &bytes).unwrap();
    let o = run(91);
    assert!(
        error_line(&o).contains("changed after signing"),
        "{}",
        error_line(&o)
    );
    bytes[last] ^= 1;
    std::fs::write(&component, &bytes).unwrap();

    // Signed by a key the policy does not trust.
    std::fs::remove_file(dir.path().join("values.wasm.sig")).unwrap();
    expect(&["sign", &c, "--key", &key("mallory.key")], 0);
    let o = run(91);
    assert!(
        error_line(&o).contains("does not trust"),
        "{}",
        error_line(&o)
    );

    // Only components are signed.
    let o = expect(&["sign", &key("acme.pub"), "--key", &key("acme.key")], 80);
    assert!(
        error_line(&o).contains("invalid component"),
        "{}",
        error_line(&o)
    );
}

#[test]
fn host_interface_key_value_persists_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let p = file_in(
        dir.path(),
        "policy.toml",
        "[grant.host-probe]\nkey-value = [{ namespace = \"notes\", quota = \"1KiB\" }]\n",
    );
    let m = file_in(
        dir.path(),
        "m.toml",
        "[component]\nname = \"host-probe\"\n[capabilities]\nkey-value = [{ namespace = \"notes\", quota = \"4KiB\" }]\n",
    );
    let s = dir.path().join("kv.redb").display().to_string();
    let run = |call: &str, code| {
        expect(
            &[
                "run",
                "--name",
                "host-probe",
                "--policy",
                &p,
                "--manifest",
                &m,
                "--kv-store",
                &s,
                &guest("host-probe"),
                "--invoke",
                call,
            ],
            code,
        )
    };
    assert_eq!(
        stdout(&run(r#"kv-set("notes", "a", "first run")"#, 0)),
        "ok\n"
    );
    assert_eq!(
        stdout(&run(r#"kv-get("notes", "a")"#, 0)),
        "ok(some(\"first run\"))\n"
    );
    // The policy granted 1KiB, not the 4KiB asked for.
    let big = "x".repeat(1100);
    let o = run(&format!(r#"kv-set("notes", "b", "{big}")"#), 0);
    assert!(
        stdout(&o).starts_with("err(\"limit: namespace `notes` quota of 1024 bytes"),
        "{}",
        stdout(&o)
    );
    let o = run(r#"kv-get("secrets", "a")"#, 0);
    assert_eq!(stdout(&o), "err(\"denied: kv secrets\")\n");
}

#[test]
fn compose_then_run_and_errors_have_their_own_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("composed.wasm");
    let out_s = out.display().to_string();
    let o = expect(
        &[
            "compose",
            &guest("logger-app"),
            "--plug",
            &guest("logger-plug"),
            "-o",
            &out_s,
        ],
        0,
    );
    assert!(
        stdout(&o)
            .contains("it still imports: airssys:host/types@0.1.0, airssys:host/clocks@0.1.0"),
        "{}",
        stdout(&o)
    );
    let o = expect(&["run", &out_s, "--invoke", r#"run("ada")"#], 0);
    assert_eq!(
        stdout(&o),
        "\"[logger-plug] hello ada (from logger-app)\"\n"
    );
    let o = expect(&["inspect", "--no-wit", &out_s], 0);
    assert!(
        !stdout(&o).contains("airssys:test/logger"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("capabilities its imports need: clocks\n"),
        "{}",
        stdout(&o)
    );

    let o = expect(
        &[
            "compose",
            &guest("logger-app"),
            "--plug",
            &guest("values"),
            "-o",
            &out_s,
        ],
        92,
    );
    assert!(
        error_line(&o).contains("satisfies none of"),
        "{}",
        error_line(&o)
    );
    // The app alone still needs its logger.
    let o = expect(
        &["run", &guest("logger-app"), "--invoke", r#"run("ada")"#],
        81,
    );
    assert!(
        error_line(&o).contains("airssys:test/logger@0.1.0"),
        "{}",
        error_line(&o)
    );
}

#[test]
fn compose_from_a_wac_document() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("composed.wasm");
    let out_s = out.display().to_string();
    let app = format!("airssys:logger-app={}", guest("logger-app"));
    let plug = format!("airssys:logger-plug={}", guest("logger-plug"));
    let wac = example("logger.wac");
    expect(
        &[
            "compose", "--wac", &wac, "--dep", &app, "--dep", &plug, "-o", &out_s,
        ],
        0,
    );
    let o = expect(&["run", &out_s, "--invoke", r#"run("wac")"#], 0);
    assert_eq!(
        stdout(&o),
        "\"[logger-plug] hello wac (from logger-app)\"\n"
    );
    let o = expect(&["compose", "--wac", &wac, "--dep", &app, "-o", &out_s], 92);
    assert!(
        error_line(&o).contains("logger.wac:7:18: unknown package `airssys:logger-plug`"),
        "{}",
        error_line(&o)
    );
    // Either a socket or a WAC document.
    expect(
        &["compose", "--wac", &wac, &guest("logger-app"), "-o", &out_s],
        2,
    );
}

#[test]
fn a_manifest_can_pin_its_signer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let component = dir.path().join("values.wasm");
    std::fs::copy(guest("values"), &component).unwrap();
    let c = component.display().to_string();
    expect(&["keygen", "acme", "--dir", &d], 0);
    expect(&["keygen", "other", "--dir", &d], 0);
    let public = |n: &str| {
        std::fs::read_to_string(dir.path().join(format!("{n}.pub")))
            .unwrap()
            .trim()
            .to_owned()
    };
    let p = file_in(
        dir.path(),
        "policy.toml",
        format!(
            "require-signed = true\n\
             [[trusted-keys]]\nname = \"acme\"\npublic-key = \"{}\"\n\
             [[trusted-keys]]\nname = \"other\"\npublic-key = \"{}\"\n",
            public("acme"),
            public("other")
        ),
    );
    let m = file_in(
        dir.path(),
        "m.toml",
        "[component]\nname = \"values\"\n[signature]\nsigner = \"acme\"\n",
    );
    let key = |n: &str| dir.path().join(format!("{n}.key")).display().to_string();
    let run = |code| {
        expect(
            &[
                "run",
                "--policy",
                &p,
                "--manifest",
                &m,
                &c,
                "--invoke",
                "add(1, 2)",
            ],
            code,
        )
    };
    // Trusted, but not the signer the manifest names.
    expect(&["sign", &c, "--key", &key("other")], 0);
    let o = run(91);
    assert!(
        error_line(&o)
            .contains("the manifest says `acme` signs this component, but it is signed by `other`"),
        "{}",
        error_line(&o)
    );
    std::fs::remove_file(dir.path().join("values.wasm.sig")).unwrap();
    expect(&["sign", &c, "--key", &key("acme")], 0);
    assert_eq!(stdout(&run(0)), "3\n");
}

/// Every example run on the wasmi backend prints the same output and exits
/// with the same code as on the default (wasmtime) backend.
#[test]
fn every_example_runs_the_same_with_backend_wasmi() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), "file contents\n").unwrap();
    let composed = dir.path().join("composed.wasm");
    let composed_s = composed.display().to_string();
    expect(
        &[
            "compose",
            &guest("logger-app"),
            "--plug",
            &guest("logger-plug"),
            "-o",
            &composed_s,
        ],
        0,
    );
    let mapping = format!("{}::/data:ro", dir.path().display());
    let (tools, hello, hostile, values, host_probe, wasi_files) = (
        guest("text-tools"),
        guest("hello"),
        guest("hostile"),
        guest("values"),
        guest("host-probe"),
        guest("wasi-files"),
    );
    let cases: Vec<Vec<&str>> = vec![
        vec![&tools, "--invoke", r#"greet("ada")"#],
        vec![&tools, "--invoke", r#"stats("b a b", 1)"#],
        vec![&tools, "--invoke", r#"parse-number("x1")"#],
        vec![&tools, "--invoke", "reverse-bytes([1, 2, 3])"],
        vec![
            "--allow-stdio",
            "--env",
            "GREETING=hey",
            &hello,
            "--",
            "x",
            "y z",
        ],
        vec![
            "--allow-stdio",
            "--dir",
            &mapping,
            &hello,
            "--",
            "--read",
            "/data/in.txt",
        ],
        vec!["--allow-stdio", &hello, "--", "--read", "/data/missing.txt"],
        vec![&hello],
        vec![&composed_s, "--invoke", r#"run("ada")"#],
        vec![
            &values,
            "--invoke",
            r#"echo-nested([some({x: 1, y: 2, label: "p"}), none])"#,
        ],
        vec![&values, "--invoke", "echo-flags({read, exec})"],
        vec!["--fuel", "10000000", &hostile, "--invoke", "spin()"],
        vec!["--timeout", "300ms", &hostile, "--invoke", "spin()"],
        vec!["--memory", "16MiB", &hostile, "--invoke", "grow-memory()"],
        vec![&hostile, "--invoke", "crash()"],
        vec![&hostile, "--invoke", "recurse(0)"],
        vec![&host_probe, "--invoke", r#"kv-get("notes", "a")"#],
        vec![
            "--allow-clocks",
            &wasi_files,
            "--invoke",
            "get-env(\"HOME\")",
        ],
    ];
    for case in cases {
        let on = |backend: &str| {
            let mut args = vec!["run", "--backend", backend];
            args.extend(&case);
            let o = cli(&args);
            (o.status.code(), stdout(&o), error_line(&o))
        };
        let (wasmtime, wasmi) = (on("wasmtime"), on("wasmi"));
        assert_eq!(
            wasmi.0, wasmtime.0,
            "exit code of {case:?}: {wasmi:?} vs {wasmtime:?}"
        );
        assert_eq!(wasmi.1, wasmtime.1, "stdout of {case:?}");
        // Limit and trap messages name the same limit and export; only
        // engine wording after the second colon and measured times differ.
        let head = |l: &str| {
            let mut out = String::new();
            for c in l.split(':').take(2).collect::<Vec<_>>().join(":").chars() {
                if !c.is_ascii_digit() {
                    out.push(c);
                } else if !out.ends_with('#') {
                    out.push('#');
                }
            }
            out
        };
        assert_eq!(head(&wasmi.2), head(&wasmtime.2), "error of {case:?}");
    }
}

/// A guest asleep in WASI is stopped at its timeout on both backends: the
/// wait ends at the call's deadline, not when the guest wakes.
#[test]
fn a_guest_asleep_forever_is_stopped_by_its_timeout() {
    let files = guest("wasi-files");
    for backend in ["wasmtime", "wasmi"] {
        let start = std::time::Instant::now();
        let o = expect(
            &[
                "run",
                "--backend",
                backend,
                "--allow-clocks",
                "--timeout",
                "1s",
                &files,
                "--invoke",
                "sleep(1099511627776)",
            ],
            86,
        );
        let took = start.elapsed();
        assert!(
            took < std::time::Duration::from_secs(3),
            "{backend}: {took:?}"
        );
        assert!(
            error_line(&o).contains("timed out"),
            "{backend}: {}",
            error_line(&o)
        );
    }
}

#[test]
fn host_paths_and_sizes_on_the_command_line_are_checked() {
    let files = guest("wasi-files");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
    std::fs::write(dir.path().join("a/note.txt"), "hi").unwrap();
    // `..` inside the path is resolved before the grant is made.
    let host = format!("{}/a/b/..", dir.path().display());
    let o = expect(
        &[
            "run",
            "--dir",
            &format!("{host}::/data"),
            &files,
            "--invoke",
            r#"read-file("/data/note.txt")"#,
        ],
        0,
    );
    assert_eq!(stdout(&o).trim(), r#"ok("hi")"#);
    let o = expect(
        &[
            "run",
            "--memory",
            "99999999999GiB",
            &files,
            "--invoke",
            "now-secs()",
        ],
        2,
    );
    assert!(stderr(&o).contains("too large"), "{}", stderr(&o));
}

/// No line of `text` is forged: none starts with `FAKE`, none holds ESC.
fn assert_no_forged_line(text: &str) {
    assert!(!text.contains('\u{1b}'), "a raw ESC: {text:?}");
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with("FAKE")),
        "a forged line: {text}"
    );
}

#[test]
fn audit_show_escapes_what_the_guest_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let audit_s = audit.display().to_string();
    let o = expect(
        &[
            "run",
            "--audit",
            &audit_s,
            &guest("host-probe"),
            "--invoke",
            r#"kv-get("\u{1b}[2J\nFAKE LINE", "k")"#,
        ],
        0,
    );
    assert!(stdout(&o).starts_with("err("), "{}", stdout(&o));
    // The log itself keeps the exact text, as JSON escapes it.
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(
        log.contains(r#""request":"kv \u001b[2J\nFAKE LINE""#),
        "{log}"
    );

    let o = expect(&["audit", "show", &audit_s], 0);
    let shown = stdout(&o);
    assert_no_forged_line(&shown);
    assert_eq!(shown.lines().count(), log.lines().count(), "{shown}");
    assert!(
        shown.contains(r"DENIED kv \u{1b}[2J\nFAKE LINE: the guest gets error::denied"),
        "{shown}"
    );
    let o = expect(&["audit", "show", &audit_s, "--denied"], 0);
    assert_no_forged_line(&stdout(&o));
    assert_eq!(stdout(&o).lines().count(), 1, "{}", stdout(&o));
}

#[test]
fn stderr_lines_escape_guest_text() {
    // A guest's log message and its denied request, on stderr through tracing.
    let o = Command::new(env!("CARGO_BIN_EXE_airssys-wasm"))
        .args([
            "run",
            &guest("host-probe"),
            "--invoke",
            r#"log-many(1, "hello\u{1b}[2J\nFAKE LINE\u{202e}")"#,
        ])
        .env("AIRSSYS_WASM_LOG", "info")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains(r"hello\u{1b}[2J\nFAKE LINE\u{202e}"), "{err}");
    assert!(!err.contains('\u{202e}'), "{err:?}");
    assert_no_forged_line(&err);

    let o = expect(
        &[
            "run",
            &guest("host-probe"),
            "--invoke",
            r#"kv-get("x\u{1b}]0;owned\u{7}\nFAKE LINE", "k")"#,
        ],
        0,
    );
    let err = stderr(&o);
    assert!(err.starts_with("denied: host-probe: kv x"), "{err}");
    assert!(!err.contains('\u{7}'), "{err:?}");
    assert_no_forged_line(&err);

    // An error quoting the guest: a denial that traps.
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "on-denied = \"trap\"\n").unwrap();
    let o = expect(
        &[
            "run",
            "--policy",
            &policy.display().to_string(),
            &guest("host-probe"),
            "--invoke",
            r#"kv-get("x\u{1b}[2J\nFAKE LINE", "k")"#,
        ],
        88,
    );
    assert_no_forged_line(&stderr(&o));
    assert!(
        error_line(&o).starts_with(r"error: capability denied: `kv x\u{1b}[2J\nFAKE LINE`"),
        "{}",
        error_line(&o)
    );
}

#[test]
fn a_name_outside_the_character_set_is_refused() {
    let tools = guest("text-tools");
    let o = expect(
        &[
            "run",
            "--name",
            "evil\nFAKE LINE",
            &tools,
            "--invoke",
            r#"greet("x")"#,
        ],
        2,
    );
    assert_eq!(
        error_line(&o),
        "error: invalid value 'evil\\nFAKE LINE' for '--name <NAME>': it contains the control \
         character '\\n'; a component name is 1-64 characters of A-Z a-z 0-9 - _ . beginning \
         with a letter or digit, e.g. `text-tools`"
    );
    assert_no_forged_line(&stderr(&o));
    assert!(stdout(&o).is_empty());
    // A value parser that repeats the value repeats it escaped too.
    let o = expect(&["run", "--fuel", "1\nFAKE LINE", &tools], 2);
    assert!(
        error_line(&o).contains("`1\\nFAKE LINE` is not a count"),
        "{}",
        stderr(&o)
    );
    assert_no_forged_line(&stderr(&o));
    // A usage error runs nothing: not even the audit log is opened.
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let audit_s = audit.display().to_string();
    expect(
        &[
            "run",
            "--audit",
            &audit_s,
            "--name",
            "a b",
            &tools,
            "--invoke",
            r#"greet("x")"#,
        ],
        2,
    );
    assert!(!audit.exists());
    let o = expect(
        &[
            "run",
            "--name",
            "text-tools.v2",
            &tools,
            "--invoke",
            r#"greet("x")"#,
        ],
        0,
    );
    assert_eq!(stdout(&o), "\"Hello, x!\"\n");
}

#[test]
fn audit_show_prints_a_suppressed_count_among_the_refusals() {
    use airssys_wasm::audit::DenialThrottle;
    use airssys_wasm::{AuditEvent, AuditKind, AuditSink, CapabilityKind, ChainConfig, ChainedLog};
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    {
        let log = ChainedLog::open(&audit, ChainConfig::default()).unwrap();
        let sink = DenialThrottle::new(log);
        for _ in 0..150 {
            sink.record(AuditEvent::new(
                "flooder",
                AuditKind::CapabilityDenied {
                    capability: CapabilityKind::Random,
                    request: "random".into(),
                    outcome: "the guest gets error::denied".into(),
                },
            ))
            .unwrap();
        }
        sink.flush().unwrap();
    }
    let audit_s = audit.display().to_string();
    expect(&["audit", "verify", &audit_s], 0);
    let o = expect(&["audit", "show", &audit_s, "--denied"], 0);
    let shown = stdout(&o);
    assert_eq!(shown.lines().count(), 101, "{shown}");
    let last = shown.lines().last().unwrap();
    assert!(
        last.contains("flooder        SUPPRESSED 50 more capability-denied events from 20"),
        "{last}"
    );
}

#[cfg(unix)]
#[test]
fn the_cache_dir_must_be_private_and_a_planted_artifact_is_refused_and_audited() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let cache_s = cache.display().to_string();
    let artifacts = || -> std::collections::BTreeSet<PathBuf> {
        std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
            .collect()
    };
    let values = guest("values");
    let add = ["--invoke", "add(1, 2)"];
    let run = |component: &str, audit: Option<&str>, code: i32| {
        let mut args = vec!["run", "--cache-dir", &cache_s];
        if let Some(a) = audit {
            args.extend(["--audit", a]);
        }
        args.push(component);
        if component == values {
            args.extend(add);
        } else {
            args.extend(["--invoke", r#"greet("x")"#]);
        }
        expect(&args, code)
    };
    run(&guest("text-tools"), None, 0);
    let attackers = artifacts();
    run(&values, None, 0);
    let victim = artifacts().difference(&attackers).next().unwrap().clone();
    std::fs::copy(attackers.iter().next().unwrap(), &victim).unwrap();

    let audit = dir.path().join("audit.jsonl");
    let audit_s = audit.display().to_string();
    let o = run(&values, Some(&audit_s), 0);
    assert_eq!(stdout(&o), "3\n", "the victim's own code ran");
    let o = expect(&["audit", "show", &audit_s, "--denied"], 0);
    let shown = stdout(&o);
    assert!(
        shown.contains("CACHE REFUSED")
            && shown.contains(&victim.display().to_string())
            && shown.contains("authentication tag does not match"),
        "{shown}"
    );

    // Writable by others: refused before anything runs, naming the cause.
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = run(&values, None, 90);
    let line = error_line(&o);
    assert!(
        line.contains(&cache_s) && line.contains("writable by group or others (mode 0777)"),
        "{line}"
    );
}

/// The HTTP client connects to the address it checked, never through a
/// proxy the environment names (a proxy would resolve and contact the
/// host itself, past every check).
#[test]
fn http_requests_ignore_proxy_variables_and_go_to_the_checked_address() {
    use std::io::{Read, Write};
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    proxy.set_nonblocking(true).unwrap();
    let proxy_url = format!("http://127.0.0.1:{}", proxy.local_addr().unwrap().port());
    let serving = std::thread::spawn(move || {
        let (mut stream, _) = server.accept().unwrap();
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf).unwrap();
        let body = "direct";
        write!(
            stream,
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    });
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!("[grant.host-probe]\nnetwork = [\"127.0.0.1:{port}\"]\n"),
    )
    .unwrap();
    let manifest = dir.path().join("m.toml");
    std::fs::write(
        &manifest,
        format!(
            "[component]\nname = \"host-probe\"\n[capabilities]\nnetwork = [\"127.0.0.1:{port}\"]\n"
        ),
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_airssys-wasm"));
    command
        .args([
            "run",
            "--name",
            "host-probe",
            "--policy",
            &policy.display().to_string(),
            "--manifest",
            &manifest.display().to_string(),
            &guest("host-probe"),
            "--invoke",
            &format!(r#"http-get("http://127.0.0.1:{port}/")"#),
        ])
        .env_remove("AIRSSYS_WASM_LOG")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy");
    for var in ["ALL_PROXY", "HTTP_PROXY", "http_proxy", "HTTPS_PROXY"] {
        command.env(var, &proxy_url);
    }
    let o = command.output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "ok((200, \"direct\"))\n");
    assert!(serving.join().unwrap().starts_with("GET / HTTP/1.1"));
    assert!(proxy.accept().is_err(), "the request went to the proxy");
}

/// A function of an exported interface is called as `interface#function`,
/// as the README says (the call parser once refused the `#`; found by the
/// WAVE fuzz target).
#[test]
fn an_interface_function_is_invoked_by_its_qualified_name() {
    let hello = guest("hello");
    let o = expect(
        &[
            "run",
            "--allow-stdio",
            &hello,
            "--invoke",
            "wasi:cli/run@0.2.0#run()",
        ],
        0,
    );
    assert_eq!(stdout(&o), "hello from an airssys-wasm plugin\nok\n");
    let o = expect(&["run", &hello, "--invoke", "two words()"], 82);
    assert!(
        error_line(&o).contains("the function name `two words` contains ' '"),
        "{}",
        error_line(&o)
    );
}

#[test]
fn run_records_the_tenant_and_version_in_the_audit_identity() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let audit_s = audit.display().to_string();
    expect(
        &[
            "run",
            "--audit",
            &audit_s,
            "--tenant",
            "acme",
            "--component-version",
            "1.4.0",
            &guest("text-tools"),
            "--invoke",
            r#"greet("x")"#,
        ],
        0,
    );
    let events = audit_events(&audit);
    assert!(!events.is_empty());
    assert!(
        events
            .iter()
            .all(|e| e["component"] == "acme/text-tools@1.4.0"),
        "{events:?}"
    );
    let o = expect(&["run", "--tenant", "acme/evil", &guest("text-tools")], 2);
    assert!(
        stderr(&o).contains("invalid value 'acme/evil' for '--tenant <TENANT>': it contains `/`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn completions_cover_every_subcommand_and_bash_accepts_the_script() {
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout(&expect(&["completions", shell], 0));
        for word in [
            "run",
            "inspect",
            "compose",
            "--invoke",
            "--policy",
            "completions",
        ] {
            assert!(script.contains(word), "{shell}: no `{word}`");
        }
    }
    let bash = stdout(&expect(&["completions", "bash"], 0));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("airssys-wasm.bash");
    std::fs::write(&file, bash).unwrap();
    let checked = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    // An unknown shell is a usage error, listing the shells.
    let o = expect(&["completions", "tcsh"], 2);
    assert!(stderr(&o).contains("bash"), "{}", stderr(&o));
}

#[test]
fn man_pages_are_generated_from_the_cli_definition() {
    let page = stdout(&expect(&["man"], 0));
    assert!(
        page.starts_with(".ie") && page.contains(".TH airssys-wasm 1"),
        "{page}"
    );
    assert!(page.contains("airssys\\-wasm\\-run(1)"), "{page}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    expect(&["man", "--out", out.to_str().unwrap()], 0);
    for name in [
        "airssys-wasm.1",
        "airssys-wasm-run.1",
        "airssys-wasm-audit-verify.1",
    ] {
        let text =
            std::fs::read_to_string(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(text.contains(".SH NAME"), "{name}");
    }
    let run = std::fs::read_to_string(out.join("airssys-wasm-run.1")).unwrap();
    assert!(
        run.contains("\\-\\-invoke"),
        "the run page documents its flags"
    );
}

/// Each mistake a new user makes, with what the CLI answers: the exit
/// code and stderr, in one snapshot.
#[test]
fn mistakes_are_answered_with_what_is_wrong_and_how_to_fix_it() {
    let tools = guest("text-tools");
    let crate_dir = env!("CARGO_MANIFEST_DIR");
    let cases: &[&[&str]] = &[
        &["run", &tools, "--invoke", "greet(42)"],
        &["run", &tools, "--invoke", "greet(ada)"],
        &["run", &tools, "--invoke", r#"greet("a", 1)"#],
        &["run", &tools, "--invoke", r#"stats("x", "y")"#],
        &["run", &tools, "--invoke", r#"parse_number("1")"#],
        &["run", &tools, "--invoke", r#"parseNumber("1")"#],
        &["run", &tools, "--invoke", r#"gret("a")"#],
        &["run", &tools, "--invoke", "greet"],
        &[
            "run",
            "--dir",
            "Cargo.toml::/g",
            &tools,
            "--invoke",
            r#"greet("a")"#,
        ],
        &[
            "run",
            "--dir",
            "nosuch::/g",
            &tools,
            "--invoke",
            r#"greet("a")"#,
        ],
        &[
            "run",
            "--dir",
            "src::rel",
            &tools,
            "--invoke",
            r#"greet("a")"#,
        ],
        &["run", &tools],
        &["run", "--fuel", "0", &tools, "--invoke", r#"greet("a")"#],
        &["run", "--fuel", "lots", &tools, "--invoke", r#"greet("a")"#],
        &[
            "run",
            "--kv-store",
            "/../kv",
            &tools,
            "--invoke",
            r#"greet("a")"#,
        ],
        &["run", "--env", "=x", &tools, "--invoke", r#"greet("a")"#],
        &[
            "run",
            "--name",
            "bad!name",
            &tools,
            "--invoke",
            r#"greet("a")"#,
        ],
        &[
            "run",
            "--tenant",
            "bad/t",
            &tools,
            "--invoke",
            r#"greet("a")"#,
        ],
        &[
            "run",
            "--component-version",
            "@@",
            &tools,
            "--invoke",
            r#"greet("a")"#,
        ],
        &["inspect", "--name", "bad!n", &tools],
        &["keygen", "bad/name"],
        &["compose", &tools, "-o", "out.wasm"],
        &["compose", "--wac", "x.wac", "--dep", "x", "-o", "out.wasm"],
    ];
    let mut out = String::new();
    for args in cases {
        let o = cli(args);
        let shown: Vec<&str> = args
            .iter()
            .map(|a| if *a == tools { "text-tools.wasm" } else { a })
            .collect();
        out.push_str(&format!(
            "$ airssys-wasm {}\nexit {}\n{}\n",
            shown.join(" "),
            o.status.code().unwrap_or(-1),
            stderr(&o).replace(crate_dir, "[crate]").trim_end()
        ));
    }
    insta::assert_snapshot!(out);
    // The path alone, as wasmtime writes it: seen at the same path inside.
    let files = guest("wasi-files");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("note.txt"), "hi").unwrap();
    let d = dir.path().display().to_string();
    let o = expect(
        &[
            "run",
            "--dir",
            &d,
            &files,
            "--invoke",
            &format!(r#"read-file("{d}/note.txt")"#),
        ],
        0,
    );
    assert_eq!(stdout(&o).trim(), r#"ok("hi")"#);
    // Counts are written as TOML writes them.
    let o = expect(
        &[
            "run",
            "--fuel",
            "10_000_000",
            &tools,
            "--invoke",
            r#"greet("a")"#,
        ],
        0,
    );
    assert_eq!(stdout(&o), "\"Hello, a!\"\n");
    // A filter that matches nothing says so, and what the log has.
    let log = dir.path().join("audit.log");
    let log = log.to_str().unwrap();
    expect(
        &["run", "--audit", log, &tools, "--invoke", r#"greet("a")"#],
        0,
    );
    let o = expect(&["audit", "show", log, "--component", "text-tool"], 0);
    assert!(stdout(&o).is_empty());
    assert_eq!(
        stderr(&o).trim(),
        format!(
            "note: {log} has no records of `text-tool` (did you mean `text-tools`?); it has \
             records of: text-tools"
        )
    );
    let o = expect(&["audit", "show", log, "--denied"], 0);
    assert_eq!(stderr(&o).trim(), format!("note: {log} records no denials"));
}

/// By default stderr has a line for each decision that changed what the
/// guest got, and none for WASI it imports but was not granted; `-v`
/// shows every event, `-q` none.
#[test]
fn stderr_is_quiet_by_default_and_says_more_with_v() {
    let probe = guest("host-probe");
    let o = expect(&["run", &probe, "--invoke", r#"kv-get("notes", "k")"#], 0);
    insta::assert_snapshot!(stderr(&o));
    let hello = guest("hello");
    let o = cli(&["run", &hello]);
    let err = stderr(&o);
    assert!(
        !err.contains("wasi env"),
        "an inert import's denial is shown: {err}"
    );
    assert!(
        err.contains("denied: hello: write stdout/stderr (needs stdio)"),
        "the denial that failed the write is not shown: {err}"
    );
    let o = cli(&["run", "-v", &hello]);
    let err = stderr(&o);
    for line in [
        "audit: hello: DENIED wasi env: the environment is empty",
        "audit: hello: instance 1 created",
        "audit: hello: #1 TRAPPED",
    ] {
        assert!(err.contains(line), "-v leaves out `{line}`: {err}");
    }
    let o = cli(&["run", "-q", &hello]);
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "-q shows only the error: {err}");
    assert!(err.starts_with("error: "), "{err}");
    // -v and -q together are a usage error.
    expect(&["run", "-v", "-q", &hello], 2);
}

/// An export named like a libc function: `inspect` warns, and so does
/// `run` when a call traps, saying what to rename it to.
#[test]
fn exports_named_like_libc_functions_are_warned_about() {
    let bytes = wat::parse_str(
        r#"(component
          (core module $m (func (export "f") (result i32) unreachable))
          (core instance $i (instantiate $m))
          (func (export "read") (result u32) (canon lift (core func $i "f"))))"#,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("reader.wasm");
    std::fs::write(&file, bytes).unwrap();
    let file = file.to_str().unwrap();
    let o = expect(&["inspect", "--no-wit", file], 0);
    assert!(
        stdout(&o).contains("  warning: export `read` has the name of a libc function"),
        "{}",
        stdout(&o)
    );
    let o = expect(&["run", file, "--invoke", "read()"], 83);
    let err = stderr(&o);
    assert!(
        err.contains("warning: export `read` has the name of a libc function")
            && err.contains("rename it, e.g. to `read-data`"),
        "{err}"
    );
    // Other components, other failures: no such warning.
    let o = expect(&["run", &guest("text-tools")], 82);
    assert!(!stderr(&o).contains("libc"), "{}", stderr(&o));
}

/// A manifest is found where authors keep it: beside the `.wasm`, else at
/// the project's root above it; when there is none, the note says where
/// it was looked for.
#[test]
fn the_manifest_is_found_at_the_project_root() {
    let project = tempfile::tempdir().unwrap();
    let out = project.path().join("target/wasm32-wasip2/release");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(project.path().join("Cargo.toml"), "[package]\n").unwrap();
    let wasm = out.join("text-tools.wasm");
    std::fs::copy(guest("text-tools"), &wasm).unwrap();
    let wasm = wasm.to_str().unwrap();
    let policy = project.path().join("policy.toml");
    std::fs::write(&policy, "").unwrap();
    let policy = policy.to_str().unwrap();
    let o = expect(&["inspect", "--no-wit", "--policy", policy, wasm], 0);
    let root = project.path().display().to_string();
    assert_eq!(
        stderr(&o).trim(),
        format!(
            "note: no manifest found for {wasm}; looked for {o}/text-tools.Component.toml, \
             {o}/Component.toml, {root}/text-tools.Component.toml, {root}/Component.toml \
             (name one with --manifest)",
            o = out.display()
        )
    );
    std::fs::write(
        project.path().join("Component.toml"),
        "[component]\nname = \"text-tools\"\n[capabilities]\nclocks = true\n",
    )
    .unwrap();
    let o = expect(&["inspect", "--no-wit", "--policy", policy, wasm], 0);
    let shown = stdout(&o);
    assert!(
        shown.contains(&format!("manifest:  {root}/Component.toml")),
        "{shown}"
    );
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

/// `new` scaffolds a plugin that builds with the guests' toolchain and
/// answers at once, on both backends, with nothing on stderr; its
/// manifest is found at the crate's root and asks for nothing.
#[test]
fn new_scaffolds_a_rust_plugin_that_builds_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let o = expect(
        &["new", "hello-plug", "--path", dir.path().to_str().unwrap()],
        0,
    );
    assert!(
        stdout(&o).contains("cargo build --target wasm32-wasip2 --release"),
        "{}",
        stdout(&o)
    );
    let project = dir.path().join("hello-plug");
    for file in [
        "Cargo.toml",
        "wit/world.wit",
        "src/lib.rs",
        "Component.toml",
        "README.md",
        ".gitignore",
    ] {
        assert!(project.join(file).is_file(), "{file}");
    }
    // Never into an existing directory; a name that is not one is refused.
    let o = expect(
        &["new", "hello-plug", "--path", dir.path().to_str().unwrap()],
        90,
    );
    assert!(error_line(&o).contains("already exists"), "{}", stderr(&o));
    let o = expect(&["new", "Hello_Plug"], 2);
    assert!(stderr(&o).contains("e.g. `hello-plug`"), "{}", stderr(&o));

    // Built offline from the registry cache the guests' build filled, into
    // a target directory kept between runs, then copied where the README
    // says it is.
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/scaffold");
    let release = project.join("target/wasm32-wasip2/release");
    std::fs::create_dir_all(&release).unwrap();
    let wasm = release.join("hello_plug.wasm");
    let build = || {
        let built = Command::new(env!("CARGO"))
            .args([
                "build",
                "--offline",
                "--target",
                "wasm32-wasip2",
                "--release",
            ])
            .current_dir(&project)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .unwrap();
        assert!(
            built.status.success(),
            "{}",
            String::from_utf8_lossy(&built.stderr)
        );
        std::fs::copy(target.join("wasm32-wasip2/release/hello_plug.wasm"), &wasm).unwrap();
    };
    build();
    let wasm = wasm.to_str().unwrap();
    for backend in ["wasmtime", "wasmi"] {
        let o = expect(
            &[
                "run",
                "--backend",
                backend,
                wasm,
                "--invoke",
                r#"greet("ada")"#,
            ],
            0,
        );
        assert_eq!(stdout(&o), "\"Hello, ada!\"\n", "{backend}");
        assert_eq!(stderr(&o), "", "{backend}");
    }
    let o = expect(&["inspect", "--no-wit", wasm], 0);
    assert!(stdout(&o).contains("  greet: func(name: string) -> string"));

    // The README's walk-through, as written there: an export reading one
    // file, denied, then asked for and granted.
    let readme = include_str!("../../README.md");
    const WIT: &str = "    export read-text: func(path: string) -> result<string, string>;\n";
    const RUST: &str = "    fn read_text(path: String) -> Result<String, String> {\n        \
                        std::fs::read_to_string(&path).map_err(|e| e.to_string())\n    }\n";
    const ASK: &str =
        r#"echo "files = [{ path = \"$PWD/motd.txt\", rights = [\"read\"] }]" >> Component.toml"#;
    const GRANT: &str = r#"printf '[grant.hello-plug]\nfiles = [{ path = "%s/*.txt", rights = ["read"] }]\n' "$PWD" > policy.toml"#;
    for step in [WIT, RUST, ASK, GRANT] {
        assert!(
            readme.contains(step),
            "the README's walk-through lost: {step}"
        );
    }
    let edit = |file: &str, after: &str, insert: &str| {
        let path = project.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let at = text
            .find(after)
            .unwrap_or_else(|| panic!("{file}: no `{after}`"))
            + after.len();
        std::fs::write(&path, format!("{}{insert}{}", &text[..at], &text[at..])).unwrap();
    };
    edit("wit/world.wit", "world hello-plug {\n", WIT);
    edit("src/lib.rs", "impl Guest for Plugin {\n", RUST);
    let pwd = project.canonicalize().unwrap().display().to_string();
    std::fs::write(project.join("motd.txt"), "welcome\n").unwrap();
    build();
    let read = format!("read-text(\"{pwd}/motd.txt\")");
    for backend in ["wasmtime", "wasmi"] {
        let o = expect(&["run", "--backend", backend, wasm, "--invoke", &read], 0);
        assert!(stdout(&o).starts_with("err("), "{backend}: {}", stdout(&o));
    }
    edit(
        "Component.toml",
        "[capabilities]\n",
        &format!("files = [{{ path = \"{pwd}/motd.txt\", rights = [\"read\"] }}]\n"),
    );
    let policy = file_in(
        &project,
        "policy.toml",
        format!(
            "[grant.hello-plug]\nfiles = [{{ path = \"{pwd}/*.txt\", rights = [\"read\"] }}]\n"
        ),
    );
    let o = expect(
        &["inspect", "--name", "hello-plug", "--policy", &policy, wasm],
        0,
    );
    let shown = stdout(&o);
    // Requested and effective: the file; granted: the policy's glob.
    let (asked, granted) = (
        format!("files {pwd}/motd.txt [read]"),
        format!("files {pwd}/*.txt [read]"),
    );
    assert!(
        shown
            .lines()
            .any(|l| l.matches(&asked).count() == 2 && l.contains(&granted)),
        "{shown}"
    );
    let other = format!("read-text(\"{pwd}/Cargo.toml\")");
    for backend in ["wasmtime", "wasmi"] {
        let run = |call: &str| {
            expect(
                &[
                    "run",
                    "--backend",
                    backend,
                    "--name",
                    "hello-plug",
                    "--policy",
                    &policy,
                    wasm,
                    "--invoke",
                    call,
                ],
                0,
            )
        };
        let o = run(&read);
        assert_eq!(
            stdout(&o),
            "ok(\"welcome\\n\")\n",
            "{backend}: {}",
            stderr(&o)
        );
        assert_eq!(stderr(&o), "", "{backend}");
        let o = run(&other);
        assert!(
            stdout(&o).starts_with("err(\"Permission denied"),
            "{backend}: {}",
            stdout(&o)
        );
    }
}

/// A grant of one file reaches WASI as written, on both backends: the
/// guest's `std::fs` reads the granted file; its neighbour is denied, and
/// the denial is the one line `run` prints. `inspect` calls the grant
/// effective with no caveat.
#[test]
fn a_single_file_grant_reaches_wasi_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().canonicalize().unwrap().join("app");
    std::fs::create_dir(&app).unwrap();
    std::fs::write(app.join("motd.txt"), "welcome\n").unwrap();
    std::fs::write(app.join("secret.txt"), "hunter2").unwrap();
    let app = app.display().to_string();
    let manifest = file_in(
        dir.path(),
        "x.Component.toml",
        format!(
            "[component]\nname = \"x\"\n[capabilities]\nfiles = [{{ path = \"{app}/motd.txt\", rights = [\"read\"] }}]\n"
        ),
    );
    let policy = file_in(
        dir.path(),
        "policy.toml",
        format!("[grant.x]\nfiles = [{{ path = \"{app}/*\", rights = [\"read\"] }}]\n"),
    );
    let (manifest, policy) = (manifest.as_str(), policy.as_str());
    let files = guest("wasi-files");
    let governed = ["--name", "x", "--policy", policy, "--manifest", manifest];
    let mut args = vec!["inspect", "--no-wit"];
    args.extend(governed);
    args.push(&files);
    let o = expect(&args, 0);
    assert!(stdout(&o).contains("motd.txt [read]"), "{}", stdout(&o));
    assert!(!stdout(&o).contains("note:"), "{}", stdout(&o));
    for backend in ["wasmtime", "wasmi"] {
        let run = |call: &str| {
            let mut args = vec!["run", "--backend", backend];
            args.extend(governed);
            args.extend([files.as_str(), "--invoke", call]);
            expect(&args, 0)
        };
        let o = run(&format!(r#"read-file("{app}/motd.txt")"#));
        assert_eq!(
            stdout(&o),
            "ok(\"welcome\\n\")\n",
            "{backend}: {}",
            stderr(&o)
        );
        assert_eq!(stderr(&o), "", "{backend}");
        let o = run(&format!(r#"read-file("{app}/secret.txt")"#));
        assert!(
            stdout(&o).contains("ermission denied"),
            "{backend}: {}",
            stdout(&o)
        );
        assert!(
            stderr(&o).contains(&format!("read {app}/secret.txt (needs filesystem)")),
            "{backend}: {}",
            stderr(&o)
        );
    }
}

/// `new --lang js`: the JavaScript scaffold's files, with its name filled
/// in (`cargo xtask test` builds it with componentize-js and runs it).
#[test]
fn new_scaffolds_a_javascript_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let o = expect(
        &[
            "new",
            "hello-js",
            "--lang",
            "js",
            "--path",
            dir.path().to_str().unwrap(),
        ],
        0,
    );
    assert!(
        stdout(&o).contains("npm install && npm run build"),
        "{}",
        stdout(&o)
    );
    let project = dir.path().join("hello-js");
    let package = std::fs::read_to_string(project.join("package.json")).unwrap();
    assert!(package.contains("--world-name hello-js"), "{package}");
    assert!(package.contains("--out hello-js.wasm"), "{package}");
    let world = std::fs::read_to_string(project.join("wit/world.wit")).unwrap();
    assert!(world.contains("world hello-js {"), "{world}");
    assert!(
        std::fs::read_to_string(project.join("plugin.js"))
            .unwrap()
            .contains("export function greet")
    );
    assert!(project.join("Component.toml").is_file());
}

/// `new --lang py`: the Python scaffold's files (`cargo xtask test
/// --all-guests` builds it with componentize-py and runs it).
#[test]
fn new_scaffolds_a_python_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let o = expect(
        &[
            "new",
            "hello-py",
            "--lang",
            "py",
            "--path",
            dir.path().to_str().unwrap(),
        ],
        0,
    );
    assert!(stdout(&o).contains("sh build.sh"), "{}", stdout(&o));
    let project = dir.path().join("hello-py");
    let build = std::fs::read_to_string(project.join("build.sh")).unwrap();
    assert!(
        build.contains("--world hello-py componentize --stub-wasi app -o hello-py.wasm"),
        "{build}"
    );
    let requirements = std::fs::read_to_string(project.join("requirements.txt")).unwrap();
    assert!(requirements.contains("componentize-py=="), "{requirements}");
    assert!(
        std::fs::read_to_string(project.join("app.py"))
            .unwrap()
            .contains("def greet")
    );
    assert!(project.join("Component.toml").is_file());
}

/// The C and AssemblyScript scaffolds build a core module and make it a
/// component with `componentize` (xtask's scaffold check builds and runs
/// them with the pinned compilers).
#[test]
fn new_scaffolds_c_and_assemblyscript_plugins_made_components_by_componentize() {
    let dir = tempfile::tempdir().unwrap();
    for (lang, build_file, source, encoding, pin) in [
        ("c", "build.sh", "plugin.c", "", "ziglang==0.17.0"),
        (
            "as",
            "package.json",
            "plugin.ts",
            " --encoding utf16",
            "\"assemblyscript\": \"0.28.20\"",
        ),
    ] {
        let name = format!("hello-{lang}");
        expect(
            &[
                "new",
                &name,
                "--lang",
                lang,
                "--path",
                dir.path().to_str().unwrap(),
            ],
            0,
        );
        let project = dir.path().join(&name);
        let build = std::fs::read_to_string(project.join(build_file)).unwrap();
        let step = format!(
            "airssys-wasm componentize build/{name}.core.wasm --wit wit{encoding} -o {name}.wasm"
        );
        assert!(build.contains(&step), "{lang}: {build}");
        let pins = if lang == "c" {
            "requirements.txt"
        } else {
            "package.json"
        };
        let pinned = std::fs::read_to_string(project.join(pins)).unwrap();
        assert!(pinned.contains(pin), "{lang}: {pinned}");
        let code = std::fs::read_to_string(project.join(source)).unwrap();
        assert!(
            code.contains("cabi_realloc") && code.contains("cabi_post_greet"),
            "{lang}"
        );
        let world = std::fs::read_to_string(project.join("wit/world.wit")).unwrap();
        assert!(world.contains(&format!("world {name} {{")), "{world}");
        assert!(project.join("Component.toml").is_file());
    }
}

/// `componentize`: a compiler's core module and its WIT world become a
/// component that runs on both backends; WASI preview 1 imports are adapted;
/// what does not fit is refused with the reason.
#[test]
fn componentize_makes_a_component_of_a_core_module_and_its_world() {
    let dir = tempfile::tempdir().unwrap();
    let wit = dir.path().join("wit");
    std::fs::create_dir(&wit).unwrap();
    file_in(
        &wit,
        "world.wit",
        "package local:adder@0.1.0;\nworld adder {\n  export add: func(a: u32, b: u32) -> u32;\n}\n",
    );
    let wit_s = wit.display().to_string();
    let adder = wat::parse_str(
        r#"(module (memory (export "memory") 1)
             (func (export "add") (param i32 i32) (result i32)
               local.get 0 local.get 1 i32.add))"#,
    )
    .unwrap();
    let core = file_in(dir.path(), "adder.core.wasm", &adder);
    let out = dir.path().join("adder.wasm").display().to_string();
    let o = expect(&["componentize", &core, "--wit", &wit_s, "-o", &out], 0);
    assert!(
        stdout(&o).ends_with("it imports: nothing\n"),
        "{}",
        stdout(&o)
    );
    for backend in ["wasmtime", "wasmi"] {
        let o = expect(
            &["run", "--backend", backend, &out, "--invoke", "add(40, 2)"],
            0,
        );
        assert_eq!(stdout(&o), "42\n", "{backend}");
    }

    // A module with wasi-libc's preview 1 imports runs through WASI 0.2.
    let with_wasi = wat::parse_str(
        r#"(module
             (import "wasi_snapshot_preview1" "sched_yield" (func $yield (result i32)))
             (memory (export "memory") 1)
             (func (export "add") (param i32 i32) (result i32)
               call $yield drop local.get 0 local.get 1 i32.add))"#,
    )
    .unwrap();
    let core2 = file_in(dir.path(), "wasi.core.wasm", &with_wasi);
    let out2 = dir.path().join("wasi.wasm").display().to_string();
    let o = expect(&["componentize", &core2, "--wit", &wit_s, "-o", &out2], 0);
    assert!(stderr(&o).contains("(sched_yield)"), "{}", stderr(&o));
    let o = expect(&["run", &out2, "--invoke", "add(1, 2)"], 0);
    assert_eq!(stdout(&o), "3\n");

    // What cannot be made a component says why.
    let o = expect(&["componentize", &out, "--wit", &wit_s, "-o", &out2], 80);
    assert!(
        error_line(&o).ends_with("adder.wasm: it is a component already: nothing to do"),
        "{}",
        error_line(&o)
    );
    let o = expect(&["componentize", &core, "-o", &out2], 80);
    assert!(
        error_line(&o).contains("it carries no WIT world: give the WIT that describes it"),
        "{}",
        error_line(&o)
    );
    let lacking = file_in(
        dir.path(),
        "lacking.core.wasm",
        wat::parse_str(r#"(module (memory (export "memory") 1))"#).unwrap(),
    );
    let o = expect(
        &["componentize", &lacking, "--wit", &wit_s, "-o", &out2],
        92,
    );
    assert!(
        error_line(&o).contains("lacking.core.wasm does not fit its world")
            && error_line(&o).contains("add"),
        "{}",
        stderr(&o)
    );
    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    file_in(
        &bad,
        "world.wit",
        "package local:bad;\nworld w { export f: func(; }\n",
    );
    let o = expect(
        &[
            "componentize",
            &core,
            "--wit",
            &bad.display().to_string(),
            "-o",
            &out2,
        ],
        92,
    );
    assert!(stderr(&o).contains("world.wit:2:"), "{}", stderr(&o));
    let o = expect(
        &[
            "componentize",
            &core,
            "--wit",
            &wit_s,
            "--world",
            "nosuch",
            "-o",
            &out2,
        ],
        92,
    );
    assert!(stderr(&o).contains("nosuch"), "{}", stderr(&o));
}
