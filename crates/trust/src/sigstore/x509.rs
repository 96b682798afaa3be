//! X.509 certificates and path validation against the trusted root's chains, at the times the
//! bundle proves (not at "now").

use chrono::{DateTime, Utc};
use const_oid::ObjectIdentifier as Oid;
use der::{Decode as _, Encode as _};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};

use super::crypto::{SigAlg, VerificationKey};
use super::trusted_root::CertificateAuthority;
use super::{SigstoreError, asn1, oids, time};

const ANY_EXTENDED_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.37.0");

/// A parsed certificate that keeps its exact encoding.
#[derive(Clone)]
pub struct Cert {
    der: Vec<u8>,
    tbs: Vec<u8>,
    cert: x509_cert::Certificate,
    key: Option<VerificationKey>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

impl std::fmt::Debug for Cert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cert")
            .field("subject", &self.cert.tbs_certificate().subject().to_string())
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl Cert {
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        let cert = x509_cert::Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
        let outer = asn1::expect(der, asn1::SEQUENCE)?;
        let tbs = asn1::read(outer.value)?.0.raw.to_vec();
        let tbs_cert = cert.tbs_certificate();
        let key = tbs_cert
            .subject_public_key_info()
            .to_der()
            .ok()
            .and_then(|spki| VerificationKey::from_spki_der(&spki).ok());
        Ok(Self {
            not_before: time::from_x509(&tbs_cert.validity().not_before),
            not_after: time::from_x509(&tbs_cert.validity().not_after),
            der: der.to_vec(),
            tbs,
            cert,
            key,
        })
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The exact TBSCertificate bytes the issuer signed.
    pub(crate) fn tbs(&self) -> &[u8] {
        &self.tbs
    }

    /// `None` when the key type is not supported.
    pub(crate) fn key(&self) -> Option<&VerificationKey> {
        self.key.as_ref()
    }

    pub(crate) fn spki_der(&self) -> Vec<u8> {
        self.cert.tbs_certificate().subject_public_key_info().to_der().unwrap_or_default()
    }

    pub(crate) fn subject_der(&self) -> Vec<u8> {
        self.cert.tbs_certificate().subject().to_der().unwrap_or_default()
    }

    pub(crate) fn issuer_der(&self) -> Vec<u8> {
        self.cert.tbs_certificate().issuer().to_der().unwrap_or_default()
    }

    pub(crate) fn serial(&self) -> &[u8] {
        self.cert.tbs_certificate().serial_number().as_bytes()
    }

    pub(crate) fn subject_string(&self) -> String {
        self.cert.tbs_certificate().subject().to_string()
    }

    /// Closed interval `[notBefore, notAfter]`.
    pub fn valid_at(&self, t: DateTime<Utc>) -> bool {
        self.not_before <= t && t <= self.not_after
    }

    /// The raw value of an extension (the content of its OCTET STRING), if present once.
    pub(crate) fn extension(&self, oid: &Oid) -> Option<&[u8]> {
        let exts = self.cert.tbs_certificate().extensions()?;
        exts.iter().find(|e| e.extn_id == *oid).map(|e| e.extn_value.as_bytes())
    }

    pub(crate) fn extension_oids(&self) -> Vec<(Oid, bool)> {
        self.cert
            .tbs_certificate()
            .extensions()
            .map(|e| e.iter().map(|e| (e.extn_id, e.critical)).collect())
            .unwrap_or_default()
    }

    fn basic_constraints(&self) -> Result<Option<BasicConstraints>, String> {
        self.extension(&oids::BASIC_CONSTRAINTS)
            .map(|v| BasicConstraints::from_der(v).map_err(|e| format!("basic constraints: {e}")))
            .transpose()
    }

    fn key_usage(&self) -> Result<Option<KeyUsage>, String> {
        self.extension(&oids::KEY_USAGE)
            .map(|v| KeyUsage::from_der(v).map_err(|e| format!("key usage: {e}")))
            .transpose()
    }

    fn ext_key_usage(&self) -> Result<Option<Vec<Oid>>, String> {
        self.extension(&oids::EXT_KEY_USAGE)
            .map(|v| ExtendedKeyUsage::from_der(v).map(|e| e.0).map_err(|e| format!("extended key usage: {e}")))
            .transpose()
    }

    fn is_self_issued(&self) -> bool {
        self.subject_der() == self.issuer_der()
    }

    /// A self-issued certificate whose signature verifies with its own key: a root.
    pub(crate) fn is_self_signed(&self) -> bool {
        self.is_self_issued() && self.verify_signed_by(self).is_ok()
    }

    /// Checks that `issuer` issued this certificate: names chain and the signature verifies.
    pub(crate) fn verify_signed_by(&self, issuer: &Cert) -> Result<(), String> {
        if self.issuer_der() != issuer.subject_der() {
            return Err(format!("issuer name does not match {:?}", issuer.subject_string()));
        }
        let alg_oid = self.cert.signature_algorithm().oid;
        let alg = SigAlg::from_oid(&alg_oid).ok_or_else(|| format!("unsupported signature algorithm {alg_oid}"))?;
        let key = issuer.key().ok_or("issuer key type is not supported")?;
        let sig = self.cert.signature().as_bytes().ok_or("signature has unused bits")?;
        if key.verify(alg, &self.tbs, sig) { Ok(()) } else { Err("signature does not verify".into()) }
    }
}

/// Extensions a verifier understands; any other critical extension makes a certificate unusable.
fn check_critical(cert: &Cert, extra: &[Oid]) -> Result<(), String> {
    const KNOWN: [Oid; 7] = [
        oids::KEY_USAGE,
        oids::EXT_KEY_USAGE,
        oids::BASIC_CONSTRAINTS,
        oids::SUBJECT_ALT_NAME,
        oids::SUBJECT_KEY_ID,
        oids::AUTHORITY_KEY_ID,
        oids::CT_SCT_LIST,
    ];
    for (oid, critical) in cert.extension_oids() {
        if critical && !KNOWN.contains(&oid) && !extra.contains(&oid) {
            return Err(format!("unhandled critical extension {oid} in {:?}", cert.subject_string()));
        }
    }
    Ok(())
}

/// End-entity checks: not a CA, allowed to sign, and meant for `purpose` (an EKU OID).
pub(crate) fn check_leaf(leaf: &Cert, purpose: Oid) -> Result<(), String> {
    if leaf.extension(&oids::CT_POISON).is_some() {
        return Err("certificate is a CT precertificate".into());
    }
    check_critical(leaf, &[])?;
    if leaf.basic_constraints()?.is_some_and(|bc| bc.ca) {
        return Err("end-entity certificate is a CA".into());
    }
    if leaf.key_usage()?.is_some_and(|ku| !ku.digital_signature()) {
        return Err("certificate key usage lacks digitalSignature".into());
    }
    match leaf.ext_key_usage()? {
        Some(ekus) if ekus.contains(&purpose) => Ok(()),
        _ => Err(format!("certificate extended key usage lacks {purpose}")),
    }
}

/// CA checks for `ca`, which has `below` non-self-issued CA certificates under it in the path.
fn check_ca(ca: &Cert, below: usize, purpose: Oid) -> Result<(), String> {
    check_critical(ca, &[])?;
    let bc =
        ca.basic_constraints()?.filter(|bc| bc.ca).ok_or_else(|| format!("{:?} is not a CA", ca.subject_string()))?;
    if bc.path_len_constraint.is_some_and(|max| below > max as usize) {
        return Err(format!("path length constraint of {:?} exceeded", ca.subject_string()));
    }
    if ca.key_usage()?.is_some_and(|ku| !ku.key_cert_sign()) {
        return Err(format!("{:?} may not sign certificates", ca.subject_string()));
    }
    // As in Go's verifier: a CA restricted by EKU must allow the leaf's purpose.
    if ca.ext_key_usage()?.is_some_and(|e| !e.contains(&purpose) && !e.contains(&ANY_EXTENDED_KEY_USAGE)) {
        return Err(format!("{:?} is not allowed to issue for {purpose}", ca.subject_string()));
    }
    Ok(())
}

/// A path from a leaf to a trusted root: `authority.chain[start..]` above the leaf.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TrustedPath<'a> {
    pub authority: &'a CertificateAuthority,
    pub start: usize,
    /// True when the leaf is itself `chain[start]` (a TSA leaf listed in the trusted root).
    pub leaf_in_chain: bool,
}

impl<'a> TrustedPath<'a> {
    /// The certificate that signed the leaf.
    pub(crate) fn issuer(&self) -> &'a Cert {
        let i = if self.leaf_in_chain { self.start + 1 } else { self.start };
        &self.authority.chain[i.min(self.authority.chain.len() - 1)]
    }

    /// Every certificate of the path (leaf included) is valid at `t`, and so is the authority.
    pub(crate) fn valid_at(&self, leaf: &Cert, t: DateTime<Utc>) -> bool {
        self.authority.valid_for.contains(t)
            && leaf.valid_at(t)
            && self.authority.chain[self.start..].iter().all(|c| c.valid_at(t))
    }
}

fn path_in(leaf: &Cert, authority: &CertificateAuthority, purpose: Oid) -> Result<Option<(usize, bool)>, String> {
    let chain = &authority.chain;
    let found = match chain.iter().position(|c| c.der == leaf.der) {
        Some(i) => Some((i, true)),
        None => chain.iter().position(|c| leaf.verify_signed_by(c).is_ok()).map(|i| (i, false)),
    };
    let Some((start, leaf_in_chain)) = found else { return Ok(None) };
    let cas = if leaf_in_chain { &chain[start + 1..] } else { &chain[start..] };
    let mut below = 0;
    for (i, ca) in cas.iter().enumerate() {
        check_ca(ca, below, purpose)?;
        match cas.get(i + 1) {
            Some(parent) => ca.verify_signed_by(parent)?,
            None if !ca.is_self_signed() => {
                return Err(format!("trusted chain ends in {:?}, which is not a root", ca.subject_string()));
            }
            None => {}
        }
        if !ca.is_self_issued() {
            below += 1;
        }
    }
    Ok(Some((start, leaf_in_chain)))
}

/// Finds every trusted path for `leaf` among `authorities` (signatures and CA constraints only;
/// times are checked with [`TrustedPath::valid_at`]).
pub(crate) fn trusted_paths<'a>(
    leaf: &Cert,
    authorities: &'a [CertificateAuthority],
    purpose: Oid,
) -> Result<Vec<TrustedPath<'a>>, SigstoreError> {
    check_leaf(leaf, purpose).map_err(SigstoreError::CertificateChain)?;
    let mut paths = Vec::new();
    let mut problems = Vec::new();
    for authority in authorities {
        match path_in(leaf, authority, purpose) {
            Ok(Some((start, leaf_in_chain))) => paths.push(TrustedPath { authority, start, leaf_in_chain }),
            Ok(None) => {}
            Err(e) => problems.push(e),
        }
    }
    if paths.is_empty() {
        let why = if problems.is_empty() { String::new() } else { format!(" ({})", problems.join("; ")) };
        return Err(SigstoreError::CertificateChain(format!(
            "{:?} was not issued by a trusted certificate authority{why}",
            leaf.subject_string()
        )));
    }
    Ok(paths)
}

/// Validates the leaf at every time in `times` (each time needs some path valid then).
pub(crate) fn check_times(
    leaf: &Cert,
    paths: &[TrustedPath<'_>],
    times: &[DateTime<Utc>],
    what: &str,
) -> Result<(), SigstoreError> {
    for &t in times {
        if !leaf.valid_at(t) {
            return Err(SigstoreError::ValidityWindow {
                what: format!("{what} (valid {} to {})", leaf.not_before, leaf.not_after),
                time: t,
            });
        }
        if !paths.iter().any(|p| p.valid_at(leaf, t)) {
            return Err(SigstoreError::ValidityWindow {
                what: format!("the certificate authority that issued the {what}"),
                time: t,
            });
        }
    }
    Ok(())
}
