use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use tarn_lake::verify::{VerifyOptions, Witness};
use tarn_lake::{Catalog, log};
use tarn_model::ClusterName;
use tarn_query::format::{OutputFormat, encode};
use tarn_query::{ControlInfo, QueryEngine, QueryOptions};

use crate::args::{invalid, load_public_keys, read_input_file};
use crate::cli::{
    AtArgs, BundleArgs, DiffArgs, Engine, QueryArgs, QueryRunArgs, ResultFormat, ScopeArgs, SummaryFormat, TrendArgs,
    TrendBy, VerifyArgs,
};
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
        if report.witness.reports.is_some() {
            merged.reports.clone_from(&report.witness.reports);
        }
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
            if report.reports > 0 {
                println!("{} signed reports checked (chain, signatures, files)", report.reports);
            }
        }
    }
    Ok(if report.ok() { exit::OK } else { exit::FAILED })
}

pub async fn query(a: QueryArgs) -> anyhow::Result<u8> {
    if a.list_named {
        return list_named();
    }
    let sql = match (&a.named, &a.sql) {
        (Some(name), _) => {
            let mut values = BTreeMap::new();
            for p in &a.params {
                let (k, v) = p.split_once('=').ok_or_else(|| invalid(format!("--param {p:?}: expected NAME=VALUE")))?;
                values.insert(k.trim().to_string(), v.to_string());
            }
            tarn_query::named::named(name).and_then(|q| q.render(&values)).map_err(|e| invalid(e.to_string()))?
        }
        (None, Some(sql)) => sql.clone(),
        (None, None) => return Err(invalid("give a SQL statement or --named NAME")),
    };
    run_sql(&a.run, &sql).await
}

fn list_named() -> anyhow::Result<u8> {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header(["NAME", "PARAMETERS", "WHAT IT ANSWERS"]);
    for q in tarn_query::named::all() {
        let params: Vec<String> = q
            .params
            .iter()
            .map(|(n, d)| match d {
                Some(d) => format!("{n} = {d:?}"),
                None => n.clone(),
            })
            .collect();
        t.add_row([q.name.clone(), params.join("\n"), q.title.clone()]);
    }
    println!("{t}");
    Ok(exit::OK)
}

/// A time argument, resolved once (so `now` means one instant for the whole command).
fn time_arg(flag: &str, s: &str) -> anyhow::Result<String> {
    let t = tarn_query::parse_time(s).map_err(|e| invalid(format!("{flag}: {e}")))?;
    Ok(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

fn scope_arg(scope: &ScopeArgs) -> anyhow::Result<String> {
    let s = scope.scope();
    tarn_lake::Scope::parse(&s).map_err(|e| {
        invalid(format!("{} {s:?}: {e}", if scope.cluster.is_some() { "--cluster" } else { "--group" }))
    })?;
    Ok(s)
}

fn named_sql(name: &str, values: &[(&str, String)]) -> anyhow::Result<String> {
    let values: BTreeMap<String, String> = values.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    Ok(tarn_query::named::named(name)?.render(&values)?)
}

pub async fn at(a: AtArgs) -> anyhow::Result<u8> {
    let at = time_arg("TIME", &a.at)?;
    let scope = scope_arg(&a.scope)?;
    let sql = if a.summary {
        named_sql("compliance_at", &[("at", at), ("scope", scope)])?
    } else {
        let statuses = a.status.to_ascii_lowercase().replace(' ', "");
        for st in statuses.split(',').filter(|s| *s != "all") {
            st.parse::<tarn_model::Status>().map_err(|_| {
                invalid(format!("--status: unknown status {st:?} (pass, fail, warn, skip, error or all)"))
            })?;
        }
        named_sql("posture_at", &[("at", at), ("scope", scope), ("statuses", statuses)])?
    };
    run_sql(&a.run, &sql).await
}

pub async fn diff(a: DiffArgs) -> anyhow::Result<u8> {
    let from = time_arg("FROM", &a.from)?;
    let to = time_arg("TO", &a.to)?;
    let scope = scope_arg(&a.scope)?;
    let changes = a.change.clone().unwrap_or_else(|| "all".into()).replace(' ', "");
    for c in changes.split(',').filter(|c| *c != "all") {
        if !["new", "fixed", "still_failing", "gone"].contains(&c) {
            return Err(invalid(format!("--change: unknown change {c:?} (new, fixed, still_failing, gone)")));
        }
    }
    run_sql(&a.run, &named_sql("posture_diff", &[("from", from), ("to", to), ("scope", scope), ("changes", changes)])?)
        .await
}

pub async fn trend(a: TrendArgs) -> anyhow::Result<u8> {
    let from = time_arg("--from", &a.from)?;
    let to = time_arg("--to", &a.to)?;
    tarn_query::parse_duration(&a.bucket).map_err(|e| invalid(format!("--bucket: {e}")))?;
    let scope = scope_arg(&a.scope)?;
    let by = match a.by {
        TrendBy::Framework => "framework",
        TrendBy::Cluster => "cluster",
        TrendBy::Group => "group",
        TrendBy::Control => "control",
    };
    let sql = named_sql(
        "compliance_trend",
        &[("bucket", a.bucket.clone()), ("from", from), ("to", to), ("by", by.into()), ("scope", scope)],
    )?;
    run_sql(&a.run, &sql).await
}

/// The controls table: every control of the built-in catalogs.
pub(crate) fn catalog_controls() -> Vec<ControlInfo> {
    tarn_eval::catalog::builtin_controls()
        .into_iter()
        .map(|c| ControlInfo {
            framework: c.framework.to_string(),
            framework_version: c.version.to_string(),
            control_id: c.control.id.clone(),
            title: c.control.name.clone(),
            severity: tarn_model::Severity::from(c.control.severity).as_str().to_string(),
            description: c.control.description.clone(),
            remediation: c.control.remediation.clone().unwrap_or_default(),
            manual: c.control.manual.clone(),
        })
        .collect()
}

pub async fn open_engine(r: &QueryRunArgs) -> anyhow::Result<QueryEngine> {
    let lake = r.lake.open_existing().await?;
    let opts = QueryOptions {
        memory_limit: r.memory_mb << 20,
        timeout: Duration::from_secs(r.timeout_secs),
        staleness: chrono::Duration::from_std(r.stale_after).map_err(|e| invalid(format!("--stale-after: {e}")))?,
        ..QueryOptions::default()
    };
    let index = tarn_lake::CatalogIndex::open(&lake).await?;
    let engine = match &r.engine {
        Engine::Embedded => QueryEngine::with_index(index, opts)?,
        Engine::BallistaStandalone => QueryEngine::ballista(index, opts, None).await?,
        Engine::Ballista(addr) => QueryEngine::ballista(index, opts, Some(addr)).await?,
    }
    .with_controls(&catalog_controls())?;
    for w in engine.warnings() {
        eprintln!("warning: left out unreadable log entry: {w}");
    }
    Ok(engine)
}

async fn run_sql(r: &QueryRunArgs, sql: &str) -> anyhow::Result<u8> {
    let format = match r.format {
        ResultFormat::Table => OutputFormat::Table,
        ResultFormat::Csv => OutputFormat::Csv,
        ResultFormat::Json => OutputFormat::Json,
        ResultFormat::Parquet => OutputFormat::Parquet,
    };
    if format == OutputFormat::Parquet && r.out.is_none() {
        return Err(invalid("--format parquet writes a file: add --out FILE"));
    }
    let engine = open_engine(r).await?;
    // The alert tables are read whole (one object per event): only for questions about them.
    if sql.to_ascii_lowercase().contains("alert") {
        engine.register_alerts(&r.lake.open_existing().await?).await?;
    }
    let (schema, batches) = engine.query(sql).await?;
    let mut bytes = encode(&schema, &batches, format)?;
    if format == OutputFormat::Table {
        bytes.push(b'\n');
    }
    match &r.out {
        Some(path) => {
            std::fs::write(path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            eprintln!("wrote {rows} rows to {}", path.display());
        }
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)?;
            out.flush()?;
        }
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
