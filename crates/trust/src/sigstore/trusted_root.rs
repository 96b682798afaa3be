//! The Sigstore trusted root (`application/vnd.dev.sigstore.trustedroot+json`): transparency
//! logs, Fulcio CAs, CT logs and timestamp authorities, each with a closed validity interval.

use serde::Deserialize;

use super::SigstoreError;
use super::bundle_json::{ProtoBytes, decode_b64};
use super::crypto::VerificationKey;
use super::time::{TimeRange, parse_rfc3339};
use super::x509::Cert;

/// The Sigstore public-good production root, as shipped with sigstore-python (see
/// `fixtures/sigstore-conformance/README.md`).
const PRODUCTION_ROOT: &[u8] = include_bytes!("../../../../fixtures/sigstore-conformance/production_trusted_root.json");

/// A transparency log (Rekor) or certificate-transparency log.
#[derive(Debug, Clone)]
pub struct TransparencyLog {
    pub base_url: String,
    /// `None` when the key type is not supported: the log is then never trusted.
    pub key: Option<VerificationKey>,
    pub valid_for: TimeRange,
    pub log_id: Vec<u8>,
}

/// A certificate authority (Fulcio) or timestamp authority: a chain from the issuing (or
/// signing) certificate up to the root, and when the trusted root vouches for it.
#[derive(Debug, Clone)]
pub struct CertificateAuthority {
    pub uri: String,
    pub chain: Vec<Cert>,
    pub valid_for: TimeRange,
}

/// Everything a verifier trusts.
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    pub tlogs: Vec<TransparencyLog>,
    pub certificate_authorities: Vec<CertificateAuthority>,
    pub ctlogs: Vec<TransparencyLog>,
    pub timestamp_authorities: Vec<CertificateAuthority>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRoot {
    media_type: String,
    #[serde(default)]
    tlogs: Vec<RawLog>,
    #[serde(default)]
    certificate_authorities: Vec<RawCa>,
    #[serde(default)]
    ctlogs: Vec<RawLog>,
    #[serde(default)]
    timestamp_authorities: Vec<RawCa>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLog {
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    hash_algorithm: Option<String>,
    public_key: RawPublicKey,
    log_id: RawLogId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPublicKey {
    raw_bytes: ProtoBytes,
    key_details: String,
    valid_for: Option<RawTimeRange>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: ProtoBytes,
}

#[derive(Deserialize)]
struct RawTimeRange {
    start: Option<String>,
    end: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCa {
    #[serde(default)]
    uri: String,
    cert_chain: RawChain,
    valid_for: Option<RawTimeRange>,
}

#[derive(Deserialize)]
struct RawChain {
    #[serde(default)]
    certificates: Vec<RawCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    raw_bytes: ProtoBytes,
}

fn bad(msg: impl Into<String>) -> SigstoreError {
    SigstoreError::MalformedTrustedRoot(msg.into())
}

/// A missing `validFor` means "always"; a present one must have a start (an absent start is
/// not read as "since forever").
fn time_range(raw: Option<RawTimeRange>, what: &str) -> Result<TimeRange, SigstoreError> {
    let Some(raw) = raw else {
        return Ok(TimeRange { start: chrono::DateTime::<chrono::Utc>::MIN_UTC, end: None });
    };
    let start = raw.start.ok_or_else(|| bad(format!("{what}: validFor has no start")))?;
    let start = parse_rfc3339(&start).map_err(|e| bad(format!("{what}: {e}")))?;
    let end = raw.end.map(|e| parse_rfc3339(&e)).transpose().map_err(|e| bad(format!("{what}: {e}")))?;
    if end.is_some_and(|e| e < start) {
        return Err(bad(format!("{what}: validFor ends before it starts")));
    }
    Ok(TimeRange { start, end })
}

fn log(raw: RawLog, what: &str) -> Result<TransparencyLog, SigstoreError> {
    let what = format!("{what} {}", raw.base_url);
    if let Some(h) = raw.hash_algorithm.as_deref()
        && h != "SHA2_256"
    {
        return Err(bad(format!("{what}: unsupported hash algorithm {h}")));
    }
    let der = decode_b64(&raw.public_key.raw_bytes.0).map_err(|e| bad(format!("{what}: key: {e}")))?;
    let key = match raw.public_key.key_details.as_str() {
        "PKCS1_RSA_PKCS1V5" => Some(VerificationKey::from_pkcs1_rsa_der(&der)),
        "PKIX_ECDSA_P256_SHA_256"
        | "PKIX_ECDSA_P384_SHA_384"
        | "PKIX_ED25519"
        | "PKIX_RSA_PKCS1V15_2048_SHA256"
        | "PKIX_RSA_PKCS1V15_3072_SHA256"
        | "PKIX_RSA_PKCS1V15_4096_SHA256" => Some(VerificationKey::from_spki_der(&der)),
        // A key type this verifier cannot use leaves that log untrusted rather than the whole root unusable.
        _ => None,
    }
    .transpose()
    .map_err(|e| bad(format!("{what}: {e}")))?;
    let log_id = decode_b64(&raw.log_id.key_id.0).map_err(|e| bad(format!("{what}: log id: {e}")))?;
    Ok(TransparencyLog { valid_for: time_range(raw.public_key.valid_for, &what)?, base_url: raw.base_url, key, log_id })
}

fn authority(raw: RawCa, what: &str) -> Result<CertificateAuthority, SigstoreError> {
    let what = format!("{what} {}", raw.uri);
    let chain = raw
        .cert_chain
        .certificates
        .iter()
        .map(|c| {
            let der = decode_b64(&c.raw_bytes.0)?;
            Cert::from_der(&der)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("{what}: {e}")))?;
    if chain.is_empty() {
        return Err(bad(format!("{what}: empty certificate chain")));
    }
    Ok(CertificateAuthority { valid_for: time_range(raw.valid_for, &what)?, uri: raw.uri, chain })
}

impl TrustedRoot {
    /// Parses a trusted root JSON document.
    pub fn from_json(json: &[u8]) -> Result<Self, SigstoreError> {
        let raw: RawRoot = serde_json::from_slice(json).map_err(|e| bad(format!("not a trusted root: {e}")))?;
        if !raw.media_type.starts_with("application/vnd.dev.sigstore.trustedroot") {
            return Err(bad(format!("unexpected media type {:?}", raw.media_type)));
        }
        Ok(Self {
            tlogs: raw.tlogs.into_iter().map(|l| log(l, "tlog")).collect::<Result<_, _>>()?,
            certificate_authorities: raw
                .certificate_authorities
                .into_iter()
                .map(|c| authority(c, "certificate authority"))
                .collect::<Result<_, _>>()?,
            ctlogs: raw.ctlogs.into_iter().map(|l| log(l, "ctlog")).collect::<Result<_, _>>()?,
            timestamp_authorities: raw
                .timestamp_authorities
                .into_iter()
                .map(|c| authority(c, "timestamp authority"))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The Sigstore public-good production root embedded in this crate.
    pub fn production() -> Self {
        Self::from_json(PRODUCTION_ROOT).expect("the embedded production trusted root parses")
    }

    pub(crate) fn tlog(&self, log_id: &[u8]) -> Option<&TransparencyLog> {
        self.tlogs.iter().find(|l| l.log_id == log_id)
    }

    pub(crate) fn ctlog(&self, log_id: &[u8]) -> Option<&TransparencyLog> {
        self.ctlogs.iter().find(|l| l.log_id == log_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_root_loads() {
        let root = TrustedRoot::production();
        assert_eq!(root.tlogs.len(), 2);
        assert_eq!(root.certificate_authorities.len(), 2);
        assert_eq!(root.ctlogs.len(), 2);
        assert_eq!(root.timestamp_authorities.len(), 1);
        assert!(root.tlogs.iter().all(|l| l.key.is_some()));
    }

    #[test]
    fn validity_start_is_required_but_validity_is_optional() {
        let json = |valid_for: &str| {
            format!(
                r#"{{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[{{"baseUrl":"https://l","hashAlgorithm":"SHA2_256","publicKey":{{"rawBytes":"MCowBQYDK2VwAyEAPn+AREHoBaZ7wgS1zBqpxmLSGnyhxXj4lFxSdWVB8o8=","keyDetails":"PKIX_ED25519"{valid_for}}},"logId":{{"keyId":"AAAA"}}}}]}}"#
            )
        };
        assert!(TrustedRoot::from_json(json("").as_bytes()).is_ok());
        assert!(
            TrustedRoot::from_json(json(r#","validFor":{"start":"2025-01-01T00:00:00Z","end":null}"#).as_bytes())
                .is_ok()
        );
        let e = TrustedRoot::from_json(json(r#","validFor":{"end":"2026-01-01T00:00:00Z"}"#).as_bytes()).unwrap_err();
        assert!(matches!(e, SigstoreError::MalformedTrustedRoot(ref m) if m.contains("no start")), "{e}");
    }
}
