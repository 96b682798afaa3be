//! Tarn's evaluators: read workloads from inventories and judge them against frameworks.
//!
//! ```text
//! files / dirs / kubectl -o json ──▶ inventory::read_paths ──▶ Inventory (workloads, RBAC, …)
//!                                                         │
//!                   frameworks::evaluate ─┬─ PSS baseline/restricted (v1.0 … latest), per workload
//!                                         └─ CIS section 5 (1.9 … 1.12), over the inventory
//!                                                         │
//!                    catalogs (reports/catalogs) ──▶ Vec<EvaluationRow>
//! ```
//!
//! The PSS evaluator ([`pss`]) agrees with all 4,537 upstream pod-security-admission fixtures;
//! the CIS checks ([`cis`]) with the trivy-checks good/bad examples of every mapped check.
//! Controls, titles, severities and remediation live in [`catalog`]s.
//! Sigstore `ClusterImagePolicy` sets ([`imagepolicy`]) are validated with upstream's webhook
//! rules (all 47 valid/invalid fixtures agree) and judge images through a signature verifier;
//! custom controls can be written in Rego ([`imagepolicy::RegoPolicy`]).
//! The SLSA build track ([`slsa`]) verifies image provenance offline and grades build levels;
//! its verifiers agree with every offline-checkable row of slsa-verifier's test table.
//!
//! ```
//! use tarn_eval::{frameworks::Framework, inventory::read_sources};
//! let inv = read_sources([("p.yaml", b"kind: Pod\nmetadata: {name: p}\nspec:\n  hostPID: true\n  containers: [{name: c, image: busybox}]\n".as_slice())]);
//! let fw: Framework = "pss-baseline".parse().unwrap();
//! let verdicts = fw.evaluate(&inv.workloads[0]);
//! assert!(verdicts.iter().any(|v| v.check_id == "hostNamespaces" && !v.allowed));
//! ```

pub mod catalog;
pub mod cis;
pub mod evidence;
mod files;
pub mod frameworks;
pub mod imagepolicy;
pub mod inventory;
pub mod k8s;
pub mod policies;
pub mod pss;
pub mod slsa;
