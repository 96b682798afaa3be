//! Checking image evidence cryptographically for image policies.
//!
//! Implements [`SignatureVerifier`] over an [`EvidenceSet`] with the offline Sigstore verifier
//! of `tarn-trust`:
//!
//! - **signatures**: cosign simple-signing signatures (payload must name the image digest)
//!   verified with an authority's key; Sigstore bundles whose message signature is over the
//!   image manifest digest, key-signed or keyless (Fulcio chain, SCTs and transparency-log
//!   proofs checked against the trusted root);
//! - **attestations**: DSSE envelopes signed with an authority's key, and Sigstore bundles
//!   carrying DSSE in-toto statements, whose subject must include the image digest.
//!
//! Keyless results are not filtered by identity here; image-policy evaluation does that.
//! What cannot be checked offline is reported as unavailable (policy status `error`), never
//! as a pass: KMS keys, keys in Kubernetes Secrets, custom keyless trust roots, and legacy
//! keyless cosign signatures (their transparency-log bundles are not Sigstore bundles).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;
use tarn_trust::sigstore::{self, Artifact, Payload, Signer, TrustedRoot, VerificationKey, VerificationPolicy};

use super::{EvidenceItem, EvidenceKind, EvidenceSet};
use crate::imagepolicy::types::Authority;
use crate::imagepolicy::verifier::{
    ImageUnderTest, SignatureVerifier, VerifiedAttestation, VerifiedSignature, VerifyError,
};

/// Verifies evidence from `evidence` against `root` (keyless) or the authorities' keys.
#[derive(Debug, Clone, Copy)]
pub struct EvidenceVerifier<'a> {
    pub evidence: &'a EvidenceSet,
    pub root: &'a TrustedRoot,
}

enum Trust {
    Key(VerificationKey),
    Keyless,
}

fn trust_of(authority: &Authority) -> Result<Trust, VerifyError> {
    if let Some(key) = &authority.key {
        if !key.data.is_empty() {
            return VerificationKey::from_pem(&key.data)
                .map(Trust::Key)
                .map_err(|e| VerifyError::Unavailable(format!("authority key is unusable: {e}")));
        }
        if !key.kms.is_empty() {
            return Err(VerifyError::Unavailable(format!("KMS keys cannot be used offline ({})", key.kms)));
        }
        return Err(VerifyError::Unavailable("keys stored in Kubernetes Secrets are not read by Tarn".into()));
    }
    if let Some(k) = &authority.keyless {
        if k.ca_cert.is_some()
            || !k.trust_root_ref.is_empty()
            || k.url.as_deref().is_some_and(|u| u != "https://fulcio.sigstore.dev")
        {
            return Err(VerifyError::Unavailable(
                "custom keyless trust roots are not supported yet; use the trusted root given to Tarn".into(),
            ));
        }
        return Ok(Trust::Keyless);
    }
    Err(VerifyError::Unavailable("authority has neither key nor keyless".into()))
}

fn digest_bytes(digest: &str) -> Option<[u8; 32]> {
    Artifact::parse_digest(digest)
}

fn signer_to_signature(id: String, signer: &Signer) -> VerifiedSignature {
    match signer {
        Signer::Key { .. } => VerifiedSignature { id, subject: None, issuer: None, extensions: BTreeMap::new() },
        Signer::Certificate { identity, issuer, extensions, .. } => {
            let mut ext = BTreeMap::new();
            let mut put = |k: &str, v: &Option<String>| {
                if let Some(v) = v {
                    ext.insert(k.to_string(), v.clone());
                }
            };
            put("githubWorkflowTrigger", &extensions.github_workflow_trigger);
            put("githubWorkflowSha", &extensions.github_workflow_sha);
            put("githubWorkflowName", &extensions.github_workflow_name);
            put("githubWorkflowRepo", &extensions.github_workflow_repository);
            put("githubWorkflowRef", &extensions.github_workflow_ref);
            put("buildSignerURI", &extensions.build_signer_uri);
            put("sourceRepositoryURI", &extensions.source_repository_uri);
            put("sourceRepositoryRef", &extensions.source_repository_ref);
            VerifiedSignature { id, subject: Some(identity.clone()), issuer: Some(issuer.clone()), extensions: ext }
        }
    }
}

fn policy_for(trust: &Trust) -> VerificationPolicy {
    match trust {
        Trust::Key(k) => VerificationPolicy::Key(k.clone()),
        // Any identity: evaluation matches identities with upstream's rules.
        Trust::Keyless => VerificationPolicy::identity_regex("", "").expect("empty expressions compile"),
    }
}

fn id_of(item: &EvidenceItem) -> String {
    tarn_trust::sha256_hex(&item.bytes)
}

/// Nothing verified: a failure when evidence was checked and found wanting (or there was
/// none); not judged (`Unavailable`) when the only evidence cannot be checked offline.
fn nothing_verified(what: &str, digest: &str, reasons: Vec<String>, uncheckable: Vec<String>) -> VerifyError {
    if reasons.is_empty() && !uncheckable.is_empty() {
        return VerifyError::Unavailable(format!(
            "{what} for {digest} cannot be checked offline: {}",
            uncheckable.join("; ")
        ));
    }
    let mut all = reasons;
    all.extend(uncheckable);
    if all.is_empty() {
        VerifyError::Failed(format!("no {what} found for {digest}"))
    } else {
        VerifyError::Failed(format!("no valid {what} for {digest}: {}", all.join("; ")))
    }
}

impl SignatureVerifier for EvidenceVerifier<'_> {
    fn verify_signatures(
        &self,
        image: &ImageUnderTest<'_>,
        authority: &Authority,
    ) -> Result<Vec<VerifiedSignature>, VerifyError> {
        let trust = trust_of(authority)?;
        let digest = digest_bytes(image.digest)
            .ok_or_else(|| VerifyError::Unavailable(format!("image digest {} is not sha256", image.digest)))?;
        let mut out = Vec::new();
        let mut reasons = Vec::new();
        let mut uncheckable = Vec::new();
        for item in self.evidence.for_digest(image.digest) {
            match &item.kind {
                EvidenceKind::CosignSignature { payload, signature, certificate } => {
                    let named: Option<String> = serde_json::from_slice::<Value>(payload).ok().and_then(|v| {
                        v.pointer("/critical/image/docker-manifest-digest").and_then(Value::as_str).map(str::to_string)
                    });
                    if named.as_deref() != Some(image.digest) {
                        reasons.push(format!("{}: payload does not name {}", item.source, image.digest));
                        continue;
                    }
                    match (&trust, certificate) {
                        (Trust::Key(key), _) => {
                            let ok = B64.decode(signature.trim()).is_ok_and(|sig| key.verify_message(payload, &sig));
                            if ok {
                                out.push(VerifiedSignature { id: id_of(item), ..Default::default() });
                            } else {
                                reasons.push(format!("{}: signature does not verify with the authority's key", item.source));
                            }
                        }
                        (Trust::Keyless, _) => uncheckable.push(format!(
                            "{}: legacy keyless cosign signatures need an online transparency-log check; publish Sigstore bundles",
                            item.source
                        )),
                    }
                }
                EvidenceKind::SigstoreBundle => {
                    match sigstore::verify(&item.bytes, Artifact::Sha256(digest), &policy_for(&trust), self.root) {
                        Ok(v) if matches!(v.payload, Payload::MessageSignature { .. }) => {
                            out.push(signer_to_signature(id_of(item), &v.signer));
                        }
                        Ok(_) => {} // a DSSE bundle is an attestation
                        Err(e) => reasons.push(format!("{}: {e}", item.source)),
                    }
                }
                _ => {}
            }
        }
        if out.is_empty() {
            return Err(nothing_verified("signatures", image.digest, reasons, uncheckable));
        }
        Ok(out)
    }

    fn verify_attestations(
        &self,
        image: &ImageUnderTest<'_>,
        authority: &Authority,
    ) -> Result<Vec<VerifiedAttestation>, VerifyError> {
        let trust = trust_of(authority)?;
        let digest = digest_bytes(image.digest)
            .ok_or_else(|| VerifyError::Unavailable(format!("image digest {} is not sha256", image.digest)))?;
        let hex = &image.digest["sha256:".len()..];
        let mut out = Vec::new();
        let mut reasons = Vec::new();
        let mut uncheckable = Vec::new();
        for item in self.evidence.for_digest(image.digest) {
            let verified: Result<(VerifiedSignature, Vec<u8>), String> = match (&item.kind, &trust) {
                (EvidenceKind::SigstoreBundle, Trust::Key(key)) if offline_key_bundle(&item.bytes) => {
                    verify_offline_key_bundle(&item.bytes, key)
                        .map(|payload| (VerifiedSignature { id: id_of(item), ..Default::default() }, payload))
                }
                (EvidenceKind::SigstoreBundle, _) => {
                    match sigstore::verify(&item.bytes, Artifact::Sha256(digest), &policy_for(&trust), self.root) {
                        Ok(v) => match v.payload {
                            Payload::Dsse { payload, .. } => Ok((signer_to_signature(id_of(item), &v.signer), payload)),
                            Payload::MessageSignature { .. } => continue,
                        },
                        Err(e) => Err(e.to_string()),
                    }
                }
                (EvidenceKind::DsseEnvelope, Trust::Key(key)) => verify_dsse_with_key(&item.bytes, key)
                    .map(|payload| (VerifiedSignature { id: id_of(item), ..Default::default() }, payload)),
                (EvidenceKind::DsseEnvelope, Trust::Keyless) => {
                    uncheckable.push(format!(
                        "{}: a bare DSSE envelope carries no transparency-log proof; keyless needs a Sigstore bundle",
                        item.source
                    ));
                    continue;
                }
                _ => continue,
            };
            let (signature, payload) = match verified {
                Ok(v) => v,
                Err(e) => {
                    reasons.push(format!("{}: {e}", item.source));
                    continue;
                }
            };
            let Ok(statement) = serde_json::from_slice::<Value>(&payload) else {
                reasons.push(format!("{}: payload is not an in-toto statement", item.source));
                continue;
            };
            let subject: Vec<Value> = statement.get("subject").and_then(Value::as_array).cloned().unwrap_or_default();
            let about_image = subject.iter().any(|s| {
                s.pointer("/digest/sha256").and_then(Value::as_str).is_some_and(|d| d.eq_ignore_ascii_case(hex))
            });
            if !about_image {
                reasons.push(format!("{}: statement subject does not include {}", item.source, image.digest));
                continue;
            }
            out.push(VerifiedAttestation {
                signature,
                predicate_type: statement.get("predicateType").and_then(Value::as_str).unwrap_or_default().to_string(),
                predicate: statement.get("predicate").cloned().unwrap_or(Value::Null),
                subject,
            });
        }
        if out.is_empty() {
            return Err(nothing_verified("attestations", image.digest, reasons, uncheckable));
        }
        Ok(out)
    }
}

/// A key-signed bundle with no transparency-log entries (as `tarn` and
/// `cosign attest --tlog-upload=false --new-bundle-format` write them). The Sigstore verifier
/// requires log evidence; with a trusted key, the DSSE signature alone is the proof.
fn offline_key_bundle(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Value>(bytes).is_ok_and(|b| {
        let vm = &b["verificationMaterial"];
        vm.get("publicKey").is_some()
            && vm.get("tlogEntries").and_then(Value::as_array).is_none_or(Vec::is_empty)
            && b.get("dsseEnvelope").is_some()
    })
}

fn verify_offline_key_bundle(bytes: &[u8], key: &VerificationKey) -> Result<Vec<u8>, String> {
    let b: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let env = serde_json::to_vec(&b["dsseEnvelope"]).map_err(|e| e.to_string())?;
    verify_dsse_with_key(&env, key)
}

/// Verifies a DSSE envelope with a key (any of its signatures) and returns the payload.
pub fn verify_dsse_with_key(envelope: &[u8], key: &VerificationKey) -> Result<Vec<u8>, String> {
    let env: Value = serde_json::from_slice(envelope).map_err(|e| format!("not a DSSE envelope: {e}"))?;
    let payload_type = env.get("payloadType").and_then(Value::as_str).ok_or("DSSE envelope without payloadType")?;
    let payload = B64
        .decode(env.get("payload").and_then(Value::as_str).ok_or("DSSE envelope without payload")?)
        .map_err(|e| format!("DSSE payload is not base64: {e}"))?;
    let pae = tarn_trust::dsse::pae(payload_type, &payload);
    let verified = env
        .get("signatures")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("sig").and_then(Value::as_str))
        .filter_map(|s| B64.decode(s).ok())
        .any(|sig| key.verify_message(&pae, &sig));
    if verified { Ok(payload) } else { Err("no DSSE signature verifies with the authority's key".into()) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tarn_trust::keys::SigningKeyPair;
    use tarn_trust::statement::{Statement, Subject};

    use super::*;
    use crate::imagepolicy::types::{Identity, KeyRef, KeylessRef};

    const DIGEST: &str = "sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf";
    const OTHER: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn key_authority(k: &SigningKeyPair) -> Authority {
        Authority { key: Some(KeyRef { data: k.public().to_pem(), ..Default::default() }), ..Default::default() }
    }

    fn cosign_sig(k: &SigningKeyPair, digest: &str) -> Vec<u8> {
        let payload = serde_json::to_vec(&json!({"critical": {"identity": {"docker-reference": "ghcr.io/acme/app"},
            "image": {"docker-manifest-digest": digest}, "type": "cosign container image signature"}}))
        .unwrap();
        serde_json::to_vec(&json!({"Base64Signature": B64.encode(k.sign(&payload)), "Payload": B64.encode(&payload)}))
            .unwrap()
    }

    fn dsse(k: &SigningKeyPair, digest: &str) -> Vec<u8> {
        let st = Statement::new(
            vec![Subject::sha256("img", &digest[7..])],
            "https://slsa.dev/provenance/v1",
            json!({"buildDefinition": {"buildType": "x"}}),
        );
        let payload = serde_json::to_vec(&st).unwrap();
        let sig = k.sign(&tarn_trust::dsse::pae("application/vnd.in-toto+json", &payload));
        serde_json::to_vec(&json!({"payloadType": "application/vnd.in-toto+json", "payload": B64.encode(&payload), "signatures": [{"sig": B64.encode(sig)}]})).unwrap()
    }

    fn image(digest: &str) -> ImageUnderTest<'_> {
        ImageUnderTest { reference: "ghcr.io/acme/app:1", digest }
    }

    #[test]
    fn key_signatures_and_attestations() {
        let (k, other) = (SigningKeyPair::generate(), SigningKeyPair::generate());
        let mut set = EvidenceSet::default();
        set.add_file(DIGEST, "sig.json", cosign_sig(&k, DIGEST));
        set.add_file(DIGEST, "att.intoto.jsonl", dsse(&k, DIGEST));
        let st = Statement::new(
            vec![Subject::sha256("img", &DIGEST[7..])],
            "https://spdx.dev/Document",
            json!({"spdxVersion": "SPDX-2.3"}),
        );
        let bundle = tarn_trust::bundle::sign_statement(&k, &st).unwrap();
        set.add_file(DIGEST, "sbom.sigstore.json", serde_json::to_vec(&bundle).unwrap());
        set.add_file(OTHER, "sig.json", cosign_sig(&k, DIGEST));
        let root = TrustedRoot::production();
        let v = EvidenceVerifier { evidence: &set, root: &root };

        assert_eq!(v.verify_signatures(&image(DIGEST), &key_authority(&k)).unwrap().len(), 1);
        let err = v.verify_signatures(&image(DIGEST), &key_authority(&other)).unwrap_err();
        assert!(matches!(&err, VerifyError::Failed(m) if m.contains("does not verify")), "{err:?}");
        // A signature whose payload names another image does not count for this one.
        let err = v.verify_signatures(&image(OTHER), &key_authority(&k)).unwrap_err();
        assert!(err.to_string().contains("does not name"), "{err}");

        let atts = v.verify_attestations(&image(DIGEST), &key_authority(&k)).unwrap();
        let types: Vec<&str> = atts.iter().map(|a| a.predicate_type.as_str()).collect();
        assert_eq!(types, ["https://slsa.dev/provenance/v1", "https://spdx.dev/Document"]);
        assert_eq!(atts[0].predicate["buildDefinition"]["buildType"], "x");
        assert!(v.verify_attestations(&image(DIGEST), &key_authority(&other)).is_err());
        // Nothing at all for an unknown image.
        let err = v
            .verify_signatures(
                &image("sha256:2222222222222222222222222222222222222222222222222222222222222222"),
                &key_authority(&k),
            )
            .unwrap_err();
        assert!(err.to_string().starts_with("no signatures found"), "{err}");
    }

    #[test]
    fn keyless_bundles_against_the_trusted_root() {
        let bundle = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/sigstore-conformance/assets/bundle-verify/happy-path-intoto-in-dsse-v3/bundle.sigstore.json")).unwrap();
        let mut set = EvidenceSet::default();
        set.add_file(DIGEST, "prov.sigstore.json", bundle.clone());
        let root = TrustedRoot::production();
        let v = EvidenceVerifier { evidence: &set, root: &root };
        let keyless = Authority {
            keyless: Some(KeylessRef {
                identities: Some(vec![Identity { issuer: "x".into(), subject: "y".into(), ..Default::default() }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let atts = v.verify_attestations(&image(DIGEST), &keyless).unwrap();
        assert_eq!(atts[0].predicate_type, "https://slsa.dev/provenance/v1");
        assert_eq!(atts[0].signature.issuer.as_deref(), Some("https://token.actions.githubusercontent.com"));
        assert!(atts[0].signature.subject.as_deref().is_some_and(|s| s.contains("extremely-dangerous-oidc-beacon")));
        // A tampered bundle does not verify.
        let mut tampered: Value = serde_json::from_slice(&bundle).unwrap();
        tampered["dsseEnvelope"]["signatures"][0]["sig"] = Value::String(B64.encode(b"nope"));
        let mut bad = EvidenceSet::default();
        bad.add_file(DIGEST, "prov.sigstore.json", serde_json::to_vec(&tampered).unwrap());
        let v = EvidenceVerifier { evidence: &bad, root: &root };
        assert!(v.verify_attestations(&image(DIGEST), &keyless).is_err());
        // A bare DSSE envelope cannot be checked keylessly offline: not judged, not failed.
        let mut bare = EvidenceSet::default();
        bare.add_file(
            DIGEST,
            "att.intoto.jsonl",
            br#"{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"MEUC"}]}"#
                .to_vec(),
        );
        let v = EvidenceVerifier { evidence: &bare, root: &root };
        assert!(matches!(v.verify_attestations(&image(DIGEST), &keyless), Err(VerifyError::Unavailable(_))));
        // Custom trust roots are reported as unavailable, not passed.
        let custom = Authority {
            keyless: Some(KeylessRef { trust_root_ref: "mine".into(), ..Default::default() }),
            ..Default::default()
        };
        assert!(matches!(v.verify_attestations(&image(DIGEST), &custom), Err(VerifyError::Unavailable(_))));
    }
}
