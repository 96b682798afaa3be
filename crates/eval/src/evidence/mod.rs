//! Image evidence: signatures, attestations, SBOMs and Sigstore bundles, keyed by image digest.
//!
//! Air-gapped first: evidence is read from a directory with one subdirectory per image digest,
//! named `sha256-<hex>` (cosign's tag convention) or `sha256:<hex>`:
//!
//! ```text
//! evidence/
//!   sha256-4b1d…/
//!     provenance.sigstore.json      Sigstore bundle (any version; DSSE or message signature)
//!     build.intoto.jsonl            DSSE envelopes, one per line
//!     sbom.spdx.json                SPDX JSON
//!     sbom.cdx.json                 CycloneDX JSON
//!     signature.json                `cosign download signature` output (one JSON per line)
//! ```
//!
//! Files are classified by content, not name. Unreadable or unrecognised files become
//! problems (file and reason) and are skipped; the rest is used. An OCI-registry source adds
//! items to the same set.

mod verifier;

use std::collections::BTreeMap;
use std::path::Path;

pub use verifier::{EvidenceVerifier, verify_dsse_with_key};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// What a piece of evidence is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvidenceKind {
    /// A Sigstore bundle (JSON).
    SigstoreBundle,
    /// One DSSE envelope (JSON).
    DsseEnvelope,
    /// A cosign "simple signing" signature: `payload` is signed; `signature` base64;
    /// `certificate` PEM when keyless.
    CosignSignature {
        payload: Vec<u8>,
        signature: String,
        certificate: Option<String>,
    },
    SbomSpdx,
    SbomCycloneDx,
    /// `gcloud artifacts docker images describe --show-provenance` output (Cloud Build).
    GcloudProvenance,
    /// The npm registry's attestations document (`{"attestations": [...]}`).
    NpmAttestations,
}

/// One piece of evidence about one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceItem {
    /// Where it came from (file path, or registry reference).
    pub source: String,
    pub kind: EvidenceKind,
    pub bytes: Vec<u8>,
}

/// Evidence that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceProblem {
    pub source: String,
    pub message: String,
}

impl std::fmt::Display for EvidenceProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

/// All evidence known for a scan, by image digest (`sha256:<hex>`).
#[derive(Debug, Clone, Default)]
pub struct EvidenceSet {
    by_digest: BTreeMap<String, Vec<EvidenceItem>>,
    pub problems: Vec<EvidenceProblem>,
}

impl EvidenceSet {
    /// Items for `digest` (`sha256:<hex>`), in a stable order.
    pub fn for_digest(&self, digest: &str) -> &[EvidenceItem] {
        self.by_digest.get(&digest.to_ascii_lowercase()).map_or(&[], Vec::as_slice)
    }

    pub fn digests(&self) -> impl Iterator<Item = &str> {
        self.by_digest.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.by_digest.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `sha256:<hex>` over every item (digest, source, bytes), recorded with snapshots so the
    /// evidence a verdict used is pinned.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for (d, items) in &self.by_digest {
            for it in items {
                for part in [d.as_bytes(), it.source.as_bytes(), &it.bytes] {
                    h.update((part.len() as u64).to_le_bytes());
                    h.update(part);
                }
            }
        }
        format!("sha256:{}", hex::encode(h.finalize()))
    }

    /// Adds one file's content for `digest`, classifying it; unrecognised content is a problem.
    pub fn add_file(&mut self, digest: &str, source: &str, bytes: Vec<u8>) {
        match classify(source, &bytes) {
            Ok(items) => {
                let list = self.by_digest.entry(digest.to_ascii_lowercase()).or_default();
                list.extend(items);
            }
            Err(message) => self.problems.push(EvidenceProblem { source: source.to_string(), message }),
        }
    }

    /// Moves everything from `other` into this set.
    pub fn extend(&mut self, other: EvidenceSet) {
        for (d, items) in other.by_digest {
            self.by_digest.entry(d).or_default().extend(items);
        }
        self.problems.extend(other.problems);
    }

    pub fn add(&mut self, digest: &str, item: EvidenceItem) {
        self.by_digest.entry(digest.to_ascii_lowercase()).or_default().push(item);
    }

    /// Reads an evidence directory (see the module docs). A missing directory is an error; a
    /// bad entry inside it is a problem.
    pub fn load_dir(dir: &Path) -> std::io::Result<Self> {
        let mut set = Self::default();
        let mut entries: Vec<_> = std::fs::read_dir(dir)?.filter_map(Result::ok).map(|e| e.path()).collect();
        entries.sort();
        for sub in entries {
            let name = sub.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            if name.starts_with('.') {
                continue;
            }
            let Some(digest) = digest_from_dir_name(&name) else {
                set.problems.push(EvidenceProblem {
                    source: sub.display().to_string(),
                    message: "not an image digest directory (expected sha256-<64 hex>)".into(),
                });
                continue;
            };
            if !sub.is_dir() {
                set.problems
                    .push(EvidenceProblem { source: sub.display().to_string(), message: "not a directory".into() });
                continue;
            }
            let mut files: Vec<_> = walk(&sub);
            files.sort();
            for f in files {
                let source = f.display().to_string();
                match std::fs::read(&f) {
                    Ok(bytes) => set.add_file(&digest, &source, bytes),
                    Err(e) => set.problems.push(EvidenceProblem { source, message: e.to_string() }),
                }
            }
        }
        Ok(set)
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        let hidden = p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `sha256-<hex>` or `sha256:<hex>` → `sha256:<hex>`.
pub fn digest_from_dir_name(name: &str) -> Option<String> {
    let hex = name.strip_prefix("sha256-").or_else(|| name.strip_prefix("sha256:"))?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("sha256:{}", hex.to_ascii_lowercase()))
}

fn classify(source: &str, bytes: &[u8]) -> Result<Vec<EvidenceItem>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 JSON".to_string())?;
    let item = |kind, bytes: &[u8]| EvidenceItem { source: source.to_string(), kind, bytes: bytes.to_vec() };
    // One JSON document, or JSON lines (intoto.jsonl, cosign download signature).
    let docs: Vec<Value> = match serde_json::from_str::<Value>(text) {
        Ok(v) => vec![v],
        Err(_) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: not JSON: {e}", i + 1)))
            .collect::<Result<_, _>>()?,
    };
    let mut out = Vec::new();
    for doc in docs {
        let raw = serde_json::to_vec(&doc).expect("JSON values serialise");
        let media = doc.get("mediaType").and_then(Value::as_str).unwrap_or("");
        if media.starts_with("application/vnd.dev.sigstore.bundle") {
            out.push(item(EvidenceKind::SigstoreBundle, &raw));
        } else if doc.get("payloadType").is_some() && doc.get("signatures").is_some() {
            out.push(item(EvidenceKind::DsseEnvelope, &raw));
        } else if doc.get("provenance_summary").is_some() {
            out.push(item(EvidenceKind::GcloudProvenance, &raw));
        } else if doc.get("attestations").is_some_and(Value::is_array) {
            out.push(item(EvidenceKind::NpmAttestations, &raw));
        } else if doc.get("spdxVersion").is_some() {
            out.push(item(EvidenceKind::SbomSpdx, &raw));
        } else if doc.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
            out.push(item(EvidenceKind::SbomCycloneDx, &raw));
        } else if let (Some(sig), Some(payload)) =
            (doc.get("Base64Signature").and_then(Value::as_str), doc.get("Payload").and_then(Value::as_str))
        {
            use base64::Engine as _;
            let payload = base64::engine::general_purpose::STANDARD
                .decode(payload)
                .map_err(|e| format!("cosign signature payload is not base64: {e}"))?;
            let certificate = doc.get("Cert").and_then(Value::as_str).map(str::to_string).filter(|c| !c.is_empty());
            out.push(item(EvidenceKind::CosignSignature { payload, signature: sig.to_string(), certificate }, &raw));
        } else {
            return Err("unrecognised evidence (expected a Sigstore bundle, DSSE envelope, SPDX or CycloneDX SBOM, cosign signature, gcloud provenance or npm attestations)".into());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:4b1d0c6a9e2f3a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b";

    #[test]
    fn loads_and_classifies_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join(D.replace(':', "-"));
        std::fs::create_dir_all(img.join("nested")).unwrap();
        std::fs::write(img.join("b.sigstore.json"), r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}"#)
            .unwrap();
        std::fs::write(
            img.join("nested/prov.intoto.jsonl"),
            "{\"payloadType\":\"application/vnd.in-toto+json\",\"payload\":\"e30=\",\"signatures\":[]}\n{\"payloadType\":\"x\",\"payload\":\"\",\"signatures\":[]}\n",
        )
        .unwrap();
        std::fs::write(img.join("sbom.json"), r#"{"spdxVersion":"SPDX-2.3"}"#).unwrap();
        std::fs::write(img.join("cdx.json"), r#"{"bomFormat":"CycloneDX","specVersion":"1.5"}"#).unwrap();
        std::fs::write(img.join("sig.json"), r#"{"Base64Signature":"MEUC","Payload":"e30=","Cert":""}"#).unwrap();
        std::fs::write(img.join("notes.txt"), "hello").unwrap();
        std::fs::create_dir_all(dir.path().join("latest")).unwrap();
        let set = EvidenceSet::load_dir(dir.path()).unwrap();
        let kinds: Vec<_> = set
            .for_digest(&D.to_uppercase().replace("SHA256", "sha256"))
            .iter()
            .map(|i| match &i.kind {
                EvidenceKind::CosignSignature { certificate, .. } => format!("cosign:{}", certificate.is_some()),
                k => format!("{k:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            ["SigstoreBundle", "SbomCycloneDx", "DsseEnvelope", "DsseEnvelope", "SbomSpdx", "cosign:false"]
        );
        let problems: Vec<String> = set.problems.iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("latest") && p.contains("not an image digest")));
        assert!(problems.iter().any(|p| p.contains("notes.txt")));
        let before = set.fingerprint();
        let mut more = set.clone();
        more.add_file(D, "x", br#"{"spdxVersion":"SPDX-2.2"}"#.to_vec());
        assert_ne!(more.fingerprint(), before);
        assert!(set.for_digest("sha256:00").is_empty());
        assert!(EvidenceSet::load_dir(&dir.path().join("missing")).is_err());
    }
}
