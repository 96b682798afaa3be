//! Read-only access to a Fulcio certificate for callers that verify signatures made outside a
//! bundle (a DSSE envelope that carries its signing certificate, as slsa-github-generator's
//! `.intoto.jsonl` files do): its key, its identity claims, and whether a trusted Fulcio CA
//! issued it.

use super::{Cert, FulcioExtensions, SigstoreError, TrustedRoot, VerificationKey, fulcio, oids, sct, x509};

impl Cert {
    /// The subject public key; `None` when its type is not supported.
    pub fn public_key(&self) -> Option<&VerificationKey> {
        self.key()
    }

    /// SAN identities in certificate order: URIs, email addresses, DNS names and Fulcio's
    /// UTF-8 `otherName`.
    pub fn subject_alternative_names(&self) -> Result<Vec<String>, String> {
        fulcio::san_identities(self)
    }

    /// The OIDC issuer (extension 1.3.6.1.4.1.57264.1.8, else the deprecated .1).
    pub fn oidc_issuer(&self) -> Option<String> {
        fulcio::oidc_issuer(self)
    }

    /// Fulcio's CI provenance extensions.
    pub fn fulcio_extensions(&self) -> FulcioExtensions {
        FulcioExtensions::from_cert(self)
    }
}

impl TrustedRoot {
    /// Checks that `leaf` is a code-signing certificate issued by one of this root's Fulcio CAs
    /// (signatures and CA constraints up to a trusted root), that the CA was trusted when the
    /// certificate was issued, and that it carries a valid SCT from a trusted CT log.
    ///
    /// This proves who the certificate names, not when it signed: without a transparency-log
    /// entry or timestamp the signing time, and so the certificate's validity at signing, is
    /// unproven.
    pub fn verify_fulcio_certificate(&self, leaf: &Cert) -> Result<(), SigstoreError> {
        let paths = x509::trusted_paths(leaf, &self.certificate_authorities, oids::KP_CODE_SIGNING)?;
        x509::check_times(leaf, &paths, &[leaf.not_before], "signing certificate")?;
        let mut result = Err(SigstoreError::Sct("no issuer".into()));
        for p in &paths {
            result = sct::verify_embedded(leaf, p.issuer(), self).map(|_| ());
            if result.is_ok() {
                break;
            }
        }
        result
    }
}
