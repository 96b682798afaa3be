//! Evaluation semantics end to end: sets, verdicts, rows, custom Rego.

use serde_json::json;
use tarn_model::{Severity, Status};

use super::custom::{RegoPolicy, evaluate_custom_policies, workload_input};
use super::verifier::{FixedVerifier, NoEvidence};
use super::*;
use crate::inventory::read_sources;

const KEY: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEZxAfzrQG1EbWyCI8LiSB7YgSFXoI\nFNGTyQGKHFc6/H8TQumT9VLS78pUwtv3w7EfKoyFZoP32KrO7nzUy2q6Cw==\n-----END PUBLIC KEY-----\n";

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

fn key_policy(name: &str, glob: &str, extra: &str) -> String {
    let key = KEY.lines().map(|l| format!("        {l}\n")).collect::<String>();
    format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: {name}}}\nspec:\n{extra}  images: [{{glob: '{glob}'}}]\n  authorities:\n  - key:\n      data: |\n{key}"
    )
}

fn pod(image: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: ns, labels: {{app: web}}}}\nspec:\n  containers: [{{name: c, image: '{image}'}}]\n"
    )
}

fn set_of(docs: &[String]) -> ImagePolicySet {
    let text = docs.join("---\n");
    let set = ImagePolicySet::from_sources([("policies.yaml", text.as_bytes())]);
    assert!(set.problems.iter().all(|p| p.kept), "{:#?}", set.problems);
    set
}

fn rows_for(set: &ImagePolicySet, manifest: &str, v: &dyn SignatureVerifier) -> Vec<(String, Status, String)> {
    let inv = read_sources([("w.yaml", manifest.as_bytes())]);
    evaluate_image_policies(set, &inv, v).into_iter().map(|r| (r.control_id, r.status, r.message)).collect()
}

#[test]
fn key_authority_needs_a_signature_over_the_running_digest() {
    let set = set_of(&[key_policy("signed", "ghcr.io/acme/**", "")]);
    let d = digest('a');
    let signed = FixedVerifier::new().signed_with_key(&d, KEY);
    let image = format!("ghcr.io/acme/app@{d}");
    assert_eq!(rows_for(&set, &pod(&image), &signed), [("signed".into(), Status::Pass, String::new())]);
    let other = rows_for(&set, &pod(&format!("ghcr.io/acme/app@{}", digest('b'))), &signed);
    assert_eq!(other[0].1, Status::Fail);
    assert!(
        other[0].2.starts_with("signature key validation failed for authority authority-0 for ghcr.io/acme/app@"),
        "{}",
        other[0].2
    );
    // A tag without a recorded digest cannot be checked.
    let tag = rows_for(&set, &pod("ghcr.io/acme/app:1.0"), &signed);
    assert_eq!(tag[0].1, Status::Error);
    assert!(tag[0].2.contains("not pinned by digest"), "{}", tag[0].2);
    // No evidence source: not judged.
    assert_eq!(rows_for(&set, &pod(&image), &NoEvidence)[0].1, Status::Error);
}

#[test]
fn rows_carry_framework_version_and_no_match_verdicts() {
    let set = set_of(&[key_policy("signed", "ghcr.io/acme/**", "")]);
    let inv = read_sources([("w.yaml", pod("docker.io/library/nginx:1.27").as_bytes())]);
    let rows = evaluate_image_policies(&set, &inv, &NoEvidence);
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(
        (r.framework.as_str(), r.control_id.as_str(), r.status),
        ("image-policy", "no-matching-policy", Status::Fail)
    );
    assert_eq!(r.framework_version, set.version());
    assert!(r.framework_version.starts_with("sha256:") && r.framework_version.len() == 19);
    assert_eq!((r.namespace.as_str(), r.container.as_str(), r.severity), ("ns", "c", Severity::Medium));

    let allow = ImagePolicySet::from_sources_with_config(
        [("p.yaml", key_policy("signed", "ghcr.io/acme/**", "").as_bytes())],
        Some(PolicyControllerConfig { no_match_policy: NoMatchPolicy::Allow, ..Default::default() }),
    );
    assert!(evaluate_image_policies(&allow, &inv, &NoEvidence).is_empty());
    assert!(evaluate_image_policies(&ImagePolicySet::default(), &inv, &NoEvidence).is_empty());
}

#[test]
fn config_map_beside_the_policies_configures_validation_and_no_match() {
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config-policy-controller, namespace: cosign-system}\ndata:\n  no-match-policy: warn\n  fail-on-empty-authorities: 'false'\n".to_string();
    let empty = "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: empty}\nspec:\n  images: [{glob: 'ghcr.io/x/**'}]\n".to_string();
    let set = set_of(&[cm, empty]);
    assert_eq!(set.len(), 1);
    let v = rows_for(&set, &pod("nginx"), &NoEvidence);
    assert_eq!(v[0].1, Status::Warn);
    // A matching policy without authorities never passes (upstream: failed to process policy).
    let v = rows_for(&set, &pod("ghcr.io/x/y:1"), &NoEvidence);
    assert_eq!(v[0].1, Status::Fail);
    assert!(v[0].2.contains("failed to process policy: empty"));
}

#[test]
fn docker_hub_globs_and_match_selectors() {
    let hub = key_policy(
        "hub",
        "index.docker.io/library/*",
        "  match: [{resource: deployments, group: apps, version: v1, selector: {matchExpressions: [{key: tier, operator: In, values: [web]}]}}]\n",
    );
    let set = set_of(&[hub]);
    let deploy = |tier: &str, image: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d, labels: {{tier: {tier}}}}}\nspec:\n  template:\n    spec:\n      containers: [{{name: c, image: '{image}'}}]\n"
        )
    };
    assert_eq!(rows_for(&set, &deploy("web", "nginx:1.27"), &NoEvidence)[0].0, "hub");
    assert_eq!(rows_for(&set, &deploy("db", "nginx:1.27"), &NoEvidence)[0].0, "no-matching-policy");
    assert_eq!(rows_for(&set, &deploy("web", "bitnami/redis"), &NoEvidence)[0].0, "no-matching-policy");
    assert_eq!(rows_for(&set, &pod("nginx"), &NoEvidence)[0].0, "no-matching-policy");
}

#[test]
fn warn_mode_and_and_of_policies() {
    let d = digest('c');
    let image = format!("ghcr.io/acme/app@{d}");
    let set = set_of(&[key_policy("a-warn", "ghcr.io/**", "  mode: warn\n"), key_policy("b-enforce", "**", "")]);
    let v = rows_for(&set, &pod(&image), &FixedVerifier::new());
    assert_eq!(
        v.iter().map(|r| (r.0.as_str(), r.1)).collect::<Vec<_>>(),
        [("a-warn", Status::Warn), ("b-enforce", Status::Fail)]
    );
    let v = rows_for(&set, &pod(&image), &FixedVerifier::new().signed_with_key(&d, KEY));
    assert!(v.iter().all(|r| r.1 == Status::Pass));
}

#[test]
fn cip_level_rego_policy_sees_authority_matches_and_the_resource() {
    let policy = r#"  policy:
    type: rego
    includeObjectMeta: true
    data: |
      package sigstore
      default isCompliant = false
      isCompliant {
        count(input.authorityMatches["authority-0"].signatures) > 0
        input.metadata.labels.app == "web"
      }
"#;
    let set = set_of(&[key_policy("cip", "**", policy)]);
    let d = digest('d');
    let v = FixedVerifier::new().signed_with_key(&d, KEY);
    assert_eq!(rows_for(&set, &pod(&format!("x.io/a/b@{d}")), &v)[0].1, Status::Pass);
    let other = pod(&format!("x.io/a/b@{d}")).replace("app: web", "app: db");
    let r = rows_for(&set, &other, &v);
    assert_eq!(r[0].1, Status::Fail);
    assert!(r[0].2.contains("failed evaluating rego policy for type ClusterImagePolicy"), "{}", r[0].2);
}

#[test]
fn attestation_policy_from_a_config_map_and_unsupported_sources() {
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: pol, namespace: cosign-system}\ndata:\n  p: |\n    package sigstore\n    isCompliant { input.predicate.level >= 3 }\n".to_string();
    let att = |source: &str| {
        key_policy("att", "**", "").replacen(
            "  - key:\n",
            &format!("  - attestations: [{{name: slsa, predicateType: slsaprovenance1, policy: {{type: rego, {source}}}}}]\n    key:\n"),
            1,
        )
    };
    let set = set_of(&[cm, att("configMapRef: {name: pol, key: p}")]);
    let d = digest('e');
    let image = format!("x.io/a/b@{d}");
    let v = |level: u32| {
        FixedVerifier::new().attested_with_key(&d, KEY, "https://slsa.dev/provenance/v1", json!({"level": level}))
    };
    assert_eq!(rows_for(&set, &pod(&image), &v(3))[0].1, Status::Pass);
    assert_eq!(rows_for(&set, &pod(&image), &v(1))[0].1, Status::Fail);

    let remote =
        ImagePolicySet::from_sources([("r.yaml", att("remote: {url: 'https://example.com/p.rego'}").as_bytes())]);
    assert!(remote.problems.iter().any(|p| p.kept && p.message.contains("remote policies are not fetched")));
    assert_eq!(rows_for(&remote, &pod(&image), &v(3))[0].1, Status::Error);
}

#[test]
fn malformed_documents_are_reported_and_skipped() {
    let good = key_policy("good", "**", "");
    let text = format!(
        "{good}---\nkind: ClusterImagePolicy\napiVersion: policy.sigstore.dev/v1beta1\nmetadata: {{name: bad}}\nspec:\n  images: [{{glob: 'a['}}]\n  authorities: [{{static: {{action: maybe}}}}]\n---\nnot: [valid\n---\n{good}"
    );
    let set = ImagePolicySet::from_sources([("mixed.yaml", text.as_bytes())]);
    assert_eq!(set.len(), 1);
    let msgs: Vec<String> = set.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(msgs.len(), 3, "{msgs:#?}");
    assert!(msgs[0].contains("invalid YAML"), "{}", msgs[0]);
    assert!(msgs[1].contains("mixed.yaml:") && msgs[1].contains("field spec.images[0].glob"), "{}", msgs[1]);
    assert!(
        msgs[1].contains("invalid value: maybe: spec.authorities[0].static.action\nunsupported action"),
        "{}",
        msgs[1]
    );
    assert!(msgs[2].contains("duplicate ClusterImagePolicy name"), "{}", msgs[2]);
}

#[test]
fn set_digest_tracks_content_not_layout() {
    let a = key_policy("a", "**", "");
    let b = key_policy("b", "ghcr.io/**", "");
    let one = set_of(&[a.clone(), b.clone()]);
    let two = set_of(&[b, a.clone()]);
    assert_eq!(one.digest(), two.digest());
    assert_ne!(one.digest(), set_of(&[a]).digest());
}

#[test]
fn policy_sets_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ImagePolicySet>();
    assert_send_sync::<RegoPolicy>();
}

const NO_LATEST: &str = r#"package tarn.custom.no_latest
import rego.v1

metadata := {"id": "ORG-IMG-1", "title": "Images are pinned", "severity": "high"}

deny contains msg if {
    some c in input.containers
    endswith(c.image, ":latest")
    msg := sprintf("container %s uses a :latest tag", [c.name])
}

warn contains {"msg": "no digest recorded", "id": "ORG-IMG-2", "severity": "low"} if {
    some c in input.containers
    c.digest == null
}
"#;

#[test]
fn custom_rego_controls_become_findings_and_rows() {
    let p = RegoPolicy::from_source("no_latest.rego", NO_LATEST).unwrap();
    assert_eq!((p.name.as_str(), p.id.as_str(), p.severity), ("no_latest", "ORG-IMG-1", Severity::High));
    let inv = read_sources([("w.yaml", pod("nginx:latest").as_bytes())]);
    let findings = p.evaluate(&workload_input(&inv.workloads[0])).unwrap();
    let got: Vec<_> = findings.iter().map(|f| (f.id.as_str(), f.status, f.severity, f.message.as_str())).collect();
    assert_eq!(
        got,
        [
            ("ORG-IMG-1", Status::Fail, Severity::High, "container c uses a :latest tag"),
            ("ORG-IMG-2", Status::Warn, Severity::Low, "no digest recorded"),
        ]
    );
    let pinned = read_sources([("w.yaml", pod(&format!("nginx@{}", digest('f'))).as_bytes())]);
    let rows = evaluate_custom_policies(std::slice::from_ref(&p), &pinned);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].framework.as_str(), rows[0].control_id.as_str(), rows[0].status),
        ("custom", "ORG-IMG-1", Status::Pass)
    );

    for (bad, why) in [
        ("package other\nallow := true", "is not under tarn.custom."),
        ("package tarn.custom.x\nmetadata := {\"severity\": \"urgent\"}", "metadata.severity"),
        ("package tarn.custom.x\ndeny contains x if {", ""),
    ] {
        let e = RegoPolicy::from_source("bad.rego", bad).unwrap_err();
        assert!(e.contains(why), "{e}");
    }
}
