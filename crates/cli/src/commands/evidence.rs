use std::time::Duration;

use anyhow::Context;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use tarn_lake::verify::{VerifyOptions, Witness};
use tarn_lake::{Catalog, log};
use tarn_model::ClusterName;
use tarn_query::format::{OutputFormat, render};
use tarn_query::{QueryEngine, QueryOptions};

use crate::args::{invalid, load_public_keys, read_input_file};
use crate::cli::{BundleArgs, QueryArgs, SummaryFormat, VerifyArgs};
use crate::{exit, output};

async fn get_bytes(lake: &tarn_lake::Lake, key: &str) -> anyhow::Result<bytes::Bytes> {
    use object_store::ObjectStoreExt;
    let path = object_store::path::Path::from(key);
    Ok(lake.store().get(&path).await.with_context(|| format!("cannot read {key}"))?.bytes().await?)
}

pub async fn verify(a: VerifyArgs) -> anyhow::Result<u8> {
    if a.keys.is_empty() && !a.trust_lake_keys {
        return Err(invalid(
            "name the trusted public key(s) with --key PUB; --trust-lake-keys uses the keys stored in the lake instead, \
which anyone able to write the lake can replace",
        ));
    }
    let keys = load_public_keys(&a.keys)?;
    let clusters = if a.clusters.is_empty() {
        None
    } else {
        Some(a.clusters.iter().map(|c| c.parse::<ClusterName>()).collect::<Result<Vec<_>, _>>()?)
    };
    let witness = match &a.witness {
        Some(p) if p.exists() => {
            if a.init_witness {
                return Err(invalid(format!("--init-witness: {} already exists", p.display())));
            }
            let text = read_input_file(p, "witness")?;
            Some(
                serde_json::from_str::<Witness>(&text)
                    .map_err(|e| invalid(format!("{}: invalid witness file: {e}", p.display())))?,
            )
        }
        Some(p) if !a.init_witness => {
            return Err(invalid(format!(
                "witness {} does not exist (pass --init-witness to start one at this audit)",
                p.display()
            )));
        }
        _ => None,
    };
    let lake = a.lake.open_existing().await?;
    let opts = VerifyOptions { keys, clusters, from: a.from, to: a.to, witness, ..Default::default() };
    let spinner = output::spinner("verifying digests, signatures and log chains");
    let report = tarn_lake::verify::verify(&lake, &opts).await?;
    spinner.finish_and_clear();

    if report.ok()
        && let Some(p) = &a.witness
    {
        let mut merged = opts.witness.clone().unwrap_or_default();
        merged.lake_id.clone_from(&report.witness.lake_id);
        merged.heads.extend(report.witness.heads.clone());
        std::fs::write(p, serde_json::to_vec_pretty(&merged)?)
            .with_context(|| format!("cannot write witness {}", p.display()))?;
    }
    match a.format {
        SummaryFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        SummaryFormat::Table => {
            if report.trust_anchor == "lake" {
                eprintln!(
                    "warning: signatures were checked against keys stored in the lake itself: this detects accidental \
damage, not tampering by anyone able to write the lake"
                );
            }
            for obj in &report.in_flight {
                eprintln!("note: {obj} is being written (its log entry does not exist yet); not verified");
            }
            if !report.problems.is_empty() {
                let mut t = Table::new();
                t.load_preset(UTF8_FULL_CONDENSED).set_header(["PROBLEM", "CLUSTER", "OBJECT", "DETAIL"]);
                for p in &report.problems {
                    let kind = serde_json::to_value(p.kind)?.as_str().unwrap_or_default().to_string();
                    t.add_row([kind, p.cluster.clone().unwrap_or_default(), p.object.clone(), p.detail.clone()]);
                }
                println!("{t}");
            }
            println!(
                "{}: {} clusters, {} log entries, {} objects ({} bytes) hashed, {} problems",
                if report.ok() { "VERIFIED" } else { "FAILED" },
                report.clusters,
                report.entries,
                report.objects_hashed,
                report.bytes_hashed,
                report.problems.len()
            );
        }
    }
    Ok(if report.ok() { exit::OK } else { exit::FAILED })
}

pub async fn query(a: QueryArgs) -> anyhow::Result<u8> {
    let format: OutputFormat = a.format.parse().map_err(invalid)?;
    let lake = a.lake.open_existing().await?;
    let opts = QueryOptions {
        memory_limit: a.memory_mb << 20,
        timeout: Duration::from_secs(a.timeout_secs),
        ..QueryOptions::default()
    };
    let engine = QueryEngine::open(&lake, opts).await?;
    for w in engine.warnings() {
        eprintln!("warning: left out unreadable log entry: {w}");
    }
    let batches = engine.sql(&a.sql).await?;
    print!("{}", render(&batches, format)?);
    if format == OutputFormat::Table {
        println!();
    }
    Ok(exit::OK)
}

pub async fn bundle(a: BundleArgs) -> anyhow::Result<u8> {
    let lake = a.lake.open_existing().await?;
    let id = a.snapshot.trim();
    let catalog = Catalog::load(&lake, None).await?;
    let snap = catalog
        .snapshots
        .iter()
        .find(|s| s.record.snapshot_id.to_string() == id)
        .ok_or_else(|| invalid(format!("no committed snapshot {id} in {}", lake.url())))?;
    let entry_key = tarn_lake::paths::log_entry(&snap.record.cluster, snap.seq).to_string();
    let raw = get_bytes(&lake, &entry_key).await?;
    let entry: log::LogEntry =
        serde_json::from_slice(&raw).with_context(|| format!("corrupt log entry {entry_key}"))?;
    let json = serde_json::to_vec_pretty(&entry.bundle)?;
    if a.out.as_os_str() == "-" {
        println!("{}", String::from_utf8_lossy(&json));
    } else {
        std::fs::write(&a.out, &json).with_context(|| format!("cannot write {}", a.out.display()))?;
        eprintln!("bundle written to {}", a.out.display());
    }
    if let Some(p) = &a.object_out {
        let bytes = get_bytes(&lake, &snap.record.object_path).await?;
        std::fs::write(p, &bytes).with_context(|| format!("cannot write {}", p.display()))?;
        eprintln!("object {} written to {} ({})", snap.record.object_path, p.display(), snap.record.object_sha256);
    }
    Ok(exit::OK)
}
