//! Lake format v1, frozen in `fixtures/golden/lake-v1`, keeps verifying and reading.

use crate::common::*;

#[test]
fn golden_v1_lake_verifies_and_reads() {
    let golden = fixtures().join("golden");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(golden.join("expected-v1.json")).unwrap()).unwrap();
    // Work on a copy: reading must not need to write, but tests never touch fixtures.
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    copy_dir(&golden.join("lake-v1"), &lake);
    let lake_s = lake.to_str().unwrap();
    let out = ok(&run(&["evidence", "verify", "--lake", lake_s, "--key", golden.join("golden.pub").to_str().unwrap()]));
    assert!(out.contains("VERIFIED: 2 clusters, 4 log entries, 4 objects"), "{out}");

    let rows: Vec<serde_json::Value> = serde_json::from_str(&ok(&run(&[
        "evidence",
        "query",
        "--lake",
        lake_s,
        "--format",
        "json",
        "select cluster || '/' || date as k, count(*) as n, sum(case when status = 'fail' then 1 else 0 end) as f \
         from evaluations group by 1 order by 1",
    ])))
    .unwrap();
    assert_eq!(rows.len(), 4);
    for r in rows {
        let k = r["k"].as_str().unwrap();
        assert_eq!(r["n"], expected["rows_by_cluster_date"][k], "{k}");
        assert_eq!(r["f"], expected["fails_by_cluster_date"][k], "{k}");
    }
    let ids = ok(&run(&[
        "evidence",
        "query",
        "--lake",
        lake_s,
        "--format",
        "csv",
        "select snapshot_id from snapshots order by snapshot_id",
    ]));
    let ids: Vec<&str> = ids.lines().skip(1).collect();
    let want: Vec<&str> = expected["snapshot_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(ids, want);
    let groups = query_scalar(
        lake_s,
        "select string_agg(distinct cluster || '=' || group_path, ' ' order by cluster || '=' || group_path) from snapshots",
    );
    assert_eq!(groups, "alpha=/golden/a beta=/golden/b");
}
