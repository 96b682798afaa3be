use std::path::Path;
use std::process::Command;

use crate::common::*;

#[test]
fn quickstart_builds_a_verified_lake_and_summary() {
    let lake = quickstart_lake();
    let lake_s = lake.to_str().unwrap();
    let out = ok(&run(&["evidence", "verify", "--lake", lake_s, "--key", demo_pub().to_str().unwrap()]));
    assert!(out.contains("VERIFIED"), "{out}");
    // The quickstart ends with a signed CIS report, as PDF and CSV beside the lake.
    assert!(out.contains("1 signed reports checked"), "{out}");
    let reports = lake.parent().unwrap().join("tarn-reports");
    assert!(std::fs::read(reports.join("cis-k8s.pdf")).unwrap().starts_with(b"%PDF-"));
    let summary = std::fs::read_to_string(reports.join("cis-k8s-csv/summary.csv")).unwrap();
    assert!(summary.starts_with("format_version,framework,") && summary.contains(",cis-k8s,"), "{summary}");
    let snapshots: u64 = query_scalar(lake_s, "select count(*) from snapshots").parse().unwrap();
    let clusters: u64 = query_scalar(lake_s, "select count(distinct cluster) from snapshots").parse().unwrap();
    let groups: u64 = query_scalar(lake_s, "select count(distinct group_path) from snapshots").parse().unwrap();
    let days: i64 = query_scalar(lake_s, "select date_part('day', max(observed_at) - min(observed_at)) from snapshots")
        .parse::<f64>()
        .unwrap() as i64;
    assert_eq!(clusters, 4);
    assert!(groups >= 2);
    assert!(days >= 13, "two weeks of history, got {days} days");
    assert!(snapshots >= 4 * 14 * 2 - 4, "{snapshots}");
    // Every framework runs: PSS, CIS, the image policy, SLSA and custom Rego.
    let frameworks = query_scalar(
        lake_s,
        "select string_agg(distinct f, ' ' order by f) from (select unnest(string_to_array(frameworks, ',')) as f from snapshots)",
    );
    for f in ["cis-k8s@1.12", "image-policy@", "pss-baseline@v1.37", "pss-restricted@v1.37", "slsa@v1.0", "custom@"] {
        assert!(frameworks.contains(f), "{f} missing: {frameworks}");
    }
    // The unsigned checkout release (day 9 on prod-us-1) fails the image policy from then on.
    let unsigned = query_scalar(
        lake_s,
        "select count(distinct date) from evaluations where cluster = 'prod-us-1' and framework = 'image-policy' and status = 'fail' and workload_name = 'checkout'",
    );
    assert!(unsigned.parse::<u32>().unwrap() >= 5, "{unsigned}");
    // Rows in the Parquet objects equal the rows the signed records promise.
    let rows = query_scalar(lake_s, "select count(*) from evaluations");
    let promised = query_scalar(lake_s, "select sum(row_count) from snapshots");
    assert_eq!(rows, promised);
    // Drift: prod-eu-1's privileged debug pod appears and disappears.
    let privileged_days = query_scalar(
        lake_s,
        "select count(distinct date) from evaluations where cluster = 'prod-eu-1' and control_id = 'privileged' and status = 'fail' and workload_name = 'netdebug'",
    );
    assert_eq!(privileged_days, "3");
    let latest_netdebug = query_scalar(
        lake_s,
        "select count(*) from evaluations where cluster = 'prod-eu-1' and workload_name = 'netdebug' and observed_at = (select max(observed_at) from snapshots)",
    );
    assert_eq!(latest_netdebug, "0");
}

#[test]
fn quickstart_refuses_a_non_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious.txt"), "keep me").unwrap();
    let o = run(&["quickstart", "--lake", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not empty"));
    assert_eq!(std::fs::read_to_string(dir.path().join("precious.txt")).unwrap(), "keep me");
}

fn tampered_copy() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    copy_dir(quickstart_lake(), &lake);
    (dir, lake)
}

fn verify_fails_naming(lake: &Path, object: &str, kind: &str) {
    let o = run(&["evidence", "verify", "--lake", lake.to_str().unwrap(), "--key", demo_pub().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("FAILED"), "{out}");
    let line = out.lines().find(|l| l.contains(object)).unwrap_or_else(|| panic!("{object} not named in:\n{out}"));
    assert!(line.contains(kind), "{kind} not on the line naming {object}:\n{out}");
    // The JSON report carries the same.
    let o = run(&[
        "evidence",
        "verify",
        "--lake",
        lake.to_str().unwrap(),
        "--key",
        demo_pub().to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(report["problems"].as_array().unwrap().iter().any(|p| p["object"] == object && p["kind"] == kind));
}

fn first_object(lake: &Path) -> String {
    query_scalar(lake.to_str().unwrap(), "select object_path from snapshots order by cluster, seq limit 1")
}

#[test]
fn cli_verify_names_a_modified_object() {
    let (_d, lake) = tampered_copy();
    let obj = first_object(&lake);
    let p = lake.join(&obj);
    let mut bytes = std::fs::read(&p).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] = bytes[mid].wrapping_add(1);
    std::fs::write(&p, bytes).unwrap();
    verify_fails_naming(&lake, &obj, "digest_mismatch");
}

#[test]
fn cli_verify_names_a_deleted_log_entry() {
    let (_d, lake) = tampered_copy();
    let entry = "log/cluster=dev-1/00000000000000000005.json";
    std::fs::remove_file(lake.join(entry)).unwrap();
    verify_fails_naming(&lake, entry, "missing_entry");
}

#[test]
fn cli_verify_names_a_forged_signature() {
    let (_d, lake) = tampered_copy();
    let entry = "log/cluster=prod-us-1/00000000000000000002.json";
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(lake.join(entry)).unwrap()).unwrap();
    // Re-sign the entry with a different key: a valid signature, but not a trusted one.
    let other = tarn_trust::keys::SigningKeyPair::generate();
    let statement_b64 = v["bundle"]["dsseEnvelope"]["payload"].as_str().unwrap().to_string();
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::STANDARD.decode(statement_b64).unwrap();
    let sig = other.sign(&tarn_trust::dsse::pae("application/vnd.in-toto+json", &payload));
    v["bundle"]["dsseEnvelope"]["signatures"][0]["sig"] = base64::engine::general_purpose::STANDARD.encode(sig).into();
    std::fs::write(lake.join(entry), serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    verify_fails_naming(&lake, entry, "bad_signature");
}

#[test]
fn cli_witness_detects_a_rolled_back_log() {
    let (d, lake) = tampered_copy();
    let witness = d.path().join("heads.json");
    let lake_s = lake.to_str().unwrap();
    let key = demo_pub();
    let args = [
        "evidence",
        "verify",
        "--lake",
        lake_s,
        "--key",
        key.to_str().unwrap(),
        "--witness",
        witness.to_str().unwrap(),
    ];
    // A witness that does not exist is an error unless this audit starts it.
    assert_eq!(run(&args).status.code(), Some(2));
    ok(&run(&[&args[..], &["--init-witness"]].concat()));
    assert!(witness.exists());
    ok(&run(&args));
    // Remove the newest snapshot of staging-eu-1 completely: entry, object, and fix the hint.
    let last: u64 =
        query_scalar(lake_s, "select max(seq) from snapshots where cluster = 'staging-eu-1'").parse().unwrap();
    let obj = query_scalar(
        lake_s,
        &format!("select object_path from snapshots where cluster = 'staging-eu-1' and seq = {last}"),
    );
    let entry = format!("log/cluster=staging-eu-1/{last:020}.json");
    std::fs::remove_file(lake.join(&entry)).unwrap();
    std::fs::remove_file(lake.join(obj)).unwrap();
    std::fs::write(lake.join("log/cluster=staging-eu-1/_head.json"), format!("{{\"seq\":{}}}", last - 1)).unwrap();
    let o = run(&args);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).lines().any(|l| l.contains(&entry) && l.contains("rolled_back")), "{}", stdout(&o));
}

#[test]
fn verify_needs_a_trust_anchor_and_an_existing_lake() {
    let lake = quickstart_lake().to_str().unwrap();
    let o = run(&["evidence", "verify", "--lake", lake]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--key"), "{}", stderr(&o));
    let o = run(&["evidence", "verify", "--lake", lake, "--trust-lake-keys"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("not tampering"), "{}", stderr(&o));

    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("tarn-laek");
    for cmd in
        [&["evidence", "verify", "--key", demo_pub().to_str().unwrap()][..], &["evidence", "query", "select 1"][..]]
    {
        let o = tarn().args(cmd).arg("--lake").arg(&typo).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{cmd:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("not a Tarn lake"), "{}", stderr(&o));
    }
    assert!(!typo.exists(), "reading must never create a lake");
    let o = run(&["evidence", "verify", "--lake", lake, "--key", dir.path().join("missing.pub").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn duckdb_and_polars_count_the_same_rows() {
    let have = Command::new("python3").args(["-c", "import duckdb, polars"]).status().is_ok_and(|s| s.success());
    if !require_or_skip(have, "python3 with duckdb and polars") {
        return;
    }
    let lake = quickstart_lake();
    let ours = query_scalar(lake.to_str().unwrap(), "select count(*) from evaluations");
    let script = repo_root().join("benches/peer_read.py");
    let o = Command::new("python3").arg(script).arg(lake).output().unwrap();
    let peers: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(peers["duckdb"]["rows"].to_string(), ours, "{peers}");
    assert_eq!(peers["polars"]["rows"].to_string(), ours, "{peers}");
    let per_cluster =
        query_scalar(lake.to_str().unwrap(), "select count(*) from evaluations where cluster = 'prod-eu-1'");
    assert_eq!(peers["duckdb"]["prod-eu-1"].to_string(), per_cluster);
    assert_eq!(peers["polars"]["prod-eu-1"].to_string(), per_cluster);
}
