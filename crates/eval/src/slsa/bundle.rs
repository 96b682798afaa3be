//! Signature verification of DSSE provenance: Sigstore bundles through `tarn_trust`, and
//! envelopes that carry their Fulcio certificate but no transparency-log data.

use serde_json::Value;
use tarn_trust::sigstore::{
    Artifact, Cert, FulcioExtensions, Payload, Signer, TrustedRoot, VerificationKey, VerificationPolicy, verify,
};

use super::crypto::{EcKey, decode_b64, pem_der};
use super::envelope::Envelope;
use super::error::{ErrorKind, VerifyError, err};
use super::provenance::subjects_of;

/// How much of a signature was proven offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Strength {
    /// A signature by a Fulcio certificate chaining to a trusted CA, but no transparency-log
    /// entry or timestamp proves when it was made (slsa-verifier finds the entry online).
    CertificateOnly,
    /// Fully verified: a Sigstore bundle (certificate at a log- or TSA-proven time, inclusion
    /// in a trusted log) or a signature by a pinned key.
    Verified,
}

/// The Fulcio identity that signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertIdentity {
    /// Subject alternative names, certificate order (the workflow URI first for GitHub).
    pub sans: Vec<String>,
    pub issuer: String,
    pub extensions: FulcioExtensions,
}

/// A DSSE envelope whose signature verified.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedEnvelope {
    pub payload_type: String,
    pub payload: Vec<u8>,
    /// `None` for a key signature.
    pub signer: Option<CertIdentity>,
    pub strength: Strength,
    /// RFC 3339, when a log entry or timestamp proves it.
    pub signed_at: Option<String>,
}

/// True when `bytes` is a Sigstore bundle document.
pub fn is_sigstore_bundle(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| v.get("mediaType")?.as_str().map(str::to_string))
        .is_some_and(|m| m.starts_with("application/vnd.dev.sigstore.bundle"))
}

/// What a bundle's statement must name.
#[derive(Debug, Clone, Copy)]
pub enum BundleSubject {
    /// Whatever the statement names: the caller matches the artifact itself afterwards (so
    /// failures come in slsa-verifier's order: signature, identity, then digest).
    Any,
}

/// Verifies a Sigstore bundle with a DSSE envelope, keyless (any Fulcio identity: the caller
/// judges it) or with `key`.
pub fn verify_dsse_bundle(
    bundle: &[u8],
    subject: BundleSubject,
    key: Option<&VerificationKey>,
    root: &TrustedRoot,
) -> Result<VerifiedEnvelope, VerifyError> {
    let json = leaf_only(bundle)?;
    let artifact = match subject {
        BundleSubject::Any => statement_subject(&json)?,
    };
    let policy = match key {
        Some(k) => VerificationPolicy::Key(k.clone()),
        None => VerificationPolicy::identity_regex(".*", ".*")?,
    };
    let v = verify(&json, artifact, &policy, root)?;
    let Payload::Dsse { payload_type, payload, .. } = v.payload else {
        return err(ErrorKind::InvalidDssePayload, "bundle holds a message signature, not a DSSE envelope");
    };
    let signer = match v.signer {
        Signer::Certificate { subject_alternative_names, issuer, extensions, .. } => {
            Some(CertIdentity { sans: subject_alternative_names, issuer, extensions })
        }
        Signer::Key { .. } => None,
    };
    Ok(VerifiedEnvelope {
        payload_type,
        payload,
        signer,
        strength: Strength::Verified,
        signed_at: Some(v.signed_at.to_rfc3339()),
    })
}

fn hex_array<const N: usize>(h: &str) -> Result<[u8; N], VerifyError> {
    hex::decode(h)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| VerifyError::new(ErrorKind::InvalidHash, h.to_string()))
}

/// The digest the (not yet verified) statement names first: SHA-256, else SHA-512.
fn statement_subject(bundle: &[u8]) -> Result<Artifact<'static>, VerifyError> {
    let v: Value =
        serde_json::from_slice(bundle).map_err(|e| VerifyError::new(ErrorKind::InvalidFormat, e.to_string()))?;
    let payload = v.pointer("/dsseEnvelope/payload").and_then(Value::as_str).and_then(decode_b64);
    let statement: Value = payload.and_then(|p| serde_json::from_slice(&p).ok()).unwrap_or(Value::Null);
    let subjects = subjects_of(&statement);
    let digests = subjects.iter().flat_map(|(_, d)| d.iter());
    for (alg, want) in [("sha256", 64), ("sha512", 128)] {
        if let Some((_, h)) = digests.clone().find(|(a, h)| a.as_str() == alg && h.len() == want) {
            return if alg == "sha256" {
                Ok(Artifact::Sha256(hex_array(h)?))
            } else {
                Ok(Artifact::Sha512(hex_array(h)?))
            };
        }
    }
    err(ErrorKind::InvalidDssePayload, "the bundle's statement names no sha256 or sha512 subject")
}

/// Keeps only the leaf of a v0.1/v0.2 `x509CertificateChain`. Chain certificates in a bundle
/// are never trusted (paths are built from the trusted root), and slsa-verifier (sigstore-go)
/// ignores them; `tarn_trust` rejects a chain that repeats the root, which GitHub's and npm's
/// older bundles do.
fn leaf_only(bundle: &[u8]) -> Result<Vec<u8>, VerifyError> {
    let mut v: Value =
        serde_json::from_slice(bundle).map_err(|e| VerifyError::new(ErrorKind::InvalidFormat, e.to_string()))?;
    if let Some(Value::Array(certs)) = v.pointer_mut("/verificationMaterial/x509CertificateChain/certificates") {
        certs.truncate(1);
    }
    serde_json::to_vec(&v).map_err(|e| VerifyError::new(ErrorKind::Internal, e.to_string()))
}

/// Verifies a DSSE envelope that embeds its Fulcio certificate (`signatures[].cert`), as
/// slsa-github-generator's `.intoto.jsonl` files do: the signature over the PAE with the
/// certificate's key, and the certificate's issuance by a trusted Fulcio CA with an SCT. The
/// transparency-log entry that would prove the signing time is looked up online upstream;
/// offline the result is [`Strength::CertificateOnly`].
pub fn verify_envelope_with_cert(env: &Envelope, root: &TrustedRoot) -> Result<VerifiedEnvelope, VerifyError> {
    env.require_intoto()?;
    let pae = env.pae()?;
    let mut last = VerifyError::new(
        ErrorKind::RekorSearch,
        "no signature carries a certificate; offline there is no transparency log to search",
    );
    for s in env.signatures.iter().filter(|s| !s.cert.is_empty()) {
        match check_cert_signature(s.cert.as_str(), &s.sig, &pae, root) {
            Ok(signer) => {
                return Ok(VerifiedEnvelope {
                    payload_type: env.payload_type.clone(),
                    payload: env.payload_bytes()?,
                    signer: Some(signer),
                    strength: Strength::CertificateOnly,
                    signed_at: None,
                });
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn check_cert_signature(pem: &str, sig: &str, pae: &[u8], root: &TrustedRoot) -> Result<CertIdentity, VerifyError> {
    let der = pem_der(pem, "CERTIFICATE")
        .ok_or_else(|| VerifyError::new(ErrorKind::InvalidCertificate, "not a PEM certificate"))?;
    let cert = Cert::from_der(&der).map_err(|e| VerifyError::new(ErrorKind::InvalidCertificate, e))?;
    let key =
        cert.public_key().ok_or_else(|| VerifyError::new(ErrorKind::InvalidCertificate, "unsupported key type"))?;
    let key = EcKey::from_spki_der(key.der()).map_err(|e| VerifyError::new(ErrorKind::InvalidCertificate, e))?;
    let sig = decode_b64(sig).ok_or_else(|| VerifyError::new(ErrorKind::InvalidEncoding, "signature is not base64"))?;
    if !key.verify(pae, &sig) {
        return err(ErrorKind::InvalidSignature, "the envelope signature does not verify with the certificate's key");
    }
    root.verify_fulcio_certificate(&cert)?;
    Ok(CertIdentity {
        sans: cert.subject_alternative_names().map_err(|e| VerifyError::new(ErrorKind::InvalidCertificate, e))?,
        issuer: cert.oidc_issuer().unwrap_or_default(),
        extensions: cert.fulcio_extensions(),
    })
}
