//! The continuous agent loop.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use std::collections::HashSet;
use tarn_eval::inventory::Inventory;

use tarn_lake::{LakeError, PreparedSnapshot, SnapshotInput, SnapshotWriter};
use tarn_model::{AgentInfo, ClusterName, EvaluationRow, GroupPath, SnapshotId, TARN_VERSION};
use tokio::time::Instant;

use crate::evidence::EvidenceSource;
use crate::policydir::{PolicyDir, PolicyFiles};
use crate::source::InventorySource;
use crate::spool::Spool;
use tarn_eval::evidence::EvidenceSet;

/// What an evaluator returns for one cycle.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    pub rows: Vec<EvaluationRow>,
    /// `name@version` of every framework evaluated.
    pub frameworks: Vec<String>,
    /// `sha256:<hex>` of the policy set (frameworks, evaluator version, policy files, trust root).
    pub policy_digest: String,
    /// `sha256:<hex>` of the inputs: the inventory and the image evidence.
    pub input_digest: String,
    /// Policy files that could not be used, with reasons (they were skipped).
    pub policy_problems: Vec<String>,
}

/// Turns an inventory, the current policy files and the image evidence into rows.
pub trait Evaluator: Send + Sync {
    fn evaluate(&self, inventory: &Inventory, policies: &PolicyFiles, evidence: &EvidenceSet) -> Evaluation;
}

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub cluster: ClusterName,
    pub group: GroupPath,
    pub agent_id: String,
    pub interval: Duration,
    /// How often the policy directory is checked for changes.
    pub poll: Duration,
    /// Longest wait between retries of spooled snapshots.
    pub max_backoff: Duration,
    /// Stop after this many cycles (tests, one-shot runs); `None` runs until signalled.
    pub max_cycles: Option<u64>,
}

/// Why a cycle ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Start,
    Interval,
    PolicyChange,
}

/// What the loop reports, one event at a time.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AgentEvent {
    Committed {
        snapshot_id: String,
        seq: u64,
        observed_at: chrono::DateTime<Utc>,
        rows: u64,
        fail: u64,
        /// It waited in the spool first (storage was unavailable).
        from_spool: bool,
    },
    /// This cycle's snapshot could not be committed; it waits in the spool.
    Spooled {
        snapshot_id: String,
        error: String,
        pending: usize,
    },
    /// A snapshot could be neither spooled nor committed: it is lost, and said so.
    Dropped {
        snapshot_id: String,
        error: String,
    },
    /// A spooled snapshot can never be committed (unreadable, or rejected by the lake); it was
    /// moved to the spool's `failed/` directory.
    Quarantined {
        entry: String,
        reason: String,
    },
    /// A retry of the spooled snapshots failed; the next one is scheduled.
    RetryFailed {
        error: String,
        pending: usize,
        retry_in_secs: f64,
    },
    Evaluated {
        trigger: Trigger,
        workloads: usize,
        skipped_documents: usize,
        policy_problems: Vec<String>,
        evidence_problems: Vec<String>,
    },
    SourceFailed {
        error: String,
    },
    Stopping {
        pending: usize,
    },
}

/// Runs until `shutdown` completes (or `max_cycles`). Exits only between cycles, so a snapshot
/// is never half-written; whatever could not be committed stays in the spool for next time.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    config: &AgentConfig,
    source: &InventorySource,
    policies: Option<&PolicyDir>,
    evidence: &EvidenceSource,
    evaluator: &dyn Evaluator,
    writer: &mut SnapshotWriter<'_>,
    spool: &Spool,
    shutdown: impl Future<Output = ()>,
    on_event: &mut (dyn FnMut(AgentEvent) + Send),
) {
    tokio::pin!(shutdown);
    let mut next_cycle = Instant::now();
    let mut trigger = Trigger::Start;
    let mut next_poll = Instant::now() + config.poll;
    let mut retry_at: Option<Instant> = None;
    let mut backoff = Duration::from_secs(1);
    let mut fingerprint = policies.map(|p| p.read().digest);
    let mut cycles = 0u64;
    let mut flusher = Flusher { committed: HashSet::new() };

    // Snapshots left over from an earlier run go first.
    if flusher.flush(writer, spool, None, on_event).await.is_err() {
        retry_at = Some(Instant::now() + backoff);
    }
    loop {
        if config.max_cycles.is_some_and(|m| cycles >= m) {
            break;
        }
        let wake = [Some(next_cycle), Some(next_poll), retry_at].into_iter().flatten().min().expect("non-empty");
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = &mut shutdown => break,
        }
        let now = Instant::now();
        if now >= next_poll {
            next_poll = now + config.poll;
            if let Some(p) = policies {
                let fp = p.read().digest;
                if fingerprint.as_ref() != Some(&fp) {
                    tracing::info!(dir = %p.root().display(), "policies changed, re-evaluating");
                    fingerprint = Some(fp);
                    trigger = Trigger::PolicyChange;
                    next_cycle = now;
                }
            }
        }
        if retry_at.is_some_and(|t| now >= t) {
            match flusher.flush(writer, spool, None, on_event).await {
                Ok(()) => {
                    retry_at = None;
                    backoff = Duration::from_secs(1);
                }
                Err(error) => {
                    backoff = (backoff * 2).min(config.max_backoff);
                    let wait = jittered(backoff);
                    retry_at = Some(Instant::now() + wait);
                    on_event(AgentEvent::RetryFailed {
                        error,
                        pending: spool.len(),
                        retry_in_secs: wait.as_secs_f64(),
                    });
                }
            }
        }
        if now >= next_cycle {
            cycles += 1;
            let policy_files = policies.map(PolicyDir::read).unwrap_or_default();
            fingerprint = policies.map(|_| policy_files.digest.clone());
            // Reading and evaluating can take a while on a large cluster: a signal abandons
            // it (nothing has been written yet).
            let prepared = tokio::select! {
                p = cycle(config, source, &policy_files, evidence, evaluator, writer, trigger, on_event) => p,
                _ = &mut shutdown => break,
            };
            if let Some(p) = prepared {
                // Disk first, then the lake, oldest first: order and durability both hold.
                let committed = match spool.push(&p) {
                    Ok(()) => flusher.flush(writer, spool, Some(&p.snapshot_id), on_event).await,
                    Err(e) if spool.is_empty() => {
                        tracing::error!(error = %e, "cannot spool snapshot; committing directly");
                        match flusher.commit(writer, &p, false, on_event).await {
                            Ok(()) => Ok(()),
                            Err(c) => {
                                on_event(AgentEvent::Dropped {
                                    snapshot_id: p.snapshot_id.to_string(),
                                    error: format!("spool: {e}; lake: {}", c.message),
                                });
                                Ok(())
                            }
                        }
                    }
                    Err(e) => {
                        // Committing it ahead of the spooled ones would break the log's order.
                        on_event(AgentEvent::Dropped {
                            snapshot_id: p.snapshot_id.to_string(),
                            error: format!("spool: {e} (older snapshots are still waiting)"),
                        });
                        Ok(())
                    }
                };
                if let Err(error) = committed {
                    on_event(AgentEvent::Spooled {
                        snapshot_id: p.snapshot_id.to_string(),
                        error,
                        pending: spool.len(),
                    });
                    if retry_at.is_none() {
                        backoff = Duration::from_secs(1);
                        retry_at = Some(Instant::now() + jittered(backoff));
                    }
                }
            }
            trigger = Trigger::Interval;
            next_cycle = Instant::now() + config.interval;
        }
    }
    on_event(AgentEvent::Stopping { pending: spool.len() });
}

/// Reads, evaluates and prepares one snapshot; `None` when the source could not be read.
#[allow(clippy::too_many_arguments)]
async fn cycle(
    config: &AgentConfig,
    source: &InventorySource,
    policies: &PolicyFiles,
    evidence: &EvidenceSource,
    evaluator: &dyn Evaluator,
    writer: &mut SnapshotWriter<'_>,
    trigger: Trigger,
    on_event: &mut (dyn FnMut(AgentEvent) + Send),
) -> Option<PreparedSnapshot> {
    let observed_at = Utc::now();
    let inv = match source.read().await {
        Ok(inv) => inv,
        Err(e) => {
            tracing::error!(error = %e, "cannot read inventory; no snapshot this cycle");
            on_event(AgentEvent::SourceFailed { error: e.to_string() });
            return None;
        }
    };
    for p in &inv.problems {
        tracing::warn!("skipped {p}");
    }
    let evidence = evidence.collect(&inv).await;
    let eval = evaluator.evaluate(&inv, policies, &evidence);
    on_event(AgentEvent::Evaluated {
        trigger,
        workloads: inv.workloads.len(),
        skipped_documents: inv.problems.len(),
        policy_problems: eval.policy_problems.clone(),
        evidence_problems: evidence.problems.iter().map(ToString::to_string).collect(),
    });
    let input = SnapshotInput {
        cluster: config.cluster.clone(),
        group_path: config.group.clone(),
        observed_at,
        // Never before observed_at, even if the wall clock stepped back meanwhile.
        evaluated_at: Utc::now().max(observed_at),
        agent: AgentInfo { id: config.agent_id.clone(), version: TARN_VERSION.to_string() },
        policy_digest: eval.policy_digest,
        inventory_digest: eval.input_digest,
        frameworks: eval.frameworks,
    };
    Some(writer.prepare(input, eval.rows))
}

/// Commits spooled snapshots, remembering what this run committed.
struct Flusher {
    /// Ids committed by this run: a snapshot whose spool file could not be removed is not
    /// sent again.
    committed: HashSet<SnapshotId>,
}

/// Why a commit did not happen.
struct CommitError {
    message: String,
    /// Retrying cannot help (the lake rejects the snapshot itself).
    permanent: bool,
}

impl Flusher {
    /// Commits every spooled snapshot in order, loading one at a time; stops at the first
    /// transient failure and returns it. Entries that can never be committed are quarantined.
    async fn flush(
        &mut self,
        writer: &mut SnapshotWriter<'_>,
        spool: &Spool,
        fresh: Option<&SnapshotId>,
        on_event: &mut (dyn FnMut(AgentEvent) + Send),
    ) -> Result<(), String> {
        let paths = spool.pending_paths().map_err(|e| e.to_string())?;
        for path in paths {
            let p = match Spool::load(&path) {
                Ok(p) => p,
                Err(e) => {
                    quarantine(spool, &path, &e.to_string(), on_event);
                    continue;
                }
            };
            if self.committed.contains(&p.snapshot_id) {
                let _ = spool.remove(&p);
                continue;
            }
            let waited = fresh != Some(&p.snapshot_id);
            match self.commit(writer, &p, waited, on_event).await {
                Ok(()) => {
                    if let Err(e) = spool.remove(&p) {
                        tracing::error!(error = %e, "committed, but cannot remove from spool");
                    }
                }
                Err(e) if e.permanent => quarantine(spool, &path, &e.message, on_event),
                Err(e) => return Err(e.message),
            }
        }
        Ok(())
    }

    async fn commit(
        &mut self,
        writer: &mut SnapshotWriter<'_>,
        p: &PreparedSnapshot,
        from_spool: bool,
        on_event: &mut (dyn FnMut(AgentEvent) + Send),
    ) -> Result<(), CommitError> {
        match writer.write_prepared(p).await {
            Ok(w) => {
                self.committed.insert(p.snapshot_id);
                on_event(AgentEvent::Committed {
                    snapshot_id: w.record.snapshot_id.to_string(),
                    seq: w.commit.seq,
                    observed_at: w.record.observed_at,
                    rows: w.record.row_count,
                    fail: w.record.status_counts.fail,
                    from_spool,
                });
                Ok(())
            }
            Err(e) => {
                let permanent =
                    matches!(e, LakeError::InvalidSnapshot(_) | LakeError::Id(_) | LakeError::UnsupportedFormat { .. });
                tracing::warn!(error = %e, snapshot = %p.snapshot_id, permanent, "commit failed");
                Err(CommitError { message: e.to_string(), permanent })
            }
        }
    }
}

fn quarantine(spool: &Spool, path: &std::path::Path, reason: &str, on_event: &mut (dyn FnMut(AgentEvent) + Send)) {
    let moved = spool.quarantine(path, reason).map(|p| p.display().to_string()).unwrap_or_else(|e| e.to_string());
    tracing::error!(entry = %path.display(), reason, "snapshot can never be committed; quarantined");
    on_event(AgentEvent::Quarantined { entry: moved, reason: reason.to_string() });
}

fn jittered(d: Duration) -> Duration {
    use std::hash::BuildHasher;
    let r = std::collections::hash_map::RandomState::new().hash_one(Instant::now()) % 1000;
    d + d.mul_f64(r as f64 / 4000.0)
}
