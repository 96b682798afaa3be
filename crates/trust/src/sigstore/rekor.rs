//! Rekor transparency-log entries: the canonicalized body must describe exactly this bundle's
//! signature, artifact or envelope, and signing material; the signed entry timestamp (SET),
//! the Merkle inclusion proof and its checkpoint must verify against the trusted log.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::bundle_json::{Envelope, TlogEntry, decode_b64};
use super::canonical_json::to_canonical_json;
use super::crypto::{HashAlg, VerificationKey, decode_pem};
use super::trusted_root::{TransparencyLog, TrustedRoot};
use super::{SigstoreError, checkpoint, merkle, time};

/// What the log entry must commit to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Expected<'a> {
    /// A signature over an artifact with this SHA-256 digest (and these bytes, when known:
    /// logs may record another digest of it).
    Message {
        sha256: &'a [u8],
        bytes: Option<&'a [u8]>,
        signature: &'a [u8],
    },
    Dsse(&'a Envelope),
}

/// Who signed, as the log entry must record it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Signing<'a> {
    Certificate(&'a [u8]),
    Key(&'a VerificationKey),
}

/// A log entry that verified.
#[derive(Debug, Clone)]
pub(crate) struct VerifiedEntry<'a> {
    pub log: &'a TransparencyLog,
    /// The integrated time, only when a verified SET vouches for it.
    pub integrated_time: Option<DateTime<Utc>>,
}

fn mismatch(entry: &TlogEntry, reason: impl Into<String>) -> SigstoreError {
    SigstoreError::TlogEntryMismatch { log_index: entry.log_index, reason: reason.into() }
}

fn str_at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

fn b64_at(v: &Value, path: &[&str]) -> Option<Vec<u8>> {
    decode_b64(str_at(v, path)?).ok()
}

/// A base64 PEM (as hashedrekord 0.0.1, dsse and intoto record keys) names this signer.
fn pem_names_signer(b64_pem: Option<Vec<u8>>, signing: Signing<'_>) -> bool {
    let Some(pem) = b64_pem else { return false };
    let Ok((label, der)) = std::str::from_utf8(&pem).map_err(|e| e.to_string()).and_then(decode_pem) else {
        return false;
    };
    match (label.as_str(), signing) {
        ("CERTIFICATE", Signing::Certificate(leaf)) => der == leaf,
        ("PUBLIC KEY", Signing::Key(key)) => der == key.der(),
        _ => false,
    }
}

/// The artifact's digest under `alg`: SHA-256 is always known, others need the bytes.
fn artifact_digest(alg: Option<HashAlg>, sha256: &[u8], bytes: Option<&[u8]>) -> Result<Vec<u8>, String> {
    match (alg, bytes) {
        (Some(HashAlg::Sha256), _) => Ok(sha256.to_vec()),
        (Some(alg), Some(b)) => Ok(alg.digest(b)),
        (Some(alg), None) => Err(format!("the log records a {alg:?} digest; it needs the artifact, not its SHA-256")),
        (None, _) => Err("unsupported logged digest algorithm".into()),
    }
}

fn check_hashedrekord_v001(body: &Value, expected: Expected<'_>, signing: Signing<'_>) -> Result<(), String> {
    let Expected::Message { sha256, bytes, signature } = expected else {
        return Err("a hashedrekord 0.0.1 entry cannot record a dsse envelope".into());
    };
    let alg = match str_at(body, &["spec", "data", "hash", "algorithm"]) {
        Some("sha256") => Some(HashAlg::Sha256),
        Some("sha384") => Some(HashAlg::Sha384),
        Some("sha512") => Some(HashAlg::Sha512),
        _ => None,
    };
    let want = artifact_digest(alg, sha256, bytes)?;
    if str_at(body, &["spec", "data", "hash", "value"]).map(str::to_ascii_lowercase) != Some(hex::encode(want)) {
        return Err("logged artifact digest differs".into());
    }
    if b64_at(body, &["spec", "signature", "content"]).as_deref() != Some(signature) {
        return Err("logged signature differs".into());
    }
    if !pem_names_signer(b64_at(body, &["spec", "signature", "publicKey", "content"]), signing) {
        return Err("logged signing certificate or key differs".into());
    }
    Ok(())
}

fn check_hashedrekord_v002(body: &Value, expected: Expected<'_>, signing: Signing<'_>) -> Result<(), String> {
    let spec = body.get("spec").and_then(|s| s.get("hashedRekordV002")).ok_or("no hashedRekordV002 spec")?;
    // Rekor v2 logs a DSSE envelope as a hashedrekord over the envelope's PAE.
    let alg = str_at(spec, &["data", "algorithm"]).and_then(HashAlg::from_proto_name);
    let (digest, signature) = match expected {
        Expected::Message { sha256, bytes, signature } => (artifact_digest(alg, sha256, bytes)?, signature),
        Expected::Dsse(env) => {
            let pae = crate::dsse::pae(&env.payload_type, &env.payload);
            (alg.ok_or("unsupported logged digest algorithm")?.digest(&pae), env.signatures[0].as_slice())
        }
    };
    if b64_at(spec, &["data", "digest"]) != Some(digest) {
        return Err("logged digest differs".into());
    }
    if b64_at(spec, &["signature", "content"]).as_deref() != Some(signature) {
        return Err("logged signature differs".into());
    }
    let verifier = spec.get("signature").and_then(|s| s.get("verifier")).ok_or("no verifier")?;
    let ok = match signing {
        Signing::Certificate(leaf) => b64_at(verifier, &["x509Certificate", "rawBytes"]).as_deref() == Some(leaf),
        Signing::Key(key) => b64_at(verifier, &["publicKey", "rawBytes"]).as_deref() == Some(key.der()),
    };
    if !ok {
        return Err("logged signing certificate or key differs".into());
    }
    Ok(())
}

fn check_payload_hash(hash: Option<&Value>, payload: &[u8]) -> Result<(), String> {
    let hash = hash.ok_or("no payloadHash")?;
    if str_at(hash, &["algorithm"]) != Some("sha256")
        || str_at(hash, &["value"]).map(str::to_ascii_lowercase) != Some(crate::sha256_hex(payload))
    {
        return Err("logged payload hash differs".into());
    }
    Ok(())
}

fn check_dsse_v001(body: &Value, expected: Expected<'_>, signing: Signing<'_>) -> Result<(), String> {
    let Expected::Dsse(env) = expected else { return Err("a dsse entry cannot record a message signature".into()) };
    let spec = body.get("spec").ok_or("no spec")?;
    check_payload_hash(spec.get("payloadHash"), &env.payload)?;
    let logged = spec.get("signatures").and_then(Value::as_array).ok_or("no signatures")?;
    if logged.len() != env.signatures.len() {
        return Err("logged signature count differs".into());
    }
    for (l, sig) in logged.iter().zip(&env.signatures) {
        if b64_at(l, &["signature"]).as_ref() != Some(sig) || !pem_names_signer(b64_at(l, &["verifier"]), signing) {
            return Err("logged envelope signature differs".into());
        }
    }
    Ok(())
}

fn check_intoto_v002(body: &Value, expected: Expected<'_>, signing: Signing<'_>) -> Result<(), String> {
    let Expected::Dsse(env) = expected else { return Err("an intoto entry cannot record a message signature".into()) };
    let content = body.get("spec").and_then(|s| s.get("content")).ok_or("no spec.content")?;
    check_payload_hash(content.get("payloadHash"), &env.payload)?;
    let logged = content.get("envelope").ok_or("no envelope")?;
    if str_at(logged, &["payloadType"]) != Some(env.payload_type.as_str()) {
        return Err("logged payload type differs".into());
    }
    // intoto 0.0.2 base64-encodes the envelope's (already base64) payload and signatures again.
    let twice = |v: Option<Vec<u8>>| v.and_then(|b| String::from_utf8(b).ok()).and_then(|s| decode_b64(&s).ok());
    if let Some(p) = logged.get("payload")
        && twice(p.as_str().and_then(|s| decode_b64(s).ok())).as_deref() != Some(env.payload.as_slice())
    {
        return Err("logged payload differs".into());
    }
    let sigs = logged.get("signatures").and_then(Value::as_array).ok_or("no signatures")?;
    if sigs.len() != env.signatures.len() {
        return Err("logged signature count differs".into());
    }
    for (l, sig) in sigs.iter().zip(&env.signatures) {
        if twice(b64_at(l, &["sig"])).as_ref() != Some(sig) || !pem_names_signer(b64_at(l, &["publicKey"]), signing) {
            return Err("logged envelope signature differs".into());
        }
    }
    Ok(())
}

/// Checks that the entry's body records this bundle.
pub(crate) fn check_body(entry: &TlogEntry, expected: Expected<'_>, signing: Signing<'_>) -> Result<(), SigstoreError> {
    let body: Value =
        serde_json::from_slice(&entry.body).map_err(|e| mismatch(entry, format!("body is not JSON: {e}")))?;
    let (kind, version) = (str_at(&body, &["kind"]), str_at(&body, &["apiVersion"]));
    if kind != Some(entry.kind.as_str()) || version != Some(entry.version.as_str()) {
        return Err(mismatch(
            entry,
            format!("body is {kind:?} {version:?}, entry says {} {}", entry.kind, entry.version),
        ));
    }
    let checked = match (entry.kind.as_str(), entry.version.as_str()) {
        ("hashedrekord", "0.0.1") => check_hashedrekord_v001(&body, expected, signing),
        ("hashedrekord", "0.0.2") => check_hashedrekord_v002(&body, expected, signing),
        ("dsse", "0.0.1") => check_dsse_v001(&body, expected, signing),
        ("intoto", "0.0.2") => check_intoto_v002(&body, expected, signing),
        (k, v) => return Err(SigstoreError::Unsupported(format!("log entry kind {k} {v}"))),
    };
    checked.map_err(|r| mismatch(entry, r))
}

/// The bytes a Rekor v1 SET signs.
pub(crate) fn set_payload(entry: &TlogEntry, integrated_time: i64) -> Result<String, String> {
    let v = serde_json::json!({
        "body": STANDARD.encode(&entry.body),
        "integratedTime": integrated_time,
        "logID": hex::encode(&entry.log_id),
        "logIndex": entry.log_index,
    });
    to_canonical_json(&v)
}

/// Verifies one log entry: trusted log, body, SET, inclusion proof and checkpoint.
pub(crate) fn verify_entry<'r>(
    entry: &TlogEntry,
    root: &'r TrustedRoot,
    expected: Expected<'_>,
    signing: Signing<'_>,
) -> Result<VerifiedEntry<'r>, SigstoreError> {
    let log_index = entry.log_index;
    let log = root.tlog(&entry.log_id).ok_or_else(|| SigstoreError::UntrustedInstance {
        kind: "transparency log",
        detail: format!("log id {} is not in the trusted root", STANDARD.encode(&entry.log_id)),
    })?;
    let key =
        log.key.as_ref().ok_or_else(|| SigstoreError::Unsupported(format!("key type of log {}", log.base_url)))?;
    check_body(entry, expected, signing)?;

    let mut integrated_time = None;
    if let Some(set) = &entry.signed_entry_timestamp {
        let set_err = |reason: String| SigstoreError::SignedEntryTimestamp { log_index, reason };
        let it = entry.integrated_time.ok_or_else(|| set_err("entry has a SET but no integrated time".into()))?;
        let payload = set_payload(entry, it).map_err(set_err)?;
        if !key.verify(key.scheme(HashAlg::Sha256), payload.as_bytes(), set) {
            return Err(set_err(format!("signature does not verify with the key of {}", log.base_url)));
        }
        integrated_time = Some(time::from_unix(it).map_err(set_err)?);
    }

    if let Some(proof) = &entry.inclusion_proof {
        let proof_err = |reason: String| SigstoreError::InclusionProof { log_index, reason };
        let leaf = merkle::leaf_hash(&entry.body);
        let root_hash = merkle::root_from_inclusion_proof(proof.log_index, proof.tree_size, &leaf, &proof.hashes)
            .map_err(proof_err)?;
        if root_hash != proof.root_hash {
            return Err(proof_err("computed root hash differs from the proof's root hash".into()));
        }
        let cp_err = |reason: String| SigstoreError::Checkpoint { log_index, reason };
        let envelope = proof.checkpoint.as_deref().ok_or_else(|| cp_err("inclusion proof has no checkpoint".into()))?;
        let cp = checkpoint::verify(envelope, log).map_err(cp_err)?;
        if cp.root_hash != proof.root_hash || cp.tree_size != proof.tree_size {
            return Err(cp_err(format!(
                "checkpoint (size {}) does not commit to the proof's root (size {})",
                cp.tree_size, proof.tree_size
            )));
        }
    }
    if entry.signed_entry_timestamp.is_none() && entry.inclusion_proof.is_none() {
        return Err(SigstoreError::InclusionProof {
            log_index,
            reason: "entry has neither an inclusion proof nor a SET".into(),
        });
    }

    if let Some(t) = integrated_time {
        if !log.valid_for.contains(t) {
            return Err(SigstoreError::ValidityWindow {
                what: format!("the key of transparency log {}", log.base_url),
                time: t,
            });
        }
        if t > Utc::now() + chrono::Duration::minutes(5) {
            return Err(SigstoreError::ValidityWindow { what: "an integrated time later than now".into(), time: t });
        }
    }
    Ok(VerifiedEntry { log, integrated_time })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(body: &str) -> TlogEntry {
        TlogEntry {
            log_index: 25579,
            log_id: vec![0xc0, 0xd2],
            kind: "hashedrekord".into(),
            version: "0.0.1".into(),
            integrated_time: Some(1),
            signed_entry_timestamp: None,
            inclusion_proof: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn set_payload_is_canonical() {
        let p = set_payload(&entry("{}"), 1689177396).unwrap();
        assert_eq!(p, r#"{"body":"e30=","integratedTime":1689177396,"logID":"c0d2","logIndex":25579}"#);
    }

    #[test]
    fn body_kind_must_match_entry() {
        let e = entry(r#"{"apiVersion":"0.0.1","kind":"dsse","spec":{}}"#);
        let err = check_body(
            &e,
            Expected::Message { sha256: &[0; 32], bytes: None, signature: b"" },
            Signing::Certificate(b""),
        )
        .unwrap_err();
        assert!(matches!(err, SigstoreError::TlogEntryMismatch { .. }), "{err}");
    }
}
