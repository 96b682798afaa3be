//! Embedded signed certificate timestamps (RFC 6962 section 3.3): parsing the SCT list from a
//! leaf and checking each SCT against the CT logs of the trusted root over the reconstructed
//! precertificate.

use chrono::{DateTime, Utc};

use super::crypto::{HashAlg, SigAlg};
use super::trusted_root::TrustedRoot;
use super::x509::Cert;
use super::{SigstoreError, asn1, oids};

/// One SCT (v1) as found in the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sct {
    pub log_id: [u8; 32],
    pub timestamp_ms: u64,
    pub extensions: Vec<u8>,
    pub hash: u8,
    pub sig_alg: u8,
    pub signature: Vec<u8>,
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("truncated SCT".into());
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn uint(&mut self, n: usize) -> Result<u64, String> {
        Ok(self.take(n)?.iter().fold(0u64, |acc, b| (acc << 8) | *b as u64))
    }
    fn vec(&mut self, len_bytes: usize) -> Result<&'a [u8], String> {
        let n = self.uint(len_bytes)? as usize;
        self.take(n)
    }
}

/// Parses a TLS-encoded `SignedCertificateTimestampList`.
pub(crate) fn parse_list(list: &[u8]) -> Result<Vec<Sct>, String> {
    let mut outer = Reader(list);
    let mut items = Reader(outer.vec(2)?);
    if !outer.0.is_empty() {
        return Err("trailing bytes after SCT list".into());
    }
    let mut out = Vec::new();
    while !items.0.is_empty() {
        let mut r = Reader(items.vec(2)?);
        if r.uint(1)? != 0 {
            return Err("unsupported SCT version".into());
        }
        let log_id = r.take(32)?.try_into().map_err(|_| "bad log id")?;
        let sct = Sct {
            log_id,
            timestamp_ms: r.uint(8)?,
            extensions: r.vec(2)?.to_vec(),
            hash: r.uint(1)? as u8,
            sig_alg: r.uint(1)? as u8,
            signature: r.vec(2)?.to_vec(),
        };
        if !r.0.is_empty() {
            return Err("trailing bytes after SCT".into());
        }
        out.push(sct);
    }
    Ok(out)
}

/// The precertificate TBS: the leaf's TBSCertificate with the SCT-list extension removed.
pub(crate) fn precert_tbs(leaf: &Cert) -> Result<Vec<u8>, String> {
    let tbs = asn1::expect(leaf.tbs(), asn1::SEQUENCE)?;
    let fields = asn1::children(tbs.value)?;
    let mut out = Vec::new();
    for f in &fields {
        if f.tag != 0xa3 {
            out.extend_from_slice(f.raw);
            continue;
        }
        let exts = asn1::expect(f.value, asn1::SEQUENCE)?;
        let mut kept = Vec::new();
        for ext in asn1::children(exts.value)? {
            let parts = asn1::children(ext.value)?;
            let oid =
                parts.first().ok_or("empty extension").and_then(|o| asn1::oid(o).map_err(|_| "bad extension OID"))?;
            if oid != oids::CT_SCT_LIST {
                kept.extend_from_slice(ext.raw);
            }
        }
        out.extend(asn1::wrap(0xa3, &asn1::wrap(asn1::SEQUENCE, &kept)));
    }
    Ok(asn1::wrap(asn1::SEQUENCE, &out))
}

/// The `digitally-signed` struct of a precert SCT (RFC 6962 section 3.2).
fn signed_data(sct: &Sct, issuer_key_hash: &[u8], tbs: &[u8]) -> Vec<u8> {
    let mut d = vec![0u8, 0u8]; // v1, certificate_timestamp
    d.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
    d.extend_from_slice(&[0, 1]); // precert_entry
    d.extend_from_slice(issuer_key_hash);
    d.extend_from_slice(&(tbs.len() as u32).to_be_bytes()[1..]);
    d.extend_from_slice(tbs);
    d.extend_from_slice(&(sct.extensions.len() as u16).to_be_bytes());
    d.extend_from_slice(&sct.extensions);
    d
}

/// Verifies the leaf's embedded SCTs; returns how many verified against trusted CT logs
/// (SCTs from unknown logs are ignored). At least one is required.
pub(crate) fn verify_embedded(leaf: &Cert, issuer: &Cert, root: &TrustedRoot) -> Result<usize, SigstoreError> {
    let err = |m: String| SigstoreError::Sct(m);
    let raw = leaf.extension(&oids::CT_SCT_LIST).ok_or_else(|| err("certificate has no embedded SCTs".into()))?;
    let list = asn1::expect(raw, asn1::OCTET_STRING).map_err(err)?;
    let scts = parse_list(list.value).map_err(err)?;
    let tbs = precert_tbs(leaf).map_err(err)?;
    let issuer_key_hash = HashAlg::Sha256.digest(&issuer.spki_der());
    let mut verified = 0;
    let mut problems = Vec::new();
    for sct in &scts {
        let Some(log) = root.ctlog(&sct.log_id) else { continue };
        let Some(key) = &log.key else { continue };
        let when = DateTime::<Utc>::from_timestamp_millis(sct.timestamp_ms as i64);
        if !when.is_some_and(|t| log.valid_for.contains(t)) {
            problems.push(format!("SCT from {} is outside the log key's validity", log.base_url));
            continue;
        }
        let alg = match (sct.hash, sct.sig_alg) {
            (4, 3) => SigAlg::Ecdsa(HashAlg::Sha256),
            (4, 1) => SigAlg::RsaPkcs1(HashAlg::Sha256),
            (5, 3) => SigAlg::Ecdsa(HashAlg::Sha384),
            (h, s) => {
                problems.push(format!("unsupported SCT signature algorithm ({h}, {s})"));
                continue;
            }
        };
        if key.verify(alg, &signed_data(sct, &issuer_key_hash, &tbs), &sct.signature) {
            verified += 1;
        } else {
            problems.push(format!("SCT from {} does not verify", log.base_url));
        }
    }
    if verified == 0 {
        let why = if problems.is_empty() { "no SCT from a trusted CT log".to_string() } else { problems.join("; ") };
        return Err(err(why));
    }
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sct_list_with_extensions() {
        let mut sct = vec![0u8];
        sct.extend([7u8; 32]);
        sct.extend(1_700_000_000_000u64.to_be_bytes());
        sct.extend([0, 3, 1, 2, 3]); // 3 bytes of extensions
        sct.extend([4, 3, 0, 2, 0xaa, 0xbb]);
        let mut list = (sct.len() as u16 + 2).to_be_bytes().to_vec();
        list.extend((sct.len() as u16).to_be_bytes());
        list.extend(&sct);
        let parsed = parse_list(&list).unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].extensions, vec![1, 2, 3]);
        assert_eq!(parsed[0].signature, vec![0xaa, 0xbb]);
        assert_eq!(parsed[0].timestamp_ms, 1_700_000_000_000);
        list.push(0);
        assert!(parse_list(&list).is_err());
    }
}
