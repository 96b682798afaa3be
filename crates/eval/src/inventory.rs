//! Reading workloads from `kubectl get -o json` output, multi-document YAML manifests, and
//! directories of them.
//!
//! Pods and the pod templates of Deployments, StatefulSets, DaemonSets, ReplicaSets,
//! ReplicationControllers, Jobs, CronJobs and PodTemplates become [`Workload`]s. `List`
//! documents (`kind: List` or `*List`) are unpacked. Other kinds are counted and ignored.
//! A bad document becomes an [`InventoryProblem`] naming file, document, line and field, and
//! is skipped; everything valid is still read.
//!
//! Objects whose controller is also in the inventory (a Pod of a ReplicaSet of a Deployment,
//! a Job of a CronJob) are folded into that controller so one workload is judged once.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::k8s::{ObjectMeta, PodSpec, PodTemplateSpec};

/// One workload to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// File the workload came from.
    pub source: String,
    /// 1-based document number within the file.
    pub document: usize,
    /// Path of the object inside the document (`""`, or `items[3]` inside a List).
    pub item: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub template: PodTemplateSpec,
    /// Container name → `sha256:<hex>` image digest, from the image reference or Pod status.
    pub image_digests: BTreeMap<String, String>,
    /// The whole object as read (for checks that look beyond the pod template).
    pub raw: Value,
}

/// A non-workload object the policies judge: RBAC objects, ServiceAccounts, NetworkPolicies,
/// Namespaces, Secrets (values removed), ConfigMaps, and anything else with a kind.
#[derive(Debug, Clone, PartialEq)]
pub struct KubeObject {
    pub source: String,
    pub document: usize,
    pub item: String,
    pub api_version: String,
    pub kind: String,
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
    /// The object as read; a Secret's `data`/`stringData` values are replaced by empty strings.
    pub raw: Value,
}

/// A document that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryProblem {
    pub source: String,
    /// 1-based document number; 0 when the file as a whole is unreadable.
    pub document: usize,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Field path inside the document (`spec.template.spec.containers[0].ports[1].hostPort`).
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for InventoryProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        if self.document > 0 {
            write!(f, ": document {}", self.document)?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A path that could not be read at all (missing, permission denied).
#[derive(Debug, thiserror::Error)]
#[error("cannot read inventory {path}: {source}")]
pub struct InventoryError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Everything read from a set of inventory paths.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub workloads: Vec<Workload>,
    pub problems: Vec<InventoryProblem>,
    /// Every non-workload object, for policies over RBAC, network policies and the like.
    pub objects: Vec<KubeObject>,
    /// Kinds present but not evaluated by any built-in framework, with counts.
    pub ignored_kinds: BTreeMap<String, usize>,
    /// Kinds the source could not read (a forbidden API list, say): controls that depend on
    /// them are not judged.
    pub unavailable_kinds: BTreeSet<String>,
    /// Objects folded into a controller that is also in the inventory.
    pub folded: usize,
    pub files: usize,
    pub documents: usize,
    /// `sha256:<hex>` over every input file's name and content.
    pub digest: String,
}

const WORKLOAD_KINDS: [&str; 9] = [
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
    "PodTemplate",
];

/// Non-workload kinds built-in frameworks judge (CIS section 5); others are kept too but
/// counted as ignored.
const OBJECT_KINDS: [&str; 9] = [
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ServiceAccount",
    "NetworkPolicy",
    "Namespace",
    "Secret",
    "ConfigMap",
];

/// Reads every path (files, or directories walked recursively for `*.yaml`, `*.yml`,
/// `*.json`), in a stable order.
pub fn read_paths(paths: &[PathBuf]) -> Result<Inventory, InventoryError> {
    let mut files = Vec::new();
    for p in paths {
        files
            .extend(crate::files::collect_manifest_files(p).map_err(|(path, source)| InventoryError { path, source })?);
    }
    let mut reader = Reader::default();
    for (display, path) in files {
        let bytes = std::fs::read(&path).map_err(|source| InventoryError { path: path.clone(), source })?;
        reader.add_file(&display, &bytes);
    }
    Ok(reader.finish())
}

/// Reads in-memory documents: `(source name, content)` pairs.
pub fn read_sources<'a>(sources: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Inventory {
    let mut reader = Reader::default();
    for (name, bytes) in sources {
        reader.add_file(name, bytes);
    }
    reader.finish()
}

#[derive(Debug, Clone)]
struct Owner {
    kind: String,
    name: String,
    namespace: String,
}

#[derive(Default)]
struct Reader {
    inv: Inventory,
    hasher: Sha256,
    owners: Vec<Option<Owner>>,
}

impl Reader {
    fn add_file(&mut self, source: &str, bytes: &[u8]) {
        self.inv.files += 1;
        self.hasher.update(source.as_bytes());
        self.hasher.update([0]);
        self.hasher.update(Sha256::digest(bytes));
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                self.problem(source, 0, None, None, format!("not UTF-8 text: {e}"));
                return;
            }
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let trimmed = text.trim_start();
        if source.ends_with(".json") || trimmed.starts_with('{') || trimmed.starts_with('[') {
            self.add_json(source, text);
        } else {
            self.add_yaml(source, text);
        }
    }

    /// One JSON value, several concatenated ones (`kubectl ... -o json >> file`), or a
    /// top-level array of objects.
    fn add_json(&mut self, source: &str, text: &str) {
        for (i, value) in serde_json::Deserializer::from_str(text).into_iter::<Value>().enumerate() {
            let n = i + 1;
            self.inv.documents += 1;
            match value {
                Ok(Value::Array(items)) => {
                    for (j, it) in items.into_iter().enumerate() {
                        self.add_object(source, n, &format!("[{j}]"), it, None);
                    }
                }
                // Only the first value can be re-read from the text to locate a field error.
                Ok(v) => self.add_object(source, n, "", v, (i == 0).then_some(&Locator::Json(text))),
                Err(e) => {
                    let msg = format!("invalid JSON: {e} (the rest of the file was not read)");
                    self.problem(source, n, Some((e.line(), e.column())), None, msg);
                    break;
                }
            }
        }
    }

    fn add_yaml(&mut self, source: &str, text: &str) {
        for (i, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
            let n = i + 1;
            let mut yaml = match serde_yaml_ng::Value::deserialize(doc) {
                Ok(serde_yaml_ng::Value::Null) => continue,
                Ok(v) => v,
                Err(e) => {
                    self.inv.documents += 1;
                    let loc = e.location().map(|l| (l.line(), l.column()));
                    // After a syntax error the parser cannot find later documents.
                    self.problem(
                        source,
                        n,
                        loc,
                        None,
                        format!("invalid YAML: {e} (the rest of the file was not read)"),
                    );
                    break;
                }
            };
            self.inv.documents += 1;
            // `<<: *anchor` merge keys, as kubectl applies them.
            let converted = yaml
                .apply_merge()
                .map_err(|e| e.to_string())
                .and_then(|()| serde_json::to_value(&yaml).map_err(|e| e.to_string()));
            match converted {
                Ok(v) => self.add_object(source, n, "", v, Some(&Locator::Yaml(text, i))),
                Err(e) => self.problem(source, n, None, None, format!("unsupported YAML: {e}")),
            }
        }
    }

    fn add_object(&mut self, source: &str, doc: usize, item: &str, v: Value, loc: Option<&Locator<'_>>) {
        let at = |f: &str| if item.is_empty() { f.to_string() } else { format!("{item}.{f}") };
        let Value::Object(map) = &v else {
            self.problem(
                source,
                doc,
                None,
                (!item.is_empty()).then(|| item.to_string()),
                "expected a Kubernetes object (a mapping)".into(),
            );
            return;
        };
        let Some(kind) = map.get("kind").and_then(Value::as_str).map(str::to_string) else {
            self.problem(source, doc, None, Some(at("kind")), "missing or not a string".into());
            return;
        };
        if kind == "List" || (kind.ends_with("List") && map.contains_key("items")) {
            let items = match map.get("items") {
                Some(Value::Array(items)) => items.clone(),
                Some(Value::Null) | None => Vec::new(),
                Some(_) => {
                    self.problem(source, doc, None, Some(at("items")), "expected a list".into());
                    return;
                }
            };
            // Typed lists (PodList, DeploymentList from the raw API) leave `kind` off the items.
            let item_kind = kind.strip_suffix("List").filter(|k| !k.is_empty()).map(str::to_string);
            for (i, mut it) in items.into_iter().enumerate() {
                if let (Some(k), Value::Object(m)) = (&item_kind, &mut it)
                    && !m.contains_key("kind")
                {
                    m.insert("kind".into(), Value::String(k.clone()));
                }
                self.add_object(source, doc, &at(&format!("items[{i}]")), it, None);
            }
            return;
        }
        if !WORKLOAD_KINDS.contains(&kind.as_str()) {
            self.add_other(source, doc, item, kind, v);
            return;
        }
        let parsed = match kind.as_str() {
            "Pod" => parse::<PodObject>(&v)
                .map(|p| (p.metadata.clone(), PodTemplateSpec { metadata: p.metadata, spec: p.spec })),
            "CronJob" => parse::<CronJobObject>(&v).map(|c| (c.metadata, c.spec.job_template.spec.template)),
            "PodTemplate" => parse::<PodTemplateObject>(&v).map(|t| (t.metadata, t.template)),
            _ => parse::<ControllerObject>(&v).map(|c| (c.metadata, c.spec.template)),
        };
        let (meta, template) = match parsed {
            Ok(x) => x,
            Err((field, msg)) => {
                // Re-read the document straight from the text to find the line.
                let pos = loc.and_then(|l| l.locate(&kind));
                self.problem(source, doc, pos, Some(at(&field)), msg);
                return;
            }
        };
        let name = match meta.name.clone().filter(|n| !n.is_empty()) {
            Some(n) => n,
            None => match map.get("metadata").and_then(|m| m.get("generateName")).and_then(Value::as_str) {
                Some(g) => format!("{g}*"),
                None => {
                    self.problem(source, doc, None, Some(at("metadata.name")), "missing".into());
                    return;
                }
            },
        };
        if template.spec.containers.is_empty() {
            let field = if kind == "Pod" { "spec.containers" } else { "spec.template.spec.containers" };
            self.problem(
                source,
                doc,
                None,
                Some(at(field)),
                format!("{kind} {name} has no containers (a patch or partial manifest?); not evaluated"),
            );
            return;
        }
        let namespace = meta.namespace.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| "default".to_string());
        let image_digests = image_digests(&template.spec, &v);
        self.owners.push(controller_of(&v, &namespace));
        self.inv.workloads.push(Workload {
            source: source.to_string(),
            document: doc,
            item: item.to_string(),
            kind,
            name,
            namespace,
            template,
            image_digests,
            raw: v,
        });
    }

    fn add_other(&mut self, source: &str, doc: usize, item: &str, kind: String, mut v: Value) {
        if !OBJECT_KINDS.contains(&kind.as_str()) {
            *self.inv.ignored_kinds.entry(kind.clone()).or_default() += 1;
        }
        let meta = v.get("metadata");
        let text =
            |m: Option<&Value>, k: &str| m.and_then(|m| m.get(k)).and_then(Value::as_str).unwrap_or("").to_string();
        let (name, namespace) = (text(meta, "name"), text(meta, "namespace"));
        let api_version = v.get("apiVersion").and_then(Value::as_str).unwrap_or("").to_string();
        if kind == "Secret" {
            // Evidence must never hold secret values: keep the keys, drop the values.
            for field in ["data", "stringData"] {
                if let Some(Value::Object(m)) = v.get_mut(field) {
                    for val in m.values_mut() {
                        *val = Value::String(String::new());
                    }
                }
            }
        }
        self.inv.objects.push(KubeObject {
            source: source.to_string(),
            document: doc,
            item: item.to_string(),
            api_version,
            kind,
            namespace,
            name,
            raw: v,
        });
    }

    fn problem(
        &mut self,
        source: &str,
        document: usize,
        pos: Option<(usize, usize)>,
        field: Option<String>,
        message: String,
    ) {
        self.inv.problems.push(InventoryProblem {
            source: source.to_string(),
            document,
            line: pos.map(|p| p.0),
            column: pos.map(|p| p.1),
            field,
            message,
        });
    }

    fn finish(mut self) -> Inventory {
        self.inv.digest = format!("sha256:{}", hex::encode(std::mem::take(&mut self.hasher).finalize()));
        self.fold_into_controllers();
        // The same object twice (copied manifests, overlapping exports) is judged once.
        let mut first: BTreeMap<(String, String, String), (String, usize)> = BTreeMap::new();
        let mut duplicates = Vec::new();
        self.inv.workloads.retain(|w| {
            let id = (w.kind.clone(), w.namespace.clone(), w.name.clone());
            match first.get(&id) {
                Some((src, doc)) => {
                    duplicates.push(InventoryProblem {
                        source: w.source.clone(),
                        document: w.document,
                        line: None,
                        column: None,
                        field: None,
                        message: format!(
                            "duplicate {} {}/{} (first seen in {src} document {doc}); skipped",
                            w.kind, w.namespace, w.name
                        ),
                    });
                    false
                }
                None => {
                    first.insert(id, (w.source.clone(), w.document));
                    true
                }
            }
        });
        self.inv.problems.extend(duplicates);
        self.inv
    }
}

impl Reader {
    /// Folds objects whose controller is in the inventory into it (a Pod into its ReplicaSet,
    /// that into its Deployment), but only when the object runs exactly the controller's
    /// containers: pods with injected sidecars, ephemeral debug containers or an older
    /// revision's images are judged on their own. Image digests of folded pods move to the
    /// controller.
    fn fold_into_controllers(&mut self) {
        let ws = &self.inv.workloads;
        let index: BTreeMap<(&str, &str, &str), usize> =
            ws.iter().enumerate().map(|(i, w)| ((w.kind.as_str(), w.namespace.as_str(), w.name.as_str()), i)).collect();
        let containers = |w: &Workload| -> BTreeSet<(String, String)> {
            w.template.spec.all_containers().map(|c| (c.name.clone(), c.image.clone().unwrap_or_default())).collect()
        };
        let mut into: Vec<Option<usize>> = vec![None; ws.len()];
        for (i, owner) in self.owners.iter().enumerate() {
            if let Some(o) = owner
                && let Some(&j) = index.get(&(o.kind.as_str(), o.namespace.as_str(), o.name.as_str()))
                && j != i
                && containers(&ws[i]) == containers(&ws[j])
            {
                into[i] = Some(j);
            }
        }
        // Resolve chains to the surviving controller and carry digests up.
        let mut moved: Vec<(usize, BTreeMap<String, String>)> = Vec::new();
        for i in 0..ws.len() {
            let (mut target, mut hops) = (i, 0);
            while let Some(j) = into[target] {
                target = j;
                hops += 1;
                if hops > ws.len() {
                    break; // an ownership cycle: leave it alone
                }
            }
            if target != i && hops <= ws.len() {
                moved.push((target, ws[i].image_digests.clone()));
            } else {
                into[i] = None;
            }
        }
        for (target, digests) in moved {
            for (name, d) in digests {
                self.inv.workloads[target].image_digests.entry(name).or_insert(d);
            }
        }
        self.inv.folded = into.iter().filter(|t| t.is_some()).count();
        let mut keep = into.into_iter().map(|t| t.is_none());
        self.inv.workloads.retain(|_| keep.next().unwrap_or(true));
    }
}

/// Finds the line of a typed-decoding error by decoding the document again straight from text.
enum Locator<'a> {
    Json(&'a str),
    Yaml(&'a str, usize),
}

impl Locator<'_> {
    fn locate(&self, kind: &str) -> Option<(usize, usize)> {
        fn typed<'de, D: serde::Deserializer<'de>>(kind: &str, d: D) -> Result<(), D::Error> {
            match kind {
                "Pod" => PodObject::deserialize(d).map(drop),
                "CronJob" => CronJobObject::deserialize(d).map(drop),
                "PodTemplate" => PodTemplateObject::deserialize(d).map(drop),
                _ => ControllerObject::deserialize(d).map(drop),
            }
        }
        match self {
            Locator::Json(text) => {
                let mut de = serde_json::Deserializer::from_str(text);
                typed(kind, &mut de).err().map(|e| (e.line(), e.column()))
            }
            Locator::Yaml(text, index) => {
                let doc = serde_yaml_ng::Deserializer::from_str(text).nth(*index)?;
                typed(kind, doc).err().and_then(|e| e.location()).map(|l| (l.line(), l.column()))
            }
        }
    }
}

fn parse<T: DeserializeOwned>(v: &Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        (path, e.into_inner().to_string())
    })
}

#[derive(Deserialize)]
struct PodObject {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: PodSpec,
}

#[derive(Deserialize)]
struct ControllerObject {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: ControllerSpec,
}

#[derive(Deserialize, Default)]
struct ControllerSpec {
    #[serde(default)]
    template: PodTemplateSpec,
}

#[derive(Deserialize)]
struct CronJobObject {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: CronJobSpec,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct CronJobSpec {
    #[serde(default)]
    job_template: JobTemplate,
}

#[derive(Deserialize, Default)]
struct JobTemplate {
    #[serde(default)]
    spec: ControllerSpec,
}

#[derive(Deserialize)]
struct PodTemplateObject {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    template: PodTemplateSpec,
}

fn controller_of(v: &Value, namespace: &str) -> Option<Owner> {
    let refs = v.get("metadata")?.get("ownerReferences")?.as_array()?;
    refs.iter().find(|r| r.get("controller").and_then(Value::as_bool) == Some(true)).and_then(|r| {
        Some(Owner {
            kind: r.get("kind")?.as_str()?.to_string(),
            name: r.get("name")?.as_str()?.to_string(),
            namespace: namespace.to_string(),
        })
    })
}

/// `sha256:<64 hex>` at the end of an image reference or image ID, if any.
pub fn digest_of(reference: &str) -> Option<String> {
    let (_, d) = reference.rsplit_once("sha256:")?;
    (d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit())).then(|| format!("sha256:{}", d.to_ascii_lowercase()))
}

fn image_digests(spec: &PodSpec, v: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for c in spec.all_containers() {
        if let Some(d) = c.image.as_deref().filter(|i| i.contains('@')).and_then(digest_of) {
            out.insert(c.name.clone(), d);
        }
    }
    // Pods report what actually runs in status.*containerStatuses[].imageID.
    if let Some(status) = v.get("status") {
        for key in ["initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"] {
            for s in status.get(key).and_then(Value::as_array).into_iter().flatten() {
                let name = s.get("name").and_then(Value::as_str);
                let id = s.get("imageID").and_then(Value::as_str).filter(|i| i.contains('@'));
                if let (Some(name), Some(d)) = (name, id.and_then(digest_of)) {
                    out.entry(name.to_string()).or_insert(d);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
