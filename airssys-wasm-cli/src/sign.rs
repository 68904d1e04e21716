//! `airssys-wasm keygen | sign | verify`: Ed25519 signatures of components.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use airssys_wasm::security::signing::{KeyPair, Signature, SignatureError};
use airssys_wasm::{ComponentInfo, Error, Result};

/// Arguments of `keygen`.
#[derive(clap::Args)]
pub struct KeygenArgs {
    /// The key's name: the signer name in signatures and policies (a component name's
    /// characters: A-Z a-z 0-9 - _ . beginning with a letter or digit).
    #[arg(value_parser = crate::run::parse_component_name)]
    name: String,
    /// Where to write NAME.key (secret) and NAME.pub.
    #[arg(long, value_name = "DIR", default_value = ".")]
    dir: PathBuf,
}

/// Arguments of `sign`.
#[derive(clap::Args)]
pub struct SignArgs {
    /// The component to sign; the signature goes to COMPONENT.sig.
    component: PathBuf,
    /// The secret key file written by `keygen`.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The signer name (default: the key file's stem).
    #[arg(long)]
    signer: Option<String>,
}

/// Arguments of `verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The component; its signature is read from COMPONENT.sig.
    component: PathBuf,
    /// The public key file (NAME.pub) the signature must verify with.
    #[arg(long, value_name = "FILE")]
    pubkey: PathBuf,
}

fn write(path: &Path, text: &str, secret: bool) -> Result<()> {
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)
}

pub fn keygen(args: KeygenArgs) -> Result<ExitCode> {
    let key = KeyPair::generate().map_err(Error::Backend)?;
    let secret = args.dir.join(format!("{}.key", args.name));
    let public = args.dir.join(format!("{}.pub", args.name));
    for f in [&secret, &public] {
        if f.exists() {
            return Err(Error::Io {
                path: f.display().to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "already exists; keygen never overwrites a key",
                ),
            });
        }
    }
    write(&secret, &format!("{}\n", key.secret_hex()), true)?;
    write(&public, &format!("{}\n", key.public_hex()), false)?;
    println!(
        "wrote {} (secret: keep it private) and {}",
        secret.display(),
        public.display()
    );
    println!("to trust it, add to the policy:\n");
    println!(
        "[[trusted-keys]]\nname = \"{}\"\npublic-key = \"{}\"",
        args.name,
        key.public_hex()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn sign(args: SignArgs) -> Result<ExitCode> {
    let bytes = crate::read_input(&args.component)?;
    // Only components are signed: a typo'd path must not get a signature.
    ComponentInfo::parse(&bytes)?;
    let text = String::from_utf8(crate::read_input(&args.key)?).unwrap_or_default();
    let key = KeyPair::from_hex(&text).ok_or_else(|| {
        Error::Policy(format!(
            "{}: not a secret key (64 hex digits written by `airssys-wasm keygen`)",
            args.key.display()
        ))
    })?;
    let signer = args.signer.unwrap_or_else(|| {
        args.key
            .file_stem()
            .map_or("unnamed".into(), |s| s.to_string_lossy().into_owned())
    });
    let sig = key.sign(&signer, &bytes);
    let out = Signature::path_for(&args.component);
    std::fs::write(&out, sig.to_toml()).map_err(|source| Error::Io {
        path: out.display().to_string(),
        source,
    })?;
    println!(
        "signed {} as `{signer}`: {}",
        args.component.display(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn verify(args: VerifyArgs) -> Result<ExitCode> {
    let bytes = crate::read_input(&args.component)?;
    let text = String::from_utf8(crate::read_input(&args.pubkey)?).unwrap_or_default();
    let expected = KeyPair::public_from_hex(&text).ok_or_else(|| {
        Error::Policy(format!(
            "{}: not a public key (64 hex digits written by `airssys-wasm keygen`)",
            args.pubkey.display()
        ))
    })?;
    let outcome = Signature::load_for(&args.component).and_then(|sig| {
        let key = sig.verify(&bytes)?;
        if key == expected {
            Ok(sig)
        } else {
            Err(SignatureError::Untrusted {
                signer: sig.signer.clone(),
                key: sig.public_key.clone(),
            })
        }
    });
    match outcome {
        Ok(sig) => {
            println!("OK: signed by `{}`, {}", sig.signer, sig.digest);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("FAILED: {}: {e}", args.component.display());
            Ok(ExitCode::from(1))
        }
    }
}
