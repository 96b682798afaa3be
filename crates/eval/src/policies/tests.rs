use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::json;
use tarn_trust::keys::SigningKeyPair;

use super::*;
use crate::inventory::read_sources;

/// Real slsa-github-generator provenance (v0.2, Sigstore bundle v0.3) whose subject is this digest.
const BUILT: &str = "sha256:376e7e01348585b6e6643bc6663146b9d525d9b41228bf180eaeb4d4a3706caa";
const UNSIGNED: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn manifest() -> String {
    [
        "apiVersion: apps/v1",
        "kind: Deployment",
        "metadata: {name: api, namespace: prod}",
        "spec:",
        "  template:",
        "    spec:",
        "      containers:",
        &format!("      - {{name: built, image: 'ghcr.io/acme/api@{BUILT}'}}"),
        &format!("      - {{name: unsigned, image: 'ghcr.io/acme/tool@{UNSIGNED}'}}"),
        "      - {name: floating, image: 'docker.io/library/redis:latest'}",
    ]
    .join("\n")
}

fn cosign_sig(k: &SigningKeyPair, digest: &str) -> Vec<u8> {
    let payload = serde_json::to_vec(&json!({"critical": {"identity": {"docker-reference": "ghcr.io/acme/api"},
        "image": {"docker-manifest-digest": digest}, "type": "cosign container image signature"}}))
    .unwrap();
    serde_json::to_vec(&json!({"Base64Signature": B64.encode(k.sign(&payload)), "Payload": B64.encode(&payload)}))
        .unwrap()
}

fn files(key: &SigningKeyPair) -> Vec<(String, Vec<u8>)> {
    let pem = key.public().to_pem().lines().map(|l| format!("        {l}")).collect::<Vec<_>>().join("\n");
    let cip = format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: acme-signed}}\nspec:\n  images:\n  - glob: ghcr.io/acme/**\n  authorities:\n  - key:\n      data: |\n{pem}\n"
    );
    let no_match = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config-policy-controller, namespace: cosign-system}\ndata: {no-match-policy: allow}\n";
    let rego = "package tarn.custom.no_latest\n\nimport rego.v1\n\nmetadata := {\"id\": \"no-latest\", \"severity\": \"low\"}\n\ndeny contains msg if {\n  some c in input.containers\n  endswith(c.image, \":latest\")\n  msg := sprintf(\"container %s uses a :latest image\", [c.name])\n}\n";
    let slsa = "apiVersion: tarn.dev/v1alpha1\nkind: SlsaPolicy\nmetadata: {name: demo}\nspec:\n  minLevel: 3\n  sourceRepositories: ['github.com/slsa-framework/*']\n";
    vec![
        ("cip.yaml".into(), cip.into_bytes()),
        ("config.yaml".into(), no_match.as_bytes().to_vec()),
        ("no-latest.rego".into(), rego.as_bytes().to_vec()),
        ("slsa.yaml".into(), slsa.as_bytes().to_vec()),
        (
            "broken.yaml".into(),
            b"kind: ClusterImagePolicy\nmetadata: {name: broken}\nspec: {images: [{glob: '['}]}\n".to_vec(),
        ),
        ("bad-slsa.yaml".into(), b"kind: SlsaPolicy\nspec: {minLevel: 7}\n".to_vec()),
    ]
}

fn status_of<'a>(
    rows: &'a [EvaluationRow],
    framework: &str,
    control: &str,
    container: &str,
) -> Vec<(&'a Status, &'a str)> {
    rows.iter()
        .filter(|r| r.framework == framework && r.control_id == control && r.container == container)
        .map(|r| (&r.status, r.message.as_str()))
        .collect()
}

#[test]
fn every_framework_from_one_policy_directory() {
    let key = SigningKeyPair::generate();
    let bundle = PolicyBundle::from_files(&files(&key));
    assert!(bundle.image_policies.is_some());
    assert_eq!(bundle.custom.len(), 1);
    assert_eq!(bundle.slsa.as_ref().map(|p| p.min_level), Some(3));
    assert!(bundle.problems.iter().any(|p| p.starts_with("broken.yaml")), "{:?}", bundle.problems);
    assert!(bundle.problems.iter().any(|p| p.contains("minLevel: 7")), "{:?}", bundle.problems);

    let mut evidence = EvidenceSet::default();
    let prov = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/slsa-verifier/cli/slsa-verifier/testdata/gha_generic/v2.1.0/binary-linux-amd64-push-v14.2.intoto.jsonl")).unwrap();
    evidence.add_file(BUILT, "prov.intoto.jsonl", prov);
    evidence.add_file(BUILT, "sig.json", cosign_sig(&key, BUILT));
    assert!(evidence.problems.is_empty(), "{:?}", evidence.problems);
    let root = TrustedRoot::production();
    let inv = read_sources([("d.yaml", manifest().as_bytes())]);
    assert!(inv.problems.is_empty() && inv.workloads.len() == 1, "{:?}", inv.problems);
    let selection = Selection::defaults(&bundle, false);
    let out = evaluate_all(&inv, &selection, &bundle, &EvidenceContext { evidence: &evidence, trusted_root: &root });

    let names: Vec<&str> = out.frameworks.iter().map(|f| f.split('@').next().unwrap()).collect();
    assert_eq!(names, ["pss-baseline", "pss-restricted", "cis-k8s", "image-policy", "slsa", "custom"]);
    // Image policy: signed by the key → pass; unsigned → fail; third-party: no policy, allowed.
    assert_eq!(status_of(&out.rows, "image-policy", "acme-signed", "built")[0].0, &Status::Pass);
    let (st, msg) = status_of(&out.rows, "image-policy", "acme-signed", "unsigned")[0];
    assert_eq!(st, &Status::Fail, "{msg}");
    assert!(status_of(&out.rows, "image-policy", "acme-signed", "floating").is_empty());
    // SLSA: real slsa-github-generator provenance reaches L3; the others have none.
    let (st, msg) = status_of(&out.rows, "slsa", "build-level", "built")[0];
    assert_eq!(st, &Status::Pass, "{msg}");
    assert!(msg.contains("build level 3"), "{msg}");
    assert_eq!(status_of(&out.rows, "slsa", "build-level", "unsigned")[0].0, &Status::Fail);
    // CIS 5.5.1 follows the SLSA build level.
    assert_eq!(status_of(&out.rows, "cis-k8s", "5.5.1", "built")[0].0, &Status::Pass);
    assert_eq!(status_of(&out.rows, "cis-k8s", "5.5.1", "unsigned")[0].0, &Status::Fail);
    // Custom Rego: the :latest image.
    let custom: Vec<&EvaluationRow> = out.rows.iter().filter(|r| r.framework == "custom").collect();
    assert!(custom.iter().any(|r| r.status == Status::Fail && r.message.contains("floating")), "{custom:?}");

    // Without any SLSA policy or request, 5.5.1 stays manual.
    let plain = PolicyBundle::default();
    let out = evaluate_all(
        &inv,
        &Selection::defaults(&plain, false),
        &plain,
        &EvidenceContext { evidence: &evidence, trusted_root: &root },
    );
    let manual: Vec<_> = out.rows.iter().filter(|r| r.control_id == "5.5.1").collect();
    assert!(manual.iter().all(|r| r.status == Status::Skip && r.message.starts_with("manual")), "{manual:?}");
}

#[test]
fn selection_parsing() {
    let s = Selection::parse(&["pss-baseline".into(), "slsa".into(), "cis-k8s@1.10".into(), "pss-baseline".into()])
        .unwrap();
    assert_eq!(s.builtin.len(), 2);
    assert!(s.slsa && !s.image_policies && !s.custom);
    assert!(Selection::parse(&["sbom".into()]).is_err());
    let d = Selection::defaults(&PolicyBundle::default(), true);
    assert!(d.slsa && d.image_policies && d.custom && d.builtin == Framework::defaults());
    assert!(!Selection::defaults(&PolicyBundle::default(), false).slsa);
}

fn evidence_with_provenance(key: &SigningKeyPair) -> EvidenceSet {
    let mut evidence = EvidenceSet::default();
    let prov = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/slsa-verifier/cli/slsa-verifier/testdata/gha_generic/v2.1.0/binary-linux-amd64-push-v14.2.intoto.jsonl")).unwrap();
    evidence.add_file(BUILT, "prov.intoto.jsonl", prov);
    evidence.add_file(BUILT, "sig.json", cosign_sig(key, BUILT));
    evidence
}

fn run(files: &[(String, Vec<u8>)], evidence: &EvidenceSet, selection: Option<Selection>) -> Evaluated {
    let bundle = PolicyBundle::from_files(files);
    let root = TrustedRoot::production();
    let inv = read_sources([("d.yaml", manifest().as_bytes())]);
    let sel = selection.unwrap_or_else(|| Selection::defaults(&bundle, true));
    evaluate_all(&inv, &sel, &bundle, &EvidenceContext { evidence, trusted_root: &root })
}

fn slsa_file(spec: &str) -> (String, Vec<u8>) {
    (
        "slsa.yaml".into(),
        format!("apiVersion: tarn.dev/v1alpha1\nkind: SlsaPolicy\nmetadata: {{name: t}}\nspec: {spec}\n").into_bytes(),
    )
}

#[test]
fn cis_5_5_1_needs_every_slsa_control_not_just_the_level() {
    let key = SigningKeyPair::generate();
    let evidence = evidence_with_provenance(&key);
    // L3 provenance, but from a repository the policy does not allow: 5.5.1 fails.
    let out = run(&[slsa_file("{minLevel: 3, sourceRepositories: ['github.com/acme/*']}")], &evidence, None);
    assert_eq!(status_of(&out.rows, "slsa", "build-level", "built")[0].0, &Status::Pass);
    assert_eq!(status_of(&out.rows, "slsa", "source-trusted", "built")[0].0, &Status::Fail);
    let (st, msg) = status_of(&out.rows, "cis-k8s", "5.5.1", "built")[0];
    assert_eq!(st, &Status::Fail, "{msg}");
    assert!(msg.contains("source-trusted"), "{msg}");
    // minLevel 0 is refused (it would pass images without provenance), and a refused policy is
    // not replaced by the permissive default: SLSA is not judged.
    let out = run(&[slsa_file("{minLevel: 0}")], &evidence, None);
    let slsa: Vec<_> = out.rows.iter().filter(|r| r.framework == "slsa").collect();
    assert!(!slsa.is_empty() && slsa.iter().all(|r| r.status == Status::Error), "{slsa:?}");
    assert!(slsa[0].message.contains("SlsaPolicy is invalid"));
    let out = run(&[slsa_file("{minLevel: 3, sourceRepository: typo}")], &evidence, None);
    assert!(out.rows.iter().filter(|r| r.framework == "slsa").all(|r| r.status == Status::Error));
}

#[test]
fn forged_provenance_is_level_zero() {
    let key = SigningKeyPair::generate();
    let mut evidence = EvidenceSet::default();
    let prov = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/slsa-verifier/cli/slsa-verifier/testdata/gha_generic/v2.1.0/binary-linux-amd64-push-v14.2.intoto.jsonl")).unwrap();
    let mut b: serde_json::Value = serde_json::from_slice(&prov).unwrap();
    let sig = b["dsseEnvelope"]["signatures"][0]["sig"].as_str().unwrap().to_string();
    let mut raw = B64.decode(sig).unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    b["dsseEnvelope"]["signatures"][0]["sig"] = B64.encode(raw).into();
    evidence.add_file(BUILT, "prov.sigstore.json", serde_json::to_vec(&b).unwrap());
    let _ = key;
    let out = run(&[slsa_file("{minLevel: 1}")], &evidence, None);
    let (st, msg) = status_of(&out.rows, "slsa", "build-level", "built")[0];
    assert_eq!(st, &Status::Fail, "{msg}");
    assert_eq!(status_of(&out.rows, "cis-k8s", "5.5.1", "built")[0].0, &Status::Fail);
}

#[test]
fn rejected_or_missing_policies_are_errors_not_silence() {
    let key = SigningKeyPair::generate();
    let evidence = evidence_with_provenance(&key);
    let broken = ("cip.yaml".to_string(), b"apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: acme}\nspec: {images: [{glob: '['}], authorities: [{static: {action: pass}}]}\n".to_vec());
    let out = run(&[broken], &evidence, None);
    let rows: Vec<_> = out.rows.iter().filter(|r| r.framework == "image-policy").collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].control_id.as_str(), rows[0].status), ("acme", Status::Error));
    assert!(out.frameworks.iter().any(|f| f.starts_with("image-policy@")));
    // Named frameworks with nothing to run are errors.
    let sel = Selection::parse(&["image-policy".into(), "custom".into()]).unwrap();
    let out = run(&[], &evidence, Some(sel));
    let errs: Vec<_> = out.rows.iter().map(|r| (r.framework.as_str(), r.control_id.as_str(), r.status)).collect();
    assert_eq!(errs, [("image-policy", "no-policies", Status::Error), ("custom", "no-policies", Status::Error)]);
}

#[test]
fn controls_over_unlisted_kinds_are_not_judged() {
    let mut inv = read_sources([("d.yaml", manifest().as_bytes())]);
    inv.unavailable_kinds.insert("RoleBinding".into());
    let root = TrustedRoot::production();
    let evidence = EvidenceSet::default();
    let sel = Selection::parse(&["cis-k8s".into()]).unwrap();
    let out = evaluate_all(
        &inv,
        &sel,
        &PolicyBundle::default(),
        &EvidenceContext { evidence: &evidence, trusted_root: &root },
    );
    let rbac: Vec<_> = out.rows.iter().filter(|r| r.control_id.starts_with("5.1.")).collect();
    assert!(!rbac.is_empty());
    assert!(rbac.iter().all(|r| r.status != Status::Pass), "{rbac:?}");
    assert!(rbac.iter().any(|r| r.status == Status::Error && r.message.contains("RoleBinding could not be listed")));
}
