//! `tarn alerts`: rule files, dry runs, the alert daemon, history and re-delivery.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::Utc;
use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use tarn_alerts::rules::{Condition, RuleSet};
use tarn_alerts::run::{Progress, RunOptions};
use tarn_alerts::{AlertError, Evaluator};
use tarn_lake::alerts::{self as store, DeliveryStatus};

use crate::args::invalid;
use crate::cli::{
    AlertHistoryArgs, AlertRedeliverArgs, AlertRulesListArgs, AlertRulesValidateArgs, AlertRunArgs, AlertTestArgs,
    Engine, QueryRunArgs, ResultFormat, SummaryFormat,
};
use crate::commands::evidence::open_engine;
use crate::exit;

fn load(path: &Path) -> anyhow::Result<RuleSet> {
    RuleSet::load(path).map_err(|e| invalid(e.to_string()))
}

fn alert_err(e: AlertError) -> anyhow::Error {
    match e {
        AlertError::Lake(l) => l.into(),
        AlertError::Rules(r) => invalid(r.to_string()),
        AlertError::Rule(m) | AlertError::Sink { message: m, .. } => invalid(m),
        other => anyhow::anyhow!(other),
    }
}

pub fn validate(a: AlertRulesValidateArgs) -> anyhow::Result<u8> {
    let mut bad = 0;
    for f in &a.files {
        match RuleSet::load(f) {
            Ok(rs) => println!("{}: {} rule(s), {} sink(s), valid", f.display(), rs.rules.len(), rs.sinks.len()),
            Err(e) => {
                eprintln!("{e}");
                bad += 1;
            }
        }
    }
    Ok(if bad == 0 { exit::OK } else { exit::INVALID })
}

pub fn list(a: AlertRulesListArgs) -> anyhow::Result<u8> {
    let rs = load(&a.rules)?;
    match a.format {
        SummaryFormat::Json => {
            let v: Vec<_> = rs
                .rules
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "name": r.name,
                        "description": r.description,
                        "condition": r.condition.kind(),
                        "describe": r.condition.describe(),
                        "event_type": r.condition.event_type(),
                        "scope": r.scope.describe(),
                        "frameworks": r.frameworks,
                        "controls": r.controls,
                        "min_severity": r.min_severity.map(|s| s.as_str()),
                        "cooldown_secs": r.cooldown.as_secs(),
                        "dedup_window_secs": r.dedup_window.as_secs(),
                        "skip_existing": r.skip_existing,
                        "sinks": r.sinks,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        SummaryFormat::Table => {
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED).set_header([
                "RULE",
                "CONDITION",
                "SCOPE",
                "FILTER",
                "COOLDOWN",
                "SINKS",
            ]);
            for r in &rs.rules {
                let mut filter = Vec::new();
                if !r.frameworks.is_empty() {
                    filter.push(format!("frameworks {}", r.frameworks.join(",")));
                }
                if !r.controls.is_empty() {
                    filter.push(format!("controls {}", r.controls.join(",")));
                }
                if let Some(s) = r.min_severity {
                    filter.push(format!("severity >= {s}"));
                }
                t.add_row([
                    r.name.clone(),
                    r.condition.describe(),
                    r.scope.describe(),
                    filter.join("\n"),
                    humantime::format_duration(r.cooldown).to_string(),
                    r.sinks
                        .iter()
                        .map(|s| {
                            let k = rs.sink(s).map(|k| format!("{:?}", k.kind).to_lowercase()).unwrap_or_default();
                            format!("{s} ({k})")
                        })
                        .collect::<Vec<_>>()
                        .join("\n"),
                ]);
            }
            println!("{t}");
        }
    }
    Ok(exit::OK)
}

pub async fn test(a: AlertTestArgs) -> anyhow::Result<u8> {
    let rs = load(&a.rules)?;
    let Some(rule) = rs.rule(&a.rule).cloned() else {
        return Err(invalid(format!(
            "{}: no rule named {:?} (rules: {})",
            a.rules.display(),
            a.rule,
            rs.rules.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ")
        )));
    };
    let lake = a.lake.open_existing().await?;
    let only = RuleSet { rules: vec![rule.clone()], ..rs };
    let ev = Evaluator::new(lake, Arc::new(only)).await.map_err(alert_err)?.dry_run();
    let (events, outcome) = if matches!(rule.condition, Condition::Staleness { .. }) {
        let o = ev.staleness(Utc::now()).await.map_err(alert_err)?;
        (ev.take_dry_run_events(), o)
    } else {
        ev.test(a.last).await.map_err(alert_err)?
    };
    for p in &outcome.problems {
        eprintln!("warning: {p}");
    }
    match a.format {
        SummaryFormat::Json => {
            let v: Vec<_> = events.iter().map(|e| &e.event).collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        SummaryFormat::Table => {
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED).set_header(["TIME", "CLUSTER", "TYPE", "SEVERITY", "SUMMARY"]);
            for e in &events {
                t.add_row([
                    e.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    e.cluster.clone(),
                    e.event_type.clone(),
                    e.severity.clone(),
                    e.summary.clone(),
                ]);
            }
            if !events.is_empty() {
                println!("{t}");
            }
        }
    }
    let n = events.len();
    eprintln!(
        "rule {}: {n} event(s) would fire over {} snapshot(s) in {} cluster(s) (dry run: nothing stored or sent)",
        rule.name, outcome.snapshots, outcome.clusters
    );
    Ok(exit::OK)
}

pub async fn run(a: AlertRunArgs) -> anyhow::Result<u8> {
    let rs = Arc::new(load(&a.rules)?);
    let lake = a.lake.open_existing().await?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    if !a.once {
        tokio::spawn(async move {
            let term = async {
                #[cfg(unix)]
                {
                    if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                        s.recv().await;
                    } else {
                        std::future::pending::<()>().await;
                    }
                }
                #[cfg(not(unix))]
                std::future::pending::<()>().await;
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term => {}
            }
            eprintln!("stopping: finishing the attempt in flight; queued events stay in the outbox");
            let _ = tx.send(true);
        });
    }
    eprintln!(
        "alerts: {} rule(s), {} sink(s) on {}{}",
        rs.rules.len(),
        rs.sinks.len(),
        lake.url(),
        if a.once { " (once)".to_string() } else { format!(", polling every {}", humantime::format_duration(a.poll)) }
    );
    let report = |p: Progress| match p {
        Progress::Pass(o) => {
            if !o.events.is_empty() || o.held_back > 0 {
                eprintln!(
                    "evaluated {} snapshot(s): {} new event(s){}{}",
                    o.snapshots,
                    o.events.len(),
                    if o.already_stored > 0 { format!(", {} already stored", o.already_stored) } else { String::new() },
                    if o.held_back > 0 {
                        format!(", {} finding(s) held back by cooldown", o.held_back)
                    } else {
                        String::new()
                    }
                );
            }
        }
        Progress::Drained { sink, outcome } => eprintln!(
            "sink {sink}: {} delivered, {} dead-lettered{}",
            outcome.delivered,
            outcome.dead,
            if outcome.left > 0 { format!(", {} left queued", outcome.left) } else { String::new() }
        ),
        Progress::Problem(m) => eprintln!("warning: {m}"),
    };
    let summary = tarn_alerts::run::run(lake, rs, RunOptions { poll: a.poll, once: a.once }, rx, report)
        .await
        .map_err(alert_err)?;
    eprintln!(
        "alerts: {} snapshot(s) evaluated, {} event(s), {} delivered, {} dead-lettered, {} left queued",
        summary.snapshots, summary.events, summary.delivered, summary.dead, summary.left
    );
    Ok(if a.once && (summary.dead > 0 || summary.left > 0) { exit::FAILED } else { exit::OK })
}

pub async fn history(a: AlertHistoryArgs) -> anyhow::Result<u8> {
    let q = tarn_query::named::named("alert_history")?;
    let mut values = BTreeMap::new();
    if let Some(r) = &a.rule {
        values.insert("rule".to_string(), r.clone());
    }
    if let Some(c) = &a.cluster {
        values.insert("cluster".to_string(), c.clone());
    }
    if let Some(f) = a.from {
        values.insert("from".to_string(), f.to_rfc3339());
    }
    if let Some(t) = a.to {
        values.insert("to".to_string(), t.to_rfc3339());
    }
    let sql = q.render(&values)?;
    if a.format == ResultFormat::Parquet {
        return Err(invalid("alerts history prints table, csv or json"));
    }
    let run = QueryRunArgs {
        lake: a.lake.clone(),
        format: a.format,
        out: None,
        memory_mb: 1024,
        timeout_secs: 120,
        stale_after: std::time::Duration::from_secs(86400),
        engine: Engine::Embedded,
    };
    let engine = open_engine(&run).await?;
    engine.register_alerts(&a.lake.open_existing().await?).await?;
    let (schema, batches) = engine.query(&sql).await?;
    let format = match a.format {
        ResultFormat::Csv => tarn_query::format::OutputFormat::Csv,
        ResultFormat::Json => tarn_query::format::OutputFormat::Json,
        _ => tarn_query::format::OutputFormat::Table,
    };
    let bytes = tarn_query::format::encode(&schema, &batches, format)?;
    println!("{}", String::from_utf8_lossy(&bytes).trim_end());
    Ok(exit::OK)
}

pub async fn redeliver(a: AlertRedeliverArgs) -> anyhow::Result<u8> {
    let lake = a.lake.open_existing().await?;
    let (settled, _) = store::deliveries(&lake).await?;
    let dead: Vec<_> = settled
        .into_iter()
        .filter(|d| d.sink == a.sink && d.status == DeliveryStatus::Dead)
        .filter(|d| a.event.as_ref().is_none_or(|e| &d.event_id == e))
        .collect();
    if dead.is_empty() {
        eprintln!("no dead-lettered events for sink {}", a.sink);
        return Ok(if a.event.is_some() { exit::FAILED } else { exit::OK });
    }
    let now = Utc::now();
    let mut failed = 0;
    for d in &dead {
        if let Err(e) = store::requeue_dead(&lake, d, now).await {
            eprintln!("event {}: not re-queued: {e}", d.event_id);
            failed += 1;
        }
    }
    eprintln!("re-queued {} event(s) for sink {}; the next `tarn alerts run` sends them", dead.len() - failed, a.sink);
    Ok(if failed == 0 { exit::OK } else { exit::FAILED })
}
