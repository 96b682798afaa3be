//! Write throughput of the evidence lake on one core.
//!
//! Measures evaluation rows per second through Tarn's whole write path (sort, Arrow encode,
//! Parquet/zstd encode, streamed SHA-256, statement signing, conditional log commit) and,
//! in the same run on the same rows and store, the peer: a plain arrow-rs Parquet write with
//! the same writer properties and nothing else. Prints both and the ratio.
//!
//! ```text
//! cargo run --release -p tarn-benches --bin write_throughput -- [--snapshots 50] [--rows 20000] [--lake DIR]
//! ```
//!
//! Rows come from the real PSS and CIS evaluators run over the quickstart manifests, replicated into
//! distinct workloads, so strings and status mixes are realistic.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{TimeZone, Utc};
use object_store::buffered::BufWriter;
use object_store::path::Path;
use parquet::arrow::AsyncArrowWriter;
use tarn_eval::frameworks::{Framework, evaluate};
use tarn_eval::inventory;
use tarn_lake::{Lake, SnapshotInput, SnapshotWriter, StoreOptions, rows_to_batch, writer_properties};
use tarn_model::{AgentInfo, EvaluationRow, SnapshotId, SystemClock};
use tarn_trust::keys::SigningKeyPair;

struct Args {
    snapshots: usize,
    rows: usize,
    lake: Option<PathBuf>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args { snapshots: 50, rows: 20_000, lake: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--snapshots" => a.snapshots = value()?.parse()?,
            "--rows" => a.rows = value()?.parse()?,
            "--lake" => a.lake = Some(value()?.into()),
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    Ok(a)
}

/// Realistic rows: the evaluator's output for the quickstart fleet, replicated.
fn sample_rows(target: usize) -> anyhow::Result<(Vec<EvaluationRow>, f64)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/quickstart");
    let dirs =
        ["base/shop", "base/platform", "base/dev-tools", "drift/debug-privileged.yaml", "drift/node-exporter.yaml"]
            .map(|d| root.join(d));
    let inv = inventory::read_paths(&dirs)?;
    anyhow::ensure!(inv.problems.is_empty(), "fixture problems: {:?}", inv.problems);
    let frameworks = Framework::defaults();
    let start = Instant::now();
    let mut rows = Vec::with_capacity(target);
    let mut copy = 0;
    let mut evaluated = 0usize;
    while rows.len() < target {
        let mut workloads = inv.workloads.clone();
        for w in &mut workloads {
            w.name = format!("{}-{copy}", w.name);
            w.namespace = format!("{}-{}", w.namespace, copy % 7);
        }
        evaluated += workloads.len();
        let round = inventory::Inventory { workloads, objects: inv.objects.clone(), ..Default::default() };
        rows.extend(evaluate(&round, &frameworks));
        copy += 1;
    }
    rows.truncate(target);
    let workloads_per_s = evaluated as f64 / start.elapsed().as_secs_f64();
    Ok((rows, workloads_per_s))
}

fn main() -> anyhow::Result<()> {
    let a = args()?;
    // One core: a current-thread runtime, and nothing else running in this process.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(run(a))
}

async fn run(a: Args) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = a.lake.clone().unwrap_or_else(|| tmp.path().join("lake"));
    let lake = Lake::open(dir.to_str().context("lake path is not UTF-8")?, &StoreOptions::default())?;
    let (rows, workloads_per_s) = sample_rows(a.rows)?;
    let key = SigningKeyPair::generate();
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();

    // Peer: plain Parquet write of the same batch with the same properties.
    let mut peer = Duration::ZERO;
    let mut peer_bytes = 0u64;
    for i in 0..a.snapshots {
        let start = Instant::now();
        let mut sorted = rows.clone();
        sorted.sort_by(|x, y| x.sort_key().cmp(&y.sort_key()));
        let id = SnapshotId::new_at(t0);
        let batch = rows_to_batch(&sorted, &id, &"/bench".parse()?, [t0, t0, t0])?;
        let path = Path::from(format!("peer/{i}.parquet"));
        let sink = BufWriter::new(lake.store().clone(), path.clone());
        let mut w = AsyncArrowWriter::try_new(sink, batch.schema(), Some(writer_properties(&id)))?;
        w.write(&batch).await?;
        w.close().await?;
        peer += start.elapsed();
        peer_bytes += object_store::ObjectStoreExt::head(lake.store().as_ref(), &path).await?.size;
    }

    // Tarn: the whole write path, one snapshot per iteration on one cluster log.
    let clock = SystemClock;
    let mut writer = SnapshotWriter::new(&lake, &key, &clock);
    let mut tarn = Duration::ZERO;
    let mut tarn_bytes = 0u64;
    for i in 0..a.snapshots {
        let input = SnapshotInput {
            cluster: "bench".parse()?,
            group_path: "/bench".parse()?,
            observed_at: t0 + chrono::Duration::minutes(i as i64),
            evaluated_at: t0 + chrono::Duration::minutes(i as i64),
            agent: AgentInfo { id: "bench".into(), version: tarn_model::TARN_VERSION.into() },
            policy_digest: format!("sha256:{}", "0".repeat(64)),
            inventory_digest: format!("sha256:{}", "1".repeat(64)),
            frameworks: vec!["pss-baseline@v1.37".into(), "pss-restricted@v1.37".into()],
        };
        let batch_rows = rows.clone();
        let start = Instant::now();
        let w = writer.write(input, batch_rows).await?;
        tarn += start.elapsed();
        tarn_bytes += w.record.object_size;
    }

    let total_rows = (a.rows * a.snapshots) as f64;
    let rate = |d: Duration| total_rows / d.as_secs_f64();
    println!(
        "write_throughput: {} snapshots x {} rows, one core, local directory {}",
        a.snapshots,
        a.rows,
        dir.display()
    );
    println!("{:<44} {:>14} {:>10} {:>12}", "path", "rows/s", "MB/s", "bytes/row");
    for (name, d, bytes) in [
        ("tarn (sort+encode+hash+sign+commit)", tarn, tarn_bytes),
        ("peer: plain arrow-rs parquet, same props", peer, peer_bytes),
    ] {
        println!(
            "{:<44} {:>14.0} {:>10.1} {:>12.2}",
            name,
            rate(d),
            bytes as f64 / d.as_secs_f64() / 1e6,
            bytes as f64 / total_rows
        );
    }
    println!("ratio tarn/peer throughput: {:.2}", rate(tarn) / rate(peer));
    println!(
        "per snapshot: tarn {:.1} ms, peer {:.1} ms",
        tarn.as_secs_f64() * 1e3 / a.snapshots as f64,
        peer.as_secs_f64() * 1e3 / a.snapshots as f64
    );
    println!("(PSS evaluation while preparing rows: {workloads_per_s:.0} workloads/s)");
    Ok(())
}
