//! `audit verify` protects the end of the log: a missing or stale head
//! fails, `--key` checks the head's MAC, and `--pubkey` checks the signed
//! checkpoints and head that `run --audit-sign-key` writes. Each test plays
//! someone who can edit the log's files but holds neither key.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value as Json;

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

/// Runs and checks the exit code, showing the output when it differs.
fn expect(args: &[&str], code: i32) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_airssys-wasm"))
        .args(args)
        .env_remove("AIRSSYS_WASM_LOG")
        .output()
        .expect("running airssys-wasm");
    assert_eq!(
        o.status.code(),
        Some(code),
        "airssys-wasm {args:?}\nstdout: {}\nstderr: {}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One audited run of a small call, with extra `run` flags.
fn audited_run(log: &str, extra: &[&str], code: i32) -> Output {
    let tools = guest("text-tools");
    let mut args = vec!["run", "--audit", log];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[tools.as_str(), "--invoke", r#"greet("x")"#]);
    expect(&args, code)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn rewrite(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn head_of(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.head", path.display()))
}

fn field(line: &str, name: &str) -> Json {
    serde_json::from_str::<Json>(line).unwrap()[name].clone()
}

/// A head naming the log's last line, as anyone can write it from the log.
fn forge_head(path: &Path) {
    let l = lines(path);
    let last = l.last().unwrap();
    let head = serde_json::json!({"seq": field(last, "seq"), "hash": field(last, "hash")});
    std::fs::write(head_of(path), head.to_string()).unwrap();
}

/// Renumbers and rehashes an unkeyed log from line `from` (0-based) on.
fn rechain(lines: &mut [String], from: usize) {
    let mut prev = field(&lines[from - 1], "hash").as_str().unwrap().to_owned();
    for (i, line) in lines.iter_mut().enumerate().skip(from) {
        let Json::Object(mut body) = serde_json::from_str::<Json>(line).unwrap() else {
            unreachable!()
        };
        body.remove("hash");
        body.insert("seq".into(), Json::from(i as u64 + 1));
        body.insert("prev".into(), Json::from(prev.clone()));
        let hash = blake3::hash(&serde_json::to_vec(&body).unwrap())
            .to_hex()
            .to_string();
        body.insert("hash".into(), Json::from(hash.clone()));
        *line = serde_json::to_string(&body).unwrap();
        prev = hash;
    }
}

#[test]
fn a_cut_log_without_its_head_fails_unless_the_flag_accepts_it() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let a = audit.display().to_string();
    audited_run(&a, &[], 0);
    audited_run(&a, &[], 0);
    let all = lines(&audit).len();
    rewrite(&audit, &lines(&audit)[..3]);
    std::fs::remove_file(head_of(&audit)).unwrap();

    let o = expect(&["audit", "verify", &a], 1);
    let out = stdout(&o);
    assert!(out.starts_with("FAILED: "), "{out}");
    assert!(out.contains("the head file is missing"), "{out}");
    assert!(out.contains("--allow-missing-head"), "{out}");

    let o = expect(&["audit", "verify", &a, "--allow-missing-head"], 0);
    let out = stdout(&o);
    assert!(out.starts_with("OK: 3 records, chain intact\n"), "{out}");
    assert!(
        out.contains("head is missing; accepted because of --allow-missing-head: records cut off the end of the log are not detected"),
        "{out}"
    );
    assert!(all > 3);

    // The log is not continued either.
    let o = audited_run(&a, &[], 90);
    assert!(
        stderr(&o).contains("the head file is missing"),
        "{}",
        stderr(&o)
    );
    assert_eq!(lines(&audit).len(), 3);
}

#[test]
fn a_stale_head_fails() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let a = audit.display().to_string();
    audited_run(&a, &[], 0);
    let old_head = std::fs::read(head_of(&audit)).unwrap();
    audited_run(&a, &[], 0);
    std::fs::write(head_of(&audit), old_head).unwrap();
    let o = expect(&["audit", "verify", &a], 1);
    assert!(stdout(&o).contains("stale head"), "{}", stdout(&o));
}

#[test]
fn with_a_chain_key_a_head_rewritten_to_an_earlier_record_fails() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let a = audit.display().to_string();
    let key = dir.path().join("chain.key");
    std::fs::write(&key, format!("{}\n", "5a".repeat(32))).unwrap();
    let k = key.display().to_string();
    audited_run(&a, &["--audit-key", &k], 0);

    let o = expect(&["audit", "verify", &a, "--key", &k], 0);
    assert!(
        stdout(&o).contains("head: authenticated by the chain key"),
        "{}",
        stdout(&o)
    );
    let o = expect(&["audit", "verify", &a], 1);
    assert!(
        stdout(&o).contains("line 1: the hash does not match"),
        "{}",
        stdout(&o)
    );

    rewrite(&audit, &lines(&audit)[..3]);
    forge_head(&audit);
    let o = expect(&["audit", "verify", &a, "--key", &k], 1);
    assert!(stdout(&o).contains("carries no MAC"), "{}", stdout(&o));

    // A malformed key file is refused before anything runs.
    std::fs::write(&key, "not hex").unwrap();
    let o = expect(&["audit", "verify", &a, "--key", &k], 90);
    assert!(stderr(&o).contains("not a chain key"), "{}", stderr(&o));
}

#[test]
fn signed_checkpoints_and_head_verify_with_the_public_key_and_catch_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    expect(&["keygen", "host", "--dir", &d], 0);
    let secret = dir.path().join("host.key").display().to_string();
    let public = dir.path().join("host.pub").display().to_string();
    let audit = dir.path().join("audit.jsonl");
    let a = audit.display().to_string();

    audited_run(&a, &["--audit-sign-key", &secret], 0);
    let first_run = lines(&audit);
    let first_head = std::fs::read(head_of(&audit)).unwrap();
    let last = first_run.last().unwrap();
    assert_eq!(field(last, "checkpoint")["closing"], true, "{last}");
    audited_run(&a, &["--audit-sign-key", &secret], 0);
    let full = lines(&audit);
    let full_head = std::fs::read(head_of(&audit)).unwrap();
    let n = full.len();

    let o = expect(&["audit", "verify", &a, "--pubkey", &public], 0);
    let out = stdout(&o);
    assert!(
        out.starts_with(&format!("OK: {n} records, chain intact\n")),
        "{out}"
    );
    assert!(
        out.contains("signatures: 2 checkpoints and the head verify with key"),
        "{out}"
    );
    assert!(
        out.contains(&format!("last checkpoint: line {n} at ")),
        "{out}"
    );
    assert!(out.contains("(closing)"), "{out}");
    assert!(!out.contains("WARNING"), "{out}");
    let o = expect(&["audit", "verify", &a], 0);
    assert!(
        stdout(&o).contains("note: 2 checkpoint signatures were not checked"),
        "{}",
        stdout(&o)
    );
    let o = expect(&["audit", "show", &a], 0);
    let shown = stdout(&o);
    let checkpoints: Vec<&str> = shown
        .lines()
        .filter(|l| l.contains("(checkpoint)"))
        .collect();
    assert_eq!(checkpoints.len(), 2, "{shown}");
    assert!(
        checkpoints[1].contains("signed checkpoint over lines 1-"),
        "{shown}"
    );
    assert!(checkpoints[1].ends_with(", closing"), "{shown}");
    assert!(shown.contains("call greet"), "{shown}");

    // A signed log is not continued without its key.
    let o = audited_run(&a, &[], 90);
    assert!(stderr(&o).contains("--audit-sign-key"), "{}", stderr(&o));

    // Cut and a head rewritten to match: not signed.
    rewrite(&audit, &full[..n - 2]);
    forge_head(&audit);
    let o = expect(&["audit", "verify", &a, "--pubkey", &public], 1);
    assert!(stdout(&o).contains("it is not signed"), "{}", stdout(&o));

    // The first run's signed head put back, the log cut past it: stale.
    rewrite(&audit, &full[..first_run.len() + 1]);
    std::fs::write(head_of(&audit), &first_head).unwrap();
    let o = expect(&["audit", "verify", &a, "--pubkey", &public], 1);
    assert!(stdout(&o).contains("stale head"), "{}", stdout(&o));
    // Cut exactly to it, the log is what it was when the first run ended:
    // no check of these files can tell (the README says so).
    rewrite(&audit, &first_run);
    expect(&["audit", "verify", &a, "--pubkey", &public], 0);

    // A forged checkpoint signature, the rest rehashed to fit.
    let mut l = full.clone();
    let at = first_run.len() - 1;
    let sig = field(&l[at], "checkpoint")["signature"]
        .as_str()
        .unwrap()
        .to_owned();
    let flipped = format!(
        "{}{}",
        if sig.starts_with('0') { '1' } else { '0' },
        &sig[1..]
    );
    l[at] = l[at].replace(&sig, &flipped);
    rechain(&mut l, at);
    rewrite(&audit, &l);
    forge_head(&audit);
    let o = expect(&["audit", "verify", &a, "--pubkey", &public], 1);
    assert!(
        stdout(&o).contains(&format!(
            "line {}: the checkpoint's signature does not verify",
            at + 1
        )),
        "{}",
        stdout(&o)
    );

    // The first run's checkpoint removed, the rest renumbered: the second
    // run's checkpoint no longer verifies.
    let mut l = full.clone();
    l.remove(at);
    rechain(&mut l, at);
    rewrite(&audit, &l);
    forge_head(&audit);
    let o = expect(&["audit", "verify", &a, "--pubkey", &public], 1);
    assert!(
        stdout(&o).contains(&format!(
            "line {}: the checkpoint's signature does not verify",
            n - 1
        )),
        "{}",
        stdout(&o)
    );

    // Another key does not verify a genuine log.
    rewrite(&audit, &full);
    std::fs::write(head_of(&audit), &full_head).unwrap();
    expect(&["audit", "verify", &a, "--pubkey", &public], 0);
    expect(&["keygen", "other", "--dir", &d], 0);
    let other = dir.path().join("other.pub").display().to_string();
    let o = expect(&["audit", "verify", &a, "--pubkey", &other], 1);
    assert!(
        stdout(&o).contains("not by the key given"),
        "{}",
        stdout(&o)
    );
}
