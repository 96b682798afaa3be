//! Command-line definitions: `tarn <noun> <verb>`.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};

use crate::args::{LakeArgs, PolicyArgs, SigningKeyArgs, parse_time_arg};

#[derive(Debug, Parser)]
#[command(
    name = "tarn",
    version,
    about = "Evidence lake and compliance reporting for Kubernetes fleets",
    long_about = "Tarn evaluates Kubernetes workloads against policies (Pod Security Standards, …), keeps every \
evaluation as a signed, hash-chained Parquet snapshot in object storage, and answers SQL over posture history.",
    after_help = "Start with `tarn quickstart` to build and verify a demo lake in ./tarn-lake."
)]
pub struct Cli {
    /// More logging (-v info, -vv debug); TARN_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a signed demo lake from bundled fixtures, verify it and print a posture summary.
    #[command(after_help = "Example:\n  tarn quickstart --lake ./tarn-lake")]
    Quickstart(QuickstartArgs),
    /// Scan clusters and write signed snapshots.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Evaluate manifests against a framework without a lake (a policy tester).
    #[command(after_help = "Examples:\n  tarn eval --framework pss-restricted deploy/\n  \
kubectl get pods -A -o json > pods.json && tarn eval --framework pss-baseline@v1.29 --format jsonl pods.json")]
    Eval(EvalArgs),
    /// Verify, query and export the evidence in a lake.
    #[command(subcommand)]
    Evidence(EvidenceCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Test image policies offline.
    #[command(subcommand)]
    Policies(PoliciesCommand),
    /// Verify signatures from outside Tarn (Sigstore bundles), offline.
    #[command(subcommand)]
    Trust(TrustCommand),
}

#[derive(Debug, clap::Args)]
pub struct QuickstartArgs {
    /// Directory for the demo lake (must be empty or absent).
    #[arg(long, default_value = "./tarn-lake", value_name = "DIR")]
    pub lake: PathBuf,
    /// Directory with the demo fleet (defaults to the one bundled in the source tree).
    #[arg(long, hide = true, env = "TARN_QUICKSTART_FIXTURES")]
    pub fixtures: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Evaluate a cluster's inventory and commit one signed snapshot.
    #[command(after_help = "Examples:\n  \
kubectl get pods,replicasets,deployments,statefulsets,daemonsets,jobs,cronjobs -A -o json > inv.json\n  \
tarn agent scan --lake s3://evidence/tarn --cluster prod-eu-1 --group /acme/prod --inventory inv.json --key cosign.key\n  \
tarn agent scan --cluster dev --inventory manifests/ --key cosign.key --at 2026-03-01T06:00:00Z")]
    Scan(ScanArgs),
    /// Keep evaluating a cluster: every interval and whenever the policies change.
    #[command(after_help = "Snapshots are written to a local spool first and committed in order, so a storage outage \
delays them but loses none (a snapshot that can be neither spooled nor committed is reported as LOST). \
SIGTERM/SIGINT abandon an evaluation in progress and stop after a commit in progress.\n\nExamples:\n  \
tarn agent run --lake s3://evidence/tarn --cluster prod-eu-1 --kube --key cosign.key --interval 5m --policies /etc/tarn/policies\n  \
tarn agent run --cluster dev --inventory manifests/ --key cosign.key --interval 30s --format json")]
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    #[arg(long, env = "TARN_CLUSTER")]
    pub cluster: String,
    #[arg(long, default_value = "/", value_name = "PATH")]
    pub group: String,
    /// Inventory files or directories, re-read every cycle.
    #[arg(long = "inventory", num_args = 1.., value_name = "PATH", required_unless_present = "kube", conflicts_with = "kube")]
    pub inventory: Vec<PathBuf>,
    /// Read the cluster through the Kubernetes API (kubeconfig, $KUBECONFIG or in-cluster).
    #[arg(long)]
    pub kube: bool,
    /// Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster).
    #[arg(long, requires = "kube", value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context.
    #[arg(long, requires = "kube")]
    pub context: Option<String>,
    #[command(flatten)]
    pub key: SigningKeyArgs,
    /// Time between evaluations (e.g. 30s, 5m, 1h).
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub interval: std::time::Duration,
    /// What to evaluate with; the policy directory is watched and any change triggers a
    /// re-evaluation.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// How often the policy directory is checked.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration, hide = true)]
    pub poll: std::time::Duration,
    /// Local spool for snapshots not yet committed (default: $XDG_STATE_HOME/tarn/spool/<cluster>).
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,
    #[arg(long, env = "TARN_AGENT_ID")]
    pub agent_id: Option<String>,
    /// Event output: human lines, or one JSON object per event on stdout.
    #[arg(long, value_enum, default_value = "table")]
    pub format: SummaryFormat,
    /// Stop after this many cycles.
    #[arg(long, hide = true)]
    pub max_cycles: Option<u64>,
}

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Cluster name (lowercase letters, digits, '-', '.', '_').
    #[arg(long, env = "TARN_CLUSTER")]
    pub cluster: String,
    /// Group path in the IAM hierarchy.
    #[arg(long, default_value = "/", value_name = "PATH")]
    pub group: String,
    /// Inventory files or directories: `kubectl get -o json` output, YAML manifests.
    #[arg(long = "inventory", required = true, num_args = 1.., value_name = "PATH")]
    pub inventory: Vec<PathBuf>,
    #[command(flatten)]
    pub key: SigningKeyArgs,
    /// When the inventory was observed (default: now). RFC 3339 or YYYY-MM-DD.
    #[arg(long, value_parser = parse_time_arg, value_name = "TIME")]
    pub at: Option<DateTime<Utc>>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Commit a snapshot even when the inventory holds no documents at all.
    #[arg(long)]
    pub allow_empty: bool,
    /// Agent identity recorded in the snapshot (default: tarn-agent@<hostname>).
    #[arg(long, env = "TARN_AGENT_ID")]
    pub agent_id: Option<String>,
    /// Summary format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: SummaryFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SummaryFormat {
    Table,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[arg(long, value_enum, default_value = "table")]
    pub format: EvalFormat,
    /// Manifest files or directories.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EvalFormat {
    Table,
    Json,
    Jsonl,
}

#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Recompute every digest, check every signature and every log chain.
    #[command(after_help = "Exit status: 0 only when everything verifies.\n\nExamples:\n  \
tarn evidence verify --lake ./tarn-lake --key cosign.pub\n  \
tarn evidence verify --lake s3://evidence/tarn --key cosign.pub --cluster prod-eu-1 --from 2026-03-01 --to 2026-04-01 --format json\n  \
tarn evidence verify --key cosign.pub --witness audit-heads.json --init-witness   # first audit\n  \
tarn evidence verify --key cosign.pub --witness audit-heads.json                  # later audits: detects rolled-back logs")]
    Verify(VerifyArgs),
    /// Run read-only SQL over the `evaluations` and `snapshots` tables.
    #[command(after_help = "Examples:\n  \
tarn evidence query \"select cluster, count(*) from evaluations where status = 'fail' group by cluster\"\n  \
tarn evidence query --format csv \"select * from snapshots order by observed_at\"")]
    Query(QueryArgs),
    /// Export a snapshot's Sigstore bundle (and optionally its Parquet object) for
    /// independent verification.
    Bundle(BundleArgs),
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Trusted public key(s) (cosign PEM). Required unless --trust-lake-keys.
    #[arg(long = "key", value_name = "PUB")]
    pub keys: Vec<PathBuf>,
    /// Check signatures against the keys stored in the lake (keys/). This catches accidental
    /// damage only: anyone able to write the lake can replace those keys.
    #[arg(long, conflicts_with = "keys")]
    pub trust_lake_keys: bool,
    /// Only these clusters (repeatable).
    #[arg(long = "cluster")]
    pub clusters: Vec<String>,
    /// Only hash objects observed at or after this time.
    #[arg(long, value_parser = parse_time_arg)]
    pub from: Option<DateTime<Utc>>,
    /// Only hash objects observed at or before this time.
    #[arg(long, value_parser = parse_time_arg)]
    pub to: Option<DateTime<Utc>>,
    /// Witness file with the lake id and log heads from an earlier verification; checked,
    /// then updated on success. Detects rolled-back or rewritten logs.
    #[arg(long, value_name = "FILE")]
    pub witness: Option<PathBuf>,
    /// Create the --witness file at this verification (it must not exist yet).
    #[arg(long, requires = "witness")]
    pub init_witness: bool,
    #[arg(long, value_enum, default_value = "table")]
    pub format: SummaryFormat,
}

#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    #[arg(long, default_value = "table", value_parser = ["table", "csv", "json"])]
    pub format: String,
    /// Memory limit for the query, in MiB.
    #[arg(long, default_value_t = 2048, env = "TARN_QUERY_MEMORY_MB")]
    pub memory_mb: usize,
    /// Time limit for the query, in seconds.
    #[arg(long, default_value_t = 300, env = "TARN_QUERY_TIMEOUT_SECS")]
    pub timeout_secs: u64,
    /// The SQL statement.
    pub sql: String,
}

#[derive(Debug, clap::Args)]
pub struct BundleArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Snapshot id.
    #[arg(long)]
    pub snapshot: String,
    /// Where to write the bundle (`-` for stdout).
    #[arg(long, default_value = "-")]
    pub out: PathBuf,
    /// Also copy the snapshot's Parquet object here.
    #[arg(long, value_name = "FILE")]
    pub object_out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Verify a Sigstore bundle offline against a certificate identity or a public key.
    #[command(after_help = "Exit status: 0 only when the bundle verifies.\n\nExamples:\n  \
tarn trust verify-bundle --bundle a.txt.sigstore.json \\\n    \
--certificate-identity https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main \\\n    \
--certificate-oidc-issuer https://token.actions.githubusercontent.com a.txt\n  \
tarn trust verify-bundle --bundle b.sigstore.json --key cosign.pub sha256:a0cfc712…\n  \
tarn trust verify-bundle --bundle c.sigstore.json --key cosign.pub --trusted-root trusted_root.json c.tar")]
    VerifyBundle(crate::commands::trust::VerifyBundleArgs),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an ECDSA P-256 key pair in cosign's formats (password from $COSIGN_PASSWORD).
    #[command(after_help = "Example:\n  COSIGN_PASSWORD=... tarn keys generate --output-prefix tarn\n  \
writes tarn.key (encrypted, mode 0600) and tarn.pub")]
    Generate(GenerateArgs),
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Writes <PREFIX>.key and <PREFIX>.pub.
    #[arg(long, default_value = "cosign", value_name = "PREFIX")]
    pub output_prefix: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
    /// Environment variable holding the password (must be set; may be empty).
    #[arg(long, default_value = "COSIGN_PASSWORD", value_name = "VAR")]
    pub password_env: String,
    /// scrypt cost exponent (tests only; default is cosign's 15).
    #[arg(long, hide = true, default_value_t = 15)]
    pub scrypt_log_n: u8,
}

#[derive(Debug, Subcommand)]
pub enum PoliciesCommand {
    /// Evaluate ClusterImagePolicies against an image or a resource, offline (like
    /// policy-controller's policy-tester). Exit 0 when admitted (pass or warn), 1 when denied.
    #[command(after_help = "Examples:\n  \
tarn policies test --policy policies/ --image ghcr.io/acme/cart:1.8.0@sha256:5891b5b5... --evidence evidence/\n  \
tarn policies test --policy cip.yaml --resource deploy.yaml --evidence evidence/ --format json")]
    Test(PolicyTestArgs),
}

#[derive(Debug, clap::Args)]
pub struct PolicyTestArgs {
    /// ClusterImagePolicy file or directory (with an optional config-policy-controller ConfigMap).
    #[arg(long, value_name = "FILE", required = true)]
    pub policy: Vec<PathBuf>,
    /// Image reference to test (pin it by digest for signature checks).
    #[arg(long, value_name = "REF", required_unless_present = "resource", conflicts_with = "resource")]
    pub image: Option<String>,
    /// A manifest whose containers are tested (Pod, Deployment, …).
    #[arg(long, value_name = "FILE")]
    pub resource: Option<PathBuf>,
    /// Image evidence directory (repeatable).
    #[arg(long = "evidence", value_name = "DIR")]
    pub evidence: Vec<PathBuf>,
    /// Sigstore trusted root for keyless authorities (default: public-good, built in).
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: SummaryFormat,
}
