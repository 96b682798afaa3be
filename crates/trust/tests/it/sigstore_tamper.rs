//! Tampering with valid conformance bundles, one field at a time: each change must be caught by
//! the check responsible for it (the class of the error says which check fired).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use tarn_trust::sigstore::{Artifact, TrustedRoot, VerificationKey, VerificationPolicy, verify};

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sigstore-conformance/assets/bundle-verify").join(name)
}

struct Case {
    bundle: Value,
    artifact: Vec<u8>,
    policy: VerificationPolicy,
    root: TrustedRoot,
}

fn load(name: &str) -> Case {
    let dir = case(name);
    let bundle = serde_json::from_slice(&std::fs::read(dir.join("bundle.sigstore.json")).unwrap()).unwrap();
    let artifact = std::fs::read(dir.join("artifact")).or_else(|_| std::fs::read(dir.join("../../a.txt"))).unwrap();
    let policy = match std::fs::read_to_string(dir.join("key.pub")) {
        Ok(pem) => VerificationPolicy::Key(VerificationKey::from_pem(&pem).unwrap()),
        Err(_) => VerificationPolicy::Identity { identity: IDENTITY.into(), issuer: ISSUER.into() },
    };
    let root = std::fs::read(dir.join("trusted_root.json"))
        .map(|j| TrustedRoot::from_json(&j).unwrap())
        .unwrap_or_else(|_| TrustedRoot::production());
    Case { bundle, artifact, policy, root }
}

fn run(c: &Case, bundle: &Value) -> Result<(), &'static str> {
    let json = serde_json::to_vec(bundle).unwrap();
    verify(&json, Artifact::Bytes(&c.artifact), &c.policy, &c.root).map(|_| ()).map_err(|e| e.class())
}

fn at<'v>(v: &'v mut Value, path: &str) -> &'v mut Value {
    path.split('/').fold(v, |v, k| match k.parse::<usize>() {
        Ok(i) => &mut v[i],
        Err(_) => &mut v[k],
    })
}

/// Flips one bit of the base64 bytes at `path`, `from_end` bytes before the end.
fn flip(v: &mut Value, path: &str, from_end: usize) {
    let field = at(v, path);
    let mut bytes = STANDARD.decode(field.as_str().unwrap().replace('\n', "")).unwrap();
    let i = bytes.len() - 1 - from_end;
    bytes[i] ^= 0x01;
    *field = Value::String(STANDARD.encode(bytes));
}

/// Applies `edit` to a copy of the case's bundle and checks the error class.
fn expect(c: &Case, what: &str, class: &str, edit: impl FnOnce(&mut Value)) {
    let mut b = c.bundle.clone();
    edit(&mut b);
    assert_eq!(run(c, &b), Err(class), "{what}");
}

fn edit_body(v: &mut Value, edit: impl FnOnce(&mut Value)) {
    let field = at(v, "verificationMaterial/tlogEntries/0/canonicalizedBody");
    let mut body: Value = serde_json::from_slice(&STANDARD.decode(field.as_str().unwrap()).unwrap()).unwrap();
    edit(&mut body);
    *field = Value::String(STANDARD.encode(serde_json::to_vec(&body).unwrap()));
}

#[test]
fn rekor_v1_message_signature() {
    let c = load("happy-path-v0.3");
    run(&c, &c.bundle).unwrap();
    let e = "verificationMaterial/tlogEntries/0";
    expect(&c, "SET bit", "SignedEntryTimestamp", |b| {
        flip(b, &format!("{e}/inclusionPromise/signedEntryTimestamp"), 3)
    });
    expect(&c, "integrated time", "SignedEntryTimestamp", |b| {
        *at(b, &format!("{e}/integratedTime")) = "1710869187".into()
    });
    expect(&c, "log index", "SignedEntryTimestamp", |b| *at(b, &format!("{e}/logIndex")) = "79571824".into());
    expect(&c, "proof hash", "InclusionProof", |b| flip(b, &format!("{e}/inclusionProof/hashes/4"), 0));
    expect(&c, "proof index", "InclusionProof", |b| {
        *at(b, &format!("{e}/inclusionProof/logIndex")) = "75408391".into()
    });
    expect(&c, "checkpoint signature", "Checkpoint", |b| {
        let cp = at(b, &format!("{e}/inclusionProof/checkpoint/envelope"));
        *cp = cp.as_str().unwrap().replace("wNI9ajBFAiBTyiBM", "wNI9ajBFAiBTyiBN").into();
    });
    expect(&c, "checkpoint dropped", "Checkpoint", |b| {
        at(b, &format!("{e}/inclusionProof")).as_object_mut().unwrap().remove("checkpoint");
    });
    expect(&c, "log id", "UntrustedInstance", |b| flip(b, &format!("{e}/logId/keyId"), 0));
    // A changed body that still describes the bundle must fail the SET and the proof.
    expect(&c, "re-serialized body", "SignedEntryTimestamp", |b| edit_body(b, |body| body["extra"] = 1.into()));
    expect(&c, "body digest", "TlogEntryMismatch", |b| {
        edit_body(b, |body| body["spec"]["data"]["hash"]["value"] = "00".repeat(32).into())
    });
    expect(&c, "kind", "TlogEntryMismatch", |b| *at(b, &format!("{e}/kindVersion/kind")) = "dsse".into());
    expect(&c, "artifact signature", "BadSignature", |b| flip(b, "messageSignature/signature", 10));
    // The log entry records the certificate, so a changed certificate is caught there first
    // (chain and SCT checks on their own are unit-tested in `sigstore::tests`).
    expect(&c, "certificate", "TlogEntryMismatch", |b| flip(b, "verificationMaterial/certificate/rawBytes", 5));
    expect(&c, "no log entry", "MalformedBundle", |b| {
        *at(b, "verificationMaterial/tlogEntries") = Value::Array(vec![])
    });
    let other = VerificationPolicy::Identity { identity: IDENTITY.replace("main", "dev"), issuer: ISSUER.into() };
    let json = serde_json::to_vec(&c.bundle).unwrap();
    let e = verify(&json, Artifact::Bytes(&c.artifact), &other, &c.root).unwrap_err();
    assert_eq!(e.class(), "IdentityMismatch");
    let other =
        VerificationPolicy::Identity { identity: IDENTITY.into(), issuer: "https://accounts.google.com".into() };
    assert_eq!(verify(&json, Artifact::Bytes(&c.artifact), &other, &c.root).unwrap_err().class(), "IdentityMismatch");
    let re = VerificationPolicy::identity_regex(
        "^https://github\\.com/sigstore-conformance/",
        "^https://token\\.actions\\.",
    )
    .unwrap();
    verify(&json, Artifact::Bytes(&c.artifact), &re, &c.root).unwrap();
    assert_eq!(verify(&json, Artifact::Bytes(b"other"), &re, &c.root).unwrap_err().class(), "ArtifactMismatch");
}

#[test]
fn rekor_v2_with_timestamp() {
    let c = load("rekor2-happy-path");
    run(&c, &c.bundle).unwrap();
    let ts = "verificationMaterial/timestampVerificationData/rfc3161Timestamps/0/signedTimestamp";
    expect(&c, "TSA signature", "Timestamp", |b| flip(b, ts, 3));
    expect(&c, "no timestamp", "Timestamp", |b| {
        at(b, "verificationMaterial").as_object_mut().unwrap().remove("timestampVerificationData");
    });
    let e = "verificationMaterial/tlogEntries/0";
    expect(&c, "checkpoint size", "Checkpoint", |b| {
        let cp = at(b, &format!("{e}/inclusionProof/checkpoint/envelope"));
        *cp = cp.as_str().unwrap().replacen("\n736\n", "\n737\n", 1).into();
    });
    expect(&c, "proof root", "InclusionProof", |b| flip(b, &format!("{e}/inclusionProof/rootHash"), 0));
    expect(&c, "checkpoint from another key", "Checkpoint", |b| {
        let cp = at(b, &format!("{e}/inclusionProof/checkpoint/envelope"));
        *cp = cp
            .as_str()
            .unwrap()
            .replace(
                "\u{2014} log2025-alpha1.rekor.sigstage.dev 8w1am",
                "\u{2014} log2025-alpha1.rekor.sigstage.dev 8w1an",
            )
            .into();
    });
}

#[test]
fn managed_key() {
    let c = load("managed-key-happy-path");
    run(&c, &c.bundle).unwrap();
    let other = tarn_trust::keys::SigningKeyPair::generate().public().to_pem();
    let p = VerificationPolicy::Key(VerificationKey::from_pem(&other).unwrap());
    let json = serde_json::to_vec(&c.bundle).unwrap();
    assert_eq!(verify(&json, Artifact::Bytes(&c.artifact), &p, &c.root).unwrap_err().class(), "BadSignature");
    let idp = VerificationPolicy::Identity { identity: IDENTITY.into(), issuer: ISSUER.into() };
    assert_eq!(verify(&json, Artifact::Bytes(&c.artifact), &idp, &c.root).unwrap_err().class(), "PolicyMismatch");
}

#[test]
fn dsse_and_intoto() {
    for name in ["happy-path-intoto-in-dsse-v3", "intoto-with-custom-trust-root", "rekor2-dsse-happy-path"] {
        let c = load(name);
        run(&c, &c.bundle).unwrap();
        expect(&c, name, "BadSignature", |b| flip(b, "dsseEnvelope/signatures/0/sig", 10));
        expect(&c, name, "BadSignature", |b| *at(b, "dsseEnvelope/payloadType") = "text/plain".into());
        let mut wrong = c.artifact.clone();
        wrong.push(b'\n');
        let json = serde_json::to_vec(&c.bundle).unwrap();
        let e = verify(&json, Artifact::Bytes(&wrong), &c.policy, &c.root).unwrap_err();
        assert_eq!(e.class(), "ArtifactMismatch", "{name}");
    }
}
