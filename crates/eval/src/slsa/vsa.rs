//! SLSA Verification Summary Attestations v1 (<https://slsa.dev/spec/v1.1/verification_summary>),
//! checked as slsa-verifier's `verify-vsa` does against a given key.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::crypto::EcKey;
use super::envelope::Envelope;
use super::error::{ErrorKind, VerifyError, err};
use super::provenance::subjects_of;

pub const VSA_V1: &str = "https://slsa.dev/verification_summary/v1";

/// What the VSA must say (`verify-vsa` flags).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VsaOptions {
    /// `<algorithm>:<value>` digests that must all be subjects.
    pub subject_digests: Vec<String>,
    pub verifier_id: String,
    pub resource_uri: String,
    /// `SLSA_<TRACK>_LEVEL_<n>` are minimums; other levels must be present verbatim.
    pub verified_levels: Vec<String>,
}

/// The key the VSA must be signed with, and the key ID its signature must name (empty: the
/// key's SHA-256 key ID).
#[derive(Debug, Clone)]
pub struct VsaKey {
    pub pem: String,
    pub key_id: String,
}

/// A VSA whose signature and claims checked out.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedVsa {
    pub statement: Value,
    /// Highest level per SLSA track (`BUILD` → 2).
    pub slsa_levels: BTreeMap<String, u8>,
}

pub fn verify_vsa(envelope: &[u8], opts: &VsaOptions, key: &VsaKey) -> Result<VerifiedVsa, VerifyError> {
    let env = Envelope::parse(envelope)?;
    env.require_intoto()?;
    let ec = EcKey::from_pem(&key.pem).map_err(|e| VerifyError::new(ErrorKind::InvalidPublicKey, e))?;
    env.verify_with(&ec, &key.key_id)?;
    let statement: Value = serde_json::from_slice(&env.payload_bytes()?)
        .map_err(|e| VerifyError::new(ErrorKind::InvalidDssePayload, e.to_string()))?;
    if statement.get("_type").and_then(Value::as_str) != Some("https://in-toto.io/Statement/v1") {
        return err(ErrorKind::InvalidDssePayload, "invalid statement type");
    }
    if statement.get("predicateType").and_then(Value::as_str) != Some(VSA_V1) {
        return err(ErrorKind::InvalidDssePayload, "not a SLSA VSA v1");
    }
    match_subjects(&statement, &opts.subject_digests)?;
    let field = |p: &str| statement.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
    let verifier = field("/predicate/verifier/id");
    if verifier.is_empty() {
        return err(ErrorKind::EmptyRequiredField, "no verifierID found in the VSA");
    }
    if verifier != opts.verifier_id {
        return err(ErrorKind::MismatchVerifierId, format!("wanted {}, got {verifier}", opts.verifier_id));
    }
    let resource = field("/predicate/resourceUri");
    if resource.is_empty() {
        return err(ErrorKind::EmptyRequiredField, "no resourceURI provided");
    }
    if resource != opts.resource_uri {
        return err(ErrorKind::MismatchResourceUri, format!("wanted {}, got {resource}", opts.resource_uri));
    }
    let result = field("/predicate/verificationResult");
    if result != "PASSED" {
        return err(ErrorKind::InvalidVerificationResult, format!("verification result is not Passed: {result}"));
    }
    let got: Vec<String> = statement
        .pointer("/predicate/verifiedLevels")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|l| l.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let slsa_levels = match_levels(&got, &opts.verified_levels)?;
    Ok(VerifiedVsa { statement, slsa_levels })
}

fn match_subjects(statement: &Value, expected: &[String]) -> Result<(), VerifyError> {
    if expected.is_empty() {
        return err(ErrorKind::EmptyRequiredField, "no subject digests provided");
    }
    let all: BTreeSet<(String, String)> = subjects_of(statement).into_iter().flat_map(|(_, d)| d.into_iter()).collect();
    if all.is_empty() {
        return err(ErrorKind::InvalidDssePayload, "no subject digests found in the VSA");
    }
    for e in expected {
        let Some((alg, value)) = e.split_once(':') else {
            return err(
                ErrorKind::InvalidDssePayload,
                format!("expected digest {e} is not <digest type>:<digest value>"),
            );
        };
        if !all.contains(&(alg.to_string(), value.to_string())) {
            return err(ErrorKind::MissingSubjectDigest, format!("expected digest not found: {e}"));
        }
    }
    Ok(())
}

/// `SLSA_<TRACK>_LEVEL_<n>` → highest level per track.
fn slsa_levels(levels: &[String]) -> Result<BTreeMap<String, u8>, VerifyError> {
    let mut out = BTreeMap::new();
    for l in levels.iter().filter(|l| l.starts_with("SLSA_")) {
        let parts: Vec<&str> = l.splitn(4, '_').collect();
        let level = match parts.as_slice() {
            [_, _, "LEVEL", n] => n.parse::<u8>().ok(),
            _ => None,
        };
        let Some(level) = level else { return err(ErrorKind::InvalidSlsaLevel, l.clone()) };
        let e = out.entry(parts[1].to_string()).or_insert(level);
        *e = (*e).max(level);
    }
    Ok(out)
}

fn match_levels(got: &[String], expected: &[String]) -> Result<BTreeMap<String, u8>, VerifyError> {
    let have = slsa_levels(got)?;
    for (track, min) in slsa_levels(expected)? {
        match have.get(&track) {
            None => return err(ErrorKind::MismatchVerifiedLevels, format!("expected SLSA level not found: {track}")),
            Some(l) if *l < min => {
                return err(
                    ErrorKind::MismatchVerifiedLevels,
                    format!("expected SLSA level {track} to be at least {min}, got {l}"),
                );
            }
            Some(_) => {}
        }
    }
    for e in expected.iter().filter(|e| !e.starts_with("SLSA_")) {
        if !got.contains(e) {
            return err(ErrorKind::MismatchVerifiedLevels, format!("expected verified level not found: {e}"));
        }
    }
    Ok(have)
}
