//! `tarn bench generate`: a synthetic fleet written through the real write path.
//!
//! Every cluster has `workloads` Deployments (one container each) in eight namespaces, judged
//! against `controls` real catalog controls taken in turn from PSS baseline, CIS 1.12 and SLSA:
//! one row per (workload, control) per snapshot. About 12% of the (workload, control) pairs
//! start failing and 3% warning; each day about 1% of them flip between pass and fail and 2% of
//! the workloads roll out a new image digest. Statuses are a pure function of the seed, so two
//! runs write the same rows (snapshot ids and ingest times differ).

use std::sync::Arc;

use anyhow::Context;
use chrono::{Duration, NaiveDate, Utc};
use tarn_lake::{Lake, SnapshotInput, SnapshotWriter, StoreOptions, write_checkpoint};
use tarn_model::{AgentInfo, ClusterName, EvaluationRow, GroupPath, Severity, Status, SystemClock};
use tarn_trust::keys::SigningKeyPair;

use crate::args::{invalid, read_input_file};
use crate::cli::GenerateFleetArgs;
use crate::{exit, output};

const NAMESPACES: u32 = 8;

/// splitmix64: a tiny, well-mixed, reproducible generator (no dependency for a benchmark).
struct Mix(u64);

impl Mix {
    fn new(parts: &[u64]) -> Self {
        let mut m = Mix(0x9E37_79B9_7F4A_7C15);
        for p in parts {
            m.0 ^= p.wrapping_mul(0xBF58_476D_1CE4_E5B9);
            m.next();
        }
        m
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Debug, Clone)]
struct BenchControl {
    framework: &'static str,
    version: String,
    id: String,
    severity: Severity,
}

fn pick_controls(n: u32) -> anyhow::Result<Vec<BenchControl>> {
    let all = tarn_eval::catalog::builtin_controls();
    let of = |fw: &str, version: Option<&str>| -> Vec<BenchControl> {
        all.iter()
            .filter(|c| c.framework == fw && version.is_none_or(|v| c.version == v) && c.control.manual.is_none())
            .map(|c| BenchControl {
                framework: c.framework,
                version: if fw.starts_with("pss") { format!("v{}", c.version) } else { c.version.to_string() },
                id: c.control.id.clone(),
                severity: c.control.severity.into(),
            })
            .collect()
    };
    let pools = [of("pss-baseline", None), of("cis-k8s", Some("1.12")), of("slsa", None)];
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n as usize {
        let pool = &pools[i % pools.len()];
        anyhow::ensure!(!pool.is_empty(), "a built-in catalog has no automated controls");
        let mut c = pool[(i / pools.len()) % pool.len()].clone();
        let round = i / (pools.len() * pool.len());
        if round > 0 {
            c.id = format!("{}-x{round}", c.id);
        }
        out.push(c);
    }
    Ok(out)
}

/// One cluster's evolving state.
struct ClusterSim {
    name: ClusterName,
    group: GroupPath,
    index: u32,
    /// Per (workload, control): current status.
    status: Vec<Status>,
    /// Per workload: image release number.
    release: Vec<u32>,
}

impl ClusterSim {
    fn new(index: u32, a: &GenerateFleetArgs) -> anyhow::Result<Self> {
        let regions = ["eu-west", "us-east", "ap-south", "eu-north", "us-west"];
        let env = if index % 4 == 3 { "dev" } else { "prod" };
        let name: ClusterName = format!("c{index:03}").parse()?;
        let group: GroupPath = format!("/fleet/{}/{env}", regions[index as usize % regions.len()]).parse()?;
        let mut status = Vec::with_capacity((a.workloads * a.controls) as usize);
        for w in 0..a.workloads {
            for c in 0..a.controls {
                let u = Mix::new(&[a.seed, u64::from(index), u64::from(w), u64::from(c)]).unit();
                status.push(if u < 0.12 {
                    Status::Fail
                } else if u < 0.15 {
                    Status::Warn
                } else {
                    Status::Pass
                });
            }
        }
        Ok(Self { name, group, index, status, release: vec![1; a.workloads as usize] })
    }

    /// The day's drift.
    fn advance(&mut self, a: &GenerateFleetArgs, day: u32) {
        let mut m = Mix::new(&[a.seed, u64::from(self.index), u64::from(day), 7]);
        for s in &mut self.status {
            if m.unit() < 0.01 {
                *s = match s {
                    Status::Pass => Status::Fail,
                    _ => Status::Pass,
                };
            }
        }
        for r in &mut self.release {
            if m.unit() < 0.02 {
                *r += 1;
            }
        }
    }

    fn rows(&self, a: &GenerateFleetArgs, controls: &[BenchControl]) -> Vec<EvaluationRow> {
        let mut rows = Vec::with_capacity(self.status.len());
        for w in 0..a.workloads {
            let name = format!("app-{w:03}");
            let release = self.release[w as usize];
            let image = format!("registry.example.com/team-{}/{name}:1.{release}", w % NAMESPACES);
            let digest = format!(
                "sha256:{}",
                tarn_trust::sha256_hex(format!("{}/{name}/{release}", self.name.as_str()).as_bytes())
            );
            for (c, control) in controls.iter().enumerate() {
                let status = self.status[(w * a.controls) as usize + c];
                let message = match status {
                    Status::Pass => String::new(),
                    Status::Warn => format!("{}: container main of {name} is close to the limit", control.id),
                    _ => format!("{}: container main of {name} violates the control", control.id),
                };
                rows.push(EvaluationRow {
                    namespace: format!("ns-{}", w % NAMESPACES),
                    workload_kind: "Deployment".into(),
                    workload_name: name.clone(),
                    container: "main".into(),
                    image: image.clone(),
                    image_digest: digest.clone(),
                    framework: control.framework.into(),
                    framework_version: control.version.clone(),
                    control_id: control.id.clone(),
                    status,
                    severity: control.severity,
                    message,
                });
            }
        }
        rows
    }
}

fn load_key(a: &GenerateFleetArgs) -> anyhow::Result<SigningKeyPair> {
    match &a.key {
        Some(path) => {
            let pem = read_input_file(path, "private key")?;
            let password = std::env::var("COSIGN_PASSWORD").unwrap_or_default();
            SigningKeyPair::from_pem(&pem, password.as_bytes())
                .with_context(|| format!("cannot load private key {}", path.display()))
        }
        None => {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../fixtures/quickstart/demo-key/DEMO-ONLY-DO-NOT-USE.key");
            let pem = read_input_file(&path, "demo key")?;
            Ok(SigningKeyPair::from_pem(&pem, super::quickstart::DEMO_KEY_PASSWORD.as_bytes())?)
        }
    }
}

pub async fn generate(a: GenerateFleetArgs) -> anyhow::Result<u8> {
    for (flag, v) in
        [("--clusters", a.clusters), ("--workloads", a.workloads), ("--controls", a.controls), ("--days", a.days)]
    {
        if v == 0 {
            return Err(invalid(format!("{flag} must be at least 1")));
        }
    }
    if a.scans_per_day == 0 || a.scans_per_day > 24 * 60 {
        return Err(invalid("--scans-per-day must be between 1 and 1440"));
    }
    let today = Utc::now().date_naive();
    let start: NaiveDate = a.start.unwrap_or(today - Duration::days(i64::from(a.days)));
    if start + Duration::days(i64::from(a.days)) > today {
        return Err(invalid(format!("--start {start} with --days {} reaches into the future", a.days)));
    }
    let lake = Lake::open(&a.lake, &StoreOptions::default())?;
    if lake.descriptor().await?.is_some() {
        return Err(invalid(format!("{} already holds a lake; generate into a new one", lake.url())));
    }
    let key = Arc::new(load_key(&a)?);
    let controls = Arc::new(pick_controls(a.controls)?);
    let a = Arc::new(a);
    // The first write creates the lake's descriptor and key: do it before the writers race.
    lake.ensure_descriptor().await?;

    let total = u64::from(a.clusters) * u64::from(a.days) * u64::from(a.scans_per_day);
    let bar = output::bar(total, "writing synthetic fleet");
    let started = std::time::Instant::now();
    let jobs = a.jobs.clamp(1, a.clusters as usize);
    let mut tasks = Vec::with_capacity(jobs);
    for j in 0..jobs {
        let (lake, key, controls, a, bar) = (lake.clone(), key.clone(), controls.clone(), a.clone(), bar.clone());
        tasks.push(tokio::spawn(async move {
            let clock = SystemClock;
            let mut writer = SnapshotWriter::new(&lake, &key, &clock);
            let mut sims: Vec<ClusterSim> = (0..a.clusters)
                .filter(|i| *i as usize % jobs == j)
                .map(|i| ClusterSim::new(i, &a))
                .collect::<anyhow::Result<_>>()?;
            let (mut rows_written, mut bytes) = (0u64, 0u64);
            let step = Duration::minutes(24 * 60 / i64::from(a.scans_per_day));
            for day in 0..a.days {
                let date = start + Duration::days(i64::from(day));
                for sim in &mut sims {
                    if day > 0 {
                        sim.advance(&a, day);
                    }
                }
                for scan in 0..a.scans_per_day {
                    for sim in &sims {
                        let offset = Duration::seconds(i64::from(sim.index % 60) * 7);
                        let observed_at =
                            date.and_hms_opt(0, 0, 0).expect("midnight").and_utc() + step * scan as i32 + offset;
                        let rows = sim.rows(&a, &controls);
                        let input = SnapshotInput {
                            cluster: sim.name.clone(),
                            group_path: sim.group.clone(),
                            observed_at,
                            evaluated_at: observed_at + Duration::seconds(20),
                            agent: AgentInfo { id: "tarn-bench".into(), version: env!("CARGO_PKG_VERSION").into() },
                            policy_digest: format!("sha256:{}", tarn_trust::sha256_hex(b"bench-policy")),
                            inventory_digest: format!(
                                "sha256:{}",
                                tarn_trust::sha256_hex(format!("{}/{day}", sim.name.as_str()).as_bytes())
                            ),
                            frameworks: vec!["pss-baseline".into(), "cis-k8s@1.12".into(), "slsa".into()],
                        };
                        let w = writer.write(input, rows).await?;
                        rows_written += w.record.row_count;
                        bytes += w.record.object_size;
                        bar.inc(1);
                    }
                }
            }
            anyhow::Ok((rows_written, bytes))
        }));
    }
    let (mut rows, mut bytes) = (0u64, 0u64);
    for t in tasks {
        let (r, b) = t.await.context("writer task panicked")??;
        rows += r;
        bytes += b;
    }
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let outcome = write_checkpoint(&lake, &SystemClock, &Default::default()).await?;
    println!(
        "wrote {total} signed snapshots ({rows} rows, {:.1} MiB) for {} clusters over {} days from {start} in {elapsed:.1}s \
({:.2} M rows/s); {outcome:?}",
        bytes as f64 / (1 << 20) as f64,
        a.clusters,
        a.days,
        rows as f64 / elapsed / 1e6
    );
    Ok(exit::OK)
}
