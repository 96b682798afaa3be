//! Checks on key material and key references, as the upstream webhook makes them: inline PEM
//! public keys must parse, KMS URIs must use a supported provider (and AWS ones a key or alias
//! ARN), hash algorithms must be known.

use std::sync::LazyLock;

use base64::Engine as _;
use der::{Decode, asn1::ObjectIdentifier};
use regex::Regex;

/// KMS providers sigstore knows, in upstream's order (it is printed in an error message).
pub const KMS_PROVIDERS: [&str; 4] = ["awskms://", "azurekms://", "hashivault://", "gcpkms://"];

/// `hashAlgorithm` values; empty means `sha256`.
pub const HASH_ALGORITHMS: [&str; 4] = ["sha224", "sha256", "sha384", "sha512"];

/// A decoded PEM block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemBlock {
    pub label: String,
    pub der: Vec<u8>,
}

/// The first PEM block in `text` (leading text is skipped, as Go's `pem.Decode` does).
pub fn first_pem_block(text: &str) -> Option<PemBlock> {
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let (label, rest) = rest.split_once("-----")?;
    if label.contains('\n') {
        return None;
    }
    let end_marker = format!("-----END {label}-----");
    let body_end = rest.find(&end_marker)?;
    let body: String = rest[..body_end]
        .lines()
        .filter(|l| !l.contains(':')) // RFC 1421 headers
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
    Some(PemBlock { label: label.to_string(), der })
}

/// Parses PEM public key text the way sigstore's `cryptoutils.UnmarshalPEMToPublicKey` does:
/// a `PUBLIC KEY` (PKIX) or `RSA PUBLIC KEY` (PKCS #1) block holding an RSA, ECDSA (P-224,
/// P-256, P-384, P-521), Ed25519 or X25519 key.
pub fn parse_public_key_pem(text: &str) -> Result<PublicKeyKind, String> {
    let block = first_pem_block(text).ok_or("PEM decoding failed")?;
    match block.label.as_str() {
        "PUBLIC KEY" => parse_spki(&block.der),
        "RSA PUBLIC KEY" => parse_rsa_pkcs1(&block.der).map(|()| PublicKeyKind::Rsa),
        other => Err(format!("unknown Public key PEM file type: {other}. Are you passing the correct public key?")),
    }
}

/// Accepts a CA certificate (a `CERTIFICATE` block that is DER) or a public key, for
/// `keyless.ca-cert.data`. Upstream runs the public-key check here too, which rejects every
/// certificate; Tarn accepts certificates since that is what the field is for.
pub fn parse_ca_pem(text: &str) -> Result<(), String> {
    match first_pem_block(text) {
        Some(b) if b.label == "CERTIFICATE" => {
            der::asn1::AnyRef::from_der(&b.der).map(drop).map_err(|e| format!("certificate is not DER: {e}"))
        }
        _ => parse_public_key_pem(text).map(drop),
    }
}

/// The algorithm of a parsed public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicKeyKind {
    Rsa,
    EcdsaP224,
    EcdsaP256,
    EcdsaP384,
    EcdsaP521,
    Ed25519,
    X25519,
}

fn parse_spki(der_bytes: &[u8]) -> Result<PublicKeyKind, String> {
    let spki = spki::SubjectPublicKeyInfoRef::from_der(der_bytes).map_err(|e| format!("x509: {e}"))?;
    let bits = spki.subject_public_key.as_bytes().ok_or("x509: public key bit string has unused bits")?;
    match spki.algorithm.oid.to_string().as_str() {
        "1.2.840.113549.1.1.1" => parse_rsa_pkcs1(bits).map(|()| PublicKeyKind::Rsa),
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .ok_or("x509: missing EC curve parameters")?
                .decode_as::<ObjectIdentifier>()
                .map_err(|e| format!("x509: invalid EC parameters: {e}"))?;
            use p256::pkcs8::DecodePublicKey;
            let (kind, size) = match curve.to_string().as_str() {
                "1.2.840.10045.3.1.7" => {
                    p256::PublicKey::from_public_key_der(der_bytes).map_err(|e| format!("x509: {e}"))?;
                    (PublicKeyKind::EcdsaP256, 32)
                }
                "1.3.132.0.34" => {
                    p384::PublicKey::from_public_key_der(der_bytes).map_err(|e| format!("x509: {e}"))?;
                    (PublicKeyKind::EcdsaP384, 48)
                }
                "1.3.132.0.33" => (PublicKeyKind::EcdsaP224, 28),
                "1.3.132.0.35" => (PublicKeyKind::EcdsaP521, 66),
                other => return Err(format!("x509: unsupported elliptic curve {other}")),
            };
            // Go accepts only uncompressed points.
            if bits.len() != 1 + 2 * size || bits[0] != 4 {
                return Err("x509: invalid elliptic curve public key".into());
            }
            Ok(kind)
        }
        "1.3.101.112" if bits.len() == 32 => Ok(PublicKeyKind::Ed25519),
        "1.3.101.110" if bits.len() == 32 => Ok(PublicKeyKind::X25519),
        "1.3.101.112" | "1.3.101.110" => Err("x509: wrong key size".into()),
        other => Err(format!("x509: unknown public key algorithm {other}")),
    }
}

#[derive(der::Sequence)]
struct RsaPublicKey<'a> {
    modulus: der::asn1::UintRef<'a>,
    exponent: der::asn1::UintRef<'a>,
}

fn parse_rsa_pkcs1(bytes: &[u8]) -> Result<(), String> {
    let k = RsaPublicKey::from_der(bytes).map_err(|e| format!("x509: invalid RSA public key: {e}"))?;
    let zero = |u: &der::asn1::UintRef<'_>| u.as_bytes().iter().all(|b| *b == 0);
    if zero(&k.modulus) || zero(&k.exponent) {
        return Err("x509: RSA modulus and exponent must be positive".into());
    }
    Ok(())
}

/// `None` when valid, else the details for an `invalid value` diagnostic.
pub fn kms_problem(kms: &str) -> Option<String> {
    if !KMS_PROVIDERS.iter().any(|p| kms.starts_with(p)) {
        return Some(format!(
            "malformed KMS format, should be prefixed by any of the supported providers: [{}]",
            KMS_PROVIDERS.join(" ")
        ));
    }
    if kms.starts_with("awskms://") { aws_kms_problem(kms) } else { None }
}

const KMS_REFERENCE: &str = "kms key should be in the format awskms://[ENDPOINT]/[ID/ALIAS/ARN] (endpoint optional)";

static AWS_KMS: LazyLock<[Regex; 4]> = LazyLock::new(|| {
    let uuid = r"m?r?k?-?[A-Fa-f0-9]{8}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{12}";
    let arn = r"arn:(?:aws|aws-us-gov):kms:[a-z0-9-]+:\d{12}:";
    let host = r"([^/]*)/";
    [
        format!("^awskms://{host}({uuid})$"),
        format!("^awskms://{host}({arn}key/{uuid})$"),
        format!("^awskms://{host}((alias/.*))$"),
        format!("^awskms://{host}({arn}(alias/.*))$"),
    ]
    .map(|re| Regex::new(&re).expect("static regex"))
});

/// AWS KMS references must name a key or alias ARN (`awskms://[ENDPOINT]/arn:…:key/<id>`);
/// bare key ids and alias names need environment configuration upstream does not allow.
fn aws_kms_problem(kms: &str) -> Option<String> {
    let parts: Vec<&str> = kms.split('/').collect();
    if parts.len() < 4 {
        return Some("malformed AWS KMS format 'awskms://$ENDPOINT/$KEYID', should be conformant with KMS standard documented here: https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-id".into());
    }
    if !AWS_KMS.iter().any(|re| re.is_match(kms)) {
        return Some(KMS_REFERENCE.into());
    }
    let endpoint = parts[2];
    if endpoint.starts_with("arn") || endpoint.starts_with("alias") {
        return Some(KMS_REFERENCE.into());
    }
    if !endpoint.is_empty()
        && let Err(e) = split_host_port(endpoint)
    {
        return Some(format!("malformed endpoint: {e}"));
    }
    match parse_arn_resource(parts[3]) {
        Err(e) => Some(format!("failed to parse either key or alias arn: {e}")),
        Ok(resource) if resource != "key" && resource != "alias" => {
            Some(format!("Got ARN: {} Resource: {resource}", parts[3]))
        }
        Ok(_) => None,
    }
}

/// The resource part of `arn:partition:service:region:account:resource`.
fn parse_arn_resource(arn: &str) -> Result<&str, &'static str> {
    if !arn.starts_with("arn:") {
        return Err("arn: invalid prefix");
    }
    let sections: Vec<&str> = arn.splitn(6, ':').collect();
    if sections.len() != 6 {
        return Err("arn: not enough sections");
    }
    Ok(sections[5])
}

/// Go's `net.SplitHostPort`, for the error it gives.
pub fn split_host_port(hostport: &str) -> Result<(&str, &str), String> {
    let err = |why: &str| Err(format!("address {hostport}: {why}"));
    let Some(i) = hostport.rfind(':') else { return err("missing port in address") };
    let (host, j, k);
    if hostport.starts_with('[') {
        let Some(end) = hostport.find(']') else { return err("missing ']' in address") };
        if end + 1 == hostport.len() {
            return err("missing port in address");
        } else if end + 1 != i {
            return if hostport.as_bytes()[end + 1] == b':' {
                err("too many colons in address")
            } else {
                err("missing port in address")
            };
        }
        (host, j, k) = (&hostport[1..end], 1, end + 1);
    } else {
        host = &hostport[..i];
        if host.contains(':') {
            return err("too many colons in address");
        }
        (j, k) = (0, 0);
    }
    if hostport[j..].contains('[') {
        return err("unexpected '[' in address");
    }
    if hostport[k..].contains(']') {
        return err("unexpected ']' in address");
    }
    Ok((host, &hostport[i + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const P256: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEZxAfzrQG1EbWyCI8LiSB7YgSFXoI\nFNGTyQGKHFc6/H8TQumT9VLS78pUwtv3w7EfKoyFZoP32KrO7nzUy2q6Cw==\n-----END PUBLIC KEY-----\n";

    #[test]
    fn parses_public_keys() {
        assert_eq!(parse_public_key_pem(P256), Ok(PublicKeyKind::EcdsaP256));
        assert_eq!(parse_public_key_pem(&format!("junk before\n{P256}")), Ok(PublicKeyKind::EcdsaP256));
        assert!(parse_public_key_pem("---somedata---").is_err());
        assert!(parse_public_key_pem(&P256.replace("MFkw", "MFkx")).is_err());
        let cert = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
        assert!(parse_public_key_pem(cert).unwrap_err().contains("unknown Public key PEM file type: CERTIFICATE"));
        assert!(parse_ca_pem(cert).is_ok());
    }

    #[test]
    fn kms_references() {
        for ok in [
            "hashivault://key/path",
            "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k",
            "awskms:///arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "awskms://localhost:4566/arn:aws:kms:us-east-2:111122223333:alias/ExampleAlias",
        ] {
            assert_eq!(kms_problem(ok), None, "{ok}");
        }
        for (bad, why) in [
            ("vault://x", "supported providers: [awskms:// azurekms:// hashivault:// gcpkms://]"),
            ("awskms:///1234abcd-12ab-34cd-56ef-1234567890ab", "arn: invalid prefix"),
            ("awskms://localhost:4566/alias/ExampleAlias", "arn: invalid prefix"),
            ("awskms://arn:aws:kms:us-east-2:111122223333:key/x", "kms key should be in the format"),
            ("awskms://", "malformed AWS KMS format"),
        ] {
            assert!(kms_problem(bad).is_some_and(|p| p.contains(why)), "{bad}: {:?}", kms_problem(bad));
        }
    }

    #[test]
    fn host_port() {
        assert_eq!(split_host_port("localhost:4566"), Ok(("localhost", "4566")));
        assert_eq!(split_host_port("[::1]:80"), Ok(("::1", "80")));
        assert_eq!(split_host_port("localhost").unwrap_err(), "address localhost: missing port in address");
        assert!(split_host_port("a:b:c").unwrap_err().contains("too many colons"));
    }
}
