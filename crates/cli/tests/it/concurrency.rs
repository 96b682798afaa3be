use std::collections::BTreeMap;

use crate::common::*;

/// 8 `tarn agent scan` processes at once against one lake, half of them on one cluster.
fn eight_writers(lake: &str, extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keypair(dir.path());
    let inventory = fixtures().join("quickstart/base/shop");
    let children: Vec<_> = (0..8u32)
        .map(|i| {
            let cluster = if i.is_multiple_of(2) { "shared".to_string() } else { format!("solo-{i}") };
            let mut c = tarn();
            c.args(["agent", "scan", "--lake", lake, "--cluster", &cluster, "--format", "json"])
                .args(extra)
                .arg("--inventory")
                .arg(&inventory)
                .arg("--key")
                .arg(&key)
                .env("COSIGN_PASSWORD", "")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            (cluster, c.spawn().unwrap())
        })
        .collect();
    let mut acked: Vec<(String, String, u64)> = Vec::new();
    for (cluster, child) in children {
        let out = child.wait_with_output().unwrap();
        let summary: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
        acked.push((cluster, summary["snapshot_id"].as_str().unwrap().to_string(), summary["seq"].as_u64().unwrap()));
    }
    // Positions on the shared log are 1..=4, each owned by exactly one writer.
    let mut shared: Vec<u64> = acked.iter().filter(|a| a.0 == "shared").map(|a| a.2).collect();
    shared.sort();
    assert_eq!(shared, [1, 2, 3, 4]);

    let mut args = vec!["evidence", "query", "--lake", lake, "--format", "json"];
    args.extend_from_slice(extra);
    args.push("select snapshot_id, cluster, seq from snapshots");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&ok(&run(&args))).unwrap();
    let present: BTreeMap<String, (String, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["snapshot_id"].as_str().unwrap().to_string(),
                (r["cluster"].as_str().unwrap().to_string(), r["seq"].as_u64().unwrap()),
            )
        })
        .collect();
    assert_eq!(present.len(), 8);
    for (cluster, id, seq) in &acked {
        assert_eq!(present.get(id), Some(&(cluster.clone(), *seq)), "acknowledged snapshot {id} missing or moved");
    }
    let mut args = vec!["evidence", "verify", "--lake", lake, "--key", public.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = ok(&run(&args));
    assert!(out.contains("VERIFIED: 5 clusters, 8 log entries"), "{out}");
}

#[test]
fn eight_concurrent_scans_on_a_local_lake() {
    let dir = tempfile::tempdir().unwrap();
    eight_writers(dir.path().join("lake").to_str().unwrap(), &[]);
}

#[test]
fn eight_concurrent_scans_on_s3() {
    let Some((lake, endpoint)) = s3_lake("cli-concurrency") else {
        return;
    };
    eight_writers(&lake, &["--s3-endpoint", &endpoint, "--allow-http"]);
}
