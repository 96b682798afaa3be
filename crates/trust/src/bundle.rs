//! Sigstore bundles (v0.3) carrying a DSSE-signed in-toto statement, signed with a public key.
//!
//! Shape: <https://github.com/sigstore/protobuf-specs/blob/main/protos/sigstore_bundle.proto>.
//! Key-signed bundles have no certificate and, offline, no transparency-log entries; the
//! verifier locates the key through `verificationMaterial.publicKey.hint`.

use serde::{Deserialize, Serialize};

use crate::TrustError;
use crate::dsse::pae;
use crate::keys::{PublicKey, SigningKeyPair, b64_decode, b64_encode};
use crate::statement::{PAYLOAD_TYPE, STATEMENT_TYPE, Statement};

pub const BUNDLE_V03_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const ACCEPTED_MEDIA_TYPES: [&str; 2] = [BUNDLE_V03_MEDIA_TYPE, "application/vnd.dev.sigstore.bundle+json;version=0.3"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    pub media_type: String,
    pub verification_material: VerificationMaterial,
    pub dsse_envelope: Option<Envelope>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    pub public_key: Option<PublicKeyIdentifier>,
    /// Always written (empty when offline): some verifiers reject a missing list.
    #[serde(default)]
    pub tlog_entries: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicKeyIdentifier {
    pub hint: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// Base64 of the serialized statement.
    pub payload: String,
    pub payload_type: String,
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Base64 of the ASN.1 DER ECDSA signature over the DSSE PAE.
    pub sig: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub keyid: String,
}

/// Signs `statement` with `key` and wraps it in a v0.3 bundle.
pub fn sign_statement(key: &SigningKeyPair, statement: &Statement) -> Result<Bundle, TrustError> {
    let payload = serde_json::to_vec(statement)
        .map_err(|e| TrustError::MalformedBundle(format!("statement does not serialize: {e}")))?;
    let sig = key.sign(&pae(PAYLOAD_TYPE, &payload));
    let key_id = key.public().key_id();
    Ok(Bundle {
        media_type: BUNDLE_V03_MEDIA_TYPE.to_string(),
        verification_material: VerificationMaterial {
            public_key: Some(PublicKeyIdentifier { hint: key_id.clone() }),
            tlog_entries: Vec::new(),
        },
        dsse_envelope: Some(Envelope {
            payload: b64_encode(&payload),
            payload_type: PAYLOAD_TYPE.to_string(),
            signatures: vec![EnvelopeSignature { sig: b64_encode(&sig), keyid: key_id }],
        }),
    })
}

/// A bundle whose signature checked out.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub statement: Statement,
    /// Key id of the key that verified the signature.
    pub key_id: String,
}

/// Verifies the bundle's DSSE signature against `trusted` keys and returns the statement.
///
/// The caller still has to match the statement's subject against the artifact
/// (see [`Statement::has_sha256_subject`]).
pub fn verify_bundle(bundle: &Bundle, trusted: &[PublicKey]) -> Result<Verified, TrustError> {
    if !ACCEPTED_MEDIA_TYPES.contains(&bundle.media_type.as_str()) {
        return Err(TrustError::MalformedBundle(format!("unsupported mediaType {:?}", bundle.media_type)));
    }
    let env = bundle.dsse_envelope.as_ref().ok_or_else(|| TrustError::MalformedBundle("no dsseEnvelope".into()))?;
    if env.payload_type != PAYLOAD_TYPE {
        return Err(TrustError::MalformedBundle(format!("payloadType {:?} is not in-toto", env.payload_type)));
    }
    if env.signatures.len() != 1 {
        return Err(TrustError::MalformedBundle(format!(
            "expected exactly one DSSE signature, found {}",
            env.signatures.len()
        )));
    }
    let hint = bundle.verification_material.public_key.as_ref().map(|k| k.hint.clone()).unwrap_or_default();
    let payload = b64_decode(&env.payload)?;
    let sig = b64_decode(&env.signatures[0].sig)?;
    let msg = pae(&env.payload_type, &payload);
    // Try the hinted key first; the hint is not trusted, only a shortcut.
    let mut order: Vec<&PublicKey> = trusted.iter().filter(|k| k.key_id() == hint).collect();
    order.extend(trusted.iter().filter(|k| k.key_id() != hint));
    let key = order.into_iter().find(|k| k.verify(&msg, &sig)).ok_or(TrustError::BadSignature { hint })?;
    let statement: Statement = serde_json::from_slice(&payload)
        .map_err(|e| TrustError::MalformedBundle(format!("payload is not an in-toto statement: {e}")))?;
    if statement.type_ != STATEMENT_TYPE {
        return Err(TrustError::MalformedBundle(format!("statement _type {:?}", statement.type_)));
    }
    Ok(Verified { statement, key_id: key.key_id() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statement::Subject;

    fn statement() -> Statement {
        Statement::new(
            vec![Subject::sha256("evaluations/x.parquet", &"0f".repeat(32))],
            "https://tarn.dev/attestation/evaluation-snapshot/v1",
            serde_json::json!({"rows": 3}),
        )
    }

    #[test]
    fn sign_and_verify() {
        let k = SigningKeyPair::generate();
        let b = sign_statement(&k, &statement()).unwrap();
        let json = serde_json::to_value(&b).unwrap();
        assert_eq!(json["verificationMaterial"]["tlogEntries"], serde_json::json!([]));
        assert_eq!(json["mediaType"], BUNDLE_V03_MEDIA_TYPE);
        let v = verify_bundle(&b, &[k.public()]).unwrap();
        assert!(v.statement.has_sha256_subject(&"0F".repeat(32)));
        assert!(!v.statement.has_sha256_subject(&"00".repeat(32)));
    }

    #[test]
    fn rejects_wrong_key_and_tampering() {
        let k = SigningKeyPair::generate();
        let other = SigningKeyPair::generate();
        let b = sign_statement(&k, &statement()).unwrap();
        assert!(matches!(verify_bundle(&b, &[other.public()]), Err(TrustError::BadSignature { .. })));

        let mut tampered = b.clone();
        let mut st = statement();
        st.predicate = serde_json::json!({"rows": 4});
        tampered.dsse_envelope.as_mut().unwrap().payload = b64_encode(&serde_json::to_vec(&st).unwrap());
        assert!(matches!(verify_bundle(&tampered, &[k.public()]), Err(TrustError::BadSignature { .. })));

        let mut retyped = b.clone();
        retyped.dsse_envelope.as_mut().unwrap().payload_type = "text/plain".into();
        assert!(matches!(verify_bundle(&retyped, &[k.public()]), Err(TrustError::MalformedBundle(_))));

        let mut doubled = b;
        let s = doubled.dsse_envelope.as_ref().unwrap().signatures[0].clone();
        doubled.dsse_envelope.as_mut().unwrap().signatures.push(s);
        assert!(matches!(verify_bundle(&doubled, &[k.public()]), Err(TrustError::MalformedBundle(_))));
    }
}
