//! Agreement with the trivy-checks good/bad example manifests (`fixtures/trivy-checks`, see
//! its README) for every trivy check a Tarn CIS catalog maps to.
//!
//! For each mapped `KSV-*` check with an `example_file` in `checks-kubernetes-index.json`,
//! every `bad` manifest must fail that check (at least one failing result) and every `good`
//! manifest must pass it (results, none failing). Other checks may fire on the same manifest.
//! All disagreements are collected and reported together.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tarn_eval::cis::{self, CisContext, CisVersion};
use tarn_eval::inventory::read_sources;
use tarn_model::Status;

/// Example files, good and bad manifests in the fixture subset (README: 17 files, 17 good,
/// 16 bad); a missing or partial fixture directory fails the test.
const EXPECTED: (usize, usize, usize) = (17, 17, 16);

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/trivy-checks")
}

#[derive(Deserialize)]
struct IndexEntry {
    id: String,
    #[serde(default)]
    example_file: Option<String>,
}

#[derive(Deserialize)]
struct Examples {
    kubernetes: GoodBad,
}

#[derive(Deserialize)]
struct GoodBad {
    #[serde(default)]
    good: Vec<String>,
    #[serde(default)]
    bad: Vec<String>,
}

/// Statuses of `check` on one manifest.
fn judge(manifest: &str, check: &str) -> Result<Vec<Status>, String> {
    let inv = read_sources([("example.yaml", manifest.as_bytes())]);
    if !inv.problems.is_empty() {
        return Err(format!("unreadable: {:?}", inv.problems));
    }
    Ok(cis::run_checks(&inv, &CisContext::default())
        .into_iter()
        .filter(|r| r.check_id == check)
        .map(|r| r.status)
        .collect())
}

#[test]
fn trivy_examples_agree() {
    let index_path = fixtures().join("checks-kubernetes-index.json");
    let index: Vec<IndexEntry> = serde_json::from_str(
        &std::fs::read_to_string(&index_path).unwrap_or_else(|e| panic!("{}: {e}", index_path.display())),
    )
    .unwrap();
    let mapped: BTreeSet<String> = CisVersion::ALL
        .into_iter()
        .flat_map(|v| v.catalog().check_ids().into_iter().map(str::to_string))
        .filter(|id| id.starts_with("KSV-"))
        .collect();
    for id in &mapped {
        assert!(index.iter().any(|e| &e.id == id), "{id} is not a trivy-checks check");
    }

    let (mut files, mut good, mut bad) = (0, 0, 0);
    let mut disagreements = Vec::new();
    for entry in index.iter().filter(|e| mapped.contains(&e.id)) {
        let Some(file) = &entry.example_file else { continue };
        let path = fixtures().join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let examples: Examples = serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        files += 1;
        for (kind, manifests) in [("good", &examples.kubernetes.good), ("bad", &examples.kubernetes.bad)] {
            for (i, m) in manifests.iter().enumerate() {
                let verdict = match judge(m, &entry.id) {
                    Err(e) => Err(e),
                    Ok(s) if s.is_empty() => Err("the check judged nothing".to_string()),
                    Ok(s) if kind == "bad" && !s.contains(&Status::Fail) => Err(format!("passed: {s:?}")),
                    Ok(s) if kind == "good" && s.iter().any(|x| *x != Status::Pass) => {
                        Err(format!("did not pass: {s:?}"))
                    }
                    Ok(_) => Ok(()),
                };
                match verdict {
                    Ok(()) if kind == "good" => good += 1,
                    Ok(()) => bad += 1,
                    Err(e) => disagreements.push(format!("{} {file} {kind}[{i}]: {e}", entry.id)),
                }
            }
        }
    }
    println!("trivy examples: {good} good / {bad} bad agree ({files} example files, {} mapped checks)", mapped.len());
    assert!(disagreements.is_empty(), "{} disagreements:\n{}", disagreements.len(), disagreements.join("\n"));
    assert_eq!((files, good, bad), EXPECTED, "example files, good, bad");
}
