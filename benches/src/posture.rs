//! Posture query benchmark: Tarn against DuckDB, Polars and plain DataFusion on the same files.
//!
//! ```text
//! benches/posture.sh [--fleet s|xs] [--reps 5] [--dir DIR] [--history10x] [--no-peers]
//! ```
//!
//! 1. Writes a synthetic fleet through Tarn's real write path (`tarn bench generate`; fleet-S is
//!    50 clusters × 80 workloads × 30 controls × 4 scans/day × 60 days = 28.8 M rows, 12,000
//!    snapshots), unless `DIR` already holds it.
//! 2. Asks five questions with Tarn's named queries, warm in one process (median of `reps`
//!    after a warm-up), and `tarn evidence at` as a fresh process:
//!    Q1 failing controls of one cluster as of T; Q2 compliance % per cluster × framework as of
//!    T; Q3 daily compliance % per framework over the whole history; Q4 one control in one
//!    namespace over 7 days; Q5 what changed between T-7d and T.
//! 3. Asks the same questions of DuckDB (`read_parquet`, Hive partitioning), Polars
//!    (`scan_parquet`) and plain DataFusion (`ListingTable` over `evaluations/`), written the way
//!    a user would, and checks every engine's answer agrees with Tarn's.
//! 4. Compacts the lake and asks Tarn again.
//! 5. With `--ballista`: asks Tarn the same questions on the compacted lake through Ballista (a
//!    scheduler and an executor in this process) and checks the answers agree.
//! 6. With `--history10x`: Q1 on a lake with 10× the history per cluster (5 clusters × 600
//!    days: same snapshot count, ten times the days).
//!
//! Prints a table of medians and peer ÷ Tarn ratios, and writes `DIR/posture-results.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type};
use chrono::{DateTime, Duration as Span, Utc};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::prelude::SessionContext;
use serde_json::{Value, json};
use tarn_lake::{CatalogIndex, Lake, StoreOptions};
use tarn_query::named::named;
use tarn_query::{QueryEngine, QueryOptions};

struct Args {
    fleet: String,
    reps: usize,
    dir: PathBuf,
    history10x: bool,
    peers: bool,
    ballista: bool,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        fleet: "s".into(),
        reps: 5,
        dir: std::env::temp_dir().join("tarn-posture-bench"),
        history10x: false,
        peers: true,
        ballista: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--fleet" => a.fleet = value()?,
            "--reps" => a.reps = value()?.parse()?,
            "--dir" => a.dir = PathBuf::from(value()?),
            "--history10x" => a.history10x = true,
            "--no-peers" => a.peers = false,
            "--ballista" => a.ballista = true,
            other => bail!("unknown flag {other} (see the file's header)"),
        }
    }
    anyhow::ensure!(a.reps >= 1, "--reps must be at least 1");
    Ok(a)
}

/// clusters, workloads, controls, scans per day, days
fn shape(fleet: &str) -> anyhow::Result<[u32; 5]> {
    Ok(match fleet {
        "s" => [50, 80, 30, 4, 60],
        "xs" => [10, 40, 30, 4, 14],
        "s10x" => [5, 80, 30, 4, 600],
        "xs10x" => [1, 40, 30, 4, 140],
        other => bail!("unknown fleet {other} (s or xs)"),
    })
}

fn tarn_bin() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let bin = exe.with_file_name("tarn");
    anyhow::ensure!(bin.exists(), "{} is missing: build it with `cargo build --release -p tarn-cli`", bin.display());
    Ok(bin)
}

/// Generates the fleet into `lake` unless it is there already.
fn ensure_fleet(lake: &Path, fleet: &str) -> anyhow::Result<()> {
    if lake.join("_tarn/catalog/_last_checkpoint.json").exists() {
        eprintln!("using the fleet already in {}", lake.display());
        return Ok(());
    }
    let [clusters, workloads, controls, scans, days] = shape(fleet)?;
    eprintln!(
        "generating fleet-{fleet}: {clusters} clusters × {workloads} workloads × {controls} controls × {scans} scans/day × {days} days"
    );
    // A run that stopped half-way left a partial fleet: start over.
    if lake.exists() {
        std::fs::remove_dir_all(lake)?;
    }
    let status = Command::new(tarn_bin()?)
        .args(["bench", "generate", "--lake", lake.to_str().context("non-UTF-8 path")?])
        .args(["--clusters", &clusters.to_string(), "--workloads", &workloads.to_string()])
        .args(["--controls", &controls.to_string(), "--scans-per-day", &scans.to_string(), "--days", &days.to_string()])
        .args(["--jobs", "4"])
        .status()?;
    anyhow::ensure!(status.success(), "tarn bench generate failed");
    Ok(())
}

/// The questions' parameters, derived from the lake's catalog.
#[derive(Debug, Clone)]
struct Params {
    cluster: String,
    t: DateTime<Utc>,
    t1: DateTime<Utc>,
    first_day: DateTime<Utc>,
    end_day: DateTime<Utc>,
    control: String,
    namespace: String,
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn params(lake: &Lake) -> anyhow::Result<Params> {
    let index = CatalogIndex::open(lake).await?;
    let clusters: Vec<_> = index.clusters().collect();
    let first = clusters.iter().filter_map(|c| c.first_observed_at).min().context("empty lake")?;
    let last = clusters.iter().filter_map(|c| c.last_observed_at).max().context("empty lake")?;
    let cluster = clusters[clusters.len().min(8) - 1].cluster.to_string();
    let midnight = |t: DateTime<Utc>| t.date_naive().and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    // Noon of the last full day: every cluster has reported that morning.
    let t = midnight(last) - Span::days(1) + Span::hours(12);
    Ok(Params {
        cluster,
        t,
        t1: t - Span::days(7),
        first_day: midnight(first),
        end_day: midnight(last) + Span::days(1),
        control: "privileged".into(),
        namespace: "ns-3".into(),
    })
}

fn named_sql(name: &str, values: &[(&str, String)]) -> anyhow::Result<String> {
    let values: BTreeMap<String, String> = values.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    Ok(named(name)?.render(&values)?)
}

/// Tarn's five questions, as the CLI and reports ask them: the named queries.
fn tarn_questions(p: &Params) -> anyhow::Result<Vec<(&'static str, String)>> {
    Ok(vec![
        ("Q1", named_sql("failing_at", &[("at", iso(p.t)), ("cluster", p.cluster.clone())])?),
        ("Q2", named_sql("compliance_at", &[("at", iso(p.t))])?),
        (
            "Q3",
            named_sql(
                "compliance_trend",
                &[("from", iso(p.first_day)), ("to", iso(p.end_day)), ("bucket", "1 day".into())],
            )?,
        ),
        (
            "Q4",
            named_sql(
                "control_history",
                &[
                    ("from", iso(p.t1)),
                    ("to", iso(p.t)),
                    ("control", p.control.clone()),
                    ("namespace", p.namespace.clone()),
                ],
            )?,
        ),
        ("Q5", named_sql("posture_diff", &[("from", iso(p.t1)), ("to", iso(p.t))])?),
    ])
}

/// The same questions in plain SQL over the Hive layout (table `ev`), as a DataFusion user
/// would write them.
fn plain_questions(p: &Params) -> Vec<(&'static str, String)> {
    let ts = |t: DateTime<Utc>| format!("arrow_cast('{}', 'Timestamp(Microsecond, Some(\"UTC\"))')", iso(t));
    let day = |t: DateTime<Utc>| t.format("%Y-%m-%d").to_string();
    let rank =
        "max(case status when 'error' then 4 when 'fail' then 3 when 'warn' then 2 when 'pass' then 1 else 0 end)";
    let res = |t: DateTime<Utc>, name: &str| {
        format!(
            "{name}_l as (select cluster, max(observed_at) as t from ev where observed_at <= {} and date <= '{}' group by cluster),
             {name} as (select e.cluster, e.framework, e.control_id, e.namespace, e.workload_kind, e.workload_name, {rank} as w
                from ev e join {name}_l l on e.cluster = l.cluster and e.observed_at = l.t where e.date <= '{}'
                group by e.cluster, e.framework, e.control_id, e.namespace, e.workload_kind, e.workload_name)",
            ts(t),
            day(t),
            day(t)
        )
    };
    let pct = "sum(case when w = 1 then 1 else 0 end) * 100.0 / nullif(sum(case when w >= 1 then 1 else 0 end), 0)";
    vec![
        (
            "Q1",
            format!(
                "select namespace, workload_kind, workload_name, container, framework, control_id from ev
                 where cluster = '{c}' and date <= '{d}' and status = 'fail' and snapshot_id = (
                   select snapshot_id from ev where cluster = '{c}' and date <= '{d}' and observed_at <= {t}
                   order by observed_at desc limit 1)",
                c = p.cluster,
                d = day(p.t),
                t = ts(p.t)
            ),
        ),
        (
            "Q2",
            format!(
                "with {}, ctl as (select cluster, framework, control_id, {pct} as pct from res group by cluster, framework, control_id)
                 select cluster, framework, avg(pct) as pct from ctl group by cluster, framework order by 1, 2",
                res(p.t, "res")
            ),
        ),
        (
            "Q3",
            format!(
                "with last as (select cluster, date, max(observed_at) as t from ev group by cluster, date),
                 res as (select e.date, e.framework, e.control_id, e.cluster, e.namespace, e.workload_kind, e.workload_name, {rank} as w
                   from ev e join last l on e.cluster = l.cluster and e.date = l.date and e.observed_at = l.t
                   group by e.date, e.framework, e.control_id, e.cluster, e.namespace, e.workload_kind, e.workload_name),
                 ctl as (select date, framework, control_id, {pct} as pct from res group by date, framework, control_id)
                 select date, framework, avg(pct) as pct from ctl group by date, framework order by 1, 2"
            ),
        ),
        (
            "Q4",
            format!(
                "select cluster, observed_at, workload_name, status, snapshot_id from ev
                 where control_id = '{}' and namespace = '{}' and date between '{}' and '{}'
                   and observed_at between {} and {}",
                p.control,
                p.namespace,
                day(p.t1),
                day(p.t),
                ts(p.t1),
                ts(p.t)
            ),
        ),
        (
            "Q5",
            format!(
                "with {}, {}
                 select case when coalesce(a.w, 0) >= 3 and coalesce(b.w, 0) >= 3 then 'still_failing'
                             when coalesce(a.w, 0) >= 3 and b.w is null then 'gone'
                             when coalesce(a.w, 0) >= 3 then 'fixed'
                             else 'new' end as change, count(*) as n
                 from a full outer join b on a.cluster = b.cluster and a.framework = b.framework
                   and a.control_id = b.control_id and a.namespace = b.namespace
                   and a.workload_kind = b.workload_kind and a.workload_name = b.workload_name
                 where coalesce(a.w, 0) >= 3 or coalesce(b.w, 0) >= 3
                 group by 1 order by 1",
                res(p.t1, "a"),
                res(p.t, "b")
            ),
        ),
    ]
}

/// A comparable summary of an answer: row count, the sum of a percentage column, or counts
/// per change.
fn summarize(q: &str, batches: &[RecordBatch]) -> Value {
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let column = |name: &str| -> Vec<Arc<dyn Array>> {
        batches
            .iter()
            .filter_map(|b| b.column_by_name(name).map(|c| arrow::compute::cast(c, &DataType::Float64).ok()))
            .flatten()
            .collect()
    };
    match q {
        "Q2" | "Q3" => {
            let name = if batches.first().is_some_and(|b| b.column_by_name("compliance_pct").is_some()) {
                "compliance_pct"
            } else {
                "pct"
            };
            let sum: f64 = column(name).iter().flat_map(|c| c.as_primitive::<Float64Type>().iter().flatten()).sum();
            json!({"rows": rows, "pct_sum": (sum * 1000.0).round() / 1000.0})
        }
        "Q5" => {
            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            for b in batches {
                let change =
                    arrow::compute::cast(b.column_by_name("change").expect("change"), &DataType::Utf8).expect("utf8");
                let change = change.as_string::<i32>();
                let n = b.column_by_name("n").map(|c| arrow::compute::cast(c, &DataType::Float64).expect("n"));
                for i in 0..b.num_rows() {
                    let add = n.as_ref().map_or(1, |n| n.as_primitive::<Float64Type>().value(i) as u64);
                    *counts.entry(change.value(i).to_string()).or_default() += add;
                }
            }
            json!(counts)
        }
        _ => json!({"rows": rows}),
    }
}

/// Two answers agree (percentages to within rounding of the named queries' output).
fn agrees(a: &Value, b: &Value) -> bool {
    match (a.get("pct_sum"), b.get("pct_sum")) {
        (Some(x), Some(y)) => {
            a["rows"] == b["rows"]
                && (x.as_f64().unwrap_or(f64::NAN) - y.as_f64().unwrap_or(f64::NAN)).abs()
                    <= 0.01 * a["rows"].as_f64().unwrap_or(1.0).max(1.0)
        }
        _ => a == b,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

async fn time_sql<F, Fut>(reps: usize, mut run: F) -> anyhow::Result<(f64, Vec<RecordBatch>)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Vec<RecordBatch>>>,
{
    let mut out = run().await?; // warm-up
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t0 = Instant::now();
        out = run().await?;
        times.push(t0.elapsed().as_secs_f64());
    }
    Ok((median(times), out))
}

/// Tarn, warm, in one process: (question -> (median s, answer)), plus the engine's open time.
async fn run_tarn(lake: &Lake, p: &Params, reps: usize) -> anyhow::Result<(f64, BTreeMap<String, (f64, Value)>)> {
    let t0 = Instant::now();
    let engine = QueryEngine::open(lake, QueryOptions::default()).await?;
    let open = t0.elapsed().as_secs_f64();
    run_questions(&engine, p, reps, "tarn").await.map(|out| (open, out))
}

/// The same questions on Ballista: a scheduler and an executor in this process.
/// A question that fails (or exceeds 60 s) is reported, not fatal: its entry is an error.
async fn run_ballista(lake: &Lake, p: &Params, reps: usize) -> anyhow::Result<BTreeMap<String, (f64, Value)>> {
    let index = CatalogIndex::open(lake).await?;
    let opts = QueryOptions { timeout: std::time::Duration::from_secs(60), ..QueryOptions::default() };
    let engine = QueryEngine::ballista(index, opts, None).await?;
    let mut out = BTreeMap::new();
    for (q, sql) in tarn_questions(p)? {
        match time_sql(reps, || async { Ok(engine.sql(&sql).await?) }).await {
            Ok((secs, batches)) => {
                eprintln!("  ballista {q}: {:.2} ms", secs * 1e3);
                out.insert(q.to_string(), (secs, summarize(q, &batches)));
            }
            Err(e) => {
                eprintln!("  ballista {q}: failed: {e}");
                out.insert(q.to_string(), (f64::NAN, json!({"error": e.to_string()})));
            }
        }
    }
    Ok(out)
}

async fn run_questions(
    engine: &QueryEngine,
    p: &Params,
    reps: usize,
    label: &str,
) -> anyhow::Result<BTreeMap<String, (f64, Value)>> {
    let mut out = BTreeMap::new();
    for (q, sql) in tarn_questions(p)? {
        let (secs, batches) = time_sql(reps, || async { Ok(engine.sql(&sql).await?) }).await?;
        eprintln!("  {label} {q}: {:.2} ms", secs * 1e3);
        out.insert(q.to_string(), (secs, summarize(q, &batches)));
    }
    Ok(out)
}

/// `tarn evidence at T --cluster C` as a fresh process, wall clock.
fn run_fresh(lake: &Path, p: &Params, reps: usize) -> anyhow::Result<f64> {
    let bin = tarn_bin()?;
    let once = || -> anyhow::Result<f64> {
        let t0 = Instant::now();
        let o = Command::new(&bin)
            .args(["evidence", "at", &iso(p.t), "--cluster", &p.cluster, "--format", "csv", "--lake"])
            .arg(lake)
            .output()?;
        let secs = t0.elapsed().as_secs_f64();
        anyhow::ensure!(o.status.success(), "tarn evidence at failed: {}", String::from_utf8_lossy(&o.stderr));
        Ok(secs)
    };
    once()?;
    let times = (0..reps).map(|_| once()).collect::<anyhow::Result<Vec<_>>>()?;
    Ok(median(times))
}

async fn run_datafusion(lake: &Path, p: &Params, reps: usize) -> anyhow::Result<BTreeMap<String, (f64, Value)>> {
    let ctx = SessionContext::new();
    let url = ListingTableUrl::parse(format!("{}/evaluations/", lake.display()))?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(vec![("cluster".into(), DataType::Utf8), ("date".into(), DataType::Utf8)]);
    let schema = options.infer_schema(&ctx.state(), &url).await?;
    let config = ListingTableConfig::new(url).with_listing_options(options).with_schema(schema);
    ctx.register_table("ev", Arc::new(ListingTable::try_new(config)?))?;
    let mut out = BTreeMap::new();
    for (q, sql) in plain_questions(p) {
        let (secs, batches) = time_sql(reps, || async { Ok(ctx.sql(&sql).await?.collect().await?) }).await?;
        eprintln!("  datafusion {q}: {:.1} ms", secs * 1e3);
        out.insert(q.to_string(), (secs, summarize(q, &batches)));
    }
    Ok(out)
}

fn run_peers(lake: &Path, p: &Params, reps: usize) -> anyhow::Result<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("posture_peers.py");
    let params = json!({
        "lake": lake, "reps": reps, "cluster": p.cluster, "t": iso(p.t), "t1": iso(p.t1), "t2": iso(p.t),
        "q4_from": iso(p.t1), "q4_to": iso(p.t), "control": p.control, "namespace": p.namespace,
        "engines": ["duckdb", "polars"],
    });
    let o =
        Command::new("python3").arg(&script).arg(params.to_string()).stderr(std::process::Stdio::inherit()).output()?;
    anyhow::ensure!(o.status.success(), "{} failed", script.display());
    Ok(serde_json::from_slice(&o.stdout)?)
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => dir_size(&e.path()),
                    _ => e.metadata().map(|m| m.len()).unwrap_or(0),
                })
                .sum()
        })
        .unwrap_or(0)
}

fn ms(s: f64) -> String {
    if s >= 1.0 { format!("{s:.2} s") } else { format!("{:.1} ms", s * 1e3) }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    std::fs::create_dir_all(&a.dir)?;
    let lake_dir = a.dir.join(format!("fleet-{}", a.fleet));
    ensure_fleet(&lake_dir, &a.fleet)?;
    let lake = Lake::open(lake_dir.to_str().context("non-UTF-8 path")?, &StoreOptions::default())?;
    let p = params(&lake).await?;
    eprintln!(
        "questions: cluster {} at {}, diff from {}, trend {} .. {}",
        p.cluster,
        iso(p.t),
        iso(p.t1),
        iso(p.first_day),
        iso(p.end_day)
    );
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let eval_bytes = dir_size(&lake_dir.join("evaluations"));

    eprintln!("Tarn, warm, before compaction");
    let (open_before, tarn_before) = run_tarn(&lake, &p, a.reps).await?;
    let fresh_before = run_fresh(&lake_dir, &p, a.reps)?;
    eprintln!("plain DataFusion (ListingTable over evaluations/)");
    let df = run_datafusion(&lake_dir, &p, a.reps.min(3)).await?;
    let peers = if a.peers { Some(run_peers(&lake_dir, &p, a.reps.min(3))?) } else { None };

    eprintln!("compacting");
    let t0 = Instant::now();
    let o = Command::new(tarn_bin()?).args(["lake", "compact", "--lake"]).arg(&lake_dir).output()?;
    anyhow::ensure!(o.status.success(), "compaction failed: {}", String::from_utf8_lossy(&o.stderr));
    let compact_secs = t0.elapsed().as_secs_f64();
    eprintln!("  {}", String::from_utf8_lossy(&o.stdout).trim());
    let (open_after, tarn_after) = run_tarn(&lake, &p, a.reps).await?;
    let fresh_after = run_fresh(&lake_dir, &p, a.reps)?;
    let ballista = if a.ballista {
        eprintln!("Tarn on Ballista (in-process scheduler and executor), compacted");
        Some(run_ballista(&lake, &p, a.reps).await?)
    } else {
        None
    };

    let history10x = if a.history10x {
        let fleet = format!("{}10x", a.fleet);
        let dir10 = a.dir.join(format!("fleet-{fleet}"));
        ensure_fleet(&dir10, &fleet)?;
        let lake10 = Lake::open(dir10.to_str().context("non-UTF-8 path")?, &StoreOptions::default())?;
        let mut p10 = params(&lake10).await?;
        p10.cluster = "c000".into();
        let (_, t10) = run_tarn(&lake10, &p10, a.reps).await?;
        let fresh10 = run_fresh(&dir10, &p10, a.reps)?;
        Some((t10["Q1"].0, fresh10))
    } else {
        None
    };

    // ------------------------------------------------------------------------------ report
    let peer = |engine: &str, q: &str| -> Option<(f64, Value)> {
        let v = peers.as_ref()?.get(engine)?.get(q)?;
        Some((v["median_s"].as_f64()?, v["answer"].clone()))
    };
    println!(
        "\nPosture queries, fleet-{} ({} cores; {} MiB of evaluation Parquet; median of {} warm runs, peers of {})",
        a.fleet,
        cores,
        eval_bytes >> 20,
        a.reps,
        a.reps.min(3)
    );
    println!(
        "{:<4} {:>11} {:>11} | {:>10} {:>7} | {:>10} {:>7} | {:>10} {:>7} | answers",
        "", "Tarn", "compacted", "DuckDB", "×", "Polars", "×", "DataFusion", "×"
    );
    let mut agreement = Vec::new();
    for q in ["Q1", "Q2", "Q3", "Q4", "Q5"] {
        let (t, answer) = &tarn_before[q];
        let (tc, answer_c) = &tarn_after[q];
        let mut cells = Vec::new();
        let mut same = agrees(answer, answer_c);
        for engine in ["duckdb", "polars", "datafusion"] {
            let got = if engine == "datafusion" { df.get(q).cloned() } else { peer(engine, q) };
            match got {
                Some((s, ans)) => {
                    same &= agrees(answer, &ans);
                    if !agrees(answer, &ans) {
                        eprintln!("DISAGREE {q} {engine}: tarn {answer} vs {ans}");
                    }
                    cells.push(format!("{:>10} {:>6.0}×", ms(s), s / t));
                }
                None => cells.push(format!("{:>10} {:>7}", "—", "")),
            }
        }
        agreement.push((q, same, answer.clone()));
        println!(
            "{q:<4} {:>11} {:>11} | {} | {}",
            ms(*t),
            ms(*tc),
            cells.join(" | "),
            if same { "agree" } else { "DIFFER" }
        );
    }
    println!(
        "fresh process `tarn evidence at T --cluster C`: {} before compaction, {} after; engine open (catalog): {} / {}",
        ms(fresh_before),
        ms(fresh_after),
        ms(open_before),
        ms(open_after)
    );
    println!("compaction: {}", ms(compact_secs));
    if let Some(b) = &ballista {
        let cells: Vec<String> = ["Q1", "Q2", "Q3", "Q4", "Q5"]
            .iter()
            .map(|q| {
                let (s, ans) = &b[*q];
                let (tc, answer_c) = &tarn_after[*q];
                if ans.get("error").is_some() {
                    return format!("{q} failed ({})", ans["error"].as_str().unwrap_or_default());
                }
                let same = agrees(answer_c, ans);
                if !same {
                    eprintln!("DISAGREE {q} ballista: tarn {answer_c} vs {ans}");
                }
                agreement.push((*q, same, ans.clone()));
                format!("{q} {} ({:.1}× embedded{})", ms(*s), s / tc, if same { "" } else { ", DIFFERS" })
            })
            .collect();
        println!("on Ballista (in-process scheduler + executor, compacted): {}", cells.join(", "));
    }
    if let Some((q1, fresh)) = history10x {
        println!(
            "10× history (5 clusters × 600 days): Q1 {} warm ({:.2}× fleet-{}), fresh `tarn evidence at` {}",
            ms(q1),
            q1 / tarn_before["Q1"].0,
            a.fleet,
            ms(fresh)
        );
    }
    let results = json!({
        "fleet": a.fleet, "cores": cores, "reps": a.reps,
        "tarn": tarn_before.iter().map(|(q, (s, ans))| (q.clone(), json!({"median_s": s, "answer": ans}))).collect::<BTreeMap<_, _>>(),
        "tarn_compacted": tarn_after.iter().map(|(q, (s, ans))| (q.clone(), json!({"median_s": s, "answer": ans}))).collect::<BTreeMap<_, _>>(),
        "datafusion": df.iter().map(|(q, (s, ans))| (q.clone(), json!({"median_s": s, "answer": ans}))).collect::<BTreeMap<_, _>>(),
        "peers": peers,
        "fresh_at_s": [fresh_before, fresh_after],
        "open_s": [open_before, open_after],
        "compact_s": compact_secs,
        "history10x": history10x.map(|(q1, fresh)| json!({"q1_s": q1, "fresh_s": fresh})),
        "ballista": ballista.as_ref().map(|b| b.iter().map(|(q, (s, ans))| (q.clone(), json!({"median_s": s, "answer": ans}))).collect::<BTreeMap<_, _>>()),
    });
    std::fs::write(a.dir.join("posture-results.json"), serde_json::to_vec_pretty(&results)?)?;
    if agreement.iter().any(|(_, same, _)| !same) {
        bail!("engines disagree on some answers (see DISAGREE above)");
    }
    Ok(())
}
