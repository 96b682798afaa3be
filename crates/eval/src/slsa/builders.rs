//! The builders slsa-verifier knows, their build types, and which of them Tarn counts as
//! providing SLSA Build L3.

/// `https://github.com/`.
pub const GITHUB: &str = "https://github.com/";
/// The OIDC issuer of GitHub Actions workflow identities.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The repository of slsa-github-generator's reusable workflows.
pub const GENERATOR_REPOSITORY: &str = "slsa-framework/slsa-github-generator";
/// The repository whose end-to-end builds may use builders at `refs/heads/main` (testing mode).
pub const E2E_REPOSITORY: &str = "slsa-framework/example-package";

pub const GENERIC_GENERATOR: &str =
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml";
pub const CONTAINER_GENERATOR: &str =
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml";
pub const GO_BUILDER: &str =
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_go_slsa3.yml";
pub const CONTAINER_BASED_BUILDER: &str =
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_container-based_slsa3.yml";
pub const GENERIC_DELEGATOR: &str =
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/delegator_generic_slsa3.yml";
pub const LOW_PERMS_DELEGATOR: &str =
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/delegator_lowperms-generic_slsa3.yml";
/// BYOB builders that slsa-github-generator itself publishes behind its delegators.
pub const BYOB_BUILDER_PREFIX: &str = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/";
/// JReleaser's BYOB builders tag their releases `vX.Y.Z-<language>`.
pub const JRELEASER_REPOSITORY: &str = "https://github.com/jreleaser/release-action/.github/workflows/";

pub const NPM_RUNNER_LEGACY: &str = "https://github.com/actions/runner";
pub const NPM_RUNNER_HOSTED: &str = "https://github.com/actions/runner/github-hosted";
pub const NPM_RUNNER_SELF_HOSTED: &str = "https://github.com/actions/runner/self-hosted";

/// Cloud Build's hosted workers.
pub const GCB_HOSTED_WORKER: &str = "https://cloudbuild.googleapis.com/GoogleHostedWorker";
pub const GCB_V01_BUILDER_IDS: [&str; 2] = [
    "https://cloudbuild.googleapis.com/GoogleHostedWorker@v0.2",
    "https://cloudbuild.googleapis.com/GoogleHostedWorker@v0.3",
];

/// Build types.
pub mod bt {
    pub const BYOB_V0: &str = "https://github.com/slsa-framework/slsa-github-generator/delegator-generic@v0";
    pub const CONTAINER_BASED_V01: &str = "https://slsa.dev/container-based-build/v0.1?draft";
    pub const GO_V1: &str = "https://github.com/slsa-framework/slsa-github-generator/go@v1";
    pub const GENERIC_V1: &str = "https://github.com/slsa-framework/slsa-github-generator/generic@v1";
    pub const CONTAINER_GENERATOR_V1: &str = "https://github.com/slsa-framework/slsa-github-generator/container@v1";
    pub const LEGACY_GO_V1: &str = "https://github.com/slsa-framework/slsa-github-generator-go@v1";
    pub const LEGACY_BUILDER_V1: &str = "https://github.com/slsa-framework/slsa-github-generator@v1";
    /// The npm CLI's v0.2 build types (`gha@v1` before GA, `gha/v2` since).
    pub const NPM_CLI: [&str; 2] = ["https://github.com/npm/cli/gha@v1", "https://github.com/npm/cli/gha/v2"];
    /// GitHub Actions workflow build type (npm CLI's v1 provenance).
    pub const GHA_WORKFLOW_V1: &str = "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1";
    /// `actions/attest-build-provenance`.
    pub const GITHUB_ATTEST_V1: &str = "https://actions.github.io/buildtypes/workflow/v1";
}

/// Reusable workflows trusted by default for artifacts (`verify-artifact`).
pub const DEFAULT_ARTIFACT_BUILDERS: [&str; 3] = [GENERIC_GENERATOR, GO_BUILDER, CONTAINER_BASED_BUILDER];
/// Reusable workflows trusted by default for container images (`verify-image`).
pub const DEFAULT_CONTAINER_BUILDERS: [&str; 1] = [CONTAINER_GENERATOR];
/// BYOB delegators.
pub const BYOB_DELEGATORS: [&str; 2] = [GENERIC_DELEGATOR, LOW_PERMS_DELEGATOR];

/// The build types slsa-verifier accepts from `builder` (a certificate-verified workflow or the
/// npm runner builder), for v0.2 or v1 provenance; `None` for a builder it does not know.
pub fn build_types_of(builder: &str, v1: bool) -> Option<&'static [&'static str]> {
    const BYOB: &[&str] = &[bt::BYOB_V0];
    const GO: &[&str] = &[bt::GO_V1, bt::LEGACY_BUILDER_V1, bt::LEGACY_GO_V1];
    const GENERIC: &[&str] = &[bt::GENERIC_V1];
    const CONTAINER: &[&str] = &[bt::CONTAINER_GENERATOR_V1];
    const CONTAINER_BASED: &[&str] = &[bt::CONTAINER_BASED_V01];
    const NPM_V02: &[&str] = &bt::NPM_CLI;
    const NPM_V1: &[&str] = &[bt::GHA_WORKFLOW_V1];
    Some(match (builder, v1) {
        (GENERIC_DELEGATOR | LOW_PERMS_DELEGATOR, _) => BYOB,
        (GO_BUILDER, false) => GO,
        (GENERIC_GENERATOR, false) => GENERIC,
        (CONTAINER_GENERATOR, false) => CONTAINER,
        (CONTAINER_BASED_BUILDER, true) => CONTAINER_BASED,
        // The legacy runner ID predates v1 provenance; self-hosted runners are not supported.
        (NPM_RUNNER_LEGACY | NPM_RUNNER_HOSTED, false) => NPM_V02,
        (NPM_RUNNER_HOSTED, true) => NPM_V1,
        _ => return None,
    })
}

/// Builders (names, any version) Tarn counts as SLSA Build L3: their signing identity is a
/// reusable workflow or a hosted service the build steps cannot reach, so they cannot forge
/// their own provenance. slsa-github-generator's builders and its BYOB delegators (their
/// delegated builders inherit that isolation) and Cloud Build's hosted workers. Plain GitHub
/// workflows (`actions/attest-build-provenance`, the npm CLI) sign with the workflow's own
/// identity and reach L2.
pub const L3_BUILDERS: [&str; 7] = [
    GENERIC_GENERATOR,
    CONTAINER_GENERATOR,
    GO_BUILDER,
    CONTAINER_BASED_BUILDER,
    GENERIC_DELEGATOR,
    LOW_PERMS_DELEGATOR,
    GCB_HOSTED_WORKER,
];
