use std::io::Write;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::{Value, json};
use std::collections::HashMap;

use tarn_eval::inventory;
use tarn_model::{EvaluationRow, Status};

use crate::cli::{EvalArgs, EvalFormat};
use crate::commands::policy::Setup;
use crate::exit;

pub async fn run(a: EvalArgs) -> anyhow::Result<u8> {
    let setup = Setup::from_args(&a.policy)?;
    let inv = inventory::read_paths(&a.paths)?;
    for p in &inv.problems {
        eprintln!("error: not evaluated: {p}");
    }
    let evidence = setup.evidence.collect(&inv).await;
    let eval = setup.evaluate(&inv, &setup.read_policies(), &evidence);
    for p in
        eval.policy_problems.iter().chain(evidence.problems.iter().map(ToString::to_string).collect::<Vec<_>>().iter())
    {
        eprintln!("error: not used: {p}");
    }
    let unused = inv.problems.len() + eval.policy_problems.len() + evidence.problems.len();
    // Every framework through the same row model the agent stores, grouped back per resource.
    let rows = eval.rows;
    // (kind, namespace, name) → where it was read; cluster-scoped objects have no namespace.
    let mut sources: HashMap<(&str, &str, &str), (String, usize)> = HashMap::new();
    let located =
        |source: &str, item: &str| if item.is_empty() { source.to_string() } else { format!("{source}#{item}") };
    for w in &inv.workloads {
        sources.insert(
            (w.kind.as_str(), w.namespace.as_str(), w.name.as_str()),
            (located(&w.source, &w.item), w.document),
        );
    }
    for o in &inv.objects {
        sources
            .entry((o.kind.as_str(), o.namespace.as_str(), o.name.as_str()))
            .or_insert((located(&o.source, &o.item), o.document));
    }
    let mut order: Vec<(String, String, String, String)> = Vec::new();
    let mut groups: HashMap<(String, String, String, String), Vec<&EvaluationRow>> = HashMap::new();
    let mut cluster_level = 0usize;
    for r in &rows {
        if r.workload_kind.is_empty() {
            cluster_level += 1;
            continue;
        }
        let key = (
            format!("{}@{}", r.framework, r.framework_version),
            r.workload_kind.clone(),
            r.namespace.clone(),
            r.workload_name.clone(),
        );
        groups
            .entry(key.clone())
            .or_insert_with(|| {
                order.push(key);
                Vec::new()
            })
            .push(r);
    }
    let mut results: Vec<Value> = Vec::new();
    for key in &order {
        let (framework, kind, namespace, name) = key;
        let group = &groups[key];
        let mut findings: Vec<(String, Status, String)> = Vec::new();
        for r in group {
            match findings.iter_mut().find(|f| f.0 == r.control_id) {
                Some(f) => {
                    if severity_of(r.status) > severity_of(f.1) {
                        f.1 = r.status;
                        f.2.clone_from(&r.message);
                    }
                }
                None => findings.push((r.control_id.clone(), r.status, r.message.clone())),
            }
        }
        let allowed = findings.iter().all(|f| !matches!(f.1, Status::Fail | Status::Error));
        let (source, document) = sources
            .get(&(kind.as_str(), namespace.as_str(), name.as_str()))
            .or_else(|| sources.get(&(kind.as_str(), "", name.as_str())))
            .cloned()
            .unwrap_or_default();
        results.push(json!({
            "source": source,
            "document": document,
            "name": name,
            "namespace": namespace,
            "kind": kind,
            "framework": framework,
            "allowed": allowed,
            "findings": findings.iter().map(|(c, s, m)| json!({"control": c, "status": s, "message": m})).collect::<Vec<_>>(),
        }));
    }
    if cluster_level > 0 {
        eprintln!(
            "note: {cluster_level} cluster-level results (manual controls, controls with nothing in scope) are not listed per resource"
        );
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match a.format {
        EvalFormat::Jsonl => {
            for r in &results {
                writeln!(out, "{}", serde_json::to_string(r)?)?;
            }
        }
        EvalFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&results)?)?,
        EvalFormat::Table => {
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED).set_header([
                "SOURCE",
                "KIND",
                "NAMESPACE/NAME",
                "FRAMEWORK",
                "VERDICT",
                "FAILING CONTROLS",
            ]);
            for r in &results {
                let failing: Vec<String> = r["findings"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|f| f["status"] == "fail")
                    .map(|f| f["message"].as_str().unwrap_or_default().to_string())
                    .collect();
                t.add_row([
                    r["source"].as_str().unwrap_or_default().to_string(),
                    r["kind"].as_str().unwrap_or_default().to_string(),
                    format!(
                        "{}/{}",
                        r["namespace"].as_str().unwrap_or_default(),
                        r["name"].as_str().unwrap_or_default()
                    ),
                    r["framework"].as_str().unwrap_or_default().to_string(),
                    if r["allowed"] == true { "allowed".to_string() } else { "DENIED".to_string() },
                    failing.join("\n"),
                ]);
            }
            writeln!(out, "{t}")?;
            let denied = results.iter().filter(|r| r["allowed"] == false).count();
            writeln!(
                out,
                "{} workload evaluations, {} denied, {} documents not evaluated",
                results.len(),
                denied,
                inv.problems.len()
            )?;
        }
    }
    Ok(if unused == 0 { exit::OK } else { exit::FAILED })
}

/// Which status wins when a control has several rows for one resource.
fn severity_of(s: Status) -> u8 {
    match s {
        Status::Pass => 0,
        Status::Skip => 1,
        Status::Warn => 2,
        Status::Error => 3,
        Status::Fail => 4,
    }
}
