//! Where a cluster's inventory comes from.

use std::path::PathBuf;

use tarn_eval::inventory::{self, Inventory};

use crate::AgentError;
use crate::kube_source::KubeSource;

/// An inventory source, read afresh every cycle.
#[derive(Debug)]
pub enum InventorySource {
    /// `kubectl get -o json` exports, manifests, or directories of them.
    Files(Vec<PathBuf>),
    /// A live cluster through the Kubernetes API.
    Kube(KubeSource),
}

impl InventorySource {
    pub async fn read(&self) -> Result<Inventory, AgentError> {
        match self {
            InventorySource::Files(paths) => Ok(inventory::read_paths(paths)?),
            InventorySource::Kube(k) => k.read().await,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            InventorySource::Files(paths) => {
                format!("files {}", paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))
            }
            InventorySource::Kube(k) => format!("kubernetes API {}", k.server()),
        }
    }
}
