//! Argument blocks shared by several subcommands.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use tarn_lake::{Lake, StoreOptions};
use tarn_trust::keys::{PublicKey, SigningKeyPair};

use crate::exit::InvalidInput;

/// Where the lake is.
#[derive(Debug, Clone, Args)]
pub struct LakeArgs {
    /// Lake location: a directory or file:// URL, memory://, s3://bucket/prefix, gs://bucket/prefix
    /// or az://container/prefix. Cloud credentials come from the usual AWS_*, GOOGLE_* and
    /// AZURE_* variables.
    #[arg(long, env = "TARN_LAKE", default_value = "./tarn-lake", value_name = "URL")]
    pub lake: String,

    /// S3 endpoint override (MinIO, Ceph, R2, moto …); AWS_ENDPOINT_URL works too.
    #[arg(long, env = "TARN_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,

    /// Allow plain-HTTP object-store endpoints.
    #[arg(long, env = "TARN_ALLOW_HTTP")]
    pub allow_http: bool,
}

impl LakeArgs {
    fn options(&self) -> StoreOptions {
        StoreOptions { s3_endpoint: self.s3_endpoint.clone(), allow_http: self.allow_http }
    }

    /// Opens (creating when needed) a lake to write to.
    pub fn open(&self) -> anyhow::Result<Lake> {
        Ok(Lake::open(&self.lake, &self.options())?)
    }

    /// Opens an existing lake to read; a missing or mistyped lake is an error, never created.
    pub async fn open_existing(&self) -> anyhow::Result<Lake> {
        Ok(Lake::open_existing(&self.lake, &self.options()).await?)
    }
}

/// Reads a file the user named; failures are invalid input (exit 2).
pub fn read_input_file(path: &std::path::Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).map_err(|e| invalid(format!("cannot read {what} {}: {e}", path.display())))
}

/// A private signing key.
#[derive(Debug, Clone, Args)]
pub struct SigningKeyArgs {
    /// Private key in cosign PEM format (see `tarn keys generate`).
    #[arg(long, env = "TARN_KEY", value_name = "KEY")]
    pub key: PathBuf,

    /// Environment variable holding the key's password.
    #[arg(long, default_value = "COSIGN_PASSWORD", value_name = "VAR")]
    pub password_env: String,
}

impl SigningKeyArgs {
    pub fn load(&self) -> anyhow::Result<SigningKeyPair> {
        let pem = read_input_file(&self.key, "private key")?;
        let password = std::env::var(&self.password_env).unwrap_or_default();
        SigningKeyPair::from_pem(&pem, password.as_bytes()).with_context(|| {
            format!("cannot load private key {} (password from ${})", self.key.display(), self.password_env)
        })
    }
}

pub fn load_public_keys(paths: &[PathBuf]) -> anyhow::Result<Vec<PublicKey>> {
    paths
        .iter()
        .map(|p| {
            let pem = read_input_file(p, "public key")?;
            PublicKey::from_pem(&pem).with_context(|| format!("cannot load public key {}", p.display()))
        })
        .collect()
}

pub fn parse_time_arg(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    crate::time::parse_time(s)
}

pub fn invalid(msg: impl Into<String>) -> anyhow::Error {
    InvalidInput(msg.into()).into()
}

/// What to evaluate with: frameworks, policies, image evidence.
#[derive(Debug, Clone, Default, Args)]
pub struct PolicyArgs {
    /// Frameworks (repeatable): pss-baseline, pss-restricted (@v1.N), cis-k8s (@1.9..1.12),
    /// image-policy, slsa, custom. Default: PSS and CIS, plus image policies and custom Rego
    /// found in --policies, plus SLSA when an SlsaPolicy or evidence is given.
    #[arg(long = "framework", value_name = "FRAMEWORK")]
    pub frameworks: Vec<String>,
    /// Policy directory: ClusterImagePolicies, *.rego custom policies, an SlsaPolicy.
    #[arg(long, value_name = "DIR", env = "TARN_POLICIES")]
    pub policies: Option<PathBuf>,
    /// Image evidence directory (sha256-<digest>/ subdirectories; repeatable).
    #[arg(long = "evidence", value_name = "DIR")]
    pub evidence: Vec<PathBuf>,
    /// Also fetch signatures and attestations of running images from their OCI registries.
    #[arg(long)]
    pub registry_evidence: bool,
    /// Registry host spoken to over plain HTTP (repeatable; loopback test registries).
    #[arg(long = "insecure-registry", value_name = "HOST", requires = "registry_evidence")]
    pub insecure_registries: Vec<String>,
    /// Sigstore trusted root for keyless signatures (default: the public-good instance's,
    /// built in).
    #[arg(long, value_name = "FILE", env = "TARN_TRUSTED_ROOT")]
    pub trusted_root: Option<PathBuf>,
}
