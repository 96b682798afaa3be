//! Loading what a scan evaluates with (frameworks, policies, evidence, trusted root), shared
//! by `agent scan`, `agent run`, `eval` and `policies test`.

use tarn_agent::evidence::EvidenceSource;
use tarn_agent::policydir::{PolicyDir, PolicyFiles};
use tarn_agent::registry::RegistryClient;
use tarn_agent::run::Evaluation;
use tarn_eval::evidence::EvidenceSet;
use tarn_eval::inventory::Inventory;
use tarn_eval::policies::{self, EvidenceContext, PolicyBundle, Selection};
use tarn_trust::sigstore::TrustedRoot;

use crate::args::{PolicyArgs, invalid, read_input_file};

/// Everything but the inventory.
pub struct Setup {
    pub policy_dir: Option<PolicyDir>,
    pub evidence: EvidenceSource,
    pub trusted_root: TrustedRoot,
    /// `sha256:<hex>` of the trusted root's JSON, part of the policy digest.
    pub trusted_root_digest: String,
    /// Frameworks the user named, if any.
    pub named: Option<Selection>,
}

impl Setup {
    pub fn from_args(a: &PolicyArgs) -> anyhow::Result<Self> {
        let named = if a.frameworks.is_empty() {
            None
        } else {
            Some(Selection::parse(&a.frameworks).map_err(|e| invalid(e.to_string()))?)
        };
        let must_be_dir = |dir: &std::path::Path, what: &str| -> anyhow::Result<()> {
            match std::fs::metadata(dir) {
                Ok(m) if m.is_dir() => Ok(()),
                Ok(_) => Err(invalid(format!("{what} {} is not a directory", dir.display()))),
                Err(e) => Err(invalid(format!("{what} {}: {e}", dir.display()))),
            }
        };
        if let Some(dir) = &a.policies {
            must_be_dir(dir, "policy directory")?;
        }
        for dir in &a.evidence {
            must_be_dir(dir, "evidence directory")?;
        }
        let (trusted_root, trusted_root_digest) = match &a.trusted_root {
            Some(path) => {
                let text = read_input_file(path, "trusted root")?;
                let root = TrustedRoot::from_json(text.as_bytes())
                    .map_err(|e| invalid(format!("{}: invalid trusted root: {e}", path.display())))?;
                (root, format!("sha256:{}", tarn_trust::sha256_hex(text.as_bytes())))
            }
            None => (TrustedRoot::production(), "builtin:sigstore-public-good".to_string()),
        };
        let registry = a.registry_evidence.then(|| RegistryClient::new(a.insecure_registries.iter().cloned()));
        Ok(Self {
            policy_dir: a.policies.as_ref().map(PolicyDir::new),
            evidence: EvidenceSource { dirs: a.evidence.clone(), registry },
            trusted_root,
            trusted_root_digest,
            named,
        })
    }

    pub fn read_policies(&self) -> PolicyFiles {
        self.policy_dir.as_ref().map(PolicyDir::read).unwrap_or_default()
    }

    /// Evaluates one inventory with the given policy files and evidence.
    pub fn evaluate(&self, inv: &Inventory, files: &PolicyFiles, evidence: &EvidenceSet) -> Evaluation {
        let bundle = PolicyBundle::from_files(&files.files);
        let selection =
            self.named.clone().unwrap_or_else(|| Selection::defaults(&bundle, self.evidence.is_configured()));
        let ctx = EvidenceContext { evidence, trusted_root: &self.trusted_root };
        let out = policies::evaluate_all(inv, &selection, &bundle, &ctx);
        let mut policy_problems = files.problems.clone();
        policy_problems.extend(bundle.problems.iter().cloned());
        Evaluation {
            rows: out.rows,
            frameworks: out.frameworks,
            policy_digest: policies::policy_digest(&selection, &bundle, &self.trusted_root_digest),
            input_digest: policies::input_digest(inv, evidence),
            policy_problems,
        }
    }
}

/// The agent's evaluator.
pub struct FullEvaluator(pub Setup);

impl tarn_agent::run::Evaluator for FullEvaluator {
    fn evaluate(&self, inventory: &Inventory, policies: &PolicyFiles, evidence: &EvidenceSet) -> Evaluation {
        self.0.evaluate(inventory, policies, evidence)
    }
}
