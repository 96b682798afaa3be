//! Where image evidence comes from each cycle: evidence directories and, optionally, the OCI
//! registries the cluster's images live in.

use std::collections::BTreeSet;
use std::path::PathBuf;

use tarn_eval::evidence::{EvidenceProblem, EvidenceSet};
use tarn_eval::inventory::{Inventory, digest_of};

use crate::registry::{ImageRef, RegistryClient};

#[derive(Debug, Clone, Default)]
pub struct EvidenceSource {
    pub dirs: Vec<PathBuf>,
    /// Fetch signatures and attestations of every running image digest from its registry.
    pub registry: Option<RegistryClient>,
}

impl EvidenceSource {
    pub fn is_configured(&self) -> bool {
        !self.dirs.is_empty() || self.registry.is_some()
    }

    /// Reads the directories and fetches from registries for the images in `inv`.
    pub async fn collect(&self, inv: &Inventory) -> EvidenceSet {
        let mut set = EvidenceSet::default();
        for dir in &self.dirs {
            match EvidenceSet::load_dir(dir) {
                Ok(s) => set.extend(s),
                Err(e) => {
                    set.problems.push(EvidenceProblem { source: dir.display().to_string(), message: e.to_string() })
                }
            }
        }
        if let Some(client) = &self.registry {
            let mut seen = BTreeSet::new();
            for w in &inv.workloads {
                for c in w.template.spec.all_containers() {
                    let Some(image) = c.image.as_deref() else { continue };
                    let digest = w.image_digests.get(&c.name).cloned().or_else(|| digest_of(image));
                    let (Some(digest), Some(r)) = (digest, ImageRef::parse(image)) else { continue };
                    if seen.insert((r.registry.clone(), r.repository.clone(), digest.clone())) {
                        client.fetch_into(&r, &digest, &mut set).await;
                    }
                }
            }
        }
        set
    }
}
