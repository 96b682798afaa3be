//! Verification failures, named as slsa-verifier names them (`errors/errors.go`), so results
//! compare one to one with upstream's test tables.

use std::fmt;

use tarn_trust::sigstore::SigstoreError;

/// The class of a verification failure: one variant per upstream error value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    MismatchSource,
    MismatchBranch,
    MismatchTag,
    MismatchVersionedTag,
    MismatchWorkflowInputs,
    MismatchBuilderId,
    InvalidBuilderId,
    InvalidBuildType,
    InvalidRecipe,
    UntrustedReusableWorkflow,
    NotSupported,
    VerifierNotSupported,
    InvalidRef,
    InvalidSemver,
    MalformedUri,
    MismatchHash,
    InvalidHash,
    MismatchIntoto,
    InvalidFormat,
    InvalidDssePayload,
    InvalidEncoding,
    NoValidSignature,
    InvalidSignature,
    MismatchSignature,
    InvalidPublicKey,
    InvalidOidcIssuer,
    InvalidCertificate,
    MismatchCertificate,
    NonVerifiableClaim,
    MismatchPackageName,
    MismatchPackageVersion,
    InvalidPackageName,
    InvalidSubject,
    RekorSearch,
    InvalidRekorEntry,
    MissingSubjectDigest,
    MismatchVerifierId,
    MismatchResourceUri,
    InvalidVerificationResult,
    MismatchVerifiedLevels,
    InvalidSlsaLevel,
    EmptyRequiredField,
    NotPresent,
    Internal,
}

impl ErrorKind {
    /// Upstream's identifier (`ErrorMismatchSource`, …).
    pub fn name(self) -> &'static str {
        use ErrorKind::*;
        match self {
            MismatchSource => "ErrorMismatchSource",
            MismatchBranch => "ErrorMismatchBranch",
            MismatchTag => "ErrorMismatchTag",
            MismatchVersionedTag => "ErrorMismatchVersionedTag",
            MismatchWorkflowInputs => "ErrorMismatchWorkflowInputs",
            MismatchBuilderId => "ErrorMismatchBuilderID",
            InvalidBuilderId => "ErrorInvalidBuilderID",
            InvalidBuildType => "ErrorInvalidBuildType",
            InvalidRecipe => "ErrorInvalidRecipe",
            UntrustedReusableWorkflow => "ErrorUntrustedReusableWorkflow",
            NotSupported => "ErrorNotSupported",
            VerifierNotSupported => "ErrorVerifierNotSupported",
            InvalidRef => "ErrorInvalidRef",
            InvalidSemver => "ErrorInvalidSemver",
            MalformedUri => "ErrorMalformedURI",
            MismatchHash => "ErrorMismatchHash",
            InvalidHash => "ErrorInvalidHash",
            MismatchIntoto => "ErrorMismatchIntoto",
            InvalidFormat => "ErrorInvalidFormat",
            InvalidDssePayload => "ErrorInvalidDssePayload",
            InvalidEncoding => "ErrorInvalidEncoding",
            NoValidSignature => "ErrorNoValidSignature",
            InvalidSignature => "ErrorInvalidSignature",
            MismatchSignature => "ErrorMismatchSignature",
            InvalidPublicKey => "ErrorInvalidPublicKey",
            InvalidOidcIssuer => "ErrorInvalidOIDCIssuer",
            InvalidCertificate => "ErrorInvalidCertificate",
            MismatchCertificate => "ErrorMismatchCertificate",
            NonVerifiableClaim => "ErrorNonVerifiableClaim",
            MismatchPackageName => "ErrorMismatchPackageName",
            MismatchPackageVersion => "ErrorMismatchPackageVersion",
            InvalidPackageName => "ErrorInvalidPackageName",
            InvalidSubject => "ErrorInvalidSubject",
            RekorSearch => "ErrorRekorSearch",
            InvalidRekorEntry => "ErrorInvalidRekorEntry",
            MissingSubjectDigest => "ErrorMissingSubjectDigest",
            MismatchVerifierId => "ErrorMismatchVerifierID",
            MismatchResourceUri => "ErrorMismatchResourceURI",
            InvalidVerificationResult => "ErrorInvalidVerificationResult",
            MismatchVerifiedLevels => "ErrorMismatchVerifiedLevels",
            InvalidSlsaLevel => "ErrorInvalidSLSALevel",
            EmptyRequiredField => "ErrorEmptyRequiredField",
            NotPresent => "ErrorNotPresent",
            Internal => "ErrorInternal",
        }
    }

    /// Upstream's message for the class.
    pub fn message(self) -> &'static str {
        use ErrorKind::*;
        match self {
            MismatchSource => "source used to generate the binary does not match provenance",
            MismatchBranch => "branch used to generate the binary does not match provenance",
            MismatchTag | MismatchVersionedTag => "tag used to generate the binary does not match provenance",
            MismatchWorkflowInputs => "workflow input does not match",
            MismatchBuilderId => "builderID does not match provenance",
            InvalidBuilderId => "builderID is invalid",
            InvalidBuildType => "invalid buildType",
            InvalidRecipe => "the recipe is invalid",
            UntrustedReusableWorkflow => "untrusted reusable workflow",
            NotSupported => "not supported",
            VerifierNotSupported => "no verifier support for the builder",
            InvalidRef => "invalid ref",
            InvalidSemver => "invalid semantic version",
            MalformedUri => "URI is malformed",
            MismatchHash => "artifact hash does not match provenance subject",
            InvalidHash => "invalid hash",
            MismatchIntoto => "verified intoto provenance does not match text provenance",
            InvalidFormat => "invalid format",
            InvalidDssePayload => "invalid DSSE envelope payload",
            InvalidEncoding => "invalid encoding",
            NoValidSignature => "no valid signature",
            InvalidSignature => "invalid signature",
            MismatchSignature => "bundle tlog entry does not match signature",
            InvalidPublicKey => "invalid public key",
            InvalidOidcIssuer => "invalid OIDC issuer",
            InvalidCertificate => "invalid certificate",
            MismatchCertificate => "certificate and provenance mismatch",
            NonVerifiableClaim => "provenance claim cannot be verified",
            MismatchPackageName => "package name does not match provenance",
            MismatchPackageVersion => "package version does not match provenance",
            InvalidPackageName => "invalid package name",
            InvalidSubject => "invalid subject",
            RekorSearch => "error searching rekor entries",
            InvalidRekorEntry => "invalid Rekor entry",
            MissingSubjectDigest => "missing subject digest",
            MismatchVerifierId => "verifier ID does not match",
            MismatchResourceUri => "resource URI does not match",
            InvalidVerificationResult => "verification result is not PASSED",
            MismatchVerifiedLevels => "verified levels do not match",
            InvalidSlsaLevel => "invalid SLSA level",
            EmptyRequiredField => "empty value in required field",
            NotPresent => "not present",
            Internal => "internal error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// Why provenance did not verify: the upstream class and what exactly was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {detail}")]
pub struct VerifyError {
    pub kind: ErrorKind,
    pub detail: String,
}

impl VerifyError {
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self { kind, detail: detail.into() }
    }

    /// Upstream's identifier of the class.
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }
}

/// Shorthand for building an error in `?` chains.
pub(crate) fn err<T>(kind: ErrorKind, detail: impl Into<String>) -> Result<T, VerifyError> {
    Err(VerifyError::new(kind, detail))
}

/// Maps a Sigstore bundle failure onto the class slsa-verifier reports for it (sigstore-go
/// failures surface as these in `verifiers/internal/gha/bundle.go`).
impl From<SigstoreError> for VerifyError {
    fn from(e: SigstoreError) -> Self {
        use ErrorKind::*;
        let kind = match &e {
            SigstoreError::BadSignature(_) => InvalidSignature,
            SigstoreError::TlogEntryMismatch { .. } => MismatchSignature,
            SigstoreError::SignedEntryTimestamp { .. }
            | SigstoreError::InclusionProof { .. }
            | SigstoreError::Checkpoint { .. } => InvalidRekorEntry,
            // A transparency-log field that does not even decode is an invalid Rekor entry too.
            SigstoreError::MalformedBundle(m) if is_tlog_field(m) => InvalidRekorEntry,
            SigstoreError::MalformedBundle(_) | SigstoreError::UnsupportedMediaType(_) => InvalidFormat,
            SigstoreError::ArtifactMismatch(_) => MismatchHash,
            SigstoreError::CertificateChain(_) | SigstoreError::Sct(_) | SigstoreError::ValidityWindow { .. } => {
                InvalidCertificate
            }
            SigstoreError::IdentityMismatch { .. } => UntrustedReusableWorkflow,
            SigstoreError::MalformedKey(_) => InvalidPublicKey,
            SigstoreError::UntrustedInstance { .. } | SigstoreError::Timestamp(_) => NoValidSignature,
            SigstoreError::PolicyMismatch(_) | SigstoreError::MalformedTrustedRoot(_) => InvalidFormat,
            SigstoreError::Unsupported(_) => NotSupported,
        };
        VerifyError::new(kind, e.to_string())
    }
}

fn is_tlog_field(message: &str) -> bool {
    ["signedEntryTimestamp", "inclusionProof", "inclusionPromise", "canonicalizedBody", "tlogEntries", "logIndex"]
        .iter()
        .any(|f| message.contains(f))
}
