//! Evidence from a real OCI registry (Debian's `docker-registry`, distribution 2.8) on loopback.

use std::process::{Child, Command, Stdio};

use base64::Engine as _;
use serde_json::json;
use tarn_agent::registry::{ImageRef, RegistryClient};
use tarn_eval::evidence::{EvidenceKind, EvidenceSet};

struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_registry() -> Option<Registry> {
    let bin = ["/usr/bin/docker-registry", "/usr/bin/registry"].into_iter().find(|p| std::path::Path::new(p).exists());
    let Some(bin) = bin else {
        assert!(
            std::env::var("TARN_REQUIRE_INTEROP").is_err(),
            "TARN_REQUIRE_INTEROP is set but docker-registry is missing"
        );
        eprintln!("SKIPPED: docker-registry is not installed (apt-get install docker-registry)");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let child =
        Command::new(bin).arg("serve").arg(&config).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // The guard kills and reaps the process on every path, including the panic below.
    let registry = Registry { child, port, _dir: dir };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(registry);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("docker-registry did not start on port {port}");
}

async fn push_blob(http: &reqwest::Client, base: &str, repo: &str, data: &[u8]) -> String {
    let digest = format!("sha256:{}", tarn_trust::sha256_hex(data));
    let r = http.post(format!("{base}/v2/{repo}/blobs/uploads/")).send().await.unwrap();
    assert_eq!(r.status(), 202, "start upload");
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let url = if location.starts_with("http") { location } else { format!("{base}{location}") };
    let sep = if url.contains('?') { '&' } else { '?' };
    let r = http.put(format!("{url}{sep}digest={digest}")).body(data.to_vec()).send().await.unwrap();
    assert_eq!(r.status(), 201, "finish upload");
    digest
}

async fn push_manifest(
    http: &reqwest::Client,
    base: &str,
    repo: &str,
    tag: &str,
    manifest: &serde_json::Value,
) -> String {
    let body = serde_json::to_vec(manifest).unwrap();
    let r = http
        .put(format!("{base}/v2/{repo}/manifests/{tag}"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    format!("sha256:{}", tarn_trust::sha256_hex(&body))
}

fn descriptor(media: &str, digest: &str, size: usize) -> serde_json::Value {
    json!({"mediaType": media, "digest": digest, "size": size})
}

#[tokio::test]
async fn reads_cosign_signatures_and_attestations_by_tag() {
    let Some(reg) = start_registry() else { return };
    let host = format!("127.0.0.1:{}", reg.port);
    let base = format!("http://{host}");
    let http = reqwest::Client::new();
    let repo = "team/app";

    // An image.
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let layer = b"not really a tarball";
    let (cd, ld) = (push_blob(&http, &base, repo, config).await, push_blob(&http, &base, repo, layer).await);
    let image = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", &cd, config.len()),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", &ld, layer.len())]});
    let digest = push_manifest(&http, &base, repo, "v1", &image).await;

    // A cosign signature (simple signing payload, signature in the layer annotation).
    let key = tarn_trust::keys::SigningKeyPair::generate();
    let payload = serde_json::to_vec(&json!({"critical": {"identity": {"docker-reference": format!("{host}/{repo}")},
        "image": {"docker-manifest-digest": digest}, "type": "cosign container image signature"}, "optional": null}))
    .unwrap();
    let signature = base64::engine::general_purpose::STANDARD.encode(key.sign(&payload));
    let pd = push_blob(&http, &base, repo, &payload).await;
    let empty = push_blob(&http, &base, repo, b"{}").await;
    let mut sig_layer = descriptor("application/vnd.dev.cosign.simplesigning.v1+json", &pd, payload.len());
    sig_layer["annotations"] = json!({"dev.cosignproject.cosign/signature": signature});
    let sig_manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", &empty, 2), "layers": [sig_layer]});
    let tag = digest.replace(':', "-");
    push_manifest(&http, &base, repo, &format!("{tag}.sig"), &sig_manifest).await;

    // An attestation (DSSE envelope layer).
    let envelope = serde_json::to_vec(&json!({"payloadType": "application/vnd.in-toto+json", "payload": "e30=",
        "signatures": [{"sig": "MEUCIQ=="}]}))
    .unwrap();
    let ed = push_blob(&http, &base, repo, &envelope).await;
    let att_manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", &empty, 2),
        "layers": [descriptor("application/vnd.dsse.envelope.v1+json", &ed, envelope.len())]});
    push_manifest(&http, &base, repo, &format!("{tag}.att"), &att_manifest).await;

    let client = RegistryClient::new([host.clone()]);
    let image_ref = ImageRef::parse(&format!("{host}/{repo}:v1")).unwrap();
    let mut set = EvidenceSet::default();
    client.fetch_into(&image_ref, &digest, &mut set).await;
    assert!(set.problems.is_empty(), "{:?}", set.problems);
    let items = set.for_digest(&digest);
    assert_eq!(items.len(), 2, "{items:?}");
    match &items[0].kind {
        EvidenceKind::CosignSignature { payload: p, signature: s, certificate } => {
            assert_eq!(p, &payload);
            assert!(certificate.is_none());
            let sig = base64::engine::general_purpose::STANDARD.decode(s).unwrap();
            assert!(key.public().verify(p, &sig), "the signature fetched verifies over the payload fetched");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(items[1].kind, EvidenceKind::DsseEnvelope);

    // An image without evidence yields nothing and no problem; an unknown repository neither.
    let mut none = EvidenceSet::default();
    let other = format!("sha256:{}", "0".repeat(64));
    client.fetch_into(&image_ref, &other, &mut none).await;
    assert!(none.is_empty() && none.problems.is_empty(), "{:?}", none.problems);
    // A registry that is down is a problem, not a crash.
    let down = RegistryClient::new(["127.0.0.1:1".to_string()]);
    down.fetch_into(&ImageRef::parse("127.0.0.1:1/x/y").unwrap(), &digest, &mut none).await;
    assert_eq!(none.problems.len(), 1);
}
