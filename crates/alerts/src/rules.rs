//! Alert rules and sinks: the YAML file, parsed and validated. Every error names the file, and
//! the line and column (syntax and type errors come from the parser; cross-checks find the line of
//! the rule or sink they concern).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tarn_model::{GroupPath, Severity, glob_match};

/// A problem in a rules file, with its location.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct RulesError {
    pub file: String,
    pub message: String,
}

/// A duration written like `90s`, `5m`, `1h 30m`, `7d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Dur(pub Duration);

impl TryFrom<String> for Dur {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let d = humantime::parse_duration(s.trim())
            .map_err(|e| format!("{s:?} is not a duration like 90s, 5m, 1h or 7d: {e}"))?;
        if d > Duration::from_secs(10 * 366 * 86400) {
            return Err(format!("{s:?}: at most 10 years"));
        }
        Ok(Dur(d))
    }
}

/// A name usable in object keys and as a CloudEvents extension value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct Name(pub String);

impl TryFrom<String> for Name {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.len() <= 63
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && s.as_bytes()[0].is_ascii_alphanumeric();
        if ok { Ok(Name(s)) } else { Err(format!("{s:?}: use 1-63 lower-case letters, digits, '-' or '_'")) }
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    sinks: Vec<SinkSpec>,
    #[serde(default)]
    defaults: Defaults,
    rules: Vec<RuleSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    skip_existing: Option<bool>,
    cooldown: Option<Dur>,
    dedup_window: Option<Dur>,
    sinks: Option<Vec<Name>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    /// CloudEvents over HTTP.
    Webhook,
    /// A Slack incoming webhook (Slack's message format, not CloudEvents).
    Slack,
    /// Structured-mode events, one JSON object per line, appended to a file (`-`: stdout).
    File,
}

/// CloudEvents HTTP content mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Attributes in `ce-*` headers, the data as the body.
    #[default]
    Binary,
    /// The whole event as `application/cloudevents+json`.
    Structured,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SinkSpec {
    name: Name,
    #[serde(rename = "type")]
    kind: SinkKind,
    url: Option<String>,
    url_env: Option<String>,
    #[serde(default)]
    mode: Mode,
    bearer_token_env: Option<String>,
    hmac_secret_env: Option<String>,
    path: Option<PathBuf>,
    timeout: Option<Dur>,
    #[serde(default)]
    retry: RetrySpec,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetrySpec {
    attempts: Option<u32>,
    initial_backoff: Option<Dur>,
    max_backoff: Option<Dur>,
}

/// Retries: exponential backoff with jitter, then a dead-letter record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        // 12 attempts: about 1.4 hours of retrying (1 s doubling to 5 min) before a dead letter.
        Self { attempts: 12, initial_backoff: Duration::from_secs(1), max_backoff: Duration::from_secs(300) }
    }
}

impl RetryPolicy {
    /// The wait before attempt `n + 1` (n ≥ 1 attempts made): `initial × 2^(n-1)`, capped,
    /// times a jitter factor in [0.5, 1).
    pub fn backoff(&self, n: u32, jitter: f64) -> Duration {
        let exp = self.initial_backoff.saturating_mul(1u32 << (n.saturating_sub(1)).min(20));
        exp.min(self.max_backoff).mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

/// A validated sink. Secrets are named by environment variable and read when sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sink {
    pub name: String,
    pub kind: SinkKind,
    /// Webhook and Slack: the URL, or the variable holding it.
    pub url: Option<Target>,
    pub mode: Mode,
    pub bearer_token_env: Option<String>,
    pub hmac_secret_env: Option<String>,
    pub path: Option<PathBuf>,
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Url(String),
    Env(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeSpec {
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    clusters: Vec<String>,
    #[serde(default)]
    namespaces: Vec<String>,
    #[serde(default)]
    exclude_namespaces: Vec<String>,
}

/// Which clusters and namespaces a rule looks at. Empty lists admit everything; groups admit
/// their subgroups (bindings inherit downward).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub groups: Vec<GroupPath>,
    pub clusters: Vec<String>,
    pub namespaces: Vec<String>,
    pub exclude_namespaces: Vec<String>,
}

impl Scope {
    pub fn admits_cluster(&self, cluster: &str, group: &GroupPath) -> bool {
        (self.groups.is_empty() || self.groups.iter().any(|g| group.is_within(g)))
            && (self.clusters.is_empty() || self.clusters.iter().any(|p| glob_match(p, cluster)))
    }

    pub fn admits_namespace(&self, ns: &str) -> bool {
        (self.namespaces.is_empty() || self.namespaces.iter().any(|p| glob_match(p, ns)))
            && !self.exclude_namespaces.iter().any(|p| glob_match(p, ns))
    }

    /// `fleet`, or the parts that narrow it.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.groups.is_empty() {
            parts.push(format!("groups {}", self.groups.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(",")));
        }
        if !self.clusters.is_empty() {
            parts.push(format!("clusters {}", self.clusters.join(",")));
        }
        if !self.namespaces.is_empty() {
            parts.push(format!("namespaces {}", self.namespaces.join(",")));
        }
        if !self.exclude_namespaces.is_empty() {
            parts.push(format!("not namespaces {}", self.exclude_namespaces.join(",")));
        }
        if parts.is_empty() { "fleet".into() } else { parts.join("; ") }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// pass (or warn/skip) → fail or error.
    Degraded,
    /// A failing (workload, control) that was not there before.
    New,
    /// fail or error → pass, or the failing pair is gone.
    Improved,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Degraded => "degraded",
            Change::New => "new",
            Change::Improved => "improved",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransitionSpec {
    #[serde(default = "default_changes")]
    on: Vec<Change>,
}

fn default_changes() -> Vec<Change> {
    vec![Change::Degraded, Change::New]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdSpec {
    framework: String,
    below: Option<f64>,
    drop: Option<f64>,
    within: Option<Dur>,
    #[serde(default)]
    per: Per,
}

/// What a threshold scores: each cluster, or the rule's scope as a whole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Per {
    #[default]
    Cluster,
    Scope,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StalenessSpec {
    interval: Dur,
    #[serde(default = "default_missed")]
    missed: u32,
}

fn default_missed() -> u32 {
    3
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomSpec {
    query: Option<String>,
    file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
enum ConditionSpec {
    Transition(TransitionSpec),
    Threshold(ThresholdSpec),
    Staleness(StalenessSpec),
    Custom(CustomSpec),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    name: Name,
    #[serde(default)]
    description: String,
    #[serde(default)]
    scope: ScopeSpec,
    #[serde(default)]
    frameworks: Vec<String>,
    #[serde(default)]
    controls: Vec<String>,
    min_severity: Option<Severity>,
    severity: Option<Severity>,
    #[serde(with = "serde_yaml_ng::with::singleton_map")]
    condition: ConditionSpec,
    cooldown: Option<Dur>,
    dedup_window: Option<Dur>,
    skip_existing: Option<bool>,
    sinks: Option<Vec<Name>>,
}

/// What makes a rule fire.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Transition {
        on: Vec<Change>,
    },
    /// Compliance % of the framework in a cluster below `below`, or down by more than `drop`
    /// points from the best value within `within`. Fires when the condition starts to hold.
    Threshold {
        framework: String,
        below: Option<f64>,
        drop: Option<(f64, Duration)>,
        /// `per: scope`: the score of the rule's scope as a whole (`compliance_at` scope:
        /// `""` for the fleet or a group path) instead of each cluster's.
        whole_scope: Option<String>,
    },
    /// No snapshot for `missed × interval`.
    Staleness {
        interval: Duration,
        missed: u32,
    },
    /// Rows from the query mean firing; fires when the row set changes to a non-empty one.
    Custom {
        query: tarn_query::named::NamedQuery,
    },
}

impl Condition {
    pub fn kind(&self) -> &'static str {
        match self {
            Condition::Transition { .. } => "transition",
            Condition::Threshold { .. } => "threshold",
            Condition::Staleness { .. } => "staleness",
            Condition::Custom { .. } => "custom",
        }
    }

    /// CloudEvents `type` of the events this condition emits.
    pub fn event_type(&self) -> &'static str {
        match self {
            Condition::Transition { .. } => "dev.tarn.posture.changed.v1",
            Condition::Threshold { .. } => "dev.tarn.compliance.threshold.v1",
            Condition::Staleness { .. } => "dev.tarn.cluster.stale.v1",
            Condition::Custom { .. } => "dev.tarn.query.fired.v1",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Condition::Transition { on } => {
                format!("transition on {}", on.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(","))
            }
            Condition::Threshold { framework, below, drop, whole_scope } => {
                let mut p = Vec::new();
                if let Some(s) = whole_scope {
                    p.push(format!("{} as a whole:", if s.is_empty() { "fleet" } else { s.as_str() }));
                }
                if let Some(b) = below {
                    p.push(format!("{framework} below {b}%"));
                }
                if let Some((d, w)) = drop {
                    p.push(format!("{framework} drops > {d} points within {}", humantime::format_duration(*w)));
                }
                p.join(" or ").replacen(": or ", ": ", 1)
            }
            Condition::Staleness { interval, missed } => {
                format!("no snapshot for {missed} × {}", humantime::format_duration(*interval))
            }
            Condition::Custom { query } => format!("query {} returns rows", query.name),
        }
    }
}

/// Parameters a custom query may declare; Tarn fills them per evaluated snapshot.
pub const CUSTOM_PARAMS: &[&str] = &["cluster", "group", "snapshot_id", "at"];

/// A validated rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub description: String,
    pub scope: Scope,
    pub frameworks: Vec<String>,
    pub controls: Vec<String>,
    pub min_severity: Option<Severity>,
    /// Severity of the events; transition events default to their worst finding's.
    pub severity: Option<Severity>,
    pub condition: Condition,
    pub cooldown: Duration,
    pub dedup_window: Duration,
    pub skip_existing: bool,
    pub sinks: Vec<String>,
}

impl Rule {
    /// Does a finding of this framework, control and severity concern the rule?
    pub fn admits_finding(&self, framework: &str, control: &str, severity: Severity) -> bool {
        (self.frameworks.is_empty() || self.frameworks.iter().any(|f| glob_match(f, framework)))
            && (self.controls.is_empty() || self.controls.iter().any(|c| glob_match(c, control)))
            && self.min_severity.is_none_or(|m| severity >= m)
    }
}

/// A validated rules file.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSet {
    pub file: String,
    pub rules: Vec<Rule>,
    pub sinks: Vec<Sink>,
    /// sha256 of the file text: recorded with every event.
    pub digest: String,
}

impl RuleSet {
    pub fn load(path: &Path) -> Result<Self, RulesError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RulesError { file: path.display().to_string(), message: format!("cannot read: {e}") })?;
        parse(&path.display().to_string(), &text, path.parent())
    }

    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }

    pub fn sink(&self, name: &str) -> Option<&Sink> {
        self.sinks.iter().find(|s| s.name == name)
    }
}

/// The 1-based line of `field:` inside the list item whose `name:` is `name` (under `section:`),
/// or of the item itself; so cross-check errors point where the user must edit.
fn locate(text: &str, section: &str, name: &str, field: Option<&str>) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.trim_end() == format!("{section}:"))?;
    let is_name = |l: &str| {
        let t = l.trim_start().trim_start_matches('-').trim_start();
        t.strip_prefix("name:").is_some_and(|v| v.trim().trim_matches(|c| c == '"' || c == '\'') == name)
    };
    let item = (start + 1..lines.len()).find(|&i| is_name(lines[i]))?;
    let indent = |l: &str| l.len() - l.trim_start().len();
    // The item starts at the `- ` line at or above the name line.
    let dash = (start + 1..=item).rev().find(|&i| lines[i].trim_start().starts_with('-')).unwrap_or(item);
    let item_indent = indent(lines[dash]);
    let Some(field) = field else { return Some((item + 1, indent(lines[item]) + 1)) };
    for (i, l) in lines.iter().enumerate().skip(dash) {
        if i > dash && !l.trim().is_empty() && indent(l) <= item_indent && !l.trim_start().starts_with('#') {
            break;
        }
        let t = l.trim_start().trim_start_matches('-').trim_start();
        if t.starts_with(&format!("{field}:")) {
            return Some((i + 1, indent(l) + 1 + (l.trim_start().len() - t.len())));
        }
        // Inside a flow mapping: `{ a: 1, field: 2 }`.
        for sep in ["{ ", "{", ", ", ","] {
            if let Some(at) = l.find(&format!("{sep}{field}:")) {
                return Some((i + 1, at + sep.len() + 1));
            }
        }
    }
    Some((item + 1, indent(lines[item]) + 1))
}

/// The line and column of `section[i].field` (the first field after the index) in `text`.
fn locate_path(text: &str, path: &str) -> Option<(usize, usize)> {
    let (section, rest) = path.split_once('[')?;
    let (index, rest) = rest.split_once("].")?;
    let index: usize = index.parse().ok()?;
    let field = rest.split('.').next()?;
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.trim_end() == format!("{section}:"))?;
    let indent = |l: &str| l.len() - l.trim_start().len();
    let items: Vec<usize> = {
        let first = (start + 1..lines.len()).find(|&i| lines[i].trim_start().starts_with('-'))?;
        let item_indent = indent(lines[first]);
        (first..lines.len())
            .take_while(|&i| {
                lines[i].trim().is_empty() || lines[i].trim_start().starts_with('#') || indent(lines[i]) >= item_indent
            })
            .filter(|&i| indent(lines[i]) == item_indent && lines[i].trim_start().starts_with('-'))
            .collect()
    };
    let dash = *items.get(index)?;
    let end = items.get(index + 1).copied().unwrap_or(lines.len());
    for (i, l) in lines.iter().enumerate().take(end).skip(dash) {
        let t = l.trim_start().trim_start_matches('-').trim_start();
        if t.starts_with(&format!("{field}:")) {
            let col = indent(l) + 1 + (l.trim_start().len() - t.len());
            return Some((i + 1, col + field.len() + 2));
        }
    }
    None
}

/// Parses and validates a rules file; `file` names it in errors, `dir` resolves custom query files.
pub fn parse(file: &str, text: &str, dir: Option<&Path>) -> Result<RuleSet, RulesError> {
    let err = |message: String| RulesError { file: file.to_string(), message };
    let de = serde_yaml_ng::Deserializer::from_str(text);
    let spec: RulesFile = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let mut loc = e.inner().location().map(|l| (l.line(), l.column()));
        // Values checked while converting (durations, names) are located at their mapping;
        // find the field itself.
        if let Some(found) = locate_path(text, &path)
            && loc.is_none_or(|l| l.0 < found.0)
        {
            loc = Some(found);
        }
        let at = loc.map(|(l, c)| format!("line {l} column {c}: ")).unwrap_or_default();
        let field = if path == "." { String::new() } else { format!("{path}: ") };
        // The parser's message repeats the path and the location; say each once.
        let mut msg = e.inner().to_string();
        if let Some(i) = msg.rfind(" at line ") {
            msg.truncate(i);
        }
        let mut msg = msg.strip_prefix(&field).unwrap_or(&msg).to_string();
        if let Some((head, rest)) = msg.split_once("]: ")
            && !head.contains(' ')
        {
            msg = rest.to_string();
        }
        err(format!("{at}{field}{msg}"))
    })?;
    let at = |section: &str, i: usize, name: &str, field: Option<&str>, m: String| {
        let loc = locate(text, section, name, field).map(|(l, c)| format!("line {l} column {c}: ")).unwrap_or_default();
        let f = field.map(|f| format!(".{f}")).unwrap_or_default();
        err(format!("{loc}{section}[{i}]{f} ({name}): {m}"))
    };

    let mut sinks = Vec::new();
    let mut sink_names = BTreeSet::new();
    for (i, s) in spec.sinks.into_iter().enumerate() {
        let name = s.name.0.clone();
        let fail = |field: Option<&str>, m: String| at("sinks", i, &name, field, m);
        if !sink_names.insert(name.clone()) {
            return Err(fail(Some("name"), "two sinks have this name".into()));
        }
        let url = match (&s.url, &s.url_env) {
            (Some(u), None) => Some(Target::Url(u.clone())),
            (None, Some(v)) => Some(Target::Env(v.clone())),
            (Some(_), Some(_)) => return Err(fail(Some("url_env"), "give url or url_env, not both".into())),
            (None, None) => None,
        };
        match s.kind {
            SinkKind::Webhook | SinkKind::Slack => {
                let Some(target) = &url else {
                    return Err(fail(Some("type"), "a webhook or slack sink needs url or url_env".into()));
                };
                if let Target::Url(u) = target {
                    let parsed = url::Url::parse(u).map_err(|e| fail(Some("url"), format!("{u:?}: {e}")))?;
                    if !matches!(parsed.scheme(), "http" | "https") {
                        return Err(fail(Some("url"), format!("{u:?}: only http and https URLs are supported")));
                    }
                }
                if s.path.is_some() {
                    return Err(fail(Some("path"), "path is for file sinks".into()));
                }
                if s.kind == SinkKind::Slack && (s.hmac_secret_env.is_some() || s.mode != Mode::Binary) {
                    return Err(fail(Some("type"), "slack sinks take only url or url_env (and timeout, retry)".into()));
                }
            }
            SinkKind::File => {
                if s.path.is_none() {
                    return Err(fail(Some("type"), "a file sink needs path (\"-\" for standard output)".into()));
                }
                if url.is_some() || s.bearer_token_env.is_some() || s.hmac_secret_env.is_some() {
                    return Err(fail(Some("type"), "file sinks take only path".into()));
                }
            }
        }
        let d = RetryPolicy::default();
        let retry = RetryPolicy {
            attempts: s.retry.attempts.unwrap_or(d.attempts),
            initial_backoff: s.retry.initial_backoff.map(|x| x.0).unwrap_or(d.initial_backoff),
            max_backoff: s.retry.max_backoff.map(|x| x.0).unwrap_or(d.max_backoff),
        };
        if retry.attempts == 0 || retry.attempts > 100 {
            return Err(fail(Some("retry"), "attempts: between 1 and 100".into()));
        }
        if retry.max_backoff < retry.initial_backoff {
            return Err(fail(Some("retry"), "max_backoff is shorter than initial_backoff".into()));
        }
        sinks.push(Sink {
            name,
            kind: s.kind,
            url,
            mode: s.mode,
            bearer_token_env: s.bearer_token_env,
            hmac_secret_env: s.hmac_secret_env,
            path: s.path,
            timeout: s.timeout.map(|d| d.0).unwrap_or(Duration::from_secs(10)),
            retry,
        });
    }

    let defaults = spec.defaults;
    if let Some(ds) = &defaults.sinks {
        for s in ds {
            if !sink_names.contains(&s.0) {
                let loc = text
                    .lines()
                    .position(|l| l.trim_start().starts_with("defaults:"))
                    .map(|l| format!("line {}: ", l + 1));
                return Err(err(format!("{}defaults.sinks: no sink named {:?}", loc.unwrap_or_default(), s.0)));
            }
        }
    }
    if spec.rules.is_empty() {
        return Err(err("rules: the file defines no rules".into()));
    }
    let mut rules = Vec::new();
    let mut names = BTreeSet::new();
    for (i, r) in spec.rules.into_iter().enumerate() {
        let name = r.name.0.clone();
        let fail = |field: Option<&str>, m: String| at("rules", i, &name, field, m);
        if !names.insert(name.clone()) {
            return Err(fail(Some("name"), "two rules have this name".into()));
        }
        let mut groups = Vec::new();
        for g in &r.scope.groups {
            groups.push(g.parse::<GroupPath>().map_err(|e| fail(Some("groups"), format!("{g:?}: {e}")))?);
        }
        let sinks_of = r.sinks.clone().or(defaults.sinks.clone()).unwrap_or_default();
        if sinks_of.is_empty() {
            return Err(fail(Some("sinks"), "no sinks: name some here or in defaults.sinks".into()));
        }
        for s in &sinks_of {
            if !sink_names.contains(&s.0) {
                return Err(fail(Some("sinks"), format!("no sink named {:?} (defined: {})", s.0, join(&sink_names))));
            }
        }
        let condition = match r.condition {
            ConditionSpec::Transition(t) => {
                if t.on.is_empty() {
                    return Err(fail(Some("on"), "name at least one of degraded, new, improved".into()));
                }
                let mut on = t.on;
                on.sort();
                on.dedup();
                Condition::Transition { on }
            }
            ConditionSpec::Threshold(t) => {
                if t.framework.trim().is_empty() {
                    return Err(fail(Some("framework"), "empty".into()));
                }
                if let Some(b) = t.below
                    && !(0.0..=100.0).contains(&b)
                {
                    return Err(fail(Some("below"), format!("{b}: a percentage, 0 to 100")));
                }
                let drop = match (t.drop, t.within) {
                    (Some(d), Some(w)) if d > 0.0 && d <= 100.0 && !w.0.is_zero() => Some((d, w.0)),
                    (Some(d), Some(_)) => {
                        return Err(fail(Some("drop"), format!("{d}: points, more than 0 and at most 100")));
                    }
                    (Some(_), None) => {
                        return Err(fail(Some("drop"), "drop needs within (the window, e.g. 24h)".into()));
                    }
                    (None, Some(_)) => return Err(fail(Some("within"), "within is the window of drop".into())),
                    (None, None) => None,
                };
                if t.below.is_none() && drop.is_none() {
                    return Err(fail(Some("threshold"), "give below, or drop with within, or both".into()));
                }
                if !r.scope.namespaces.is_empty() || !r.scope.exclude_namespaces.is_empty() || r.min_severity.is_some()
                {
                    return Err(fail(
                        Some("threshold"),
                        "scores are per cluster and control: namespaces and min_severity do not apply (controls does)"
                            .into(),
                    ));
                }
                let whole_scope = match t.per {
                    Per::Cluster => None,
                    Per::Scope => {
                        if drop.is_some() {
                            return Err(fail(Some("per"), "per: scope takes below only (drop is per cluster)".into()));
                        }
                        if !r.scope.clusters.is_empty() || groups.len() > 1 {
                            return Err(fail(
                                Some("per"),
                                "per: scope scores the fleet or one group: give at most one scope.groups entry and no clusters"
                                    .into(),
                            ));
                        }
                        Some(groups.first().map(|g| g.to_string()).unwrap_or_default())
                    }
                };
                Condition::Threshold { framework: t.framework, below: t.below, drop, whole_scope }
            }
            ConditionSpec::Staleness(s) => {
                if s.interval.0.is_zero() || s.missed == 0 || s.missed > 1000 {
                    return Err(fail(Some("staleness"), "interval must be more than 0, missed 1 to 1000".into()));
                }
                if !r.frameworks.is_empty() || !r.controls.is_empty() || r.min_severity.is_some() {
                    return Err(fail(
                        Some("staleness"),
                        "frameworks, controls and min_severity do not apply to staleness".into(),
                    ));
                }
                Condition::Staleness { interval: s.interval.0, missed: s.missed }
            }
            ConditionSpec::Custom(c) => {
                let query = match (&c.query, &c.file) {
                    (Some(q), None) => tarn_query::named::named(q).map_err(|e| fail(Some("query"), e.to_string()))?,
                    (None, Some(f)) => {
                        let p = dir.map(|d| d.join(f)).unwrap_or_else(|| f.clone());
                        let sql = std::fs::read_to_string(&p)
                            .map_err(|e| fail(Some("file"), format!("{}: {e}", p.display())))?;
                        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("custom");
                        tarn_query::named::NamedQuery::parse(stem, &sql)
                    }
                    _ => return Err(fail(Some("custom"), "give query (a named query) or file (a .sql file)".into())),
                };
                for (p, default) in &query.params {
                    if default.is_none() && !CUSTOM_PARAMS.contains(&p.as_str()) {
                        return Err(fail(
                            Some("custom"),
                            format!(
                                "query {} requires parameter {p:?}; alerts fill only {}",
                                query.name,
                                CUSTOM_PARAMS.join(", ")
                            ),
                        ));
                    }
                }
                Condition::Custom { query }
            }
        };
        let dedup_window =
            r.dedup_window.or(defaults.dedup_window).map(|d| d.0).unwrap_or(Duration::from_secs(24 * 3600));
        rules.push(Rule {
            name,
            description: r.description,
            scope: Scope {
                groups,
                clusters: r.scope.clusters,
                namespaces: r.scope.namespaces,
                exclude_namespaces: r.scope.exclude_namespaces,
            },
            frameworks: r.frameworks,
            controls: r.controls,
            min_severity: r.min_severity,
            severity: r.severity,
            condition,
            cooldown: r.cooldown.or(defaults.cooldown).map(|d| d.0).unwrap_or_default(),
            dedup_window,
            skip_existing: r.skip_existing.or(defaults.skip_existing).unwrap_or(true),
            sinks: sinks_of.into_iter().map(|s| s.0).collect(),
        });
    }
    let used: BTreeSet<&str> = rules.iter().flat_map(|r| r.sinks.iter().map(String::as_str)).collect();
    let mut unused = BTreeMap::new();
    for s in &sinks {
        if !used.contains(s.name.as_str()) {
            unused.insert(s.name.clone(), ());
        }
    }
    if let Some((name, ())) = unused.into_iter().next() {
        let i = sinks.iter().position(|s| s.name == name).unwrap_or(0);
        return Err(at("sinks", i, &name, None, "no rule sends to this sink".into()));
    }
    let digest = {
        use sha2::Digest;
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(text.as_bytes())))
    };
    Ok(RuleSet { file: file.to_string(), rules, sinks, digest })
}

fn join(s: &BTreeSet<String>) -> String {
    if s.is_empty() { "none".into() } else { s.iter().cloned().collect::<Vec<_>>().join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
sinks:
  - name: ops
    type: webhook
    url: http://127.0.0.1:9/events
    mode: structured
    retry: { attempts: 3, initial_backoff: 10ms, max_backoff: 1s }
  - name: out
    type: file
    path: \"-\"
defaults:
  sinks: [ops]
rules:
  - name: pss-regressions
    scope: { groups: [/acme/prod], namespaces: [\"*\"], exclude_namespaces: [kube-system] }
    frameworks: [pss-*]
    min_severity: medium
    condition:
      transition: { on: [new, degraded] }
    cooldown: 15m
  - name: cis-floor
    condition:
      threshold: { framework: cis-k8s, below: 80, drop: 5, within: 24h }
    sinks: [ops, out]
  - name: silent
    condition:
      staleness: { interval: 5m, missed: 3 }
";

    #[test]
    fn a_good_file_parses() {
        let rs = parse("r.yaml", GOOD, None).unwrap();
        assert_eq!(rs.rules.len(), 3);
        let r = &rs.rules[0];
        assert_eq!(r.sinks, vec!["ops"]);
        assert_eq!(r.cooldown, Duration::from_secs(900));
        assert!(r.skip_existing);
        assert_eq!(r.condition, Condition::Transition { on: vec![Change::Degraded, Change::New] });
        assert!(r.scope.admits_cluster("c", &"/acme/prod/eu".parse().unwrap()));
        assert!(!r.scope.admits_cluster("c", &"/acme/dev".parse().unwrap()));
        assert!(!r.scope.admits_namespace("kube-system"));
        assert!(r.admits_finding("pss-restricted", "x", Severity::High));
        assert!(!r.admits_finding("pss-restricted", "x", Severity::Low));
        assert!(!r.admits_finding("cis-k8s", "x", Severity::High));
        assert_eq!(rs.sinks[0].retry.attempts, 3);
        assert_eq!(rs.sinks[0].mode, Mode::Structured);
    }

    fn error_of(text: &str) -> String {
        parse("rules.yaml", text, None).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_line_column_and_field() {
        // A type error from the parser.
        let e = error_of(&GOOD.replace("missed: 3", "missed: three"));
        assert_eq!(
            e,
            "rules.yaml: line 26 column 42: rules[2].condition.staleness.missed: invalid type: string \"three\", expected u32"
        );
        // An unknown condition.
        let e = error_of(&GOOD.replace("transition: { on", "transitions: { on"));
        assert!(e.starts_with("rules.yaml: line 18 column 7: ") && e.contains("unknown variant `transitions`"), "{e}");
        // A bad duration.
        let e = error_of(&GOOD.replace("cooldown: 15m", "cooldown: soon"));
        assert!(e.starts_with("rules.yaml: line 19 column 15: rules[0].cooldown: \"soon\" is not a duration"), "{e}");
        // Cross-checks find the rule's field.
        let e = error_of(&GOOD.replace("sinks: [ops, out]", "sinks: [ops, pager]"));
        assert!(e.contains("line 23 column 5: rules[1].sinks (cis-floor): no sink named \"pager\""), "{e}");
        let e = error_of(&GOOD.replace("below: 80", "below: 180"));
        assert!(e.contains("line 22 column 40: rules[1].below (cis-floor): 180"), "{e}");
        let e = error_of(&GOOD.replace("name: silent", "name: cis-floor"));
        assert!(e.contains("line 20 column 5: rules[2].name (cis-floor): two rules have this name"), "{e}");
        let e = error_of(&GOOD.replace("path: \"-\"", "url: http://x"));
        assert!(e.contains("line 8 column 5: sinks[1].type (out): a file sink needs path"), "{e}");
        let e = error_of(&GOOD.replace("drop: 5, ", ""));
        assert!(e.contains("line 22") && e.contains("within is the window of drop"), "{e}");
        let e = error_of(&GOOD.replace("url: http://127.0.0.1:9/events", "url: ftp://x/"));
        assert!(e.contains("line 4 column 5") && e.contains("only http and https"), "{e}");
        let e = error_of(&GOOD.replace("name: ops\n", "name: Ops\n"));
        assert!(e.starts_with("rules.yaml: line 2 column 5: sinks[0].name: \"Ops\": use 1-63 lower-case"), "{e}");
    }

    #[test]
    fn custom_queries_must_take_only_what_alerts_fill() {
        let text = GOOD.replace("staleness: { interval: 5m, missed: 3 }", "custom: { query: posture_diff }");
        let e = error_of(&text);
        assert!(e.contains("requires parameter") && e.contains("posture_diff"), "{e}");
        let ok = GOOD.replace("staleness: { interval: 5m, missed: 3 }", "custom: { query: alert_privileged_running }");
        let rs = parse("r.yaml", &ok, None).unwrap();
        assert_eq!(rs.rules[2].condition.kind(), "custom");
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let p =
            RetryPolicy { attempts: 8, initial_backoff: Duration::from_secs(1), max_backoff: Duration::from_secs(10) };
        assert_eq!(p.backoff(1, 1.0), Duration::from_secs(1));
        assert_eq!(p.backoff(3, 1.0), Duration::from_secs(4));
        assert_eq!(p.backoff(3, 0.0), Duration::from_secs(2));
        assert_eq!(p.backoff(9, 1.0), Duration::from_secs(10));
    }
}
