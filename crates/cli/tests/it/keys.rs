use crate::common::*;

#[test]
fn generate_writes_cosign_format_keys() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("k");
    let o = tarn()
        .args(["keys", "generate", "--scrypt-log-n", "4", "--output-prefix", prefix.to_str().unwrap()])
        .env("COSIGN_PASSWORD", "hunter2")
        .output()
        .unwrap();
    ok(&o);
    let key = std::fs::read_to_string(prefix.with_extension("key")).unwrap();
    let public = std::fs::read_to_string(prefix.with_extension("pub")).unwrap();
    assert!(key.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"));
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(prefix.with_extension("key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let pair = tarn_trust::keys::SigningKeyPair::from_pem(&key, b"hunter2").unwrap();
    assert_eq!(pair.public().to_pem(), public);
    // Refuses to overwrite; refuses without a password variable.
    let again = tarn()
        .args(["keys", "generate", "--output-prefix", prefix.to_str().unwrap()])
        .env("COSIGN_PASSWORD", "x")
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    let nopass = run(&["keys", "generate", "--output-prefix", dir.path().join("other").to_str().unwrap()]);
    assert_eq!(nopass.status.code(), Some(2));
    assert!(stderr(&nopass).contains("COSIGN_PASSWORD"));
}
