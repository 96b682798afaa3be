//! `tarn lake`: catalog checkpoints, compaction and status.

use std::collections::HashMap;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use tarn_lake::compact::{CompactOptions, compact as compact_lake};
use tarn_lake::{CatalogIndex, CheckpointOutcome, write_checkpoint};
use tarn_model::SystemClock;

use crate::cli::{CompactArgs, LakeMaintArgs, LakeStatusArgs, SummaryFormat};
use crate::{exit, output};

fn describe(o: &CheckpointOutcome) -> String {
    match o {
        CheckpointOutcome::Written { checkpoint, entries, days } => {
            format!("wrote checkpoint {checkpoint}: {entries} new log entries over {days} days")
        }
        CheckpointOutcome::UpToDate(Some(n)) => format!("checkpoint {n} is up to date"),
        CheckpointOutcome::UpToDate(None) => "the lake has no snapshots yet; nothing to checkpoint".into(),
        CheckpointOutcome::Raced(n) => {
            format!("another writer created checkpoint {n} first; run again to fold in anything it missed")
        }
    }
}

pub async fn checkpoint(a: LakeMaintArgs) -> anyhow::Result<u8> {
    let lake = a.lake.open_existing().await?;
    let outcome = write_checkpoint(&lake, &SystemClock, &HashMap::new()).await?;
    println!("{}", describe(&outcome));
    Ok(exit::OK)
}

pub async fn compact(a: CompactArgs) -> anyhow::Result<u8> {
    let lake = a.lake.open_existing().await?;
    let before = a.before.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let bar = output::bar(0, "compacting cluster-days");
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let report =
        compact_lake(&lake, &SystemClock, &CompactOptions { before, min_snapshots: a.min_snapshots }, &progress)
            .await?;
    bar.finish_and_clear();
    println!(
        "compacted {} cluster-days ({} snapshots, {} bytes) into {} bytes; the signed originals stay",
        report.cluster_days, report.snapshots, report.bytes_in, report.bytes_out
    );
    if let Some(o) = &report.checkpoint {
        println!("{}", describe(o));
    }
    for r in &report.refused {
        eprintln!("refused: {r}");
    }
    Ok(if report.refused.is_empty() { exit::OK } else { exit::FAILED })
}

pub async fn status(a: LakeStatusArgs) -> anyhow::Result<u8> {
    let lake = a.lake.open_existing().await?;
    let index = CatalogIndex::open(&lake).await?;
    let checkpoint = index.checkpoint().map(|m| (m.checkpoint, m.created_at));
    let clusters: Vec<_> = index.clusters().collect();
    let snapshots: u64 = clusters.iter().map(|c| c.head_seq).sum();
    match a.format {
        SummaryFormat::Json => {
            let v = serde_json::json!({
                "lake": lake.url().to_string(),
                "lake_id": index.lake_id(),
                "checkpoint": checkpoint.map(|c| c.0),
                "checkpoint_created_at": checkpoint.map(|c| c.1),
                "log_entries_past_checkpoint": index.tail_len(),
                "days": index.dates().len(),
                "clusters": clusters.iter().map(|c| serde_json::json!({
                    "cluster": c.cluster,
                    "group_path": c.group_path,
                    "head_seq": c.head_seq,
                    "first_observed_at": c.first_observed_at,
                    "last_observed_at": c.last_observed_at,
                })).collect::<Vec<_>>(),
                "warnings": index.warnings(),
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        SummaryFormat::Table => {
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED).set_header(["CLUSTER", "GROUP", "LOG ENTRIES", "FIRST", "LAST"]);
            let fmt = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
            };
            for c in &clusters {
                t.add_row([
                    c.cluster.to_string(),
                    c.group_path.to_string(),
                    c.head_seq.to_string(),
                    fmt(c.first_observed_at),
                    fmt(c.last_observed_at),
                ]);
            }
            println!("{t}");
            println!(
                "{}: {} clusters, {} log entries over {} days; {}, {} entries past it",
                lake.url(),
                clusters.len(),
                snapshots,
                index.dates().len(),
                match checkpoint {
                    Some((n, at)) => format!("catalog checkpoint {n} ({})", at.format("%Y-%m-%d %H:%M:%S UTC")),
                    None => "no catalog checkpoint".into(),
                },
                index.tail_len()
            );
            for w in index.warnings() {
                eprintln!("warning: {w}");
            }
        }
    }
    Ok(exit::OK)
}
