//! `tarn reports generate|list|schedule`: compliance reports as PDF and CSV, signed into the lake.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use tarn_lake::Lake;
use tarn_query::QueryEngine;
use tarn_reports::publish::{self, Format, Rendered};
use tarn_reports::report::{Report, STEPS};
use tarn_reports::schedule::{self, Job};
use tarn_reports::{ReportRequest, ReportScope};
use tarn_trust::keys::{PublicKey, SigningKeyPair};

use crate::args::{LakeArgs, invalid, load_public_keys, read_input_file};
use crate::cli::{
    QueryRunArgs, ReportEngineArgs, ReportFormat, ReportGenerateArgs, ReportKeyArgs, ReportListArgs, ResultFormat,
    ScheduleHistoryArgs, ScheduleRunArgs, ScheduleValidateArgs, SummaryFormat,
};
use crate::commands::evidence::open_engine;
use crate::{exit, output};

async fn engine(lake: &LakeArgs, e: &ReportEngineArgs) -> anyhow::Result<QueryEngine> {
    open_engine(&QueryRunArgs {
        lake: lake.clone(),
        format: ResultFormat::Table,
        out: None,
        memory_mb: e.memory_mb,
        timeout_secs: e.timeout_secs,
        stale_after: e.stale_after,
        engine: e.engine.clone(),
    })
    .await
}

fn signing_key(k: &ReportKeyArgs, required: bool) -> anyhow::Result<Option<SigningKeyPair>> {
    match &k.key {
        Some(path) => {
            let pem = read_input_file(path, "private key")?;
            let password = std::env::var(&k.password_env).unwrap_or_default();
            Ok(Some(SigningKeyPair::from_pem(&pem, password.as_bytes()).with_context(|| {
                format!("cannot load private key {} (password from ${})", path.display(), k.password_env)
            })?))
        }
        None if required => Err(invalid(
            "a report is committed to the lake with a signature: give --key KEY (or TARN_KEY), or --no-lake to only write files",
        )),
        None => Ok(None),
    }
}

fn verify_keys(k: &ReportKeyArgs) -> anyhow::Result<Vec<PublicKey>> {
    let keys = load_public_keys(&k.verify_keys)?;
    if keys.is_empty() {
        eprintln!(
            "note: snapshot signatures are checked against the keys stored in the lake (pass --verify-key PUB to name the trust anchor)"
        );
    }
    Ok(keys)
}

/// Builds, renders and (with a key) commits one report; writes nothing locally.
pub async fn produce(
    engine: &QueryEngine,
    lake: &Lake,
    req: &ReportRequest,
    formats: &[Format],
    key: Option<&SigningKeyPair>,
    job: Option<String>,
    show_progress: bool,
) -> anyhow::Result<(Report, Rendered, Option<tarn_lake::reports::CommittedReport>)> {
    let bar = if show_progress {
        output::bar(STEPS + 2, &format!("{} report", req.framework))
    } else {
        indicatif::ProgressBar::hidden()
    };
    let started = std::time::Instant::now();
    let progress = |n: u64, step: &str| {
        bar.inc(n);
        bar.set_message(step.to_string());
    };
    let mut report = tarn_reports::build(engine, lake, req, &progress).await?;
    let built = started.elapsed();
    publish::stamp(&mut report, Utc::now());
    bar.set_message("typesetting");
    let rendered = publish::render(&report, formats)?;
    bar.inc(1);
    let rendered_at = started.elapsed();
    let committed = match key {
        Some(k) => {
            bar.set_message("signing into the lake");
            Some(publish::commit(lake, k, &report, &rendered, job).await?)
        }
        None => None,
    };
    bar.inc(1);
    bar.finish_and_clear();
    tracing::info!(
        build_ms = built.as_millis() as u64,
        render_ms = (rendered_at - built).as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "report generated"
    );
    Ok((report, rendered, committed))
}

/// Writes the rendered files: a PDF to `out`, CSV sections into the directory `out`.
pub fn write_local(rendered: &Rendered, format: Format, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    match format {
        Format::Pdf => {
            let pdf = rendered.get("report.pdf").context("no PDF was rendered")?;
            if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            }
            std::fs::write(out, pdf).with_context(|| format!("cannot write {}", out.display()))?;
            written.push(out.to_path_buf());
        }
        Format::Csv => {
            if out.is_file() {
                return Err(invalid(format!(
                    "{}: --format csv writes one file per section into a directory; this is a file",
                    out.display()
                )));
            }
            std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
            for (name, _, bytes) in rendered.files.iter().filter(|(n, _, _)| n.ends_with(".csv")) {
                let p = out.join(name);
                std::fs::write(&p, bytes).with_context(|| format!("cannot write {}", p.display()))?;
                written.push(p);
            }
        }
    }
    Ok(written)
}

fn print_summary(report: &Report, committed: Option<&tarn_lake::reports::CommittedReport>, written: &[PathBuf]) {
    let s = &report.summary;
    let pct = |p: Option<f64>| p.map_or("n/a".to_string(), |p| format!("{:.2} %", tarn_reports::report::round2(p)));
    println!(
        "{} for {} from {} to {}: compliance {} (start {}), {} of {} controls failing, {} findings, {}/{} snapshots verified",
        report.meta.title,
        report.meta.scope_label,
        report.meta.from,
        report.meta.to,
        pct(s.compliance_pct),
        pct(s.compliance_pct_start),
        s.controls_failing,
        s.controls_total,
        s.findings,
        s.snapshots_verified,
        s.snapshots_used
    );
    if s.snapshots_verified < s.snapshots_used {
        eprintln!(
            "warning: {} snapshot(s) did not verify; the report's evidence appendix says which and why",
            s.snapshots_used - s.snapshots_verified
        );
    }
    for p in written {
        println!("wrote {}", p.display());
    }
    if let Some(c) = committed {
        println!(
            "committed report {} to the lake as {} ({} files)",
            c.record.report_id,
            c.entry_path,
            c.record.files.len()
        );
    }
}

pub async fn generate(a: ReportGenerateArgs) -> anyhow::Result<u8> {
    let scope = match (&a.group, &a.cluster) {
        (Some(g), _) => ReportScope::group(g).map_err(|e| invalid(e.to_string()))?,
        (None, Some(c)) => ReportScope::cluster(c).map_err(|e| invalid(e.to_string()))?,
        (None, None) => ReportScope::Fleet,
    };
    let format = match a.format {
        ReportFormat::Pdf => Format::Pdf,
        ReportFormat::Csv => Format::Csv,
    };
    let key = signing_key(&a.keys, !a.no_lake)?;
    let req = ReportRequest {
        framework: a.framework.clone(),
        scope,
        from: a.from,
        to: a.to,
        bucket: a.bucket.map(chrono::Duration::from_std).transpose().map_err(|e| invalid(format!("--bucket: {e}")))?,
        keys: verify_keys(&a.keys)?,
    };
    req.validate().map_err(|e| invalid(e.to_string()))?;
    let lake = a.lake.open_existing().await?;
    let engine = engine(&a.lake, &a.engine).await?;
    let known = known_frameworks(&engine).await?;
    if !known.contains(&req.framework) {
        return Err(invalid(format!(
            "framework {:?} has no evaluations or catalog in this lake (known: {})",
            req.framework,
            known.join(", ")
        )));
    }
    let (report, rendered, committed) = produce(
        &engine,
        &lake,
        &req,
        &[format],
        key.as_ref(),
        None,
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
    )
    .await?;
    let written = write_local(&rendered, format, &a.out)?;
    print_summary(&report, committed.as_ref(), &written);
    Ok(exit::OK)
}

/// Frameworks with rows in the lake or a built-in catalog.
async fn known_frameworks(engine: &QueryEngine) -> anyhow::Result<Vec<String>> {
    let sql = "select framework from rollups union select framework from controls order by 1";
    let batches = engine.sql(sql).await?;
    let mut out = Vec::new();
    for b in &batches {
        let col = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8)?;
        let col = arrow::array::AsArray::as_string::<i32>(&col);
        out.extend(col.iter().flatten().map(str::to_string));
    }
    Ok(out)
}

pub async fn list(a: ReportListArgs) -> anyhow::Result<u8> {
    let lake = a.lake.open_existing().await?;
    let entries = tarn_lake::reports::read_log(&lake).await?;
    let mut records = Vec::new();
    for e in &entries {
        let parsed = e.parse().with_context(|| format!("report log entry {}", e.path))?;
        records.push((e.seq, parsed.report));
    }
    match a.format {
        SummaryFormat::Json => {
            let v: Vec<_> = records.iter().map(|(seq, r)| serde_json::json!({ "seq": seq, "report": r })).collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        SummaryFormat::Table => {
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED).set_header([
                "SEQ",
                "REPORT",
                "FRAMEWORK",
                "SCOPE",
                "FROM",
                "TO",
                "GENERATED",
                "JOB",
                "FILES",
            ]);
            for (seq, r) in &records {
                let fmt = |t: chrono::DateTime<Utc>| tarn_reports::report::fmt_time(t);
                t.add_row([
                    seq.to_string(),
                    r.report_id.clone(),
                    r.framework.clone(),
                    if r.scope.is_empty() { "fleet".into() } else { r.scope.clone() },
                    fmt(r.from),
                    fmt(r.to),
                    fmt(r.generated_at),
                    r.job.clone().unwrap_or_default(),
                    r.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>().join("\n"),
                ]);
            }
            println!("{t}");
        }
    }
    Ok(exit::OK)
}

fn load_schedule(path: &Path) -> anyhow::Result<Vec<Job>> {
    let text = read_input_file(path, "schedule")?;
    schedule::parse(&path.display().to_string(), &text).map_err(|e| invalid(e.to_string()))
}

pub fn validate(a: ScheduleValidateArgs) -> anyhow::Result<u8> {
    let jobs = load_schedule(&a.schedule)?;
    let now = Utc::now();
    for j in &jobs {
        println!("{}", schedule::describe(j, now));
    }
    println!("{}: {} job(s), valid", a.schedule.display(), jobs.len());
    Ok(exit::OK)
}

/// Runs one claimed due time; records how it ended.
async fn run_due(
    engine: &QueryEngine,
    lake: &Lake,
    key: &SigningKeyPair,
    keys: &[PublicKey],
    job: &Job,
    due: chrono::DateTime<Utc>,
) -> anyhow::Result<bool> {
    let mut rec = schedule::new_run(job, due, Utc::now());
    if !schedule::claim(lake, &rec).await? {
        tracing::info!(job = %job.name, due = %due, "already run (or running) elsewhere; skipped");
        return Ok(false);
    }
    let req = ReportRequest {
        framework: job.framework.clone(),
        scope: job.scope.clone(),
        from: rec.from,
        to: rec.to,
        bucket: None,
        keys: keys.to_vec(),
    };
    let result = async {
        let (report, rendered, committed) =
            produce(engine, lake, &req, &job.formats, Some(key), Some(job.name.clone()), false).await?;
        if let Some(dir) = schedule::output_dir(job, due) {
            for f in &job.formats {
                let out = match f {
                    Format::Pdf => dir.join(format!("{}.pdf", job.name)),
                    Format::Csv => dir.join("csv"),
                };
                write_local(&rendered, *f, &out)?;
            }
        }
        anyhow::Ok((report, committed))
    }
    .await;
    rec.finished_at = Some(Utc::now());
    let ok = match result {
        Ok((report, committed)) => {
            rec.status = "ok".into();
            rec.report_id = Some(report.meta.report_id.clone());
            println!(
                "{} due {}: report {} ({} to {}, {} findings){}",
                job.name,
                tarn_reports::report::fmt_time(due),
                report.meta.report_id,
                report.meta.from,
                report.meta.to,
                report.summary.findings,
                committed.map(|c| format!(", committed as {}", c.entry_path)).unwrap_or_default()
            );
            true
        }
        Err(e) => {
            rec.status = "failed".into();
            rec.error = Some(format!("{e:#}"));
            eprintln!("{} due {}: FAILED: {e:#}", job.name, tarn_reports::report::fmt_time(due));
            false
        }
    };
    schedule::finish(lake, &rec).await?;
    Ok(ok)
}

pub async fn run(a: ScheduleRunArgs) -> anyhow::Result<u8> {
    let jobs = load_schedule(&a.schedule)?;
    let key = signing_key(&a.keys, true)?.expect("required");
    let keys = verify_keys(&a.keys)?;
    let lake = a.lake.open_existing().await?;
    let mut failures = 0u64;
    loop {
        let now = Utc::now();
        // A fresh engine per cycle sees the snapshots committed since the last one.
        let mut engine_cache: Option<QueryEngine> = None;
        let mut retry_soon = false;
        for job in &jobs {
            // Storage trouble never stops a long-running scheduler: it is logged and the job
            // is looked at again shortly (nothing is lost: due times stay due until claimed).
            let (due, skipped) = match schedule::pending(&lake, job, now, a.max_catch_up).await {
                Ok(p) => p,
                Err(e) if !a.once => {
                    eprintln!("{}: cannot read its run records ({e}); retrying in a minute", job.name);
                    retry_soon = true;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if !skipped.is_empty() {
                eprintln!(
                    "{}: {} missed due time(s) from {} to {} are older than --max-catch-up {} and were skipped",
                    job.name,
                    skipped.len(),
                    tarn_reports::report::fmt_time(skipped[0]),
                    tarn_reports::report::fmt_time(*skipped.last().expect("non-empty")),
                    a.max_catch_up
                );
            }
            for d in due {
                let engine = match &engine_cache {
                    Some(e) => e,
                    None => match engine(&a.lake, &a.engine).await {
                        Ok(e) => engine_cache.insert(e),
                        Err(e) if !a.once => {
                            eprintln!("cannot open the query engine ({e:#}); retrying in a minute");
                            retry_soon = true;
                            break;
                        }
                        Err(e) => return Err(e),
                    },
                };
                // A failing job never stops the scheduler: it is recorded and the next runs on.
                if let Err(e) = run_due(engine, &lake, &key, &keys, job, d).await {
                    failures += 1;
                    retry_soon = true;
                    eprintln!("{}: could not record the run due {d}: {e:#}", job.name);
                }
            }
        }
        if a.once {
            let failed = count_failed_since(&lake, &jobs, now).await? + failures;
            return Ok(if failed == 0 { exit::OK } else { exit::FAILED });
        }
        let next = jobs.iter().filter_map(|j| j.next_after(Utc::now())).min();
        let mut wait = next.map_or(Duration::from_secs(3600), |n| {
            (n - Utc::now()).to_std().unwrap_or_default().min(Duration::from_secs(3600)) + Duration::from_millis(200)
        });
        if retry_soon {
            wait = wait.min(Duration::from_secs(60));
        }
        tracing::info!(next = ?next, "waiting for the next due time");
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = tokio::signal::ctrl_c() => return Ok(exit::OK),
        }
    }
}

async fn count_failed_since(lake: &Lake, jobs: &[Job], since: chrono::DateTime<Utc>) -> anyhow::Result<u64> {
    let mut n = 0;
    for j in jobs {
        n += schedule::runs(lake, &j.name)
            .await?
            .iter()
            .filter(|r| r.status == "failed" && r.finished_at.is_some_and(|f| f >= since))
            .count() as u64;
    }
    Ok(n)
}

pub async fn history(a: ScheduleHistoryArgs) -> anyhow::Result<u8> {
    let jobs = load_schedule(&a.schedule)?;
    let lake = a.lake.open_existing().await?;
    let mut all = Vec::new();
    for j in &jobs {
        all.extend(schedule::runs(&lake, &j.name).await?);
    }
    match a.format {
        SummaryFormat::Json => println!("{}", serde_json::to_string_pretty(&all)?),
        SummaryFormat::Table => {
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED).set_header(["JOB", "DUE", "STATUS", "FROM", "TO", "REPORT", "ERROR"]);
            let f = tarn_reports::report::fmt_time;
            for r in &all {
                t.add_row([
                    r.job.clone(),
                    f(r.due),
                    r.status.clone(),
                    f(r.from),
                    f(r.to),
                    r.report_id.clone().unwrap_or_default(),
                    r.error.clone().unwrap_or_default(),
                ]);
            }
            println!("{t}");
        }
    }
    Ok(exit::OK)
}
