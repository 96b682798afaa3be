//! `tarn quickstart`: a signed demo lake with two weeks of drifting history, verified, and a
//! posture summary.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{Duration, Utc};
use serde::Deserialize;
use tarn_eval::inventory;
use tarn_lake::verify::VerifyOptions;
use tarn_lake::{Lake, SnapshotWriter, StoreOptions};
use tarn_model::{ClusterName, GroupPath, SystemClock};
use tarn_query::format::{OutputFormat, render};
use tarn_query::{QueryEngine, QueryOptions};
use tarn_trust::keys::{PublicKey, SigningKeyPair};

use crate::args::{PolicyArgs, invalid};
use crate::cli::QuickstartArgs;
use crate::commands::agent::{ScanTarget, commit_scan};
use crate::commands::policy::Setup;
use crate::{exit, output};

pub const DEMO_KEY_PASSWORD: &str = "tarn-demo";

#[derive(Debug, Deserialize)]
struct Fleet {
    days: u32,
    scan_hours: Vec<u32>,
    agent_id: String,
    clusters: Vec<FleetCluster>,
    #[serde(default)]
    drift: Vec<Drift>,
}

#[derive(Debug, Deserialize)]
struct FleetCluster {
    name: ClusterName,
    group: GroupPath,
    manifests: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Drift {
    cluster: String,
    from_day: u32,
    until_day: Option<u32>,
    add: Option<String>,
    replace: Option<String>,
    with: Option<String>,
}

impl Drift {
    fn active(&self, cluster: &ClusterName, day: u32) -> bool {
        (self.cluster == "*" || self.cluster == cluster.as_str())
            && day >= self.from_day
            && self.until_day.is_none_or(|u| day < u)
    }
}

fn default_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/quickstart")
}

/// The inventory files of `cluster` on `day`, after drift.
fn files_for(root: &Path, fleet: &Fleet, cluster: &FleetCluster, day: u32) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<String> = Vec::new();
    for dir in &cluster.manifests {
        let mut entries: Vec<String> = std::fs::read_dir(root.join(dir))
            .with_context(|| format!("cannot read {}", root.join(dir).display()))?
            .filter_map(|e| e.ok())
            .map(|e| format!("{dir}/{}", e.file_name().to_string_lossy()))
            .collect();
        entries.sort();
        files.extend(entries);
    }
    for d in fleet.drift.iter().filter(|d| d.active(&cluster.name, day)) {
        if let (Some(old), Some(new)) = (&d.replace, &d.with)
            && let Some(slot) = files.iter_mut().find(|f| *f == old)
        {
            *slot = new.clone();
        }
        if let Some(add) = &d.add {
            files.push(add.clone());
        }
    }
    Ok(files.into_iter().map(|f| root.join(f)).collect())
}

pub async fn run(a: QuickstartArgs) -> anyhow::Result<u8> {
    let root = a.fixtures.clone().unwrap_or_else(default_fixtures);
    let root = std::fs::canonicalize(&root).unwrap_or(root);
    let fleet_path = root.join("fleet.yaml");
    let fleet_text = std::fs::read_to_string(&fleet_path).with_context(|| {
        format!(
            "cannot read the demo fleet {} (run from a Tarn source tree, or set TARN_QUICKSTART_FIXTURES)",
            fleet_path.display()
        )
    })?;
    let fleet: Fleet =
        serde_yaml_ng::from_str(&fleet_text).with_context(|| format!("invalid {}", fleet_path.display()))?;
    if a.lake.exists() && std::fs::read_dir(&a.lake)?.next().is_some() {
        return Err(invalid(format!(
            "{} is not empty; quickstart builds a fresh demo lake (remove it or pass --lake NEW_DIR)",
            a.lake.display()
        )));
    }
    let key_path = root.join("demo-key/DEMO-ONLY-DO-NOT-USE.key");
    let key = SigningKeyPair::from_pem(&std::fs::read_to_string(&key_path)?, DEMO_KEY_PASSWORD.as_bytes())
        .with_context(|| format!("cannot load demo key {}", key_path.display()))?;
    let public = PublicKey::from_pem(&std::fs::read_to_string(root.join("demo-key/DEMO-ONLY-DO-NOT-USE.pub"))?)?;
    let lake_dir = a.lake.to_str().ok_or_else(|| invalid("lake path is not UTF-8"))?;
    let lake = Lake::open(lake_dir, &StoreOptions::default())?;

    eprintln!("Signing with the DEMO key {} (public, for demonstration only)", key_path.display());
    let now = Utc::now();
    let first_day = (now - Duration::days(i64::from(fleet.days) - 1)).date_naive();
    let clock = SystemClock;
    let mut writer = SnapshotWriter::new(&lake, &key, &clock);
    let started = std::time::Instant::now();
    let mut plan = Vec::new();
    for day in 0..fleet.days {
        for &hour in &fleet.scan_hours {
            let at = (first_day + Duration::days(i64::from(day)))
                .and_hms_opt(hour, 0, 0)
                .context("bad scan hour")?
                .and_utc();
            if at <= now {
                for c in &fleet.clusters {
                    plan.push((day, at, c));
                }
            }
        }
    }
    // Every framework: PSS and CIS, the demo's image policy, SLSA and custom Rego over the
    // demo's image evidence (signatures by the demo key, real upstream provenance).
    let setup = Setup::from_args(&PolicyArgs {
        policies: Some(root.join("policies")),
        evidence: vec![root.join("evidence")],
        ..Default::default()
    })?;
    let policy_files = setup.read_policies();
    let bar = output::bar(plan.len() as u64, "scanning demo fleet");
    let (mut rows, mut skipped) = (0u64, 0usize);
    let mut evidence_cache = None;
    for (day, at, cluster) in &plan {
        let files = files_for(&root, &fleet, cluster, *day)?;
        let inv = inventory::read_paths(&files)?;
        // The evidence directory does not change during the demo: read it once.
        let evidence = match &evidence_cache {
            Some(e) => e,
            None => evidence_cache.insert(setup.evidence.collect(&inv).await),
        };
        let eval = setup.evaluate(&inv, &policy_files, evidence);
        skipped += inv.problems.len() + eval.policy_problems.len() + evidence.problems.len();
        let target = ScanTarget {
            cluster: &cluster.name,
            group: &cluster.group,
            agent_id: &fleet.agent_id,
            observed_at: *at,
            evaluated_at: Utc::now(),
        };
        rows += commit_scan(&mut writer, eval, &target).await?.record.row_count;
        bar.inc(1);
    }
    bar.finish_and_clear();
    if skipped > 0 {
        return Err(anyhow::anyhow!("the demo fleet has {skipped} unreadable documents, policies or evidence items"));
    }
    println!(
        "Wrote {} signed snapshots ({} rows) for {} clusters over {} days in {:.1}s",
        plan.len(),
        rows,
        fleet.clusters.len(),
        fleet.days,
        started.elapsed().as_secs_f64()
    );

    // Fold the logs into a catalog checkpoint, as agents do every few dozen commits.
    tarn_lake::write_checkpoint(&lake, &clock, &Default::default()).await?;
    let report =
        tarn_lake::verify::verify(&lake, &VerifyOptions { keys: vec![public.clone()], ..Default::default() }).await?;
    if !report.ok() {
        for p in &report.problems {
            eprintln!("  {:?} {}: {}", p.kind, p.object, p.detail);
        }
        return Err(anyhow::anyhow!("verification of the demo lake failed"));
    }
    println!(
        "Verified: {} log entries, {} objects ({} bytes) hashed, every signature and chain intact",
        report.entries, report.objects_hashed, report.bytes_hashed
    );

    let engine = QueryEngine::open(&lake, QueryOptions::default())
        .await?
        .with_controls(&crate::commands::evidence::catalog_controls())?;
    let summary = tarn_query::named::named("posture_summary")?.render(&Default::default())?;
    let batches = engine.sql(&summary).await?;
    println!("\nPosture now (latest snapshot per cluster):");
    println!("{}", render(&batches, OutputFormat::Table)?);
    // A compliance report over the demo's whole history, signed into the lake like any other.
    let reports_dir = a.reports.clone().unwrap_or_else(|| {
        a.lake.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).join("tarn-reports")
    });
    let req = tarn_reports::ReportRequest {
        framework: "cis-k8s".into(),
        scope: tarn_reports::ReportScope::Fleet,
        from: first_day.and_hms_opt(0, 0, 0).context("midnight")?.and_utc(),
        to: now,
        bucket: None,
        keys: vec![public.clone()],
    };
    let formats = [tarn_reports::publish::Format::Pdf, tarn_reports::publish::Format::Csv];
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (report, rendered, committed) =
        crate::commands::reports::produce(&engine, &lake, &req, &formats, Some(&key), None, tty).await?;
    let pdf = reports_dir.join("cis-k8s.pdf");
    let csv = reports_dir.join("cis-k8s-csv");
    crate::commands::reports::write_local(&rendered, formats[0], &pdf)?;
    crate::commands::reports::write_local(&rendered, formats[1], &csv)?;
    println!(
        "\nCIS Kubernetes report, {} to {}: compliance {}, {} findings, signed into the lake as {}",
        report.meta.from,
        report.meta.to,
        tarn_reports::csv::pct(report.summary.compliance_pct) + " %",
        report.summary.findings,
        committed.map(|c| c.entry_path.to_string()).unwrap_or_default()
    );
    println!("  PDF: {}", pdf.display());
    println!("  CSV: {}/ (summary, controls, trend, clusters, findings, evidence)", csv.display());

    let lake_arg = a.lake.display();
    println!("\nLake: {}", lake.url());
    println!("Next:");
    println!(
        "  tarn evidence verify --lake {lake_arg} --key {}",
        root.join("demo-key/DEMO-ONLY-DO-NOT-USE.pub").display()
    );
    println!(
        "  tarn evidence query --lake {lake_arg} \"select observed_at, cluster, workload_name, control_id, message from evaluations where status = 'fail' and framework = 'pss-baseline' order by observed_at desc limit 20\""
    );
    println!(
        "  duckdb -c \"select cluster, count(*) from read_parquet('{lake_arg}/evaluations/**/*.parquet', hive_partitioning=true) group by all\""
    );
    if let Some(rules) = root.parent().map(|f| f.join("alerts/rules.example.yaml")).filter(|p| p.exists()) {
        println!("  tarn alerts test --lake {lake_arg} --rules {} --rule pss-regressions --last 30", rules.display());
    }
    Ok(exit::OK)
}
