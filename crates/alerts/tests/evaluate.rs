//! Alert evaluation over a real (in-memory) lake: cooldowns hold back and later announce,
//! re-evaluation after a lost cursor or a restart stores nothing twice.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use object_store::ObjectStoreExt;
use tarn_alerts::Evaluator;
use tarn_alerts::rules::parse;
use tarn_lake::alerts::{self as store, AlertRecord};
use tarn_lake::{Lake, SnapshotInput, SnapshotWriter, StoreOptions};
use tarn_model::{AgentInfo, EvaluationRow, FixedClock, Severity, Status};
use tarn_trust::keys::SigningKeyPair;

fn rows(bad: &[&str]) -> Vec<EvaluationRow> {
    ["w1", "w2", "w3", "w4"]
        .iter()
        .flat_map(|w| {
            ["privileged", "hostPorts"].iter().map(move |c| {
                let fail = bad.contains(w) && *c == "privileged";
                EvaluationRow {
                    namespace: "ns".into(),
                    workload_kind: "Deployment".into(),
                    workload_name: (*w).into(),
                    container: "main".into(),
                    image: "img".into(),
                    image_digest: String::new(),
                    framework: "pss-baseline".into(),
                    framework_version: "v1.33".into(),
                    control_id: (*c).into(),
                    status: if fail { Status::Fail } else { Status::Pass },
                    severity: Severity::High,
                    message: if fail { "privileged container".into() } else { String::new() },
                }
            })
        })
        .collect()
}

struct Setup {
    lake: Lake,
    key: SigningKeyPair,
    t0: DateTime<Utc>,
}

impl Setup {
    fn new() -> Self {
        Setup {
            lake: Lake::open("memory://", &StoreOptions::default()).unwrap(),
            key: SigningKeyPair::generate(),
            t0: "2026-03-01T00:00:00Z".parse().unwrap(),
        }
    }

    /// A snapshot of c1 observed `minutes` after t0 with `bad` workloads privileged.
    async fn snap(&self, minutes: i64, bad: &[&str]) {
        self.snap_in("c1", minutes, bad).await
    }

    async fn snap_in(&self, cluster: &str, minutes: i64, bad: &[&str]) {
        let at = self.t0 + Duration::minutes(minutes);
        let clock = FixedClock::new(at);
        let input = SnapshotInput {
            cluster: cluster.parse().unwrap(),
            group_path: "/acme".parse().unwrap(),
            observed_at: at,
            evaluated_at: at,
            agent: AgentInfo { id: "t".into(), version: "0".into() },
            policy_digest: "sha256:00".into(),
            inventory_digest: "sha256:00".into(),
            frameworks: vec!["pss-baseline@v1.33".into()],
        };
        SnapshotWriter::new(&self.lake, &self.key, &clock).write(input, rows(bad)).await.unwrap();
    }

    async fn evaluator(&self, rules: &str) -> Evaluator {
        let rs = parse("rules.yaml", rules, None).unwrap();
        Evaluator::new(self.lake.clone(), Arc::new(rs)).await.unwrap()
    }

    async fn events(&self) -> Vec<AlertRecord> {
        store::events(&self.lake).await.unwrap()
    }
}

const SINK: &str = "sinks:\n  - name: out\n    type: file\n    path: /dev/null\ndefaults:\n  sinks: [out]\n";

fn names(e: &AlertRecord) -> Vec<String> {
    let mut v: Vec<String> = e.event["data"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["workload_name"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_cooldown_holds_findings_back_and_announces_them_after_it() {
    let s = Setup::new();
    let rules = format!("{SINK}rules:\n  - name: r\n    condition:\n      transition: {{}}\n    cooldown: 1h\n");
    s.snap(0, &[]).await;
    let ev = s.evaluator(&rules).await;
    ev.pass().await.unwrap();
    s.snap(10, &["w1"]).await;
    s.snap(20, &["w1", "w2"]).await;
    s.snap(30, &["w1", "w2", "w3"]).await;
    let p = ev.pass().await.unwrap();
    assert_eq!(p.events.len(), 1, "only the first regression is announced during the cooldown");
    assert_eq!(p.held_back, 2);
    // Nothing new, still cooling down: nothing goes out.
    s.snap(40, &["w1", "w2", "w3"]).await;
    assert!(ev.pass().await.unwrap().events.is_empty());
    // After the cooldown the held-back findings go out, even with no new change.
    s.snap(80, &["w1", "w2", "w3"]).await;
    let p = ev.pass().await.unwrap();
    assert_eq!(p.events.len(), 1);
    let all = s.events().await;
    assert_eq!(all.len(), 2);
    assert_eq!(names(&all[0]), ["w1"]);
    assert_eq!(names(&all[1]), ["w2", "w3"]);
    assert_eq!(all[1].event["data"]["held_back_cycles"], 2);
    assert_eq!(all[1].seq, Some(6));
}

#[tokio::test]
async fn a_threshold_crossed_during_its_cooldown_is_announced_after_it() {
    let s = Setup::new();
    // 4 workloads, 2 controls: one privileged workload makes the score (75 + 100) / 2 = 87.5 %.
    let rules = format!(
        "{SINK}rules:\n  - name: floor\n    condition:\n      threshold: {{ framework: pss-baseline, below: 90 }}\n    cooldown: 1h\n"
    );
    s.snap(0, &[]).await;
    let ev = s.evaluator(&rules).await;
    ev.pass().await.unwrap();
    s.snap(10, &["w1"]).await; // crosses: fires
    s.snap(20, &[]).await; // recovers
    s.snap(30, &["w2"]).await; // crosses again within the cooldown: held back
    let p = ev.pass().await.unwrap();
    assert_eq!(p.events.len(), 1);
    s.snap(50, &["w2"]).await; // still below, still cooling: nothing
    assert!(ev.pass().await.unwrap().events.is_empty());
    s.snap(75, &["w2"]).await; // cooldown over: the held-back crossing goes out
    let p = ev.pass().await.unwrap();
    assert_eq!(p.events.len(), 1);
    let all = s.events().await;
    assert_eq!(all[1].event["data"]["compliance_percent"], 87.5);
    s.snap(90, &["w2"]).await; // a level, not an edge: nothing more
    assert!(ev.pass().await.unwrap().events.is_empty());
}

#[tokio::test]
async fn re_evaluation_after_a_lost_cursor_or_a_restart_stores_nothing_twice() {
    let s = Setup::new();
    let rules = format!("{SINK}  skip_existing: false\nrules:\n  - name: r\n    condition:\n      transition: {{}}\n");
    for (i, bad) in [&[][..], &["w1"], &[], &["w1", "w2"], &["w3"]].iter().enumerate() {
        s.snap(i as i64 * 10, bad).await;
    }
    let first = s.evaluator(&rules).await.pass().await.unwrap();
    // w1 degrades; recovers; degrades again with w2 (w1 de-duplicated within 24 h); w3.
    assert_eq!(first.events.len(), 3);
    let all = s.events().await;
    assert_eq!(names(&all[1]), ["w2"]);
    // A new process with the cursor gone evaluates everything again: same ids, nothing new.
    let c: tarn_model::ClusterName = "c1".parse().unwrap();
    s.lake.store().delete(&store::cursor_key(&c)).await.unwrap();
    let again = s.evaluator(&rules).await.pass().await.unwrap();
    assert!(again.events.is_empty());
    assert_eq!(again.already_stored, 3);
    assert_eq!(s.events().await.len(), 3);
}

#[tokio::test]
async fn a_scope_wide_threshold_fires_when_the_group_as_a_whole_crosses() {
    let s = Setup::new();
    let rules = format!(
        "{SINK}rules:\n  - name: acme-floor\n    scope: {{ groups: [/acme] }}\n    condition:\n      \
threshold: {{ framework: pss-baseline, below: 90, per: scope }}\n"
    );
    s.snap_in("c1", 0, &[]).await;
    s.snap_in("c2", 0, &[]).await;
    let ev = s.evaluator(&rules).await;
    ev.pass().await.unwrap();
    // c1 alone: privileged passes on 7 of 8 workloads across the group, (87.5 + 100) / 2 = 93.75 %.
    s.snap_in("c1", 10, &["w1"]).await;
    assert!(ev.pass().await.unwrap().events.is_empty());
    // c2 too: 6 of 8, (75 + 100) / 2 = 87.5 %: the group crosses, at c2's snapshot.
    s.snap_in("c2", 20, &["w1"]).await;
    let p = ev.pass().await.unwrap();
    assert_eq!(p.events.len(), 1, "{p:?}");
    let e = &s.events().await[0];
    assert_eq!(e.cluster, "c2");
    assert_eq!(e.event["data"]["compliance_percent"], 87.5);
    assert_eq!(e.event["data"]["previous_percent"], 93.75);
    assert_eq!(e.event["data"]["scope"], "/acme");
    // Worse, but already below: no second event.
    s.snap_in("c1", 30, &["w1", "w2"]).await;
    assert!(ev.pass().await.unwrap().events.is_empty());
}

#[tokio::test]
async fn an_unreadable_snapshot_is_named_and_skipped_and_the_next_compares_with_the_last_readable() {
    let s = Setup::new();
    let rules = format!("{SINK}rules:\n  - name: r\n    condition:\n      transition: {{}}\n");
    s.snap(0, &[]).await;
    let ev = s.evaluator(&rules).await;
    ev.pass().await.unwrap();
    s.snap(10, &["w1"]).await;
    s.snap(20, &["w1", "w2"]).await;
    // Damage seq 2's object: its rows cannot be read.
    let c: tarn_model::ClusterName = "c1".parse().unwrap();
    let entry = tarn_lake::log::get_entry(&s.lake, &c, 2).await.unwrap().unwrap().parse().unwrap();
    let path = object_store::path::Path::from(entry.snapshot.object_path.as_str());
    s.lake.store().put(&path, object_store::PutPayload::from_static(b"not parquet")).await.unwrap();
    let p = ev.pass().await.unwrap();
    assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
    assert!(p.problems[0].contains("seq 2: skipped, unreadable"), "{:?}", p.problems);
    // Seq 3 is compared with seq 1: both workloads are new failures, in one event.
    assert_eq!(p.events.len(), 1);
    assert_eq!(names(&s.events().await[0]), ["w1", "w2"]);
    // A later pass does not trip over it again.
    s.snap(30, &["w1", "w2", "w3"]).await;
    let p = ev.pass().await.unwrap();
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert_eq!(names(&s.events().await[1]), ["w3"]);
}
