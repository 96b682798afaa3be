//! Image evidence from an OCI registry: the OCI referrers API, and cosign's tag scheme
//! (`sha256-<digest>.sig`, `.att`, `.sbom`) for registries without it.
//!
//! Read-only and anonymous (with the registry's bearer-token dance for public repositories);
//! plain HTTP only for hosts listed as insecure (loopback test registries).

use std::collections::BTreeSet;

use base64::Engine as _;
use reqwest::header::{ACCEPT, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use tarn_eval::evidence::{EvidenceItem, EvidenceKind, EvidenceProblem, EvidenceSet};

const MANIFEST_TYPES: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json";
const COSIGN_SIGNATURE_LAYER: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const DSSE_LAYER: &str = "application/vnd.dsse.envelope.v1+json";

/// Where an image lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host (and port), e.g. `ghcr.io`, `registry-1.docker.io`, `127.0.0.1:5000`.
    pub registry: String,
    /// Repository path, e.g. `acme/api`, `library/redis`.
    pub repository: String,
}

impl ImageRef {
    /// Parses an image reference as written in a pod spec (`nginx:1.27`, `ghcr.io/a/b@sha256:…`).
    pub fn parse(reference: &str) -> Option<Self> {
        let name = reference.split('@').next()?;
        // Strip a tag (a colon after the last slash).
        let name = match (name.rfind(':'), name.rfind('/')) {
            (Some(c), Some(s)) if c > s => &name[..c],
            (Some(c), None) => &name[..c],
            _ => name,
        };
        if name.is_empty() {
            return None;
        }
        let (first, rest) = name.split_once('/').unwrap_or(("", name));
        let is_host = first.contains('.') || first.contains(':') || first == "localhost";
        let (registry, repository) = if is_host && !first.is_empty() {
            (first.to_string(), rest.to_string())
        } else {
            let repo = if name.contains('/') { name.to_string() } else { format!("library/{name}") };
            ("docker.io".to_string(), repo)
        };
        let registry = if registry == "docker.io" || registry == "index.docker.io" {
            "registry-1.docker.io".into()
        } else {
            registry
        };
        Some(Self { registry, repository })
    }
}

/// A read-only OCI registry client.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    http: Client,
    insecure: BTreeSet<String>,
}

impl RegistryClient {
    /// `insecure_hosts` are spoken to over plain HTTP.
    pub fn new(insecure_hosts: impl IntoIterator<Item = String>) -> Self {
        let http = Client::builder().timeout(std::time::Duration::from_secs(30)).build().expect("HTTP client");
        Self { http, insecure: insecure_hosts.into_iter().collect() }
    }

    fn base(&self, registry: &str) -> String {
        let scheme = if self.insecure.contains(registry) { "http" } else { "https" };
        format!("{scheme}://{registry}/v2")
    }

    /// GET with Accept, following the anonymous bearer-token challenge once.
    async fn get(&self, url: &str, accept: &str) -> Result<Option<reqwest::Response>, String> {
        let send = |token: Option<&str>| {
            let mut rq = self.http.get(url).header(ACCEPT, accept);
            if let Some(t) = token {
                rq = rq.header(AUTHORIZATION, format!("Bearer {t}"));
            }
            rq.send()
        };
        let mut resp = send(None).await.map_err(|e| format!("GET {url}: {e}"))?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            let challenge =
                resp.headers().get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            let token = self.token(&challenge).await?;
            resp = send(Some(&token)).await.map_err(|e| format!("GET {url}: {e}"))?;
        }
        match resp.status() {
            s if s.is_success() => Ok(Some(resp)),
            StatusCode::NOT_FOUND => Ok(None),
            s => Err(format!("GET {url}: HTTP {s}")),
        }
    }

    async fn token(&self, challenge: &str) -> Result<String, String> {
        let params =
            challenge.strip_prefix("Bearer ").ok_or_else(|| format!("unsupported auth challenge {challenge:?}"))?;
        let field = |k: &str| {
            params.split(',').find_map(|kv| {
                let (a, b) = kv.trim().split_once('=')?;
                (a == k).then(|| b.trim_matches('"').to_string())
            })
        };
        let realm = field("realm").ok_or("auth challenge without realm")?;
        let mut rq = self.http.get(&realm);
        for k in ["service", "scope"] {
            if let Some(v) = field(k) {
                rq = rq.query(&[(k, v)]);
            }
        }
        let v: Value = rq
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("token: {e}"))?
            .json()
            .await
            .map_err(|e| format!("token: {e}"))?;
        v.get("token")
            .or_else(|| v.get("access_token"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| "token response without a token".into())
    }

    async fn json(&self, url: &str, accept: &str) -> Result<Option<Value>, String> {
        match self.get(url, accept).await? {
            Some(r) => r.json().await.map(Some).map_err(|e| format!("{url}: {e}")),
            None => Ok(None),
        }
    }

    async fn blob(&self, image: &ImageRef, digest: &str) -> Result<Vec<u8>, String> {
        let url = format!("{}/{}/blobs/{digest}", self.base(&image.registry), image.repository);
        let resp = self.get(&url, "*/*").await?.ok_or_else(|| format!("blob {digest} not found"))?;
        let bytes = resp.bytes().await.map_err(|e| format!("{url}: {e}"))?.to_vec();
        let actual = format!("sha256:{}", tarn_trust::sha256_hex(&bytes));
        if digest.starts_with("sha256:") && actual != digest {
            return Err(format!("blob {digest} has digest {actual}"));
        }
        Ok(bytes)
    }

    /// Fetches the evidence for `digest` into `set`; failures become problems.
    pub async fn fetch_into(&self, image: &ImageRef, digest: &str, set: &mut EvidenceSet) {
        let source = format!("{}/{}@{digest}", image.registry, image.repository);
        if let Err(message) = self.fetch(image, digest, set).await {
            set.problems.push(EvidenceProblem { source, message });
        }
    }

    async fn fetch(&self, image: &ImageRef, digest: &str, set: &mut EvidenceSet) -> Result<(), String> {
        let base = format!("{}/{}", self.base(&image.registry), image.repository);
        // OCI 1.1 referrers first; registries without it answer 404.
        if let Some(index) =
            self.json(&format!("{base}/referrers/{digest}"), "application/vnd.oci.image.index.v1+json").await?
        {
            for m in index.get("manifests").and_then(Value::as_array).into_iter().flatten() {
                if let Some(d) = m.get("digest").and_then(Value::as_str) {
                    self.read_manifest(image, &format!("{base}/manifests/{d}"), digest, set).await?;
                }
            }
        }
        let tag = digest.replace(':', "-");
        for suffix in ["sig", "att", "sbom"] {
            self.read_manifest(image, &format!("{base}/manifests/{tag}.{suffix}"), digest, set).await?;
        }
        Ok(())
    }

    /// Reads one artifact manifest and turns its layers into evidence.
    async fn read_manifest(
        &self,
        image: &ImageRef,
        url: &str,
        digest: &str,
        set: &mut EvidenceSet,
    ) -> Result<(), String> {
        let Some(manifest) = self.json(url, MANIFEST_TYPES).await? else { return Ok(()) };
        let artifact_type = manifest.get("artifactType").and_then(Value::as_str).unwrap_or("");
        for layer in manifest.get("layers").and_then(Value::as_array).into_iter().flatten() {
            let media = layer.get("mediaType").and_then(Value::as_str).unwrap_or("");
            let Some(layer_digest) = layer.get("digest").and_then(Value::as_str) else { continue };
            let bytes = self.blob(image, layer_digest).await?;
            let source = format!("{}/{}@{layer_digest}", image.registry, image.repository);
            let ann =
                |k: &str| layer.get("annotations").and_then(|a| a.get(k)).and_then(Value::as_str).map(str::to_string);
            if media == COSIGN_SIGNATURE_LAYER {
                let Some(signature) = ann("dev.cosignproject.cosign/signature") else { continue };
                let certificate = ann("dev.sigstore.cosign/certificate").filter(|c| !c.is_empty());
                let raw = serde_json::to_vec(&serde_json::json!({
                    "Base64Signature": signature,
                    "Payload": base64::engine::general_purpose::STANDARD.encode(&bytes),
                    "Cert": certificate.clone().unwrap_or_default(),
                }))
                .expect("JSON serialises");
                set.add(
                    digest,
                    EvidenceItem {
                        source,
                        kind: EvidenceKind::CosignSignature { payload: bytes, signature, certificate },
                        bytes: raw,
                    },
                );
            } else if media == DSSE_LAYER
                || media.starts_with("application/vnd.dev.sigstore.bundle")
                || artifact_type.starts_with("application/vnd.dev.sigstore.bundle")
                || media.contains("spdx")
                || media.contains("cyclonedx")
                || media.ends_with("json")
            {
                set.add_file(digest, &source, bytes);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_image_references() {
        let r = |s: &str| ImageRef::parse(s).map(|i| (i.registry, i.repository));
        let t = |a: &str, b: &str| Some((a.to_string(), b.to_string()));
        assert_eq!(r("nginx"), t("registry-1.docker.io", "library/nginx"));
        assert_eq!(r("nginx:1.27"), t("registry-1.docker.io", "library/nginx"));
        assert_eq!(r("grafana/k6:0.54"), t("registry-1.docker.io", "grafana/k6"));
        assert_eq!(r("docker.io/library/redis:7.4"), t("registry-1.docker.io", "library/redis"));
        assert_eq!(r("ghcr.io/acme/api@sha256:abcd"), t("ghcr.io", "acme/api"));
        assert_eq!(r("127.0.0.1:5000/team/app:v1"), t("127.0.0.1:5000", "team/app"));
        assert_eq!(r("localhost/app"), t("localhost", "app"));
        assert_eq!(r(""), None);
    }
}
