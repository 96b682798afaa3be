//! Reading workloads and policy-relevant objects from the Kubernetes API.
//!
//! Lists every resource type Tarn judges, cluster-wide, in pages (`limit` + `continue`), and
//! feeds the results through the same inventory reader as files, so both paths produce the
//! same workloads, problems and digests. The client retries 429/503/504 itself; other
//! transient failures get three attempts with backoff here. Workload types must list
//! successfully or the read fails (a partial workload list would misstate posture); a failure
//! on a supporting type (RBAC, network policies, …) becomes an inventory problem.
//! Secrets are never listed: Tarn needs no read access to secret values.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Namespace, Pod, ReplicationController, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};
use tarn_eval::inventory::{self, Inventory, InventoryProblem};

use crate::AgentError;

/// Kinds of the supporting lists, in the order `read` requests them.
const OPTIONAL_KINDS: [&str; 7] =
    ["Namespace", "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "NetworkPolicy"];

/// Page size for list calls.
const PAGE: u32 = 500;
const ATTEMPTS: u32 = 3;

/// A connection to one cluster.
#[derive(Clone)]
pub struct KubeSource {
    client: kube::Client,
    server: String,
}

impl std::fmt::Debug for KubeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeSource").field("server", &self.server).finish_non_exhaustive()
    }
}

impl KubeSource {
    /// Connects with a kubeconfig file (and optional context), or, without one, the usual
    /// inference: `$KUBECONFIG`, `~/.kube/config`, then the in-cluster service account.
    pub async fn connect(kubeconfig: Option<PathBuf>, context: Option<String>) -> Result<Self, AgentError> {
        let options = KubeConfigOptions { context, ..Default::default() };
        let config = match kubeconfig {
            Some(path) => {
                let kc = Kubeconfig::read_from(&path)
                    .map_err(|e| AgentError::KubeConfig(format!("{}: {e}", path.display())))?;
                kube::Config::from_custom_kubeconfig(kc, &options)
                    .await
                    .map_err(|e| AgentError::KubeConfig(e.to_string()))?
            }
            None if options.context.is_some() => {
                kube::Config::from_kubeconfig(&options).await.map_err(|e| AgentError::KubeConfig(e.to_string()))?
            }
            None => kube::Config::infer().await.map_err(|e| AgentError::KubeConfig(e.to_string()))?,
        };
        let server = config.cluster_url.to_string();
        let client = kube::Client::try_from(config).map_err(|e| AgentError::KubeConfig(e.to_string()))?;
        Ok(Self { client, server })
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    /// Lists everything and reads it as an inventory.
    pub async fn read(&self) -> Result<Inventory, AgentError> {
        let c = &self.client;
        // Workloads: required.
        let mut docs: Vec<(String, Vec<u8>)> = vec![
            self.required::<Pod>(Api::all(c.clone()), "pods").await?,
            self.required::<ReplicaSet>(Api::all(c.clone()), "replicasets").await?,
            self.required::<Deployment>(Api::all(c.clone()), "deployments").await?,
            self.required::<StatefulSet>(Api::all(c.clone()), "statefulsets").await?,
            self.required::<DaemonSet>(Api::all(c.clone()), "daemonsets").await?,
            self.required::<Job>(Api::all(c.clone()), "jobs").await?,
            self.required::<CronJob>(Api::all(c.clone()), "cronjobs").await?,
            self.required::<ReplicationController>(Api::all(c.clone()), "replicationcontrollers").await?,
        ];
        // Supporting objects: best effort, failures become problems.
        let mut problems = Vec::new();
        let optional = [
            self.optional::<Namespace>(Api::all(c.clone()), "namespaces").await,
            self.optional::<ServiceAccount>(Api::all(c.clone()), "serviceaccounts").await,
            self.optional::<Role>(Api::all(c.clone()), "roles").await,
            self.optional::<ClusterRole>(Api::all(c.clone()), "clusterroles").await,
            self.optional::<RoleBinding>(Api::all(c.clone()), "rolebindings").await,
            self.optional::<ClusterRoleBinding>(Api::all(c.clone()), "clusterrolebindings").await,
            self.optional::<NetworkPolicy>(Api::all(c.clone()), "networkpolicies").await,
        ];
        let mut unavailable = Vec::new();
        for (r, kind) in optional.into_iter().zip(OPTIONAL_KINDS) {
            match r {
                Ok(doc) => docs.push(doc),
                Err(p) => {
                    problems.push(p);
                    unavailable.push(kind.to_string());
                }
            }
        }
        let mut inv = inventory::read_sources(docs.iter().map(|(n, b)| (n.as_str(), b.as_slice())));
        inv.problems.extend(problems);
        inv.unavailable_kinds.extend(unavailable);
        Ok(inv)
    }

    async fn required<K>(&self, api: Api<K>, resource: &str) -> Result<(String, Vec<u8>), AgentError>
    where
        K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
    {
        let items = list_all(&api, resource).await?;
        Ok(as_list_doc(resource, items))
    }

    async fn optional<K>(&self, api: Api<K>, resource: &str) -> Result<(String, Vec<u8>), InventoryProblem>
    where
        K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
    {
        match list_all(&api, resource).await {
            Ok(items) => Ok(as_list_doc(resource, items)),
            Err(e) => Err(InventoryProblem {
                source: format!("kube:{resource}"),
                document: 0,
                line: None,
                column: None,
                field: None,
                message: format!("{e}; controls over {resource} are judged without them"),
            }),
        }
    }
}

fn as_list_doc(resource: &str, items: Vec<Value>) -> (String, Vec<u8>) {
    let doc = json!({ "apiVersion": "v1", "kind": "List", "items": items });
    (format!("kube:{resource}"), serde_json::to_vec(&doc).expect("JSON values serialise"))
}

/// Every item of a resource type, following `continue` tokens, with a few retries per page.
async fn list_all<K>(api: &Api<K>, resource: &str) -> Result<Vec<Value>, AgentError>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut lp = ListParams::default().limit(PAGE);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let mut attempt = 0;
        let page = loop {
            attempt += 1;
            match api.list(&lp).await {
                Ok(p) => break p,
                // An expired continue token: the list must start over.
                Err(kube::Error::Api(status)) if status.code == 410 && token.is_some() && attempt < ATTEMPTS => {
                    tracing::warn!(resource, "continue token expired, restarting the list");
                    items.clear();
                    token = None;
                    lp = ListParams::default().limit(PAGE);
                }
                Err(e) if attempt < ATTEMPTS && transient(&e) => {
                    tracing::warn!(resource, attempt, error = %e, "list failed, retrying");
                    tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
                }
                Err(source) => return Err(AgentError::KubeList { resource: resource.to_string(), source }),
            }
        };
        for item in page.items {
            let mut v = serde_json::to_value(&item).expect("API objects serialise");
            // List items carry no type; put it back so the inventory reader recognises them.
            if let Value::Object(m) = &mut v {
                m.entry("kind").or_insert_with(|| Value::String(K::kind(&()).to_string()));
                m.entry("apiVersion").or_insert_with(|| Value::String(K::api_version(&()).to_string()));
            }
            items.push(v);
        }
        match page.metadata.continue_.filter(|t| !t.is_empty()) {
            Some(t) => token = Some(t),
            None => return Ok(items),
        }
    }
}

/// Errors worth another attempt: server-side failures and connection trouble, not 4xx.
fn transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(status) => status.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}
