use chrono::{DateTime, Utc};
use serde_json::json;
use tarn_agent::kube_source::KubeSource;
use tarn_agent::run::{AgentConfig, AgentEvent, Evaluation};
use tarn_agent::source::InventorySource;
use tarn_agent::spool::Spool;
use tarn_eval::inventory;
use tarn_lake::{SnapshotInput, SnapshotWriter, WrittenSnapshot};
use tarn_model::{AgentInfo, ClusterName, GroupPath, SystemClock, TARN_VERSION};

use crate::args::invalid;
use crate::cli::{RunArgs, ScanArgs, SummaryFormat};
use crate::commands::policy::{FullEvaluator, Setup};
use crate::exit;

/// Agents keep the lake's catalog checkpoint at most this many of their commits behind.
const CHECKPOINT_EVERY: u64 = 64;

pub fn default_agent_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into());
    format!("tarn-agent@{host}")
}

/// What one scan needs besides the inventory and its evaluation.
pub struct ScanTarget<'a> {
    pub cluster: &'a ClusterName,
    pub group: &'a GroupPath,
    pub agent_id: &'a str,
    pub observed_at: DateTime<Utc>,
    pub evaluated_at: DateTime<Utc>,
}

/// Commits one evaluated inventory as a snapshot.
pub async fn commit_scan(
    writer: &mut SnapshotWriter<'_>,
    eval: Evaluation,
    t: &ScanTarget<'_>,
) -> anyhow::Result<WrittenSnapshot> {
    let input = SnapshotInput {
        cluster: t.cluster.clone(),
        group_path: t.group.clone(),
        observed_at: t.observed_at,
        evaluated_at: t.evaluated_at,
        agent: AgentInfo { id: t.agent_id.to_string(), version: TARN_VERSION.to_string() },
        policy_digest: eval.policy_digest,
        inventory_digest: eval.input_digest,
        frameworks: eval.frameworks,
    };
    Ok(writer.write(input, eval.rows).await?)
}

pub async fn scan(a: ScanArgs) -> anyhow::Result<u8> {
    let cluster: ClusterName = a.cluster.parse()?;
    let group: GroupPath = a.group.parse()?;
    let setup = Setup::from_args(&a.policy)?;
    let now = Utc::now();
    let observed_at = a.at.unwrap_or(now);
    if observed_at > now {
        return Err(invalid(format!("--at {observed_at} is in the future")));
    }
    let key = a.key.load()?;
    let lake = a.lake.open()?;
    let inv = inventory::read_paths(&a.inventory)?;
    for p in &inv.problems {
        eprintln!("warning: skipped {p}");
    }
    if inv.documents == 0 && !a.allow_empty {
        return Err(invalid(format!(
            "the inventory holds no documents ({} files read); nothing committed (pass --allow-empty to record an empty cluster)",
            inv.files
        )));
    }
    if inv.workloads.is_empty() && !inv.problems.is_empty() {
        return Err(invalid(format!(
            "no valid workloads in the inventory ({} documents skipped); nothing committed",
            inv.problems.len()
        )));
    }
    let evidence = setup.evidence.collect(&inv).await;
    let eval = setup.evaluate(&inv, &setup.read_policies(), &evidence);
    for p in &eval.policy_problems {
        eprintln!("warning: policy skipped: {p}");
    }
    for p in &evidence.problems {
        eprintln!("warning: evidence skipped: {p}");
    }
    let problems = inv.problems.len() + eval.policy_problems.len() + evidence.problems.len();
    let agent_id = a.agent_id.unwrap_or_else(default_agent_id);
    let clock = SystemClock;
    let mut writer = SnapshotWriter::new(&lake, &key, &clock).with_checkpoint_every(CHECKPOINT_EVERY);
    let target =
        ScanTarget { cluster: &cluster, group: &group, agent_id: &agent_id, observed_at, evaluated_at: Utc::now() };
    let written = commit_scan(&mut writer, eval, &target).await?;
    let r = &written.record;
    match a.format {
        SummaryFormat::Json => {
            let v = json!({
                "snapshot_id": r.snapshot_id,
                "cluster": r.cluster,
                "group_path": r.group_path,
                "seq": written.commit.seq,
                "log_entry": written.commit.path.to_string(),
                "observed_at": r.observed_at,
                "workloads": inv.workloads.len(),
                "folded": inv.folded,
                "skipped_documents": inv.problems.len(),
                "ignored_kinds": inv.ignored_kinds,
                "rows": r.row_count,
                "status_counts": r.status_counts,
                "object_path": r.object_path,
                "object_sha256": r.object_sha256,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        SummaryFormat::Table => {
            println!(
                "Committed snapshot {} for cluster {} (group {}, log entry {})",
                r.snapshot_id, r.cluster, r.group_path, written.commit.seq
            );
            println!(
                "  observed {}  workloads {} ({} folded into controllers)  skipped documents {}",
                r.observed_at.to_rfc3339(),
                inv.workloads.len(),
                inv.folded,
                inv.problems.len()
            );
            println!(
                "  rows {}: pass {}  fail {}  warn {}  skip {}  error {}",
                r.row_count,
                r.status_counts.pass,
                r.status_counts.fail,
                r.status_counts.warn,
                r.status_counts.skip,
                r.status_counts.error
            );
            println!("  object {} {}", r.object_path, r.object_sha256);
        }
    }
    if problems == 0 {
        Ok(exit::OK)
    } else {
        eprintln!("warning: committed, but {problems} documents, policies or evidence items were not used (see above)");
        Ok(exit::FAILED)
    }
}

fn default_spool(cluster: &ClusterName) -> std::path::PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| std::path::PathBuf::from("."));
    base.join("tarn/spool").join(cluster.as_str())
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed now, before any work starts, so
/// a signal during start-up is not the default (immediate) kill.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: stopping"),
            _ = int.recv() => tracing::info!("SIGINT: stopping"),
        }
    })
}

pub async fn run(a: RunArgs) -> anyhow::Result<u8> {
    let cluster: ClusterName = a.cluster.parse()?;
    let group: GroupPath = a.group.parse()?;
    let setup = Setup::from_args(&a.policy)?;
    if a.interval.is_zero() {
        return Err(invalid("--interval must be positive"));
    }
    let shutdown = shutdown_signal()?;
    let key = a.key.load()?;
    let lake = a.lake.open()?;
    for p in &a.inventory {
        if !p.exists() {
            return Err(invalid(format!("inventory {} does not exist", p.display())));
        }
    }
    let source = if a.kube {
        InventorySource::Kube(
            KubeSource::connect(a.kubeconfig.clone(), a.context.clone()).await.map_err(|e| invalid(e.to_string()))?,
        )
    } else {
        InventorySource::Files(a.inventory.clone())
    };
    let spool_dir = a.spool.clone().unwrap_or_else(|| default_spool(&cluster));
    let spool = Spool::open(&spool_dir)?;
    let policies = setup.policy_dir.clone();
    let evidence = setup.evidence.clone();
    let config = AgentConfig {
        cluster,
        group,
        agent_id: a.agent_id.clone().unwrap_or_else(default_agent_id),
        interval: a.interval,
        poll: a.poll,
        max_backoff: a.interval.min(std::time::Duration::from_secs(300)),
        max_cycles: a.max_cycles,
    };
    eprintln!(
        "tarn agent: cluster {} every {} from {}, lake {}, spool {}",
        config.cluster,
        humantime::format_duration(a.interval),
        source.describe(),
        lake.url(),
        spool_dir.display()
    );
    let evaluator = FullEvaluator(setup);
    let clock = SystemClock;
    let mut writer = SnapshotWriter::new(&lake, &key, &clock).with_checkpoint_every(CHECKPOINT_EVERY);
    let json = matches!(a.format, SummaryFormat::Json);
    let mut on_event = |e: AgentEvent| {
        if json {
            println!("{}", serde_json::to_string(&e).expect("events serialise"));
        } else {
            eprintln!("{}", describe(&e));
        }
    };
    tarn_agent::run::run(
        &config,
        &source,
        policies.as_ref(),
        &evidence,
        &evaluator,
        &mut writer,
        &spool,
        shutdown,
        &mut on_event,
    )
    .await;
    Ok(exit::OK)
}

fn describe(e: &AgentEvent) -> String {
    match e {
        AgentEvent::Committed { snapshot_id, seq, rows, fail, from_spool, .. } => format!(
            "committed snapshot {snapshot_id} (log entry {seq}, {rows} rows, {fail} failing){}",
            if *from_spool { " from the spool" } else { "" }
        ),
        AgentEvent::Spooled { snapshot_id, error, pending } => {
            format!("storage unavailable ({error}); snapshot {snapshot_id} kept in the spool ({pending} pending)")
        }
        AgentEvent::Evaluated { trigger, workloads, skipped_documents, policy_problems, evidence_problems } => {
            let mut line = format!("evaluated {workloads} workloads ({trigger:?})");
            if *skipped_documents > 0 {
                line.push_str(&format!(", {skipped_documents} documents skipped"));
            }
            if !policy_problems.is_empty() {
                line.push_str(&format!(", policy problems: {}", policy_problems.join("; ")));
            }
            if !evidence_problems.is_empty() {
                line.push_str(&format!(", evidence problems: {}", evidence_problems.join("; ")));
            }
            line
        }
        AgentEvent::Dropped { snapshot_id, error } => {
            format!("LOST snapshot {snapshot_id}: it could be neither spooled nor committed ({error})")
        }
        AgentEvent::Quarantined { entry, reason } => {
            format!("snapshot can never be committed ({reason}); moved to {entry} for inspection")
        }
        AgentEvent::RetryFailed { error, pending, retry_in_secs } => {
            format!("storage still unavailable ({error}); {pending} snapshots spooled, retrying in {retry_in_secs:.0}s")
        }
        AgentEvent::SourceFailed { error } => format!("cannot read the inventory: {error}; retrying next cycle"),
        AgentEvent::Stopping { pending } => format!("stopping; {pending} snapshots wait in the spool"),
    }
}
