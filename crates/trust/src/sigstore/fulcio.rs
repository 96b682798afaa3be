//! What a Fulcio certificate says about its subject: the SAN identity, the OIDC issuer and the
//! CI provenance extensions (<https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md>).

use const_oid::ObjectIdentifier as Oid;
use der::Decode as _;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use super::x509::Cert;
use super::{asn1, oids};

/// Fulcio's certificate extensions (1.3.6.1.4.1.57264.1.N), by name. Absent ones are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FulcioExtensions {
    /// .2 (deprecated) GitHub workflow trigger.
    pub github_workflow_trigger: Option<String>,
    /// .3 (deprecated) GitHub workflow commit SHA.
    pub github_workflow_sha: Option<String>,
    /// .4 (deprecated) GitHub workflow name.
    pub github_workflow_name: Option<String>,
    /// .5 (deprecated) GitHub workflow repository (`owner/repo`).
    pub github_workflow_repository: Option<String>,
    /// .6 (deprecated) GitHub workflow ref.
    pub github_workflow_ref: Option<String>,
    /// .9
    pub build_signer_uri: Option<String>,
    /// .10
    pub build_signer_digest: Option<String>,
    /// .11
    pub runner_environment: Option<String>,
    /// .12
    pub source_repository_uri: Option<String>,
    /// .13
    pub source_repository_digest: Option<String>,
    /// .14
    pub source_repository_ref: Option<String>,
    /// .15
    pub source_repository_identifier: Option<String>,
    /// .16
    pub source_repository_owner_uri: Option<String>,
    /// .17
    pub source_repository_owner_identifier: Option<String>,
    /// .18
    pub build_config_uri: Option<String>,
    /// .19
    pub build_config_digest: Option<String>,
    /// .20
    pub build_trigger: Option<String>,
    /// .21
    pub run_invocation_uri: Option<String>,
    /// .22
    pub source_repository_visibility_at_signing: Option<String>,
}

fn fulcio_oid(n: u32) -> Oid {
    Oid::new_unwrap(oids::FULCIO_ARC).push_arc(n).expect("Fulcio OIDs are short")
}

/// Extensions .1 to .6 hold the raw string; .8 and later a DER UTF8String.
fn ext_string(cert: &Cert, n: u32) -> Option<String> {
    ext_string_oid(cert, &fulcio_oid(n), n <= 6)
}

fn ext_string_oid(cert: &Cert, oid: &Oid, raw_string: bool) -> Option<String> {
    let raw = cert.extension(oid)?;
    if raw_string {
        return String::from_utf8(raw.to_vec()).ok();
    }
    let tlv = asn1::read_exact(raw).ok()?;
    (tlv.tag == 0x0c || tlv.tag == 0x16).then(|| String::from_utf8(tlv.value.to_vec()).ok()).flatten()
}

impl FulcioExtensions {
    pub(crate) fn from_cert(cert: &Cert) -> Self {
        let s = |n| ext_string(cert, n);
        Self {
            github_workflow_trigger: s(2),
            github_workflow_sha: s(3),
            github_workflow_name: s(4),
            github_workflow_repository: s(5),
            github_workflow_ref: s(6),
            build_signer_uri: s(9),
            build_signer_digest: s(10),
            runner_environment: s(11),
            source_repository_uri: s(12),
            source_repository_digest: s(13),
            source_repository_ref: s(14),
            source_repository_identifier: s(15),
            source_repository_owner_uri: s(16),
            source_repository_owner_identifier: s(17),
            build_config_uri: s(18),
            build_config_digest: s(19),
            build_trigger: s(20),
            run_invocation_uri: s(21),
            source_repository_visibility_at_signing: s(22),
        }
    }
}

/// Identities in the SAN extension: URIs, email addresses and Fulcio's UTF-8 `otherName`.
pub(crate) fn san_identities(cert: &Cert) -> Result<Vec<String>, String> {
    let raw = cert.extension(&oids::SUBJECT_ALT_NAME).ok_or("certificate has no subject alternative name")?;
    let san = SubjectAltName::from_der(raw).map_err(|e| format!("subject alternative name: {e}"))?;
    let mut out = Vec::new();
    for name in san.0 {
        match name {
            GeneralName::UniformResourceIdentifier(s) | GeneralName::Rfc822Name(s) | GeneralName::DnsName(s) => {
                out.push(s.to_string())
            }
            GeneralName::OtherName(o) if o.type_id == oids::FULCIO_OTHERNAME_SAN => {
                if let Ok(s) = o.value.decode_as::<der::asn1::Utf8StringRef<'_>>() {
                    out.push(s.as_str().to_string());
                }
            }
            _ => {}
        }
    }
    if out.is_empty() {
        return Err("certificate has no usable subject alternative name".into());
    }
    Ok(out)
}

/// The OIDC issuer: extension .8 (a DER UTF8String), else the deprecated raw-string .1.
pub(crate) fn oidc_issuer(cert: &Cert) -> Option<String> {
    ext_string_oid(cert, &oids::FULCIO_ISSUER_V2, false).or_else(|| ext_string_oid(cert, &oids::FULCIO_ISSUER_V1, true))
}

#[cfg(test)]
mod tests {
    #[test]
    fn fulcio_oids() {
        assert_eq!(super::fulcio_oid(8), super::oids::FULCIO_ISSUER_V2);
        assert_eq!(super::fulcio_oid(1), super::oids::FULCIO_ISSUER_V1);
    }
}
