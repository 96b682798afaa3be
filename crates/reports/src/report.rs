//! What a report says, computed from the query engine's named `report_*` queries.
//!
//! Every number comes from a named query in `queries/` (their rendered SQL is kept in the
//! report's evidence section), and every finding names the signed snapshot that proves it.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use tarn_lake::Lake;
use tarn_model::ClusterName;
use tarn_query::QueryEngine;
use tarn_trust::keys::PublicKey;

use crate::error::ReportError;
use crate::frame::Frame;

/// Version of the CSV columns (`schemas/report-csv.v1.md`) and of the report data model.
pub const REPORT_FORMAT_VERSION: &str = "1";

/// Who is reported on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum ReportScope {
    Fleet,
    Group(String),
    Cluster(String),
}

impl ReportScope {
    /// The scope argument of the table functions.
    pub fn arg(&self) -> String {
        match self {
            ReportScope::Fleet => String::new(),
            ReportScope::Group(g) | ReportScope::Cluster(g) => g.clone(),
        }
    }

    pub fn label(&self) -> String {
        match self {
            ReportScope::Fleet => "whole fleet".into(),
            ReportScope::Group(g) => format!("group {g} and its descendants"),
            ReportScope::Cluster(c) => format!("cluster {c}"),
        }
    }

    /// `fleet`, `group:/acme/prod`, `cluster:prod-eu-1`.
    pub fn id(&self) -> String {
        match self {
            ReportScope::Fleet => "fleet".into(),
            ReportScope::Group(g) => format!("group:{g}"),
            ReportScope::Cluster(c) => format!("cluster:{c}"),
        }
    }

    pub fn group(g: &str) -> Result<Self, ReportError> {
        let g = if g.starts_with('/') { g.to_string() } else { format!("/{g}") };
        g.parse::<tarn_model::GroupPath>().map_err(|e| ReportError::Invalid(format!("--group {g:?}: {e}")))?;
        Ok(ReportScope::Group(g))
    }

    pub fn cluster(c: &str) -> Result<Self, ReportError> {
        c.parse::<ClusterName>().map_err(|e| ReportError::Invalid(format!("--cluster {c:?}: {e}")))?;
        Ok(ReportScope::Cluster(c.to_string()))
    }
}

/// What to report.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    pub framework: String,
    pub scope: ReportScope,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Trend bucket; `None` picks one from the range's length.
    pub bucket: Option<Duration>,
    /// Keys snapshot signatures are verified with; empty: the keys stored in the lake.
    pub keys: Vec<PublicKey>,
}

impl ReportRequest {
    pub fn validate(&self) -> Result<(), ReportError> {
        if self.from >= self.to {
            return Err(ReportError::Invalid(format!(
                "the range is empty: --from {} is not before --to {}",
                fmt_time(self.from),
                fmt_time(self.to)
            )));
        }
        if self.framework.trim().is_empty() {
            return Err(ReportError::Invalid("--framework is empty".into()));
        }
        if let Some(b) = self.bucket
            && (b <= Duration::zero() || (self.to - self.from).num_seconds() / b.num_seconds().max(1) > 2_000)
        {
            return Err(ReportError::Invalid(format!(
                "--bucket {}s gives more than 2,000 trend points over the range",
                b.num_seconds()
            )));
        }
        Ok(())
    }

    /// The trend bucket: hourly up to 2 days, daily up to 120 days, then weekly.
    pub fn bucket(&self) -> Duration {
        self.bucket.unwrap_or_else(|| {
            let len = self.to - self.from;
            if len <= Duration::days(2) {
                Duration::hours(1)
            } else if len <= Duration::days(120) {
                Duration::days(1)
            } else {
                Duration::weeks(1)
            }
        })
    }
}

/// RFC 3339 UTC with seconds, as every report field prints times.
pub fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn duration_arg(d: Duration) -> String {
    format!("{}s", d.num_seconds())
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub meta: Meta,
    pub summary: Summary,
    pub controls: Vec<ControlRow>,
    pub trend: Vec<TrendPoint>,
    pub clusters: Vec<ClusterRow>,
    pub findings: Vec<Finding>,
    pub evidence: Evidence,
}

#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    pub format_version: String,
    pub title: String,
    pub framework: String,
    /// Versions of the framework the posture was evaluated at (`1.12`, `v1.37`, ...).
    pub framework_versions: Vec<String>,
    pub catalog_version: String,
    pub scope: ReportScope,
    pub scope_label: String,
    pub from: String,
    pub to: String,
    pub bucket_seconds: i64,
    pub bucket_label: String,
    pub staleness_hours: i64,
    pub lake: String,
    pub lake_id: String,
    pub tarn_version: String,
    /// SHA-256 over the request, the snapshots it reads and the queries it runs.
    pub input_digest: String,
    /// Filled in when the report is generated (not part of the CSV).
    pub report_id: String,
    pub generated_at: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub compliance_pct: Option<f64>,
    pub compliance_pct_start: Option<f64>,
    /// Percentage points, end minus start.
    pub change_pts: Option<f64>,
    pub controls_total: u64,
    pub controls_passing: u64,
    pub controls_failing: u64,
    pub controls_warning: u64,
    pub controls_not_evaluated: u64,
    pub controls_manual: u64,
    pub resources_evaluated: u64,
    pub resources_pass: u64,
    pub resources_fail: u64,
    pub resources_warn: u64,
    pub resources_error: u64,
    pub clusters: u64,
    pub stale_clusters: u64,
    pub findings: u64,
    pub failing_resources: u64,
    pub snapshots_used: u64,
    pub snapshots_verified: u64,
    pub snapshots_in_range: u64,
    pub snapshots_in_range_digest: String,
    pub worst_clusters: Vec<WorstCluster>,
    pub worst_namespaces: Vec<WorstNamespace>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorstCluster {
    pub cluster: String,
    pub group_path: String,
    pub compliance_pct: Option<f64>,
    pub findings: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorstNamespace {
    pub cluster: String,
    pub namespace: String,
    pub findings: u64,
    pub controls: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ControlRow {
    pub framework_version: String,
    pub control_id: String,
    pub title: String,
    pub severity: String,
    /// `pass`, `fail`, `warn`, `not_evaluated` or `manual`.
    pub status: String,
    pub pass: u64,
    pub fail: u64,
    pub warn: u64,
    pub error: u64,
    pub evaluated: u64,
    pub compliance_pct: Option<f64>,
    pub automated: bool,
    pub remediation: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrendPoint {
    pub bucket_start: String,
    pub bucket_end: String,
    pub compliance_pct: Option<f64>,
    pub clusters: u64,
    pub stale_clusters: u64,
    pub evaluated: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClusterRow {
    pub cluster: String,
    pub group_path: String,
    pub compliance_pct: Option<f64>,
    pub controls: u64,
    pub pass: u64,
    pub fail: u64,
    pub warn: u64,
    pub error: u64,
    pub evaluated: u64,
    pub findings: u64,
    pub snapshot_id: String,
    pub observed_at: String,
    pub stale: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub cluster: String,
    pub group_path: String,
    pub namespace: String,
    pub workload_kind: String,
    pub workload_name: String,
    pub container: String,
    pub image: String,
    pub image_digest: String,
    pub framework_version: String,
    pub control_id: String,
    pub severity: String,
    pub status: String,
    pub message: String,
    pub first_seen_failing: String,
    /// The run started at the cluster's first snapshot in the range: it may have begun earlier.
    pub failing_since_range_start: bool,
    pub snapshot_id: String,
    pub observed_at: String,
    pub object_sha256: String,
    pub log_entry_sha256: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    pub trust_anchor: String,
    pub snapshots: Vec<SnapshotEvidence>,
    pub queries: Vec<QueryText>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SnapshotEvidence {
    pub snapshot_id: String,
    pub cluster: String,
    pub group_path: String,
    /// Why the report reads it: `end`, `start` or `end,start`.
    pub role: String,
    pub seq: u64,
    pub observed_at: String,
    pub agent_id: String,
    pub agent_version: String,
    pub object_path: String,
    pub object_size: u64,
    pub object_sha256: String,
    pub log_entry_sha256: String,
    /// `verified` or `FAILED`.
    pub signature: String,
    pub key_id: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueryText {
    pub name: String,
    pub sql: String,
}

/// Progress steps, for a progress bar.
pub const STEPS: u64 = 12;

/// Runs the report's queries and assembles the report. `progress(step_done, label)` is called
/// after each step. The engine should hold the `controls` catalog (`with_controls`).
pub async fn build(
    engine: &QueryEngine,
    lake: &Lake,
    req: &ReportRequest,
    progress: &(dyn Fn(u64, &str) + Sync),
) -> Result<Report, ReportError> {
    req.validate()?;
    let fw = req.framework.clone();
    let scope = req.scope.arg();
    let (from, to) = (fmt_time(req.from), fmt_time(req.to));
    let bucket = req.bucket();
    let mut queries: Vec<QueryText> = Vec::new();
    let mut sql = |name: &str, params: &[(&str, &str)]| -> Result<String, ReportError> {
        let values: BTreeMap<String, String> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let text = tarn_query::named::named(name)
            .and_then(|q| q.render(&values))
            .map_err(|e| ReportError::Invalid(e.to_string()))?;
        queries.push(QueryText { name: name.to_string(), sql: text.clone() });
        Ok(text)
    };
    let bucket_arg = duration_arg(bucket);
    let q_end = sql("report_summary", &[("at", &to), ("framework", &fw), ("scope", &scope)])?;
    let q_start = sql("report_summary", &[("at", &from), ("framework", &fw), ("scope", &scope)])?;
    let q_controls = sql("report_controls", &[("at", &to), ("framework", &fw), ("scope", &scope)])?;
    let q_catalog = sql("report_catalog", &[("framework", &fw)])?;
    let q_clusters = sql("report_clusters", &[("at", &to), ("framework", &fw), ("scope", &scope)])?;
    let q_trend = sql(
        "report_trend",
        &[("bucket", &bucket_arg), ("from", &from), ("to", &to), ("framework", &fw), ("scope", &scope)],
    )?;
    let q_findings = sql("report_findings", &[("at", &to), ("framework", &fw), ("scope", &scope)])?;
    let q_first = sql("report_first_failing", &[("from", &from), ("to", &to), ("framework", &fw), ("scope", &scope)])?;
    let q_snaps = sql("report_snapshots", &[("from", &from), ("to", &to), ("scope", &scope)])?;
    let q_range = sql("report_range_snapshots", &[("from", &from), ("to", &to), ("scope", &scope)])?;

    let run = |name: &'static str, text: String| async move {
        let batches = engine.sql(&text).await?;
        progress(1, name);
        Ok::<_, ReportError>(Frame::new(name, batches))
    };
    // Scores read only rollups; findings read the end posture; first-failing reads the range.
    let (end, start, controls, catalog, clusters, trend) = futures::try_join!(
        run("report_summary", q_end),
        run("report_summary", q_start),
        run("report_controls", q_controls),
        run("report_catalog", q_catalog),
        run("report_clusters", q_clusters),
        run("report_trend", q_trend),
    )?;
    let (findings, first, snaps, range) = futures::try_join!(
        run("report_findings", q_findings),
        run("report_first_failing", q_first),
        run("report_snapshots", q_snaps),
        run("report_range_snapshots", q_range),
    )?;

    // --- findings, with the start of their failing run ---
    let observed = range_observed(&range)?;
    let first_map = first_failing(&first, &observed)?;
    let findings = read_findings(&findings, &first_map)?;
    let versions: Vec<String> = {
        let mut v: Vec<String> = findings.iter().map(|f| f.framework_version.clone()).collect();
        v.sort();
        v.dedup();
        v
    };

    // --- controls: scored ∪ catalog ---
    let (controls, catalog_version) = merge_controls(&controls, &catalog, &versions)?;
    let mut framework_versions = versions;
    if framework_versions.is_empty() && !catalog_version.is_empty() {
        framework_versions.push(catalog_version.clone());
    }

    // --- clusters ---
    let mut findings_per_cluster: HashMap<&str, u64> = HashMap::new();
    for f in &findings {
        *findings_per_cluster.entry(f.cluster.as_str()).or_default() += 1;
    }
    let clusters = read_clusters(&clusters, &findings_per_cluster)?;

    // --- trend ---
    let trend = read_trend(&trend)?;

    // --- evidence: the snapshots the posture rests on, verified now ---
    let keys = if req.keys.is_empty() { lake_keys(lake).await? } else { req.keys.clone() };
    let trust_anchor = if req.keys.is_empty() { "keys stored in the lake" } else { "keys given by the caller" };
    let snapshots = read_snapshots(lake, &keys, &snaps).await?;
    progress(1, "verified snapshots");

    // --- summary ---
    let mut summary = Summary::default();
    let e = one_score(&end)?;
    let s = one_score(&start)?;
    summary.compliance_pct = e.pct;
    summary.compliance_pct_start = s.pct;
    summary.change_pts = match (e.pct, s.pct) {
        (Some(a), Some(b)) => Some(round2(a) - round2(b)),
        _ => None,
    };
    summary.clusters = e.clusters;
    summary.stale_clusters = e.stale;
    summary.resources_evaluated = e.evaluated;
    summary.resources_pass = e.pass;
    summary.resources_fail = e.fail;
    summary.resources_warn = e.warn;
    summary.resources_error = e.error;
    summary.controls_total = controls.len() as u64;
    for c in &controls {
        match c.status.as_str() {
            "pass" => summary.controls_passing += 1,
            "fail" => summary.controls_failing += 1,
            "warn" => summary.controls_warning += 1,
            "manual" => summary.controls_manual += 1,
            _ => summary.controls_not_evaluated += 1,
        }
    }
    summary.findings = findings.len() as u64;
    summary.failing_resources = {
        let mut w: Vec<(&str, &str, &str, &str)> = findings
            .iter()
            .map(|f| (f.cluster.as_str(), f.namespace.as_str(), f.workload_kind.as_str(), f.workload_name.as_str()))
            .collect();
        w.sort_unstable();
        w.dedup();
        w.len() as u64
    };
    summary.snapshots_used = snapshots.len() as u64;
    summary.snapshots_verified = snapshots.iter().filter(|s| s.signature == "verified").count() as u64;
    let (n, digest) = range_digest(&range)?;
    summary.snapshots_in_range = n;
    summary.snapshots_in_range_digest = digest;
    summary.worst_clusters = worst_clusters(&clusters);
    summary.worst_namespaces = worst_namespaces(&findings);

    let descriptor = lake.require_descriptor().await?;
    let title = format!("{} compliance report", framework_title(&fw));
    let mut meta = Meta {
        format_version: REPORT_FORMAT_VERSION.into(),
        title,
        framework: fw.clone(),
        framework_versions,
        catalog_version,
        scope: req.scope.clone(),
        scope_label: req.scope.label(),
        from,
        to,
        bucket_seconds: bucket.num_seconds(),
        bucket_label: bucket_label(bucket),
        staleness_hours: engine.options().staleness.num_hours(),
        lake: lake.url().to_string(),
        lake_id: descriptor.lake_id,
        tarn_version: env!("CARGO_PKG_VERSION").into(),
        input_digest: String::new(),
        report_id: String::new(),
        generated_at: String::new(),
    };
    meta.input_digest = input_digest(&meta, &summary, &snapshots, &queries);
    progress(1, "assembled");
    Ok(Report {
        meta,
        summary,
        controls,
        trend,
        clusters,
        findings,
        evidence: Evidence { trust_anchor: trust_anchor.into(), snapshots, queries },
    })
}

/// Human names of the built-in frameworks.
pub fn framework_title(fw: &str) -> String {
    match fw {
        "cis-k8s" => "CIS Kubernetes Benchmark (section 5)".into(),
        "pss-baseline" => "Pod Security Standards: Baseline".into(),
        "pss-restricted" => "Pod Security Standards: Restricted".into(),
        "slsa" => "SLSA build track".into(),
        "image-policy" => "Sigstore image policies".into(),
        other => other.to_string(),
    }
}

fn bucket_label(d: Duration) -> String {
    let s = d.num_seconds();
    match s {
        s if s % 604_800 == 0 => format!("{} week(s)", s / 604_800),
        s if s % 86_400 == 0 => format!("{} day(s)", s / 86_400),
        s if s % 3_600 == 0 => format!("{} hour(s)", s / 3_600),
        s => format!("{s} s"),
    }
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

struct Score {
    pct: Option<f64>,
    clusters: u64,
    stale: u64,
    evaluated: u64,
    pass: u64,
    fail: u64,
    warn: u64,
    error: u64,
}

fn one_score(f: &Frame) -> Result<Score, ReportError> {
    if f.len() == 0 {
        return Ok(Score { pct: None, clusters: 0, stale: 0, evaluated: 0, pass: 0, fail: 0, warn: 0, error: 0 });
    }
    Ok(Score {
        pct: f.f64s("compliance_pct")?[0],
        clusters: f.u64s("clusters")?[0],
        stale: f.u64s("stale_clusters")?[0],
        evaluated: f.u64s("evaluated")?[0],
        pass: f.u64s("pass")?[0],
        fail: f.u64s("fail")?[0],
        warn: f.u64s("warn")?[0],
        error: f.u64s("error")?[0],
    })
}

type ResourceKey = (String, String, String, String, String, String);

/// When each failing (workload, container, control) started its current run, from the last
/// evaluation in the range that did not fail (`last_ok`) and the cluster's snapshot times: the
/// run starts at the cluster's first snapshot after `last_ok`, or at the first failing
/// evaluation when nothing passed in the range (`true`: the run may be older than the range).
fn first_failing(
    f: &Frame,
    snapshots: &HashMap<String, Vec<DateTime<Utc>>>,
) -> Result<HashMap<ResourceKey, (DateTime<Utc>, bool)>, ReportError> {
    let (c, n, k, w, ct, ctl) = (
        f.strings("cluster")?,
        f.strings("namespace")?,
        f.strings("workload_kind")?,
        f.strings("workload_name")?,
        f.strings("container")?,
        f.strings("control_id")?,
    );
    let (last_ok, first_fail) = (f.times("last_ok")?, f.times("first_failing")?);
    let mut out = HashMap::with_capacity(c.len());
    for (i, key) in itertools_zip6(c, n, k, w, ct, ctl).enumerate() {
        let start = match (last_ok[i], first_fail[i]) {
            (Some(ok), _) => {
                let times = snapshots.get(&key.0).map(Vec::as_slice).unwrap_or_default();
                times.get(times.partition_point(|t| *t <= ok)).map(|t| (*t, false))
            }
            (None, Some(first)) => {
                let since_start = snapshots.get(&key.0).and_then(|t| t.first()).is_none_or(|t| first <= *t);
                Some((first, since_start))
            }
            (None, None) => None,
        };
        if let Some(start) = start {
            out.insert(key, start);
        }
    }
    Ok(out)
}

fn itertools_zip6(
    a: Vec<String>,
    b: Vec<String>,
    c: Vec<String>,
    d: Vec<String>,
    e: Vec<String>,
    f: Vec<String>,
) -> impl Iterator<Item = ResourceKey> {
    a.into_iter().zip(b).zip(c).zip(d).zip(e).zip(f).map(|(((((a, b), c), d), e), f)| (a, b, c, d, e, f))
}

/// Each cluster's snapshot times in the range, sorted.
fn range_observed(f: &Frame) -> Result<HashMap<String, Vec<DateTime<Utc>>>, ReportError> {
    let (c, t) = (f.strings("cluster")?, f.times("observed_at")?);
    let mut out: HashMap<String, Vec<DateTime<Utc>>> = HashMap::new();
    for (c, t) in c.into_iter().zip(t) {
        if let Some(t) = t {
            out.entry(c).or_default().push(t);
        }
    }
    for v in out.values_mut() {
        v.sort_unstable();
    }
    Ok(out)
}

fn range_digest(f: &Frame) -> Result<(u64, String), ReportError> {
    let (ids, shas) = (f.strings("snapshot_id")?, f.strings("object_sha256")?);
    let mut lines: Vec<String> = ids.into_iter().zip(shas).map(|(i, s)| format!("{i} {s}\n")).collect();
    lines.sort();
    let mut h = tarn_trust::StreamingSha256::new();
    for l in &lines {
        h.update(l.as_bytes());
    }
    Ok((lines.len() as u64, format!("sha256:{}", h.finish_hex())))
}

fn read_findings(f: &Frame, first: &HashMap<ResourceKey, (DateTime<Utc>, bool)>) -> Result<Vec<Finding>, ReportError> {
    let s = |c: &str| f.strings(c);
    let (cluster, group, ns, kind, name, container) =
        (s("cluster")?, s("group_path")?, s("namespace")?, s("workload_kind")?, s("workload_name")?, s("container")?);
    let (image, digest, version, control, severity, status, message) = (
        s("image")?,
        s("image_digest")?,
        s("framework_version")?,
        s("control_id")?,
        s("severity")?,
        s("status")?,
        s("message")?,
    );
    let (snap, obj, entry) = (s("snapshot_id")?, s("object_sha256")?, s("log_entry_sha256")?);
    let observed = f.times("observed_at")?;
    let mut out = Vec::with_capacity(cluster.len());
    for i in 0..cluster.len() {
        let key = (
            cluster[i].clone(),
            ns[i].clone(),
            kind[i].clone(),
            name[i].clone(),
            container[i].clone(),
            control[i].clone(),
        );
        let obs = observed[i].unwrap_or_default();
        // No failing row in the range (the cluster's newest snapshot predates it): the
        // snapshot that proves the finding is the first sighting the range can show.
        let (first_seen, since_start) = first.get(&key).copied().unwrap_or((obs, true));
        out.push(Finding {
            cluster: cluster[i].clone(),
            group_path: group[i].clone(),
            namespace: ns[i].clone(),
            workload_kind: kind[i].clone(),
            workload_name: name[i].clone(),
            container: container[i].clone(),
            image: image[i].clone(),
            image_digest: digest[i].clone(),
            framework_version: version[i].clone(),
            control_id: control[i].clone(),
            severity: severity[i].clone(),
            status: status[i].clone(),
            message: message[i].clone(),
            first_seen_failing: fmt_time(first_seen),
            failing_since_range_start: since_start,
            snapshot_id: snap[i].clone(),
            observed_at: fmt_time(obs),
            object_sha256: obj[i].clone(),
            log_entry_sha256: entry[i].clone(),
        });
    }
    Ok(out)
}

/// Orders versions like `1.9 < 1.10 < 1.12`, `v1.29 < v1.37`.
fn version_key(v: &str) -> Vec<u64> {
    v.trim_start_matches('v').split(['.', '-']).map(|p| p.parse().unwrap_or(0)).collect()
}

fn merge_controls(
    scored: &Frame,
    catalog: &Frame,
    versions: &[String],
) -> Result<(Vec<ControlRow>, String), ReportError> {
    // Catalog: the version the posture was evaluated at when the catalog has it (CIS), else
    // the newest (PSS catalogs carry one version for every policy version).
    let cat_versions = catalog.strings("framework_version")?;
    let chosen = {
        let mut vs: Vec<&String> = cat_versions.iter().collect();
        vs.sort_by_key(|v| version_key(v));
        vs.dedup();
        vs.iter().rev().find(|v| versions.contains(v)).or(vs.last()).map(|v| v.to_string()).unwrap_or_default()
    };
    let (ids, titles, sev, rem, auto, manual) = (
        catalog.strings("control_id")?,
        catalog.strings("title")?,
        catalog.strings("severity")?,
        catalog.strings("remediation")?,
        catalog.bools("automated")?,
        catalog.strings("manual_reason")?,
    );
    struct Cat {
        version: String,
        title: String,
        severity: String,
        remediation: String,
        automated: bool,
        in_chosen: bool,
    }
    let mut cat: BTreeMap<String, Cat> = BTreeMap::new();
    for i in 0..ids.len() {
        let in_chosen = cat_versions[i] == chosen;
        let better = cat
            .get(&ids[i])
            .is_none_or(|c| (in_chosen, version_key(&cat_versions[i])) > (c.in_chosen, version_key(&c.version)));
        if better {
            let remediation = if auto[i] || manual[i].is_empty() {
                rem[i].clone()
            } else {
                format!("{} (Manual: {})", rem[i], manual[i])
            };
            cat.insert(
                ids[i].clone(),
                Cat {
                    version: cat_versions[i].clone(),
                    title: titles[i].clone(),
                    severity: sev[i].clone(),
                    remediation,
                    automated: auto[i],
                    in_chosen,
                },
            );
        }
    }
    let (sid, pass, fail, warn, error, evaluated, pct) = (
        scored.strings("control_id")?,
        scored.u64s("pass")?,
        scored.u64s("fail")?,
        scored.u64s("warn")?,
        scored.u64s("error")?,
        scored.u64s("evaluated")?,
        scored.f64s("compliance_pct")?,
    );
    let mut rows: BTreeMap<String, ControlRow> = BTreeMap::new();
    for i in 0..sid.len() {
        let c = cat.get(&sid[i]);
        let status = if evaluated[i] == 0 {
            if c.is_some_and(|c| !c.automated) { "manual" } else { "not_evaluated" }
        } else if fail[i] + error[i] > 0 {
            "fail"
        } else if warn[i] > 0 {
            "warn"
        } else {
            "pass"
        };
        rows.insert(
            sid[i].clone(),
            ControlRow {
                framework_version: c.map(|c| c.version.clone()).unwrap_or_default(),
                control_id: sid[i].clone(),
                title: c.map(|c| c.title.clone()).unwrap_or_else(|| sid[i].clone()),
                severity: c.map(|c| c.severity.clone()).unwrap_or_default(),
                status: status.into(),
                pass: pass[i],
                fail: fail[i],
                warn: warn[i],
                error: error[i],
                evaluated: evaluated[i],
                compliance_pct: pct[i],
                automated: c.is_none_or(|c| c.automated),
                remediation: c.map(|c| c.remediation.clone()).unwrap_or_default(),
            },
        );
    }
    // At restricted, these PSS checks replace their baseline counterparts (the catalog says
    // so): a replaced control is not "not evaluated", it does not apply.
    const REPLACED: &[(&str, &str)] = &[
        ("capabilities_baseline", "capabilities_restricted"),
        ("seccompProfile_baseline", "seccompProfile_restricted"),
        ("hostPathVolumes", "restrictedVolumes"),
        ("procMount", "procMount_restricted"),
    ];
    let replaced = |id: &str| REPLACED.iter().any(|(old, new)| *old == id && rows.contains_key(*new));
    let missing: Vec<(&String, &Cat)> =
        cat.iter().filter(|(id, c)| c.in_chosen && !rows.contains_key(*id) && !replaced(id)).collect();
    for (id, c) in missing {
        rows.insert(
            id.clone(),
            ControlRow {
                framework_version: c.version.clone(),
                control_id: id.clone(),
                title: c.title.clone(),
                severity: c.severity.clone(),
                status: if c.automated { "not_evaluated" } else { "manual" }.into(),
                pass: 0,
                fail: 0,
                warn: 0,
                error: 0,
                evaluated: 0,
                compliance_pct: None,
                automated: c.automated,
                remediation: c.remediation.clone(),
            },
        );
    }
    let mut rows: Vec<ControlRow> = rows.into_values().collect();
    rows.sort_by(|a, b| {
        version_key(&a.control_id).cmp(&version_key(&b.control_id)).then(a.control_id.cmp(&b.control_id))
    });
    Ok((rows, chosen))
}

fn read_clusters(f: &Frame, findings: &HashMap<&str, u64>) -> Result<Vec<ClusterRow>, ReportError> {
    let (c, g, snap) = (f.strings("cluster")?, f.strings("group_path")?, f.strings("snapshot_id")?);
    let (obs, stale, pct) = (f.times("observed_at")?, f.bools("stale")?, f.f64s("compliance_pct")?);
    let (controls, pass, fail, warn, error, evaluated) = (
        f.u64s("controls")?,
        f.u64s("pass")?,
        f.u64s("fail")?,
        f.u64s("warn")?,
        f.u64s("error")?,
        f.u64s("evaluated")?,
    );
    Ok((0..c.len())
        .map(|i| ClusterRow {
            cluster: c[i].clone(),
            group_path: g[i].clone(),
            compliance_pct: pct[i],
            controls: controls[i],
            pass: pass[i],
            fail: fail[i],
            warn: warn[i],
            error: error[i],
            evaluated: evaluated[i],
            findings: findings.get(c[i].as_str()).copied().unwrap_or(0),
            snapshot_id: snap[i].clone(),
            observed_at: obs[i].map(fmt_time).unwrap_or_default(),
            stale: stale[i],
        })
        .collect())
}

fn read_trend(f: &Frame) -> Result<Vec<TrendPoint>, ReportError> {
    let (s, e, pct) = (f.times("bucket_start")?, f.times("bucket_end")?, f.f64s("compliance_pct")?);
    let (c, st, ev) = (f.u64s("clusters")?, f.u64s("stale_clusters")?, f.u64s("evaluated")?);
    Ok((0..s.len())
        .map(|i| TrendPoint {
            bucket_start: s[i].map(fmt_time).unwrap_or_default(),
            bucket_end: e[i].map(fmt_time).unwrap_or_default(),
            compliance_pct: pct[i],
            clusters: c[i],
            stale_clusters: st[i],
            evaluated: ev[i],
        })
        .collect())
}

async fn lake_keys(lake: &Lake) -> Result<Vec<PublicKey>, ReportError> {
    use futures::TryStreamExt;
    use object_store::ObjectStoreExt;
    let metas: Vec<_> = lake
        .store()
        .list(Some(&object_store::path::Path::from(tarn_lake::paths::KEYS_PREFIX)))
        .try_collect()
        .await
        .map_err(tarn_lake::LakeError::from)?;
    let mut keys = Vec::new();
    for m in metas {
        let bytes = lake.store().get(&m.location).await.map_err(tarn_lake::LakeError::from)?.bytes().await;
        if let Ok(k) = bytes.map_err(|e| e.to_string()).and_then(|b| {
            std::str::from_utf8(&b)
                .map_err(|e| e.to_string())
                .and_then(|s| PublicKey::from_pem(s).map_err(|e| e.to_string()))
        }) {
            keys.push(k);
        }
    }
    Ok(keys)
}

async fn read_snapshots(lake: &Lake, keys: &[PublicKey], f: &Frame) -> Result<Vec<SnapshotEvidence>, ReportError> {
    let (id, cluster, group, roles) =
        (f.strings("snapshot_id")?, f.strings("cluster")?, f.strings("group_path")?, f.strings("roles")?);
    let (seq, obs, agent, agent_v) =
        (f.u64s("seq")?, f.times("observed_at")?, f.strings("agent_id")?, f.strings("agent_version")?);
    let (path, size, sha, entry) = (
        f.strings("object_path")?,
        f.u64s("object_size")?,
        f.strings("object_sha256")?,
        f.strings("log_entry_sha256")?,
    );
    let mut wanted = Vec::with_capacity(id.len());
    for i in 0..id.len() {
        let c: ClusterName =
            cluster[i].parse().map_err(|e| ReportError::Invalid(format!("cluster {:?}: {e}", cluster[i])))?;
        wanted.push((c, seq[i], entry[i].clone()));
    }
    let checks = tarn_lake::verify::verify_snapshots(lake, keys, &wanted).await?;
    Ok((0..id.len())
        .map(|i| {
            let c = &checks[i];
            SnapshotEvidence {
                snapshot_id: id[i].clone(),
                cluster: cluster[i].clone(),
                group_path: group[i].clone(),
                role: roles[i].clone(),
                seq: seq[i],
                observed_at: obs[i].map(fmt_time).unwrap_or_default(),
                agent_id: agent[i].clone(),
                agent_version: agent_v[i].clone(),
                object_path: path[i].clone(),
                object_size: size[i],
                object_sha256: sha[i].clone(),
                log_entry_sha256: entry[i].clone(),
                signature: if c.verified() { "verified" } else { "FAILED" }.into(),
                key_id: c.key_id.clone().unwrap_or_default(),
                detail: c.problems.join("; "),
            }
        })
        .collect())
}

fn worst_clusters(clusters: &[ClusterRow]) -> Vec<WorstCluster> {
    let mut v: Vec<&ClusterRow> = clusters.iter().filter(|c| c.compliance_pct.is_some()).collect();
    v.sort_by(|a, b| {
        a.compliance_pct
            .partial_cmp(&b.compliance_pct)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(b.findings.cmp(&a.findings))
            .then(a.cluster.cmp(&b.cluster))
    });
    v.into_iter()
        .take(5)
        .map(|c| WorstCluster {
            cluster: c.cluster.clone(),
            group_path: c.group_path.clone(),
            compliance_pct: c.compliance_pct,
            findings: c.findings,
        })
        .collect()
}

fn worst_namespaces(findings: &[Finding]) -> Vec<WorstNamespace> {
    let mut m: BTreeMap<(&str, &str), (u64, Vec<&str>)> = BTreeMap::new();
    for f in findings {
        let e = m.entry((&f.cluster, &f.namespace)).or_default();
        e.0 += 1;
        e.1.push(&f.control_id);
    }
    let mut v: Vec<WorstNamespace> = m
        .into_iter()
        .map(|((c, n), (count, mut ctl))| {
            ctl.sort_unstable();
            ctl.dedup();
            WorstNamespace { cluster: c.into(), namespace: n.into(), findings: count, controls: ctl.len() as u64 }
        })
        .collect();
    v.sort_by(|a, b| b.findings.cmp(&a.findings).then(a.cluster.cmp(&b.cluster)).then(a.namespace.cmp(&b.namespace)));
    v.truncate(5);
    v
}

fn input_digest(meta: &Meta, summary: &Summary, snapshots: &[SnapshotEvidence], queries: &[QueryText]) -> String {
    let mut h = tarn_trust::StreamingSha256::new();
    let mut line = |s: &str| {
        h.update(s.as_bytes());
        h.update(b"\n");
    };
    line(&format!("tarn-report/{}", meta.format_version));
    line(&meta.lake_id);
    line(&meta.framework);
    line(&meta.scope.id());
    line(&meta.from);
    line(&meta.to);
    line(&meta.bucket_seconds.to_string());
    line(&meta.staleness_hours.to_string());
    line(&summary.snapshots_in_range_digest);
    for s in snapshots {
        line(&format!("{} {} {}", s.snapshot_id, s.object_sha256, s.log_entry_sha256));
    }
    for q in queries {
        line(&q.sql);
    }
    format!("sha256:{}", h.finish_hex())
}
