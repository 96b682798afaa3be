//! `tarn evidence at|diff|trend|query --named`, `tarn lake`, and `tarn bench generate`.

use crate::common::*;

fn lake_arg(dir: &std::path::Path) -> String {
    dir.join("lake").to_str().unwrap().to_string()
}

fn answers(lake: &str) -> Vec<String> {
    answers_on(lake, "embedded")
}

fn answers_on(lake: &str, engine: &str) -> Vec<String> {
    let q = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--lake", lake, "--format", "csv", "--engine", engine]);
        ok(&run(&all))
    };
    vec![
        q(&["evidence", "at", "2026-01-02T12:00:00Z", "--summary"]),
        q(&["evidence", "at", "2026-01-02T12:00:00Z", "--cluster", "c001", "--status", "all"]),
        q(&["evidence", "diff", "2026-01-01T12:00:00Z", "2026-01-03T12:00:00Z"]),
        q(&["evidence", "trend", "--bucket", "1d", "--from", "2026-01-01", "--to", "2026-01-04"]),
        q(&[
            "evidence",
            "query",
            "--named",
            "control_history",
            "--param",
            "from=2026-01-01",
            "--param",
            "to=2026-01-02",
            "--param",
            "control=5.1.1",
            "--param",
            "namespace=ns-1",
        ]),
    ]
}

#[test]
fn generated_fleet_answers_the_same_before_and_after_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_arg(dir.path());
    let out = ok(&run(&[
        "bench",
        "generate",
        "--lake",
        &lake,
        "--clusters",
        "4",
        "--workloads",
        "10",
        "--controls",
        "6",
        "--scans-per-day",
        "4",
        "--days",
        "3",
        "--start",
        "2026-01-01",
    ]));
    assert!(out.contains("wrote 48 signed snapshots (2880 rows"), "{out}");
    let status: serde_json::Value =
        serde_json::from_str(&ok(&run(&["lake", "status", "--lake", &lake, "--format", "json"]))).unwrap();
    assert_eq!(status["clusters"].as_array().unwrap().len(), 4);
    assert_eq!(status["checkpoint"], 1);
    assert_eq!(status["log_entries_past_checkpoint"], 0);

    let before = answers(&lake);
    // 4 clusters × 3 frameworks; 10 workloads × 6 controls; 3 daily buckets × 3 frameworks.
    assert_eq!(before[0].lines().count(), 1 + 12, "{}", before[0]);
    assert_eq!(before[1].lines().count(), 1 + 60, "{}", before[1]);
    assert!(before[2].lines().count() > 1, "about 1% of pairs flip per day: {}", before[2]);
    assert_eq!(before[3].lines().count(), 1 + 9, "{}", before[3]);
    // ns-1 holds workloads 1 and 9 of each cluster; 5.1.1 is one control; 4 scans a day; 4 clusters;
    // the range is inclusive, and the 00:00 scans of c000 on 2026-01-02 count.
    let history = before[4].lines().count() - 1;
    assert_eq!(history, 4 * 2 * 4 + 2, "{}", before[4]);

    // --change keeps only the asked changes.
    let only_new = ok(&run(&[
        "evidence",
        "diff",
        "2026-01-01T12:00:00Z",
        "2026-01-03T12:00:00Z",
        "--change",
        "new",
        "--lake",
        &lake,
        "--format",
        "csv",
    ]));
    let all_new = before[2].lines().filter(|l| l.starts_with("new,")).count();
    assert_eq!(only_new.lines().count() - 1, all_new, "{only_new}");
    assert!(only_new.lines().skip(1).all(|l| l.starts_with("new,")), "{only_new}");

    let out = ok(&run(&["lake", "compact", "--lake", &lake, "--before", "2026-01-04"]));
    assert!(out.contains("compacted 12 cluster-days (48 snapshots"), "{out}");
    assert_eq!(answers(&lake), before, "compaction changes no answer");
    let out = ok(&run(&["evidence", "verify", "--lake", &lake, "--trust-lake-keys"]));
    assert!(out.contains("VERIFIED"), "{out}");
}

#[test]
fn bad_arguments_are_named() {
    let lake = quickstart_lake().to_str().unwrap().to_string();
    let cases: &[(&[&str], &str)] = &[
        (&["evidence", "at", "yesterday"], "TIME"),
        (&["evidence", "diff", "2026-01-01", "soon"], "TO"),
        (&["evidence", "trend", "--from", "2026-01-01", "--bucket", "0x"], "--bucket"),
        (&["evidence", "at", "now", "--status", "failing"], "--status"),
        (&["evidence", "at", "now", "--group", "no group"], "--group"),
        (&["evidence", "at", "now", "--format", "parquet"], "--out"),
        (&["evidence", "query", "--named", "failing_at", "--param", "at=now"], "cluster"),
        (&["evidence", "query", "--named", "nope"], "no named query"),
        (&["evidence", "query", "--named", "failing_at", "--param", "at"], "NAME=VALUE"),
    ];
    for (args, needle) in cases {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--lake", &lake]);
        let o = run(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?} should name {needle}: {}", stderr(&o));
    }
}

#[test]
fn parquet_output_reads_back_with_its_schema_even_when_empty() {
    let lake = quickstart_lake().to_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("empty.parquet");
    ok(&run(&[
        "evidence",
        "query",
        "--lake",
        &lake,
        "--format",
        "parquet",
        "--out",
        out.to_str().unwrap(),
        "select cluster, observed_at from snapshots where 1 = 0",
    ]));
    let bytes = bytes::Bytes::from(std::fs::read(&out).unwrap());
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
    let names: Vec<_> = reader.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["cluster", "observed_at"]);
    let listed = ok(&run(&["evidence", "query", "--list-named"]));
    for name in ["posture_at", "failing_at", "compliance_at", "compliance_trend", "control_history", "posture_diff"] {
        assert!(listed.contains(name), "{listed}");
    }
}

/// A child process killed when the test ends, pass or fail.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Scale-out with real processes: `tarn engine scheduler` and `tarn engine executor` over a
/// lake partly compacted (so scans select row groups of compacted objects), and every shortcut
/// and a named query through `--engine ballista://…` print exactly what the embedded engine
/// prints.
#[test]
fn scheduler_and_executor_processes_answer_like_the_embedded_engine() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_arg(dir.path());
    ok(&run(&[
        "bench",
        "generate",
        "--lake",
        &lake,
        "--clusters",
        "3",
        "--workloads",
        "6",
        "--controls",
        "4",
        "--scans-per-day",
        "4",
        "--days",
        "3",
        "--start",
        "2026-01-01",
    ]));
    ok(&run(&["lake", "compact", "--lake", &lake, "--before", "2026-01-03"]));
    let embedded = answers(&lake);

    let (sched, flight, grpc) = (free_port(), free_port(), free_port());
    let _scheduler = Child(
        tarn()
            .args(["engine", "scheduler", "--lake", &lake, "--bind", &format!("127.0.0.1:{sched}")])
            .args(["--external-host", "127.0.0.1"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let _executor = Child(
        tarn()
            .args(["engine", "executor", "--lake", &lake, "--scheduler", &format!("127.0.0.1:{sched}")])
            .args(["--bind-host", "127.0.0.1", "--external-host", "127.0.0.1", "--vcores", "2"])
            .args(["--port", &flight.to_string(), "--grpc-port", &grpc.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let engine = format!("ballista://127.0.0.1:{sched}");
    // The executor registers with the scheduler on its first poll: wait for a query to run.
    let started = std::time::Instant::now();
    loop {
        let o = run(&["evidence", "query", "--lake", &lake, "--engine", &engine, "select count(*) from snapshots"]);
        if o.status.success() {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "scheduler never answered: {}", stderr(&o));
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let remote = answers_on(&lake, &engine);
    for (i, (r, e)) in remote.iter().zip(&embedded).enumerate() {
        assert!(e.lines().count() > 1, "answer {i} has no rows: the comparison would prove nothing");
        assert_eq!(r, e, "answer {i} differs on Ballista");
    }

    // The same, with a scheduler and an executor inside the querying process.
    assert_eq!(answers_on(&lake, "ballista-standalone"), embedded, "in-process Ballista differs");

    // A bad engine address is named.
    let o = run(&["evidence", "at", "now", "--lake", &lake, "--engine", "ballista://nohost"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("expected ballista://HOST:PORT"), "{}", stderr(&o));
}
