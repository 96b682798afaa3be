//! Tarn's evaluators: read workloads from inventories and judge them against frameworks.
//!
//! ```text
//! files / dirs / kubectl -o json ──▶ inventory::read_paths ──▶ Vec<Workload> (+ problems)
//!                                                         │
//!                        Framework::evaluate (PSS baseline/restricted, v1.0 … latest)
//!                                                         │
//!                                  frameworks::to_rows ──▶ Vec<EvaluationRow>
//! ```
//!
//! The PSS evaluator ([`pss`]) agrees with all 4,537 upstream pod-security-admission fixtures.
//!
//! ```
//! use tarn_eval::{frameworks::Framework, inventory::read_sources};
//! let inv = read_sources([("p.yaml", b"kind: Pod\nmetadata: {name: p}\nspec:\n  hostPID: true\n  containers: [{name: c, image: busybox}]\n".as_slice())]);
//! let fw: Framework = "pss-baseline".parse().unwrap();
//! let verdicts = fw.evaluate(&inv.workloads[0]);
//! assert!(verdicts.iter().any(|v| v.check_id == "hostNamespaces" && !v.allowed));
//! ```

pub mod frameworks;
pub mod inventory;
pub mod k8s;
pub mod pss;
