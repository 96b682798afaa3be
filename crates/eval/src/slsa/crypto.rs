//! The small amount of signature checking done outside Sigstore bundles: DSSE envelopes signed
//! by a known ECDSA key (Cloud Build's KMS keys, a VSA's key, a Fulcio leaf's key), and
//! decoding as Go does it.

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, GeneralPurpose as Engine};
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use p256::pkcs8::DecodePublicKey as _;
use sha2::Digest as _;
use tarn_trust::sigstore::VerificationKey;

/// Go's `base64.StdEncoding`/`URLEncoding` outside strict mode: non-zero trailing bits are
/// ignored, padding is optional.
const GO: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const GO_STD: GeneralPurpose = Engine::new(&base64::alphabet::STANDARD, GO);
const GO_URL: GeneralPurpose = Engine::new(&base64::alphabet::URL_SAFE, GO);

/// Decodes standard base64, then URL-safe base64 (slsa-verifier's `DecodeSignature`).
pub fn decode_b64(s: &str) -> Option<Vec<u8>> {
    GO_STD.decode(s).or_else(|_| GO_URL.decode(s)).ok()
}

/// Standard base64 only, as `dsse.Envelope.DecodeB64Payload` reads payloads.
pub fn decode_b64_std(s: &str) -> Option<Vec<u8>> {
    GO_STD.decode(s).ok()
}

/// The DER bytes of the first PEM block with `label` in `text`.
pub fn pem_der(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let body: String = text[start..stop].chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// An ECDSA public key on P-256 or P-384.
#[derive(Debug, Clone)]
pub enum EcKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

impl EcKey {
    /// From a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, String> {
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(Self::P256(k));
        }
        p384::ecdsa::VerifyingKey::from_public_key_der(der)
            .map(Self::P384)
            .map_err(|_| "not an ECDSA P-256 or P-384 public key".to_string())
    }

    /// From a `PUBLIC KEY` PEM document.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let key = VerificationKey::from_pem(pem).map_err(|e| e.to_string())?;
        Self::from_spki_der(key.der())
    }

    /// Lowercase hex SHA-256 of the SPKI DER: the key ID DSSE verifiers derive when none is
    /// given (go-securesystemslib's `SHA256KeyID`).
    pub fn key_id(&self) -> String {
        use p256::pkcs8::EncodePublicKey as _;
        let der = match self {
            Self::P256(k) => k.to_public_key_der().map(|d| d.as_bytes().to_vec()),
            Self::P384(k) => k.to_public_key_der().map(|d| d.as_bytes().to_vec()),
        };
        der.map(|d| hex::encode(sha2::Sha256::digest(d))).unwrap_or_default()
    }

    /// Verifies `sig` (ASN.1 DER, or IEEE P1363 `r‖s`) over `msg`, hashed with SHA-256 for
    /// P-256 and SHA-384 for P-384 (Sigstore's pairing).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            Self::P256(k) => {
                let digest = sha2::Sha256::digest(msg);
                let sig = p256::ecdsa::Signature::from_der(sig).or_else(|_| p256::ecdsa::Signature::from_slice(sig));
                sig.is_ok_and(|s| k.verify_prehash(&digest, &s).is_ok())
            }
            Self::P384(k) => {
                let digest = sha2::Sha384::digest(msg);
                let sig = p384::ecdsa::Signature::from_der(sig).or_else(|_| p384::ecdsa::Signature::from_slice(sig));
                sig.is_ok_and(|s| k.verify_prehash(&digest, &s).is_ok())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_base64_ignores_trailing_bits_like_go() {
        // `+B=` and `+A=` differ only in bits Go discards.
        assert_eq!(decode_b64("N+A="), decode_b64("N+B="));
        assert_eq!(decode_b64("AQ"), Some(vec![1]));
        assert_eq!(decode_b64("_-8"), Some(vec![0xff, 0xef]));
        assert!(decode_b64("%%").is_none());
    }

    #[test]
    fn pem_block() {
        assert_eq!(pem_der("x\n-----BEGIN K-----\nAAEC\nAw==\n-----END K-----\n", "K"), Some(vec![0, 1, 2, 3]));
        assert_eq!(pem_der("-----BEGIN K-----\nAAEC\n-----END K-----", "CERTIFICATE"), None);
    }
}
