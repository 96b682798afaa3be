//! Google Cloud Build's provenance signing keys ("builtByGCB" per region, and the global PAE
//! keys), as published by Google and pinned by slsa-verifier
//! (`verifiers/internal/gcb/keys/materials`, copied to `fixtures/slsa-verifier`).

/// Regional `builtByGCB` keys by location: they sign `SHA-256(payload)`, not the DSSE PAE.
const REGIONAL: [(&str, &str); 19] = [
    (
        "asia-east1",
        include_str!("../../../../fixtures/slsa-verifier/verifiers/internal/gcb/keys/materials/asia-east1.key"),
    ),
    (
        "asia-northeast1",
        include_str!("../../../../fixtures/slsa-verifier/verifiers/internal/gcb/keys/materials/asia-northeast1.key"),
    ),
    (
        "asia-southeast1",
        include_str!("../../../../fixtures/slsa-verifier/verifiers/internal/gcb/keys/materials/asia-southeast1.key"),
    ),
    (
        "australia-southeast1",
        include_str!(
            "../../../../fixtures/slsa-verifier/verifiers/internal/gcb/keys/materials/australia-southeast1.key"
        ),
    ),
    (
        "europe-north1",
        include_str!("../../../../fixtures/slsa-verifier/verifiers/internal/gcb/keys/materials/europe-north1.key"),
    ),
    (
        "europe-west1",
        include_str!("../../../../fixtures/slsa-verifier/verifiers/internal/gcb/keys/materials/europe-west1.key"),
    ),
    (
        "europe-west2",
        include_str!("../../../../fixtures/slsa-verifier/verifiers/internal/gcb/keys/materials/europe-west2.key"),
    ),
    (
        "europe-west3",
        include_str!("../../../../fixtures/slsa-verifier/verifiers/internal/gcb/keys/materials/europe-west3.key"),
    ),
    (
        "europe-west4",
        include_str!("../../../../fixtures/slsa-verifier/verifiers/internal/gcb/keys/materials/europe-west4.key"),
    ),
    ("global", include_str!("../../../../fixtures/slsa-verifier/verifiers/internal/gcb/keys/materials/global.key")),
    (
        "southamerica-west1",
        include_str!("../../../../fixtures/slsa-verifier/verifiers/internal/gcb/keys/materials/southamerica-west1.key"),
    ),
    (
        "us-central1",
        include_str!("../../../../fixtures/slsa-verifier/verifiers/internal/gcb/keys/materials/us-central1.key"),
    ),
    (
        "us-central2",
        include_str!("../../../../fixtures/slsa-verifier/verifiers/internal/gcb/keys/materials/us-central2.key"),
    ),
    ("us-east1", include_str!("../../../../fixtures/slsa-verifier/verifiers/internal/gcb/keys/materials/us-east1.key")),
    ("us-east4", include_str!("../../../../fixtures/slsa-verifier/verifiers/internal/gcb/keys/materials/us-east4.key")),
    ("us-west1", include_str!("../../../../fixtures/slsa-verifier/verifiers/internal/gcb/keys/materials/us-west1.key")),
    ("us-west2", include_str!("../../../../fixtures/slsa-verifier/verifiers/internal/gcb/keys/materials/us-west2.key")),
    ("us-west3", include_str!("../../../../fixtures/slsa-verifier/verifiers/internal/gcb/keys/materials/us-west3.key")),
    ("us-west4", include_str!("../../../../fixtures/slsa-verifier/verifiers/internal/gcb/keys/materials/us-west4.key")),
];

/// Global key signing v0.1 provenance over the DSSE PAE.
pub const V01_GLOBAL_PAE_KEY_ID: &str =
    "projects/verified-builder/locations/global/keyRings/attestor/cryptoKeys/provenanceSigner/cryptoKeyVersions/1";
/// Global key signing v1.0 provenance over the DSSE PAE.
pub const V10_GLOBAL_PAE_KEY_ID: &str =
    "projects/verified-builder/locations/global/keyRings/attestor/cryptoKeys/google-hosted-worker/cryptoKeyVersions/1";

const V01_GLOBAL_PAE: &str = include_str!(
    "../../../../fixtures/slsa-verifier/verifiers/internal/gcb/keys/materials/global-pae-provenanceSigner_1.key"
);
const V10_GLOBAL_PAE: &str = include_str!(
    "../../../../fixtures/slsa-verifier/verifiers/internal/gcb/keys/materials/global-pae-google-hosted-worker_1.key"
);

const REGIONAL_PREFIX: &str = "projects/verified-builder/locations/";
const REGIONAL_SUFFIX: &str = "/keyRings/attestor/cryptoKeys/builtByGCB/cryptoKeyVersions/1";

/// What a signature's `keyid` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcbKey {
    /// A global key over the PAE; `v1` for SLSA v1.0 provenance.
    GlobalPae { pem: &'static str, v1: bool },
    /// A regional key over the payload's SHA-256; `None` for an unknown region.
    Regional(Option<&'static str>),
    /// Not a Cloud Build key: the signature is ignored.
    Other,
}

/// The key a `keyid` names.
pub fn key_for(keyid: &str) -> GcbKey {
    match keyid {
        V01_GLOBAL_PAE_KEY_ID => GcbKey::GlobalPae { pem: V01_GLOBAL_PAE, v1: false },
        V10_GLOBAL_PAE_KEY_ID => GcbKey::GlobalPae { pem: V10_GLOBAL_PAE, v1: true },
        _ => match keyid.strip_prefix(REGIONAL_PREFIX).and_then(|r| r.strip_suffix(REGIONAL_SUFFIX)) {
            Some(region) => GcbKey::Regional(REGIONAL.iter().find(|(r, _)| *r == region).map(|(_, pem)| *pem)),
            None => GcbKey::Other,
        },
    }
}
