//! The end of the chained audit log is protected: a missing or stale head
//! fails, the head is MACed under the chain key, and signed checkpoints let
//! a public key holder check that nobody without the host key cut or
//! rewrote the log. Each test plays the attacker: someone who can edit the
//! log's files but holds neither key.

use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::time::Duration;

use airssys_wasm_core::{AuditEvent, AuditKind, AuditSink};
use airssys_wasm_security::chain::{
    Entry, HeadState, VerifyOptions, read_events, read_records, verify, verify_with,
};
use airssys_wasm_security::signing::KeyPair;
use airssys_wasm_security::{Cadence, ChainConfig, ChainedLog, VerifyError};
use serde_json::Value as Json;

const CHAIN_KEY: [u8; 32] = [7; 32];

fn host_key() -> KeyPair {
    KeyPair::from_seed([42; 32])
}

fn event(i: u64) -> AuditEvent {
    AuditEvent::new("demo", AuditKind::Instantiated { instance: i })
}

fn head_of(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.head", path.display()))
}

fn signed(every: Option<u64>) -> ChainConfig {
    ChainConfig {
        signing_key: Some(host_key()),
        checkpoints: Cadence {
            records: every.and_then(NonZeroU64::new),
            interval: None,
        },
        ..ChainConfig::default()
    }
}

fn write(path: &Path, config: ChainConfig, events: std::ops::RangeInclusive<u64>) {
    let log = ChainedLog::open(path, config).unwrap();
    for i in events {
        log.record(event(i)).unwrap();
    }
    log.close().unwrap();
}

fn with_pubkey() -> VerifyOptions {
    VerifyOptions {
        public_key: Some(host_key().public_key()),
        ..VerifyOptions::default()
    }
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

fn field(line: &str, name: &str) -> Json {
    serde_json::from_str::<Json>(line).unwrap()[name].clone()
}

/// What an attacker without the chain key can do to an unkeyed log:
/// renumber and rehash every line from `from` on.
fn rechain(lines: &mut [String], from: usize) {
    let mut prev = if from == 0 {
        "0".repeat(64)
    } else {
        field(&lines[from - 1], "hash").as_str().unwrap().to_owned()
    };
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

/// A head naming the log's last line, as anyone can write it from the log.
fn forge_head(path: &Path) {
    let l = lines(path);
    let last = l.last().unwrap();
    let head = serde_json::json!({"seq": field(last, "seq"), "hash": field(last, "hash")});
    std::fs::write(head_of(path), head.to_string()).unwrap();
}

#[test]
fn cutting_the_tail_and_deleting_the_head_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write(&path, ChainConfig::default(), 1..=5);
    rewrite(&path, &lines(&path)[..3]);
    std::fs::remove_file(head_of(&path)).unwrap();
    let err = verify(&path, None).unwrap_err();
    assert_eq!(err, VerifyError::HeadMissing { records: 3 });
    assert!(err.to_string().contains("would go unnoticed"), "{err}");
}

#[test]
fn the_missing_head_option_accepts_only_a_missing_head_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write(&path, ChainConfig::default(), 1..=3);
    let old_head = std::fs::read(head_of(&path)).unwrap();
    write(&path, ChainConfig::default(), 4..=5);
    let report = verify(&path, None).unwrap();
    assert_eq!((report.records, report.head), (5, HeadState::Current));

    let allow = VerifyOptions {
        allow_missing_head: true,
        ..VerifyOptions::default()
    };
    std::fs::remove_file(head_of(&path)).unwrap();
    let report = verify_with(&path, &allow).unwrap();
    assert_eq!(report.records, 5);
    assert_eq!(report.head, HeadState::MissingAccepted);

    // A stale head is not a missing one.
    std::fs::write(head_of(&path), &old_head).unwrap();
    assert_eq!(
        verify_with(&path, &allow).unwrap_err(),
        VerifyError::StaleHead {
            head: 3,
            records: 5
        }
    );
}

#[test]
fn a_head_older_than_the_log_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write(&path, ChainConfig::default(), 1..=3);
    let old_head = std::fs::read(head_of(&path)).unwrap();
    write(&path, ChainConfig::default(), 4..=6);
    std::fs::write(head_of(&path), &old_head).unwrap();
    let err = verify(&path, None).unwrap_err();
    assert_eq!(
        err,
        VerifyError::StaleHead {
            head: 3,
            records: 6
        }
    );
    assert_eq!(err.line(), Some(4));
    // Cut between the old head and the end: still stale.
    rewrite(&path, &lines(&path)[..5]);
    assert_eq!(
        verify(&path, None).unwrap_err(),
        VerifyError::StaleHead {
            head: 3,
            records: 5
        }
    );
}

#[test]
fn with_a_chain_key_a_head_rewritten_to_an_earlier_record_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let keyed = ChainConfig {
        key: Some(CHAIN_KEY),
        ..ChainConfig::default()
    };
    write(&path, keyed, 1..=5);
    let report = verify(&path, Some(&CHAIN_KEY)).unwrap();
    assert!(report.head_mac);
    let real_head: Json = serde_json::from_slice(&std::fs::read(head_of(&path)).unwrap()).unwrap();

    rewrite(&path, &lines(&path)[..3]);
    forge_head(&path);
    let err = verify(&path, Some(&CHAIN_KEY)).unwrap_err();
    assert!(
        matches!(&err, VerifyError::Head(p) if p.contains("no MAC")),
        "{err}"
    );

    // The real head's MAC does not fit an earlier record.
    let mut head: Json = serde_json::from_slice(&std::fs::read(head_of(&path)).unwrap()).unwrap();
    head["mac"] = real_head["mac"].clone();
    std::fs::write(head_of(&path), head.to_string()).unwrap();
    let err = verify(&path, Some(&CHAIN_KEY)).unwrap_err();
    assert!(
        matches!(&err, VerifyError::Head(p) if p.contains("MAC does not match")),
        "{err}"
    );
}

/// A log as the writer before head MACs and checkpoints wrote it.
fn write_old_format(path: &Path, n: u64, key: Option<&[u8; 32]>) {
    let mut prev = "0".repeat(64);
    let mut text = String::new();
    for i in 1..=n {
        let Json::Object(mut body) = serde_json::to_value(event(i)).unwrap() else {
            unreachable!()
        };
        body.insert("seq".into(), Json::from(i));
        body.insert("prev".into(), Json::from(prev.clone()));
        let canonical = serde_json::to_vec(&body).unwrap();
        let hash = match key {
            Some(k) => blake3::keyed_hash(k, &canonical),
            None => blake3::hash(&canonical),
        }
        .to_hex()
        .to_string();
        body.insert("hash".into(), Json::from(hash.clone()));
        text.push_str(&serde_json::to_string(&body).unwrap());
        text.push('\n');
        prev = hash;
    }
    std::fs::write(path, text).unwrap();
    let head = serde_json::json!({"seq": n, "hash": prev});
    std::fs::write(head_of(path), head.to_string()).unwrap();
}

#[test]
fn a_log_written_before_this_format_still_verifies_and_continues() {
    let dir = tempfile::tempdir().unwrap();
    for key in [None, Some(&CHAIN_KEY)] {
        let path = dir.path().join(format!("old-{}.jsonl", key.is_some()));
        write_old_format(&path, 4, key);
        let report = verify(&path, key).unwrap();
        assert_eq!(report.records, 4);
        assert!(!report.head_mac);
        let config = ChainConfig {
            key: key.copied(),
            ..ChainConfig::default()
        };
        write(&path, config, 5..=6);
        let report = verify(&path, key).unwrap();
        assert_eq!(report.records, 6);
        assert_eq!(
            report.head_mac,
            key.is_some(),
            "the head is MACed once continued"
        );
        assert_eq!(read_events(&path).unwrap().len(), 6);
    }
}

#[test]
fn a_deleted_log_with_its_head_left_fails_and_is_not_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    assert_eq!(verify(&path, None).unwrap_err(), VerifyError::Missing);
    write(&path, ChainConfig::default(), 1..=2);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        verify(&path, None).unwrap_err(),
        VerifyError::Deleted { head: 2 }
    );
    let err = ChainedLog::open(&path, ChainConfig::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("restore the log"), "{err}");
    assert!(!path.exists());
}

#[test]
fn an_emptied_log_without_its_head_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    // Opened and closed with nothing written: it verifies, empty.
    drop(ChainedLog::open(&path, ChainConfig::default()).unwrap());
    assert_eq!(verify(&path, None).unwrap().records, 0);
    write(&path, ChainConfig::default(), 1..=3);
    std::fs::write(&path, "").unwrap();
    std::fs::remove_file(head_of(&path)).unwrap();
    assert_eq!(
        verify(&path, None).unwrap_err(),
        VerifyError::HeadMissing { records: 0 }
    );
}

#[test]
fn open_refuses_a_missing_or_stale_head_and_says_how_to_proceed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write(&path, ChainConfig::default(), 1..=2);
    let old_head = std::fs::read(head_of(&path)).unwrap();
    write(&path, ChainConfig::default(), 3..=4);

    std::fs::write(head_of(&path), &old_head).unwrap();
    let err = ChainedLog::open(&path, ChainConfig::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("stale head"), "{err}");
    assert!(err.contains("never acknowledged"), "{err}");
    assert!(err.contains("move it and"), "{err}");

    std::fs::remove_file(head_of(&path)).unwrap();
    let err = ChainedLog::open(&path, ChainConfig::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("does not verify"), "{err}");
    assert!(err.contains("--allow-missing-head"), "{err}");
    assert_eq!(lines(&path).len(), 4, "a refused log is left as it is");
    assert!(!head_of(&path).exists());
}

#[test]
fn a_signed_log_has_checkpoints_and_ends_with_a_closing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write(&path, signed(Some(3)), 1..=7);
    // e e e C e e e C e C(closing)
    let report = verify_with(&path, &with_pubkey()).unwrap();
    assert_eq!((report.records, report.checkpoints), (10, 3));
    assert!(report.signatures_checked && report.closed);
    assert_eq!(report.after_last_checkpoint, 0);
    let last = report.last_checkpoint.unwrap();
    assert_eq!((last.seq, last.closing, last.every), (10, true, Some(3)));
    assert_eq!(last.key, host_key().public_key());

    let records = read_records(&path).unwrap();
    let at: Vec<u64> = records
        .iter()
        .filter(|(_, e)| matches!(e, Entry::Checkpoint(_)))
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(at, [4, 8, 10]);
    assert_eq!(read_events(&path).unwrap().len(), 7);
    // The signed head covers the end.
    let head: Json = serde_json::from_slice(&std::fs::read(head_of(&path)).unwrap()).unwrap();
    assert_eq!(head["seq"], 10);
    assert_eq!(head["key"], host_key().public_hex());
}

#[test]
fn checkpoints_come_by_time_without_further_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let config = ChainConfig {
        checkpoints: Cadence {
            records: None,
            interval: Some(Duration::from_millis(100)),
        },
        ..signed(None)
    };
    let log = ChainedLog::open(&path, config).unwrap();
    log.record(event(1)).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while lines(&path).len() < 2 {
        assert!(std::time::Instant::now() < deadline, "no timed checkpoint");
        std::thread::sleep(Duration::from_millis(20));
    }
    let report = verify_with(&path, &with_pubkey()).unwrap();
    assert_eq!(report.checkpoints, 1);
    assert!(!report.closed, "a running log is not closed");
    drop(log);
    assert!(verify_with(&path, &with_pubkey()).unwrap().closed);
}

#[test]
fn rewriting_the_head_to_match_a_cut_signed_log_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write(&path, signed(Some(3)), 1..=7);
    rewrite(&path, &lines(&path)[..6]);
    forge_head(&path);
    let err = verify_with(&path, &with_pubkey()).unwrap_err();
    assert!(
        matches!(&err, VerifyError::Head(p) if p.contains("not signed")),
        "{err}"
    );
    // Even without the public key, a signed log's head must be signed.
    let err = verify(&path, None).unwrap_err();
    assert!(
        matches!(&err, VerifyError::Head(p) if p.contains("signed checkpoints")),
        "{err}"
    );
}

#[test]
fn a_replayed_signed_head_with_the_log_cut_to_match_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = ChainedLog::open(&path, signed(Some(100))).unwrap();
    for i in 1..=4 {
        log.record(event(i)).unwrap();
    }
    log.flush().unwrap();
    // The attacker copies the head while the host runs ...
    let old_head = std::fs::read(head_of(&path)).unwrap();
    for i in 5..=7 {
        log.record(event(i)).unwrap();
    }
    log.close().unwrap();
    // ... and later cuts the log past it: stale.
    rewrite(&path, &lines(&path)[..5]);
    std::fs::write(head_of(&path), &old_head).unwrap();
    assert_eq!(
        verify_with(&path, &with_pubkey()).unwrap_err(),
        VerifyError::StaleHead {
            head: 4,
            records: 5
        }
    );
    // Cut exactly to it: every signature holds, but the log was not closed.
    rewrite(&path, &lines(&path)[..4]);
    let report = verify_with(&path, &with_pubkey()).unwrap();
    assert!(!report.closed);
    assert_eq!((report.checkpoints, report.after_last_checkpoint), (0, 4));
    let strict = VerifyOptions {
        require_closed: true,
        ..with_pubkey()
    };
    assert_eq!(
        verify_with(&path, &strict).unwrap_err(),
        VerifyError::NotClosed { after: 4 }
    );
}

#[test]
fn a_forged_checkpoint_signature_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write(&path, signed(Some(3)), 1..=5);
    let mut l = lines(&path);
    let sig = field(&l[3], "checkpoint")["signature"]
        .as_str()
        .unwrap()
        .to_owned();
    let flipped = format!(
        "{}{}",
        if sig.starts_with('0') { '1' } else { '0' },
        &sig[1..]
    );
    l[3] = l[3].replace(&sig, &flipped);
    rechain(&mut l, 3);
    rewrite(&path, &l);
    forge_head(&path);
    let err = verify_with(&path, &with_pubkey()).unwrap_err();
    assert_eq!(err.line(), Some(4), "{err}");
    assert!(
        err.to_string().contains("signature does not verify"),
        "{err}"
    );
}

#[test]
fn a_log_signed_by_another_key_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mallory = ChainConfig {
        signing_key: Some(KeyPair::from_seed([66; 32])),
        ..ChainConfig::default()
    };
    write(&path, mallory, 1..=2);
    let err = verify_with(&path, &with_pubkey()).unwrap_err();
    assert_eq!(err.line(), Some(3), "{err}");
    assert!(err.to_string().contains("not by the key given"), "{err}");
}

#[test]
fn removing_a_checkpoint_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write(&path, signed(Some(3)), 1..=8);
    // e e e C e e e C e e C(closing)
    let full = lines(&path);
    assert!(field(&full[7], "checkpoint").is_object());

    // A checkpoint in the middle, the rest renumbered and rehashed.
    let mut l = full.clone();
    l.remove(7);
    rechain(&mut l, 7);
    rewrite(&path, &l);
    forge_head(&path);
    for options in [VerifyOptions::default(), with_pubkey()] {
        let err = verify_with(&path, &options).unwrap_err();
        assert_eq!(err.line(), Some(8), "{err}");
        assert!(
            err.to_string().contains("a checkpoint was removed"),
            "{err}"
        );
    }

    // The closing checkpoint: the head's signature no longer fits.
    let mut l = full.clone();
    l.pop();
    rewrite(&path, &l);
    forge_head(&path);
    let err = verify_with(&path, &with_pubkey()).unwrap_err();
    assert!(matches!(&err, VerifyError::Head(_)), "{err}");
    // Without the head (accepted), the log is not closed.
    std::fs::remove_file(head_of(&path)).unwrap();
    let allow = VerifyOptions {
        allow_missing_head: true,
        ..with_pubkey()
    };
    let report = verify_with(&path, &allow).unwrap();
    assert!(!report.closed);
    assert_eq!(report.after_last_checkpoint, 2);
    let strict = VerifyOptions {
        require_closed: true,
        ..allow
    };
    assert!(matches!(
        verify_with(&path, &strict),
        Err(VerifyError::NotClosed { after: 2 })
    ));
}

#[test]
fn a_signed_log_is_continued_only_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write(&path, signed(Some(3)), 1..=2);
    let err = ChainedLog::open(&path, ChainConfig::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("signing key"), "{err}");
    let other = ChainConfig {
        signing_key: Some(KeyPair::from_seed([66; 32])),
        ..ChainConfig::default()
    };
    let err = ChainedLog::open(&path, other).err().unwrap();
    assert!(err.to_string().contains("not by the key given"), "{err}");

    write(&path, signed(Some(3)), 3..=4);
    let report = verify_with(&path, &with_pubkey()).unwrap();
    // e e C(closing) e e C(closing)
    assert_eq!((report.records, report.checkpoints), (6, 2));
    assert!(report.closed);
}

#[test]
fn an_unsigned_log_is_not_continued_with_a_signing_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write(&path, ChainConfig::default(), 1..=3);
    let err = verify_with(&path, &with_pubkey()).unwrap_err();
    assert!(
        matches!(&err, VerifyError::Head(p) if p.contains("not signed")),
        "{err}"
    );
    // Its unsigned head could be one rewritten after a cut: adopting the
    // log would sign the cut.
    let err = ChainedLog::open(&path, signed(Some(10))).err().unwrap();
    assert!(
        err.to_string().contains("signs a log from its first line"),
        "{err}"
    );
    assert_eq!(lines(&path).len(), 3);
}

#[test]
fn a_crashed_signed_log_gets_its_tail_signed_when_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = ChainedLog::open(&path, signed(Some(10))).unwrap();
    for i in 1..=3 {
        log.record(event(i)).unwrap();
    }
    log.flush().unwrap();
    // A crash: the writer never closes the log.
    std::mem::forget(log);
    let report = verify_with(&path, &with_pubkey()).unwrap();
    assert_eq!((report.checkpoints, report.after_last_checkpoint), (0, 3));
    assert!(!report.closed);

    write(&path, signed(Some(10)), 4..=4);
    // e e e C(opening) e C(closing)
    let records = read_records(&path).unwrap();
    assert!(matches!(&records[3].1, Entry::Checkpoint(c) if !c.closing));
    let report = verify_with(&path, &with_pubkey()).unwrap();
    assert_eq!((report.records, report.checkpoints), (6, 2));
    assert!(report.closed);
}

#[test]
fn a_public_key_on_a_log_with_nothing_signed_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write(&path, ChainConfig::default(), 1..=2);
    std::fs::remove_file(head_of(&path)).unwrap();
    let allow = VerifyOptions {
        allow_missing_head: true,
        ..with_pubkey()
    };
    assert_eq!(
        verify_with(&path, &allow).unwrap_err(),
        VerifyError::Unsigned
    );
}

#[test]
fn a_chain_key_and_a_signing_key_together() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let both = ChainConfig {
        key: Some(CHAIN_KEY),
        ..signed(Some(2))
    };
    write(&path, both, 1..=3);
    let options = VerifyOptions {
        key: Some(CHAIN_KEY),
        ..with_pubkey()
    };
    let report = verify_with(&path, &options).unwrap();
    assert!(report.head_mac && report.signatures_checked && report.closed);
    // Without the chain key the hashes cannot match.
    assert_eq!(
        verify_with(&path, &with_pubkey()).unwrap_err().line(),
        Some(1)
    );
}

#[test]
fn a_steady_stream_of_events_is_written_and_checkpointed_as_it_comes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let config = ChainConfig {
        checkpoints: Cadence {
            records: None,
            interval: Some(Duration::from_millis(50)),
        },
        ..signed(None)
    };
    let log = std::sync::Arc::new(ChainedLog::open(&path, config).unwrap());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let producer = {
        let (log, stop) = (log.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                log.record(event(i)).unwrap();
            }
        })
    };
    // While events keep coming (the queue need never drain), lines and
    // timed checkpoints still reach the file.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let checkpoints = || {
        std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .filter(|l| l.contains("\"checkpoint\""))
            .count()
    };
    while checkpoints() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint while events stream in"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    producer.join().unwrap();
    log.close().unwrap();
    let report = verify_with(&path, &with_pubkey()).unwrap();
    assert!(report.closed && report.checkpoints >= 3);
}
