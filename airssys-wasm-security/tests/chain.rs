//! The chained audit log detects every kind of tampering and survives a
//! crash of the writing process.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use airssys_wasm_core::{AuditEvent, AuditKind, AuditSink};
use airssys_wasm_security::chain::{read_events, verify};
use airssys_wasm_security::{ChainConfig, ChainedLog, FullPolicy, VerifyError};

fn event(i: u64) -> AuditEvent {
    AuditEvent::new("demo", AuditKind::Instantiated { instance: i })
}

fn write_log(path: &Path, n: u64) {
    let log = ChainedLog::open(path, ChainConfig::default()).unwrap();
    for i in 1..=n {
        log.record(event(i)).unwrap();
    }
    log.flush().unwrap();
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn rewrite(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

fn first_bad_line(path: &Path) -> Option<u64> {
    verify(path, None).err().and_then(|e| e.line())
}

#[test]
fn an_untouched_log_verifies_and_continues_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write_log(&path, 5);
    write_log(&path, 3);
    let report = verify(&path, None).unwrap();
    assert_eq!(report.records, 8);
    let events = read_events(&path).unwrap();
    assert_eq!(events.len(), 8);
    assert_eq!(events[7].1.kind, AuditKind::Instantiated { instance: 3 });
}

#[test]
fn editing_a_field_is_detected_at_that_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write_log(&path, 5);
    let mut l = lines(&path);
    l[2] = l[2].replace("\"instance\":3", "\"instance\":99");
    rewrite(&path, &l);
    let err = verify(&path, None).unwrap_err();
    assert_eq!(err.line(), Some(3), "{err}");
    assert!(err.to_string().contains("edited"), "{err}");
}

#[test]
fn editing_the_last_line_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write_log(&path, 3);
    let mut l = lines(&path);
    l[2] = l[2].replace("\"component\":\"demo\"", "\"component\":\"other\"");
    rewrite(&path, &l);
    assert_eq!(first_bad_line(&path), Some(3));
}

#[test]
fn deleting_a_line_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write_log(&path, 5);
    let mut l = lines(&path);
    l.remove(1);
    rewrite(&path, &l);
    let err = verify(&path, None).unwrap_err();
    assert_eq!(err.line(), Some(2), "{err}");
    assert!(
        err.to_string().contains("sequence number 3 where 2"),
        "{err}"
    );
}

#[test]
fn swapping_two_lines_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write_log(&path, 5);
    let mut l = lines(&path);
    l.swap(1, 3);
    rewrite(&path, &l);
    assert_eq!(first_bad_line(&path), Some(2));
}

#[test]
fn truncating_the_tail_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write_log(&path, 5);
    let l = lines(&path);
    rewrite(&path, &l[..3]);
    let err = verify(&path, None).unwrap_err();
    assert_eq!(
        err,
        VerifyError::Truncated {
            expected: 5,
            found: 3
        }
    );
    assert_eq!(err.line(), Some(4));
}

#[test]
fn appending_a_forged_line_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write_log(&path, 3);
    let mut l = lines(&path);
    // A copy of a real line, placed at the end: its seq and prev are wrong there.
    l.push(l[0].clone());
    rewrite(&path, &l);
    assert_eq!(first_bad_line(&path), Some(4));
    // A fabricated line with a made-up hash.
    let mut l = lines(&path);
    l.pop();
    l.push(
        r#"{"seq":4,"prev":"00","hash":"00","time":"2026-01-01T00:00:00Z","component":"x","event":"dropped","instance":1}"#
            .into(),
    );
    rewrite(&path, &l);
    assert_eq!(first_bad_line(&path), Some(4));
}

#[test]
fn a_keyed_log_needs_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let key = [7u8; 32];
    let log = ChainedLog::open(
        &path,
        ChainConfig {
            key: Some(key),
            ..Default::default()
        },
    )
    .unwrap();
    log.record(event(1)).unwrap();
    drop(log);
    assert_eq!(verify(&path, Some(&key)).unwrap().records, 1);
    assert_eq!(
        first_bad_line(&path),
        Some(1),
        "without the key the hash cannot match"
    );
}

#[test]
fn a_broken_log_is_not_extended() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write_log(&path, 2);
    let mut l = lines(&path);
    l[0] = l[0].replace("demo", "dem0");
    rewrite(&path, &l);
    let err = ChainedLog::open(&path, ChainConfig::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("does not verify"), "{err}");
}

#[test]
fn a_full_queue_with_the_fail_policy_refuses_instead_of_dropping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = ChainedLog::open(
        &path,
        ChainConfig {
            queue: 1,
            when_full: FullPolicy::Fail,
            ..ChainConfig::default()
        },
    )
    .unwrap();
    let mut accepted = 0u64;
    let mut refused = 0u64;
    for i in 0..20_000 {
        match log.record(event(i)) {
            Ok(()) => accepted += 1,
            Err(e) => {
                assert!(e.to_string().contains("queue is full"), "{e}");
                refused += 1;
            }
        }
    }
    log.flush().unwrap();
    drop(log);
    assert!(
        refused > 0,
        "a queue of one must fill up under 20000 events"
    );
    assert_eq!(
        verify(&path, None).unwrap().records,
        accepted,
        "every accepted event is written"
    );
}

/// The child half of the crash test: writes events forever, printing the
/// sequence number of each flushed (acknowledged) batch.
#[test]
fn crash_child() {
    let Ok(path) = std::env::var("AIRSSYS_CRASH_CHILD_LOG") else {
        return;
    };
    let log = ChainedLog::open(&path, ChainConfig::default()).unwrap();
    let mut n = 0u64;
    loop {
        for _ in 0..50 {
            n += 1;
            log.record(event(n)).unwrap();
        }
        log.flush().unwrap();
        println!("acked {n}");
    }
}

#[test]
fn a_killed_writer_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env("AIRSSYS_CRASH_CHILD_LOG", &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut acked = 0u64;
    let out = BufReader::new(child.stdout.take().unwrap());
    for line in out.lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("acked ") {
            acked = n.parse().unwrap();
            if acked >= 2_000 {
                break;
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(acked >= 2_000);
    // Restart: the log is repaired if torn, verifies, and continues. A kill
    // between a batch's write and its head's rename leaves a stale head
    // (the records after it were never acknowledged); open refuses that,
    // and the acknowledged events are there either way.
    match ChainedLog::open(&path, ChainConfig::default()) {
        Ok(log) => {
            log.record(event(0)).unwrap();
            log.flush().unwrap();
            drop(log);
            let report = verify(&path, None).unwrap();
            assert!(
                report.records > acked,
                "{} records after restart, {acked} were acknowledged",
                report.records
            );
        }
        Err(e) => {
            assert!(e.to_string().contains("stale head"), "{e}");
            match verify(&path, None) {
                Err(VerifyError::StaleHead { head, .. }) => assert!(head >= acked),
                other => panic!("{other:?}"),
            }
        }
    }
    let events = read_events(&path).unwrap();
    for (i, (_, e)) in events.iter().take(acked as usize).enumerate() {
        assert_eq!(
            e.kind,
            AuditKind::Instantiated {
                instance: i as u64 + 1
            }
        );
    }
}
