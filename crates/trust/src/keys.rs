//! ECDSA P-256 keys in cosign's PEM formats.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use crypto_secretbox::XSalsa20Poly1305;
use crypto_secretbox::aead::{Aead, KeyInit};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use p256::elliptic_curve::Generate;
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use serde::{Deserialize, Serialize};

use crate::TrustError;

/// PEM label cosign ≥ 2.0 writes for encrypted private keys.
pub const SIGSTORE_PRIVATE_KEY_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// PEM label older cosign releases wrote; still accepted.
pub const COSIGN_PRIVATE_KEY_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";

/// scrypt cost parameters for key encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    pub log_n: u8,
    pub r: u32,
    pub p: u32,
}

impl KdfParams {
    /// cosign's parameters (N = 32768, r = 8, p = 1).
    pub const COSIGN: KdfParams = KdfParams { log_n: 15, r: 8, p: 1 };
    /// Cheap parameters for tests and throwaway demo keys. Never for real keys.
    pub const INSECURE_FAST: KdfParams = KdfParams { log_n: 4, r: 8, p: 1 };
}

#[derive(Serialize, Deserialize)]
struct EncryptedKey {
    kdf: Kdf,
    cipher: Cipher,
    #[serde(with = "b64")]
    ciphertext: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    #[serde(with = "b64")]
    salt: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    #[serde(with = "b64")]
    nonce: Vec<u8>,
}

mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}

/// A trusted public key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
    spki_der: Vec<u8>,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey").field("key_id", &self.key_id()).finish()
    }
}

impl PublicKey {
    fn from_verifying_key(key: VerifyingKey) -> Self {
        let spki_der = key.to_public_key_der().expect("P-256 public keys always encode").as_bytes().to_vec();
        Self { key, spki_der }
    }

    /// Parses a `PUBLIC KEY` (SPKI) PEM, as written by `cosign generate-key-pair`.
    pub fn from_pem(pem: &str) -> Result<Self, TrustError> {
        let pem = strip_preamble(pem);
        VerifyingKey::from_public_key_pem(pem)
            .map(Self::from_verifying_key)
            .map_err(|e| TrustError::MalformedKey(format!("not a P-256 SPKI public key PEM: {e}")))
    }

    pub fn to_pem(&self) -> String {
        self.key.to_public_key_pem(LineEnding::LF).expect("P-256 public keys always encode")
    }

    /// Key identifier: lowercase hex SHA-256 of the SPKI DER encoding. Used as the bundle's
    /// `publicKey.hint` and the DSSE `keyid`.
    pub fn key_id(&self) -> String {
        crate::sha256_hex(&self.spki_der)
    }

    /// Verifies an ASN.1 DER ECDSA-P256-SHA256 signature over `msg`.
    pub fn verify(&self, msg: &[u8], der_sig: &[u8]) -> bool {
        match DerSignature::try_from(der_sig) {
            Ok(sig) => self.key.verify(msg, &sig).is_ok(),
            Err(_) => false,
        }
    }
}

/// A private signing key with its public half.
pub struct SigningKeyPair {
    key: SigningKey,
    public: PublicKey,
}

impl std::fmt::Debug for SigningKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyPair").field("key_id", &self.public.key_id()).finish_non_exhaustive()
    }
}

impl SigningKeyPair {
    pub fn generate() -> Self {
        Self::from_signing_key(SigningKey::generate())
    }

    fn from_signing_key(key: SigningKey) -> Self {
        let public = PublicKey::from_verifying_key(*key.verifying_key());
        Self { key, public }
    }

    pub fn public(&self) -> PublicKey {
        self.public.clone()
    }

    /// Signs `msg` (hashed with SHA-256) and returns an ASN.1 DER signature.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let sig: Signature = self.key.sign(msg);
        sig.to_der().as_bytes().to_vec()
    }

    /// Reads a private key PEM: cosign's encrypted format (either label), or an unencrypted
    /// PKCS#8 `PRIVATE KEY` / SEC1 `EC PRIVATE KEY`.
    pub fn from_pem(pem: &str, password: &[u8]) -> Result<Self, TrustError> {
        let pem = strip_preamble(pem);
        let (label, body) = pem_rfc7468::decode_vec(pem.as_bytes())
            .map_err(|e| TrustError::MalformedKey(format!("not a PEM document: {e}")))?;
        match label {
            SIGSTORE_PRIVATE_KEY_LABEL | COSIGN_PRIVATE_KEY_LABEL => {
                let der = decrypt(&body, password)?;
                SigningKey::from_pkcs8_der(&der)
                    .map(Self::from_signing_key)
                    .map_err(|e| TrustError::MalformedKey(format!("decrypted key is not P-256 PKCS#8: {e}")))
            }
            "PRIVATE KEY" => SigningKey::from_pkcs8_der(&body)
                .map(Self::from_signing_key)
                .map_err(|e| TrustError::MalformedKey(format!("not a P-256 PKCS#8 key: {e}"))),
            "EC PRIVATE KEY" => p256::SecretKey::from_sec1_der(&body)
                .map(|sk| Self::from_signing_key(SigningKey::from(sk)))
                .map_err(|e| TrustError::MalformedKey(format!("not a P-256 SEC1 key: {e}"))),
            other => Err(TrustError::Unsupported(format!("PEM label {other:?}"))),
        }
    }

    /// Writes the private key in cosign's encrypted PEM format.
    pub fn to_encrypted_pem(&self, password: &[u8], params: KdfParams) -> Result<String, TrustError> {
        let der = self.key.to_pkcs8_der().map_err(|e| TrustError::MalformedKey(e.to_string()))?;
        let mut salt = [0u8; 32];
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut salt).map_err(|e| TrustError::Rng(e.to_string()))?;
        getrandom::fill(&mut nonce).map_err(|e| TrustError::Rng(e.to_string()))?;
        let secret = derive(password, &salt, params)?;
        let cipher = XSalsa20Poly1305::new(&secret.into());
        let ciphertext = cipher
            .encrypt(&nonce.into(), der.as_bytes())
            .map_err(|_| TrustError::MalformedKey("encryption failed".into()))?;
        let doc = EncryptedKey {
            kdf: Kdf {
                name: "scrypt".into(),
                params: ScryptParams { n: 1u64 << params.log_n, r: params.r, p: params.p },
                salt: salt.to_vec(),
            },
            cipher: Cipher { name: "nacl/secretbox".into(), nonce: nonce.to_vec() },
            ciphertext,
        };
        let json = serde_json::to_vec(&doc).expect("serializable");
        pem_rfc7468::encode_string(SIGSTORE_PRIVATE_KEY_LABEL, pem_rfc7468::LineEnding::LF, &json)
            .map_err(|e| TrustError::MalformedKey(e.to_string()))
    }
}

fn derive(password: &[u8], salt: &[u8], params: KdfParams) -> Result<[u8; 32], TrustError> {
    let p = scrypt::Params::new(params.log_n, params.r, params.p)
        .map_err(|e| TrustError::Unsupported(format!("scrypt parameters: {e}")))?;
    let mut out = [0u8; 32];
    scrypt::scrypt(password, salt, &p, &mut out).map_err(|e| TrustError::Unsupported(format!("scrypt: {e}")))?;
    Ok(out)
}

fn decrypt(body: &[u8], password: &[u8]) -> Result<Vec<u8>, TrustError> {
    let doc: EncryptedKey =
        serde_json::from_slice(body).map_err(|e| TrustError::MalformedKey(format!("encrypted key body: {e}")))?;
    if doc.kdf.name != "scrypt" {
        return Err(TrustError::Unsupported(format!("kdf {:?}", doc.kdf.name)));
    }
    if doc.cipher.name != "nacl/secretbox" {
        return Err(TrustError::Unsupported(format!("cipher {:?}", doc.cipher.name)));
    }
    let n = doc.kdf.params.n;
    if !n.is_power_of_two() || n < 2 {
        return Err(TrustError::MalformedKey(format!("scrypt N={n} is not a power of two")));
    }
    let params = KdfParams { log_n: n.trailing_zeros() as u8, r: doc.kdf.params.r, p: doc.kdf.params.p };
    let nonce: [u8; 24] = doc
        .cipher
        .nonce
        .as_slice()
        .try_into()
        .map_err(|_| TrustError::MalformedKey("secretbox nonce must be 24 bytes".into()))?;
    let secret = derive(password, &doc.kdf.salt, params)?;
    XSalsa20Poly1305::new(&secret.into())
        .decrypt(&nonce.into(), doc.ciphertext.as_slice())
        .map_err(|_| TrustError::Decrypt)
}

/// Text before the first PEM boundary (a "DEMO KEY" banner, say) is ignored.
fn strip_preamble(pem: &str) -> &str {
    pem.find("-----BEGIN").map_or(pem, |i| &pem[i..])
}

/// Base64 helper shared with the bundle module.
pub(crate) fn b64_encode(data: &[u8]) -> String {
    B64.encode(data)
}

pub(crate) fn b64_decode(s: &str) -> Result<Vec<u8>, TrustError> {
    B64.decode(s.trim()).map_err(|e| TrustError::MalformedBundle(format!("invalid base64: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_pem_round_trip() {
        let k = SigningKeyPair::generate();
        let pem = k.to_encrypted_pem(b"s3cret", KdfParams::INSECURE_FAST).unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"));
        let back = SigningKeyPair::from_pem(&format!("DEMO KEY banner\n{pem}"), b"s3cret").unwrap();
        assert_eq!(back.public(), k.public());
        assert!(matches!(SigningKeyPair::from_pem(&pem, b"wrong"), Err(TrustError::Decrypt)));
    }

    #[test]
    fn public_pem_round_trip_and_verify() {
        let k = SigningKeyPair::generate();
        let pubkey = PublicKey::from_pem(&k.public().to_pem()).unwrap();
        let sig = k.sign(b"msg");
        assert!(pubkey.verify(b"msg", &sig));
        assert!(!pubkey.verify(b"msh", &sig));
        let mut bad = sig.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(!pubkey.verify(b"msg", &bad));
        assert_eq!(pubkey.key_id().len(), 64);
    }

    #[test]
    fn reads_unencrypted_pkcs8() {
        let k = SigningKeyPair::generate();
        let pem = k.key.to_pkcs8_pem(LineEnding::LF).unwrap();
        let back = SigningKeyPair::from_pem(&pem, b"").unwrap();
        assert_eq!(back.public(), k.public());
    }

    #[test]
    fn rejects_other_pem() {
        let e = SigningKeyPair::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", b"");
        assert!(matches!(e, Err(TrustError::Unsupported(_))), "{e:?}");
    }
}
