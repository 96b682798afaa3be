//! `KubeSource` against a loopback HTTP server replaying API-server list responses
//! (`fixtures/kube-replay`), with pagination and injected faults. No cluster runs here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tarn_agent::kube_source::KubeSource;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn replay_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/kube-replay")
}

#[derive(Default)]
struct Log {
    requests: Vec<String>,
    served: HashMap<String, usize>,
}

/// Serves `index.json` pages; 503 on the first pods request, 500 on the first deployments
/// request, 403 for network policies, 401 without the bearer token.
async fn serve(listener: TcpListener, log: Arc<Mutex<Log>>) {
    let index: HashMap<String, Vec<String>> =
        serde_json::from_slice(&std::fs::read(replay_dir().join("index.json")).unwrap()).unwrap();
    let index = Arc::new(index);
    loop {
        let Ok((mut conn, _)) = listener.accept().await else { return };
        let (log, index) = (log.clone(), index.clone());
        tokio::spawn(async move {
            let mut buf = Vec::new();
            loop {
                let mut chunk = [0u8; 4096];
                let n = match conn.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    buf.drain(..end + 4);
                    let (status, body) = respond(&head, &index, &log);
                    let reason = match status {
                        200 => "OK",
                        401 => "Unauthorized",
                        403 => "Forbidden",
                        500 => "Internal Server Error",
                        _ => "Service Unavailable",
                    };
                    let out = format!(
                        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if conn.write_all(out.as_bytes()).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
}

fn status(code: u16, reason: &str, message: &str) -> (u16, String) {
    let body = serde_json::json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code});
    (code, body.to_string())
}

fn respond(head: &str, index: &HashMap<String, Vec<String>>, log: &Mutex<Log>) -> (u16, String) {
    let target = head.lines().next().and_then(|l| l.split_whitespace().nth(1)).unwrap_or("/").to_string();
    let authorized = head.lines().any(|l| l.eq_ignore_ascii_case("authorization: bearer replay-token"));
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut log = log.lock().unwrap();
    log.requests.push(target.clone());
    if !authorized {
        return status(401, "Unauthorized", "Unauthorized");
    }
    let count = {
        let c = log.served.entry(path.to_string()).or_default();
        *c += 1;
        *c
    };
    if path == "/api/v1/pods" && count == 1 {
        return status(503, "ServiceUnavailable", "the server is currently unable to handle the request");
    }
    if path == "/apis/apps/v1/deployments" && count == 1 {
        return status(500, "InternalError", "etcdserver: request timed out");
    }
    if path.ends_with("/networkpolicies") {
        return status(
            403,
            "Forbidden",
            "networkpolicies.networking.k8s.io is forbidden: User \"system:serviceaccount:tarn:agent\" cannot list resource \"networkpolicies\"",
        );
    }
    let continue_token = query.split('&').find_map(|kv| kv.strip_prefix("continue="));
    let page = continue_token
        .and_then(|t| t.strip_prefix("page-"))
        .and_then(|t| t.split('-').next())
        .and_then(|n| n.parse::<usize>().ok())
        .map_or(0, |n| n - 1);
    match index.get(path).and_then(|pages| pages.get(page)) {
        Some(file) => (200, std::fs::read_to_string(replay_dir().join("responses").join(file)).unwrap()),
        None => {
            (200, r#"{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"4242"},"items":[]}"#.to_string())
        }
    }
}

fn kubeconfig(dir: &Path, port: u16) -> PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: replay\n  cluster:\n    server: http://127.0.0.1:{port}\n\
users:\n- name: tester\n  user:\n    token: replay-token\ncontexts:\n- name: replay\n  context:\n    cluster: replay\n    user: tester\n\
current-context: replay\n"
        ),
    )
    .unwrap();
    path
}

#[tokio::test]
async fn lists_every_resource_with_pagination_and_faults() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = Arc::new(Mutex::new(Log::default()));
    tokio::spawn(serve(listener, log.clone()));
    let dir = tempfile::tempdir().unwrap();
    let source = KubeSource::connect(Some(kubeconfig(dir.path(), port)), None).await.unwrap();
    let inv = source.read().await.unwrap();

    let mut names: Vec<String> = inv.workloads.iter().map(|w| format!("{}/{}", w.kind, w.name)).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "CronJob/nightly-report",
            "DaemonSet/fluent-bit",
            "DaemonSet/ingress-nginx-controller",
            "Deployment/cart",
            "Deployment/cert-manager",
            "Deployment/checkout",
            "Deployment/frontend",
            "Job/load-test",
            "Pod/coredns-7c65d6cfc9-8lxq2",
            "Pod/kube-proxy-x7k2p",
            "Pod/toolbox",
            "StatefulSet/redis",
        ]
    );
    // Deployments came in two pages, after one 500 that Tarn retried.
    let reqs = log.lock().unwrap().requests.clone();
    assert!(
        reqs.iter().any(|r| r.contains("/apis/apps/v1/deployments") && r.contains("continue=page-2-of-deployment")),
        "{reqs:?}"
    );
    assert!(reqs.iter().filter(|r| r.starts_with("/api/v1/pods")).count() >= 2, "503 retried: {reqs:?}");
    assert!(reqs.iter().filter(|r| r.starts_with("/apis/apps/v1/deployments?")).count() >= 3);
    // The forbidden list is a problem, not a failure; RBAC objects arrived.
    assert_eq!(inv.problems.len(), 1, "{:?}", inv.problems);
    assert!(inv.problems[0].source == "kube:networkpolicies" && inv.problems[0].message.contains("forbidden"));
    // ...and controls that depend on them are marked as judged on partial data.
    assert_eq!(inv.unavailable_kinds.iter().collect::<Vec<_>>(), ["NetworkPolicy"]);
    let kinds: std::collections::BTreeSet<&str> = inv.objects.iter().map(|o| o.kind.as_str()).collect();
    for k in ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount", "Namespace"] {
        assert!(kinds.contains(k), "{k} missing: {kinds:?}");
    }
    // Pod status digests survive the trip.
    let coredns = inv.workloads.iter().find(|w| w.name.starts_with("coredns")).unwrap();
    assert!(coredns.image_digests["coredns"].starts_with("sha256:9caabbf6"));
    // Secrets are never requested.
    assert!(!reqs.iter().any(|r| r.contains("secrets")));
}

#[tokio::test]
async fn wrong_credentials_fail_the_read() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(serve(listener, Arc::default()));
    let dir = tempfile::tempdir().unwrap();
    let cfg = kubeconfig(dir.path(), port);
    let text = std::fs::read_to_string(&cfg).unwrap().replace("replay-token", "stolen");
    std::fs::write(&cfg, text).unwrap();
    let source = KubeSource::connect(Some(cfg), None).await.unwrap();
    let err = source.read().await.unwrap_err().to_string();
    assert!(err.contains("pods") && err.contains("401"), "{err}");
}
