//! Alert evaluation: every committed snapshot of every cluster, in log order, against the one
//! before it; staleness against the clock.
//!
//! Everything an event says, including its id, is a function of the lake's logs and the rules,
//! never of when or how often evaluation runs. Evaluating a snapshot twice (a restart before the
//! cursor moved, two evaluators racing) therefore produces the same events, which the lake's
//! create-only event and outbox objects turn into no-ops: nothing fires twice, nothing is missed.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tarn_lake::alerts::{self as store, AlertRecord, Created, Cursor, OutboxEntry};
use tarn_lake::log::{self, LogEntry, RawEntry};
use tarn_lake::reader::{Columns, read_rows};
use tarn_lake::{Lake, LakeError};
use tarn_model::{ClusterName, ControlRollup, EvaluationRow, Severity, SnapshotRecord, Status};

use crate::error::AlertError;
use crate::event::{CloudEvent, MAX_EVENT_BYTES};
use crate::rules::{Change, Condition, Rule, RuleSet};

/// At most this many findings are carried in one event (more are counted, not listed).
const MAX_FINDINGS: usize = 200;
/// Items waiting out a cooldown, per rule and cluster.
const MAX_PENDING: usize = 1000;

/// One (workload, control) change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub change: Change,
    pub namespace: String,
    pub workload_kind: String,
    pub workload_name: String,
    pub framework: String,
    pub control_id: String,
    pub severity: Severity,
    pub status: String,
    pub previous_status: Option<String>,
    /// The first failing container's message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// When the change was observed (the snapshot's observation time).
    pub observed_at: DateTime<Utc>,
}

impl Finding {
    fn key(&self) -> String {
        let mut h = Sha256::new();
        for p in [
            self.change.as_str(),
            &self.namespace,
            &self.workload_kind,
            &self.workload_name,
            &self.framework,
            &self.control_id,
        ] {
            h.update(p.as_bytes());
            h.update([0]);
        }
        hex::encode(&h.finalize()[..12])
    }
}

/// Rule state carried from snapshot to snapshot of one cluster (stored in the cursor).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterState {
    /// Highest seq seen when this cluster was first evaluated: rules that skip existing
    /// problems stay quiet up to here.
    #[serde(default)]
    pub first_head: u64,
    #[serde(default)]
    pub rules: BTreeMap<String, RuleState>,
    /// The last snapshot evaluated that could be read: the next one is compared with it
    /// (unreadable snapshots in between are skipped and reported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_seq: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleState {
    /// Time of the last event (snapshot time), for the cooldown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_fired: Option<DateTime<Utc>>,
    /// Findings held back by the cooldown, announced with the next event.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Finding>,
    /// Held-back findings dropped because `pending` was full.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pending_dropped: u64,
    /// Cycles whose events the cooldown held back.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub suppressed: u64,
    /// Finding keys announced within the de-duplication window, with when.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub recent: BTreeMap<String, DateTime<Utc>>,
    /// Custom rules: digest of the rows last seen (empty: none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rows_digest: String,
    /// Threshold and custom rules: an event the cooldown held back (data, summary, severity),
    /// sent with the first snapshot after the cooldown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_fire: Option<(Value, String, Severity)>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

enum Step {
    Snap(Box<Snap>),
    Unreadable,
    End,
}

/// One snapshot's facts as evaluation needs them.
#[derive(Debug, Clone)]
struct Snap {
    seq: u64,
    record: SnapshotRecord,
    entry_path: String,
    entry_sha256: String,
}

impl Snap {
    fn of(raw: &RawEntry, entry: LogEntry) -> Self {
        Snap {
            seq: raw.seq,
            record: entry.snapshot,
            entry_path: raw.path.to_string(),
            entry_sha256: raw.sha256.clone(),
        }
    }
}

/// Worst status per (namespace, kind, name, framework, control), with severity and message.
type Posture = BTreeMap<(String, String, String, String, String), (Status, Severity, String)>;

/// Rollups of a cluster's recent snapshots (threshold windows), oldest first.
type History = VecDeque<(DateTime<Utc>, Vec<ControlRollup>)>;
/// The posture computed for the last snapshot, by seq: the next snapshot's "previous".
type PostureCache = Option<(u64, Arc<Posture>)>;

fn posture(rows: &[EvaluationRow]) -> Posture {
    let mut out: Posture = BTreeMap::new();
    for r in rows {
        let key = (
            r.namespace.clone(),
            r.workload_kind.clone(),
            r.workload_name.clone(),
            r.framework.clone(),
            r.control_id.clone(),
        );
        match out.get_mut(&key) {
            Some(slot) if r.status.resource_rank() > slot.0.resource_rank() => {
                *slot = (r.status, r.severity, r.message.clone())
            }
            Some(_) => {}
            None => {
                out.insert(key, (r.status, r.severity, r.message.clone()));
            }
        }
    }
    out
}

fn failing(s: Status) -> bool {
    matches!(s, Status::Fail | Status::Error)
}

/// Changes between two postures that a transition rule wants.
fn transitions(rule: &Rule, on: &[Change], prev: &Posture, now: &Posture, at: DateTime<Utc>) -> Vec<Finding> {
    let admitted = |k: &(String, String, String, String, String), sev: Severity| {
        rule.scope.admits_namespace(&k.0) && rule.admits_finding(&k.3, &k.4, sev)
    };
    let finding =
        |change, k: &(String, String, String, String, String), st: Status, sev, msg: &str, p: Option<Status>| Finding {
            change,
            namespace: k.0.clone(),
            workload_kind: k.1.clone(),
            workload_name: k.2.clone(),
            framework: k.3.clone(),
            control_id: k.4.clone(),
            severity: sev,
            status: st.as_str().to_string(),
            previous_status: p.map(|s| s.as_str().to_string()),
            message: msg.to_string(),
            observed_at: at,
        };
    let mut out = Vec::new();
    for (k, (st, sev, msg)) in now {
        if !admitted(k, *sev) {
            continue;
        }
        let before = prev.get(k).map(|p| p.0);
        let change = match before {
            None if failing(*st) => Some(Change::New),
            Some(b) if failing(*st) && !failing(b) => Some(Change::Degraded),
            Some(b) if !failing(*st) && failing(b) => Some(Change::Improved),
            _ => None,
        };
        if let Some(c) = change
            && on.contains(&c)
        {
            out.push(finding(c, k, *st, *sev, msg, before));
        }
    }
    if on.contains(&Change::Improved) {
        for (k, (st, sev, msg)) in prev {
            if failing(*st) && !now.contains_key(k) && admitted(k, *sev) {
                let mut f = finding(Change::Improved, k, Status::Pass, *sev, msg, Some(*st));
                f.status = "gone".into();
                out.push(f);
            }
        }
    }
    out
}

/// Framework % at a snapshot: the mean of control percentages (pass / evaluated) over the
/// controls with at least one evaluated resource (`schemas/lake-v1.md`, score math).
fn score(rollups: &[ControlRollup], framework: &str, rule: &Rule) -> Option<f64> {
    let mut sum = 0.0;
    let mut n = 0u32;
    for r in rollups.iter().filter(|r| r.framework == framework) {
        if !rule.controls.is_empty() && !rule.controls.iter().any(|c| tarn_model::glob_match(c, &r.control_id)) {
            continue;
        }
        let evaluated = r.resources.evaluated();
        if evaluated > 0 {
            sum += r.resources.pass as f64 / evaluated as f64;
            n += 1;
        }
    }
    (n > 0).then(|| 100.0 * sum / n as f64)
}

/// What one evaluation pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct PassOutcome {
    pub clusters: usize,
    pub snapshots: u64,
    /// Events stored for the first time in this pass.
    pub events: Vec<String>,
    /// Events this pass recomputed that were already stored (a restart or a racing evaluator).
    pub already_stored: u64,
    /// Findings the cooldown held back in this pass.
    pub held_back: u64,
    /// Problems that skipped a snapshot or a cluster (named, with the reason).
    pub problems: Vec<String>,
}

/// Evaluates rules over a lake.
#[derive(Debug)]
pub struct Evaluator {
    lake: Lake,
    rules: Arc<RuleSet>,
    lake_id: String,
    /// When set, nothing is written: events are returned only (`tarn alerts test`).
    dry_run: bool,
    /// Cursors this evaluator wrote, so a poll costs one GET per cluster (the next entry).
    cursors: std::sync::Mutex<BTreeMap<ClusterName, Cursor>>,
    /// Dry run: the events that would have been stored.
    dry_events: std::sync::Mutex<Vec<AlertRecord>>,
    /// Checked between snapshots: a long catch-up stops promptly.
    stop: Option<tokio::sync::watch::Receiver<bool>>,
    /// Threshold windows kept between passes, by cluster, with the seq they end at: a pass
    /// re-reads only what is new (a 24 h window of 5-minute snapshots is 288 log entries).
    histories: std::sync::Mutex<BTreeMap<ClusterName, (u64, History)>>,
    /// The longest threshold `within` window of the rules, if any.
    max_window: Option<ChronoDuration>,
}

impl Evaluator {
    pub async fn new(lake: Lake, rules: Arc<RuleSet>) -> Result<Self, AlertError> {
        let d = lake.require_descriptor().await?;
        Ok(Self {
            lake,
            lake_id: d.lake_id,
            dry_run: false,
            cursors: Default::default(),
            dry_events: Default::default(),
            stop: None,
            histories: Default::default(),
            max_window: rules
                .rules
                .iter()
                .filter_map(|r| match &r.condition {
                    Condition::Threshold { drop: Some((_, w)), .. } => ChronoDuration::from_std(*w).ok(),
                    _ => None,
                })
                .max(),
            rules,
        })
    }

    /// Stop between snapshots once `stop` turns true (progress so far is saved).
    pub fn with_stop(mut self, stop: tokio::sync::watch::Receiver<bool>) -> Self {
        self.stop = Some(stop);
        self
    }

    pub fn dry_run(mut self) -> Self {
        self.dry_run = true;
        self
    }

    /// Dry run: the events the passes so far would have stored.
    pub fn take_dry_run_events(&self) -> Vec<AlertRecord> {
        std::mem::take(&mut *self.dry_events.lock().expect("not poisoned"))
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Evaluates every snapshot committed since the last pass, in every cluster.
    pub async fn pass(&self) -> Result<PassOutcome, AlertError> {
        let mut out = PassOutcome::default();
        let clusters = log::list_clusters(&self.lake).await?;
        out.clusters = clusters.len();
        let mut query: Option<tarn_query::QueryEngine> = None;
        for c in &clusters {
            if self.stop.as_ref().is_some_and(|s| *s.borrow()) {
                break;
            }
            if let Err(e) = self.cluster(c, &mut out, &mut query).await {
                // A cluster's problem never stops the others; the next pass retries it.
                out.problems.push(format!("cluster {c}: {e}"));
            }
        }
        Ok(out)
    }

    /// Dry run of the newest `last` snapshots of each cluster against the ones before them,
    /// ignoring stored state (cooldowns, de-duplication, skip-existing): what would fire.
    pub async fn test(&self, last: u64) -> Result<(Vec<AlertRecord>, PassOutcome), AlertError> {
        let mut out = PassOutcome::default();
        let mut events = Vec::new();
        let clusters = log::list_clusters(&self.lake).await?;
        out.clusters = clusters.len();
        let mut query = None;
        for c in &clusters {
            let Some(head) = log::head(&self.lake, c).await? else { continue };
            let from = head.seq.saturating_sub(last.max(1) - 1).max(1);
            let mut state = ClusterState::default();
            let mut prev = self.load(c, from - 1).await?;
            let mut history = self.history(c, prev.as_ref()).await?;
            let mut cache = None;
            for seq in from..=head.seq {
                let Some(snap) = self.load(c, seq).await? else { break };
                out.snapshots += 1;
                let evs = self
                    .snapshot(&snap, prev.as_ref(), (&mut history, &mut cache), &mut state, &mut query, &mut out)
                    .await?;
                events.extend(evs);
                history.push_back((snap.record.observed_at, snap.record.rollups.clone()));
                prev = Some(snap);
            }
        }
        Ok((events, out))
    }

    async fn load(&self, cluster: &ClusterName, seq: u64) -> Result<Option<Snap>, AlertError> {
        if seq == 0 {
            return Ok(None);
        }
        let Some(raw) = log::get_entry(&self.lake, cluster, seq).await? else { return Ok(None) };
        let entry = raw.parse()?;
        let mut snap = Snap::of(&raw, entry);
        if snap.record.rollups.is_empty() && snap.record.row_count > 0 {
            snap.record.rollups = tarn_lake::index::rollups_from_object(&self.lake, &snap.record.object_path).await?;
        }
        Ok(Some(snap))
    }

    /// Rollups of the snapshots before `prev` within the longest threshold window, oldest first.
    async fn history(&self, cluster: &ClusterName, prev: Option<&Snap>) -> Result<History, AlertError> {
        let window = self.max_window;
        let mut out = VecDeque::new();
        let (Some(window), Some(prev)) = (window, prev) else { return Ok(out) };
        let since = prev.record.observed_at - window;
        let mut seq = prev.seq;
        let mut cur = Some(prev.clone());
        while let Some(s) = cur {
            if s.record.observed_at < since {
                break;
            }
            out.push_front((s.record.observed_at, s.record.rollups.clone()));
            if seq <= 1 {
                break;
            }
            seq -= 1;
            cur = self.load(cluster, seq).await?;
        }
        Ok(out)
    }

    async fn cluster(
        &self,
        cluster: &ClusterName,
        out: &mut PassOutcome,
        query: &mut Option<tarn_query::QueryEngine>,
    ) -> Result<(), AlertError> {
        let cached = self.cursors.lock().expect("not poisoned").get(cluster).cloned();
        let cursor = match cached {
            Some(c) => Some(c),
            None => store::get_cursor(&self.lake, cluster).await?,
        };
        let (mut state, start) = match &cursor {
            Some(c) => (serde_json::from_value::<ClusterState>(c.state.clone()).unwrap_or_default(), c.seq + 1),
            None => {
                let head = log::head(&self.lake, cluster).await?.map(|h| h.seq).unwrap_or(0);
                let state = ClusterState { first_head: head, ..Default::default() };
                // Rules that skip existing problems only need the head (to learn custom rows);
                // the others evaluate the whole history.
                let start = if self.rules.rules.iter().all(|r| r.skip_existing) { head.max(1) } else { 1 };
                (state, start)
            }
        };
        // The common case, nothing new: one GET.
        let mut seq = start;
        let mut next = self.step(cluster, seq, out).await?;
        if matches!(next, Step::End) {
            if cursor.is_none() {
                // An empty log: remember we have seen the cluster.
                self.save_cursor(cluster, 0, &state, true).await?;
            }
            return Ok(());
        }
        let prev_seq = state.prev_seq.unwrap_or(start - 1);
        let mut prev = match self.step(cluster, prev_seq, out).await? {
            Step::Snap(s) => Some(*s),
            _ => None,
        };
        let kept = self.histories.lock().expect("not poisoned").remove(cluster);
        let mut history = match (kept, &prev) {
            (Some((seq, h)), Some(p)) if seq == p.seq => h,
            _ => self.history(cluster, prev.as_ref()).await?,
        };
        let mut cache = None;
        let mut since_save = 0u32;
        loop {
            let snap = match next {
                Step::End => break,
                Step::Unreadable => {
                    seq += 1;
                    next = self.step(cluster, seq, out).await?;
                    continue;
                }
                Step::Snap(s) => *s,
            };
            out.snapshots += 1;
            // State changes count only once the snapshot's events are stored.
            let mut next_state = state.clone();
            let emitted;
            match self.snapshot(&snap, prev.as_ref(), (&mut history, &mut cache), &mut next_state, query, out).await {
                Ok(events) => {
                    emitted = !events.is_empty();
                    for e in events {
                        self.store(e, out).await?;
                    }
                    next_state.prev_seq = Some(seq);
                    state = next_state;
                }
                // A snapshot whose data cannot be read is named and skipped (the next one is
                // compared with the last readable one); anything else is retried next pass.
                Err(AlertError::Lake(e @ (LakeError::ParquetRead { .. } | LakeError::CorruptCatalog { .. }))) => {
                    out.problems.push(format!("cluster {cluster} seq {seq}: skipped, unreadable: {e}"));
                    seq += 1;
                    next = self.step(cluster, seq, out).await?;
                    continue;
                }
                Err(e) => {
                    if seq > start {
                        self.save_cursor(cluster, seq - 1, &state, false).await?;
                    }
                    return Err(e);
                }
            }
            history.push_back((snap.record.observed_at, snap.record.rollups.clone()));
            match self.max_window {
                Some(w) => {
                    let since = snap.record.observed_at.checked_sub_signed(w).unwrap_or(DateTime::<Utc>::MIN_UTC);
                    while history.front().is_some_and(|(t, _)| *t < since) {
                        history.pop_front();
                    }
                }
                None => history.clear(),
            }
            prev = Some(snap);
            since_save += 1;
            // Save after every snapshot that fired (so a restart with edited rules cannot
            // recompute those differently), and every 50 otherwise.
            if emitted || since_save >= 50 {
                self.save_cursor(cluster, seq, &state, false).await?;
                since_save = 0;
            }
            if self.stop.as_ref().is_some_and(|s| *s.borrow()) {
                return Ok(());
            }
            seq += 1;
            next = self.step(cluster, seq, out).await?;
        }
        if since_save > 0 || seq > start {
            self.save_cursor(cluster, seq - 1, &state, false).await?;
        }
        if let (Some(p), Some(_)) = (&prev, self.max_window) {
            self.histories.lock().expect("not poisoned").insert(cluster.clone(), (p.seq, history));
        }
        Ok(())
    }

    /// The snapshot at `seq`: `End` past the head, `Unreadable` (reported) for an entry that
    /// cannot be parsed or whose rollups cannot be read; storage errors are errors.
    async fn step(&self, cluster: &ClusterName, seq: u64, out: &mut PassOutcome) -> Result<Step, AlertError> {
        match self.load(cluster, seq).await {
            Ok(Some(s)) => Ok(Step::Snap(Box::new(s))),
            Ok(None) => Ok(Step::End),
            Err(AlertError::Lake(
                e @ (LakeError::CorruptEntry { .. } | LakeError::ParquetRead { .. } | LakeError::CorruptCatalog { .. }),
            )) => {
                out.problems.push(format!("cluster {cluster} seq {seq}: skipped, unreadable: {e}"));
                Ok(Step::Unreadable)
            }
            Err(e) => Err(e),
        }
    }

    async fn save_cursor(
        &self,
        cluster: &ClusterName,
        seq: u64,
        state: &ClusterState,
        baseline: bool,
    ) -> Result<(), AlertError> {
        if self.dry_run {
            return Ok(());
        }
        let cursor = Cursor {
            cluster: cluster.clone(),
            seq,
            updated_at: Utc::now(),
            baseline,
            state: serde_json::to_value(state).expect("serializable"),
        };
        store::put_cursor(&self.lake, &cursor).await?;
        self.cursors.lock().expect("not poisoned").insert(cluster.clone(), cursor);
        Ok(())
    }

    /// Stores an event, then queues it for each of its sinks. Both are create-only, so a
    /// recomputed event is a no-op; an event stored before a crash that had not been queued yet
    /// is queued now (queuing skips sinks where it already settled).
    async fn store(&self, rec: AlertRecord, out: &mut PassOutcome) -> Result<(), AlertError> {
        // Never store (or send) an event a CloudEvents receiver would reject.
        crate::event::validate(&rec.event)
            .map_err(|m| AlertError::Rule(format!("event {} of rule {} is invalid: {m}", rec.event_id, rec.rule)))?;
        if self.dry_run {
            out.events.push(rec.event_id.clone());
            self.dry_events.lock().expect("not poisoned").push(rec);
            return Ok(());
        }
        let created = store::put_event(&self.lake, &rec).await?;
        for sink in &rec.sinks {
            let entry = OutboxEntry {
                event_id: rec.event_id.clone(),
                sink: sink.clone(),
                queued_at: Utc::now(),
                event_time: rec.time,
            };
            store::enqueue(&self.lake, &entry).await?;
        }
        match created {
            Created::New => out.events.push(rec.event_id),
            Created::Existed => out.already_stored += 1,
        }
        Ok(())
    }

    /// Evaluates one snapshot against the one before it; returns the events it fires.
    async fn snapshot(
        &self,
        snap: &Snap,
        prev: Option<&Snap>,
        (history, cache): (&mut History, &mut PostureCache),
        state: &mut ClusterState,
        query: &mut Option<tarn_query::QueryEngine>,
        out: &mut PassOutcome,
    ) -> Result<Vec<AlertRecord>, AlertError> {
        let rec = &snap.record;
        let rules: Vec<&Rule> = self
            .rules
            .rules
            .iter()
            .filter(|r| !matches!(r.condition, Condition::Staleness { .. }))
            .filter(|r| r.scope.admits_cluster(rec.cluster.as_str(), &rec.group_path))
            .collect();
        if rules.is_empty() {
            return Ok(Vec::new());
        }
        // Rows only when a transition rule needs them.
        let needs_rows = rules.iter().any(|r| matches!(r.condition, Condition::Transition { .. }));
        let (now_p, prev_p) = if needs_rows {
            let now_p = Arc::new(posture(&read_rows(&self.lake, &rec.object_path, Columns::All).await?));
            // The previous snapshot's posture is usually the one computed for it last time.
            let prev_p = match (prev, cache.take()) {
                (Some(p), Some((seq, posture))) if seq == p.seq => posture,
                (Some(p), _) => Arc::new(posture(&read_rows(&self.lake, &p.record.object_path, Columns::All).await?)),
                (None, _) => Arc::new(Posture::new()),
            };
            *cache = Some((snap.seq, now_p.clone()));
            (now_p, prev_p)
        } else {
            (Arc::new(Posture::new()), Arc::new(Posture::new()))
        };
        let mut events = Vec::new();
        for rule in rules {
            // A custom rule added to a running setup learns the rows that already match before
            // it announces changes (the others fire on changes only anyway).
            let fresh = !state.rules.contains_key(&rule.name) && matches!(rule.condition, Condition::Custom { .. });
            let quiet = rule.skip_existing && (snap.seq <= state.first_head || fresh);
            let rs = state.rules.entry(rule.name.clone()).or_default();
            let cooldown = ChronoDuration::from_std(rule.cooldown).unwrap_or(ChronoDuration::MAX);
            let cooling = rs.last_fired.is_some_and(|last| {
                rec.observed_at < last.checked_add_signed(cooldown).unwrap_or(DateTime::<Utc>::MAX_UTC)
            });
            let fired: Option<(Vec<Finding>, Value, String, Severity)> = match &rule.condition {
                Condition::Transition { on } => {
                    let mut found = transitions(rule, on, &prev_p, &now_p, rec.observed_at);
                    // De-duplicate within the window: a flapping pair is announced once.
                    let window = ChronoDuration::from_std(rule.dedup_window).unwrap_or(ChronoDuration::zero());
                    rs.recent.retain(|_, t| *t + window > rec.observed_at);
                    found.retain(|f| !rs.recent.contains_key(&f.key()));
                    if quiet || (found.is_empty() && rs.pending.is_empty()) {
                        None
                    } else {
                        let worst = found.iter().chain(&rs.pending).map(|f| f.severity).max().unwrap_or(Severity::Info);
                        if found.is_empty() && cooling {
                            // Only held-back findings, still cooling down: wait.
                            continue;
                        }
                        let summary = transition_summary(&found, &rs.pending, rec.cluster.as_str());
                        Some((found, json!({}), summary, rule.severity.unwrap_or(worst)))
                    }
                }
                Condition::Threshold { framework, below: Some(below), whole_scope: Some(sc), .. } => {
                    // The scope's score with this snapshot, and just before it (this cluster's
                    // previous snapshot, every other cluster as it was): fires on the crossing.
                    let engine = match self.engine_seeing(query, snap).await {
                        Ok(e) => e,
                        Err(e) => {
                            out.problems.push(format!("rule {}: {e}", rule.name));
                            continue;
                        }
                    };
                    let at = |t: DateTime<Utc>| {
                        format!(
                            "SELECT control_id, compliance_pct FROM compliance_at({}, 'control', {}) \
                             WHERE framework = {} AND evaluated > 0",
                            sql_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
                            sql_str(sc),
                            sql_str(framework)
                        )
                    };
                    let before_t = rec.observed_at - ChronoDuration::microseconds(1);
                    let scored = async |sql: String| -> Result<Option<f64>, AlertError> {
                        let rows = rows_json(&engine.sql(&sql).await?)?;
                        let pcts: Vec<f64> = rows
                            .iter()
                            .filter(|r| {
                                let c = r["control_id"].as_str().unwrap_or("");
                                rule.controls.is_empty() || rule.controls.iter().any(|p| tarn_model::glob_match(p, c))
                            })
                            .filter_map(|r| r["compliance_pct"].as_f64())
                            .collect();
                        Ok((!pcts.is_empty()).then(|| pcts.iter().sum::<f64>() / pcts.len() as f64))
                    };
                    let (now_s, before_s) = match (scored(at(rec.observed_at)).await, scored(at(before_t)).await) {
                        (Ok(a), Ok(b)) => (a, b),
                        (Err(e), _) | (_, Err(e)) => {
                            out.problems
                                .push(format!("rule {} on cluster {} seq {}: {e}", rule.name, rec.cluster, snap.seq));
                            continue;
                        }
                    };
                    let holds = |s: Option<f64>| s.is_some_and(|s| s < *below);
                    if holds(now_s) && !holds(before_s) && !quiet {
                        let cur = now_s.expect("holds implies a score");
                        let name = if sc.is_empty() { "the fleet" } else { sc.as_str() };
                        let body = json!({
                            "framework": framework,
                            "scope": if sc.is_empty() { "/" } else { sc.as_str() },
                            "compliance_percent": round2(cur),
                            "previous_percent": before_s.map(round2),
                            "below": below,
                        });
                        let summary = format!(
                            "{framework} compliance of {name} is {cur:.2}% (below {below}%) after {} changed",
                            rec.cluster
                        );
                        Some((Vec::new(), body, summary, rule.severity.unwrap_or(Severity::High)))
                    } else {
                        None
                    }
                }
                Condition::Threshold { framework, below, drop, .. } => {
                    let cur = score(&rec.rollups, framework, rule);
                    let prev_score = prev.and_then(|p| score(&p.record.rollups, framework, rule));
                    let holds =
                        |s: Option<f64>, hist: &mut dyn Iterator<Item = f64>, h_len: bool| -> (bool, Option<f64>) {
                            let Some(s) = s else { return (false, None) };
                            let below_hit = below.is_some_and(|b| s < b);
                            let best = if h_len {
                                hist.fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
                            } else {
                                None
                            };
                            let drop_hit = drop.is_some_and(|(d, _)| best.is_some_and(|b| b - s > d));
                            (below_hit || drop_hit, best)
                        };
                    let window = drop.map(|(_, w)| ChronoDuration::from_std(w).unwrap_or_default());
                    let in_window = |t_end: DateTime<Utc>| {
                        let w = window.unwrap_or_default();
                        history
                            .iter()
                            .filter(move |(t, _)| *t >= t_end - w && *t < t_end)
                            .filter_map(|(_, r)| score(r, framework, rule))
                            .collect::<Vec<_>>()
                    };
                    let now_hist = in_window(rec.observed_at);
                    let (now_holds, best) = holds(cur, &mut now_hist.iter().copied(), window.is_some());
                    let prev_holds = match prev {
                        Some(p) => {
                            let h = in_window(p.record.observed_at);
                            holds(prev_score, &mut h.iter().copied(), window.is_some()).0
                        }
                        None => false,
                    };
                    if now_holds && !prev_holds && !quiet {
                        let cur = cur.expect("holds implies a score");
                        let body = json!({
                            "framework": framework,
                            "compliance_percent": round2(cur),
                            "previous_percent": prev_score.map(round2),
                            "below": below,
                            "drop_points": drop.map(|d| d.0),
                            "window": drop.map(|d| humantime::format_duration(d.1).to_string()),
                            "window_best_percent": best.map(round2),
                        });
                        let why = match (below.filter(|b| cur < *b), best) {
                            (Some(b), _) => format!("below {b}%"),
                            (None, Some(b)) => format!("down {:.2} points from {:.2}%", b - cur, b),
                            (None, None) => String::new(),
                        };
                        let summary = format!("{framework} compliance in {} is {:.2}% ({why})", rec.cluster, cur);
                        Some((Vec::new(), body, summary, rule.severity.unwrap_or(Severity::High)))
                    } else {
                        None
                    }
                }
                Condition::Custom { query: q } => {
                    let engine = self.engine_seeing(query, snap).await?;
                    let values: BTreeMap<String, String> = q
                        .params
                        .iter()
                        .filter_map(|(p, _)| {
                            let v = match p.as_str() {
                                "cluster" => rec.cluster.to_string(),
                                "group" => rec.group_path.to_string(),
                                "snapshot_id" => rec.snapshot_id.to_string(),
                                "at" => rec.observed_at.to_rfc3339(),
                                _ => return None,
                            };
                            Some((p.clone(), v))
                        })
                        .collect();
                    let sql = q.render(&values).map_err(|e| AlertError::Rule(e.to_string()))?;
                    // A failing query is this rule's problem: reported, retried with the next
                    // snapshot, and never in the way of the other rules.
                    let rows = match engine.sql(&sql).await.map_err(AlertError::from).and_then(|b| rows_json(&b)) {
                        Ok(r) => r,
                        Err(e) => {
                            out.problems.push(format!(
                                "rule {} on cluster {} seq {}: query {} failed: {e}",
                                rule.name, rec.cluster, snap.seq, q.name
                            ));
                            continue;
                        }
                    };
                    let digest = if rows.is_empty() {
                        String::new()
                    } else {
                        hex::encode(Sha256::digest(serde_json::to_vec(&rows).expect("json")))
                    };
                    let changed = digest != rs.rows_digest;
                    rs.rows_digest = digest;
                    if changed && !rows.is_empty() && !quiet {
                        let total = rows.len();
                        // At most MAX_FINDINGS rows and 48 KiB of them: the event stays small.
                        let mut size = 0;
                        let rows: Vec<Value> = rows
                            .into_iter()
                            .take(MAX_FINDINGS)
                            .take_while(|r| {
                                size += r.to_string().len() + 1;
                                size <= 48 * 1024
                            })
                            .collect();
                        let summary = format!("query {} returned {total} row(s) for {}", q.name, rec.cluster);
                        let body = json!({"query": q.name, "row_count": total, "rows": rows});
                        Some((Vec::new(), body, summary, rule.severity.unwrap_or(Severity::Medium)))
                    } else {
                        None
                    }
                }
                Condition::Staleness { .. } => None,
            };
            // A threshold or custom event the cooldown held back goes out with the first
            // snapshot after it, unless a newer one replaces it.
            let fired = match fired {
                None if !cooling => rs.pending_fire.take().map(|(b, s, sev)| (Vec::new(), b, s, sev)),
                f => f,
            };
            let Some((found, body, summary, severity)) = fired else { continue };
            // Cooldown: hold the findings (or the event) back and announce them after it.
            if cooling {
                rs.suppressed += 1;
                out.held_back += found.len().max(1) as u64;
                if matches!(rule.condition, Condition::Transition { .. }) {
                    for f in found {
                        if rs.pending.len() < MAX_PENDING {
                            rs.pending.push(f);
                        } else {
                            rs.pending_dropped += 1;
                        }
                    }
                } else {
                    rs.pending_fire = Some((body, summary, severity));
                }
                continue;
            }
            rs.pending_fire = None;
            let mut all = std::mem::take(&mut rs.pending);
            all.extend(found);
            for f in &all {
                rs.recent.insert(f.key(), rec.observed_at);
            }
            let held = std::mem::take(&mut rs.suppressed);
            let dropped = std::mem::take(&mut rs.pending_dropped);
            rs.last_fired = Some(rec.observed_at);
            events.push(self.event(rule, snap, prev, all, body, summary, severity, held, dropped));
        }
        Ok(events)
    }

    /// A query engine whose catalog view includes `snap` ((re)opened when it does not). Without
    /// the `alerts` tables: custom rules query posture, not alerts.
    async fn engine_seeing<'q>(
        &self,
        query: &'q mut Option<tarn_query::QueryEngine>,
        snap: &Snap,
    ) -> Result<&'q tarn_query::QueryEngine, AlertError> {
        let sees = |e: &tarn_query::QueryEngine| {
            e.index().cluster(&snap.record.cluster).is_some_and(|c| c.head_seq >= snap.seq)
        };
        if !query.as_ref().is_some_and(sees) {
            let index = tarn_lake::CatalogIndex::open(&self.lake).await?;
            *query = Some(tarn_query::QueryEngine::with_index(index, Default::default())?);
        }
        Ok(query.as_ref().expect("opened"))
    }

    #[allow(clippy::too_many_arguments)]
    fn event(
        &self,
        rule: &Rule,
        snap: &Snap,
        prev: Option<&Snap>,
        findings: Vec<Finding>,
        mut body: Value,
        summary: String,
        severity: Severity,
        held_back_cycles: u64,
        dropped: u64,
    ) -> AlertRecord {
        let rec = &snap.record;
        let id = event_id(&self.lake_id, &rule.name, rec.cluster.as_str(), &format!("seq:{}", snap.seq));
        let snapshot_ref = |s: &Snap| {
            json!({
                "id": s.record.snapshot_id.to_string(),
                "seq": s.seq,
                "observed_at": s.record.observed_at,
                "object": s.record.object_path,
                "object_sha256": s.record.object_sha256,
                "log_entry": s.entry_path,
                "log_entry_sha256": s.entry_sha256,
            })
        };
        let mut counts = BTreeMap::new();
        for f in &findings {
            *counts.entry(f.change.as_str()).or_insert(0u64) += 1;
        }
        let o = body.as_object_mut().expect("object body");
        o.insert("rule".into(), rule.name.clone().into());
        o.insert("condition".into(), rule.condition.kind().into());
        o.insert("summary".into(), summary.clone().into());
        o.insert("severity".into(), severity.as_str().into());
        o.insert("cluster".into(), rec.cluster.to_string().into());
        o.insert("group_path".into(), rec.group_path.to_string().into());
        o.insert("lake".into(), json!({"id": self.lake_id, "url": public_url(self.lake.url())}));
        o.insert("snapshot".into(), snapshot_ref(snap));
        o.insert("previous_snapshot".into(), prev.map(snapshot_ref).unwrap_or(Value::Null));
        if matches!(rule.condition, Condition::Transition { .. }) {
            o.insert("counts".into(), json!(counts));
            o.insert("findings_total".into(), findings.len().into());
            o.insert("held_back_cycles".into(), held_back_cycles.into());
            o.insert("held_back_dropped".into(), dropped.into());
        }
        let url = public_url(self.lake.url());
        let mut links = json!({
            "verify": format!("tarn evidence verify --lake {url} --cluster {}", rec.cluster),
            "posture": format!("tarn evidence at {} --lake {url} --cluster {}", rec.observed_at.to_rfc3339(), rec.cluster),
        });
        if let Some(p) = prev {
            links["diff"] = format!(
                "tarn evidence diff {} {} --lake {url} --cluster {}",
                p.record.observed_at.to_rfc3339(),
                rec.observed_at.to_rfc3339(),
                rec.cluster
            )
            .into();
        }
        o.insert("links".into(), links);
        let ce = |findings: &[Finding], body: &Value| {
            let mut data = body.clone();
            if matches!(rule.condition, Condition::Transition { .. }) {
                data["findings"] = serde_json::to_value(findings).expect("json");
                data["findings_omitted"] =
                    (body["findings_total"].as_u64().unwrap_or(0) - findings.len() as u64).into();
            }
            self.cloud_event(rule, rec, &id, rec.observed_at, severity, data)
        };
        // Findings sorted worst first; as many as fit under the size bound.
        let mut findings = findings;
        findings.sort_by(|a, b| {
            (std::cmp::Reverse(a.severity), &a.namespace, &a.workload_name, &a.control_id).cmp(&(
                std::cmp::Reverse(b.severity),
                &b.namespace,
                &b.workload_name,
                &b.control_id,
            ))
        });
        let mut keep = findings.len().min(MAX_FINDINGS);
        let mut event = ce(&findings[..keep], &body);
        while serde_json::to_vec(&event.to_structured()).expect("json").len() > MAX_EVENT_BYTES - 1024 && keep > 0 {
            keep /= 2;
            event = ce(&findings[..keep], &body);
        }
        record(rule, snap, event, severity, summary)
    }

    /// The CloudEvent of an alert about `rec`'s cluster.
    fn cloud_event(
        &self,
        rule: &Rule,
        rec: &SnapshotRecord,
        id: &str,
        time: DateTime<Utc>,
        severity: Severity,
        data: Value,
    ) -> CloudEvent {
        CloudEvent {
            id: id.to_string(),
            source: source(&self.lake_id, rec.cluster.as_str()),
            ty: rule.condition.event_type().to_string(),
            subject: Some(subject(rec.group_path.as_str(), rec.cluster.as_str())),
            time,
            extensions: BTreeMap::from([
                ("tarnrule".to_string(), rule.name.clone()),
                ("tarnseverity".to_string(), severity.as_str().to_string()),
            ]),
            data,
        }
    }

    /// Staleness: clusters in a staleness rule's scope whose newest snapshot is older than
    /// `missed × interval` at `now`. One event per cluster per silent period (its id names the
    /// newest snapshot), however often this runs.
    pub async fn staleness(&self, now: DateTime<Utc>) -> Result<PassOutcome, AlertError> {
        let mut out = PassOutcome::default();
        let rules: Vec<&Rule> =
            self.rules.rules.iter().filter(|r| matches!(r.condition, Condition::Staleness { .. })).collect();
        if rules.is_empty() {
            return Ok(out);
        }
        let clusters = log::list_clusters(&self.lake).await?;
        out.clusters = clusters.len();
        for c in &clusters {
            let head = match log::head(&self.lake, c).await {
                Ok(Some(h)) => h,
                Ok(None) => continue,
                Err(e) => {
                    out.problems.push(format!("cluster {c}: {e}"));
                    continue;
                }
            };
            let entry = match head.parse() {
                Ok(e) => e,
                Err(e) => {
                    out.problems.push(format!("cluster {c}: {e}"));
                    continue;
                }
            };
            let snap = Snap::of(&head, entry);
            let rec = &snap.record;
            for rule in &rules {
                let Condition::Staleness { interval, missed } = rule.condition else { continue };
                if !rule.scope.admits_cluster(c.as_str(), &rec.group_path) {
                    continue;
                }
                let Some(stale_at) = interval
                    .checked_mul(missed)
                    .and_then(|d| ChronoDuration::from_std(d).ok())
                    .and_then(|d| rec.ingested_at.checked_add_signed(d))
                else {
                    continue;
                };
                if now < stale_at {
                    continue;
                }
                let id = event_id(&self.lake_id, &rule.name, c.as_str(), &format!("stale-after:{}", snap.seq));
                let severity = rule.severity.unwrap_or(Severity::High);
                let silent = now - rec.ingested_at;
                let summary = format!(
                    "{c} has sent no snapshot for {} (expected every {})",
                    humantime::format_duration(silent.to_std().unwrap_or_default()),
                    humantime::format_duration(interval)
                );
                let url = public_url(self.lake.url());
                let data = json!({
                    "rule": rule.name,
                    "condition": "staleness",
                    "summary": summary,
                    "severity": severity.as_str(),
                    "cluster": c.to_string(),
                    "group_path": rec.group_path.to_string(),
                    "lake": {"id": self.lake_id, "url": url},
                    "last_snapshot": {
                        "id": rec.snapshot_id.to_string(),
                        "seq": snap.seq,
                        "observed_at": rec.observed_at,
                        "ingested_at": rec.ingested_at,
                        "log_entry": snap.entry_path,
                        "log_entry_sha256": snap.entry_sha256,
                    },
                    "interval": humantime::format_duration(interval).to_string(),
                    "missed": missed,
                    "stale_since": stale_at,
                    "links": {"verify": format!("tarn evidence verify --lake {url} --cluster {c}")},
                });
                let event = self.cloud_event(rule, rec, &id, stale_at, severity, data);
                let record = record(rule, &snap, event, severity, summary);
                // Stored and queued again each time: both are create-only, so this only repairs
                // an earlier attempt that stored the event but failed to queue it.
                if let Err(e) = self.store(record, &mut out).await {
                    out.problems.push(format!("cluster {c}: {e}"));
                }
            }
        }
        Ok(out)
    }
}

/// A SQL string literal.
fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// What is stored of an event: the event itself plus the columns of the `alerts` table.
fn record(rule: &Rule, snap: &Snap, event: CloudEvent, severity: Severity, summary: String) -> AlertRecord {
    let rec = &snap.record;
    AlertRecord {
        event_id: event.id.clone(),
        event_type: event.ty.clone(),
        time: event.time,
        emitted_at: Utc::now(),
        rule: rule.name.clone(),
        severity: severity.as_str().to_string(),
        cluster: rec.cluster.to_string(),
        group_path: rec.group_path.to_string(),
        subject: event.subject.clone().unwrap_or_default(),
        snapshot_id: Some(rec.snapshot_id.to_string()),
        seq: Some(snap.seq),
        summary,
        sinks: rule.sinks.clone(),
        event: event.to_structured(),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn transition_summary(found: &[Finding], pending: &[Finding], cluster: &str) -> String {
    let all: Vec<&Finding> = pending.iter().chain(found).collect();
    let mut by: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut n = BTreeMap::new();
    for f in &all {
        by.entry(f.change.as_str()).or_default().insert(&f.control_id);
        *n.entry(f.change.as_str()).or_insert(0usize) += 1;
    }
    let parts: Vec<String> = n
        .iter()
        .map(|(c, k)| {
            let controls: Vec<&str> = by[c].iter().copied().take(4).collect();
            let more = if by[c].len() > 4 { ", ..." } else { "" };
            format!("{k} {c} ({}{more})", controls.join(", "))
        })
        .collect();
    format!("{cluster}: {}", parts.join("; "))
}

/// Event ids: a digest of the lake, rule, cluster and log position, so the same occurrence
/// always gets the same id (receivers de-duplicate on it).
pub fn event_id(lake_id: &str, rule: &str, cluster: &str, what: &str) -> String {
    let mut h = Sha256::new();
    for p in [lake_id, rule, cluster, what] {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let d = hex::encode(&h.finalize()[..16]);
    format!("{}-{}-{}-{}-{}", &d[..8], &d[8..12], &d[12..16], &d[16..20], &d[20..32])
}

fn source(lake_id: &str, cluster: &str) -> String {
    format!("urn:tarn:lake:{lake_id}:cluster:{cluster}")
}

fn subject(group: &str, cluster: &str) -> String {
    if group == "/" { format!("/{cluster}") } else { format!("{group}/{cluster}") }
}

/// The lake URL without credentials or query (events travel to third parties).
fn public_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.scheme() != "file" => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.to_string()
        }
        _ => url.to_string(),
    }
}

fn rows_json(batches: &[arrow::array::RecordBatch]) -> Result<Vec<Value>, AlertError> {
    let mut w = arrow::json::ArrayWriter::new(Vec::new());
    for b in batches {
        w.write(b).map_err(|e| AlertError::Rule(format!("custom query rows: {e}")))?;
    }
    w.finish().map_err(|e| AlertError::Rule(format!("custom query rows: {e}")))?;
    let bytes = w.into_inner();
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&bytes).map_err(|e| AlertError::Rule(format!("custom query rows: {e}")))
}
