use super::*;

fn read(name: &str, text: &str) -> Inventory {
    read_sources([(name, text.as_bytes())])
}

#[test]
fn multi_document_yaml_with_a_bad_document() {
    let text = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      containers:
      - name: app
        image: nginx:1.27
---
apiVersion: v1
kind: Service
metadata:
  name: web
---
apiVersion: v1
kind: Pod
metadata:
  name: broken
spec:
  containers:
  - name: c
    image: busybox
    ports:
    - containerPort: 80
      hostPort: "eighty"
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: job
            image: registry.example.com/job@sha256:ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789
"#;
    let inv = read("m.yaml", text);
    let names: Vec<_> = inv.workloads.iter().map(|w| (w.kind.as_str(), w.name.as_str(), w.document)).collect();
    assert_eq!(names, [("Deployment", "web", 1), ("CronJob", "nightly", 4)]);
    assert_eq!(inv.workloads[0].namespace, "shop");
    assert_eq!(inv.workloads[1].namespace, "default");
    assert_eq!(inv.ignored_kinds.get("Service"), Some(&1));
    assert_eq!(inv.documents, 4);
    assert_eq!(inv.problems.len(), 1, "{:?}", inv.problems);
    let p = &inv.problems[0];
    assert_eq!(p.document, 3);
    assert_eq!(p.field.as_deref(), Some("spec.containers[0].ports[0].hostPort"));
    assert_eq!(p.line, Some(28), "{p}");
    assert!(p.to_string().starts_with("m.yaml:28:"), "{p}");
    assert_eq!(
        inv.workloads[1].image_digests.get("job").map(String::as_str),
        Some("sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789")
    );
}

#[test]
fn yaml_syntax_error_names_the_line() {
    let inv = read("bad.yaml", "kind: Pod\nmetadata:\n  name: [unclosed\n");
    assert!(inv.workloads.is_empty());
    assert_eq!(inv.problems.len(), 1);
    assert!(inv.problems[0].line.is_some(), "{}", inv.problems[0]);
    assert!(inv.problems[0].message.contains("invalid YAML"));
}

#[test]
fn missing_kind_and_name_are_reported() {
    let inv = read("x.yaml", "metadata:\n  name: a\n---\nkind: Pod\nspec: {}\n");
    let fields: Vec<_> = inv.problems.iter().map(|p| (p.document, p.field.clone())).collect();
    assert_eq!(fields, [(1, Some("kind".to_string())), (2, Some("metadata.name".to_string()))]);
    // A controller without a pod template (a kustomize patch, say) is not judged as passing.
    let patch = read("patch.yaml", "kind: Deployment\nmetadata: {name: web}\nspec: {replicas: 3}\n");
    assert!(patch.workloads.is_empty());
    assert_eq!(patch.problems[0].field.as_deref(), Some("spec.template.spec.containers"));
    assert!(patch.problems[0].message.contains("no containers"), "{}", patch.problems[0]);
}

#[test]
fn kubectl_list_folds_owned_objects_and_reads_status_digests() {
    let json = r#"{"apiVersion":"v1","kind":"List","items":[
      {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api","namespace":"prod"},
       "spec":{"template":{"spec":{"containers":[{"name":"api","image":"ghcr.io/acme/api:1.0"}]}}}},
      {"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"api-7d9","namespace":"prod",
        "ownerReferences":[{"kind":"Deployment","name":"api","controller":true}]},
       "spec":{"template":{"spec":{"containers":[{"name":"api","image":"ghcr.io/acme/api:1.0"}]}}}},
      {"apiVersion":"v1","kind":"Pod","metadata":{"name":"api-7d9-x","namespace":"prod",
        "ownerReferences":[{"kind":"ReplicaSet","name":"api-7d9","controller":true}]},
       "spec":{"containers":[{"name":"api","image":"ghcr.io/acme/api:1.0"}]}},
      {"apiVersion":"v1","kind":"Pod","metadata":{"name":"standalone","namespace":"prod",
        "ownerReferences":[{"kind":"ReplicaSet","name":"gone","controller":true}]},
       "spec":{"containers":[{"name":"c","image":"busybox"}]},
       "status":{"containerStatuses":[{"name":"c","imageID":"docker.io/library/busybox@sha256:1111111111111111111111111111111111111111111111111111111111111111"}]}},
      {"apiVersion":"v1","kind":"Pod","metadata":{"name":"typo","namespace":"prod"},"spec":{"hostNetwork":"yes","containers":[{"name":"c"}]}}
    ]}"#;
    let inv = read("all.json", json);
    let names: Vec<_> = inv.workloads.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["api", "standalone"]);
    assert_eq!(inv.folded, 2);
    assert_eq!(inv.workloads[1].item, "items[3]");
    assert_eq!(
        inv.workloads[1].image_digests["c"],
        "sha256:1111111111111111111111111111111111111111111111111111111111111111"
    );
    assert_eq!(inv.problems.len(), 1);
    assert_eq!(inv.problems[0].field.as_deref(), Some("items[4].spec.hostNetwork"));
}

#[test]
fn invalid_json_names_line_and_column() {
    let inv = read("p.json", "{\n  \"kind\": \"Pod\",\n  \"metadata\": {\"name\": \"a\"\n");
    assert_eq!(inv.problems.len(), 1);
    assert_eq!(inv.problems[0].line, Some(4));
}

#[test]
fn digest_depends_on_names_and_content() {
    let a = read("a.yaml", "kind: Pod\nmetadata: {name: a}\n");
    let b = read("a.yaml", "kind: Pod\nmetadata: {name: b}\n");
    let c = read("c.yaml", "kind: Pod\nmetadata: {name: a}\n");
    let a2 = read("a.yaml", "kind: Pod\nmetadata: {name: a}\n");
    assert_eq!(a.digest, a2.digest);
    assert_ne!(a.digest, b.digest);
    assert_ne!(a.digest, c.digest);
}

#[test]
fn reads_directories_recursively_in_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("b.yaml"), "kind: Pod\nmetadata: {name: b}\nspec: {containers: [{name: c}]}\n")
        .unwrap();
    std::fs::write(dir.path().join("sub/a.yml"), "kind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c}]}\n")
        .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let inv = read_paths(&[dir.path().to_path_buf()]).unwrap();
    let names: Vec<_> = inv.workloads.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["b", "a"]);
    assert_eq!(inv.files, 2);
    assert!(read_paths(&[dir.path().join("missing")]).is_err());
}

#[test]
fn duplicates_are_judged_once_and_reported() {
    let doc = "kind: Pod\nmetadata: {name: a, namespace: x}\nspec: {containers: [{name: c}]}\n";
    let inv = read_sources([("one.yaml", doc.as_bytes()), ("two.yaml", doc.as_bytes())]);
    assert_eq!(inv.workloads.len(), 1);
    assert_eq!(inv.workloads[0].source, "one.yaml");
    assert_eq!(inv.problems.len(), 1);
    assert!(inv.problems[0].to_string().starts_with("two.yaml: document 1: duplicate Pod x/a"), "{}", inv.problems[0]);
}

#[test]
fn yaml_merge_keys_are_applied() {
    let text = "x-priv: &priv\n  privileged: true\n---\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    securityContext:\n      <<: *priv\n";
    // Anchors do not cross documents in YAML; use one document.
    let one = text.replace("---\n", "");
    let inv = read("m.yaml", &one);
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    let sc = inv.workloads[0].template.spec.containers[0].security_context.as_ref().unwrap();
    assert_eq!(sc.privileged, Some(true));
}

#[test]
fn typed_lists_concatenated_json_arrays_and_bom() {
    let podlist = r#"{"apiVersion":"v1","kind":"PodList","items":[{"metadata":{"name":"a"},"spec":{"containers":[{"name":"c"}]}}]}"#;
    let inv = read("raw.json", podlist);
    assert_eq!(inv.workloads.len(), 1, "{:?}", inv.problems);
    assert_eq!(inv.workloads[0].kind, "Pod");

    let pod =
        |n: &str| format!(r#"{{"kind":"Pod","metadata":{{"name":"{n}"}},"spec":{{"containers":[{{"name":"c"}}]}}}}"#);
    let concatenated = format!("{}\n{}\n", pod("x"), pod("y"));
    let inv = read("cat.json", &concatenated);
    assert_eq!(inv.workloads.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(), ["x", "y"]);
    assert_eq!(inv.workloads[1].document, 2);

    let array = format!("[{}, {}]", pod("p"), pod("q"));
    let inv = read("arr.json", &array);
    assert_eq!(inv.workloads.len(), 2);
    assert_eq!(inv.workloads[1].item, "[1]");

    let bom = format!("\u{feff}{}", pod("b"));
    assert_eq!(read("bom.json", &bom).workloads.len(), 1);
    let bom_yaml = "\u{feff}kind: Pod\nmetadata: {name: b}\nspec: {containers: [{name: c}]}\n";
    assert_eq!(read("bom.yaml", bom_yaml).workloads.len(), 1);
}

#[test]
fn pods_that_differ_from_their_controller_are_judged_on_their_own() {
    let json = r#"{"kind":"List","items":[
      {"kind":"ReplicaSet","metadata":{"name":"rs","namespace":"n"},
       "spec":{"template":{"spec":{"containers":[{"name":"app","image":"app:1"}]}}}},
      {"kind":"Pod","metadata":{"name":"same","namespace":"n","ownerReferences":[{"kind":"ReplicaSet","name":"rs","controller":true}]},
       "spec":{"containers":[{"name":"app","image":"app:1"}]},
       "status":{"containerStatuses":[{"name":"app","imageID":"app@sha256:2222222222222222222222222222222222222222222222222222222222222222"}]}},
      {"kind":"Pod","metadata":{"name":"injected","namespace":"n","ownerReferences":[{"kind":"ReplicaSet","name":"rs","controller":true}]},
       "spec":{"initContainers":[{"name":"istio-init","image":"istio/proxy","securityContext":{"capabilities":{"add":["NET_ADMIN"]}}}],
               "containers":[{"name":"app","image":"app:1"}]}}
    ]}"#;
    let inv = read("l.json", json);
    let names: Vec<_> = inv.workloads.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["rs", "injected"]);
    assert_eq!(inv.folded, 1);
    // The folded pod's running digest is carried to its controller.
    assert_eq!(
        inv.workloads[0].image_digests["app"],
        "sha256:2222222222222222222222222222222222222222222222222222222222222222"
    );
}

#[test]
fn keeps_rbac_and_other_objects_and_strips_secret_values() {
    let text = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: admin-ish}\nrules:\n- apiGroups: ['*']\n  resources: ['*']\n  verbs: ['*']\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\ndata: {password: aHVudGVyMg==}\nstringData: {token: abc}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n";
    let inv = read("o.yaml", text);
    let kinds: Vec<_> = inv.objects.iter().map(|o| (o.kind.as_str(), o.namespace.as_str(), o.name.as_str())).collect();
    assert_eq!(kinds, [("ClusterRole", "", "admin-ish"), ("Secret", "shop", "db"), ("Widget", "", "w")]);
    let secret = &inv.objects[1].raw;
    assert_eq!(secret["data"]["password"], "");
    assert_eq!(secret["stringData"]["token"], "");
    assert!(!format!("{:?}", inv.objects).contains("aHVudGVyMg"));
    assert_eq!(inv.ignored_kinds.get("Widget"), Some(&1));
    assert_eq!(inv.ignored_kinds.get("ClusterRole"), None);
    assert_eq!(inv.objects[0].raw["rules"][0]["verbs"][0], "*");
}
