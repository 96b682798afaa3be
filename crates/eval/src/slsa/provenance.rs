//! SLSA provenance statements (v0.2 and v1; v0.1 is Cloud Build's, see [`super::gcb`]) read
//! the way slsa-verifier reads them: where each builder family records its builder, source,
//! trigger, ref and workflow inputs.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::builders::{self, bt};
use super::error::{ErrorKind, VerifyError, err};
use super::refs::{parse_git_ref, parse_git_uri_and_ref};

pub const PROVENANCE_V01: &str = "https://slsa.dev/provenance/v0.1";
pub const PROVENANCE_V02: &str = "https://slsa.dev/provenance/v0.2";
pub const PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
pub const STATEMENT_TYPES: [&str; 2] = ["https://in-toto.io/Statement/v0.1", "https://in-toto.io/Statement/v1"];

/// A statement subject: its name and its digests (algorithm → lowercase hex).
pub type Subject = (String, BTreeMap<String, String>);

/// Where a builder family keeps its claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Cloud Build's v0.1: `recipe`, substitutions.
    V01Gcb,
    /// v0.2, `invocation.environment` with lowercase `github_*` keys (generic/Go generators).
    V02Legacy,
    /// v0.2 with uppercase `GITHUB_*` keys (npm CLI).
    V02Upper,
    /// v0.2 from a BYOB delegator: refs come from the source material.
    V02Byob,
    /// v1 from a BYOB delegator or the container-based builder.
    V1Byob,
    /// v1 GitHub workflow build types (npm CLI, `actions/attest-build-provenance`): the trigger
    /// is `externalParameters.workflow`.
    V1Workflow,
    /// Any other v1 provenance.
    V1Base,
}

/// A decoded in-toto statement carrying SLSA provenance.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    pub statement: Value,
    pub predicate_type: String,
    pub layout: Layout,
}

fn payload_json(payload: &[u8]) -> Result<Value, VerifyError> {
    let v: Value =
        serde_json::from_slice(payload).map_err(|e| VerifyError::new(ErrorKind::InvalidDssePayload, e.to_string()))?;
    if !v.is_object() {
        return err(ErrorKind::InvalidDssePayload, "statement is not an object");
    }
    Ok(v)
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

impl Provenance {
    /// Reads any v0.2/v1 provenance, choosing the layout from its build type alone.
    pub fn parse(payload: &[u8]) -> Result<Self, VerifyError> {
        let statement = payload_json(payload)?;
        let predicate_type = str_at(&statement, "/predicateType").to_string();
        let build_type = match predicate_type.as_str() {
            PROVENANCE_V01 => str_at(&statement, "/predicate/recipe/type"),
            PROVENANCE_V02 => str_at(&statement, "/predicate/buildType"),
            PROVENANCE_V1 => str_at(&statement, "/predicate/buildDefinition/buildType"),
            other => return err(ErrorKind::InvalidDssePayload, format!("unexpected predicate type {other:?}")),
        };
        let layout = match (predicate_type.as_str(), build_type) {
            (PROVENANCE_V01, _) => Layout::V01Gcb,
            (PROVENANCE_V02, bt::BYOB_V0) => Layout::V02Byob,
            (PROVENANCE_V02, b) if bt::NPM_CLI.contains(&b) => Layout::V02Upper,
            (PROVENANCE_V02, _) => Layout::V02Legacy,
            (_, bt::BYOB_V0 | bt::CONTAINER_BASED_V01) => Layout::V1Byob,
            (_, bt::GHA_WORKFLOW_V1 | bt::GITHUB_ATTEST_V1) => Layout::V1Workflow,
            _ => Layout::V1Base,
        };
        Ok(Self { statement, predicate_type, layout })
    }

    /// Reads provenance from the builder `builder_name` (a verified identity), which must be
    /// one slsa-verifier knows for this predicate type, with a build type it produces.
    pub fn for_builder(builder_name: &str, payload: &[u8]) -> Result<Self, VerifyError> {
        let p = Self::parse(payload)?;
        let v1 = p.predicate_type == PROVENANCE_V1;
        let Some(types) = builders::build_types_of(builder_name, v1) else {
            return err(ErrorKind::InvalidBuilderId, format!("{builder_name:?}"));
        };
        let build_type = p.build_type();
        if !types.contains(&build_type) {
            return err(ErrorKind::InvalidBuildType, format!("{build_type:?} for builder ID {builder_name:?}"));
        }
        Ok(p)
    }

    pub fn is_v1(&self) -> bool {
        self.predicate_type == PROVENANCE_V1
    }

    pub fn statement_type(&self) -> &str {
        str_at(&self.statement, "/_type")
    }

    pub fn builder_id(&self) -> &str {
        if self.is_v1() {
            str_at(&self.statement, "/predicate/runDetails/builder/id")
        } else {
            str_at(&self.statement, "/predicate/builder/id")
        }
    }

    pub fn build_type(&self) -> &str {
        if self.is_v1() {
            str_at(&self.statement, "/predicate/buildDefinition/buildType")
        } else if self.layout == Layout::V01Gcb {
            str_at(&self.statement, "/predicate/recipe/type")
        } else {
            str_at(&self.statement, "/predicate/buildType")
        }
    }

    /// `(name, algorithm → digest)` of every subject; at least one.
    pub fn subjects(&self) -> Result<Vec<Subject>, VerifyError> {
        let subjects = subjects_of(&self.statement);
        if subjects.is_empty() {
            return err(ErrorKind::InvalidDssePayload, "no subjects");
        }
        Ok(subjects)
    }

    /// The first material (v0.2) or resolved dependency (v1): the source, with its ref.
    pub fn source_uri(&self) -> Result<String, VerifyError> {
        let list =
            if self.is_v1() { "/predicate/buildDefinition/resolvedDependencies" } else { "/predicate/materials" };
        let Some(first) = self.statement.pointer(list).and_then(Value::as_array).and_then(|a| a.first()) else {
            return err(ErrorKind::InvalidDssePayload, "no material");
        };
        match first.get("uri").and_then(Value::as_str) {
            Some(u) if !u.is_empty() => Ok(u.to_string()),
            _ => err(ErrorKind::MalformedUri, "empty uri"),
        }
    }

    /// The repository and ref whose workflow triggered the build, as a `git+…@ref` URI.
    pub fn trigger_uri(&self) -> Result<String, VerifyError> {
        match self.layout {
            Layout::V01Gcb => err(ErrorKind::NotSupported, "Cloud Build provenance names no trigger"),
            Layout::V02Legacy | Layout::V02Upper | Layout::V02Byob => {
                match str_at(&self.statement, "/predicate/invocation/configSource/uri") {
                    "" => err(ErrorKind::MalformedUri, "empty uri"),
                    u => Ok(u.to_string()),
                }
            }
            Layout::V1Workflow => {
                let w = self.statement.pointer("/predicate/buildDefinition/externalParameters/workflow");
                let field = |k: &str| w.and_then(|w| w.get(k)).and_then(Value::as_str);
                match (field("repository"), field("ref")) {
                    (Some(repo), Some(r)) => Ok(format!("git+{repo}@{r}")),
                    _ => err(ErrorKind::InvalidFormat, "workflow parameters: repository or ref"),
                }
            }
            Layout::V1Byob | Layout::V1Base => {
                let env = self.env()?;
                if !env.contains_key("GITHUB_WORKFLOW_REF") {
                    return err(ErrorKind::NotPresent, "GITHUB_WORKFLOW_REF");
                }
                let workflow_ref = get_str(&env, "GITHUB_WORKFLOW_REF")?;
                let Some((repo_and_path, r)) = workflow_ref.split_once('@').filter(|(_, r)| !r.contains('@')) else {
                    return err(ErrorKind::InvalidFormat, format!("ref: {workflow_ref}"));
                };
                let parts: Vec<&str> = repo_and_path.split('/').collect();
                if parts.len() < 2 || parts[0].is_empty() || r.is_empty() {
                    return err(ErrorKind::MalformedUri, "repository or ref is empty");
                }
                Ok(format!("git+https://github.com/{}/{}@{r}", parts[0], parts[1]))
            }
        }
    }

    /// The GitHub context: `invocation.environment` (v0.2) or `internalParameters` (v1).
    pub fn env(&self) -> Result<Map<String, Value>, VerifyError> {
        let p = if self.is_v1() {
            "/predicate/buildDefinition/internalParameters"
        } else {
            "/predicate/invocation/environment"
        };
        match self.statement.pointer(p) {
            Some(Value::Object(m)) => Ok(m.clone()),
            _ => err(ErrorKind::InvalidDssePayload, "parameters type"),
        }
    }

    fn upper(&self) -> bool {
        !matches!(self.layout, Layout::V02Legacy)
    }

    /// The full ref (`refs/heads/main`) of the branch the build ran on; empty when unknown
    /// (a build from a tag whose event records no branch).
    pub fn branch(&self) -> Result<String, VerifyError> {
        if self.layout == Layout::V01Gcb {
            return err(ErrorKind::NotSupported, "branch verification");
        }
        if matches!(self.layout, Layout::V02Byob | Layout::V1Byob)
            && let Ok(src) = self.source_uri()
        {
            let (_, r) = parse_git_uri_and_ref(&src)?;
            return match parse_git_ref(r).0 {
                "heads" => Ok(r.to_string()),
                "tags" => get_branch(&self.env()?, true),
                _ => err(ErrorKind::InvalidDssePayload, format!("unknown ref type for ref {r:?}")),
            };
        }
        get_branch(&self.env()?, self.upper())
    }

    /// The full ref (`refs/tags/v1.2.3`) of the tag the build ran on; empty for a branch.
    pub fn tag(&self) -> Result<String, VerifyError> {
        if self.layout == Layout::V01Gcb {
            let t = str_at(&self.statement, "/predicate/recipe/arguments/substitutions/TAG_NAME");
            return Ok(if t.is_empty() { String::new() } else { format!("refs/tags/{t}") });
        }
        if matches!(self.layout, Layout::V02Byob | Layout::V1Byob)
            && let Ok(src) = self.source_uri()
        {
            let (_, r) = parse_git_uri_and_ref(&src)?;
            return match parse_git_ref(r).0 {
                "heads" => Ok(String::new()),
                "tags" => Ok(r.to_string()),
                _ => err(ErrorKind::InvalidDssePayload, format!("unknown ref type for ref {r:?}")),
            };
        }
        get_tag(&self.env()?, self.upper())
    }

    /// `workflow_dispatch` inputs.
    pub fn workflow_inputs(&self) -> Result<Map<String, Value>, VerifyError> {
        let env = self.env()?;
        let upper = self.upper();
        let trigger = get_str(&env, &key("github_event_name", upper))?;
        if trigger != "workflow_dispatch" {
            return err(
                ErrorKind::MismatchWorkflowInputs,
                format!("expected 'workflow_dispatch' trigger, got {trigger}"),
            );
        }
        match event_payload(&env, upper)?.get("inputs") {
            Some(Value::Object(m)) => Ok(m.clone()),
            Some(_) => err(ErrorKind::InvalidDssePayload, "parameters type inputs"),
            None => err(ErrorKind::InvalidDssePayload, "no 'inputs'"),
        }
    }
}

/// `(name, digest set)` of each subject of a statement.
pub fn subjects_of(statement: &Value) -> Vec<Subject> {
    let Some(list) = statement.get("subject").and_then(Value::as_array) else { return Vec::new() };
    list.iter()
        .map(|s| {
            let digests = s
                .get("digest")
                .and_then(Value::as_object)
                .map(|d| d.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
                .unwrap_or_default();
            (str_at(s, "/name").to_string(), digests)
        })
        .collect()
}

fn key(k: &str, upper: bool) -> String {
    if upper { k.to_ascii_uppercase() } else { k.to_string() }
}

/// A string field of the GitHub context.
pub fn get_str(env: &Map<String, Value>, field: &str) -> Result<String, VerifyError> {
    match env.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => err(ErrorKind::InvalidDssePayload, format!("environment type string {field:?}")),
        None => err(ErrorKind::InvalidDssePayload, format!("environment type for {field}")),
    }
}

fn event_payload(env: &Map<String, Value>, upper: bool) -> Result<Map<String, Value>, VerifyError> {
    match env.get(&key("github_event_payload", upper)) {
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => err(ErrorKind::InvalidDssePayload, "parameters type payload"),
        None => err(ErrorKind::InvalidDssePayload, "parameters type event payload"),
    }
}

fn get_tag(env: &Map<String, Value>, upper: bool) -> Result<String, VerifyError> {
    match get_str(env, &key("github_ref_type", upper))?.as_str() {
        "branch" => Ok(String::new()),
        "tag" => get_str(env, &key("github_ref", upper)),
        other => err(ErrorKind::InvalidDssePayload, format!("unknown ref type {other:?}")),
    }
}

fn get_branch(env: &Map<String, Value>, upper: bool) -> Result<String, VerifyError> {
    match get_str(env, &key("github_ref_type", upper))?.as_str() {
        "branch" => get_str(env, &key("github_ref", upper)),
        "tag" => branch_for_tag(env, upper),
        other => err(ErrorKind::InvalidDssePayload, format!("unknown ref type {other:?}")),
    }
}

/// A tag build's branch: `github_base_ref`, else the push event's `base_ref`, else a release's
/// `target_commitish`.
fn branch_for_tag(env: &Map<String, Value>, upper: bool) -> Result<String, VerifyError> {
    let base_ref = get_str(env, &key("github_base_ref", upper))?;
    if !base_ref.is_empty() {
        return Ok(base_ref);
    }
    let event = get_str(env, &key("github_event_name", upper))?;
    let payload = event_payload(env, upper)?;
    match event.as_str() {
        "push" => match payload.get("base_ref") {
            None => err(ErrorKind::InvalidDssePayload, "environment type for base_ref"),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Ok(String::new()),
        },
        "release" => {
            let release = payload.get("release").and_then(Value::as_object);
            let Some(release) = release else {
                return err(ErrorKind::InvalidDssePayload, "release absent from payload");
            };
            Ok(format!("refs/heads/{}", get_str(release, "target_commitish")?))
        }
        _ => Ok(String::new()),
    }
}
