//! Decoding behaviour of the typed Kubernetes model.

use tarn_eval::k8s::{IntOrString, ObjectMeta, PodSpec, PodTemplateSpec};

#[test]
fn partial_manifests_and_nulls_parse() {
    let pod: PodTemplateSpec = serde_yaml_ng::from_str(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: p
  labels: null
  annotations:
    a: b
spec:
  containers:
  - name: c
    unknownField: 3
    ports: null
  initContainers: null
  volumes:
  - name: v
    emptyDir: null
"#,
    )
    .unwrap();
    assert_eq!(pod.metadata.name.as_deref(), Some("p"));
    assert!(pod.metadata.labels.is_empty());
    assert_eq!(pod.metadata.annotations.get("a").map(String::as_str), Some("b"));
    assert_eq!(pod.spec.containers.len(), 1);
    assert!(pod.spec.containers[0].ports.is_empty());
    assert!(pod.spec.init_containers.is_empty());
    let volume = &pod.spec.volumes[0];
    assert!(volume.empty_dir.is_none(), "explicit null is an unset source");
    assert!(volume.has_no_source());

    let empty: PodTemplateSpec = serde_yaml_ng::from_str("{}").unwrap();
    assert_eq!(empty, PodTemplateSpec::default());
    let meta: ObjectMeta = serde_json::from_str(r#"{"annotations": null}"#).unwrap();
    assert_eq!(meta, ObjectMeta::default());
}

#[test]
fn volume_sources_are_distinguished() {
    let spec: PodSpec = serde_json::from_value(serde_json::json!({
        "volumes": [
            {"name": "a", "hostPath": {"path": "/a"}},
            {"name": "b", "configMap": {"name": "x"}},
            {"name": "c", "scaleIO": {"secretRef": null}},
            {"name": "d", "downwardAPI": {}},
            {"name": "e", "someFutureVolume": {"x": 1}},
            {"name": "f"},
        ]
    }))
    .unwrap();
    let v = &spec.volumes;
    assert_eq!(v[0].restricted_source(), Some("hostPath"));
    assert_eq!(v[0].host_path.as_ref().unwrap().path, "/a");
    assert_eq!(v[1].allowed_restricted_source(), Some("configMap"));
    assert_eq!(v[2].restricted_source(), Some("scaleIO"));
    assert_eq!(v[3].allowed_restricted_source(), Some("downwardAPI"));
    assert_eq!(v[4].unknown_sources().collect::<Vec<_>>(), ["someFutureVolume"]);
    assert!(!v[4].has_no_source());
    assert!(v[5].has_no_source());
}

#[test]
fn numbers_and_ports() {
    let spec: PodSpec = serde_json::from_value(serde_json::json!({
        "securityContext": {"runAsUser": 4_000_000_000_i64},
        "containers": [{
            "name": "c",
            "ports": [{"containerPort": 80, "hostPort": 8080}],
            "livenessProbe": {"httpGet": {"port": "http", "host": "h"}},
            "readinessProbe": {"tcpSocket": {"port": 81}},
        }]
    }))
    .unwrap();
    assert_eq!(spec.security_context.as_ref().unwrap().run_as_user, Some(4_000_000_000));
    let c = &spec.containers[0];
    assert_eq!(c.ports[0].host_port, Some(8080));
    let http = c.liveness_probe.as_ref().unwrap().http_get.as_ref().unwrap();
    assert_eq!(http.port, Some(IntOrString::String("http".into())));
    let tcp = c.readiness_probe.as_ref().unwrap().tcp_socket.as_ref().unwrap();
    assert_eq!(tcp.port, Some(IntOrString::Int(81)));
}

#[test]
fn round_trips_through_json() {
    let pod: PodTemplateSpec = serde_yaml_ng::from_str(
        r#"
metadata: {name: p, namespace: n}
spec:
  hostNetwork: true
  os: {name: linux}
  containers:
  - name: c
    securityContext:
      capabilities: {drop: [ALL]}
      seccompProfile: {type: RuntimeDefault}
  volumes:
  - name: v
    nfs: {server: s, path: /}
"#,
    )
    .unwrap();
    let json = serde_json::to_value(&pod).unwrap();
    assert_eq!(json["spec"]["hostNetwork"], true);
    assert_eq!(json["spec"]["containers"][0]["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(json["spec"]["volumes"][0]["nfs"]["server"], "s");
    let back: PodTemplateSpec = serde_json::from_value(json).unwrap();
    assert_eq!(back, pod);
}

#[test]
fn env_and_mounts_decode_without_values() {
    let spec: PodSpec = serde_json::from_value(serde_json::json!({
        "serviceAccount": "legacy",
        "containers": [{
            "name": "c",
            "env": [
                {"name": "A", "value": "literal"},
                {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                {"name": "C", "valueFrom": null},
            ],
            "envFrom": [{"secretRef": {"name": "s"}}, {"configMapRef": {"name": "m"}, "prefix": "M_"}],
            "volumeMounts": [{"name": "t", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}],
        }, {"name": "d", "env": null, "envFrom": null, "volumeMounts": null}]
    }))
    .unwrap();
    let c = &spec.containers[0];
    assert_eq!(spec.service_account.as_deref(), Some("legacy"));
    assert_eq!(c.env.len(), 3);
    assert!(c.env[0].value_from.is_none() && c.env[2].value_from.is_none());
    assert_eq!(c.env[1].value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap().key, "k");
    assert_eq!(c.env_from[0].secret_ref.as_ref().unwrap().name, "s");
    assert_eq!(c.env_from[1].prefix.as_deref(), Some("M_"));
    assert_eq!(c.volume_mounts[0].read_only, Some(true));
    // Literal values are not kept in the typed model.
    assert!(!serde_json::to_string(c).unwrap().contains("literal"));
    assert!(spec.containers[1].env.is_empty() && spec.containers[1].volume_mounts.is_empty());
}
