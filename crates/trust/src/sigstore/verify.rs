//! The verification flow: parse, signature and artifact, transparency log, timestamps, then the
//! certificate at the verified times.

use chrono::{DateTime, Utc};
use sha2::Digest as _;

use super::bundle_json::{Bundle, Content, Material};
use super::crypto::{HashAlg, VerificationKey};
use super::rekor::{self, Expected, Signing};
use super::x509::{self, Cert};
use super::{
    Artifact, LogEntry, Payload, Signer, SigstoreError, TrustedRoot, VerificationPolicy, VerifiedBundle, dsse, fulcio,
    oids, sct, tsa,
};

/// Verifies `bundle_json` for `artifact` under `policy`, trusting only `root`.
pub fn verify(
    bundle_json: &[u8],
    artifact: Artifact<'_>,
    policy: &VerificationPolicy,
    root: &TrustedRoot,
) -> Result<VerifiedBundle, SigstoreError> {
    let bundle = Bundle::parse(bundle_json)?;
    let (key, leaf) = signing_material(&bundle, policy)?;
    let artifact_sha256: [u8; 32] = match artifact {
        Artifact::Bytes(b) => sha2::Sha256::digest(b).into(),
        Artifact::Sha256(d) => d,
        Artifact::Sha512(_) => match &bundle.content {
            // Only an in-toto statement can name an artifact by its SHA-512 alone; the digest
            // below is never used for DSSE content.
            Content::Dsse(_) => [0; 32],
            Content::MessageSignature { .. } => {
                return Err(SigstoreError::Unsupported(
                    "a message signature needs the artifact or its SHA-256, not its SHA-512".into(),
                ));
            }
        },
    };

    let (payload, signature) = match &bundle.content {
        Content::MessageSignature { digest, signature } => {
            check_message(digest.as_ref(), signature, artifact, &artifact_sha256, &key)?;
            (Payload::MessageSignature { digest: artifact_sha256 }, signature.as_slice())
        }
        Content::Dsse(env) => {
            dsse::verify_envelope(env, &key)?;
            let statement = match artifact {
                Artifact::Sha512(d) => dsse::statement_for(env, "sha512", &d)?,
                _ => dsse::statement_for(env, "sha256", &artifact_sha256)?,
            };
            let payload = Payload::Dsse {
                payload_type: env.payload_type.clone(),
                payload: env.payload.clone(),
                statement: Some(statement),
            };
            (payload, env.signatures[0].as_slice())
        }
    };

    // Transparency log: at least one entry, and every entry must verify.
    if bundle.tlog_entries.is_empty() {
        return Err(SigstoreError::bundle("no transparency log entry (at least one is required)"));
    }
    let expected = match &bundle.content {
        Content::MessageSignature { signature, .. } => {
            let bytes = match artifact {
                Artifact::Bytes(b) => Some(b),
                Artifact::Sha256(_) | Artifact::Sha512(_) => None,
            };
            Expected::Message { sha256: &artifact_sha256, bytes, signature }
        }
        Content::Dsse(env) => Expected::Dsse(env),
    };
    let signing = match &leaf {
        Some(cert) => Signing::Certificate(cert.der()),
        None => Signing::Key(&key),
    };
    let entries = bundle
        .tlog_entries
        .iter()
        .map(|e| rekor::verify_entry(e, root, expected, signing).map(|v| (e, v)))
        .collect::<Result<Vec<_>, _>>()?;

    // RFC 3161 timestamps over the signature: every one must verify.
    let timestamps =
        bundle.timestamps.iter().map(|t| tsa::verify(t, signature, root)).collect::<Result<Vec<_>, _>>()?;

    let mut times: Vec<DateTime<Utc>> = entries.iter().filter_map(|(_, v)| v.integrated_time).collect();
    times.extend(&timestamps);
    if times.is_empty() {
        return Err(SigstoreError::Timestamp(
            "no verified time: log entries without a signed entry timestamp (Rekor v2) need an RFC 3161 timestamp"
                .into(),
        ));
    }
    // A log without a vouched-for integrated time must have been trusted when the TSA saw the signature.
    for (_, v) in entries.iter().filter(|(_, v)| v.integrated_time.is_none()) {
        if let Some(&t) = timestamps.iter().find(|t| !v.log.valid_for.contains(**t)) {
            return Err(SigstoreError::ValidityWindow {
                what: format!("the key of transparency log {}", v.log.base_url),
                time: t,
            });
        }
    }

    let signer = match &leaf {
        None => Signer::Key { key_id: key.key_id() },
        Some(leaf) => verify_certificate(leaf, &times, policy, root)?,
    };
    let log_entries = entries
        .iter()
        .map(|(e, v)| LogEntry {
            log_url: v.log.base_url.clone(),
            log_index: e.log_index,
            integrated_time: v.integrated_time,
        })
        .collect();
    let signed_at = times.iter().copied().min().expect("times is not empty");
    Ok(VerifiedBundle { version: bundle.version, payload, signer, signed_at, log_entries, timestamps })
}

/// The key that must have made the signature, and the leaf certificate when there is one.
fn signing_material(
    bundle: &Bundle,
    policy: &VerificationPolicy,
) -> Result<(VerificationKey, Option<Cert>), SigstoreError> {
    match (&bundle.material, policy) {
        (Material::PublicKey { .. }, VerificationPolicy::Key(k)) => Ok((k.clone(), None)),
        (Material::PublicKey { hint }, _) => Err(SigstoreError::PolicyMismatch(format!(
            "bundle is signed with a public key (hint {hint:?}) but no key was given"
        ))),
        (Material::Certificates(_), VerificationPolicy::Key(_)) => {
            Err(SigstoreError::PolicyMismatch("bundle is signed with a certificate but a key was given".into()))
        }
        (Material::Certificates(certs), _) => {
            let leaf =
                Cert::from_der(&certs[0]).map_err(|e| SigstoreError::bundle(format!("signing certificate: {e}")))?;
            // Intermediates and roots come from the trusted root only; a bundle carrying a root
            // is malformed (and would invite trusting it).
            for der in &certs[1..] {
                let cert = Cert::from_der(der).map_err(|e| SigstoreError::bundle(format!("chain certificate: {e}")))?;
                if cert.is_self_signed() {
                    return Err(SigstoreError::CertificateChain(
                        "bundle certificate chain contains a root certificate".into(),
                    ));
                }
            }
            let key =
                leaf.key().cloned().ok_or_else(|| SigstoreError::Unsupported("signing certificate key type".into()))?;
            Ok((key, Some(leaf)))
        }
    }
}

/// The artifact digest in the bundle must match, and the signature must verify over it.
fn check_message(
    digest: Option<&(HashAlg, Vec<u8>)>,
    signature: &[u8],
    artifact: Artifact<'_>,
    artifact_sha256: &[u8; 32],
    key: &VerificationKey,
) -> Result<(), SigstoreError> {
    let digest_of = |alg: HashAlg| -> Result<Vec<u8>, SigstoreError> {
        match (alg, artifact) {
            (HashAlg::Sha256, _) => Ok(artifact_sha256.to_vec()),
            (alg, Artifact::Bytes(b)) => Ok(alg.digest(b)),
            (alg, Artifact::Sha256(_) | Artifact::Sha512(_)) => {
                Err(SigstoreError::Unsupported(format!("a {alg:?} signature needs the artifact, not its SHA-256")))
            }
        }
    };
    if let Some((alg, d)) = digest
        && digest_of(*alg)? != *d
    {
        return Err(SigstoreError::ArtifactMismatch("the bundle's message digest is not the artifact's".into()));
    }
    let ok = match key.artifact_hash() {
        Some(alg) => key.verify_digest(key.scheme(alg), &digest_of(alg)?, signature),
        None => match artifact {
            Artifact::Bytes(b) => key.verify(key.scheme(HashAlg::Sha256), b, signature),
            Artifact::Sha256(_) | Artifact::Sha512(_) => {
                return Err(SigstoreError::Unsupported(
                    "an Ed25519 signature needs the artifact, not its digest".into(),
                ));
            }
        },
    };
    if !ok {
        return Err(SigstoreError::BadSignature("artifact signature does not verify with the signing key".into()));
    }
    Ok(())
}

fn verify_certificate(
    leaf: &Cert,
    times: &[DateTime<Utc>],
    policy: &VerificationPolicy,
    root: &TrustedRoot,
) -> Result<Signer, SigstoreError> {
    let paths = x509::trusted_paths(leaf, &root.certificate_authorities, oids::KP_CODE_SIGNING)?;
    x509::check_times(leaf, &paths, times, "signing certificate")?;
    let mut sct_result = Err(SigstoreError::Sct("no issuer".into()));
    for p in &paths {
        sct_result = sct::verify_embedded(leaf, p.issuer(), root);
        if sct_result.is_ok() {
            break;
        }
    }
    sct_result?;

    let sans = fulcio::san_identities(leaf).map_err(SigstoreError::CertificateChain)?;
    let issuer = fulcio::oidc_issuer(leaf).ok_or_else(|| SigstoreError::IdentityMismatch {
        expected: "an OIDC issuer extension".into(),
        found: "none".into(),
    })?;
    let (identity_ok, issuer_ok, expected) = match policy {
        VerificationPolicy::Identity { identity, issuer: want } => {
            (sans.iter().find(|s| *s == identity), issuer == *want, format!("{identity} from {want}"))
        }
        VerificationPolicy::IdentityRegex { identity, issuer: want } => {
            (sans.iter().find(|s| identity.is_match(s)), want.is_match(&issuer), format!("/{identity}/ from /{want}/"))
        }
        VerificationPolicy::Key(_) => {
            return Err(SigstoreError::PolicyMismatch(
                "bundle is signed with a certificate but a key was given".into(),
            ));
        }
    };
    let (Some(identity), true) = (identity_ok, issuer_ok) else {
        return Err(SigstoreError::IdentityMismatch { expected, found: format!("{} from {issuer}", sans.join(", ")) });
    };
    Ok(Signer::Certificate {
        identity: identity.clone(),
        issuer,
        extensions: fulcio::FulcioExtensions::from_cert(leaf),
        subject_alternative_names: sans.clone(),
        not_before: leaf.not_before,
        not_after: leaf.not_after,
        certificate_der: leaf.der().to_vec(),
    })
}
