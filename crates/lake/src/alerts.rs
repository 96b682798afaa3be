//! Alerts in the lake: every emitted event, each sink's outbox and delivery outcomes, and how
//! far alert evaluation has got in each cluster's log.
//!
//! ```text
//! alerts/events/<event-id>.json                  one emitted CloudEvent and what it was about (create-only)
//! alerts/outbox/sink=<s>/<event-id>.json         waiting for delivery to sink s (create-only; removed once settled)
//! alerts/deliveries/sink=<s>/<event-id>.json     settled: delivered, or dead-lettered after the last attempt
//! alerts/cursors/cluster=<c>.json                derived: newest log seq evaluated, and rule state (rewritten)
//! ```
//!
//! Event ids are derived from (rule, cluster, log position), so evaluating the same snapshot twice
//! — after a crash, or by two evaluators racing — produces the same ids, and the create-only
//! event and outbox objects make the second attempt a no-op. The cursor only saves work.

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutPayload};
use serde::{Deserialize, Serialize};
use tarn_model::ClusterName;

use crate::error::{LakeError, Result};
use crate::store::Lake;

pub const ALERTS_PREFIX: &str = "alerts";
const EVENTS: &str = "alerts/events";
const OUTBOX: &str = "alerts/outbox";
const DELIVERIES: &str = "alerts/deliveries";
const CURSORS: &str = "alerts/cursors";

/// `alerts/events/<event-id>.json`
pub fn event_key(event_id: &str) -> Path {
    Path::from(format!("{EVENTS}/{event_id}.json"))
}

/// `alerts/outbox/sink=<s>/<event-id>.json`
pub fn outbox_key(sink: &str, event_id: &str) -> Path {
    Path::from(format!("{OUTBOX}/sink={sink}/{event_id}.json"))
}

/// `alerts/deliveries/sink=<s>/<event-id>.json`
pub fn delivery_key(sink: &str, event_id: &str) -> Path {
    Path::from(format!("{DELIVERIES}/sink={sink}/{event_id}.json"))
}

/// `alerts/cursors/cluster=<c>.json`
pub fn cursor_key(cluster: &ClusterName) -> Path {
    Path::from(format!("{CURSORS}/cluster={cluster}.json"))
}

/// One emitted alert: the CloudEvent exactly as sent (structured-mode JSON) plus the facts the
/// `alerts` table exposes as columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    pub event_id: String,
    /// CloudEvents `type`, e.g. `dev.tarn.posture.changed.v1`.
    pub event_type: String,
    /// CloudEvents `time`: when what the event reports happened (the snapshot's observation).
    pub time: DateTime<Utc>,
    /// When the evaluator emitted it.
    pub emitted_at: DateTime<Utc>,
    pub rule: String,
    pub severity: String,
    pub cluster: String,
    pub group_path: String,
    pub subject: String,
    /// The snapshot that triggered it, and its log position (absent for staleness).
    pub snapshot_id: Option<String>,
    pub seq: Option<u64>,
    pub summary: String,
    /// Sinks it was routed to.
    pub sinks: Vec<String>,
    /// The whole CloudEvent in structured mode.
    pub event: serde_json::Value,
}

/// An outbox entry: an event waiting for one sink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub event_id: String,
    pub sink: String,
    pub queued_at: DateTime<Utc>,
    /// Ordering key: the event's time, then id.
    pub event_time: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Delivered,
    /// Dead-lettered: the last attempt failed, or the sink refused it permanently.
    Dead,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Dead => "dead",
        }
    }
}

/// How a delivery to one sink ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub event_id: String,
    pub sink: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub first_attempt_at: DateTime<Utc>,
    pub settled_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// What `put_create` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    Existed,
}

async fn put_create<T: Serialize>(lake: &Lake, key: &Path, value: &T) -> Result<Created> {
    let body = serde_json::to_vec_pretty(value).expect("serializable");
    match lake.store().put_opts(key, PutPayload::from(body), PutMode::Create.into()).await {
        Ok(_) => Ok(Created::New),
        Err(object_store::Error::AlreadyExists { .. }) => Ok(Created::Existed),
        Err(e) => Err(e.into()),
    }
}

async fn get_json<T: for<'de> Deserialize<'de>>(lake: &Lake, key: &Path) -> Result<Option<T>> {
    match lake.store().get(key).await {
        Ok(r) => {
            let bytes = r.bytes().await?;
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| LakeError::CorruptEntry { path: key.to_string(), reason: e.to_string() })
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Stores an emitted event (create-only); `Existed` when the same event was stored before.
pub async fn put_event(lake: &Lake, rec: &AlertRecord) -> Result<Created> {
    put_create(lake, &event_key(&rec.event_id), rec).await
}

pub async fn get_event(lake: &Lake, event_id: &str) -> Result<Option<AlertRecord>> {
    get_json(lake, &event_key(event_id)).await
}

/// Queues an event for a sink unless it is queued or already settled there.
pub async fn enqueue(lake: &Lake, entry: &OutboxEntry) -> Result<Created> {
    if get_delivery(lake, &entry.sink, &entry.event_id).await?.is_some() {
        return Ok(Created::Existed);
    }
    put_create(lake, &outbox_key(&entry.sink, &entry.event_id), entry).await
}

/// A sink's outbox, oldest event first.
pub async fn outbox(lake: &Lake, sink: &str) -> Result<Vec<OutboxEntry>> {
    let mut out: Vec<OutboxEntry> = read_all(lake, &format!("{OUTBOX}/sink={sink}")).await?;
    out.sort_by(|a, b| (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id)));
    Ok(out)
}

/// Every JSON record under `prefix` (but not the `requeued/` history). An unreadable record is
/// named in the log and left out, so one damaged object never blocks a sink or hides the rest.
async fn read_all<T: for<'de> Deserialize<'de> + Send>(lake: &Lake, prefix: &str) -> Result<Vec<T>> {
    let keys: Vec<Path> = lake
        .store()
        .list(Some(&Path::from(prefix)))
        .map_ok(|m| m.location)
        .try_filter(|k| futures::future::ready(!k.as_ref().contains("/requeued/")))
        .try_collect()
        .await?;
    futures::stream::iter(keys)
        .map(|k| async move {
            match get_json::<T>(lake, &k).await {
                Err(LakeError::CorruptEntry { path, reason }) => {
                    tracing::warn!(%path, "unreadable alert record left out: {reason}");
                    Ok(None)
                }
                r => r,
            }
        })
        .buffer_unordered(32)
        .try_filter_map(|e| async move { Ok(e) })
        .try_collect()
        .await
}

pub async fn get_delivery(lake: &Lake, sink: &str, event_id: &str) -> Result<Option<DeliveryRecord>> {
    get_json(lake, &delivery_key(sink, event_id)).await
}

/// Settles an outbox entry: records the outcome (create-only), then removes the entry.
pub async fn settle(lake: &Lake, rec: &DeliveryRecord) -> Result<Created> {
    let created = put_create(lake, &delivery_key(&rec.sink, &rec.event_id), rec).await?;
    drop_settled(lake, &rec.sink, &rec.event_id).await?;
    Ok(created)
}

/// Puts a dead-lettered event back in its sink's outbox. Order: the outbox entry first, then
/// the dead letter is copied aside (`requeued/`, so the outcome history survives) and removed;
/// a crash in between leaves the event queued, and delivery then finishes moving the dead
/// letter aside before it sends.
pub async fn requeue_dead(lake: &Lake, rec: &DeliveryRecord, now: DateTime<Utc>) -> Result<()> {
    let event = get_event(lake, &rec.event_id).await?.ok_or_else(|| LakeError::CorruptEntry {
        path: event_key(&rec.event_id).to_string(),
        reason: "dead-lettered event has no event record".into(),
    })?;
    let entry =
        OutboxEntry { event_id: rec.event_id.clone(), sink: rec.sink.clone(), queued_at: now, event_time: event.time };
    put_create(lake, &outbox_key(&rec.sink, &rec.event_id), &entry).await?;
    let aside =
        Path::from(format!("{DELIVERIES}/sink={}/requeued/{}-{}.json", rec.sink, rec.event_id, now.timestamp()));
    put_create(lake, &aside, rec).await?;
    match lake.store().delete(&delivery_key(&rec.sink, &rec.event_id)).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Removes an outbox entry whose outcome is already recorded (left by a crash between the two).
pub async fn drop_settled(lake: &Lake, sink: &str, event_id: &str) -> Result<()> {
    match lake.store().delete(&outbox_key(sink, event_id)).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Every stored event, oldest first.
pub async fn events(lake: &Lake) -> Result<Vec<AlertRecord>> {
    let mut out: Vec<AlertRecord> = read_all(lake, EVENTS).await?;
    out.sort_by(|a, b| (a.time, &a.event_id).cmp(&(b.time, &b.event_id)));
    Ok(out)
}

/// Every settled delivery, and every outbox entry still waiting.
pub async fn deliveries(lake: &Lake) -> Result<(Vec<DeliveryRecord>, Vec<OutboxEntry>)> {
    Ok((read_all(lake, DELIVERIES).await?, read_all(lake, OUTBOX).await?))
}

/// How far alert evaluation has got in one cluster's log, and the rule state carried between
/// snapshots (cooldowns, de-duplication, firing conditions). Opaque to the lake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    pub cluster: ClusterName,
    /// Newest log seq evaluated (0: none).
    pub seq: u64,
    pub updated_at: DateTime<Utc>,
    /// True when the cursor was placed at the head without evaluating history (first run
    /// with `skip_existing`).
    #[serde(default)]
    pub baseline: bool,
    #[serde(default)]
    pub state: serde_json::Value,
}

pub async fn get_cursor(lake: &Lake, cluster: &ClusterName) -> Result<Option<Cursor>> {
    get_json(lake, &cursor_key(cluster)).await
}

/// Writes a cursor unless a newer one is already there (racing evaluators converge on the
/// furthest one; their events are identical).
pub async fn put_cursor(lake: &Lake, cursor: &Cursor) -> Result<()> {
    if let Some(existing) = get_cursor(lake, &cursor.cluster).await?
        && existing.seq > cursor.seq
    {
        return Ok(());
    }
    let body = serde_json::to_vec_pretty(cursor).expect("serializable");
    lake.store().put(&cursor_key(&cursor.cluster), PutPayload::from(body)).await?;
    Ok(())
}
