//! Unit tests: version and ref rules, error mapping, and grading real provenance from the
//! slsa-verifier corpus (`fixtures/slsa-verifier`).

use std::path::PathBuf;
use std::sync::LazyLock;

use tarn_model::Status;
use tarn_trust::sigstore::{SigstoreError, TrustedRoot};

use super::refs::{GoSemver, is_valid_builder_tag};
use super::*;
use crate::inventory::read_sources;

static ROOT: LazyLock<TrustedRoot> = LazyLock::new(TrustedRoot::production);

fn testdata(rel: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/slsa-verifier/cli/slsa-verifier/testdata")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn doc(rel: &str) -> ProvenanceDocument {
    ProvenanceDocument { source: rel.to_string(), bytes: testdata(rel), kind: ProvenanceKind::Detect }
}

const GENERIC_V14: &str = "gha_generic/v2.1.0/binary-linux-amd64-push-v14.intoto.jsonl";
const GENERIC_DIGEST: &str = "sha256:376e7e01348585b6e6643bc6663146b9d525d9b41228bf180eaeb4d4a3706caa";
const GCB_JSON: &str = "gcb_container/v0.3/gcloud-container-github.json";
const GCB_DIGEST: &str = "sha256:f472ca4b68898c951ac3b476cba919d0d56fca4ced631fabcead51e4b2b690e7";

#[test]
fn go_semver() {
    for (v, canonical) in [
        ("v1", Some("v1.0.0")),
        ("v1.2", Some("v1.2.0")),
        ("v1.2.3", Some("v1.2.3")),
        ("v1.2.3-rc.1+build.5", Some("v1.2.3-rc.1")),
        ("v1.2-rc.1", None),
        ("1.2.3", None),
        ("v01.2.3", None),
        ("v1.2.3-01", None),
        ("v1.2.3.4", None),
        ("v", None),
    ] {
        assert_eq!(GoSemver::parse(v).map(|s| s.canonical()).as_deref(), canonical, "{v}");
    }
}

#[test]
fn versioned_tags() {
    for (tag, want, ok) in [
        ("v13.0.30", "v13", true),
        ("v13.0.30", "v13.0", true),
        ("v13.0.30", "v13.0.30", true),
        ("v13.0.30", "v13.1", false),
        ("v14", "v14.0", true),
        ("v14", "v14.0.0", true),
        ("v14.2", "v14.2.1", false),
        ("v1.2.3+meta", "v1.2.3", true),
    ] {
        assert_eq!(verify_versioned_tag(tag, want).is_ok(), ok, "{tag} {want}");
    }
    assert_eq!(verify_versioned_tag("v1.0.0", "1").unwrap_err().kind, ErrorKind::InvalidSemver);
    assert_eq!(verify_versioned_tag("main", "v1").unwrap_err().kind, ErrorKind::InvalidSemver);
}

#[test]
fn builder_tags_and_ids() {
    assert!(is_valid_builder_tag("refs/tags/v1.2.3", false).is_ok());
    assert!(is_valid_builder_tag("refs/tags/v1.2", false).is_err());
    assert!(is_valid_builder_tag("refs/tags/v1.2.3-rc.1", false).is_err());
    assert!(is_valid_builder_tag("refs/tags/v1.2.3-rc.1", true).is_ok());
    assert!(is_valid_builder_tag("refs/heads/main", true).is_err());
    let id = BuilderId::parse("https://b/w.yml@refs/tags/v1.2.3", true).unwrap();
    assert!(id.matches_loose("https://b/w.yml", true).is_ok());
    assert!(id.matches_loose("https://b/w.yml@v1.2.3", true).is_ok());
    assert!(id.matches_loose("https://b/w.yml@v1.2.3", false).is_err());
    assert!(id.matches_full("https://b/w.yml", true).is_err());
    assert_eq!(BuilderId::parse("a@", false).unwrap_err().kind, ErrorKind::InvalidFormat);
    assert_eq!(BuilderId::parse("a", true).unwrap_err().kind, ErrorKind::InvalidFormat);
}

#[test]
fn sigstore_failures_map_to_upstream_names() {
    let cases = [
        (SigstoreError::BadSignature("x".into()), "ErrorInvalidSignature"),
        (SigstoreError::TlogEntryMismatch { log_index: 1, reason: "x".into() }, "ErrorMismatchSignature"),
        (SigstoreError::SignedEntryTimestamp { log_index: 1, reason: "x".into() }, "ErrorInvalidRekorEntry"),
        (SigstoreError::MalformedBundle("signedEntryTimestamp: invalid base64".into()), "ErrorInvalidRekorEntry"),
        (SigstoreError::MalformedBundle("verificationMaterial: missing".into()), "ErrorInvalidFormat"),
        (SigstoreError::CertificateChain("x".into()), "ErrorInvalidCertificate"),
    ];
    for (e, name) in cases {
        assert_eq!(VerifyError::from(e).name(), name);
    }
}

#[test]
fn kinds_are_detected() {
    assert_eq!(ProvenanceKind::detect(&testdata(GENERIC_V14)), ProvenanceKind::SigstoreBundle);
    assert_eq!(ProvenanceKind::detect(&testdata("annotated-tag.intoto.jsonl")), ProvenanceKind::DsseEnvelope);
    assert_eq!(ProvenanceKind::detect(&testdata(GCB_JSON)), ProvenanceKind::GcloudProvenance);
    assert_eq!(
        ProvenanceKind::detect(&testdata("npm/gha/gundam-visor-cli-v1-tag.tgz.json")),
        ProvenanceKind::NpmAttestations
    );
}

#[test]
fn levels_of_real_provenance() {
    let p = SlsaPolicy::default();
    let a = assess_document(&doc(GENERIC_V14), GENERIC_DIGEST, &p, &ROOT);
    assert_eq!((a.level, a.subject_matches), (3, true), "{}", a.level_reason);
    assert!(a.authenticity.is_verified());
    assert_eq!(a.repository.as_deref(), Some("github.com/slsa-framework/example-package"));
    assert_eq!(a.git_ref.as_deref(), Some("refs/tags/v14"));

    let delegator = "gha_delegator/v2.1.0/binary-linux-amd64-push-v14.build.slsa";
    let d = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(testdata(
            "gha_delegator/v2.1.0/binary-linux-amd64-push-v14"
        )))
    );
    let a = assess_document(&doc(delegator), &d, &p, &ROOT);
    assert_eq!(a.level, 3, "{}", a.level_reason);
    assert!(a.builder_id.as_deref().unwrap().contains("example-trw"), "BYOB reports the delegated builder");

    let a = assess_document(&doc(GCB_JSON), GCB_DIGEST, &p, &ROOT);
    assert_eq!(a.level, 3, "{}", a.level_reason);

    // A certificate but no transparency-log entry: authentic signer, unproven signing time.
    let a = assess_document(
        &doc("annotated-tag.intoto.jsonl"),
        "sha256:482ce8c8f7e867da3a3c05a9aee637703e17470ed1cf882a9e5b405e8f82619d",
        &p,
        &ROOT,
    );
    assert!(matches!(a.authenticity, Authenticity::CertificateOnly { .. }), "{:?}", a.authenticity);
    assert_eq!(a.level, 1, "{}", a.level_reason);

    // A plain workflow signing its own provenance is hosted, not isolated.
    let bcr = "sha256:06ce330900a7d6403bc8d88e5dfad6aeeb8ae40179f66bb89e69c8bf6f6b1a0b";
    let a = assess_document(&doc("bcr/MODULE.bazel.intoto.jsonl"), bcr, &p, &ROOT);
    assert_eq!(a.level, 2, "{}", a.level_reason);

    // Provenance for another artifact proves nothing about this one.
    let a = assess_document(&doc(GENERIC_V14), GCB_DIGEST, &p, &ROOT);
    assert_eq!((a.level, a.subject_matches), (0, false));
}

#[test]
fn tampered_provenance_is_level_one() {
    let p = SlsaPolicy::default();
    let mut bad = doc(GCB_JSON);
    // Flip the signed payload's first byte of base64 data (`eyJ` → `fyJ`).
    let text = String::from_utf8(bad.bytes.clone()).unwrap().replacen("\"payload\": \"eyJ", "\"payload\": \"fyJ", 1);
    assert_ne!(text.as_bytes(), bad.bytes.as_slice());
    bad.bytes = text.into_bytes();
    let a = assess_document(&bad, GCB_DIGEST, &p, &ROOT);
    assert!(matches!(a.authenticity, Authenticity::Invalid(_)), "{:?}", a.authenticity);
    assert!(a.level <= 1);
}

fn pod(image: &str) -> crate::inventory::Inventory {
    let y = format!(
        "kind: Pod\nmetadata: {{name: p, namespace: ns}}\nspec:\n  containers: [{{name: app, image: \"{image}\"}}]\n"
    );
    read_sources([("p.yaml", y.as_bytes())])
}

fn statuses(rows: &[tarn_model::EvaluationRow]) -> Vec<(&str, Status)> {
    rows.iter().map(|r| (r.control_id.as_str(), r.status)).collect()
}

#[test]
fn evaluation_rows() {
    let inv = pod(&format!("ghcr.io/o/app@{GCB_DIGEST}"));
    let mut ev = MemoryProvenance::new();
    ev.insert(GCB_DIGEST, doc(GCB_JSON));
    let rows = evaluate_slsa(&SlsaPolicy::default(), &inv, &ev, &ROOT);
    assert_eq!(rows.len(), CONTROLS.len());
    assert!(
        rows.iter().all(|r| r.framework == "slsa" && r.framework_version == "v1.0" && r.image_digest == GCB_DIGEST)
    );
    assert!(rows.iter().all(|r| r.status == Status::Pass), "{:#?}", rows);
    let level = rows.iter().find(|r| r.control_id == "build-level").unwrap();
    assert!(level.message.starts_with("achieved SLSA build level 3"), "{}", level.message);

    // A source policy the build does not meet.
    let strict = SlsaPolicy { source_repositories: vec!["github.com/acme/*".into()], ..SlsaPolicy::default() };
    let rows = evaluate_slsa(&strict, &inv, &ev, &ROOT);
    assert!(statuses(&rows).contains(&("source-trusted", Status::Fail)));

    // No provenance at all: L0, which fails any minimum above 0.
    let rows = evaluate_slsa(&SlsaPolicy::default(), &inv, &MemoryProvenance::new(), &ROOT);
    assert_eq!(
        statuses(&rows),
        vec![
            ("provenance-exists", Status::Fail),
            ("provenance-authentic", Status::Skip),
            ("subject-matches", Status::Skip),
            ("builder-trusted", Status::Skip),
            ("source-trusted", Status::Skip),
            ("build-level", Status::Fail),
        ]
    );
    let lenient = SlsaPolicy { min_level: 0, ..SlsaPolicy::default() };
    let rows = evaluate_slsa(&lenient, &inv, &MemoryProvenance::new(), &ROOT);
    assert!(statuses(&rows).contains(&("build-level", Status::Pass)));

    // An image pinned only by tag has no digest to look provenance up by.
    let rows = evaluate_slsa(&SlsaPolicy::default(), &pod("ghcr.io/o/app:1.0"), &ev, &ROOT);
    assert!(rows[0].message.contains("digest unknown"), "{}", rows[0].message);
}

#[test]
fn certificate_only_provenance_warns() {
    let d = "sha256:482ce8c8f7e867da3a3c05a9aee637703e17470ed1cf882a9e5b405e8f82619d";
    let inv = pod(&format!("ghcr.io/o/app@{d}"));
    let mut ev = MemoryProvenance::new();
    ev.insert(d, doc("annotated-tag.intoto.jsonl"));
    let rows = evaluate_slsa(&SlsaPolicy::default(), &inv, &ev, &ROOT);
    let s = statuses(&rows);
    assert!(s.contains(&("provenance-authentic", Status::Warn)), "{s:?}");
    assert!(s.contains(&("builder-trusted", Status::Fail)), "an unauthenticated claim is not trusted: {s:?}");
    assert!(s.contains(&("build-level", Status::Fail)));
}

#[test]
fn tampered_envelopes_fail_signature_checks() {
    let opts = ProvenanceOptions {
        source: "github.com/asraa/slsa-on-github-test".into(),
        digest: "482ce8c8f7e867da3a3c05a9aee637703e17470ed1cf882a9e5b405e8f82619d".into(),
        ..Default::default()
    };
    let builder = BuilderOptions::default();
    let raw = testdata("annotated-tag.intoto.jsonl");
    assert!(verify_artifact(&raw, &opts, &builder, &ROOT).is_ok());
    // Re-encode the payload with one claim changed: the certificate's key no longer signs it.
    let mut env: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let payload = super::crypto::decode_b64(env["payload"].as_str().unwrap()).unwrap();
    let forged = String::from_utf8(payload).unwrap().replace("asraa/slsa-on-github-test", "evil/slsa-on-github-test");
    use base64::Engine as _;
    env["payload"] = base64::engine::general_purpose::STANDARD.encode(forged).into();
    let e = verify_artifact(&serde_json::to_vec(&env).unwrap(), &opts, &builder, &ROOT).unwrap_err();
    assert_eq!(e.name(), "ErrorInvalidSignature", "{e}");

    // The same for a Sigstore bundle.
    let bundle = testdata(GENERIC_V14);
    let mut b: serde_json::Value = serde_json::from_slice(&bundle).unwrap();
    let p = super::crypto::decode_b64(b["dsseEnvelope"]["payload"].as_str().unwrap()).unwrap();
    let forged = String::from_utf8(p).unwrap().replace("refs/tags/v14", "refs/tags/v15");
    b["dsseEnvelope"]["payload"] = base64::engine::general_purpose::STANDARD.encode(forged).into();
    let e = verify_bundle(&serde_json::to_vec(&b).unwrap(), &ROOT).unwrap_err();
    assert_eq!(e.name(), "ErrorInvalidSignature", "{e}");
}
