//! Signed components: Ed25519 signatures in a detached `.sig` file.
//!
//! `NAME.wasm` is signed by `NAME.wasm.sig`, a small TOML file:
//!
//! ```toml
//! version = 1
//! signer = "acme"
//! public-key = "<64 hex digits>"
//! digest = "blake3:<64 hex digits>"
//! signature = "<128 hex digits>"
//! ```
//!
//! The signature covers a domain-separation prefix and the blake3 digest of
//! the component's bytes, so the component itself is left untouched (its
//! digest, and therefore its compiled-artifact cache key, stays the same).
//! A detached file was chosen over an embedded custom section for that
//! reason, and because any tool can ship it beside the component.
//!
//! ```
//! use airssys_wasm_security::signing::{KeyPair, Signature};
//! let key = KeyPair::from_seed([7; 32]);
//! let component = b"\0asm component bytes";
//! let sig = key.sign("acme", component);
//! let text = sig.to_toml();
//! let parsed = Signature::parse(&text).unwrap();
//! assert_eq!(parsed.verify(component).unwrap(), key.public_key());
//! assert!(parsed.verify(b"\0asm tampered bytes").is_err());
//! ```

use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::config::Position;

const DOMAIN: &[u8] = b"airssys-wasm component signature v1\0";

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes `2 * N` hex digits.
pub(crate) fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let text = text.trim();
    if text.len() != 2 * N || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// A signing key the operator trusts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedKey {
    /// Its name (what a manifest's `signer` refers to).
    pub name: String,
    /// The Ed25519 public key.
    pub public_key: [u8; 32],
    /// Where it is declared.
    pub at: Position,
}

/// Why a signature does not hold.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureError {
    /// There is no `.sig` file.
    #[error("{component}: not signed (no {sig}); sign it with `airssys-wasm sign`")]
    Missing {
        /// The component.
        component: PathBuf,
        /// The signature file looked for.
        sig: PathBuf,
    },
    /// The `.sig` file is not a signature.
    #[error("malformed signature: {0}")]
    Malformed(String),
    /// The component's bytes are not the ones signed.
    #[error(
        "the component does not match its signature (digest {actual}, signed {signed}): it was changed after signing"
    )]
    DigestMismatch {
        /// The digest of the bytes at hand.
        actual: String,
        /// The digest that was signed.
        signed: String,
    },
    /// The signature does not verify with its public key.
    #[error("the signature by `{signer}` is invalid: the signature file was altered or forged")]
    Invalid {
        /// The claimed signer.
        signer: String,
    },
    /// It verifies, but the key is not one the policy trusts.
    #[error(
        "signed by `{signer}` with key {key}, which the policy does not trust; add it to [[trusted-keys]] if it should be"
    )]
    Untrusted {
        /// The claimed signer.
        signer: String,
        /// The key, in hex.
        key: String,
    },
    /// It verifies with a trusted key, but not the one the manifest names.
    #[error("the manifest says `{expected}` signs this component, but it is signed by `{actual}`")]
    WrongSigner {
        /// The manifest's signer.
        expected: String,
        /// The trusted key that signed.
        actual: String,
    },
}

/// An Ed25519 key pair for signing components, and the host key that signs
/// audit-log checkpoints. Its `Debug` form shows the public key only.
#[derive(Clone)]
pub struct KeyPair(SigningKey);

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public_hex())
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    /// A new key from the operating system's entropy.
    pub fn generate() -> Result<Self, String> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| format!("no entropy for a key: {e}"))?;
        Ok(Self::from_seed(seed))
    }

    /// The key with this secret seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&seed))
    }

    /// Reads a secret key file written by [`KeyPair::secret_hex`].
    pub fn from_hex(text: &str) -> Option<Self> {
        unhex::<32>(text).map(Self::from_seed)
    }

    /// Reads a public key file (`.pub`, 64 hex digits).
    pub fn public_from_hex(text: &str) -> Option<[u8; 32]> {
        unhex::<32>(text)
    }

    /// The secret seed in hex (the `.key` file).
    pub fn secret_hex(&self) -> String {
        hex(&self.0.to_bytes())
    }

    /// The public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// The public key in hex (the `.pub` file, and `public-key` in a policy).
    pub fn public_hex(&self) -> String {
        hex(&self.public_key())
    }

    /// Signs `message` (already domain-separated by the caller).
    pub(crate) fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }

    /// Signs a component's bytes as `signer`.
    pub fn sign(&self, signer: &str, component: &[u8]) -> Signature {
        let digest = blake3::hash(component);
        let signature = self.0.sign(&[DOMAIN, digest.as_bytes()].concat());
        Signature {
            version: 1,
            signer: signer.to_owned(),
            public_key: self.public_hex(),
            digest: format!("blake3:{}", digest.to_hex()),
            signature: hex(&signature.to_bytes()),
        }
    }
}

/// Whether `signature` is `public`'s signature of `message` (strict
/// verification: no malleable or small-order encodings).
pub(crate) fn verify_raw(public: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    VerifyingKey::from_bytes(public).is_ok_and(|key| {
        key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
            .is_ok()
    })
}

/// A detached component signature (the `.sig` file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Signature {
    /// The format version, 1.
    pub version: u32,
    /// Who signed: the key's name.
    pub signer: String,
    /// The public key, hex.
    pub public_key: String,
    /// `blake3:` and the component's digest, hex.
    pub digest: String,
    /// The Ed25519 signature, hex.
    pub signature: String,
}

impl Signature {
    /// The signature file of a component: `NAME.wasm.sig`.
    pub fn path_for(component: &Path) -> PathBuf {
        let mut p = component.as_os_str().to_owned();
        p.push(".sig");
        PathBuf::from(p)
    }

    /// Parses a `.sig` file's text.
    pub fn parse(text: &str) -> Result<Self, SignatureError> {
        let sig: Signature =
            toml::from_str(text).map_err(|e| SignatureError::Malformed(e.message().to_owned()))?;
        if sig.version != 1 {
            return Err(SignatureError::Malformed(format!(
                "version {} is not supported (only 1)",
                sig.version
            )));
        }
        Ok(sig)
    }

    /// Reads the `.sig` file beside a component.
    pub fn load_for(component: &Path) -> Result<Self, SignatureError> {
        let sig = Self::path_for(component);
        match std::fs::read_to_string(&sig) {
            Ok(text) => Self::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(SignatureError::Missing {
                component: component.to_owned(),
                sig,
            }),
            Err(e) => Err(SignatureError::Malformed(format!("{}: {e}", sig.display()))),
        }
    }

    /// The text of the `.sig` file.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a signature serialises")
    }

    /// Checks the signature against the component's bytes; returns the
    /// public key that signed.
    pub fn verify(&self, component: &[u8]) -> Result<[u8; 32], SignatureError> {
        let actual = format!("blake3:{}", blake3::hash(component).to_hex());
        if actual != self.digest {
            return Err(SignatureError::DigestMismatch {
                actual,
                signed: self.digest.clone(),
            });
        }
        let malformed = |what: &str| SignatureError::Malformed(format!("{what} is not valid hex"));
        let key_bytes = unhex::<32>(&self.public_key).ok_or_else(|| malformed("public-key"))?;
        let sig_bytes = unhex::<64>(&self.signature).ok_or_else(|| malformed("signature"))?;
        let invalid = || SignatureError::Invalid {
            signer: self.signer.clone(),
        };
        let key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| invalid())?;
        let digest = blake3::hash(component);
        key.verify_strict(
            &[DOMAIN, digest.as_bytes()].concat(),
            &ed25519_dalek::Signature::from_bytes(&sig_bytes),
        )
        .map_err(|_| invalid())?;
        Ok(key_bytes)
    }

    /// Checks the signature and that one of `trusted` (a policy's
    /// `trusted_keys`) is its key (and, when a manifest names one, that it
    /// is that signer's key). Returns the trusted key.
    pub fn verify_trusted<'p>(
        &self,
        component: &[u8],
        trusted: &'p [TrustedKey],
        manifest_signer: Option<&str>,
    ) -> Result<&'p TrustedKey, SignatureError> {
        let key = self.verify(component)?;
        let trusted = trusted
            .iter()
            .find(|k| k.public_key == key)
            .ok_or_else(|| SignatureError::Untrusted {
                signer: self.signer.clone(),
                key: hex(&key),
            })?;
        if let Some(expected) = manifest_signer
            && expected != trusted.name
        {
            return Err(SignatureError::WrongSigner {
                expected: expected.to_owned(),
                actual: trusted.name.clone(),
            });
        }
        Ok(trusted)
    }
}
