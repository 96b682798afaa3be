//! Report generation speed on a benchmark fleet (fleet-S: 50 clusters × 60 days, 12,000
//! snapshots, 28.8 M rows; build it with `benches/posture.sh`).
//!
//! ```text
//! benches/reports.sh [--lake DIR] [--framework cis-k8s] [--reps 3] [--no-peers]
//! ```
//!
//! 1. In process, warm: the report's queries and snapshot verification (`build`), the PDF
//!    (typst) and the CSV, each the median of `--reps` runs.
//! 2. What a user waits for: `tarn reports generate --format pdf` (and `--format csv`) over the
//!    fleet's whole history as a fresh process (catalog read, queries, verification, typesetting,
//!    signing into a copy of the lake), median of `--reps`.
//! 3. Peer: DuckDB computes the report's data (score per control at the end, findings at the end,
//!    first-seen-failing over the range) from the same Parquet files (`benches/report_peers.py`);
//!    the ratio compares it with Tarn's `build` step.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tarn_lake::{CatalogIndex, Lake, StoreOptions};
use tarn_query::{ControlInfo, QueryEngine, QueryOptions};
use tarn_reports::publish::{self, Format};
use tarn_reports::{ReportRequest, ReportScope};

struct Args {
    lake: PathBuf,
    framework: String,
    reps: usize,
    peers: bool,
}

fn args() -> anyhow::Result<Args> {
    let mut a =
        Args { lake: PathBuf::from("/tmp/tarn-bench/fleet-s"), framework: "cis-k8s".into(), reps: 3, peers: true };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut value = || it.next().with_context(|| format!("{k} needs a value"));
        match k.as_str() {
            "--lake" => a.lake = PathBuf::from(value()?),
            "--framework" => a.framework = value()?,
            "--reps" => a.reps = value()?.parse()?,
            "--no-peers" => a.peers = false,
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(a)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn tarn_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.with_file_name("tarn")
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let t = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &t)?;
        } else {
            std::fs::copy(e.path(), t)?;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let lake_s = a.lake.to_str().context("lake path")?;
    let lake = Lake::open_existing(lake_s, &StoreOptions::default()).await?;
    let index = CatalogIndex::open(&lake).await?;
    let clusters: Vec<_> = index.clusters().collect();
    let first = clusters.iter().filter_map(|c| c.first_observed_at).min().context("empty lake")?;
    let last = clusters.iter().filter_map(|c| c.last_observed_at).max().context("empty lake")?;
    let (from, to) = (first, last + chrono::Duration::seconds(1));
    println!(
        "Report benchmark: {} over {} clusters, {} to {} ({} days), {} cores",
        a.framework,
        clusters.len(),
        tarn_reports::report::fmt_time(from),
        tarn_reports::report::fmt_time(to),
        (to - from).num_days(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let controls: Vec<ControlInfo> = Vec::new();
    let engine = QueryEngine::with_index(index.clone(), QueryOptions::default())?.with_controls(&controls)?;
    let req = ReportRequest {
        framework: a.framework.clone(),
        scope: ReportScope::Fleet,
        from,
        to,
        bucket: None,
        keys: Vec::new(),
    };

    // 1. In process.
    let (mut build, mut pdf, mut csv) = (Vec::new(), Vec::new(), Vec::new());
    let mut last_report = None;
    for _ in 0..a.reps.max(1) {
        let t = Instant::now();
        let mut r = tarn_reports::build(&engine, &lake, &req, &|_, _| {}).await?;
        build.push(t.elapsed());
        publish::stamp(&mut r, chrono::Utc::now());
        let t = Instant::now();
        let p = publish::render(&r, &[Format::Pdf])?;
        pdf.push(t.elapsed());
        let t = Instant::now();
        publish::render(&r, &[Format::Csv])?;
        csv.push(t.elapsed());
        last_report = Some((r, p.files[0].2.len()));
    }
    let (r, pdf_bytes) = last_report.expect("one run");
    println!(
        "report: compliance {} %, {} controls, {} findings, {} trend buckets, {} snapshots verified, {} snapshots in range; PDF {} KiB",
        tarn_reports::csv::pct(r.summary.compliance_pct),
        r.controls.len(),
        r.summary.findings,
        r.trend.len(),
        r.summary.snapshots_verified,
        r.summary.snapshots_in_range,
        pdf_bytes / 1024
    );
    let (b, p, c) = (median(build), median(pdf), median(csv));
    println!("in process (median of {}, warm): build {}, PDF {}, CSV {}", a.reps, ms(b), ms(p), ms(c));

    // 2. Fresh processes, as a user runs them (signing into a copy of the lake).
    let work = tempfile::tempdir()?;
    let copy = work.path().join("lake");
    copy_dir(&a.lake, &copy)?;
    let key = tarn_trust::keys::SigningKeyPair::generate();
    let key_path = work.path().join("bench.key");
    std::fs::write(
        &key_path,
        key.to_encrypted_pem(b"", tarn_trust::keys::KdfParams { log_n: 4, ..tarn_trust::keys::KdfParams::COSIGN })?,
    )?;
    let e2e = |format: &str| -> anyhow::Result<Duration> {
        let mut runs = Vec::new();
        for i in 0..a.reps.max(1) {
            let out = work.path().join(format!("out-{format}-{i}"));
            let t = Instant::now();
            let o = Command::new(tarn_bin())
                .args(["reports", "generate", "--lake", copy.to_str().unwrap(), "--framework", &a.framework])
                .args(["--from", &tarn_reports::report::fmt_time(from), "--to", &tarn_reports::report::fmt_time(to)])
                .args(["--format", format, "--out", out.to_str().unwrap(), "--key", key_path.to_str().unwrap()])
                .env("COSIGN_PASSWORD", "")
                .output()?;
            runs.push(t.elapsed());
            if !o.status.success() {
                bail!("tarn reports generate failed: {}", String::from_utf8_lossy(&o.stderr));
            }
        }
        Ok(median(runs))
    };
    let e2e_pdf = e2e("pdf")?;
    let e2e_csv = e2e("csv")?;
    println!(
        "`tarn reports generate` fresh process (median of {}): PDF {} (target < 3 s: {}), CSV {}",
        a.reps,
        ms(e2e_pdf),
        if e2e_pdf < Duration::from_secs(3) { "met" } else { "MISSED" },
        ms(e2e_csv)
    );

    // 3. Peer.
    let mut peer = serde_json::Value::Null;
    if a.peers {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("report_peers.py");
        let params = serde_json::json!({
            "lake": lake_s, "framework": a.framework, "reps": a.reps,
            "from": tarn_reports::report::fmt_time(from), "to": tarn_reports::report::fmt_time(to),
        });
        let o = Command::new("python3").arg(&script).arg(params.to_string()).output()?;
        if o.status.success() {
            peer = serde_json::from_slice(&o.stdout)?;
            let d = peer["duckdb"]["median_s"].as_f64().unwrap_or(f64::NAN);
            println!(
                "peer: DuckDB computes the report's data in {:.0} ms ({} findings); Tarn's build step is {:.2}x DuckDB's time",
                d * 1000.0,
                peer["duckdb"]["findings"],
                b.as_secs_f64() / d
            );
            if peer["duckdb"]["findings"].as_u64() != Some(r.summary.findings) {
                println!("WARNING: DuckDB counts {} findings, Tarn {}", peer["duckdb"]["findings"], r.summary.findings);
            }
        } else {
            println!("peer: DuckDB failed: {}", String::from_utf8_lossy(&o.stderr));
        }
    }
    let results = serde_json::json!({
        "framework": a.framework, "clusters": clusters.len(), "reps": a.reps,
        "build_ms": b.as_millis() as u64, "pdf_ms": p.as_millis() as u64, "csv_ms": c.as_millis() as u64,
        "e2e_pdf_ms": e2e_pdf.as_millis() as u64, "e2e_csv_ms": e2e_csv.as_millis() as u64,
        "findings": r.summary.findings, "pdf_bytes": pdf_bytes, "peer": peer,
    });
    let out = a.lake.parent().unwrap_or(Path::new(".")).join("report-results.json");
    std::fs::write(&out, serde_json::to_vec_pretty(&results)?)?;
    println!("results: {}", out.display());
    Ok(())
}
