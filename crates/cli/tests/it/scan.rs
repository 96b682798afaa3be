use crate::common::*;

const GOOD: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: prod}
spec:
  template:
    spec:
      containers:
      - name: api
        image: ghcr.io/acme/api:1.0
        securityContext: {privileged: true}
";

const BAD: &str = "apiVersion: v1
kind: Pod
metadata: {name: broken, namespace: prod}
spec:
  containers:
  - name: c
    image: busybox
    securityContext:
      runAsUser: root
";

#[test]
fn scan_commits_valid_workloads_and_reports_skipped_documents() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keypair(dir.path());
    let inv = dir.path().join("inv");
    std::fs::create_dir(&inv).unwrap();
    std::fs::write(inv.join("good.yaml"), GOOD).unwrap();
    std::fs::write(inv.join("bad.yaml"), format!("{}---\n{BAD}", GOOD.replace("name: api", "name: api2"))).unwrap();
    let lake = dir.path().join("lake");
    let o = tarn()
        .args(["agent", "scan", "--lake", lake.to_str().unwrap(), "--cluster", "c1", "--format", "json"])
        .arg("--inventory")
        .arg(&inv)
        .arg("--key")
        .arg(&key)
        .env("COSIGN_PASSWORD", "")
        .output()
        .unwrap();
    // Committed, but the exit status says not everything was evaluated.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(summary["workloads"], 2);
    assert_eq!(summary["skipped_documents"], 1);
    assert_eq!(summary["seq"], 1);
    let err = stderr(&o);
    let line = err.lines().find(|l| l.contains("bad.yaml")).expect("skipped document reported");
    assert!(
        line.contains("bad.yaml:20:18")
            && line.contains("document 2")
            && line.contains("spec.containers[0].securityContext.runAsUser"),
        "{line}"
    );
    // Both privileged containers fail, in both frameworks.
    let fails = query_scalar(
        lake.to_str().unwrap(),
        "select count(*) from evaluations where control_id = 'privileged' and status = 'fail'",
    );
    assert_eq!(fails, "4");
}

#[test]
fn scan_with_nothing_valid_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keypair(dir.path());
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, BAD).unwrap();
    let lake = dir.path().join("lake");
    let o = tarn()
        .args(["agent", "scan", "--lake", lake.to_str().unwrap(), "--cluster", "c1", "--inventory"])
        .arg(&bad)
        .arg("--key")
        .arg(&key)
        .env("COSIGN_PASSWORD", "")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing committed"));
    assert!(!lake.join("log").exists());
}

#[test]
fn scan_refuses_an_empty_inventory_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keypair(dir.path());
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let lake = dir.path().join("lake");
    let scan = |extra: &[&str]| {
        tarn()
            .args([
                "agent",
                "scan",
                "--lake",
                lake.to_str().unwrap(),
                "--cluster",
                "c1",
                "--format",
                "json",
                "--inventory",
            ])
            .arg(&empty)
            .arg("--key")
            .arg(&key)
            .args(extra)
            .env("COSIGN_PASSWORD", "")
            .output()
            .unwrap()
    };
    let o = scan(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no documents"), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_str(&ok(&scan(&["--allow-empty"]))).unwrap();
    assert_eq!(summary["rows"], 0);
}

#[test]
fn scan_rejects_bad_arguments_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keypair(dir.path());
    let good = dir.path().join("good.yaml");
    std::fs::write(&good, GOOD).unwrap();
    let lake = dir.path().join("lake");
    let base = |cluster: &str, extra: &[&str]| {
        let mut c = tarn();
        c.args(["agent", "scan", "--lake", lake.to_str().unwrap(), "--cluster", cluster, "--inventory"])
            .arg(&good)
            .arg("--key")
            .arg(&key)
            .args(extra)
            .env("COSIGN_PASSWORD", "");
        c.output().unwrap()
    };
    for (cluster, extra, needle) in [
        ("Prod/EU", &[][..], "invalid cluster name"),
        ("c1", &["--at", "2999-01-01"][..], "in the future"),
        ("c1", &["--framework", "cis-1.9"][..], "unknown framework"),
        ("c1", &["--group", "acme"][..], "invalid group path"),
    ] {
        let o = base(cluster, extra);
        assert_eq!(o.status.code(), Some(2), "{cluster} {extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
    }
    let o = tarn()
        .args(["agent", "scan", "--lake", lake.to_str().unwrap(), "--cluster", "c1", "--inventory"])
        .arg(&good)
        .arg("--key")
        .arg(&key)
        .env("COSIGN_PASSWORD", "wrong")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("wrong password"), "{}", stderr(&o));
    assert!(!lake.join("log").exists(), "nothing may be written on bad input");
}
