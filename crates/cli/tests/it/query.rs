use crate::common::*;

fn q(args: &[&str]) -> std::process::Output {
    let lake = quickstart_lake().to_str().unwrap().to_string();
    let mut all = vec!["evidence", "query", "--lake", &lake];
    all.extend_from_slice(args);
    run(&all)
}

#[test]
fn writes_and_file_access_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.csv");
    let copy = format!("copy (select 1) to '{}'", target.display());
    let external = format!("create external table t stored as csv location '{}'", dir.path().display());
    for sql in [
        "create table t as select 1",
        "insert into snapshots select * from snapshots",
        "drop table evaluations",
        copy.as_str(),
        external.as_str(),
        "set datafusion.execution.batch_size = 1",
        "create view v as select 1",
    ] {
        let o = q(&[sql]);
        assert_eq!(o.status.code(), Some(2), "{sql}: {}", stderr(&o));
        assert!(stderr(&o).contains("read-only"), "{sql}: {}", stderr(&o));
    }
    assert!(!target.exists());
    // Tables are unchanged afterwards.
    ok(&q(&["select count(*) from evaluations"]));
}

#[test]
fn bad_sql_gets_a_clear_error() {
    let o = q(&["selec count(*) from evaluations"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("query failed"), "{}", stderr(&o));
    let o = q(&["select * from no_such_table"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no_such_table"), "{}", stderr(&o));
}

#[test]
fn memory_limit_is_enforced_with_a_clear_error() {
    let o = q(&[
        "--memory-mb",
        "1",
        "select a.message, b.message from evaluations a, evaluations b where a.status = 'fail' order by a.message, b.message",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("memory limit"), "{}", stderr(&o));
}

#[test]
fn csv_and_json_formats() {
    let sql = "select workload_name, message from evaluations where status = 'fail' and control_id = 'privileged' order by observed_at, workload_name limit 2";
    let csv = ok(&q(&["--format", "csv", sql]));
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("workload_name,message"));
    let first = lines.next().unwrap();
    // Messages contain quotes and commas: RFC 4180 quoting doubles the quotes.
    assert!(first.contains(",\"privileged (") && first.contains("\"\""), "{first}");
    let json: serde_json::Value = serde_json::from_str(&ok(&q(&["--format", "json", sql]))).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    assert!(json[0]["message"].as_str().unwrap().starts_with("privileged ("));
    // `cluster` after a comma is a column, not the start of a CLUSTER BY clause.
    let csv = ok(&q(&["--format", "csv", "select seq, cluster from snapshots order by cluster, seq limit 1"]));
    assert_eq!(csv.lines().nth(1), Some("1,dev-1"));
    let empty: serde_json::Value =
        serde_json::from_str(&ok(&q(&["--format", "json", "select * from snapshots where 1 = 0"]))).unwrap();
    assert_eq!(empty, serde_json::json!([]));
}
