//! [`ImagePolicySet`]: every policy loaded from files and directories, ready to judge images.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tarn_model::Status;

use super::compile::{CompiledPolicy, ConfigMaps, SYSTEM_NAMESPACE};
use super::config::{CONFIG_MAP_NAME, NoMatchPolicy, PolicyControllerConfig, scalar};
use super::evaluate::{PolicyVerdict, Resource};
use super::parse::parse_policy;
use super::source::{Document, locate, split_documents};
use super::verifier::SignatureVerifier;

/// Control id of the verdict for an image no policy matches.
pub const NO_MATCH_CONTROL: &str = "no-matching-policy";

/// A document that could not be used, or a policy kept with parts that cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    pub source: String,
    /// 1-based document number; 0 for the file as a whole.
    pub document: usize,
    pub line: Option<usize>,
    /// `metadata.name` of the policy, when known.
    pub name: Option<String>,
    /// Field path (`spec.authorities[0].key.data`).
    pub field: Option<String>,
    pub message: String,
    /// The policy was loaded anyway (its unsupported parts evaluate to `error`).
    pub kept: bool,
}

impl fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if self.document > 0 {
            write!(f, ": document {}", self.document)?;
        }
        if let Some(n) = &self.name {
            write!(f, ": ClusterImagePolicy {n}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field {field}")?;
        }
        write!(f, ": {}", self.message)?;
        if self.kept {
            f.write_str(" (policy kept)")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyProblem {}

/// A path that could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot read policies {path}: {source}")]
pub struct PolicyLoadError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Validated, compiled `ClusterImagePolicy` objects plus the settings and trust roots found
/// beside them.
#[derive(Debug, Clone, Default)]
pub struct ImagePolicySet {
    policies: Vec<CompiledPolicy>,
    pub problems: Vec<PolicyProblem>,
    /// From a `config-policy-controller` ConfigMap among the files, an explicit override, or
    /// upstream's defaults.
    pub config: PolicyControllerConfig,
    /// `TrustRoot` objects by name, for verifiers resolving `trustRootRef`.
    pub trust_roots: BTreeMap<String, Value>,
    /// Kinds present but not used, with counts.
    pub ignored_kinds: BTreeMap<String, usize>,
    pub files: usize,
    pub documents: usize,
    digest: String,
}

impl ImagePolicySet {
    /// Reads files, or directories walked recursively for `*.yaml`, `*.yml`, `*.json`.
    pub fn load(paths: &[PathBuf]) -> Result<Self, PolicyLoadError> {
        Self::load_with_config(paths, None)
    }

    /// As [`ImagePolicySet::load`], with settings that override any ConfigMap in the files.
    pub fn load_with_config(
        paths: &[PathBuf],
        config: Option<PolicyControllerConfig>,
    ) -> Result<Self, PolicyLoadError> {
        let mut files = Vec::new();
        for p in paths {
            files.extend(
                crate::files::collect_manifest_files(p).map_err(|(path, source)| PolicyLoadError { path, source })?,
            );
        }
        let mut contents = Vec::with_capacity(files.len());
        for (name, path) in files {
            let bytes = std::fs::read(&path).map_err(|source| PolicyLoadError { path, source })?;
            contents.push((name, bytes));
        }
        Ok(Self::from_sources_with_config(contents.iter().map(|(n, b)| (n.as_str(), b.as_slice())), config))
    }

    /// Reads in-memory files: `(source name, content)` pairs.
    pub fn from_sources<'a>(sources: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Self {
        Self::from_sources_with_config(sources, None)
    }

    pub fn from_sources_with_config<'a>(
        sources: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        config: Option<PolicyControllerConfig>,
    ) -> Self {
        let mut set = Self::default();
        let mut pending: Vec<(Document, Value)> = Vec::new();
        let mut config_maps = ConfigMaps::new();
        let mut found_config = None;
        for (name, bytes) in sources {
            set.files += 1;
            let (docs, problems) = split_documents(name, bytes);
            set.problems.extend(problems);
            for (doc, value) in docs {
                set.documents += 1;
                let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
                let meta = |k: &str| value.pointer(&format!("/metadata/{k}")).and_then(Value::as_str).unwrap_or("");
                match kind {
                    "ClusterImagePolicy" => pending.push((doc, value)),
                    "ConfigMap" if meta("name") == CONFIG_MAP_NAME => {
                        match (PolicyControllerConfig::from_config_map(&value), &found_config) {
                            (Ok(c), None) => {
                                found_config = Some((c, format!("{} document {}", doc.source, doc.number)))
                            }
                            (Ok(_), Some((_, first))) => {
                                let msg = format!("another {CONFIG_MAP_NAME} ConfigMap; the first ({first}) is used");
                                set.problems.push(doc.problem(None, None, msg));
                            }
                            (Err(e), _) => set.problems.push(doc.problem(None, Some("data".into()), e)),
                        }
                    }
                    "ConfigMap" => {
                        let ns = if meta("namespace").is_empty() { SYSTEM_NAMESPACE } else { meta("namespace") };
                        let data = value.get("data").and_then(Value::as_object).map(|m| {
                            m.iter().filter_map(|(k, v)| Some((k.clone(), scalar(v)?))).collect::<BTreeMap<_, _>>()
                        });
                        config_maps.insert((ns.to_string(), meta("name").to_string()), data.unwrap_or_default());
                    }
                    "TrustRoot" => {
                        set.trust_roots.insert(meta("name").to_string(), value.clone());
                    }
                    "" => set.problems.push(doc.problem(None, Some("kind".into()), "missing or not a string".into())),
                    other => *set.ignored_kinds.entry(other.to_string()).or_default() += 1,
                }
            }
        }
        set.config = config.or(found_config.map(|(c, _)| c)).unwrap_or_default();
        let opts = set.config.validation();
        let mut seen: BTreeMap<String, (String, usize)> = BTreeMap::new();
        for (doc, value) in pending {
            let name = value.pointer("/metadata/name").and_then(Value::as_str).map(str::to_string);
            match parse_policy(&value, opts) {
                Err(rejection) => {
                    let field = rejection.field();
                    let mut p = doc.problem(name, field.clone(), rejection.to_string());
                    p.line = field.and_then(|f| locate(&doc, &f)).or(p.line);
                    set.problems.push(p);
                }
                Ok(policy) => {
                    if let Some((src, n)) = seen.get(&policy.name) {
                        let msg = format!("duplicate ClusterImagePolicy name (first in {src} document {n}); skipped");
                        set.problems.push(doc.problem(Some(policy.name.clone()), None, msg));
                        continue;
                    }
                    seen.insert(policy.name.clone(), (doc.source.clone(), doc.number));
                    let compiled = CompiledPolicy::compile(policy, &doc.source, doc.number, &config_maps);
                    for why in compiled.unsupported() {
                        let mut p = doc.problem(Some(compiled.name().to_string()), None, why.to_string());
                        p.kept = true;
                        set.problems.push(p);
                    }
                    set.policies.push(compiled);
                }
            }
        }
        set.policies.sort_by(|a, b| a.name().cmp(b.name()));
        set.digest = digest(&set, &config_maps);
        set
    }

    pub fn policies(&self) -> &[CompiledPolicy] {
        &self.policies
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    pub fn len(&self) -> usize {
        self.policies.len()
    }

    /// `sha256:<hex>` over the policies, their referenced ConfigMaps, trust roots and settings.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Short form of [`ImagePolicySet::digest`] used as the framework version of result rows.
    pub fn version(&self) -> String {
        self.digest.get(..19).unwrap_or(&self.digest).to_string()
    }

    /// Policies whose globs match `image` and whose `match` selects `resource`.
    pub fn matching<'s>(
        &'s self,
        image: &'s str,
        resource: &'s Resource<'_>,
    ) -> impl Iterator<Item = &'s CompiledPolicy> {
        self.policies.iter().filter(move |p| p.selects(resource) && p.matches_image(image))
    }

    /// Every matching policy's verdict (all must pass); when none matches, the
    /// `no-match-policy` verdict (none for `allow`).
    pub fn evaluate(
        &self,
        image: &str,
        digest: Option<&str>,
        resource: &Resource<'_>,
        verifier: &dyn SignatureVerifier,
    ) -> Vec<PolicyVerdict> {
        let verdicts: Vec<PolicyVerdict> =
            self.matching(image, resource).map(|p| p.evaluate(image, digest, resource, verifier)).collect();
        if !verdicts.is_empty() {
            return verdicts;
        }
        self.no_match_verdict(image).into_iter().collect()
    }

    /// The verdict for an image no policy matches, per `no-match-policy`.
    pub fn no_match_verdict(&self, image: &str) -> Option<PolicyVerdict> {
        let status = match self.config.no_match_policy {
            NoMatchPolicy::Allow => return None,
            NoMatchPolicy::Deny => Status::Fail,
            NoMatchPolicy::Warn => Status::Warn,
        };
        Some(PolicyVerdict {
            policy: NO_MATCH_CONTROL.to_string(),
            status,
            message: format!("no matching policies: {image} (no-match-policy: {})", self.config.no_match_policy),
            authorities: Vec::new(),
        })
    }
}

fn digest(set: &ImagePolicySet, config_maps: &ConfigMaps) -> String {
    let mut h = Sha256::new();
    h.update(format!("tarn-eval imagepolicy v1\n{:?}\n", set.config));
    for p in &set.policies {
        h.update(p.name().as_bytes());
        h.update([0]);
        h.update(serde_json::to_vec(&p.policy.spec).unwrap_or_default());
        h.update([0]);
    }
    h.update(serde_json::to_vec(config_maps.iter().collect::<Vec<_>>().as_slice()).unwrap_or_default());
    h.update(serde_json::to_vec(&set.trust_roots).unwrap_or_default());
    format!("sha256:{}", hex::encode(h.finalize()))
}
