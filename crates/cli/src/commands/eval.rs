use std::io::Write;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::{Value, json};
use tarn_eval::inventory;
use tarn_eval::pss::CheckVerdict;

use crate::cli::{EvalArgs, EvalFormat};
use crate::commands::agent::parse_frameworks;
use crate::exit;

pub fn run(a: EvalArgs) -> anyhow::Result<u8> {
    let frameworks = parse_frameworks(&a.frameworks)?;
    let inv = inventory::read_paths(&a.paths)?;
    for p in &inv.problems {
        eprintln!("error: not evaluated: {p}");
    }
    let mut results: Vec<Value> = Vec::new();
    for w in &inv.workloads {
        for fw in &frameworks {
            let verdicts = fw.evaluate(w);
            let allowed = verdicts.iter().all(|v| v.allowed);
            let source = if w.item.is_empty() { w.source.clone() } else { format!("{}#{}", w.source, w.item) };
            results.push(json!({
                "source": source,
                "document": w.document,
                "name": w.name,
                "namespace": w.namespace,
                "kind": w.kind,
                "framework": fw.to_string(),
                "allowed": allowed,
                "findings": verdicts.iter().map(finding).collect::<Vec<_>>(),
            }));
        }
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
    Ok(if inv.problems.is_empty() { exit::OK } else { exit::FAILED })
}

fn finding(v: &CheckVerdict) -> Value {
    json!({
        "control": v.check_id,
        "status": if v.allowed { "pass" } else { "fail" },
        "message": v.message(),
    })
}
