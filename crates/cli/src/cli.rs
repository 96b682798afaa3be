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
    /// Maintain a lake: catalog checkpoints, compaction, status.
    #[command(subcommand)]
    Lake(LakeCommand),
    /// Compliance reports (SLSA, CIS, PSS, custom) as PDF and CSV, signed into the lake;
    /// on demand or on a schedule.
    #[command(subcommand)]
    Reports(ReportsCommand),
    /// Continuous-compliance alerts: rules over posture changes, delivered as CloudEvents to
    /// webhooks, Slack or a file, with an outbox in the lake.
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// Run the query engine scaled out: Ballista scheduler and executor processes over a lake.
    #[command(
        subcommand,
        after_help = "Queries reach it with `--engine ballista://HOST:PORT`.\n\nExample:\n  \
tarn engine scheduler --lake s3://evidence/tarn --bind 0.0.0.0:50050\n  \
tarn engine executor --lake s3://evidence/tarn --scheduler sched.internal:50050\n  \
tarn evidence at now --engine ballista://sched.internal:50050 --lake s3://evidence/tarn"
    )]
    Engine(EngineCommand),
    /// Benchmark helpers (synthetic fleets written through the real write path).
    #[command(subcommand, hide = true)]
    Bench(BenchCommand),
}

#[derive(Debug, clap::Args)]
pub struct QuickstartArgs {
    /// Directory for the demo lake (must be empty or absent).
    #[arg(long, default_value = "./tarn-lake", value_name = "DIR")]
    pub lake: PathBuf,
    /// Directory for the demo's compliance report (PDF and CSV); default: tarn-reports beside
    /// the lake.
    #[arg(long, value_name = "DIR")]
    pub reports: Option<PathBuf>,
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
    /// Run read-only SQL, or a named query from queries/, over the lake.
    #[command(after_help = "Tables: evaluations, snapshots, rollups, controls, clusters, groups. Table functions: \
posture_at(ts [, scope]), posture_between(t1, t2 [, scope]), posture_diff(t1, t2 [, scope]), compliance_at(ts [, by [, scope]]), \
compliance_trend(bucket, t1, t2 [, by [, scope]]); a scope is '' (fleet), a cluster name or a /group/path. \
Reference: schemas/query.md.\n\nExamples:\n  \
tarn evidence query \"select cluster, count(*) from evaluations where status = 'fail' group by cluster\"\n  \
tarn evidence query \"select * from posture_at('2026-03-01T12:00:00Z', 'prod-eu-1') where status = 'fail'\"\n  \
tarn evidence query --named compliance_trend --param from=2026-02-01 --param to=2026-03-01 --format csv\n  \
tarn evidence query --named control_history --param from=2026-03-01 --param to=2026-03-08 \\\n    \
--param control=privileged --param namespace=payments --format parquet --out history.parquet\n  \
tarn evidence query --list-named")]
    Query(QueryArgs),
    /// Posture at a point in time: every in-scope cluster's newest snapshot at or before T.
    #[command(after_help = "Clusters whose newest snapshot is older than --stale-after are shown with stale = true, \
never dropped. T is RFC 3339, a date (midnight UTC) or now.\n\nExamples:\n  \
tarn evidence at 2026-03-01T12:00:00Z --cluster prod-eu-1\n  \
tarn evidence at now --group /acme/prod --summary\n  \
tarn evidence at 2026-03-01 --status all --format csv --out posture.csv")]
    At(AtArgs),
    /// What changed between two times: new failures, fixed, still failing, gone.
    #[command(after_help = "Examples:\n  tarn evidence diff 2026-03-01 2026-03-08\n  \
tarn evidence diff 2026-03-01T00:00:00Z now --cluster prod-eu-1 --change new --format json")]
    Diff(DiffArgs),
    /// Compliance % per time bucket and framework (or cluster, group, control) over a range.
    #[command(after_help = "Score math: a resource takes its worst status per control; control % = passing \
resources / evaluated resources (skip is not evaluated); framework % = mean of control %. Each bucket scores the posture \
at its end.\n\nExamples:\n  tarn evidence trend --bucket 1d --from 2026-02-01 --to 2026-03-01\n  \
tarn evidence trend --bucket 6h --from 2026-03-01 --to now --by cluster --group /acme/prod --format csv")]
    Trend(TrendArgs),
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

/// How a query runs and where its results go.
#[derive(Debug, Clone, clap::Args)]
pub struct QueryRunArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    #[arg(long, value_enum, default_value = "table")]
    pub format: ResultFormat,
    /// Write the results to this file instead of stdout (required for parquet).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Memory limit for the query, in MiB.
    #[arg(long, default_value_t = 2048, env = "TARN_QUERY_MEMORY_MB")]
    pub memory_mb: usize,
    /// Time limit for the query, in seconds.
    #[arg(long, default_value_t = 300, env = "TARN_QUERY_TIMEOUT_SECS")]
    pub timeout_secs: u64,
    /// A cluster whose newest snapshot at the asked time is older than this is stale.
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub stale_after: std::time::Duration,
    /// Where the query runs: `embedded` (this process), `ballista://HOST:PORT` (a scheduler
    /// started with `tarn engine scheduler` on the same lake) or `ballista-standalone` (a
    /// scheduler and an executor inside this process).
    #[arg(long, default_value = "embedded", env = "TARN_ENGINE", value_parser = parse_engine, value_name = "ENGINE")]
    pub engine: Engine,
}

/// Where queries run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    Embedded,
    BallistaStandalone,
    /// `host:port` of a Ballista scheduler.
    Ballista(String),
}

fn parse_engine(s: &str) -> Result<Engine, String> {
    match s {
        "embedded" => Ok(Engine::Embedded),
        "ballista-standalone" => Ok(Engine::BallistaStandalone),
        _ => {
            let addr = s.strip_prefix("ballista://").ok_or_else(|| {
                format!("unknown engine {s:?}: expected embedded, ballista://HOST:PORT or ballista-standalone")
            })?;
            match addr.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                    Ok(Engine::Ballista(addr.to_string()))
                }
                _ => Err(format!("engine {s:?}: expected ballista://HOST:PORT")),
            }
        }
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum EngineCommand {
    /// Run a Ballista scheduler that plans Tarn's SQL over the lake's catalog.
    Scheduler(SchedulerArgs),
    /// Run a Ballista executor that reads the lake for a scheduler.
    Executor(ExecutorArgs),
}

#[derive(Debug, clap::Args)]
pub struct SchedulerArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Address to listen on (gRPC, for clients and executors).
    #[arg(long, default_value = "0.0.0.0:50050", value_name = "ADDR")]
    pub bind: std::net::SocketAddr,
    /// Host name clients and executors use to reach this scheduler.
    #[arg(long, default_value = "localhost", value_name = "HOST")]
    pub external_host: String,
    /// How often to re-read the catalog, so new snapshots become visible to queries.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub refresh: std::time::Duration,
    /// Memory limit for query planning, in MiB.
    #[arg(long, default_value_t = 2048)]
    pub memory_mb: usize,
}

#[derive(Debug, clap::Args)]
pub struct ExecutorArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    /// The scheduler, HOST:PORT.
    #[arg(long, default_value = "localhost:50050", value_name = "HOST:PORT")]
    pub scheduler: String,
    /// Interface to listen on.
    #[arg(long, default_value = "0.0.0.0", value_name = "HOST")]
    pub bind_host: String,
    /// Host name the scheduler and other executors use to reach this executor.
    #[arg(long, value_name = "HOST")]
    pub external_host: Option<String>,
    /// Arrow Flight port (shuffle data).
    #[arg(long, default_value_t = 50051)]
    pub port: u16,
    /// gRPC port.
    #[arg(long, default_value_t = 50052)]
    pub grpc_port: u16,
    /// Concurrent tasks (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub vcores: usize,
    /// Directory for shuffle files (default: a temporary directory).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<String>,
    /// Memory limit for query execution, in MiB.
    #[arg(long, default_value_t = 2048)]
    pub memory_mb: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResultFormat {
    /// Aligned columns for a terminal.
    Table,
    /// RFC 4180, with a header row.
    Csv,
    /// One JSON array of objects.
    Json,
    /// A Parquet file (needs --out).
    Parquet,
}

#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub run: QueryRunArgs,
    /// Run this named query (a file stem in queries/) instead of SQL.
    #[arg(long, value_name = "NAME", conflicts_with = "sql")]
    pub named: Option<String>,
    /// A named query's parameter (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE", requires = "named")]
    pub params: Vec<String>,
    /// List the named queries and their parameters.
    #[arg(long, conflicts_with_all = ["sql", "named"])]
    pub list_named: bool,
    /// The SQL statement.
    #[arg(required_unless_present_any = ["named", "list_named"])]
    pub sql: Option<String>,
}

/// Fleet, one cluster, or a group with its descendants.
#[derive(Debug, Clone, clap::Args)]
pub struct ScopeArgs {
    /// Only this cluster.
    #[arg(long, conflicts_with = "group")]
    pub cluster: Option<String>,
    /// Only clusters in this group or below it (e.g. /acme/prod).
    #[arg(long, value_name = "PATH")]
    pub group: Option<String>,
}

impl ScopeArgs {
    /// The scope string the table functions take.
    pub fn scope(&self) -> String {
        self.cluster.clone().or_else(|| self.group.clone()).unwrap_or_default()
    }
}

#[derive(Debug, clap::Args)]
pub struct AtArgs {
    #[command(flatten)]
    pub run: QueryRunArgs,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Statuses to show (comma-separated), or all.
    #[arg(long, default_value = "fail,warn,error", value_name = "LIST")]
    pub status: String,
    /// Compliance % per cluster and framework instead of rows.
    #[arg(long)]
    pub summary: bool,
    /// The point in time.
    #[arg(value_name = "TIME")]
    pub at: String,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub run: QueryRunArgs,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Only these changes (comma-separated): new, fixed, still_failing, gone.
    #[arg(long, value_name = "LIST")]
    pub change: Option<String>,
    #[arg(value_name = "FROM")]
    pub from: String,
    #[arg(value_name = "TO")]
    pub to: String,
}

#[derive(Debug, clap::Args)]
pub struct TrendArgs {
    #[command(flatten)]
    pub run: QueryRunArgs,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Bucket width (e.g. 1d, 6h, 1w).
    #[arg(long, default_value = "1d")]
    pub bucket: String,
    #[arg(long, value_name = "TIME")]
    pub from: String,
    #[arg(long, value_name = "TIME", default_value = "now")]
    pub to: String,
    /// Breakdown besides the framework.
    #[arg(long, value_enum, default_value = "framework")]
    pub by: TrendBy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TrendBy {
    Framework,
    Cluster,
    Group,
    Control,
}

#[derive(Debug, Subcommand)]
pub enum LakeCommand {
    /// Fold the log tails into a new catalog checkpoint (agents also do this as they write).
    Checkpoint(LakeMaintArgs),
    /// Rewrite each cluster-day's snapshots into one object; the signed originals stay.
    #[command(after_help = "The compacted object holds exactly its sources' rows plus trace columns (snapshot seq, \
object path and digest, log entry digest); a record under _tarn/compactions/ names its sources, and `tarn evidence verify` \
checks both.\n\nExample:\n  tarn lake compact --lake s3://evidence/tarn --before 2026-03-01")]
    Compact(CompactArgs),
    /// What the catalog holds: clusters, snapshots, days, checkpoint, compaction.
    Status(LakeStatusArgs),
}

#[derive(Debug, clap::Args)]
pub struct LakeMaintArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
}

#[derive(Debug, clap::Args)]
pub struct CompactArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Only days before this date (default: today, UTC; days still being written are left alone).
    #[arg(long, value_name = "DATE")]
    pub before: Option<chrono::NaiveDate>,
    /// Leave cluster-days with fewer snapshots than this alone.
    #[arg(long, default_value_t = 2)]
    pub min_snapshots: usize,
}

#[derive(Debug, clap::Args)]
pub struct LakeStatusArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    #[arg(long, value_enum, default_value = "table")]
    pub format: SummaryFormat,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Write a synthetic fleet through Tarn's real write path (sort, encode, hash, sign, commit).
    #[command(after_help = "Default: fleet-S, 50 clusters x 80 workloads x 30 controls x 4 scans/day x 60 days \
(28.8 M rows, 12,000 snapshots), about 1% of (workload, control) pairs changing status each day.")]
    Generate(GenerateFleetArgs),
}

#[derive(Debug, clap::Args)]
pub struct GenerateFleetArgs {
    /// Lake location (a new or empty lake).
    #[arg(long, value_name = "URL")]
    pub lake: String,
    #[arg(long, default_value_t = 50)]
    pub clusters: u32,
    #[arg(long, default_value_t = 80)]
    pub workloads: u32,
    #[arg(long, default_value_t = 30)]
    pub controls: u32,
    #[arg(long, default_value_t = 4)]
    pub scans_per_day: u32,
    #[arg(long, default_value_t = 60)]
    pub days: u32,
    /// First day (default: `days` days before today, UTC).
    #[arg(long, value_name = "DATE")]
    pub start: Option<chrono::NaiveDate>,
    /// Seed of the synthetic statuses.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Snapshots written concurrently.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// Signing key (default: the demo key in fixtures/quickstart).
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
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

#[derive(Debug, Subcommand)]
pub enum ReportsCommand {
    /// Generate one report for a framework over a time range, as PDF or CSV, and commit it
    /// to the lake with a signature.
    #[command(after_help = "The posture is the one as of --to; the trend covers --from..--to; change is measured \
against --from. CSV writes one file per section into the --out directory (columns: schemas/report-csv.v1.md).\n\n\
Examples:\n  tarn reports generate --lake ./tarn-lake --framework cis-k8s --from 2026-03-01 --to 2026-04-01 \\\n    \
--format pdf --out cis-march.pdf --key cosign.key --verify-key cosign.pub\n  \
tarn reports generate --framework pss-restricted --group /acme/prod --from 2026-03-01 --to now --format csv \\\n    \
--out reports/pss-prod/ --key cosign.key\n  \
tarn reports generate --framework slsa --cluster prod-eu-1 --from 2026-03-01 --to 2026-03-08 --out slsa.pdf --no-lake")]
    Generate(ReportGenerateArgs),
    /// List the reports committed to a lake (newest last).
    List(ReportListArgs),
    /// Report schedules: YAML jobs with cron expressions, run on time, caught up after downtime.
    #[command(subcommand)]
    Schedule(ScheduleCommand),
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Check a schedule file and show each job's next due time.
    #[command(after_help = "Example schedule (reports/schedules.example.yaml):\n\n\
timezone: Europe/Berlin\njobs:\n  - name: weekly-cis-prod\n    cron: \"0 6 * * MON\"\n    framework: cis-k8s\n    \
scope: group:/acme/prod\n    range: previous week\n    formats: [pdf, csv]\n    output: ./reports/{job}/{date}")]
    Validate(ScheduleValidateArgs),
    /// Run the jobs that are due (catching up on missed ones), then keep running them on time
    /// (or stop with --once). Each due time runs exactly once per lake, recorded under
    /// _tarn/schedules/.
    Run(ScheduleRunArgs),
    /// Show the recorded runs of each job.
    History(ScheduleHistoryArgs),
}

/// Query engine options for reports.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportEngineArgs {
    /// Where the queries run: embedded, ballista://HOST:PORT or ballista-standalone.
    #[arg(long, default_value = "embedded", env = "TARN_ENGINE", value_parser = parse_engine, value_name = "ENGINE")]
    pub engine: Engine,
    /// A cluster whose newest snapshot at a point in time is older than this is stale.
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub stale_after: std::time::Duration,
    /// Memory limit per query, in MiB.
    #[arg(long, default_value_t = 2048, env = "TARN_QUERY_MEMORY_MB")]
    pub memory_mb: usize,
    /// Time limit per query, in seconds.
    #[arg(long, default_value_t = 600, env = "TARN_QUERY_TIMEOUT_SECS")]
    pub timeout_secs: u64,
}

/// Signing and verification keys for reports.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportKeyArgs {
    /// Private key (cosign PEM) that signs the report into the lake.
    #[arg(long, env = "TARN_KEY", value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// Environment variable holding the key's password.
    #[arg(long, default_value = "COSIGN_PASSWORD", value_name = "VAR")]
    pub password_env: String,
    /// Public key(s) the snapshots' signatures are verified with (repeatable). Default: the
    /// keys stored in the lake, which the report then names as its trust anchor.
    #[arg(long = "verify-key", value_name = "PUB")]
    pub verify_keys: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ReportGenerateArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Framework: cis-k8s, pss-baseline, pss-restricted, slsa, image-policy, or a custom one.
    #[arg(long, value_name = "FRAMEWORK")]
    pub framework: String,
    /// Only this group and its descendants.
    #[arg(long, value_name = "GROUP", conflicts_with = "cluster")]
    pub group: Option<String>,
    /// Only this cluster.
    #[arg(long, value_name = "CLUSTER")]
    pub cluster: Option<String>,
    /// Start of the range (RFC 3339, a date = midnight UTC, or now).
    #[arg(long, value_parser = parse_time_arg)]
    pub from: DateTime<Utc>,
    /// End of the range; the posture is the one as of this time.
    #[arg(long, value_parser = parse_time_arg, default_value = "now")]
    pub to: DateTime<Utc>,
    /// Output format: a PDF document, or CSV (one file per section).
    #[arg(long, value_enum, default_value = "pdf")]
    pub format: ReportFormat,
    /// PDF: the file to write. CSV: the directory to write the section files into.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub out: PathBuf,
    /// Trend bucket (default: hourly up to 2 days, daily up to 120 days, then weekly).
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub bucket: Option<std::time::Duration>,
    /// Write the files only; do not commit the report to the lake.
    #[arg(long)]
    pub no_lake: bool,
    #[command(flatten)]
    pub keys: ReportKeyArgs,
    #[command(flatten)]
    pub engine: ReportEngineArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Pdf,
    Csv,
}

#[derive(Debug, clap::Args)]
pub struct ReportListArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    #[arg(long, value_enum, default_value = "table")]
    pub format: SummaryFormat,
}

#[derive(Debug, clap::Args)]
pub struct ScheduleValidateArgs {
    /// Schedule file (YAML).
    #[arg(long, value_name = "FILE")]
    pub schedule: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct ScheduleRunArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Schedule file (YAML).
    #[arg(long, value_name = "FILE")]
    pub schedule: PathBuf,
    /// Run what is due now, then exit.
    #[arg(long)]
    pub once: bool,
    /// At most this many missed due times per job are caught up (the newest); older ones are
    /// logged and skipped.
    #[arg(long, default_value_t = 10)]
    pub max_catch_up: usize,
    #[command(flatten)]
    pub keys: ReportKeyArgs,
    #[command(flatten)]
    pub engine: ReportEngineArgs,
}

#[derive(Debug, clap::Args)]
pub struct ScheduleHistoryArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Schedule file (YAML) naming the jobs.
    #[arg(long, value_name = "FILE")]
    pub schedule: PathBuf,
    #[arg(long, value_enum, default_value = "table")]
    pub format: SummaryFormat,
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Alert rule files: check them, list their rules.
    #[command(subcommand)]
    Rules(AlertRulesCommand),
    /// Dry run: evaluate one rule over the newest snapshots of every cluster and print the
    /// events it would fire (ignores cooldowns and what fired before; writes nothing).
    #[command(
        after_help = "Example:\n  tarn alerts test --rules alerts.yaml --rule pss-regressions --lake ./tarn-lake --last 5"
    )]
    Test(AlertTestArgs),
    /// Evaluate every newly committed snapshot (and staleness) on a poll interval and deliver
    /// the events; runs until interrupted, or once with --once.
    #[command(after_help = "Events are stored under alerts/ in the lake and queued per sink before delivery, so a \
restart neither repeats nor loses one. Secrets come from the environment variables the rules file names.\n\n\
Example:\n  TARN_HOOK_TOKEN=... tarn alerts run --rules alerts.yaml --lake s3://evidence/tarn --poll 5s")]
    Run(AlertRunArgs),
    /// Emitted alerts and their delivery outcome per sink.
    History(AlertHistoryArgs),
    /// Put dead-lettered events of a sink back in its outbox (the next `alerts run` re-sends them).
    Redeliver(AlertRedeliverArgs),
}

#[derive(Debug, Subcommand)]
pub enum AlertRulesCommand {
    /// Parse and check rule files; errors name the file, line, column and field.
    #[command(after_help = "Example rules file: fixtures/alerts/rules.example.yaml")]
    Validate(AlertRulesValidateArgs),
    /// List the rules of a file: condition, scope, filters, cooldown and sinks.
    List(AlertRulesListArgs),
}

#[derive(Debug, clap::Args)]
pub struct AlertRulesValidateArgs {
    /// Rule files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct AlertRulesListArgs {
    /// Rules file.
    #[arg(long, value_name = "FILE", env = "TARN_ALERT_RULES", default_value = "alerts.yaml")]
    pub rules: PathBuf,
    #[arg(long, value_enum, default_value = "table")]
    pub format: SummaryFormat,
}

#[derive(Debug, clap::Args)]
pub struct AlertTestArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Rules file.
    #[arg(long, value_name = "FILE", env = "TARN_ALERT_RULES", default_value = "alerts.yaml")]
    pub rules: PathBuf,
    /// The rule to try.
    #[arg(long, value_name = "RULE")]
    pub rule: String,
    /// Newest snapshots per cluster to evaluate (each against the one before it).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub last: u64,
    #[arg(long, value_enum, default_value = "table")]
    pub format: SummaryFormat,
}

#[derive(Debug, clap::Args)]
pub struct AlertRunArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Rules file.
    #[arg(long, value_name = "FILE", env = "TARN_ALERT_RULES", default_value = "alerts.yaml")]
    pub rules: PathBuf,
    /// How often to look for new snapshots and check staleness.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub poll: std::time::Duration,
    /// One pass, deliver what is queued, exit (0: all delivered; 1: some dead-lettered or left).
    #[arg(long)]
    pub once: bool,
}

#[derive(Debug, clap::Args)]
pub struct AlertHistoryArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Only this rule.
    #[arg(long, value_name = "RULE")]
    pub rule: Option<String>,
    /// Only this cluster.
    #[arg(long, value_name = "CLUSTER")]
    pub cluster: Option<String>,
    /// Events at or after this time (RFC 3339, a date = midnight UTC, or now).
    #[arg(long, value_parser = parse_time_arg)]
    pub from: Option<DateTime<Utc>>,
    /// Events before this time.
    #[arg(long, value_parser = parse_time_arg)]
    pub to: Option<DateTime<Utc>>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: ResultFormat,
}

#[derive(Debug, clap::Args)]
pub struct AlertRedeliverArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    /// The sink whose dead letters to re-queue.
    #[arg(long, value_name = "SINK")]
    pub sink: String,
    /// Only this event (default: every dead letter of the sink).
    #[arg(long, value_name = "EVENT_ID")]
    pub event: Option<String>,
}
