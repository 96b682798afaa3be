use std::io::Write;

use anyhow::Context;
use tarn_trust::keys::{KdfParams, SigningKeyPair};

use crate::args::invalid;
use crate::cli::GenerateArgs;
use crate::exit;

pub fn generate(a: GenerateArgs) -> anyhow::Result<u8> {
    let password = std::env::var(&a.password_env).map_err(|_| {
        invalid(format!(
            "set ${} to the password for the new key (it may be empty: {}= tarn keys generate)",
            a.password_env, a.password_env
        ))
    })?;
    let key_path = a.output_prefix.with_extension("key");
    let pub_path = a.output_prefix.with_extension("pub");
    if !a.force {
        for p in [&key_path, &pub_path] {
            if p.exists() {
                return Err(invalid(format!("{} exists (use --force to overwrite)", p.display())));
            }
        }
    }
    let key = SigningKeyPair::generate();
    let params = KdfParams { log_n: a.scrypt_log_n, ..KdfParams::COSIGN };
    let pem = key.to_encrypted_pem(password.as_bytes(), params)?;
    write_private(&key_path, pem.as_bytes()).with_context(|| format!("cannot write {}", key_path.display()))?;
    std::fs::write(&pub_path, key.public().to_pem()).with_context(|| format!("cannot write {}", pub_path.display()))?;
    println!("Private key written to {}", key_path.display());
    println!("Public key written to {}", pub_path.display());
    println!("Key id: {}", key.public().key_id());
    Ok(exit::OK)
}

fn write_private(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(data)
}
