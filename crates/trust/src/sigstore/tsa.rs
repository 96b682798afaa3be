//! RFC 3161 timestamps: a CMS SignedData whose content is a TSTInfo. The message imprint must be
//! the hash of the bundle's signature, the signed attributes must bind the TSTInfo, the signer
//! must chain to a timestamp authority of the trusted root, and everything must be valid at the
//! time the token states.

use chrono::{DateTime, Utc};

use super::asn1::{self, Tlv};
use super::crypto::{HashAlg, SigAlg};
use super::trusted_root::TrustedRoot;
use super::x509::{self, Cert};
use super::{SigstoreError, oids, time};

/// What the token carries, before any signature check.
#[derive(Debug)]
struct Token<'a> {
    tst_info_der: &'a [u8],
    certificates: Vec<Cert>,
    signer: SignerInfo<'a>,
}

#[derive(Debug)]
struct SignerInfo<'a> {
    sid: Sid<'a>,
    digest_alg: HashAlg,
    signed_attrs: Tlv<'a>,
    signature_alg: const_oid::ObjectIdentifier,
    signature: &'a [u8],
}

#[derive(Debug)]
enum Sid<'a> {
    IssuerSerial { issuer: &'a [u8], serial: &'a [u8] },
    KeyId(&'a [u8]),
}

#[derive(Debug)]
struct TstInfo {
    imprint_alg: HashAlg,
    imprint: Vec<u8>,
    gen_time: DateTime<Utc>,
}

fn alg_id(tlv: &Tlv<'_>) -> Result<const_oid::ObjectIdentifier, String> {
    let parts = asn1::children(asn1::expect(tlv.raw, asn1::SEQUENCE)?.value)?;
    asn1::oid(parts.first().ok_or("empty AlgorithmIdentifier")?)
}

fn hash_alg(tlv: &Tlv<'_>) -> Result<HashAlg, String> {
    let oid = alg_id(tlv)?;
    HashAlg::from_oid(&oid).ok_or_else(|| format!("unsupported digest algorithm {oid}"))
}

fn parse_token(der: &[u8]) -> Result<Token<'_>, String> {
    let outer = asn1::expect(der, asn1::SEQUENCE)?;
    let parts = asn1::children(outer.value)?;
    // A TimeStampResp is {PKIStatusInfo, ContentInfo}; a bare token is a ContentInfo.
    let content_info = match parts.as_slice() {
        [status, token] if status.tag == asn1::SEQUENCE => {
            let status = asn1::children(status.value)?;
            let code = status.first().filter(|s| s.tag == asn1::INTEGER).ok_or("bad PKIStatusInfo")?;
            if code.value != [0] && code.value != [1] {
                return Err(format!("timestamp response status is {:?}, not granted", code.value));
            }
            asn1::children(token.value)?
        }
        _ => parts,
    };
    let [ct, signed] = content_info.as_slice() else { return Err("bad ContentInfo".into()) };
    if asn1::oid(ct)? != oids::CMS_SIGNED_DATA || signed.tag != 0xa0 {
        return Err("token is not a CMS SignedData".into());
    }
    let sd = asn1::expect(signed.value, asn1::SEQUENCE)?;
    let fields = asn1::children(sd.value)?;
    let mut it = fields.iter();
    let _version = it.next().filter(|v| v.tag == asn1::INTEGER).ok_or("bad SignedData version")?;
    let _digest_algs = it.next().filter(|v| v.tag == asn1::SET).ok_or("bad SignedData digestAlgorithms")?;
    let encap = asn1::children(it.next().filter(|v| v.tag == asn1::SEQUENCE).ok_or("no encapContentInfo")?.value)?;
    let [ect, econtent] = encap.as_slice() else { return Err("encapContentInfo has no content".into()) };
    if asn1::oid(ect)? != oids::CT_TST_INFO || econtent.tag != 0xa0 {
        return Err("encapsulated content is not a TSTInfo".into());
    }
    let tst_info_der = asn1::expect(econtent.value, asn1::OCTET_STRING)?.value;
    let mut certificates = Vec::new();
    let mut next = it.next();
    if let Some(certs) = next.filter(|t| t.tag == 0xa0) {
        for c in asn1::children(certs.value)? {
            // Other certificate formats (tags other than SEQUENCE) are skipped.
            if c.tag == asn1::SEQUENCE {
                certificates.push(Cert::from_der(c.raw)?);
            }
        }
        next = it.next();
    }
    if next.is_some_and(|t| t.tag == 0xa1) {
        next = it.next();
    }
    let signer_infos = asn1::children(next.filter(|t| t.tag == asn1::SET).ok_or("no signerInfos")?.value)?;
    let [si] = signer_infos.as_slice() else {
        return Err(format!("a timestamp token has exactly one signer, found {}", signer_infos.len()));
    };
    Ok(Token { tst_info_der, certificates, signer: parse_signer_info(si)? })
}

fn parse_signer_info<'a>(si: &Tlv<'a>) -> Result<SignerInfo<'a>, String> {
    let f = asn1::children(si.value)?;
    let [_version, sid, digest_alg, signed_attrs, signature_alg, signature, ..] = f.as_slice() else {
        return Err("SignerInfo lacks signed attributes".into());
    };
    let sid = match sid.tag {
        asn1::SEQUENCE => {
            let p = asn1::children(sid.value)?;
            let [issuer, serial] = p.as_slice() else { return Err("bad IssuerAndSerialNumber".into()) };
            Sid::IssuerSerial { issuer: issuer.raw, serial: serial.value }
        }
        0x80 => Sid::KeyId(sid.value),
        t => return Err(format!("bad signer identifier tag {t:#04x}")),
    };
    if signed_attrs.tag != 0xa0 {
        return Err("SignerInfo lacks signed attributes".into());
    }
    if signature.tag != asn1::OCTET_STRING {
        return Err("bad SignerInfo signature".into());
    }
    Ok(SignerInfo {
        sid,
        digest_alg: hash_alg(digest_alg)?,
        signed_attrs: *signed_attrs,
        signature_alg: alg_id(signature_alg)?,
        signature: signature.value,
    })
}

fn parse_tst_info(der: &[u8]) -> Result<TstInfo, String> {
    let f = asn1::children(asn1::expect(der, asn1::SEQUENCE)?.value)?;
    let [version, _policy, imprint, _serial, gen_time, ..] = f.as_slice() else {
        return Err("TSTInfo is too short".into());
    };
    if version.tag != asn1::INTEGER || version.value != [1] {
        return Err("TSTInfo version is not 1".into());
    }
    let mi = asn1::children(asn1::expect(imprint.raw, asn1::SEQUENCE)?.value)?;
    let [alg, hashed] = mi.as_slice() else { return Err("bad MessageImprint".into()) };
    if hashed.tag != asn1::OCTET_STRING || gen_time.tag != asn1::GENERALIZED_TIME {
        return Err("bad TSTInfo".into());
    }
    Ok(TstInfo {
        imprint_alg: hash_alg(alg)?,
        imprint: hashed.value.to_vec(),
        gen_time: time::parse_generalized_time(gen_time.value)?,
    })
}

/// The single value of a signed attribute.
fn attribute<'a>(attrs: &Tlv<'a>, oid: const_oid::ObjectIdentifier) -> Result<Tlv<'a>, String> {
    let mut found = None;
    for attr in asn1::children(attrs.value)? {
        let p = asn1::children(attr.value)?;
        let [t, values] = p.as_slice() else { return Err("malformed signed attribute".into()) };
        if asn1::oid(t)? == oid {
            let vals = asn1::children(values.value)?;
            let ([v], None) = (vals.as_slice(), found) else {
                return Err(format!("signed attribute {oid} must occur once with one value"));
            };
            found = Some(*v);
        }
    }
    found.ok_or_else(|| format!("missing signed attribute {oid}"))
}

impl Sid<'_> {
    fn names(&self, cert: &Cert) -> bool {
        match self {
            Sid::IssuerSerial { issuer, serial } => cert.issuer_der() == *issuer && cert.serial() == *serial,
            Sid::KeyId(id) => cert
                .extension(&oids::SUBJECT_KEY_ID)
                .and_then(|v| asn1::expect(v, asn1::OCTET_STRING).ok())
                .is_some_and(|ski| ski.value == *id),
        }
    }
}

fn check_signed_attributes(token: &Token<'_>, signer: &Cert) -> Result<(), SigstoreError> {
    let ts = SigstoreError::Timestamp;
    let si = &token.signer;
    let ct = attribute(&si.signed_attrs, oids::ATTR_CONTENT_TYPE).map_err(ts)?;
    if asn1::oid(&ct).map_err(ts)? != oids::CT_TST_INFO {
        return Err(ts("signed content type is not TSTInfo".into()));
    }
    let md = attribute(&si.signed_attrs, oids::ATTR_MESSAGE_DIGEST).map_err(ts)?;
    if md.tag != asn1::OCTET_STRING || md.value != si.digest_alg.digest(token.tst_info_der) {
        return Err(ts("signed message digest does not match the TSTInfo".into()));
    }
    // Signed attributes are signed as a SET OF, not with their [0] IMPLICIT tag.
    let signed = asn1::wrap(asn1::SET, si.signed_attrs.value);
    let alg = match SigAlg::from_oid(&si.signature_alg) {
        Some(alg) => alg,
        // Some TSAs name only the key algorithm; the digest is then the SignerInfo's.
        None if si.signature_alg == oids::EC_PUBLIC_KEY => SigAlg::Ecdsa(si.digest_alg),
        None if si.signature_alg == oids::RSA_ENCRYPTION => SigAlg::RsaPkcs1(si.digest_alg),
        None => return Err(SigstoreError::Unsupported(format!("timestamp signature algorithm {}", si.signature_alg))),
    };
    let key = signer.key().ok_or_else(|| SigstoreError::Unsupported("timestamp signer key type".into()))?;
    if !key.verify(alg, &signed, si.signature) {
        return Err(ts("signature does not verify with the timestamp authority's certificate".into()));
    }
    Ok(())
}

/// Verifies one RFC 3161 timestamp over `signature` and returns the time it attests.
pub(crate) fn verify(der: &[u8], signature: &[u8], root: &TrustedRoot) -> Result<DateTime<Utc>, SigstoreError> {
    let ts = SigstoreError::Timestamp;
    let token = parse_token(der).map_err(|e| ts(format!("malformed timestamp: {e}")))?;
    let info = parse_tst_info(token.tst_info_der).map_err(|e| ts(format!("malformed TSTInfo: {e}")))?;
    if info.imprint != info.imprint_alg.digest(signature) {
        return Err(ts("message imprint is not the hash of the bundle signature".into()));
    }
    // Candidate signing certificates: those embedded in the token and the trusted TSA chains'.
    // The first that the signer identifier names and that chains to a trusted TSA is used.
    let trusted = root.timestamp_authorities.iter().flat_map(|a| a.chain.iter());
    let mut failure = SigstoreError::UntrustedInstance {
        kind: "timestamp authority",
        detail: "no certificate for the timestamp signer, embedded or trusted".into(),
    };
    for signer in token.certificates.iter().chain(trusted).filter(|c| token.signer.sid.names(c)) {
        match x509::trusted_paths(signer, &root.timestamp_authorities, oids::KP_TIME_STAMPING) {
            Ok(paths) => {
                check_signed_attributes(&token, signer)?;
                x509::check_times(signer, &paths, &[info.gen_time], "timestamp authority certificate")?;
                return Ok(info.gen_time);
            }
            Err(SigstoreError::CertificateChain(m)) => {
                failure = SigstoreError::UntrustedInstance { kind: "timestamp authority", detail: m }
            }
            Err(other) => failure = other,
        }
    }
    Err(failure)
}
