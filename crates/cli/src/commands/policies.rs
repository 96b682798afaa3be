//! `tarn policies test`: the offline image-policy tester.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::json;
use tarn_agent::evidence::EvidenceSource;
use tarn_eval::evidence::EvidenceVerifier;
use tarn_eval::imagepolicy::{self, ImagePolicySet};
use tarn_eval::inventory::{self, Inventory};
use tarn_model::Status;

use crate::args::{PolicyArgs, invalid};
use crate::cli::{PolicyTestArgs, SummaryFormat};
use crate::commands::policy::Setup;
use crate::exit;

pub async fn test(a: PolicyTestArgs) -> anyhow::Result<u8> {
    let set = ImagePolicySet::load(&a.policy).map_err(|e| invalid(e.to_string()))?;
    let rejected: Vec<_> = set.problems.iter().filter(|p| !p.kept).collect();
    for p in &set.problems {
        eprintln!("{}: {p}", if p.kept { "warning" } else { "error" });
    }
    // A tester exists to catch the policy that does not load: never judge without it.
    if !rejected.is_empty() {
        return Err(invalid(format!("{} policy documents were rejected (see above); nothing tested", rejected.len())));
    }
    if set.is_empty() {
        return Err(invalid("no ClusterImagePolicy in the given files"));
    }
    let inv: Inventory = match (&a.resource, &a.image) {
        (Some(path), _) => inventory::read_paths(std::slice::from_ref(path))?,
        (None, Some(image)) => {
            let pod = format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: policy-tester, namespace: default}}\nspec:\n  containers:\n  - name: image\n    image: {}\n",
                serde_json::to_string(image)?
            );
            inventory::read_sources([("--image", pod.as_bytes())])
        }
        (None, None) => return Err(invalid("give --image or --resource")),
    };
    for p in &inv.problems {
        eprintln!("error: not evaluated: {p}");
    }
    if inv.workloads.is_empty() {
        return Err(invalid("nothing to test: no workload in the input"));
    }
    let setup = Setup::from_args(&PolicyArgs {
        evidence: a.evidence.clone(),
        trusted_root: a.trusted_root.clone(),
        ..Default::default()
    })?;
    let evidence = EvidenceSource { dirs: a.evidence.clone(), registry: None }.collect(&inv).await;
    for p in &evidence.problems {
        eprintln!("warning: evidence skipped: {p}");
    }
    let verifier = EvidenceVerifier { evidence: &evidence, root: &setup.trusted_root };
    let rows = imagepolicy::evaluate_image_policies(&set, &inv, &verifier);
    let denied = rows.iter().any(|r| matches!(r.status, Status::Fail | Status::Error));
    match a.format {
        SummaryFormat::Json => {
            let results: Vec<_> = rows
                .iter()
                .map(|r| {
                    json!({"workload": format!("{}/{}/{}", r.workload_kind, r.namespace, r.workload_name),
                    "container": r.container, "image": r.image, "image_digest": r.image_digest,
                    "policy": r.control_id, "status": r.status, "message": r.message})
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&json!({"admitted": !denied, "results": results}))?);
        }
        SummaryFormat::Table => {
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED).set_header(["IMAGE", "POLICY", "RESULT", "MESSAGE"]);
            for r in &rows {
                t.add_row([r.image.clone(), r.control_id.clone(), r.status.to_string(), r.message.clone()]);
            }
            println!("{t}");
            if rows.is_empty() {
                println!("no policy matches (no-match policy: allow)");
            }
            println!("{}", if denied { "DENIED" } else { "ADMITTED" });
        }
    }
    Ok(if denied { exit::FAILED } else { exit::OK })
}
