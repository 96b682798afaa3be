//! `tarn trust verify-bundle`: offline Sigstore bundle verification, speaking the
//! sigstore-conformance client protocol.

use std::path::{Path, PathBuf};

use tarn_trust::sigstore::{Artifact, Signer, TrustedRoot, VerificationKey, VerificationPolicy, verify};

use crate::exit::{self, InvalidInput};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("policy").required(true).args(["certificate_identity", "key"])))]
pub struct VerifyBundleArgs {
    /// The Sigstore bundle (JSON, media type v0.1 to v0.3).
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,
    /// Expected certificate identity (a SAN of the signing certificate), exact match.
    #[arg(long, value_name = "ID", requires = "certificate_oidc_issuer")]
    pub certificate_identity: Option<String>,
    /// Expected OIDC issuer of the signing certificate, exact match.
    #[arg(long, value_name = "URL", requires = "certificate_identity")]
    pub certificate_oidc_issuer: Option<String>,
    /// Public key (PEM) that signed the bundle, for bundles signed with a key instead of a certificate.
    #[arg(long, value_name = "PUB")]
    pub key: Option<PathBuf>,
    /// Trusted root JSON. Default: the Sigstore public-good production root built into tarn.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// The signed artifact: a file, or `sha256:<hex>` to give only its digest.
    #[arg(value_name = "FILE_OR_DIGEST")]
    pub artifact: String,
}

fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| InvalidInput(format!("cannot read {what} {}: {e}", path.display())).into())
}

/// Verifies the bundle; exit status 0 only when it verified, 1 when it did not (the reason goes
/// to stderr on one line), 2 when an input cannot be read or parsed.
pub fn verify_bundle(a: VerifyBundleArgs) -> anyhow::Result<u8> {
    let bundle = read(&a.bundle, "bundle")?;
    let policy = match (&a.key, a.certificate_identity, a.certificate_oidc_issuer) {
        (Some(key), None, None) => {
            let pem = String::from_utf8_lossy(&read(key, "key")?).into_owned();
            let key = VerificationKey::from_pem(&pem).map_err(|e| InvalidInput(format!("{}: {e}", key.display())))?;
            VerificationPolicy::Key(key)
        }
        (None, Some(identity), Some(issuer)) => VerificationPolicy::Identity { identity, issuer },
        _ => {
            return Err(InvalidInput(
                "give either --key or both --certificate-identity and --certificate-oidc-issuer".into(),
            )
            .into());
        }
    };
    let root = match &a.trusted_root {
        Some(p) => TrustedRoot::from_json(&read(p, "trusted root")?)
            .map_err(|e| InvalidInput(format!("{}: {e}", p.display())))?,
        None => TrustedRoot::production(),
    };
    let file;
    let artifact = if a.artifact.starts_with("sha256:") {
        let digest = Artifact::parse_digest(&a.artifact)
            .ok_or_else(|| InvalidInput(format!("{:?} is not sha256:<64 hex digits>", a.artifact)))?;
        Artifact::Sha256(digest)
    } else {
        file = read(Path::new(&a.artifact), "artifact")?;
        Artifact::Bytes(&file)
    };
    match verify(&bundle, artifact, &policy, &root) {
        Ok(v) => {
            let by = match &v.signer {
                Signer::Key { key_id } => format!("key {key_id}"),
                Signer::Certificate { identity, issuer, .. } => format!("{identity} (issuer {issuer})"),
            };
            println!("verified: signed at {} by {by}", v.signed_at.to_rfc3339());
            Ok(exit::OK)
        }
        Err(e) => {
            eprintln!("verification failed: {e}");
            Ok(exit::FAILED)
        }
    }
}
