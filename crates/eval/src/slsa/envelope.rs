//! DSSE envelopes as they appear outside Sigstore bundles (`.intoto.jsonl` lines, gcloud
//! provenance, VSAs): payload, payload type, and signatures with an optional key ID and
//! embedded certificate.

use serde::Deserialize;

use super::crypto::{EcKey, decode_b64, decode_b64_std};
use super::error::{ErrorKind, VerifyError, err};

/// `application/vnd.in-toto+json`.
pub const INTOTO_PAYLOAD_TYPE: &str = tarn_trust::statement::PAYLOAD_TYPE;

/// One DSSE signature.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RawSignature {
    #[serde(default)]
    pub keyid: String,
    #[serde(default)]
    pub sig: String,
    /// PEM certificate (slsa-github-generator embeds the Fulcio leaf here).
    #[serde(default)]
    pub cert: String,
}

/// A DSSE envelope with its base64 fields still encoded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Envelope {
    #[serde(rename = "payloadType", default)]
    pub payload_type: String,
    #[serde(default)]
    pub payload: String,
    #[serde(default)]
    pub signatures: Vec<RawSignature>,
}

impl Envelope {
    /// Parses an envelope (the first non-empty line of a JSON-lines file, or a JSON document).
    pub fn parse(bytes: &[u8]) -> Result<Self, VerifyError> {
        let bad = |e: &dyn std::fmt::Display| VerifyError::new(ErrorKind::InvalidDssePayload, e.to_string());
        let text = std::str::from_utf8(bytes).map_err(|e| bad(&e))?;
        serde_json::from_str(text).or_else(|whole| {
            let first = text.lines().find(|l| !l.trim().is_empty()).ok_or_else(|| bad(&whole))?;
            serde_json::from_str(first).map_err(|e| bad(&e))
        })
    }

    /// Fails unless the payload type is in-toto.
    pub fn require_intoto(&self) -> Result<(), VerifyError> {
        if self.payload_type != INTOTO_PAYLOAD_TYPE {
            return err(
                ErrorKind::InvalidDssePayload,
                format!("expected payload type {INTOTO_PAYLOAD_TYPE:?}, got {:?}", self.payload_type),
            );
        }
        Ok(())
    }

    /// The decoded payload.
    pub fn payload_bytes(&self) -> Result<Vec<u8>, VerifyError> {
        let p = decode_b64_std(&self.payload)
            .ok_or_else(|| VerifyError::new(ErrorKind::InvalidDssePayload, "payload is not base64"))?;
        if p.is_empty() {
            return err(ErrorKind::InvalidFormat, "empty payload");
        }
        Ok(p)
    }

    /// `PAE(payloadType, payload)`: what DSSE signatures sign.
    pub fn pae(&self) -> Result<Vec<u8>, VerifyError> {
        Ok(tarn_trust::dsse::pae(&self.payload_type, &self.payload_bytes()?))
    }

    /// Verifies the envelope as go-securesystemslib's `EnvelopeVerifier` does with one key:
    /// a signature counts when its key ID is empty or equals `key_id` (the key's SHA-256 key ID
    /// when `key_id` is empty) and it verifies over the PAE. One valid signature suffices.
    pub fn verify_with(&self, key: &EcKey, key_id: &str) -> Result<(), VerifyError> {
        let pae = self.pae()?;
        let key_id = if key_id.is_empty() { key.key_id() } else { key_id.to_string() };
        let mut reasons = Vec::new();
        for s in &self.signatures {
            if !s.keyid.is_empty() && s.keyid != key_id {
                reasons.push(format!("key id {:?} is not {key_id:?}", s.keyid));
                continue;
            }
            match decode_b64(&s.sig) {
                Some(sig) if key.verify(&pae, &sig) => return Ok(()),
                Some(_) => reasons.push("signature does not verify".into()),
                None => reasons.push("signature is not base64".into()),
            }
        }
        if self.signatures.is_empty() {
            reasons.push("no signatures".into());
        }
        err(ErrorKind::NoValidSignature, reasons.join("; "))
    }
}
