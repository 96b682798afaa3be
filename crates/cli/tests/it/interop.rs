//! Independent verifiers accept Tarn's bundles: sigstore-js and OpenSSL.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::common::*;

/// Exports a snapshot's bundle and object from the quickstart lake.
fn export(dir: &Path) -> (PathBuf, PathBuf) {
    let lake = quickstart_lake().to_str().unwrap();
    let id =
        query_scalar(lake, "select snapshot_id from snapshots where cluster = 'prod-eu-1' order by seq desc limit 1");
    let (bundle, object) = (dir.join("bundle.json"), dir.join("object.parquet"));
    ok(&run(&[
        "evidence",
        "bundle",
        "--lake",
        lake,
        "--snapshot",
        &id,
        "--out",
        bundle.to_str().unwrap(),
        "--object-out",
        object.to_str().unwrap(),
    ]));
    (bundle, object)
}

#[test]
fn sigstore_js_verifies_snapshot_bundles() {
    let interop = repo_root().join("crates/cli/tests/interop");
    let installed = interop.join("node_modules/@sigstore/verify").exists()
        && Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if !require_or_skip(installed, "node with @sigstore/verify (npm ci in crates/cli/tests/interop)") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (bundle, object) = export(dir.path());
    let verify = |b: &Path, o: &Path| {
        Command::new("node").arg(interop.join("verify-bundle.mjs")).arg(b).arg(demo_pub()).arg(o).output().unwrap()
    };
    let good = verify(&bundle, &object);
    assert!(stdout(&good).starts_with("verified:"), "{}{}", stdout(&good), stderr(&good));
    assert!(good.status.success());

    // A changed object byte or a changed signature is rejected by sigstore-js too.
    let bad_object = dir.path().join("bad.parquet");
    let mut bytes = std::fs::read(&object).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(&bad_object, bytes).unwrap();
    assert!(!verify(&bundle, &bad_object).status.success());

    let mut b: serde_json::Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    let payload = STANDARD.decode(b["dsseEnvelope"]["payload"].as_str().unwrap()).unwrap();
    let mut st: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    st["predicate"]["snapshot"]["row_count"] = 1.into();
    b["dsseEnvelope"]["payload"] = STANDARD.encode(serde_json::to_vec(&st).unwrap()).into();
    let forged = dir.path().join("forged.json");
    std::fs::write(&forged, serde_json::to_vec(&b).unwrap()).unwrap();
    assert!(!verify(&forged, &object).status.success());
}

#[test]
fn openssl_verifies_the_dsse_signature() {
    let have = Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success());
    if !require_or_skip(have, "openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (bundle, object) = export(dir.path());
    let b: serde_json::Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    let env = &b["dsseEnvelope"];
    let payload_type = env["payloadType"].as_str().unwrap();
    let payload = STANDARD.decode(env["payload"].as_str().unwrap()).unwrap();
    // DSSE pre-authentication encoding, written out here from the spec rather than Tarn's code.
    let mut pae = format!("DSSEv1 {} {} {} ", payload_type.len(), payload_type, payload.len()).into_bytes();
    pae.extend_from_slice(&payload);
    std::fs::write(dir.path().join("pae.bin"), &pae).unwrap();
    std::fs::write(dir.path().join("sig.der"), STANDARD.decode(env["signatures"][0]["sig"].as_str().unwrap()).unwrap())
        .unwrap();
    let o = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(demo_pub())
        .arg("-signature")
        .arg(dir.path().join("sig.der"))
        .arg(dir.path().join("pae.bin"))
        .output()
        .unwrap();
    assert!(stdout(&o).contains("Verified OK"), "{}{}", stdout(&o), stderr(&o));

    let digest = Command::new("openssl").args(["dgst", "-sha256", "-r"]).arg(&object).output().unwrap();
    let hex = stdout(&digest).split_whitespace().next().unwrap().to_string();
    let statement: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(statement["subject"][0]["digest"]["sha256"], hex.as_str());
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
}
