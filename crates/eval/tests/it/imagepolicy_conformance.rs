//! Agreement with the upstream policy-controller fixtures (`fixtures/policy-controller`, see
//! its README):
//!
//! * every `valid/` policy is admitted, every `invalid/` one rejected with each of its
//!   `# ERROR:` texts contained verbatim in the message (as upstream's e2e script greps);
//! * `empty-authorities/` is rejected with `missing field(s): spec.authorities` by default and
//!   admitted under `fail-on-empty-authorities: false`;
//! * the e2e, tester and example policies are admitted (one example holds placeholders);
//! * the `config-policy-controller` test ConfigMaps read as upstream's store tests expect;
//! * the schema Tarn checks is exactly the CRD's;
//! * e2e semantics with an in-memory verifier: static fail ANDed with static pass denies,
//!   identity mismatch, `mode: warn`, Rego attestations, CUE reported unsupported.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tarn_eval::imagepolicy::config::PolicyControllerConfig;
use tarn_eval::imagepolicy::evaluate::Resource;
use tarn_eval::imagepolicy::schema::crd_field_types;
use tarn_eval::imagepolicy::validate::ValidationOptions;
use tarn_eval::imagepolicy::verifier::FixedVerifier;
use tarn_eval::imagepolicy::{ImagePolicySet, NoMatchPolicy, parse_policy};
use tarn_model::Status;

const VALID: usize = 14;
const INVALID: usize = 33;
const E2E_POLICIES: usize = 35;
const EXAMPLES: usize = 7;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/policy-controller")
}

fn files(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    v.sort();
    v
}

/// The ClusterImagePolicy documents of a file.
fn policies(path: &Path) -> Vec<Value> {
    let text = fs::read_to_string(path).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| serde_yaml_ng::Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .map(|v| serde_json::to_value(v).unwrap())
        .filter(|v| v["kind"] == "ClusterImagePolicy")
        .collect()
}

use serde::Deserialize;

fn defaults() -> ValidationOptions {
    ValidationOptions::default()
}

/// Expected texts as upstream's script extracts them: `grep ERROR: | cut -d ':' -f 2-`.
fn expected_errors(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| l.contains("ERROR:"))
        .map(|l| l.split_once(':').unwrap().1.to_string())
        .collect()
}

#[test]
fn valid_and_invalid_policies_agree_with_upstream() {
    let dir = "test/testdata/policy-controller";
    let (mut agree, mut mismatches) = ((0, 0), Vec::new());
    let valid = files(&format!("{dir}/valid"));
    for f in &valid {
        let docs = policies(f);
        assert_eq!(docs.len(), 1, "{}", f.display());
        match parse_policy(&docs[0], defaults()) {
            Ok(_) => agree.0 += 1,
            Err(e) => mismatches.push(format!("{}: rejected: {e}", f.display())),
        }
    }
    let invalid = files(&format!("{dir}/invalid"));
    for f in &invalid {
        let docs = policies(f);
        let want = expected_errors(f);
        assert!(!want.is_empty(), "{} has no ERROR line", f.display());
        match parse_policy(&docs[0], defaults()) {
            Ok(_) => mismatches.push(format!("{}: admitted", f.display())),
            Err(e) => {
                let msg = e.to_string();
                let missing: Vec<&String> = want.iter().filter(|w| !msg.contains(w.as_str())).collect();
                if missing.is_empty() {
                    agree.1 += 1;
                } else {
                    mismatches.push(format!("{}: {missing:?} not in {msg:?}", f.display()));
                }
            }
        }
    }
    println!("policy-controller: {} valid, {} invalid agree", agree.0, agree.1);
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
    assert_eq!((valid.len(), invalid.len()), (VALID, INVALID), "fixture counts");
    assert_eq!(agree, (VALID, INVALID));
}

/// Reads a test ConfigMap the way knative's `ConfigMapsFromTestFile` does: the `_example`
/// block is the data.
fn test_config(name: &str) -> Result<PolicyControllerConfig, String> {
    let text = fs::read_to_string(root().join("pkg/config/testdata").join(name)).unwrap();
    let doc: Value = serde_json::to_value(serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text).unwrap()).unwrap();
    let mut data: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in doc["data"].as_object().unwrap() {
        if k == "_example" {
            let ex: BTreeMap<String, serde_yaml_ng::Value> = serde_yaml_ng::from_str(v.as_str().unwrap()).unwrap();
            for (k, v) in ex {
                let s = match v {
                    serde_yaml_ng::Value::String(s) => s,
                    other => serde_yaml_ng::to_string(&other).unwrap().trim().to_string(),
                };
                data.insert(k, s);
            }
        } else {
            data.insert(k.clone(), v.as_str().unwrap().to_string());
        }
    }
    PolicyControllerConfig::from_data(&data)
}

#[test]
fn config_maps_read_like_upstream_store_tests() {
    let expect = [
        ("allow-all.yaml", NoMatchPolicy::Allow, true),
        ("deny-all-default.yaml", NoMatchPolicy::Deny, true),
        ("deny-all-explicit.yaml", NoMatchPolicy::Deny, true),
        ("warn-all.yaml", NoMatchPolicy::Warn, true),
        ("allow-empty-authorities.yaml", NoMatchPolicy::Deny, false),
    ];
    for (file, policy, fail_empty) in expect {
        let c = test_config(file).unwrap();
        assert_eq!((c.no_match_policy, c.fail_on_empty_authorities), (policy, fail_empty), "{file}");
    }
    assert!(test_config("enable-oci11.yaml").unwrap().enable_oci11);
    assert!(test_config("enable-oci11-invalid.yaml").is_err());
    assert_eq!(files("pkg/config/testdata").len(), 7);
    // The shipped ConfigMap only documents settings in `_example`: defaults apply.
    let shipped = ImagePolicySet::load(&[root().join("config/config-policy-controller.yaml")]).unwrap();
    assert_eq!(shipped.config, PolicyControllerConfig::default());
}

#[test]
fn empty_authorities_follow_the_config() {
    let allow = test_config("allow-empty-authorities.yaml").unwrap().validation();
    let files = files("test/testdata/policy-controller/empty-authorities");
    assert_eq!(files.len(), 2);
    for f in files {
        let doc = &policies(&f)[0];
        let err = parse_policy(doc, defaults()).unwrap_err().to_string();
        assert!(err.contains("missing field(s): spec.authorities"), "{}: {err}", f.display());
        assert!(parse_policy(doc, allow).is_ok(), "{}", f.display());
    }
}

#[test]
fn e2e_tester_and_example_policies_are_admitted() {
    let mut e2e = 0;
    for f in files("test/testdata/policy-controller/e2e").iter().chain(&files("test/testdata/policy-controller/tester"))
    {
        for doc in policies(f) {
            parse_policy(&doc, defaults()).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            e2e += 1;
        }
    }
    assert_eq!(e2e, E2E_POLICIES + 1);
    let examples = files("examples/policies");
    assert_eq!(examples.len(), EXAMPLES);
    for f in &examples {
        let r = parse_policy(&policies(f)[0], defaults());
        if f.ends_with("signed-by-aws-kms-key.yaml") {
            // `awskms:///arn:aws:kms:<< region >>:…` is a template to fill in.
            assert!(r.unwrap_err().to_string().contains("spec.authorities[0].key.kms"));
        } else {
            r.unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        }
    }
}

#[test]
fn schema_matches_the_crd() {
    let text = fs::read_to_string(root().join("config/300-clusterimagepolicy.yaml")).unwrap();
    let crd: Value = serde_json::to_value(serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text).unwrap()).unwrap();
    fn walk(s: &Value, path: String, out: &mut Vec<(String, String)>) {
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                let p = format!("{path}.{k}");
                let t = if v.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true))
                    && v.get("properties").is_none()
                {
                    "map".to_string()
                } else {
                    v["type"].as_str().unwrap().to_string()
                };
                out.push((p.clone(), t));
                walk(v, p, out);
            }
        }
        if let Some(items) = s.get("items") {
            walk(items, format!("{path}[]"), out);
        }
    }
    for version in crd["spec"]["versions"].as_array().unwrap() {
        let mut crd_fields = Vec::new();
        walk(&version["schema"]["openAPIV3Schema"]["properties"]["spec"], "spec".into(), &mut crd_fields);
        crd_fields.retain(|(p, _)| !p.ends_with("[]"));
        crd_fields.sort();
        let mut ours: Vec<(String, String)> = crd_field_types().into_iter().map(|(p, t)| (p, t.to_string())).collect();
        ours.sort();
        assert_eq!(ours, crd_fields, "{}", version["name"]);
    }
}

#[test]
fn loading_reports_bad_documents_with_location_and_goes_on() {
    let dir = root().join("test/testdata/policy-controller/invalid");
    let set = ImagePolicySet::load(&[dir]).unwrap();
    assert!(set.is_empty());
    assert_eq!(set.problems.len(), INVALID, "{:#?}", set.problems);
    for p in &set.problems {
        assert!(p.line.is_some() && p.field.is_some() && p.name.is_some(), "{p}");
    }
    let pubkey = set.problems.iter().find(|p| p.source.ends_with("/invalid-pubkey.yaml")).unwrap();
    assert_eq!(pubkey.field.as_deref(), Some("spec.authorities[0].key.data"));
    assert_eq!(pubkey.line, Some(25), "{pubkey}");

    // Every prefix of every fixture: never a panic.
    for dir in ["valid", "invalid", "e2e"] {
        for f in files(&format!("test/testdata/policy-controller/{dir}")) {
            let bytes = fs::read(&f).unwrap();
            for cut in (0..bytes.len()).step_by(61) {
                let _ = ImagePolicySet::from_sources([("cut.yaml", &bytes[..cut])]);
            }
        }
    }
}

const E2E_SUBJECT: &str = "https://kubernetes.io/namespaces/default/serviceaccounts/default";
const E2E_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
const IMAGE: &str = "registry.local:5000/policy-controller/demo:latest";

fn digest() -> String {
    format!("sha256:{}", "5".repeat(64))
}

fn e2e_set(names: &[&str]) -> ImagePolicySet {
    let paths: Vec<PathBuf> =
        names.iter().map(|n| root().join("test/testdata/policy-controller/e2e").join(format!("{n}.yaml"))).collect();
    let set = ImagePolicySet::load(&paths).unwrap();
    assert!(set.problems.iter().all(|p| p.kept), "{:#?}", set.problems);
    set
}

fn judge(
    set: &ImagePolicySet,
    verifier: &FixedVerifier,
    kind: &str,
    labels: &[(&str, &str)],
) -> Vec<(String, Status, String)> {
    let labels: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let r = Resource { kind, api_version: "v1", namespace: "demo", name: "demo", labels: &labels, object: None };
    set.evaluate(IMAGE, Some(&digest()), &r, verifier).into_iter().map(|v| (v.policy, v.status, v.message)).collect()
}

#[test]
fn e2e_semantics_with_an_in_memory_verifier() {
    let signed = FixedVerifier::new().signed_keyless(&digest(), E2E_SUBJECT, E2E_ISSUER);
    let unsigned = FixedVerifier::new();

    // Policies matching the same image are ANDed: static fail + static pass still denies.
    let v = judge(&e2e_set(&["cip-static-fail", "cip-static-pass"]), &unsigned, "Pod", &[]);
    assert_eq!(v.len(), 2);
    let fail = v.iter().find(|x| x.0 == "image-policy-static-fail").unwrap();
    assert_eq!((fail.1, fail.2.as_str()), (Status::Fail, "disallowed by static policy"));
    assert!(v.iter().any(|x| x.0 == "image-policy-static-pass" && x.1 == Status::Pass));

    let keyless = e2e_set(&["cip-keyless-with-identities"]);
    assert_eq!(judge(&keyless, &signed, "Pod", &[])[0].1, Status::Pass);
    assert_eq!(judge(&keyless, &unsigned, "Pod", &[])[0].1, Status::Fail);

    let mismatch = judge(&e2e_set(&["cip-keyless-with-identities-mismatch"]), &signed, "Pod", &[]);
    assert_eq!(mismatch[0].1, Status::Fail);
    assert!(
        mismatch[0].2.contains("none of the expected identities matched what was in the certificate"),
        "{}",
        mismatch[0].2
    );

    let warn = judge(&e2e_set(&["cip-keyless-warn"]), &unsigned, "Pod", &[]);
    assert_eq!(warn[0].1, Status::Warn);

    // Authorities inside one policy are ORed: the keyless one suffices.
    let either = e2e_set(&["cip-key-and-keyless"]);
    assert_eq!(judge(&either, &signed, "Pod", &[])[0].1, Status::Pass);

    // Resource and label selection: only Pods labelled match=match are judged.
    let label = e2e_set(&["cip-match-resource-label"]);
    assert_eq!(judge(&label, &unsigned, "Pod", &[("match", "match")])[0].0, "image-policy-match-label");
    let other = judge(&label, &unsigned, "Pod", &[("match", "no")]);
    assert_eq!((other[0].0.as_str(), other[0].1), ("no-matching-policy", Status::Fail));
    assert_eq!(judge(&label, &unsigned, "Deployment", &[("match", "match")])[0].0, "no-matching-policy");
}

#[test]
fn e2e_attestation_policies() {
    let custom = "https://cosign.sigstore.dev/attestation/v1";
    let attested = |data: &str| {
        FixedVerifier::new().attested_keyless(&digest(), E2E_SUBJECT, E2E_ISSUER, custom, json!({"Data": data}))
    };
    let rego = e2e_set(&["cip-keyless-with-attestations-rego"]);
    assert_eq!(judge(&rego, &attested("foobar e2e test"), "Pod", &[])[0].1, Status::Pass);
    let wrong = judge(&rego, &attested("something else"), "Pod", &[]);
    assert_eq!(wrong[0].1, Status::Fail);
    assert!(wrong[0].2.contains("failed evaluating rego policy for type custom-match-predicate"), "{}", wrong[0].2);
    let vuln = judge(
        &rego,
        &FixedVerifier::new().attested_keyless(
            &digest(),
            E2E_SUBJECT,
            E2E_ISSUER,
            "https://cosign.sigstore.dev/attestation/vuln/v1",
            json!({}),
        ),
        "Pod",
        &[],
    );
    assert!(
        vuln[0].2.contains("no matching attestations with type https://cosign.sigstore.dev/attestation/v1"),
        "{}",
        vuln[0].2
    );

    // CUE is accepted when loading but cannot be judged.
    let cue = e2e_set(&["cip-keyless-with-attestations"]);
    assert!(cue.problems.iter().any(|p| p.kept && p.message.contains("CUE policies are not supported")));
    let v = judge(&cue, &attested("foobar e2e test"), "Pod", &[]);
    assert_eq!(v[0].1, Status::Error);
    assert!(v[0].2.contains("CUE policies are not supported"), "{}", v[0].2);
}

#[test]
fn rego_translation_of_the_vuln_cue_policy_judges_the_upstream_predicate() {
    let predicate: Value = serde_json::from_str(
        &fs::read_to_string(root().join("test/testdata/attestations/vuln-predicate.json")).unwrap(),
    )
    .unwrap();
    let cip = |scanner: &str| {
        format!(
            r#"apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {{name: vuln}}
spec:
  images: [{{glob: "**demo**"}}]
  authorities:
  - keyless:
      identities: [{{issuer: "{E2E_ISSUER}", subject: "{E2E_SUBJECT}"}}]
    attestations:
    - name: vuln
      predicateType: vuln
      policy:
        type: rego
        data: |
          package sigstore
          import rego.v1
          default isCompliant := false
          isCompliant if {{
            input.predicateType == "https://cosign.sigstore.dev/attestation/vuln/v1"
            input.predicate.invocation.uri == "invocation.example.com/cosign-testing"
            input.predicate.scanner.uri == "{scanner}"
            m := input.predicate.metadata
            m.scanStartedOn > "2022-03-09T17:10:27Z"
            m.scanFinishedOn < "2022-04-15T17:10:27Z"
          }}
"#
        )
    };
    let v = FixedVerifier::new().attested_keyless(
        &digest(),
        E2E_SUBJECT,
        E2E_ISSUER,
        "https://cosign.sigstore.dev/attestation/vuln/v1",
        predicate,
    );
    for (scanner, want) in [
        ("fakescanner.example.com/cosign-testing", Status::Pass),
        ("fakescanner.example.com/cosign-testing-invalid", Status::Fail),
    ] {
        let text = cip(scanner);
        let set = ImagePolicySet::from_sources([("vuln.yaml", text.as_bytes())]);
        assert!(set.problems.is_empty(), "{:?}", set.problems);
        assert_eq!(judge(&set, &v, "Pod", &[])[0].1, want, "{scanner}");
    }
}
