//! The sigstore-conformance bundle-verify corpus (fixtures/sigstore-conformance): every case,
//! with the artifact as a file and as a `sha256:` digest. A case whose name ends in `_fail` must
//! fail; every other case must verify.

use std::path::{Path, PathBuf};

use sha2::Digest as _;
use tarn_trust::sigstore::{
    Artifact, Signer, SigstoreError, TrustedRoot, VerificationKey, VerificationPolicy, VerifiedBundle, verify,
};

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";
const CASES: usize = 70;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sigstore-conformance")
}

fn read_trimmed(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}

/// Runs one case with the conformance client's inputs; setup errors (a key that does not
/// parse, a trusted root that does not load) count as a failed verification, as in a client.
fn run_case(dir: &Path, digest_only: bool) -> Result<VerifiedBundle, SigstoreError> {
    let bundle = std::fs::read(dir.join("bundle.sigstore.json")).expect("bundle file");
    let artifact_path =
        if dir.join("artifact").exists() { dir.join("artifact") } else { corpus().join("assets/a.txt") };
    let artifact = std::fs::read(artifact_path).expect("artifact file");
    let policy = match std::fs::read_to_string(dir.join("key.pub")) {
        Ok(pem) => VerificationPolicy::Key(VerificationKey::from_pem(&pem)?),
        Err(_) => VerificationPolicy::Identity {
            identity: read_trimmed(&dir.join("identity")).unwrap_or_else(|| DEFAULT_IDENTITY.into()),
            issuer: read_trimmed(&dir.join("issuer")).unwrap_or_else(|| DEFAULT_ISSUER.into()),
        },
    };
    let root = match std::fs::read(dir.join("trusted_root.json")) {
        Ok(json) => TrustedRoot::from_json(&json)?,
        Err(_) => TrustedRoot::production(),
    };
    let artifact =
        if digest_only { Artifact::Sha256(sha2::Sha256::digest(&artifact).into()) } else { Artifact::Bytes(&artifact) };
    verify(&bundle, artifact, &policy, &root)
}

fn describe(s: &Signer) -> String {
    match s {
        Signer::Key { key_id } => format!("key {}", &key_id[..16]),
        Signer::Certificate { identity, issuer, .. } => format!("{identity} ({issuer})"),
    }
}

#[test]
fn sigstore_conformance_bundle_verify() {
    let base = corpus().join("assets/bundle-verify");
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(&base).expect("corpus directory").map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    assert_eq!(dirs.len(), CASES, "expected {CASES} case directories in {}", base.display());

    let mut agree = 0;
    let mut disagreements = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let must_fail = name.ends_with("_fail");
        let mut case_ok = true;
        for digest_only in [false, true] {
            let variant = if digest_only { "digest" } else { "file" };
            match (run_case(dir, digest_only), must_fail) {
                (Ok(v), false) => {
                    if !digest_only {
                        println!("{name}: verified, signed at {} by {}", v.signed_at, describe(&v.signer));
                    }
                }
                (Err(e), true) => {
                    if !digest_only {
                        println!("{name}: rejected ({}): {e}", e.class());
                    }
                }
                (Ok(_), true) => {
                    case_ok = false;
                    disagreements.push(format!("{name} [{variant}]: verified, but must fail"));
                }
                (Err(e), false) => {
                    case_ok = false;
                    disagreements.push(format!("{name} [{variant}]: rejected ({}), but must verify: {e}", e.class()));
                }
            }
        }
        agree += usize::from(case_ok);
    }
    println!("sigstore conformance: {agree}/{CASES} agree");
    assert!(disagreements.is_empty(), "{} disagreement(s):\n{}", disagreements.len(), disagreements.join("\n"));
    assert_eq!(agree, CASES);
}
