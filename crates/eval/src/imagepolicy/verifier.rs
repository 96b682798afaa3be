//! The seam between policy evaluation and signature verification.
//!
//! Evaluation knows which authorities and attestations a policy wants; a
//! [`SignatureVerifier`] knows how to find and cryptographically check signatures and
//! attestations (Sigstore bundles, cosign `.sig`/`.att` evidence, transparency-log proofs).
//! The verifier checks signatures against the authority's key or trust root; which
//! *identity* a keyless certificate must carry is decided here, by [`IdentityMatcher`], so
//! every verifier gets upstream's identity semantics and error text for free.

use std::collections::BTreeMap;

use regex::Regex;
use serde::Serialize;
use serde_json::{Value, json};

use super::types::{Authority, Identity};

/// The image being judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageUnderTest<'a> {
    /// The reference as the workload writes it (`ghcr.io/org/app:1.2`).
    pub reference: &'a str,
    /// The digest that runs, `sha256:<64 hex>`.
    pub digest: &'a str,
}

/// A signature that verified under an authority's key or trust root.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VerifiedSignature {
    /// Stable identifier (e.g. hex SHA-256 of signature and certificate).
    pub id: String,
    /// First subject alternative name of the signing certificate; `None` for key signatures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// OIDC issuer recorded in the certificate; `None` for key signatures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Further certificate extensions by upstream's JSON names (`githubWorkflowRepo`, …).
    #[serde(flatten)]
    pub extensions: BTreeMap<String, String>,
}

/// An in-toto attestation whose envelope verified under an authority.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VerifiedAttestation {
    /// Who signed the envelope.
    #[serde(flatten)]
    pub signature: VerifiedSignature,
    /// The statement's `predicateType` URI.
    pub predicate_type: String,
    /// The statement's `predicate`.
    #[serde(skip)]
    pub predicate: Value,
    /// The statement's `subject` list.
    #[serde(skip)]
    pub subject: Vec<Value>,
}

impl VerifiedAttestation {
    /// The in-toto statement, which is what attestation policies see as `input`.
    pub fn statement(&self) -> Value {
        json!({
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": self.predicate_type,
            "subject": self.subject,
            "predicate": self.predicate,
        })
    }
}

/// Why no signatures came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Evidence was examined and nothing verified (no signatures, bad signature, wrong key,
    /// failed log inclusion proof). The policy fails.
    #[error("{0}")]
    Failed(String),
    /// Verification could not be attempted (no evidence source, a KMS key offline, an
    /// unsupported trust root). The policy cannot be judged: status `error`.
    #[error("{0}")]
    Unavailable(String),
}

impl From<String> for VerifyError {
    fn from(s: String) -> Self {
        VerifyError::Failed(s)
    }
}

/// Finds and verifies signatures and attestations for an image under one authority.
///
/// Implementations check signatures against `authority.key` (inline PEM, KMS, Secret) or
/// against the `authority.keyless` trust root (Fulcio chain, CT log SCTs unless
/// `insecureIgnoreSCT`), plus `ctlog`/`rfc3161timestamp` as configured. They must *not*
/// filter keyless results by `identities`: evaluation does that with upstream's rules.
/// Returning `Ok(vec![])` means "nothing verified" and fails the authority.
pub trait SignatureVerifier {
    /// Signatures over `image.digest`.
    fn verify_signatures(
        &self,
        image: &ImageUnderTest<'_>,
        authority: &Authority,
    ) -> Result<Vec<VerifiedSignature>, VerifyError>;

    /// Attestations (in-toto statements whose subject includes `image.digest`) of any
    /// predicate type; evaluation picks the predicate types the policy asks for.
    fn verify_attestations(
        &self,
        image: &ImageUnderTest<'_>,
        authority: &Authority,
    ) -> Result<Vec<VerifiedAttestation>, VerifyError>;
}

/// A verifier without evidence: every key or keyless authority is `error` (not judged).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvidence;

impl SignatureVerifier for NoEvidence {
    fn verify_signatures(&self, _: &ImageUnderTest<'_>, _: &Authority) -> Result<Vec<VerifiedSignature>, VerifyError> {
        Err(VerifyError::Unavailable("no signature evidence configured".into()))
    }

    fn verify_attestations(
        &self,
        _: &ImageUnderTest<'_>,
        _: &Authority,
    ) -> Result<Vec<VerifiedAttestation>, VerifyError> {
        Err(VerifyError::Unavailable("no attestation evidence configured".into()))
    }
}

/// Maps cosign's short predicate type names to URIs; URIs pass through.
pub fn predicate_type_uri(name: &str) -> &str {
    match name {
        "custom" => "https://cosign.sigstore.dev/attestation/v1",
        "slsaprovenance" | "slsaprovenance02" => "https://slsa.dev/provenance/v0.2",
        "slsaprovenance1" => "https://slsa.dev/provenance/v1",
        "link" => "https://in-toto.io/Link/v1",
        "spdx" | "spdxjson" => "https://spdx.dev/Document",
        "cyclonedx" => "https://cyclonedx.org/bom",
        "vuln" => "https://cosign.sigstore.dev/attestation/vuln/v1",
        "openvex" => "https://openvex.dev/ns",
        uri => uri,
    }
}

#[derive(Debug, Clone)]
enum Matcher {
    Any,
    Exact(String),
    Pattern(Regex),
}

impl Matcher {
    fn new(exact: &str, pattern: &str) -> Result<Self, String> {
        Ok(if !exact.is_empty() {
            Matcher::Exact(exact.to_string())
        } else if !pattern.is_empty() {
            Matcher::Pattern(Regex::new(pattern).map_err(|e| e.to_string())?)
        } else {
            Matcher::Any
        })
    }

    /// Regexps are unanchored, as Go's `regexp.MatchString` (what cosign uses) is.
    fn matches(&self, got: &str) -> bool {
        match self {
            Matcher::Any => true,
            Matcher::Exact(s) => s == got,
            Matcher::Pattern(re) => re.is_match(got),
        }
    }
}

/// A keyless authority's expected identities: a certificate matches when one identity's
/// issuer *and* subject both match.
#[derive(Debug, Clone)]
pub struct IdentityMatcher(Vec<(Matcher, Matcher)>);

impl IdentityMatcher {
    pub fn new(identities: &[Identity]) -> Result<Self, String> {
        identities
            .iter()
            .map(|i| Ok((Matcher::new(&i.issuer, &i.issuer_regexp)?, Matcher::new(&i.subject, &i.subject_regexp)?)))
            .collect::<Result<_, String>>()
            .map(Self)
    }

    pub fn matches(&self, subject: &str, issuer: &str) -> bool {
        self.0.iter().any(|(i, s)| i.matches(issuer) && s.matches(subject))
    }

    /// The signatures whose certificate carries an expected identity; if there were
    /// signatures but none matched, cosign's message naming what the certificates held.
    pub fn filter<T>(&self, items: Vec<T>, signer: impl Fn(&T) -> &VerifiedSignature) -> Result<Vec<T>, String> {
        if items.is_empty() {
            return Ok(items);
        }
        let mut last = (String::new(), String::new());
        let mut kept = Vec::new();
        for it in items {
            let s = signer(&it);
            let subject = s.subject.clone().unwrap_or_default();
            let issuer = s.issuer.clone().unwrap_or_default();
            if self.matches(&subject, &issuer) {
                kept.push(it);
            } else {
                last = (subject, issuer);
            }
        }
        if kept.is_empty() {
            return Err(format!(
                "none of the expected identities matched what was in the certificate, got subjects [{}] with issuer {}",
                last.0, last.1
            ));
        }
        Ok(kept)
    }
}

/// Evidence held in memory, for tests and dry runs: signatures and attestations by image
/// digest, each made with a public key (matched against `key.data`) or keylessly (returned
/// for every keyless authority, with its certificate identity).
#[derive(Debug, Clone, Default)]
pub struct FixedVerifier {
    entries: Vec<(String, Signer, Option<Statement>)>,
}

/// `(predicate type, predicate)` of a recorded attestation.
type Statement = (String, Value);

#[derive(Debug, Clone, PartialEq)]
enum Signer {
    Key(String),
    Keyless { subject: String, issuer: String },
}

fn squash(pem: &str) -> String {
    pem.split_whitespace().collect()
}

impl FixedVerifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// `digest` is signed by the private half of `public_key_pem`.
    pub fn signed_with_key(mut self, digest: &str, public_key_pem: &str) -> Self {
        self.entries.push((digest.into(), Signer::Key(squash(public_key_pem)), None));
        self
    }

    /// `digest` is signed keylessly by a certificate for `subject` from `issuer`.
    pub fn signed_keyless(mut self, digest: &str, subject: &str, issuer: &str) -> Self {
        self.entries.push((digest.into(), Signer::Keyless { subject: subject.into(), issuer: issuer.into() }, None));
        self
    }

    /// `digest` has an attestation signed by `public_key_pem`.
    pub fn attested_with_key(
        mut self,
        digest: &str,
        public_key_pem: &str,
        predicate_type: &str,
        predicate: Value,
    ) -> Self {
        let att = Some((predicate_type.to_string(), predicate));
        self.entries.push((digest.into(), Signer::Key(squash(public_key_pem)), att));
        self
    }

    /// `digest` has an attestation signed keylessly.
    pub fn attested_keyless(
        mut self,
        digest: &str,
        subject: &str,
        issuer: &str,
        predicate_type: &str,
        predicate: Value,
    ) -> Self {
        let signer = Signer::Keyless { subject: subject.into(), issuer: issuer.into() };
        self.entries.push((digest.into(), signer, Some((predicate_type.to_string(), predicate))));
        self
    }

    fn signed_by<'a>(
        &'a self,
        image: &'a ImageUnderTest<'_>,
        authority: &'a Authority,
    ) -> Result<impl Iterator<Item = (VerifiedSignature, &'a Option<Statement>)> + 'a, VerifyError> {
        let key = match (&authority.key, &authority.keyless) {
            (Some(k), _) if !k.data.is_empty() => Some(squash(&k.data)),
            (Some(_), _) => return Err(VerifyError::Unavailable("only inline keys are supported".into())),
            (None, Some(_)) => None,
            (None, None) => return Err(VerifyError::Unavailable("not a key or keyless authority".into())),
        };
        Ok(self.entries.iter().enumerate().filter(move |(_, (d, _, _))| d == image.digest).filter_map(
            move |(i, (_, signer, att))| {
                let sig = match (signer, &key) {
                    (Signer::Key(k), Some(want)) if k == want => {
                        VerifiedSignature { id: format!("sig-{i}"), ..Default::default() }
                    }
                    (Signer::Keyless { subject, issuer }, None) => VerifiedSignature {
                        id: format!("sig-{i}"),
                        subject: Some(subject.clone()),
                        issuer: Some(issuer.clone()),
                        ..Default::default()
                    },
                    _ => return None,
                };
                Some((sig, att))
            },
        ))
    }
}

impl SignatureVerifier for FixedVerifier {
    fn verify_signatures(
        &self,
        image: &ImageUnderTest<'_>,
        authority: &Authority,
    ) -> Result<Vec<VerifiedSignature>, VerifyError> {
        let sigs: Vec<_> = self.signed_by(image, authority)?.filter(|(_, a)| a.is_none()).map(|(s, _)| s).collect();
        if sigs.is_empty() {
            return Err(VerifyError::Failed(format!("no signatures found for {}", image.digest)));
        }
        Ok(sigs)
    }

    fn verify_attestations(
        &self,
        image: &ImageUnderTest<'_>,
        authority: &Authority,
    ) -> Result<Vec<VerifiedAttestation>, VerifyError> {
        let subject = vec![json!({"digest": {"sha256": image.digest.trim_start_matches("sha256:")}})];
        Ok(self
            .signed_by(image, authority)?
            .filter_map(|(signature, a)| {
                let (predicate_type, predicate) = a.clone()?;
                Some(VerifiedAttestation { signature, predicate_type, predicate, subject: subject.clone() })
            })
            .collect())
    }
}
