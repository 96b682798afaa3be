//! Alert latency: from a snapshot's commit to its event arriving at a real CloudEvents receiver.
//!
//! ```text
//! cargo run --release -p tarn-benches --bin alerts -- [--regressions 100] [--clusters 20] [--poll 250ms] [--mode binary|structured]
//! ```
//!
//! A lake with `--clusters` clusters (one baseline snapshot each), the alert daemon running in
//! this process (`tarn_alerts::run::run`, exactly what `tarn alerts run` runs) with a webhook
//! sink, and the Python CloudEvents SDK receiver (`crates/cli/tests/alerts/receiver.py`) on
//! loopback. Each regression commits a snapshot in which one workload's control turns from pass
//! to fail (round-robin over the clusters), waits for its event, then commits the recovery. The
//! latency is the receiver's arrival time minus the moment the writer returned from the commit;
//! the daemon finds the snapshot by polling, so each regression is committed at a random moment
//! of the poll cycle and the latency is the wait for the next poll plus evaluation and delivery.
//! No peer exists for this measurement.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use tarn_alerts::rules::parse;
use tarn_alerts::run::{RunOptions, run};
use tarn_lake::{Lake, SnapshotInput, SnapshotWriter, StoreOptions};
use tarn_model::{AgentInfo, EvaluationRow, Severity, Status, SystemClock};
use tarn_trust::keys::SigningKeyPair;

struct Args {
    regressions: usize,
    clusters: usize,
    poll: Duration,
    mode: String,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args { regressions: 100, clusters: 20, poll: Duration::from_millis(250), mode: "binary".into() };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut value = || it.next().with_context(|| format!("{k} needs a value"));
        match k.as_str() {
            "--regressions" => a.regressions = value()?.parse()?,
            "--clusters" => a.clusters = value()?.parse()?,
            "--poll" => a.poll = humantime::parse_duration(&value()?)?,
            "--mode" => a.mode = value()?,
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(a)
}

/// 30 workloads × 10 controls; `failing` names the one workload whose control 0 fails.
fn rows(failing: Option<usize>) -> Vec<EvaluationRow> {
    let mut out = Vec::new();
    for w in 0..30 {
        for c in 0..10 {
            let fail = failing == Some(w) && c == 0;
            out.push(EvaluationRow {
                namespace: format!("ns-{}", w % 5),
                workload_kind: "Deployment".into(),
                workload_name: format!("app-{w}"),
                container: "main".into(),
                image: format!("registry.example/app-{w}:1"),
                image_digest: String::new(),
                framework: "pss-restricted".into(),
                framework_version: "v1.33".into(),
                control_id: format!("control-{c}"),
                status: if fail { Status::Fail } else { Status::Pass },
                severity: Severity::High,
                message: if fail { "privileged".into() } else { String::new() },
            });
        }
    }
    out
}

fn input(cluster: &str) -> SnapshotInput {
    let now = Utc::now();
    SnapshotInput {
        cluster: cluster.parse().expect("valid"),
        group_path: "/bench".parse().expect("valid"),
        observed_at: now,
        evaluated_at: now,
        agent: AgentInfo { id: "bench".into(), version: "0".into() },
        policy_digest: "sha256:00".into(),
        inventory_digest: "sha256:00".into(),
        frameworks: vec!["pss-restricted@v1.33".into()],
    }
}

fn received(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("id").is_some() || v.get("error").is_some())
        .collect()
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let dir = tempfile::tempdir()?;
    let lake = Lake::open(dir.path().join("lake").to_str().expect("utf-8"), &StoreOptions::default())?;
    let key = SigningKeyPair::generate();
    let clock = SystemClock;
    let mut writer = SnapshotWriter::new(&lake, &key, &clock);
    let clusters: Vec<String> = (0..a.clusters).map(|i| format!("c{i:03}")).collect();
    for c in &clusters {
        writer.write(input(c), rows(None)).await?;
    }

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = dir.path().join("received.jsonl");
    let mut receiver = Command::new("python3")
        .arg(root.join("crates/cli/tests/alerts/receiver.py"))
        .arg("--out")
        .arg(&out)
        .arg("--ce-schema")
        .arg(root.join("fixtures/cloudevents/cloudevents.json"))
        .arg("--data-schema")
        .arg(root.join("schemas/alert-event.v1.json"))
        .stdout(Stdio::piped())
        .spawn()
        .context("python3 with cloudevents 2.x and jsonschema (pip install 'cloudevents>=2.2' jsonschema)")?;
    let mut line = String::new();
    BufReader::new(receiver.stdout.take().expect("piped")).read_line(&mut line)?;
    let port = serde_json::from_str::<serde_json::Value>(&line)?["port"].as_u64().context("receiver port")?;

    let rules = format!(
        "sinks:\n  - name: hook\n    type: webhook\n    url: http://127.0.0.1:{port}/\n    mode: {}\n\
         defaults:\n  sinks: [hook]\n  dedup_window: 0s\nrules:\n  - name: regressions\n    condition:\n      \
         transition: {{ on: [degraded] }}\n",
        a.mode
    );
    let rules = Arc::new(parse("bench-rules.yaml", &rules, None)?);
    let (tx, rx) = tokio::sync::watch::channel(false);
    let daemon = tokio::spawn(run(lake.clone(), rules, RunOptions { poll: a.poll, once: false }, rx, |_| {}));
    // Let the daemon place its first-run cursors (existing snapshots are skipped).
    let deadline = Instant::now() + Duration::from_secs(30);
    for c in &clusters {
        while tarn_lake::alerts::get_cursor(&lake, &c.parse()?).await?.is_none() {
            if Instant::now() > deadline {
                bail!("the daemon did not start");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    println!(
        "alerts latency: {} regressions over {} clusters, poll {}, {} mode, Python CloudEvents SDK receiver",
        a.regressions,
        a.clusters,
        humantime::format_duration(a.poll),
        a.mode
    );
    let mut committed: BTreeMap<String, chrono::DateTime<Utc>> = BTreeMap::new();
    let started = Instant::now();
    // Regressions land at random moments of the daemon's poll cycle (xorshift, fixed seed).
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..a.regressions {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(a.poll.mul_f64((seed >> 11) as f64 / (1u64 << 53) as f64)).await;
        let c = &clusters[i % clusters.len()];
        let w = writer.write(input(c), rows(Some(i % 30))).await?;
        committed.insert(w.record.snapshot_id.to_string(), Utc::now());
        let deadline = Instant::now() + Duration::from_secs(60);
        while received(&out).len() < i + 1 {
            if Instant::now() > deadline {
                bail!("regression {i} in {c}: no event after 60 s");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        writer.write(input(c), rows(None)).await?;
    }
    let elapsed = started.elapsed();
    let _ = tx.send(true);
    let summary = daemon.await??;
    let _ = receiver.kill();

    let events = received(&out);
    if let Some(e) = events.iter().find(|e| e.get("error").is_some()) {
        bail!("the receiver rejected an event: {e}");
    }
    let mut lat = Vec::new();
    for e in &events {
        let sid = e["data"]["snapshot"]["id"].as_str().context("snapshot id")?;
        let t0 = committed.get(sid).context("an event for an unknown snapshot")?;
        let arrived = e["received_at"].as_f64().context("received_at")?;
        lat.push(arrived * 1000.0 - t0.timestamp_micros() as f64 / 1000.0);
    }
    lat.sort_by(f64::total_cmp);
    println!(
        "events received: {} (each exactly once: {}), daemon: {} snapshots evaluated, {} delivered",
        events.len(),
        events.iter().map(|e| e["id"].as_str().unwrap_or("")).collect::<std::collections::BTreeSet<_>>().len()
            == events.len(),
        summary.snapshots,
        summary.delivered
    );
    println!(
        "commit -> delivered: median {:.0} ms, p99 {:.0} ms, min {:.0} ms, max {:.0} ms ({:.1} s for the run)",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        lat[0],
        lat[lat.len() - 1],
        elapsed.as_secs_f64()
    );
    Ok(())
}
