//! SLSA results as evaluation rows: one row per (workload, container) per control.

use std::collections::HashMap;

use tarn_model::{EvaluationRow, Severity, Status};
use tarn_trust::sigstore::TrustedRoot;

use super::ProvenanceSource;
use super::assess::{Assessment, Authenticity, assess_document};
use super::policy::{SlsaPolicy, builder_listed};
use crate::inventory::{Inventory, digest_of};

/// Framework name of SLSA rows.
pub const FRAMEWORK: &str = "slsa";
/// The SLSA specification version the build levels follow.
pub const FRAMEWORK_VERSION: &str = "v1.0";

/// Control ids with their severity, in row order.
pub const CONTROLS: [(&str, Severity); 6] = [
    ("provenance-exists", Severity::High),
    ("provenance-authentic", Severity::High),
    ("subject-matches", Severity::Critical),
    ("builder-trusted", Severity::High),
    ("source-trusted", Severity::High),
    ("build-level", Severity::High),
];

/// Judges every container image of every workload: finds its provenance by image digest in
/// `evidence`, verifies it offline against `root`, and reports each control of `policy`.
/// Containers without an image are skipped; an image without a known digest has no
/// provenance to look up (pin it by digest, or read Pods whose status records `imageID`).
pub fn evaluate_slsa(
    policy: &SlsaPolicy,
    inv: &Inventory,
    evidence: &dyn ProvenanceSource,
    root: &TrustedRoot,
) -> Vec<EvaluationRow> {
    let mut rows = Vec::new();
    // Workloads often share images: judge each digest once.
    let mut cache: HashMap<String, Vec<Assessment>> = HashMap::new();
    for w in &inv.workloads {
        for c in w.template.spec.all_containers() {
            let Some(image) = c.image.as_deref().filter(|i| !i.is_empty()) else { continue };
            let digest = w.image_digests.get(&c.name).cloned().or_else(|| digest_of(image));
            let verdicts = match &digest {
                None => no_digest(policy),
                Some(d) => {
                    let found = cache.entry(d.clone()).or_insert_with(|| {
                        evidence.provenance_for(d).iter().map(|doc| assess_document(doc, d, policy, root)).collect()
                    });
                    judge(policy, found)
                }
            };
            for ((control, _), (status, message)) in CONTROLS.iter().zip(verdicts) {
                let severity = &severity_of(control);
                rows.push(EvaluationRow {
                    namespace: w.namespace.clone(),
                    workload_kind: w.kind.clone(),
                    workload_name: w.name.clone(),
                    container: c.name.clone(),
                    image: image.to_string(),
                    image_digest: digest.clone().unwrap_or_default(),
                    framework: FRAMEWORK.to_string(),
                    framework_version: FRAMEWORK_VERSION.to_string(),
                    control_id: control.to_string(),
                    status,
                    severity: *severity,
                    message,
                });
            }
        }
    }
    rows
}

type Verdict = (Status, String);

fn level_verdict(policy: &SlsaPolicy, level: u8, why: &str) -> Verdict {
    let status = if level >= policy.min_level { Status::Pass } else { Status::Fail };
    let required =
        if status == Status::Fail { format!(", below the required L{}", policy.min_level) } else { String::new() };
    (status, format!("achieved SLSA build level {level}{required}: {why}"))
}

fn no_digest(policy: &SlsaPolicy) -> Vec<Verdict> {
    let why = "image digest unknown, so no provenance can be looked up";
    let skip = || (Status::Skip, "no provenance".to_string());
    vec![(Status::Fail, why.to_string()), skip(), skip(), skip(), skip(), level_verdict(policy, 0, why)]
}

/// The verdicts of all controls, from the document that proves the most.
fn judge(policy: &SlsaPolicy, found: &[Assessment]) -> Vec<Verdict> {
    let rank = |a: &Assessment| (a.level, a.authenticity.is_verified(), a.subject_matches, a.provenance.is_some());
    let best = found.iter().enumerate().max_by_key(|(i, a)| (rank(a), std::cmp::Reverse(*i))).map(|(_, a)| a);
    let Some(best) = best.filter(|a| a.provenance.is_some()) else {
        let why = match found.first() {
            None => "no provenance found for this image".to_string(),
            Some(a) => format!("{}: {}", a.source, a.problem.as_deref().unwrap_or("not SLSA provenance")),
        };
        let skip = || (Status::Skip, "no provenance".to_string());
        return vec![(Status::Fail, why.clone()), skip(), skip(), skip(), skip(), level_verdict(policy, 0, &why)];
    };
    let from = &best.source;
    let exists = (Status::Pass, format!("SLSA provenance in {from}"));
    let authentic = match &best.authenticity {
        Authenticity::Verified { signer } => (Status::Pass, format!("signature verified: signed by {signer}")),
        Authenticity::CertificateOnly { signer } => (
            Status::Warn,
            format!("signed by {signer}; the signing time needs an online transparency-log lookup to be proven"),
        ),
        Authenticity::Unverifiable(why) => (Status::Fail, format!("cannot verify the signature offline: {why}")),
        Authenticity::Invalid(why) => (Status::Fail, format!("signature verification failed: {why}")),
    };
    let subject = if best.subject_matches {
        (Status::Pass, "a provenance subject is the image digest".to_string())
    } else {
        (Status::Fail, "no provenance subject is the image digest".to_string())
    };
    let verified = best.authenticity.is_verified();
    let builder = match &best.builder_id {
        None => (Status::Fail, "the provenance names no builder".to_string()),
        Some(b) if !builder_listed(&policy.trusted_builders, b) => {
            (Status::Fail, format!("builder {b} is not trusted"))
        }
        Some(b) if !verified => (Status::Fail, format!("builder {b} is trusted, but the claim is not authenticated")),
        Some(b) => (Status::Pass, format!("built by trusted builder {b}")),
    };
    let git_ref = best.git_ref.clone().unwrap_or_default();
    let source = match &best.repository {
        None => (Status::Fail, "the provenance names no source repository".to_string()),
        Some(r) => match policy.source_problem(r, &git_ref) {
            Some(p) => (Status::Fail, p),
            None if !verified => (Status::Fail, format!("source {r} at {git_ref:?} is allowed, but not authenticated")),
            None => (Status::Pass, format!("built from {r} at {git_ref}")),
        },
    };
    vec![exists, authentic, subject, builder, source, level_verdict(policy, best.level, &best.level_reason)]
}

/// A control's severity, from the SLSA catalog (`reports/catalogs/slsa-v1.0.yaml`).
fn severity_of(control: &str) -> Severity {
    crate::catalog::builtin("slsa-v1.0").and_then(|c| c.control(control)).map_or(Severity::High, |c| c.severity.into())
}

#[cfg(test)]
mod catalog_tests {
    #[test]
    fn every_control_is_in_the_catalog_with_its_severity() {
        let catalog = crate::catalog::builtin("slsa-v1.0").expect("slsa catalog is built in");
        assert_eq!(catalog.spec.controls.len(), super::CONTROLS.len());
        for (id, severity) in super::CONTROLS {
            let c = catalog.control(id).unwrap_or_else(|| panic!("{id} missing from the catalog"));
            assert_eq!(tarn_model::Severity::from(c.severity), severity, "{id}");
        }
    }
}
