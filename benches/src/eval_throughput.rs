//! Evaluation speed: one 500-workload cluster through every framework.
//!
//! The inventory is the quickstart's manifests (workloads plus RBAC objects) replicated into
//! distinct namespaces up to `--workloads`; policies and image evidence are the quickstart's
//! (a ClusterImagePolicy, an SlsaPolicy with real upstream provenance, a custom Rego control).
//! Prints workloads/s and rows/s per framework and for everything together, single-threaded.
//!
//! ```text
//! cargo run --release -p tarn-benches --bin eval_throughput -- [--workloads 500] [--repeat 5]
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use tarn_eval::evidence::EvidenceSet;
use tarn_eval::frameworks::Framework;
use tarn_eval::inventory::{self, Inventory};
use tarn_eval::policies::{EvidenceContext, PolicyBundle, Selection, evaluate_all};
use tarn_trust::sigstore::TrustedRoot;

fn arg(name: &str, default: usize) -> anyhow::Result<usize> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        Some(i) => args.get(i + 1).context("missing value")?.parse().context("not a number"),
        None => Ok(default),
    }
}

/// The quickstart's manifests, replicated into namespaces `team-<n>` until `target` workloads.
fn inventory(root: &Path, target: usize) -> anyhow::Result<Inventory> {
    let mut sources: Vec<(String, Vec<u8>)> = Vec::new();
    for dir in ["base/shop", "base/platform", "base/dev-tools", "base/staging-tools"] {
        for e in std::fs::read_dir(root.join(dir))? {
            let p = e?.path();
            sources.push((p.display().to_string(), std::fs::read(&p)?));
        }
    }
    let per_copy = inventory::read_sources(sources.iter().map(|(n, b)| (n.as_str(), b.as_slice()))).workloads.len();
    let copies = target.div_ceil(per_copy.max(1));
    let mut all: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..copies {
        for (name, body) in &sources {
            let text = String::from_utf8_lossy(body)
                .replace("namespace: ", &format!("namespace: team-{i}-"))
                .replace("\"namespace\": \"", &format!("\"namespace\": \"team-{i}-"));
            all.push((format!("{name}#{i}"), text.into_bytes()));
        }
    }
    let mut inv = inventory::read_sources(all.iter().map(|(n, b)| (n.as_str(), b.as_slice())));
    anyhow::ensure!(inv.problems.is_empty(), "fixture problems: {:?}", inv.problems.first());
    inv.workloads.truncate(target);
    Ok(inv)
}

fn main() -> anyhow::Result<()> {
    let (target, repeat) = (arg("--workloads", 500)?, arg("--repeat", 5)?);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/quickstart");
    let inv = inventory(&root, target)?;
    let mut files = Vec::new();
    for e in std::fs::read_dir(root.join("policies"))? {
        let p = e?.path();
        files.push((p.file_name().unwrap().to_string_lossy().to_string(), std::fs::read(&p)?));
    }
    let bundle = PolicyBundle::from_files(&files);
    anyhow::ensure!(bundle.problems.is_empty(), "policy problems: {:?}", bundle.problems);
    let evidence = EvidenceSet::load_dir(&root.join("evidence"))?;
    let root_of_trust = TrustedRoot::production();
    let ctx = EvidenceContext { evidence: &evidence, trusted_root: &root_of_trust };
    let none = Selection { builtin: vec![], image_policies: false, slsa: false, custom: false, required: false };
    let cases: Vec<(&str, Selection)> = vec![
        (
            "pss-baseline + pss-restricted",
            Selection { builtin: vec!["pss-baseline".parse()?, "pss-restricted".parse()?], ..none.clone() },
        ),
        ("cis-k8s@1.12", Selection { builtin: vec!["cis-k8s".parse::<Framework>()?], ..none.clone() }),
        ("image-policy", Selection { image_policies: true, ..none.clone() }),
        ("slsa", Selection { slsa: true, ..none.clone() }),
        ("custom (Rego)", Selection { custom: true, ..none.clone() }),
        ("all frameworks", Selection::defaults(&bundle, true)),
    ];
    println!(
        "eval_throughput: {} workloads, {} other objects, median of {repeat} runs, one thread",
        inv.workloads.len(),
        inv.objects.len()
    );
    println!("{:<32} {:>10} {:>14} {:>12}", "framework", "rows", "workloads/s", "ms/cluster");
    for (name, sel) in cases {
        let mut times: Vec<Duration> = Vec::new();
        let mut rows = 0;
        for _ in 0..repeat {
            let t = Instant::now();
            rows = evaluate_all(&inv, &sel, &bundle, &ctx).rows.len();
            times.push(t.elapsed());
        }
        times.sort();
        let median = times[times.len() / 2];
        println!(
            "{:<32} {:>10} {:>14.0} {:>12.1}",
            name,
            rows,
            inv.workloads.len() as f64 / median.as_secs_f64(),
            median.as_secs_f64() * 1e3
        );
    }
    Ok(())
}
