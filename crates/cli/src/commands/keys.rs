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
    let with_suffix = |ext: &str| {
        let mut p = a.output_prefix.clone().into_os_string();
        p.push(ext);
        std::path::PathBuf::from(p)
    };
    let (key_path, pub_path) = (with_suffix(".key"), with_suffix(".pub"));
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

/// Writes a new file readable only by its owner, then moves it into place, so an existing
/// file's looser permissions never apply to the new key.
fn write_private(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp_name);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let written = opts.open(&tmp).and_then(|mut f| f.write_all(data).and_then(|()| f.sync_all()));
    match written.and_then(|()| std::fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}
