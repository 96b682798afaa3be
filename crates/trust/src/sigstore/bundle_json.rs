//! The Sigstore bundle JSON (protobuf JSON mapping of `dev.sigstore.bundle.v1.Bundle`), media
//! types v0.1, v0.2 and v0.3 (both spellings), decoded into checked Rust values.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Deserialize;

use super::SigstoreError;
use super::crypto::HashAlg;

/// Protobuf `bytes` in JSON: base64, standard or URL-safe alphabet, padding optional.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub(crate) struct ProtoBytes(pub String);

/// Protobuf `int64` in JSON: a decimal string or a number.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum ProtoInt {
    Str(String),
    Num(i64),
}

impl ProtoInt {
    fn get(&self, what: &str) -> Result<i64, SigstoreError> {
        match self {
            Self::Num(n) => Ok(*n),
            Self::Str(s) => s.parse().map_err(|_| SigstoreError::bundle(format!("{what} {s:?} is not an integer"))),
        }
    }
}

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
const URL: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);

/// Decodes protobuf-JSON base64. Like Go's and Python's decoders, line breaks are ignored
/// (some tools wrap base64 at 76 columns); any other stray character is an error.
pub(crate) fn decode_b64(s: &str) -> Result<Vec<u8>, String> {
    let cleaned;
    let s = if s.contains(['\n', '\r']) {
        cleaned = s.replace(['\n', '\r'], "");
        cleaned.as_str()
    } else {
        s
    };
    STD.decode(s).or_else(|_| URL.decode(s)).map_err(|e| format!("invalid base64: {e}"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBundle {
    media_type: String,
    verification_material: RawMaterial,
    message_signature: Option<RawMessageSignature>,
    dsse_envelope: Option<RawEnvelope>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMaterial {
    public_key: Option<RawHint>,
    x509_certificate_chain: Option<RawChain>,
    certificate: Option<RawCert>,
    #[serde(default)]
    tlog_entries: Vec<RawTlogEntry>,
    timestamp_verification_data: Option<RawTimestamps>,
}

#[derive(Deserialize)]
struct RawHint {
    #[serde(default)]
    hint: String,
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTimestamps {
    #[serde(default)]
    rfc3161_timestamps: Vec<RawTimestamp>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTimestamp {
    signed_timestamp: ProtoBytes,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTlogEntry {
    log_index: ProtoInt,
    log_id: RawLogId,
    kind_version: RawKindVersion,
    integrated_time: Option<ProtoInt>,
    inclusion_promise: Option<RawPromise>,
    inclusion_proof: Option<RawProof>,
    canonicalized_body: Option<ProtoBytes>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: ProtoBytes,
}

#[derive(Deserialize)]
struct RawKindVersion {
    kind: String,
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPromise {
    signed_entry_timestamp: ProtoBytes,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProof {
    log_index: ProtoInt,
    root_hash: ProtoBytes,
    tree_size: ProtoInt,
    #[serde(default)]
    hashes: Vec<ProtoBytes>,
    checkpoint: Option<RawCheckpoint>,
}

#[derive(Deserialize)]
struct RawCheckpoint {
    envelope: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMessageSignature {
    message_digest: Option<RawDigest>,
    signature: ProtoBytes,
}

#[derive(Deserialize)]
struct RawDigest {
    algorithm: String,
    digest: ProtoBytes,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvelope {
    payload: ProtoBytes,
    payload_type: String,
    #[serde(default)]
    signatures: Vec<RawEnvelopeSignature>,
}

#[derive(Deserialize)]
struct RawEnvelopeSignature {
    sig: ProtoBytes,
}

/// Bundle format versions; rules differ per version (see [`Bundle::parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BundleVersion {
    V0_1,
    V0_2,
    V0_3,
}

impl BundleVersion {
    pub(crate) fn from_media_type(mt: &str) -> Result<Self, SigstoreError> {
        match mt {
            "application/vnd.dev.sigstore.bundle+json;version=0.1" => Ok(Self::V0_1),
            "application/vnd.dev.sigstore.bundle+json;version=0.2" => Ok(Self::V0_2),
            "application/vnd.dev.sigstore.bundle+json;version=0.3"
            | "application/vnd.dev.sigstore.bundle.v0.3+json" => Ok(Self::V0_3),
            other => Err(SigstoreError::UnsupportedMediaType(other.to_string())),
        }
    }
}

/// Who signed: a public key (identified out of band) or a certificate chain (leaf first).
#[derive(Debug, Clone)]
pub(crate) enum Material {
    PublicKey { hint: String },
    Certificates(Vec<Vec<u8>>),
}

#[derive(Debug, Clone)]
pub(crate) struct InclusionProof {
    pub log_index: u64,
    pub root_hash: [u8; 32],
    pub tree_size: u64,
    pub hashes: Vec<[u8; 32]>,
    pub checkpoint: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct TlogEntry {
    pub log_index: i64,
    pub log_id: Vec<u8>,
    pub kind: String,
    pub version: String,
    /// `None` when absent or zero (Rekor v2 entries have no integrated time).
    pub integrated_time: Option<i64>,
    pub signed_entry_timestamp: Option<Vec<u8>>,
    pub inclusion_proof: Option<InclusionProof>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    pub payload_type: String,
    pub payload: Vec<u8>,
    /// Signature bytes (the base64 `sig` decoded).
    pub signatures: Vec<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub(crate) enum Content {
    MessageSignature { digest: Option<(HashAlg, Vec<u8>)>, signature: Vec<u8> },
    Dsse(Envelope),
}

/// A parsed bundle whose shape has been checked; nothing has been verified yet.
#[derive(Debug, Clone)]
pub(crate) struct Bundle {
    pub version: BundleVersion,
    pub material: Material,
    pub tlog_entries: Vec<TlogEntry>,
    pub timestamps: Vec<Vec<u8>>,
    pub content: Content,
}

fn bytes(b: &ProtoBytes, what: &str) -> Result<Vec<u8>, SigstoreError> {
    decode_b64(&b.0).map_err(|e| SigstoreError::bundle(format!("{what}: {e}")))
}

fn hash32(b: &ProtoBytes, what: &str) -> Result<[u8; 32], SigstoreError> {
    bytes(b, what)?.try_into().map_err(|_| SigstoreError::bundle(format!("{what} is not 32 bytes")))
}

fn tlog_entry(raw: RawTlogEntry, version: BundleVersion) -> Result<TlogEntry, SigstoreError> {
    let log_index = raw.log_index.get("logIndex")?;
    if log_index < 0 {
        return Err(SigstoreError::bundle(format!("negative log index {log_index}")));
    }
    let integrated_time = raw.integrated_time.map(|t| t.get("integratedTime")).transpose()?.filter(|t| *t != 0);
    if integrated_time.is_some_and(|t| t < 0) {
        return Err(SigstoreError::bundle("negative integrated time"));
    }
    let inclusion_proof = raw
        .inclusion_proof
        .map(|p| -> Result<InclusionProof, SigstoreError> {
            let idx = p.log_index.get("inclusionProof.logIndex")?;
            let size = p.tree_size.get("inclusionProof.treeSize")?;
            let (Ok(log_index), Ok(tree_size)) = (u64::try_from(idx), u64::try_from(size)) else {
                return Err(SigstoreError::bundle("negative inclusion proof index or tree size"));
            };
            Ok(InclusionProof {
                log_index,
                tree_size,
                root_hash: hash32(&p.root_hash, "inclusionProof.rootHash")?,
                hashes: p.hashes.iter().map(|h| hash32(h, "inclusion proof hash")).collect::<Result<_, _>>()?,
                checkpoint: p.checkpoint.map(|c| c.envelope),
            })
        })
        .transpose()?;
    let signed_entry_timestamp =
        raw.inclusion_promise.map(|p| bytes(&p.signed_entry_timestamp, "signedEntryTimestamp")).transpose()?;
    // v0.1 bundles prove inclusion by promise (SET); from v0.2 on an inclusion proof is required.
    if version == BundleVersion::V0_1 && signed_entry_timestamp.is_none() {
        return Err(SigstoreError::bundle(format!("v0.1 bundle log entry {log_index} has no inclusion promise")));
    }
    if version >= BundleVersion::V0_2 && inclusion_proof.is_none() {
        return Err(SigstoreError::bundle(format!("log entry {log_index} has no inclusion proof")));
    }
    let body = raw
        .canonicalized_body
        .as_ref()
        .map(|b| bytes(b, "canonicalizedBody"))
        .transpose()?
        .filter(|b| !b.is_empty())
        .ok_or_else(|| SigstoreError::bundle(format!("log entry {log_index} has no canonicalized body")))?;
    Ok(TlogEntry {
        log_index,
        log_id: bytes(&raw.log_id.key_id, "logId")?,
        kind: raw.kind_version.kind,
        version: raw.kind_version.version,
        integrated_time,
        signed_entry_timestamp,
        inclusion_proof,
        body,
    })
}

impl Bundle {
    pub(crate) fn parse(json: &[u8]) -> Result<Self, SigstoreError> {
        let raw: RawBundle =
            serde_json::from_slice(json).map_err(|e| SigstoreError::bundle(format!("not a bundle: {e}")))?;
        let version = BundleVersion::from_media_type(&raw.media_type)?;
        let m = raw.verification_material;
        let material = match (m.public_key, m.x509_certificate_chain, m.certificate) {
            (Some(k), None, None) => Material::PublicKey { hint: k.hint },
            (None, Some(chain), None) => {
                let certs = chain
                    .certificates
                    .iter()
                    .map(|c| bytes(&c.raw_bytes, "certificate"))
                    .collect::<Result<Vec<_>, _>>()?;
                if certs.is_empty() {
                    return Err(SigstoreError::bundle("empty certificate chain"));
                }
                Material::Certificates(certs)
            }
            (None, None, Some(c)) => Material::Certificates(vec![bytes(&c.raw_bytes, "certificate")?]),
            _ => {
                return Err(SigstoreError::bundle(
                    "verification material must be exactly one of publicKey, x509CertificateChain, certificate",
                ));
            }
        };
        let content = match (raw.message_signature, raw.dsse_envelope) {
            (Some(ms), None) => {
                let digest = ms
                    .message_digest
                    .map(|d| -> Result<_, SigstoreError> {
                        let alg = HashAlg::from_proto_name(&d.algorithm).ok_or_else(|| {
                            SigstoreError::Unsupported(format!("message digest algorithm {}", d.algorithm))
                        })?;
                        Ok((alg, bytes(&d.digest, "messageDigest.digest")?))
                    })
                    .transpose()?;
                Content::MessageSignature { digest, signature: bytes(&ms.signature, "messageSignature.signature")? }
            }
            (None, Some(env)) => {
                let signatures =
                    env.signatures.iter().map(|s| bytes(&s.sig, "dsse signature")).collect::<Result<Vec<_>, _>>()?;
                if signatures.len() != 1 {
                    return Err(SigstoreError::bundle(format!(
                        "dsse envelope must carry exactly one signature, found {}",
                        signatures.len()
                    )));
                }
                Content::Dsse(Envelope {
                    payload_type: env.payload_type,
                    payload: bytes(&env.payload, "dsse payload")?,
                    signatures,
                })
            }
            _ => return Err(SigstoreError::bundle("content must be exactly one of messageSignature, dsseEnvelope")),
        };
        let tlog_entries = m.tlog_entries.into_iter().map(|e| tlog_entry(e, version)).collect::<Result<Vec<_>, _>>()?;
        let timestamps = m
            .timestamp_verification_data
            .map(|t| t.rfc3161_timestamps.iter().map(|ts| bytes(&ts.signed_timestamp, "signedTimestamp")).collect())
            .transpose()?
            .unwrap_or_default();
        Ok(Self { version, material, tlog_entries, timestamps, content })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        assert_eq!(
            BundleVersion::from_media_type("application/vnd.dev.sigstore.bundle.v0.3+json").unwrap(),
            BundleVersion::V0_3
        );
        assert_eq!(
            BundleVersion::from_media_type("application/vnd.dev.sigstore.bundle+json;version=0.1").unwrap(),
            BundleVersion::V0_1
        );
        assert!(matches!(
            BundleVersion::from_media_type("application/vnd.dev.sigstore.bundle+json;version=99.9"),
            Err(SigstoreError::UnsupportedMediaType(_))
        ));
    }

    #[test]
    fn lenient_protobuf_base64() {
        assert_eq!(decode_b64("aGk=").unwrap(), b"hi");
        assert_eq!(decode_b64("aGk").unwrap(), b"hi");
        assert_eq!(decode_b64("-_8").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(decode_b64("aG\nk=\r\n").unwrap(), b"hi");
        assert!(decode_b64("INVALID!!!BASE64!!!ENCODING====").is_err());
        assert!(decode_b64("aG k=").is_err());
    }
}
