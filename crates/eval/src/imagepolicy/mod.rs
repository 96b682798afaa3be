//! Sigstore policy-controller `ClusterImagePolicy` (CIP) support: parse and validate policies
//! as the upstream admission webhook does, and judge the images of an inventory against them.
//!
//! ```text
//! policy files/dirs ──▶ ImagePolicySet::load ──▶ schema + webhook validation (FieldErrors,
//!                        (multi-doc YAML, config-       upstream wording) ──▶ CompiledPolicy
//!                         policy-controller, TrustRoots)        │ rejected: PolicyProblem
//!                                                               ▼
//! Inventory ──▶ evaluate_image_policies ──▶ per (workload, container): policies whose glob
//!                  │                          and `match` select it, ANDed; authorities ORed
//!                  └─ SignatureVerifier (evidence: signatures, attestations) ─▶ EvaluationRow
//! ```
//!
//! * [`set::ImagePolicySet`]: the loaded policies; malformed documents become
//!   [`set::PolicyProblem`]s (file, line, field, upstream message) and are skipped.
//! * [`verifier::SignatureVerifier`]: implemented by whoever checks Sigstore evidence;
//!   identity matching ([`verifier::IdentityMatcher`]) stays here.
//! * Attestation and CIP-level policies of `type: rego` run on regorus ([`rego`]); CUE
//!   policies are accepted (as upstream) but evaluate to `error`.
//! * [`custom::RegoPolicy`]: custom controls in Rego (`package tarn.custom.<name>`, `deny`/
//!   `warn` rules) that yield findings like built-in controls.
//!
//! ```
//! use tarn_eval::imagepolicy::{ImagePolicySet, evaluate_image_policies, verifier::NoEvidence};
//! use tarn_eval::inventory::read_sources;
//!
//! let cip = b"apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\n\
//! metadata: {name: block-latest}\nspec:\n  images: [{glob: 'ghcr.io/acme/**'}]\n  authorities: [{static: {action: fail}}]\n";
//! let set = ImagePolicySet::from_sources([("cip.yaml", cip.as_slice())]);
//! assert!(set.problems.is_empty());
//! let inv = read_sources([("p.yaml", b"kind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: ghcr.io/acme/app:1}]\n".as_slice())]);
//! let rows = evaluate_image_policies(&set, &inv, &NoEvidence);
//! assert_eq!(rows[0].control_id, "block-latest");
//! assert_eq!(rows[0].message, "disallowed by static policy");
//! ```

pub mod compile;
pub mod config;
pub mod custom;
pub mod evaluate;
pub mod field_error;
pub mod glob;
pub mod keys;
pub mod parse;
pub mod rego;
pub mod rows;
pub mod schema;
pub mod set;
mod source;
pub mod types;
pub mod validate;
pub mod verifier;

pub use config::{NoMatchPolicy, PolicyControllerConfig};
pub use custom::{Finding, RegoPolicy, evaluate_custom_policies};
pub use evaluate::{PolicyVerdict, Resource};
pub use parse::{Rejection, parse_policy};
pub use rows::{IMAGE_POLICY_FRAMEWORK, evaluate_image_policies};
pub use set::{ImagePolicySet, PolicyLoadError, PolicyProblem};
pub use types::{Authority, ClusterImagePolicy};
pub use verifier::{SignatureVerifier, VerifiedAttestation, VerifiedSignature, VerifyError};

#[cfg(test)]
mod tests;
