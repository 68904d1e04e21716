//! The head file (`<log>.head`): the last sequence number and hash written,
//! a MAC under the chain key when the log has one, and an Ed25519
//! signature when it has a signing key.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::VerifyError;
use crate::signing::{KeyPair, hex, unhex, verify_raw};

/// The context from which the head's MAC key is derived from the chain key,
/// so a head MAC can never be mistaken for a line hash.
const MAC_CONTEXT: &str = "airssys-wasm 2026 audit-log head MAC v1";
/// The prefix of the message a head signature covers.
const SIGNATURE_DOMAIN: &[u8] = b"airssys-wasm audit head signature v1\0";

/// The head file's contents. Logs written before MACs and signatures
/// existed have `seq` and `hash` only.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(super) struct Head {
    pub seq: u64,
    pub hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// `seq` and `hash`, the part of the head that its MAC and signature cover.
fn covered(seq: u64, hash: &str) -> Vec<u8> {
    [&seq.to_be_bytes()[..], hash.as_bytes()].concat()
}

fn mac(chain_key: &[u8; 32], seq: u64, hash: &str) -> blake3::Hash {
    let mac_key = blake3::derive_key(MAC_CONTEXT, chain_key);
    blake3::keyed_hash(&mac_key, &covered(seq, hash))
}

impl Head {
    /// The head naming record `seq` with `hash`, authenticated by whichever
    /// keys the log has.
    pub fn new(
        seq: u64,
        hash: &str,
        chain_key: Option<&[u8; 32]>,
        signer: Option<&KeyPair>,
    ) -> Self {
        Self {
            seq,
            hash: hash.to_owned(),
            mac: chain_key.map(|k| mac(k, seq, hash).to_hex().to_string()),
            key: signer.map(KeyPair::public_hex),
            signature: signer
                .map(|s| hex(&s.sign_raw(&[SIGNATURE_DOMAIN, &covered(seq, hash)].concat()))),
        }
    }

    /// Checks the MAC, if there is one; `Ok(false)` when there is none.
    pub fn check_mac(&self, chain_key: &[u8; 32]) -> Result<bool, String> {
        let Some(text) = &self.mac else {
            return Ok(false);
        };
        let found = blake3::Hash::from_hex(text).map_err(|_| "its MAC is not 64 hex digits")?;
        // blake3::Hash compares in constant time.
        if found == mac(chain_key, self.seq, &self.hash) {
            Ok(true)
        } else {
            Err("its MAC does not match (it was written without the chain key)".into())
        }
    }

    /// Checks the signature against `public`.
    pub fn check_signature(&self, public: &[u8; 32]) -> Result<(), String> {
        let (Some(key), Some(signature)) = (&self.key, &self.signature) else {
            return Err("it is not signed (it was written without the signing key)".into());
        };
        let key = unhex::<32>(key).ok_or("its `key` is not 64 hex digits")?;
        if &key != public {
            return Err(format!(
                "it is signed by key {}, not by the key given",
                hex(&key)
            ));
        }
        let signature = unhex::<64>(signature).ok_or("its `signature` is not 128 hex digits")?;
        let message = [SIGNATURE_DOMAIN, &covered(self.seq, &self.hash)].concat();
        if verify_raw(public, &message, &signature) {
            Ok(())
        } else {
            Err("its signature does not verify (it was forged or edited)".into())
        }
    }

    /// Reads the head file; `Ok(None)` when there is none.
    pub fn read(path: &Path) -> Result<Option<Self>, VerifyError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| VerifyError::Head(format!("it is not a head file ({e})"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(VerifyError::Io(format!("reading {}: {e}", path.display()))),
        }
    }
}

/// `<log>.head`.
pub(super) fn head_path(log: &Path) -> PathBuf {
    let mut p = log.as_os_str().to_owned();
    p.push(".head");
    PathBuf::from(p)
}
