use crate::common::*;

#[test]
fn jsonl_has_one_object_per_workload_and_exit_zero_on_denials() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("m.yaml");
    std::fs::write(
        &f,
        "kind: Pod\nmetadata: {name: root, namespace: x}\nspec:\n  containers: [{name: c, image: busybox, securityContext: {runAsUser: 0}}]\n\
---\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}\n      \
containers: [{name: w, image: nginx, securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}]\n",
    )
    .unwrap();
    let out = ok(&run(&["eval", "--framework", "pss-restricted", "--format", "jsonl", f.to_str().unwrap()]));
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    let root = &lines[0];
    assert_eq!(
        (root["name"].as_str(), root["namespace"].as_str(), root["kind"].as_str()),
        (Some("root"), Some("x"), Some("Pod"))
    );
    assert_eq!(root["allowed"], false);
    assert_eq!(root["source"], f.to_str().unwrap());
    let failing: Vec<&str> = root["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "fail")
        .map(|f| f["control"].as_str().unwrap())
        .collect();
    assert!(failing.contains(&"runAsUser") && failing.contains(&"runAsNonRoot"), "{failing:?}");
    assert_eq!(lines[1]["allowed"], true, "{}", lines[1]);
    assert_eq!(lines[1]["namespace"], "default");
}

#[test]
fn eval_agrees_with_upstream_fixtures_through_the_cli() {
    // A slice of the PSS corpus end to end: every pass fixture allowed, every fail fixture denied.
    let root = fixtures().join("pss/testdata/restricted/v1.30");
    for (outcome, allowed) in [("pass", true), ("fail", false)] {
        let dir = root.join(outcome);
        let out =
            ok(&run(&["eval", "--framework", "pss-restricted@v1.30", "--format", "jsonl", dir.to_str().unwrap()]));
        let n = std::fs::read_dir(&dir).unwrap().count();
        let results: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(results.len(), n);
        for r in results {
            assert_eq!(r["allowed"], allowed, "{}", r["source"]);
        }
    }
}

#[test]
fn unreadable_input_exits_non_zero_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("broken.json");
    std::fs::write(&f, "{\"kind\": \"Pod\",\n \"metadata\": {\"name\": 3}}").unwrap();
    let o = run(&["eval", "--framework", "pss-baseline", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("broken.json:2:") && stderr(&o).contains("metadata.name"), "{}", stderr(&o));
    let missing = run(&["eval", "--framework", "pss-baseline", dir.path().join("nope.yaml").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("nope.yaml"));
}

#[test]
fn table_output_lists_denials() {
    let f = fixtures().join("pss/testdata/baseline/v1.37/fail/privileged0.yaml");
    let out = ok(&run(&["eval", "--framework", "pss-baseline", f.to_str().unwrap()]));
    assert!(out.contains("DENIED") && out.contains("privileged"), "{out}");
    assert!(out.contains("1 workload evaluations, 1 denied"), "{out}");
}
