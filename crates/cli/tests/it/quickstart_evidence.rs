//! The quickstart's image evidence (`fixtures/quickstart/evidence`) is generated from the demo
//! key and upstream provenance. This test regenerates it in memory and compares it with the
//! committed files; `TARN_REGENERATE_FIXTURES=1` writes them instead.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::json;
use tarn_trust::keys::SigningKeyPair;
use tarn_trust::statement::{Statement, Subject};

use crate::common::*;

/// Images the demo "release pipeline" signed: (reference, digest).
const SIGNED: [(&str, &str); 6] = [
    ("ghcr.io/acme/shop-frontend:2.14.1", "sha256:6d9a4638df78ae28b5b9a426f621aa4aa60da4eee267b2ae834d3b35cead1710"),
    ("ghcr.io/acme/shop-frontend:2.15.0", "sha256:4b1d0c6a9e2f3a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b"),
    ("ghcr.io/acme/cart:1.8.0", "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"),
    ("ghcr.io/acme/checkout:3.2.0", "sha256:376e7e01348585b6e6643bc6663146b9d525d9b41228bf180eaeb4d4a3706caa"),
    (
        "ghcr.io/acme/checkout-migrations:3.2.0",
        "sha256:eb9768083b2d76d5d8ecf0b2cb4bfb5b2a4a362ce6d4cb0b61290a92fc5ef898",
    ),
    ("ghcr.io/acme/reporter:0.9.3", "sha256:5da3530c6f68b42977c35ac3cfa3703b0d1758c6556fdb34ff658e47820aa102"),
];

/// Real slsa-github-generator provenance from slsa-verifier's test data, whose subject digests
/// the demo pins two images to: (digest, file under fixtures/slsa-verifier/…/testdata).
const UPSTREAM_PROVENANCE: [(&str, &str); 2] = [
    (
        "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
        "gha_delegator/v2.1.0/binary-linux-amd64-push-v14.2.build.slsa",
    ),
    (
        "sha256:376e7e01348585b6e6643bc6663146b9d525d9b41228bf180eaeb4d4a3706caa",
        "gha_generic/v2.1.0/binary-linux-amd64-push-v14.2.intoto.jsonl",
    ),
];

fn demo_key() -> SigningKeyPair {
    let pem = std::fs::read_to_string(fixtures().join("quickstart/demo-key/DEMO-ONLY-DO-NOT-USE.key")).unwrap();
    SigningKeyPair::from_pem(&pem, b"tarn-demo").unwrap()
}

/// `(path relative to the evidence directory, content)`.
fn generate() -> Vec<(PathBuf, Vec<u8>)> {
    let key = demo_key();
    let mut out = Vec::new();
    for (reference, digest) in SIGNED {
        let repo = reference.rsplit_once(':').unwrap().0;
        let payload = serde_json::to_vec(&json!({
            "critical": {"identity": {"docker-reference": repo}, "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature"},
            "optional": {"creator": "tarn quickstart demo release pipeline"}}))
        .unwrap();
        let line =
            json!({"Base64Signature": B64.encode(key.sign(&payload)), "Payload": B64.encode(&payload), "Cert": ""});
        let mut body = serde_json::to_vec(&line).unwrap();
        body.push(b'\n');
        out.push((PathBuf::from(digest.replace(':', "-")).join("signature.json"), body));
    }
    // The hardened frontend also carries provenance, signed by Acme's own CI key: verifiable
    // but not a hosted builder, so it reaches only SLSA level 1.
    let (_, digest) = SIGNED[1];
    let statement = Statement::new(
        vec![Subject::sha256("ghcr.io/acme/shop-frontend", &digest[7..])],
        "https://slsa.dev/provenance/v1",
        json!({"buildDefinition": {"buildType": "https://ci.acme.example/buildkite/v1",
            "externalParameters": {"source": "git+https://github.com/acme/shop-frontend@refs/tags/v2.15.0"}},
            "runDetails": {"builder": {"id": "https://ci.acme.example/buildkite/agent@v3"}}}),
    );
    let payload = serde_json::to_vec(&statement).unwrap();
    let sig = key.sign(&tarn_trust::dsse::pae("application/vnd.in-toto+json", &payload));
    let mut env =
        serde_json::to_vec(&json!({"payloadType": "application/vnd.in-toto+json", "payload": B64.encode(&payload),
        "signatures": [{"keyid": key.public().key_id(), "sig": B64.encode(sig)}]}))
        .unwrap();
    env.push(b'\n');
    out.push((PathBuf::from(digest.replace(':', "-")).join("provenance.intoto.jsonl"), env));
    let upstream = fixtures().join("slsa-verifier/cli/slsa-verifier/testdata");
    for (digest, file) in UPSTREAM_PROVENANCE {
        let name = Path::new(file).file_name().unwrap();
        out.push((PathBuf::from(digest.replace(':', "-")).join(name), std::fs::read(upstream.join(file)).unwrap()));
    }
    out
}

#[test]
fn quickstart_evidence_is_current() {
    let root = fixtures().join("quickstart/evidence");
    let files = generate();
    if std::env::var("TARN_REGENERATE_FIXTURES").is_ok() {
        let _ = std::fs::remove_dir_all(&root);
        for (rel, body) in &files {
            std::fs::create_dir_all(root.join(rel).parent().unwrap()).unwrap();
            std::fs::write(root.join(rel), body).unwrap();
        }
    }
    let mut committed = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        for f in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            committed.push(f.unwrap().path().strip_prefix(&root).unwrap().to_path_buf());
        }
    }
    committed.sort();
    let mut expected: Vec<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
    expected.sort();
    assert_eq!(committed, expected, "run with TARN_REGENERATE_FIXTURES=1 to regenerate");
    for (rel, body) in files {
        assert_eq!(std::fs::read(root.join(&rel)).unwrap(), body, "{} is stale", rel.display());
    }
}
