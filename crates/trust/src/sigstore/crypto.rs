//! Public keys and signature checks: ECDSA P-256/P-384, Ed25519 and RSA PKCS#1 v1.5.

use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use rsa::pkcs1::DecodeRsaPublicKey as _;
use sha2::Digest as _;
use spki::der::Decode as _;

use super::{SigstoreError, oids};

/// Digest algorithms that appear in Sigstore material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    pub(crate) fn from_oid(oid: &const_oid::ObjectIdentifier) -> Option<Self> {
        match *oid {
            oids::SHA256 => Some(Self::Sha256),
            oids::SHA384 => Some(Self::Sha384),
            oids::SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Protobuf `HashAlgorithm` names (`SHA2_256`, …).
    pub(crate) fn from_proto_name(name: &str) -> Option<Self> {
        match name {
            "SHA2_256" => Some(Self::Sha256),
            "SHA2_384" => Some(Self::Sha384),
            "SHA2_512" => Some(Self::Sha512),
            _ => None,
        }
    }
}

/// How a signature was made: the scheme plus the digest it signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SigAlg {
    Ecdsa(HashAlg),
    RsaPkcs1(HashAlg),
    Ed25519,
}

impl SigAlg {
    /// X.509 / CMS signature algorithm OIDs.
    pub(crate) fn from_oid(oid: &const_oid::ObjectIdentifier) -> Option<Self> {
        match *oid {
            oids::ECDSA_SHA256 => Some(Self::Ecdsa(HashAlg::Sha256)),
            oids::ECDSA_SHA384 => Some(Self::Ecdsa(HashAlg::Sha384)),
            oids::ECDSA_SHA512 => Some(Self::Ecdsa(HashAlg::Sha512)),
            oids::RSA_SHA256 => Some(Self::RsaPkcs1(HashAlg::Sha256)),
            oids::RSA_SHA384 => Some(Self::RsaPkcs1(HashAlg::Sha384)),
            oids::RSA_SHA512 => Some(Self::RsaPkcs1(HashAlg::Sha512)),
            oids::ED25519 => Some(Self::Ed25519),
            _ => None,
        }
    }
}

#[derive(Clone)]
enum KeyKind {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
    Rsa(rsa::PublicKey),
}

/// A public key that verifies Sigstore signatures: ECDSA P-256/P-384, Ed25519 or RSA.
#[derive(Clone)]
pub struct VerificationKey {
    kind: KeyKind,
    der: Vec<u8>,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey").field("algorithm", &self.algorithm()).field("key_id", &self.key_id()).finish()
    }
}

impl PartialEq for VerificationKey {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl VerificationKey {
    /// Parses a `PUBLIC KEY` (SPKI) PEM document; text before the first boundary is ignored.
    pub fn from_pem(pem: &str) -> Result<Self, SigstoreError> {
        let (label, der) =
            decode_pem(pem).map_err(|e| SigstoreError::MalformedKey(format!("not a PEM document: {e}")))?;
        match label.as_str() {
            "PUBLIC KEY" => Self::from_spki_der(&der),
            "RSA PUBLIC KEY" => Self::from_pkcs1_rsa_der(&der),
            other => Err(SigstoreError::MalformedKey(format!("unexpected PEM label {other:?}"))),
        }
    }

    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, SigstoreError> {
        let bad = |e: String| SigstoreError::MalformedKey(e);
        let spki = spki::SubjectPublicKeyInfoRef::from_der(der).map_err(|e| bad(format!("not an SPKI: {e}")))?;
        let point = spki.subject_public_key.raw_bytes();
        let kind = match spki.algorithm.oid {
            oids::EC_PUBLIC_KEY => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.decode_as::<const_oid::ObjectIdentifier>().ok())
                    .ok_or_else(|| bad("EC key without a named curve".into()))?;
                match curve {
                    oids::SECP256R1 => KeyKind::P256(
                        p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                            .map_err(|e| bad(format!("P-256 point: {e}")))?,
                    ),
                    oids::SECP384R1 => KeyKind::P384(
                        p384::ecdsa::VerifyingKey::from_sec1_bytes(point)
                            .map_err(|e| bad(format!("P-384 point: {e}")))?,
                    ),
                    other => return Err(SigstoreError::Unsupported(format!("elliptic curve {other}"))),
                }
            }
            oids::ED25519 => {
                let bytes: &[u8; 32] =
                    point.try_into().map_err(|_| bad("Ed25519 public key must be 32 bytes".into()))?;
                KeyKind::Ed25519(
                    ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|e| bad(format!("Ed25519 key: {e}")))?,
                )
            }
            oids::RSA_ENCRYPTION => {
                KeyKind::Rsa(rsa::PublicKey::from_pkcs1_der(point).map_err(|e| bad(format!("RSA key: {e}")))?)
            }
            other => return Err(SigstoreError::Unsupported(format!("public key algorithm {other}"))),
        };
        Ok(Self { kind, der: der.to_vec() })
    }

    /// Parses a PKCS#1 `RSAPublicKey` (the trusted root's `PKCS1_RSA_PKCS1V5` keys).
    pub fn from_pkcs1_rsa_der(der: &[u8]) -> Result<Self, SigstoreError> {
        let key = rsa::PublicKey::from_pkcs1_der(der)
            .map_err(|e| SigstoreError::MalformedKey(format!("not a PKCS#1 RSA public key: {e}")))?;
        Ok(Self { kind: KeyKind::Rsa(key), der: der.to_vec() })
    }

    /// Lowercase hex SHA-256 of the key's DER encoding (SPKI for PEM public keys), the same
    /// identifier as [`crate::keys::PublicKey::key_id`].
    pub fn key_id(&self) -> String {
        crate::sha256_hex(&self.der)
    }

    /// The DER encoding this key was read from.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn algorithm(&self) -> &'static str {
        match self.kind {
            KeyKind::P256(_) => "ecdsa-p256",
            KeyKind::P384(_) => "ecdsa-p384",
            KeyKind::Ed25519(_) => "ed25519",
            KeyKind::Rsa(_) => "rsa",
        }
    }

    /// The digest Sigstore pairs with this key for artifact signatures; `None` for Ed25519,
    /// which signs the message itself.
    pub(crate) fn artifact_hash(&self) -> Option<HashAlg> {
        match self.kind {
            KeyKind::P256(_) | KeyKind::Rsa(_) => Some(HashAlg::Sha256),
            KeyKind::P384(_) => Some(HashAlg::Sha384),
            KeyKind::Ed25519(_) => None,
        }
    }

    /// Verifies a signature over `msg` the way cosign signs with this kind of key: ECDSA/RSA
    /// over the key's default digest (SHA-256, SHA-384 for P-384), Ed25519 over the message.
    /// Used for DSSE PAE and cosign simple-signing payloads.
    pub fn verify_message(&self, msg: &[u8], sig: &[u8]) -> bool {
        let alg = match self.artifact_hash() {
            Some(h) => self.scheme(h),
            None => SigAlg::Ed25519,
        };
        self.verify(alg, msg, sig)
    }

    /// Verifies `sig` over `msg` with `alg`. The scheme must fit the key type.
    pub(crate) fn verify(&self, alg: SigAlg, msg: &[u8], sig: &[u8]) -> bool {
        match (alg, &self.kind) {
            (SigAlg::Ed25519, KeyKind::Ed25519(k)) => match ed25519_dalek::Signature::from_slice(sig) {
                Ok(s) => k.verify(msg, &s).is_ok(),
                Err(_) => false,
            },
            (SigAlg::Ecdsa(h) | SigAlg::RsaPkcs1(h), _) => self.verify_digest(alg, &h.digest(msg), sig),
            _ => false,
        }
    }

    /// Verifies `sig` over a precomputed digest (ECDSA and RSA only).
    pub(crate) fn verify_digest(&self, alg: SigAlg, digest: &[u8], sig: &[u8]) -> bool {
        match (alg, &self.kind) {
            (SigAlg::Ecdsa(_), KeyKind::P256(k)) => {
                p256::ecdsa::Signature::from_der(sig).is_ok_and(|s| k.verify_prehash(digest, &s).is_ok())
            }
            (SigAlg::Ecdsa(_), KeyKind::P384(k)) => {
                p384::ecdsa::Signature::from_der(sig).is_ok_and(|s| k.verify_prehash(digest, &s).is_ok())
            }
            (SigAlg::RsaPkcs1(h), KeyKind::Rsa(k)) => {
                let scheme = match h {
                    HashAlg::Sha256 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                    HashAlg::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
                    HashAlg::Sha512 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
                };
                k.verify(scheme, digest, sig).is_ok()
            }
            _ => false,
        }
    }

    /// The signature scheme a signature by this key uses when only the digest is named
    /// (checkpoints, SETs, SCTs, artifact signatures).
    pub(crate) fn scheme(&self, hash: HashAlg) -> SigAlg {
        match self.kind {
            KeyKind::P256(_) | KeyKind::P384(_) => SigAlg::Ecdsa(hash),
            KeyKind::Rsa(_) => SigAlg::RsaPkcs1(hash),
            KeyKind::Ed25519(_) => SigAlg::Ed25519,
        }
    }
}

/// Decodes the first PEM block of `text` (RFC 7468 "lax" parsing: any line width, text around
/// the block ignored), returning its label and DER bytes.
pub(crate) fn decode_pem(text: &str) -> Result<(String, Vec<u8>), String> {
    use base64::Engine as _;
    let start = text.find("-----BEGIN ").ok_or("no PEM begin line")?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let (label, rest) = rest.split_once("-----").ok_or("bad PEM begin line")?;
    let end_line = format!("-----END {label}-----");
    let end = rest.find(&end_line).ok_or_else(|| format!("no PEM end line for {label:?}"))?;
    let body: String = rest[..end].chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der =
        base64::engine::general_purpose::STANDARD.decode(body).map_err(|e| format!("PEM body is not base64: {e}"))?;
    Ok((label.to_string(), der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cosign_public_key_and_checks_signatures() {
        let k = crate::keys::SigningKeyPair::generate();
        let vk = VerificationKey::from_pem(&k.public().to_pem()).unwrap();
        assert_eq!(vk.key_id(), k.public().key_id());
        assert_eq!(vk.algorithm(), "ecdsa-p256");
        let sig = k.sign(b"hello");
        assert!(vk.verify(SigAlg::Ecdsa(HashAlg::Sha256), b"hello", &sig));
        assert!(vk.verify_digest(SigAlg::Ecdsa(HashAlg::Sha256), &HashAlg::Sha256.digest(b"hello"), &sig));
        assert!(!vk.verify(SigAlg::Ecdsa(HashAlg::Sha256), b"hellO", &sig));
        assert!(!vk.verify(SigAlg::Ed25519, b"hello", &sig), "scheme must fit the key");
    }

    #[test]
    fn lax_pem() {
        let (label, der) =
            decode_pem("junk\n-----BEGIN CERTIFICATE-----\nAAEC\nAw==\n-----END CERTIFICATE-----\n").unwrap();
        assert_eq!((label.as_str(), der), ("CERTIFICATE", vec![0, 1, 2, 3]));
        assert!(decode_pem("-----BEGIN X-----\nAAEC\n-----END Y-----").is_err());
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(VerificationKey::from_pem("nope"), Err(SigstoreError::MalformedKey(_))));
        assert!(VerificationKey::from_spki_der(&[0x30, 0x00]).is_err());
    }
}
