//! Unit tests of the certificate, SCT, timestamp and checkpoint checks on their own, with
//! material from the conformance fixtures (where the whole-bundle tests would stop earlier).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Duration;
use ed25519_dalek::Signer as _;

use super::bundle_json::Bundle;
use super::trusted_root::TransparencyLog;
use super::x509::{self, Cert};
use super::{SigstoreError, TimeRange, TrustedRoot, VerificationKey, checkpoint, oids, sct, time, tsa};

fn case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sigstore-conformance/assets/bundle-verify").join(name)
}

fn bundle(name: &str) -> Bundle {
    Bundle::parse(&std::fs::read(case(name).join("bundle.sigstore.json")).unwrap()).unwrap()
}

fn leaf_of(b: &Bundle) -> Cert {
    match &b.material {
        super::bundle_json::Material::Certificates(c) => Cert::from_der(&c[0]).unwrap(),
        _ => panic!("no certificate"),
    }
}

fn custom_root(name: &str) -> TrustedRoot {
    TrustedRoot::from_json(&std::fs::read(case(name).join("trusted_root.json")).unwrap()).unwrap()
}

#[test]
fn fulcio_chain_validity_and_identity() {
    let b = bundle("happy-path-v0.3");
    let leaf = leaf_of(&b);
    let root = TrustedRoot::production();
    let paths = x509::trusted_paths(&leaf, &root.certificate_authorities, oids::KP_CODE_SIGNING).unwrap();
    let signed = time::from_unix(b.tlog_entries[0].integrated_time.unwrap()).unwrap();
    x509::check_times(&leaf, &paths, &[signed, leaf.not_before, leaf.not_after], "leaf").unwrap();
    let late = x509::check_times(&leaf, &paths, &[leaf.not_after + Duration::seconds(1)], "leaf").unwrap_err();
    assert!(matches!(late, SigstoreError::ValidityWindow { .. }), "{late}");
    // The production CA is trusted from 2022-04-13 on: earlier the path is not valid even if
    // the leaf were.
    assert!(!paths.iter().any(|p| p.valid_at(&leaf, time::parse_rfc3339("2022-01-01T00:00:00Z").unwrap())));

    // Only a code-signing leaf is acceptable.
    let e = x509::trusted_paths(&leaf, &root.certificate_authorities, oids::KP_TIME_STAMPING).unwrap_err();
    assert!(matches!(e, SigstoreError::CertificateChain(_)), "{e}");
    // A different CA set (staging) did not issue it.
    let staging = custom_root("rekor2-happy-path");
    assert!(x509::trusted_paths(&leaf, &staging.certificate_authorities, oids::KP_CODE_SIGNING).is_err());
    // A flipped bit in the leaf's signature breaks the chain.
    let mut der = leaf.der().to_vec();
    let n = der.len();
    der[n - 3] ^= 1;
    let forged = Cert::from_der(&der).unwrap();
    assert!(x509::trusted_paths(&forged, &root.certificate_authorities, oids::KP_CODE_SIGNING).is_err());

    let ext = super::fulcio::FulcioExtensions::from_cert(&leaf);
    assert_eq!(
        ext.source_repository_uri.as_deref(),
        Some("https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon")
    );
    assert_eq!(ext.source_repository_ref.as_deref(), Some("refs/heads/main"));
    assert_eq!(
        ext.github_workflow_repository.as_deref(),
        Some("sigstore-conformance/extremely-dangerous-public-oidc-beacon")
    );
    assert_eq!(ext.runner_environment.as_deref(), Some("github-hosted"));
    assert_eq!(super::fulcio::oidc_issuer(&leaf).as_deref(), Some("https://token.actions.githubusercontent.com"));
}

#[test]
fn embedded_scts() {
    let leaf = leaf_of(&bundle("happy-path-v0.3"));
    let root = TrustedRoot::production();
    let paths = x509::trusted_paths(&leaf, &root.certificate_authorities, oids::KP_CODE_SIGNING).unwrap();
    let issuer = paths[0].issuer();
    assert_eq!(sct::verify_embedded(&leaf, issuer, &root).unwrap(), 1);
    // Wrong issuer key hash: the SCT signed a different precertificate.
    assert!(matches!(sct::verify_embedded(&leaf, &leaf, &root), Err(SigstoreError::Sct(_))));
    // Unknown CT log.
    let no_ct = TrustedRoot { ctlogs: vec![], ..root.clone() };
    assert!(matches!(sct::verify_embedded(&leaf, issuer, &no_ct), Err(SigstoreError::Sct(_))));
    // A flipped bit in the SCT signature (inside the certificate).
    let sct_ext = leaf.extension(&oids::CT_SCT_LIST).unwrap().to_vec();
    let pos = leaf.der().windows(sct_ext.len()).position(|w| w == sct_ext).unwrap() + sct_ext.len() - 2;
    let mut der = leaf.der().to_vec();
    der[pos] ^= 1;
    let tampered = Cert::from_der(&der).unwrap();
    assert!(matches!(sct::verify_embedded(&tampered, issuer, &root), Err(SigstoreError::Sct(_))));
    // The precertificate TBS is the TBS minus exactly the SCT extension.
    let pre = sct::precert_tbs(&leaf).unwrap();
    assert!(pre.len() < leaf.tbs().len() && pre.len() > leaf.tbs().len() - sct_ext.len() - 20);
}

#[test]
fn rfc3161_timestamps() {
    let b = bundle("rekor2-happy-path");
    let sig = match &b.content {
        super::bundle_json::Content::MessageSignature { signature, .. } => signature.clone(),
        _ => unreachable!(),
    };
    let root = custom_root("rekor2-happy-path");
    let t = tsa::verify(&b.timestamps[0], &sig, &root).unwrap();
    assert_eq!(t, time::parse_rfc3339("2025-06-12T12:02:20Z").unwrap());
    let e = tsa::verify(&b.timestamps[0], b"another signature", &root).unwrap_err();
    assert!(matches!(e, SigstoreError::Timestamp(_)), "{e}");
    let e = tsa::verify(&b.timestamps[0], &sig, &TrustedRoot::production()).unwrap_err();
    assert!(matches!(e, SigstoreError::UntrustedInstance { .. }), "{e}");
    let mut token = b.timestamps[0].clone();
    let n = token.len();
    token[n - 5] ^= 1; // inside the CMS signature
    assert!(matches!(tsa::verify(&token, &sig, &root), Err(SigstoreError::Timestamp(_))));
    let mut expired = root.clone();
    expired.timestamp_authorities[0].valid_for.end = Some(t - Duration::seconds(1));
    assert!(matches!(tsa::verify(&b.timestamps[0], &sig, &expired), Err(SigstoreError::ValidityWindow { .. })));
    expired.timestamp_authorities[0].valid_for.end = Some(t);
    tsa::verify(&b.timestamps[0], &sig, &expired).unwrap();
}

fn ed25519_log(name: &str, seed: u8) -> (ed25519_dalek::SigningKey, TransparencyLog) {
    let sk = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let mut spki = hex::decode("302a300506032b6570032100").unwrap();
    spki.extend_from_slice(sk.verifying_key().as_bytes());
    let log = TransparencyLog {
        base_url: format!("https://{name}"),
        key: Some(VerificationKey::from_spki_der(&spki).unwrap()),
        valid_for: TimeRange { start: chrono::DateTime::<chrono::Utc>::MIN_UTC, end: None },
        log_id: super::HashAlg::Sha256.digest(&spki),
    };
    (sk, log)
}

fn sig_line(name: &str, hint: &[u8], sk: &ed25519_dalek::SigningKey, text: &str) -> String {
    let mut raw = hint[..4].to_vec();
    raw.extend(sk.sign(text.as_bytes()).to_bytes());
    format!("\u{2014} {name} {}\n", STANDARD.encode(raw))
}

#[test]
fn checkpoint_signatures_and_cosignatures() {
    let (sk, log) = ed25519_log("log.example", 1);
    let (witness, _) = ed25519_log("witness.example", 2);
    let text = format!("log.example\n5\n{}\n", STANDARD.encode([7u8; 32]));
    let ours = sig_line("log.example", &log.log_id, &sk, &text);
    let theirs = sig_line("witness.example", b"wwww", &witness, &text);

    let cp = checkpoint::verify(&format!("{text}\n{ours}"), &log).unwrap();
    assert_eq!((cp.tree_size, cp.root_hash), (5, [7u8; 32]));
    // Witness cosignatures are ignored wherever they appear.
    checkpoint::verify(&format!("{text}\n{theirs}{ours}"), &log).unwrap();
    // A witness line alone is not enough.
    assert!(checkpoint::verify(&format!("{text}\n{theirs}"), &log).is_err());
    // The log's key under another name, or another key under the log's name, does not count.
    assert!(
        checkpoint::verify(&format!("{text}\n{}", sig_line("other.example", &log.log_id, &sk, &text)), &log).is_err()
    );
    assert!(
        checkpoint::verify(&format!("{text}\n{}", sig_line("log.example", &log.log_id, &witness, &text)), &log)
            .is_err()
    );
    // A signature for other text.
    let other = format!("log.example\n6\n{}\n", STANDARD.encode([7u8; 32]));
    assert!(checkpoint::verify(&format!("{other}\n{ours}"), &log).is_err());
    // An origin naming another log.
    let foreign = format!("other.example\n5\n{}\n", STANDARD.encode([7u8; 32]));
    assert!(
        checkpoint::verify(&format!("{foreign}\n{}", sig_line("log.example", &log.log_id, &sk, &foreign)), &log)
            .is_err()
    );
    // Rekor v1 origins carry the tree id.
    let v1 = format!("log.example - 123\n5\n{}\nTimestamp: 1\n", STANDARD.encode([7u8; 32]));
    checkpoint::verify(&format!("{v1}\n{}", sig_line("log.example", &log.log_id, &sk, &v1)), &log).unwrap();
}

#[test]
fn damaged_input_is_an_error_never_a_panic() {
    // Every single-byte change of a timestamp token is rejected or, where it hits bytes that
    // nothing signs (status, the unsigned digestAlgorithms set), still attests the same time.
    let b = bundle("rekor2-timestamp-without-embedded-cert");
    let sig = match &b.content {
        super::bundle_json::Content::MessageSignature { signature, .. } => signature.clone(),
        _ => unreachable!(),
    };
    let root = custom_root("rekor2-timestamp-without-embedded-cert");
    let good = tsa::verify(&b.timestamps[0], &sig, &root).unwrap();
    for i in (0..b.timestamps[0].len()).step_by(3) {
        let mut t = b.timestamps[0].clone();
        t[i] ^= 0x10;
        if let Ok(when) = tsa::verify(&t, &sig, &root) {
            assert_eq!(when, good, "byte {i}");
        }
    }
    // Truncated bundles never parse into something verifiable.
    let json = std::fs::read(case("happy-path-v0.3").join("bundle.sigstore.json")).unwrap();
    for n in (0..json.len()).step_by(101) {
        assert!(Bundle::parse(&json[..n]).is_err());
    }
    // Truncated certificates and DER never panic.
    let leaf = leaf_of(&bundle("happy-path-v0.3"));
    for n in (0..leaf.der().len()).step_by(37) {
        assert!(Cert::from_der(&leaf.der()[..n]).is_err());
    }
}
