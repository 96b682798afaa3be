//! Table-driven tests of the time functions on a small lake with hand-checked answers.
//!
//! The lake (D = 2026-03-01, times UTC):
//!
//! | snapshot | cluster (group)        | observed at    | rows (ns/kind/name container: control status)                  |
//! |----------|------------------------|----------------|-----------------------------------------------------------------|
//! | S1       | prod-a (/acme/prod)    | D 06:00        | web app: privileged fail, web sidecar: privileged pass,          |
//! |          |                        |                | web app: hostNetwork pass, db: privileged pass, hostNetwork pass,|
//! |          |                        |                | cis 5.1.1 skip (no workload)                                     |
//! | S2       | prod-a                 | D 18:00        | as S1, but web hostNetwork fail, plus cron: privileged fail      |
//! | S3       | prod-a                 | D 23:30        | web privileged pass (both containers), web hostNetwork fail,     |
//! |          |                        |                | db pass, skip; cron gone                                         |
//! | S4       | prod-a                 | D+1 06:00      | web priv pass, web hostNetwork fail, db privileged fail, db hN pass |
//! | S5       | prod-a                 | D+1 06:00 (=S4, later log position) | web pass/pass, db privileged fail, db hostNetwork warn |
//! | B1       | prod-b (/acme/prod/eu) | D 07:00 (never again) | api: privileged fail, hostNetwork pass                  |
//! | C1       | dev-c (/acme/dev)      | D+1 12:00 (appears late) | job: privileged error, hostNetwork pass              |
//!
//! Every case runs three times: answered from the log alone, from a catalog checkpoint, and
//! after compaction. The answers must not change.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, RecordBatch};
use chrono::{DateTime, Duration, TimeZone, Utc};
use tarn_lake::compact::{CompactOptions, compact};
use tarn_lake::{CatalogIndex, Lake, SnapshotInput, SnapshotWriter, StoreOptions, write_checkpoint};
use tarn_model::{AgentInfo, EvaluationRow, Severity, Status, SystemClock};
use tarn_query::{QueryEngine, QueryOptions};
use tarn_trust::keys::SigningKeyPair;

fn d(h: i64, m: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + Duration::hours(h) + Duration::minutes(m)
}

fn row(ns: &str, kind: &str, name: &str, container: &str, control: &str, status: Status) -> EvaluationRow {
    let framework = if control == "5.1.1" { "cis-k8s" } else { "pss-baseline" };
    EvaluationRow {
        namespace: ns.into(),
        workload_kind: kind.into(),
        workload_name: name.into(),
        container: container.into(),
        image: if name.is_empty() { String::new() } else { format!("registry.example/{name}:1") },
        image_digest: String::new(),
        framework: framework.into(),
        framework_version: if framework == "cis-k8s" { "1.12".into() } else { "v1.37".into() },
        control_id: control.into(),
        status,
        severity: Severity::High,
        message: if status == Status::Pass { String::new() } else { format!("{name} {control} {status:?}") },
    }
}

use Status::{Error as E, Fail as F, Pass as P, Skip as S, Warn as W};

fn web(privileged_app: Status, host_network: Status) -> Vec<EvaluationRow> {
    vec![
        row("shop", "Deployment", "web", "app", "privileged", privileged_app),
        row("shop", "Deployment", "web", "sidecar", "privileged", P),
        row("shop", "Deployment", "web", "app", "hostNetwork", host_network),
    ]
}

fn db(privileged: Status, host_network: Status) -> Vec<EvaluationRow> {
    vec![
        row("shop", "StatefulSet", "db", "db", "privileged", privileged),
        row("shop", "StatefulSet", "db", "db", "hostNetwork", host_network),
    ]
}

fn skip_row() -> EvaluationRow {
    row("", "", "", "", "5.1.1", S)
}

struct Fixture {
    _dir: tempfile::TempDir,
    lake: Lake,
    /// snapshot id -> label (S1, …)
    labels: HashMap<String, String>,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap(), &StoreOptions::default()).unwrap();
    let key = SigningKeyPair::generate();
    let mut w = SnapshotWriter::new(&lake, &key, &SystemClock);
    let mut s2 = [web(F, F), db(P, P)].concat();
    s2.push(skip_row());
    s2.push(row("shop", "CronJob", "cron", "job", "privileged", F));
    // (label, cluster, group, observed at, rows)
    type Planned = (&'static str, &'static str, &'static str, DateTime<Utc>, Vec<EvaluationRow>);
    let plan: Vec<Planned> = vec![
        ("S1", "prod-a", "/acme/prod", d(6, 0), [web(F, P), db(P, P), vec![skip_row()]].concat()),
        ("S2", "prod-a", "/acme/prod", d(18, 0), s2),
        ("S3", "prod-a", "/acme/prod", d(23, 30), [web(P, F), db(P, P), vec![skip_row()]].concat()),
        (
            "B1",
            "prod-b",
            "/acme/prod/eu",
            d(7, 0),
            vec![
                row("api", "Deployment", "api", "api", "privileged", F),
                row("api", "Deployment", "api", "api", "hostNetwork", P),
            ],
        ),
        ("S4", "prod-a", "/acme/prod", d(30, 0), [web(P, F), db(F, P)].concat()),
        ("S5", "prod-a", "/acme/prod", d(30, 0), [web(P, P), db(F, W)].concat()),
        (
            "C1",
            "dev-c",
            "/acme/dev",
            d(36, 0),
            vec![
                row("batch", "Job", "job", "job", "privileged", E),
                row("batch", "Job", "job", "job", "hostNetwork", P),
            ],
        ),
    ];
    let mut labels = HashMap::new();
    for (label, cluster, group, at, rows) in plan {
        let input = SnapshotInput {
            cluster: cluster.parse().unwrap(),
            group_path: group.parse().unwrap(),
            observed_at: at,
            evaluated_at: at + Duration::minutes(1),
            agent: AgentInfo { id: "test".into(), version: "0".into() },
            policy_digest: format!("sha256:{}", "0".repeat(64)),
            inventory_digest: format!("sha256:{}", "1".repeat(64)),
            frameworks: vec!["pss-baseline".into(), "cis-k8s".into()],
        };
        let written = w.write(input, rows).await.unwrap();
        labels.insert(written.record.snapshot_id.to_string(), label.to_string());
    }
    Fixture { _dir: dir, lake, labels }
}

/// How the catalog is in place when the questions are asked.
#[derive(Debug, Clone, Copy)]
enum CatalogState {
    LogOnly,
    Checkpointed,
    Compacted,
}

async fn engine(f: &Fixture, state: CatalogState) -> QueryEngine {
    match state {
        CatalogState::LogOnly => {}
        CatalogState::Checkpointed => {
            write_checkpoint(&f.lake, &SystemClock, &HashMap::new()).await.unwrap();
        }
        CatalogState::Compacted => {
            let opts = CompactOptions { before: d(72, 0).date_naive(), min_snapshots: 2 };
            let report = compact(&f.lake, &SystemClock, &opts, &|_, _| {}).await.unwrap();
            assert_eq!((report.cluster_days, report.snapshots), (2, 5), "{report:?}");
        }
    }
    let index = CatalogIndex::open(&f.lake).await.unwrap();
    match state {
        CatalogState::LogOnly => assert!(index.checkpoint().is_none()),
        _ => assert_eq!(index.tail_len(), 0),
    }
    QueryEngine::with_index(index, QueryOptions::default()).unwrap()
}

/// Rows as `a|b|c` strings, snapshot ids replaced by their labels.
fn lines(f: &Fixture, batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let cols: Vec<Arc<dyn Array>> =
            b.columns().iter().map(|c| arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8).unwrap()).collect();
        for i in 0..b.num_rows() {
            let cells: Vec<String> = cols
                .iter()
                .map(|c| {
                    let s = c.as_any().downcast_ref::<arrow::array::StringArray>().unwrap();
                    if s.is_null(i) {
                        return "∅".to_string();
                    }
                    let v = s.value(i);
                    f.labels.get(v).cloned().unwrap_or_else(|| v.to_string())
                })
                .collect();
            out.push(cells.join("|"));
        }
    }
    out
}

struct Case {
    what: &'static str,
    sql: &'static str,
    want: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        what: "posture_at: each cluster's newest snapshot at or before T; a cluster not yet reporting is absent",
        sql: "select cluster, snapshot_id, count(*), bool_or(stale) from posture_at('2026-03-01T12:00:00Z') \
              group by cluster, snapshot_id order by cluster",
        want: &["prod-a|S1|6|false", "prod-b|B1|2|false"],
    },
    Case {
        what: "posture_at: a snapshot observed exactly at T counts",
        sql: "select distinct cluster, snapshot_id from posture_at('2026-03-01T18:00:00Z', 'prod-a')",
        want: &["prod-a|S2"],
    },
    Case {
        what: "posture_at: time-zone offsets are honoured (00:45+02:00 is 22:45 UTC on the day before)",
        sql: "select distinct cluster, snapshot_id, observed_at from posture_at('2026-03-02T00:45:00+02:00', 'prod-a')",
        want: &["prod-a|S2|2026-03-01T18:00:00Z"],
    },
    Case {
        what: "posture_at: equal timestamps, the later log position wins",
        sql: "select snapshot_id, workload_name, control_id, status from posture_at('2026-03-02T06:00:00Z', 'prod-a') \
              where workload_name = 'db' order by control_id",
        want: &["S5|db|hostNetwork|warn", "S5|db|privileged|fail"],
    },
    Case {
        what: "posture_at: stale clusters are reported and flagged, never dropped; exactly 24 h old is not stale",
        sql: "select distinct cluster, snapshot_id, stale from posture_at('2026-03-03T12:00:00Z') order by cluster",
        want: &["dev-c|C1|false", "prod-a|S5|true", "prod-b|B1|true"],
    },
    Case {
        what: "posture_at: a group scope takes its descendants and nothing that merely shares a prefix",
        sql: "select distinct cluster from posture_at('2026-03-02T13:00:00Z', '/acme/prod') order by cluster",
        want: &["prod-a", "prod-b"],
    },
    Case {
        what: "posture_at: a sub-group",
        sql: "select distinct cluster from posture_at('2026-03-02T13:00:00Z', '/acme/prod/eu')",
        want: &["prod-b"],
    },
    Case {
        what: "posture_at: a prefix that is not a group boundary matches nothing",
        sql: "select count(*) from posture_at('2026-03-02T13:00:00Z', '/acme/pro')",
        want: &["0"],
    },
    Case {
        what: "posture_at: before anything was observed",
        sql: "select count(*) from posture_at('2026-02-28T00:00:00Z')",
        want: &["0"],
    },
    Case {
        what: "posture_between: inclusive at both ends, every row traced to its signed object",
        sql: "select p.snapshot_id, count(*), bool_and(p.object_sha256 = s.object_sha256 and p.seq = s.seq \
              and p.object_path = s.object_path) \
              from posture_between('2026-03-01T06:00:00Z', '2026-03-01T18:00:00Z') p \
              join snapshots s on p.snapshot_id = s.snapshot_id group by p.snapshot_id order by min(p.observed_at)",
        want: &["S1|6|true", "B1|2|true", "S2|7|true"],
    },
    Case {
        what: "posture_between: a cluster scope, across midnight",
        sql: "select snapshot_id, count(*) from posture_between('2026-03-01T20:00:00Z', '2026-03-02T06:00:00Z', 'prod-a') \
              group by snapshot_id order by min(seq)",
        want: &["S3|6", "S4|5", "S5|5"],
    },
    Case {
        what: "posture_diff: new failures, fixed, still failing; a cluster that appears brings new failures",
        sql: "select change, cluster, workload_name, control_id, status_before, status_after, snapshot_before, \
              snapshot_after from posture_diff('2026-03-01T12:00:00Z', '2026-03-02T12:00:00Z') \
              order by change, cluster, workload_name, control_id",
        want: &[
            "fixed|prod-a|web|privileged|fail|pass|S1|S5",
            "new|dev-c|job|privileged|∅|error|∅|C1",
            "new|prod-a|db|privileged|pass|fail|S1|S5",
            "still_failing|prod-b|api|privileged|fail|fail|B1|B1",
        ],
    },
    Case {
        what: "posture_diff: a failing workload that disappears is gone; failing on either side is still failing",
        sql: "select change, cluster, workload_name, control_id, status_before, status_after \
              from posture_diff('2026-03-01T18:00:00Z', '2026-03-01T23:59:00Z') \
              order by change, cluster, workload_name, control_id",
        want: &[
            "fixed|prod-a|web|privileged|fail|pass",
            "gone|prod-a|cron|privileged|fail|∅",
            "still_failing|prod-a|web|hostNetwork|fail|fail",
            "still_failing|prod-b|api|privileged|fail|fail",
        ],
    },
    Case {
        what: "posture_diff: the stale flag marks a side answered by a stale snapshot",
        sql: "select cluster, stale from posture_diff('2026-03-01T12:00:00Z', '2026-03-02T12:00:00Z') \
              where cluster = 'prod-b'",
        want: &["prod-b|true"],
    },
    Case {
        what: "compliance_at per cluster: worst status per resource, skip not evaluated, framework % = mean of controls",
        sql: "select cluster, framework, controls, pass, fail, round(compliance_pct, 2), stale \
              from compliance_at('2026-03-01T12:00:00Z', 'cluster') order by cluster, framework",
        want: &[
            // privileged: web fail (app fails, sidecar passes), db pass -> 50 %; hostNetwork 100 %.
            "prod-a|cis-k8s|0|0|0|∅|false",
            "prod-a|pss-baseline|2|3|1|75.0|false",
            "prod-b|pss-baseline|2|1|1|50.0|false",
        ],
    },
    Case {
        what: "compliance_at for the fleet: resources summed over clusters, stale clusters counted, not scored",
        sql: "select framework, clusters, stale_clusters, pass, fail, warn, error, round(compliance_pct, 2) \
              from compliance_at('2026-03-03T11:00:00Z') where framework = 'pss-baseline'",
        // prod-a (S5, 29 h) and prod-b are stale; dev-c (23 h): privileged error, hostNetwork pass.
        want: &["pss-baseline|1|2|1|0|0|1|50.0"],
    },
    Case {
        what: "compliance_at by control",
        sql: "select control_id, pass, fail, warn, error, round(compliance_pct, 2) \
              from compliance_at('2026-03-02T13:00:00Z', 'control') where framework = 'pss-baseline' order by control_id",
        // prod-a S5, prod-b B1 (30 h: stale), dev-c C1.
        want: &["hostNetwork|2|0|1|0|66.67", "privileged|1|1|0|1|33.33"],
    },
    Case {
        what: "compliance_trend: each bucket scores the posture strictly before its end; stale clusters left out",
        sql: "select bucket_start, bucket_end, clusters, stale_clusters, round(compliance_pct, 2) \
              from compliance_trend('1 day', '2026-03-01T00:00:00Z', '2026-03-03T00:00:00Z') \
              where framework = 'pss-baseline' order by bucket_start",
        want: &[
            // end D+1 00:00: S3 + B1: privileged 2/3, hostNetwork 2/3.
            "2026-03-01T00:00:00Z|2026-03-02T00:00:00Z|2|0|66.67",
            // end D+2 00:00: S5 + C1 (B1 is 41 h old): privileged 1/3, hostNetwork 2/3.
            "2026-03-02T00:00:00Z|2026-03-03T00:00:00Z|2|1|50.0",
        ],
    },
    Case {
        what: "compliance_trend: a snapshot exactly at a bucket's end belongs to the next bucket; the last bucket is cut at t2",
        sql: "select bucket_end, round(compliance_pct, 2) from compliance_trend('6h', '2026-03-01T12:00:00Z', \
              '2026-03-02T09:00:00Z', 'cluster', 'prod-a') where framework = 'pss-baseline' order by bucket_start",
        want: &[
            // Before 18:00: S1 (S2 is observed at 18:00 exactly): privileged 1/2, hostNetwork 2/2.
            "2026-03-01T18:00:00Z|75.0",
            // Before midnight: S3: privileged 2/2, hostNetwork 1/2.
            "2026-03-02T00:00:00Z|75.0",
            // Before 06:00: still S3 (S4 and S5 are observed at 06:00 exactly).
            "2026-03-02T06:00:00Z|75.0",
            // Cut at 09:00: S5: privileged 1/2 (db fails), hostNetwork 1/2 (db warns).
            "2026-03-02T09:00:00Z|50.0",
        ],
    },
    Case {
        what: "compliance_trend by cluster: clusters appear when they first report",
        sql: "select bucket_start, cluster from compliance_trend('1 day', '2026-03-01', '2026-03-03', 'cluster') \
              where framework = 'pss-baseline' order by bucket_start, cluster",
        want: &[
            "2026-03-01T00:00:00Z|prod-a",
            "2026-03-01T00:00:00Z|prod-b",
            "2026-03-02T00:00:00Z|dev-c",
            "2026-03-02T00:00:00Z|prod-a",
        ],
    },
];

async fn run_cases(state: CatalogState, f: &Fixture) {
    let e = engine(f, state).await;
    check_cases(&e, state, f).await;
}

async fn check_cases(e: &QueryEngine, state: CatalogState, f: &Fixture) {
    let mut failures = Vec::new();
    for c in CASES {
        match e.sql(c.sql).await {
            Ok(b) => {
                let got = lines(f, &b);
                if got != c.want {
                    failures.push(format!(
                        "{:?}: {}\n  sql:  {}\n  want: {:?}\n  got:  {:?}",
                        state, c.what, c.sql, c.want, got
                    ));
                }
            }
            Err(err) => failures.push(format!("{:?}: {}\n  sql: {}\n  error: {err}", state, c.what, c.sql)),
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), CASES.len(), failures.join("\n\n"));
}

#[tokio::test]
async fn time_functions_answer_the_hand_checked_questions_from_log_checkpoint_and_compaction() {
    let f = fixture().await;
    run_cases(CatalogState::LogOnly, &f).await;
    run_cases(CatalogState::Checkpointed, &f).await;
    run_cases(CatalogState::Compacted, &f).await;
}

/// compliance_at computed by hand in SQL from the rows posture_at returns.
const SCORE_BY_HAND: &str = "
with resources as (
    select cluster, framework, control_id, namespace, workload_kind, workload_name,
           max(case status when 'error' then 4 when 'fail' then 3 when 'warn' then 2 when 'pass' then 1 else 0 end) as worst
    from posture_at('{at}')
    group by cluster, framework, control_id, namespace, workload_kind, workload_name
), controls as (
    select cluster, framework, control_id,
           sum(case when worst = 1 then 1 else 0 end) as pass,
           sum(case when worst >= 1 then 1 else 0 end) as evaluated
    from resources group by cluster, framework, control_id
)
select cluster, framework, cast(sum(pass) as bigint),
       round(avg(case when evaluated > 0 then pass * 100.0 / evaluated end), 6)
from controls group by cluster, framework order by cluster, framework";

const SCORE_FROM_ROLLUPS: &str = "
select cluster, framework, cast(pass as bigint), round(compliance_pct, 6)
from compliance_at('{at}', 'cluster') order by cluster, framework";

async fn scores_agree(e: &QueryEngine, f: &Fixture, at: &str) -> usize {
    let hand = lines(f, &e.sql(&SCORE_BY_HAND.replace("{at}", at)).await.unwrap());
    let rollups = lines(f, &e.sql(&SCORE_FROM_ROLLUPS.replace("{at}", at)).await.unwrap());
    assert_eq!(rollups, hand, "at {at}");
    hand.len()
}

#[tokio::test]
async fn rollup_scores_equal_scores_computed_from_rows() {
    let f = fixture().await;
    let e = engine(&f, CatalogState::Checkpointed).await;
    for at in ["2026-03-01T12:00:00Z", "2026-03-01T23:59:00Z", "2026-03-02T06:00:00Z", "2026-03-05T00:00:00Z"] {
        assert!(scores_agree(&e, &f, at).await > 0);
    }
}

#[tokio::test]
async fn golden_v1_lake_scores_from_its_objects() {
    // Written before rollups existed: compliance functions compute them from the objects.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/golden/lake-v1");
    let lake = Lake::open(dir.to_str().unwrap(), &StoreOptions::default()).unwrap();
    let index = CatalogIndex::open(&lake).await.unwrap();
    let e = QueryEngine::with_index(index, QueryOptions::default()).unwrap();
    let f = Fixture { _dir: tempfile::tempdir().unwrap(), lake, labels: HashMap::new() };
    assert_eq!(scores_agree(&e, &f, "2026-01-06T12:00:00Z").await, 4, "alpha and beta × two PSS levels");
    // Hand-checked failure counts (fixtures/golden/README.md): beta on 2026-01-06 has 14.
    let got = lines(
        &f,
        &e.sql("select count(*) from posture_at('2026-01-06T12:00:00Z', 'beta') where status = 'fail'").await.unwrap(),
    );
    assert_eq!(got, ["14"]);
    let got = lines(
        &f,
        &e.sql("select count(*) from posture_between('2026-01-05', '2026-01-06T23:59:59Z') where status = 'fail'")
            .await
            .unwrap(),
    );
    assert_eq!(got, ["70"], "25 + 25 + 6 + 14");
}

#[tokio::test]
async fn nothing_reads_files_the_catalog_does_not_name() {
    let f = fixture().await;
    let e = engine(&f, CatalogState::LogOnly).await;
    let path = f._dir.path().join("evaluations");
    for sql in [
        format!("select * from read_parquet('{}')", path.display()),
        format!("select * from parquet_scan('{}')", path.display()),
        format!("select * from read_csv('{}')", path.display()),
        format!("select * from '{}'", path.display()),
        "select * from posture_at(now() - interval '1 day', (select max(cluster) from snapshots))".to_string(),
    ] {
        assert!(e.sql(&sql).await.is_err(), "{sql} must be rejected");
    }
    // Time arguments that are not constants or not times are named in the error.
    let err = e.sql("select * from posture_at('yesterday')").await.unwrap_err().to_string();
    assert!(err.contains("posture_at") && err.contains("yesterday"), "{err}");
    let err = e.sql("select * from compliance_trend('0s', '2026-03-01', '2026-03-02')").await.unwrap_err().to_string();
    assert!(err.contains("compliance_trend"), "{err}");
    let err = e.sql("select * from posture_at('2026-03-01', 'no/such group')").await.unwrap_err().to_string();
    assert!(err.contains("posture_at"), "{err}");
}

/// Whole tables and functions, with every column, so a difference anywhere shows.
const EVERYTHING: &[&str] = &[
    "select * from evaluations",
    "select * from posture_at('2026-03-02T06:00:00Z')",
    "select * from posture_at('2026-03-01T20:00:00Z', '/acme/prod') where cluster = 'prod-a'",
    "select * from posture_between('2026-03-01T12:00:00Z', '2026-03-02T12:00:00Z')",
    "select cluster, observed_at, message, seq from posture_between('2026-03-01T12:00:00Z', '2026-03-02T12:00:00Z') \
     where control_id = 'privileged' order by cluster, observed_at, message",
    "select * from posture_diff('2026-03-01T12:00:00Z', '2026-03-02T13:00:00Z')",
    "select * from compliance_at('2026-03-02T13:00:00Z', 'control')",
    "select * from compliance_trend('6 hours', '2026-03-01', '2026-03-03', 'group', '/acme')",
    "select * from snapshots",
    "select * from rollups",
    "select * from clusters",
    "select * from groups",
    // Joins and aggregates split into Ballista stages with shuffles between them.
    "select e.cluster, g.clusters_total, e.status, count(*) as n from evaluations e \
     join clusters c on c.cluster = e.cluster join groups g on g.group_path = c.group_path \
     group by e.cluster, g.clusters_total, e.status",
    "select framework, control_id, count(distinct snapshot_id) from posture_between('2026-03-01', '2026-03-03') \
     where status in ('fail', 'error') group by framework, control_id",
];

/// Rows as sorted lines (row order is only defined where a query orders it).
fn sorted(f: &Fixture, batches: &[RecordBatch]) -> Vec<String> {
    let mut l = lines(f, batches);
    l.sort();
    l
}

/// The scale-out engine: a Ballista scheduler and executor in this process, planning with
/// Tarn's codecs, must give the embedded engine's answers: the hand-checked cases, and every
/// row and column of every table and function, before and after checkpoints and compaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ballista_standalone_cluster_answers_exactly_like_the_embedded_engine() {
    let f = fixture().await;
    for state in [CatalogState::LogOnly, CatalogState::Checkpointed, CatalogState::Compacted] {
        let embedded = engine(&f, state).await;
        let remote = QueryEngine::ballista(embedded.index().clone(), QueryOptions::default(), None).await.unwrap();
        check_cases(&remote, state, &f).await;
        for sql in EVERYTHING {
            let want = sorted(&f, &embedded.sql(sql).await.unwrap());
            let got = sorted(&f, &remote.sql(sql).await.unwrap_or_else(|e| panic!("{state:?}: {sql}: {e}")));
            assert!(!want.is_empty(), "{state:?}: {sql}: no rows, the comparison would prove nothing");
            assert_eq!(got, want, "{state:?}: {sql}");
        }
        // The plan really ran on Ballista, not in this session.
        let plan = remote.sql("explain select count(*) from evaluations").await.unwrap();
        let text = lines(&f, &plan).join("\n");
        assert!(text.contains("distributed_plan") && text.contains("ShuffleWriterExec"), "{text}");
    }
}
