//! Signed checkpoints: lines of the chain that carry an Ed25519 signature
//! over everything before them.
//!
//! A checkpoint line looks like
//!
//! ```json
//! {"v":2,"seq":9,"prev":"<hash of line 8>","time":"2026-01-01T00:00:00.000000Z",
//!  "checkpoint":{"key":"<public key>","every":1000,"closing":false,"signature":"<128 hex>"},
//!  "hash":"<hash of this line>"}
//! ```
//!
//! (on one line). The signature covers a domain-separation prefix and the
//! line's fields other than `hash` and `signature`, in the canonical form the
//! line hash uses: its position (`seq`), the hash of the chain before it
//! (`prev`), its time, the cadence it promises (`every`: the next checkpoint
//! comes within that many records) and whether the log was being closed.

use std::time::SystemTime;

use serde_json::{Map, Value as Json};

use crate::signing::{KeyPair, hex, unhex, verify_raw};

/// The prefix of the message a checkpoint signature covers.
const SIGNATURE_DOMAIN: &[u8] = b"airssys-wasm audit checkpoint signature v1\0";

/// A signed checkpoint of a chained log (see [`read_records`](super::read_records)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Its line, which is also its sequence number.
    pub seq: u64,
    /// When it was written.
    pub time: SystemTime,
    /// The hash of the line before it, which covers the whole chain up to
    /// line `seq - 1`.
    pub covers: String,
    /// The public key that signed it.
    pub key: [u8; 32],
    /// The cadence it promises: another checkpoint within this many records.
    pub every: Option<u64>,
    /// Written when the log was closed: nothing was written after it in
    /// that session.
    pub closing: bool,
    /// The Ed25519 signature.
    pub signature: [u8; 64],
}

/// The message signed for a checkpoint body (without `hash` and without
/// `checkpoint.signature`).
fn message(body: &Map<String, Json>) -> Vec<u8> {
    let canonical = serde_json::to_vec(body).expect("a JSON map always encodes");
    [SIGNATURE_DOMAIN, &canonical].concat()
}

/// The body of a new checkpoint line at `seq` after `prev`, signed; the
/// caller adds `hash`.
pub(super) fn build(
    seq: u64,
    prev: &str,
    signer: &KeyPair,
    every: Option<u64>,
    closing: bool,
) -> Map<String, Json> {
    let mut fields = Map::new();
    fields.insert("key".into(), Json::from(signer.public_hex()));
    fields.insert("every".into(), every.map_or(Json::Null, Json::from));
    fields.insert("closing".into(), Json::from(closing));
    let mut body = Map::new();
    body.insert("v".into(), Json::from(super::FORMAT));
    body.insert("seq".into(), Json::from(seq));
    body.insert("prev".into(), Json::from(prev));
    body.insert(
        "time".into(),
        Json::from(humantime::format_rfc3339_micros(SystemTime::now()).to_string()),
    );
    body.insert("checkpoint".into(), Json::Object(fields));
    let signature = signer.sign_raw(&message(&body));
    if let Some(Json::Object(fields)) = body.get_mut("checkpoint") {
        fields.insert("signature".into(), Json::from(hex(&signature)));
    }
    body
}

/// Reads the checkpoint in a line's body (without `hash`), whose `seq`
/// and `prev` the caller has checked. Every field must be present and
/// well-formed, and nothing else may be there.
pub(super) fn parse(body: &Map<String, Json>) -> Result<Checkpoint, String> {
    const LINE: [&str; 5] = ["checkpoint", "prev", "seq", "time", "v"];
    const FIELDS: [&str; 4] = ["closing", "every", "key", "signature"];
    if body.len() != LINE.len() || !LINE.iter().all(|k| body.contains_key(*k)) {
        return Err(format!(
            "a checkpoint line has exactly the fields {LINE:?} (and `hash`)"
        ));
    }
    let Some(Json::Object(fields)) = body.get("checkpoint") else {
        return Err("`checkpoint` is not an object".into());
    };
    if fields.len() != FIELDS.len() || !FIELDS.iter().all(|k| fields.contains_key(*k)) {
        return Err(format!("a checkpoint has exactly the fields {FIELDS:?}"));
    }
    let time = body
        .get("time")
        .and_then(Json::as_str)
        .and_then(|t| humantime::parse_rfc3339(t).ok())
        .ok_or("the checkpoint's `time` is not an RFC 3339 time")?;
    let key = fields
        .get("key")
        .and_then(Json::as_str)
        .and_then(unhex::<32>)
        .ok_or("the checkpoint's `key` is not 64 hex digits")?;
    let signature = fields
        .get("signature")
        .and_then(Json::as_str)
        .and_then(unhex::<64>)
        .ok_or("the checkpoint's `signature` is not 128 hex digits")?;
    let every = match fields.get("every") {
        Some(Json::Null) => None,
        Some(n) => Some(
            n.as_u64()
                .filter(|n| *n > 0)
                .ok_or("the checkpoint's `every` is not a positive number")?,
        ),
        None => None,
    };
    let closing = fields
        .get("closing")
        .and_then(Json::as_bool)
        .ok_or("the checkpoint's `closing` is not true or false")?;
    Ok(Checkpoint {
        seq: body.get("seq").and_then(Json::as_u64).unwrap_or_default(),
        time,
        covers: body
            .get("prev")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned(),
        key,
        every,
        closing,
        signature,
    })
}

/// Whether the checkpoint in `body` (without `hash`) is signed by `public`.
pub(super) fn check_signature(
    body: &Map<String, Json>,
    checkpoint: &Checkpoint,
    public: &[u8; 32],
) -> Result<(), String> {
    if &checkpoint.key != public {
        return Err(format!(
            "the checkpoint is signed by key {}, not by the key given",
            hex(&checkpoint.key)
        ));
    }
    let mut unsigned = body.clone();
    if let Some(Json::Object(fields)) = unsigned.get_mut("checkpoint") {
        fields.remove("signature");
    }
    if verify_raw(public, &message(&unsigned), &checkpoint.signature) {
        Ok(())
    } else {
        Err("the checkpoint's signature does not verify (it was forged, or the line edited)".into())
    }
}
