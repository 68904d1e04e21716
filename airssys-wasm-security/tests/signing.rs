//! Signatures: a good one verifies; a changed component, an altered
//! signature, a forged key, an untrusted key or the wrong signer do not.

use airssys_wasm_security::Policy;
use airssys_wasm_security::signing::{KeyPair, Signature, SignatureError};

const COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00 pretend component bytes";

fn policy_trusting(keys: &[(&str, &KeyPair)], require: bool) -> Policy {
    let mut text = format!("require-signed = {require}\n");
    for (name, key) in keys {
        text.push_str(&format!(
            "[[trusted-keys]]\nname = \"{name}\"\npublic-key = \"{}\"\n",
            key.public_hex()
        ));
    }
    Policy::parse("policy.toml", text).unwrap()
}

#[test]
fn a_good_signature_verifies_and_is_trusted() {
    let acme = KeyPair::from_seed([1; 32]);
    let sig = Signature::parse(&acme.sign("acme", COMPONENT).to_toml()).unwrap();
    assert_eq!(sig.verify(COMPONENT).unwrap(), acme.public_key());
    let policy = policy_trusting(&[("acme", &acme)], true);
    assert_eq!(
        sig.verify_trusted(COMPONENT, &policy.trusted_keys, None)
            .unwrap()
            .name,
        "acme"
    );
    assert_eq!(
        sig.verify_trusted(COMPONENT, &policy.trusted_keys, Some("acme"))
            .unwrap()
            .name,
        "acme"
    );
}

#[test]
fn every_flipped_byte_of_the_component_is_detected() {
    let acme = KeyPair::from_seed([1; 32]);
    let sig = acme.sign("acme", COMPONENT);
    for i in 0..COMPONENT.len() {
        let mut changed = COMPONENT.to_vec();
        changed[i] ^= 0x01;
        assert!(
            matches!(
                sig.verify(&changed),
                Err(SignatureError::DigestMismatch { .. })
            ),
            "byte {i}"
        );
    }
}

#[test]
fn altered_or_forged_signatures_are_invalid() {
    let acme = KeyPair::from_seed([1; 32]);
    let mallory = KeyPair::from_seed([2; 32]);
    let good = acme.sign("acme", COMPONENT);

    let mut flipped = good.clone();
    let last = flipped.signature.pop().unwrap();
    flipped.signature.push(if last == '0' { '1' } else { '0' });
    assert_eq!(
        flipped.verify(COMPONENT),
        Err(SignatureError::Invalid {
            signer: "acme".into()
        })
    );

    // Mallory swaps in acme's key but signs with her own.
    let mut forged = mallory.sign("acme", COMPONENT);
    forged.public_key = acme.public_hex();
    assert!(matches!(
        forged.verify(COMPONENT),
        Err(SignatureError::Invalid { .. })
    ));

    // Mallory's honest signature verifies, but nobody trusts her key.
    let hers = mallory.sign("mallory", COMPONENT);
    let policy = policy_trusting(&[("acme", &acme)], true);
    let err = hers
        .verify_trusted(COMPONENT, &policy.trusted_keys, None)
        .unwrap_err();
    assert!(matches!(err, SignatureError::Untrusted { .. }), "{err}");
    assert!(err.to_string().contains("[[trusted-keys]]"), "{err}");
}

#[test]
fn the_manifest_can_pin_the_signer() {
    let acme = KeyPair::from_seed([1; 32]);
    let other = KeyPair::from_seed([3; 32]);
    let policy = policy_trusting(&[("acme", &acme), ("other", &other)], true);
    let sig = other.sign("other", COMPONENT);
    let err = sig
        .verify_trusted(COMPONENT, &policy.trusted_keys, Some("acme"))
        .unwrap_err();
    assert_eq!(
        err,
        SignatureError::WrongSigner {
            expected: "acme".into(),
            actual: "other".into()
        }
    );
}

#[test]
fn malformed_signature_files_are_refused() {
    for (text, needle) in [
        ("", "missing field"),
        (
            "version = 2\nsigner = \"a\"\npublic-key = \"\"\ndigest = \"\"\nsignature = \"\"\n",
            "version 2",
        ),
        ("garbage", "expected"),
    ] {
        let err = Signature::parse(text).unwrap_err();
        assert!(matches!(err, SignatureError::Malformed(_)), "{err}");
        assert!(
            err.to_string().contains(needle),
            "{err} should mention {needle}"
        );
    }
    let acme = KeyPair::from_seed([1; 32]);
    let mut bad_hex = acme.sign("acme", COMPONENT);
    bad_hex.signature = "zz".repeat(64);
    assert!(matches!(
        bad_hex.verify(COMPONENT),
        Err(SignatureError::Malformed(_))
    ));
}
