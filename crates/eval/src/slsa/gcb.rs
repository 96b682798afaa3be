//! Google Cloud Build container provenance, as `gcloud artifacts docker images describe
//! --show-provenance` prints it: signed SLSA v0.1 statements (DSSE, GCB's KMS keys) plus an
//! unsigned human-readable copy and image summary, which must agree with the signed one.

use serde::Deserialize;
use serde_json::{Value, json};

use super::builders::GCB_V01_BUILDER_IDS;
use super::bundle::Strength;
use super::checks::{BuilderOptions, ProvenanceOptions};
use super::crypto::{EcKey, decode_b64};
use super::envelope::Envelope;
use super::error::{ErrorKind, VerifyError, err};
use super::gcb_keys::{GcbKey, key_for};
use super::gha::{VerifiedProvenance, VerifierKind, verifier_for};
use super::provenance::{PROVENANCE_V01, Provenance, STATEMENT_TYPES};
use super::refs::{BuilderId, verify_versioned_tag};

#[derive(Debug, Clone, Default, Deserialize)]
struct GcloudProvenance {
    #[serde(default)]
    image_summary: ImageSummary,
    #[serde(default)]
    provenance_summary: ProvenanceSummary,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct ImageSummary {
    #[serde(default)]
    digest: String,
    #[serde(default)]
    fully_qualified_digest: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct ProvenanceSummary {
    #[serde(default)]
    provenance: Vec<Occurrence>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Occurrence {
    #[serde(default)]
    build: Value,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    resource_uri: String,
    #[serde(default)]
    envelope: Envelope,
}

/// Verifies one occurrence's envelope: some signature by a Cloud Build key verifies.
fn verify_occurrence(occ: &Occurrence) -> Result<Provenance, VerifyError> {
    occ.envelope.require_intoto()?;
    let payload = occ.envelope.payload_bytes()?;
    if occ.envelope.signatures.is_empty() {
        return err(ErrorKind::NoValidSignature, "no signatures found in envelope");
    }
    let mut errors = Vec::new();
    for sig in &occ.envelope.signatures {
        let (pem, over_pae) = match key_for(&sig.keyid) {
            GcbKey::GlobalPae { pem, .. } => (pem, true),
            GcbKey::Regional(Some(pem)) => (pem, false),
            GcbKey::Regional(None) => {
                errors.push(format!("no key for {:?}", sig.keyid));
                continue;
            }
            GcbKey::Other => continue,
        };
        let key = EcKey::from_pem(pem).map_err(|e| VerifyError::new(ErrorKind::Internal, e))?;
        let ok = match decode_b64(&sig.sig) {
            Some(s) if over_pae => key.verify(&occ.envelope.pae()?, &s),
            Some(s) => key.verify(&payload, &s),
            None => false,
        };
        if !ok {
            errors.push(format!("signature by {:?} does not verify", sig.keyid));
            continue;
        }
        match parse_v01(&payload) {
            Ok(p) => return Ok(p),
            Err(e) => errors.push(e.detail),
        }
    }
    if errors.is_empty() {
        errors.push("no signature by a Cloud Build key".into());
    }
    err(ErrorKind::NoValidSignature, errors.join("; "))
}

fn parse_v01(payload: &[u8]) -> Result<Provenance, VerifyError> {
    let p = Provenance::parse(payload)?;
    if p.predicate_type != PROVENANCE_V01 || !STATEMENT_TYPES.contains(&p.statement_type()) {
        return err(
            ErrorKind::InvalidDssePayload,
            format!("unexpected statement or predicate type {:?}", p.predicate_type),
        );
    }
    Ok(p)
}

/// slsa-verifier `verify-image` for Cloud Build: `opts.digest` is the image's SHA-256.
pub fn verify_gcb_image(
    gcloud_json: &[u8],
    opts: &ProvenanceOptions,
    builder: &BuilderOptions,
) -> Result<VerifiedProvenance, VerifyError> {
    if verifier_for(builder.builder_id.as_deref())? != VerifierKind::CloudBuild {
        return err(ErrorKind::VerifierNotSupported, "not a Cloud Build builder");
    }
    verify(gcloud_json, opts, builder.builder_id.as_deref(), true)
}

/// Everything that needs no policy: a Cloud Build signature, a Cloud Build builder and
/// recipe, the image digest in the statement, metadata and summary, and agreement of the text
/// copy. For judging images found in a cluster.
pub fn verify_gcb_provenance(gcloud_json: &[u8], image_sha256: &str) -> Result<VerifiedProvenance, VerifyError> {
    let opts = ProvenanceOptions { digest: image_sha256.to_string(), ..Default::default() };
    verify(gcloud_json, &opts, None, false)
}

fn parse(gcloud_json: &[u8]) -> Result<GcloudProvenance, VerifyError> {
    let gcloud: GcloudProvenance = serde_json::from_slice(gcloud_json)
        .map_err(|e| VerifyError::new(ErrorKind::InvalidDssePayload, e.to_string()))?;
    if gcloud.provenance_summary.provenance.is_empty() {
        return err(ErrorKind::InvalidDssePayload, "no provenance found");
    }
    Ok(gcloud)
}

/// The first occurrence whose envelope a Cloud Build key signed, and its statement.
fn first_signed(gcloud: &GcloudProvenance) -> Result<(&Occurrence, Provenance), VerifyError> {
    let mut errors = Vec::new();
    for occ in &gcloud.provenance_summary.provenance {
        match verify_occurrence(occ) {
            Ok(p) => return Ok((occ, p)),
            Err(e) => errors.push(e.detail),
        }
    }
    err(ErrorKind::NoValidSignature, errors.join("; "))
}

/// The signed statement of Cloud Build provenance from a Cloud Build worker, whatever image
/// it names (callers compare subjects themselves).
pub(crate) fn signed_statement(gcloud_json: &[u8]) -> Result<Provenance, VerifyError> {
    let (_, prov) = first_signed(&parse(gcloud_json)?)?;
    verify_builder(&prov, None)?;
    Ok(prov)
}

fn verify(
    gcloud_json: &[u8],
    opts: &ProvenanceOptions,
    expected_builder: Option<&str>,
    check_source: bool,
) -> Result<VerifiedProvenance, VerifyError> {
    let gcloud = parse(gcloud_json)?;
    let (occ, prov) = first_signed(&gcloud)?;
    let builder_id = verify_builder(&prov, expected_builder)?;
    verify_subject_digest(&prov, &opts.digest)?;
    if check_source {
        verify_source(&prov, &opts.source, &builder_id)?;
    }
    if occ.kind != "BUILD" {
        return err(ErrorKind::InvalidFormat, format!("expected kind to be 'BUILD', got {}", occ.kind));
    }
    if !occ.resource_uri.ends_with(&format!("@sha256:{}", opts.digest)) {
        return err(
            ErrorKind::MismatchHash,
            format!("expected resourceUri {:?}, got {:?}", opts.digest, occ.resource_uri),
        );
    }
    let summary = &gcloud.image_summary;
    if summary.digest != format!("sha256:{}", opts.digest)
        || !summary.fully_qualified_digest.ends_with(&format!("sha256:{}", opts.digest))
    {
        return err(
            ErrorKind::MismatchHash,
            format!("expected summary digest {:?}, got {:?}", opts.digest, summary.digest),
        );
    }
    verify_text_provenance(&prov, &occ.build)?;
    if let Some(b) = &opts.branch {
        return err(ErrorKind::NotSupported, format!("branch verification ({b})"));
    }
    if let Some(t) = &opts.tag {
        let got = tag_name(&prov).map_err(|e| VerifyError::new(ErrorKind::MismatchTag, e.detail))?;
        if &got != t {
            return err(ErrorKind::MismatchTag, format!("expected {t:?}, got {got:?}"));
        }
    }
    if let Some(t) = &opts.versioned_tag {
        let got = tag_name(&prov).map_err(|e| VerifyError::new(ErrorKind::MismatchVersionedTag, e.detail))?;
        verify_versioned_tag(&got, t)?;
    }
    Ok(VerifiedProvenance { builder_id, provenance: prov, signer: None, strength: Strength::Verified, signed_at: None })
}

/// The predicate's builder is a Cloud Build hosted worker, matches `expected`, and produced
/// a Cloud Build recipe.
fn verify_builder(prov: &Provenance, expected: Option<&str>) -> Result<BuilderId, VerifyError> {
    let id = prov.builder_id();
    if !GCB_V01_BUILDER_IDS.contains(&id) {
        return err(ErrorKind::InvalidBuilderId, id.to_string());
    }
    let builder = BuilderId::parse(id, true)?;
    if let Some(e) = expected {
        builder.matches_loose(e, false)?;
    }
    let recipe = prov.build_type();
    let ok = match builder.version.as_str() {
        "v0.2" => recipe == id,
        _ => {
            ["https://cloudbuild.googleapis.com/CloudBuildYaml@", "https://cloudbuild.googleapis.com/CloudBuildSteps@"]
                .iter()
                .any(|p| recipe.starts_with(p))
        }
    };
    if !ok {
        return err(ErrorKind::InvalidRecipe, format!("unexpected recipe type {recipe:?}"));
    }
    let args = prov.statement.pointer("/predicate/recipe/arguments");
    let Some(args) = args.and_then(Value::as_object) else {
        return err(ErrorKind::InvalidDssePayload, "recipe arguments is not a map");
    };
    let t = args.get("@type").and_then(Value::as_str);
    let Some(t) = t else { return err(ErrorKind::InvalidDssePayload, "'@type' field is absent or not a string") };
    const BUILD_TYPE: &str = "type.googleapis.com/google.devtools.cloudbuild.v1.Build";
    if t != BUILD_TYPE {
        return err(ErrorKind::MismatchBuilderId, format!("expected {BUILD_TYPE:?}, got {t:?}"));
    }
    Ok(builder)
}

fn verify_subject_digest(prov: &Provenance, digest: &str) -> Result<(), VerifyError> {
    for (_, d) in prov.subjects()? {
        let Some(h) = d.get("sha256") else { return err(ErrorKind::InvalidDssePayload, "no sha256 subject digest") };
        if h == digest {
            return Ok(());
        }
    }
    err(ErrorKind::MismatchHash, format!("expected hash {digest:?} not found"))
}

fn verify_source(prov: &Provenance, expected: &str, builder: &BuilderId) -> Result<(), VerifyError> {
    let uri = prov.source_uri()?;
    let uri = uri.strip_prefix("git+").unwrap_or(&uri);
    let expected = if uri.starts_with("https://") && !expected.starts_with("https://") {
        format!("https://{expected}")
    } else {
        expected.to_string()
    };
    let ok = match builder.version.as_str() {
        "v0.2" => uri.starts_with(&format!("{expected}/commit/")) || uri.starts_with(&format!("{expected}#")),
        _ => uri == expected || uri.starts_with(&format!("{expected}#")),
    };
    if !ok {
        return err(ErrorKind::MismatchSource, format!("expected {expected:?}, got {uri:?}"));
    }
    Ok(())
}

fn tag_name(prov: &Provenance) -> Result<String, VerifyError> {
    match prov.statement.pointer("/predicate/recipe/arguments/substitutions/TAG_NAME") {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(v) => err(ErrorKind::InvalidFormat, format!("value {v} is not a string")),
        None => err(ErrorKind::InvalidFormat, "no entry 'TAG_NAME' in substitution map"),
    }
}

/// The fields slsa-verifier's Go structures keep (and so compare): unknown fields and GCB's
/// non-standard `recipe.definedInMaterial` / `metadata.buildInvocationId` are ignored.
fn comparable(statement: &Value, predicate: &Value) -> Value {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let digests = |v: &Value| v.get("digest").cloned().filter(Value::is_object).unwrap_or(json!({}));
    let list = |v: Option<&Value>, f: &dyn Fn(&Value) -> Value| -> Value {
        Value::Array(v.and_then(Value::as_array).map(|a| a.iter().map(f).collect()).unwrap_or_default())
    };
    let recipe = predicate.get("recipe").cloned().unwrap_or(Value::Null);
    let metadata = match predicate.get("metadata") {
        Some(m @ Value::Object(_)) => {
            let flag = |p: &str| m.pointer(p).and_then(Value::as_bool).unwrap_or(false);
            json!({
                "buildStartedOn": m.get("buildStartedOn"),
                "buildFinishedOn": m.get("buildFinishedOn"),
                "completeness": [flag("/completeness/arguments"), flag("/completeness/environment"), flag("/completeness/materials")],
                "reproducible": flag("/reproducible"),
            })
        }
        _ => Value::Null,
    };
    json!({
        "_type": s(statement, "_type"),
        "predicateType": s(statement, "predicateType"),
        "subject": list(statement.get("subject"), &|x| json!({"name": s(x, "name"), "digest": digests(x)})),
        "builder": predicate.pointer("/builder/id").and_then(Value::as_str).unwrap_or(""),
        "recipe": {
            "type": s(&recipe, "type"),
            "entryPoint": s(&recipe, "entryPoint"),
            "arguments": recipe.get("arguments").cloned().unwrap_or(Value::Null),
            "environment": recipe.get("environment").cloned().unwrap_or(Value::Null),
        },
        "metadata": metadata,
        "materials": list(predicate.get("materials"), &|x| json!({"uri": s(x, "uri"), "digest": digests(x)})),
    })
}

/// The human-readable `build.intotoStatement` (GCB names its predicate `slsaProvenance`) says
/// exactly what the signed statement says.
fn verify_text_provenance(prov: &Provenance, build: &Value) -> Result<(), VerifyError> {
    let text = build.get("intotoStatement").cloned().unwrap_or(Value::Null);
    let signed = comparable(&prov.statement, prov.statement.get("predicate").unwrap_or(&Value::Null));
    let unsigned = comparable(&text, text.get("slsaProvenance").unwrap_or(&Value::Null));
    if signed != unsigned {
        return err(ErrorKind::MismatchIntoto, "the text provenance differs from the signed statement");
    }
    Ok(())
}
