//! `tarn policies test`, and a scan that exercises every framework with the quickstart's
//! policies and evidence.

use crate::common::*;

const CART: &str = "ghcr.io/acme/cart:1.8.0@sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
const UNSIGNED: &str =
    "ghcr.io/acme/checkout:3.3.0@sha256:d98c0122c9d40a11f46ac3583be7c4125ef3ed1dc0d817d38fa5642ffa27a647";

fn policies_test(image: &str, extra: &[&str]) -> std::process::Output {
    let q = fixtures().join("quickstart");
    let mut c = tarn();
    c.args(["policies", "test", "--image", image, "--format", "json"])
        .arg("--policy")
        .arg(q.join("policies"))
        .args(extra);
    c.output().unwrap()
}

#[test]
fn policy_tester_admits_signed_and_denies_unsigned() {
    let evidence = fixtures().join("quickstart/evidence");
    let ev = evidence.to_str().unwrap();
    let ok_out = policies_test(CART, &["--evidence", ev]);
    let v: serde_json::Value = serde_json::from_str(&ok(&ok_out)).unwrap();
    assert_eq!(v["admitted"], true);
    assert_eq!(v["results"][0]["policy"], "acme-images-signed");

    let denied = policies_test(UNSIGNED, &["--evidence", ev]);
    assert_eq!(denied.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&denied.stdout).unwrap();
    assert_eq!(v["admitted"], false);
    assert!(v["results"][0]["message"].as_str().unwrap().contains("no signatures found"), "{v}");

    // Without evidence the signed image is denied too; third-party images match no policy.
    assert_eq!(policies_test(CART, &[]).status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&ok(&policies_test("docker.io/library/redis:7.4", &[]))).unwrap();
    assert_eq!(v["results"], serde_json::json!([]));
    // A policy file that is not a policy is invalid input.
    let o = tarn()
        .args(["policies", "test", "--image", CART, "--policy"])
        .arg(fixtures().join("quickstart/fleet.yaml"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn scan_with_policies_and_evidence_covers_every_framework() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keypair(dir.path());
    let q = fixtures().join("quickstart");
    let lake = dir.path().join("lake");
    let o = tarn()
        .args(["agent", "scan", "--cluster", "prod", "--format", "json", "--lake", lake.to_str().unwrap()])
        .arg("--inventory")
        .arg(q.join("base/shop"))
        .arg(q.join("base/platform"))
        .arg("--policies")
        .arg(q.join("policies"))
        .arg("--evidence")
        .arg(q.join("evidence"))
        .arg("--key")
        .arg(&key)
        .env("COSIGN_PASSWORD", "")
        .output()
        .unwrap();
    ok(&o);
    let lake_s = lake.to_str().unwrap();
    let fws = query_scalar(lake_s, "select frameworks from snapshots");
    for f in ["pss-baseline@", "pss-restricted@", "cis-k8s@1.12", "image-policy@", "slsa@v1.0", "custom@"] {
        assert!(fws.contains(f), "{f} missing from {fws}");
    }
    let status = |framework: &str, control: &str, workload: &str, container: &str| {
        query_scalar(
            lake_s,
            &format!(
                "select string_agg(distinct status, ' ') from evaluations where framework = '{framework}' \
                 and control_id = '{control}' and workload_name = '{workload}' and container = '{container}'"
            ),
        )
    };
    // Real upstream provenance makes checkout L3; its migrations image and redis have none.
    assert_eq!(status("slsa", "build-level", "checkout", "checkout"), "pass");
    assert_eq!(status("slsa", "build-level", "checkout", "migrate"), "fail");
    assert_eq!(status("slsa", "build-level", "redis", "redis"), "fail");
    assert_eq!(status("image-policy", "acme-images-signed", "cart", "cart"), "pass");
    assert_eq!(status("cis-k8s", "5.5.1", "checkout", "checkout"), "pass");
    assert_eq!(status("cis-k8s", "5.5.1", "redis", "redis"), "fail");
    // The RBAC mistake in the fixtures: the log shipper bound to cluster-admin.
    let rbac = query_scalar(
        lake_s,
        "select count(*) from evaluations where framework = 'cis-k8s' and control_id = '5.1.1' and status = 'fail'",
    );
    assert_ne!(rbac, "0");
    // Custom Rego findings are per workload (no container).
    assert_eq!(status("custom", "pinned-images", "redis", ""), "fail");
}
