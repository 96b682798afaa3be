//! `tarn trust verify-bundle` speaks the sigstore-conformance client protocol: every case of the
//! vendored corpus (fixtures/sigstore-conformance), with the artifact as a file and as a
//! `sha256:` digest. Exit 0 must mean "verified", and only for cases not named `*_fail`.

use std::path::{Path, PathBuf};

use crate::common::{fixtures, stderr, tarn};

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";
const CASES: usize = 70;

/// The command line a conformance harness would run for `dir`.
fn protocol_args(dir: &Path, digest_only: bool) -> Vec<String> {
    let corpus = fixtures().join("sigstore-conformance");
    let artifact = if dir.join("artifact").exists() { dir.join("artifact") } else { corpus.join("assets/a.txt") };
    let mut args =
        vec!["trust".into(), "verify-bundle".into(), "--bundle".into(), path(&dir.join("bundle.sigstore.json"))];
    if dir.join("key.pub").exists() {
        args.extend(["--key".into(), path(&dir.join("key.pub"))]);
    } else {
        let read = |f: &str, default: &str| {
            std::fs::read_to_string(dir.join(f)).map(|s| s.trim().to_string()).unwrap_or_else(|_| default.into())
        };
        args.extend([
            "--certificate-identity".into(),
            read("identity", DEFAULT_IDENTITY),
            "--certificate-oidc-issuer".into(),
            read("issuer", DEFAULT_ISSUER),
        ]);
    }
    if dir.join("trusted_root.json").exists() {
        args.extend(["--trusted-root".into(), path(&dir.join("trusted_root.json"))]);
    }
    args.push(if digest_only {
        format!("sha256:{}", tarn_trust::sha256_hex(&std::fs::read(&artifact).unwrap()))
    } else {
        path(&artifact)
    });
    args
}

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn conformance_protocol_agrees_on_every_case() {
    let base = fixtures().join("sigstore-conformance/assets/bundle-verify");
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(&base).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    assert_eq!(dirs.len(), CASES, "expected {CASES} case directories in {}", base.display());

    let mut agree = 0;
    let mut disagreements = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let must_fail = name.ends_with("_fail");
        let mut case_ok = true;
        for digest_only in [false, true] {
            let o = tarn().args(protocol_args(dir, digest_only)).output().unwrap();
            let code = o.status.code();
            let err = stderr(&o);
            let ok = if must_fail {
                // Failure: non-zero exit with a one-line reason.
                code.is_some_and(|c| c != 0) && err.trim().lines().count() == 1
            } else {
                code == Some(0)
            };
            if !ok {
                case_ok = false;
                disagreements.push(format!(
                    "{name} [{}]: exit {code:?}: {}",
                    if digest_only { "digest" } else { "file" },
                    err.trim()
                ));
            }
        }
        agree += usize::from(case_ok);
    }
    println!("sigstore conformance (tarn trust verify-bundle): {agree}/{CASES} agree");
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    assert_eq!(agree, CASES);
}

#[test]
fn exit_codes_and_usage() {
    let dir = fixtures().join("sigstore-conformance/assets/bundle-verify/happy-path-v0.3");
    let bundle = path(&dir.join("bundle.sigstore.json"));
    let a_txt = path(&fixtures().join("sigstore-conformance/assets/a.txt"));
    let run = |args: &[&str]| tarn().args(["trust", "verify-bundle"]).args(args).output().unwrap();

    let ok = run(&[
        "--bundle",
        &bundle,
        "--certificate-identity",
        DEFAULT_IDENTITY,
        "--certificate-oidc-issuer",
        DEFAULT_ISSUER,
        &a_txt,
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("verified: signed at 2024-03-19T17:26:26"));

    // A verification failure: exit 1, one line on stderr.
    let bad = run(&[
        "--bundle",
        &bundle,
        "--certificate-identity",
        "someone@example.com",
        "--certificate-oidc-issuer",
        DEFAULT_ISSUER,
        &a_txt,
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).starts_with("verification failed: certificate identity mismatch"), "{}", stderr(&bad));

    // Usage errors: neither or both policies, an issuer without identity, a bad digest.
    assert_eq!(run(&["--bundle", &bundle, &a_txt]).status.code(), Some(2));
    let key = path(&fixtures().join("sigstore-conformance/assets/bundle-verify/managed-key-happy-path/key.pub"));
    let both = run(&[
        "--bundle",
        &bundle,
        "--key",
        &key,
        "--certificate-identity",
        "x",
        "--certificate-oidc-issuer",
        "y",
        &a_txt,
    ]);
    assert_eq!(both.status.code(), Some(2));
    assert_eq!(run(&["--bundle", &bundle, "--certificate-oidc-issuer", "y", &a_txt]).status.code(), Some(2));
    let short = run(&["--bundle", &bundle, "--key", &key, "sha256:abcd"]);
    assert_eq!(short.status.code(), Some(2), "{}", stderr(&short));
    assert_eq!(run(&["--bundle", "/nonexistent.json", "--key", &key, &a_txt]).status.code(), Some(2));
}
