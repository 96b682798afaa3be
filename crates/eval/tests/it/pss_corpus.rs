//! Agreement with the upstream pod-security-admission fixture corpus
//! (`fixtures/pss/testdata`, see `fixtures/pss/README.md`).
//!
//! Every fixture `testdata/<level>/v1.<minor>/<pass|fail>/<checkid><n>.yaml` is
//! evaluated at (`<level>`, `v1.<minor>`):
//!
//! * `pass/` ⇒ every verdict is allowed;
//! * `fail/` ⇒ the pod is denied, the check named by the file prefix (or, at
//!   `restricted`, the Restricted check that overrides it) fails, and its
//!   message contains the substring upstream's fixture generator expects.
//!
//! All mismatches are collected and reported together.

use std::fs;
use std::path::{Path, PathBuf};

use tarn_eval::k8s::PodTemplateSpec;
use tarn_eval::pss::{self, CheckVerdict, Implicated, Level, Policy, Version};

/// Number of YAML fixtures in the corpus (upstream README: 4,537).
const EXPECTED_FIXTURES: usize = 4537;

/// File prefix → (check ID, substring the denial must contain).
const EXPECTATIONS: &[(&str, &str, &str)] = &[
    ("hostnamespaces", "hostNamespaces", "host namespaces"),
    ("privileged", "privileged", "privileged"),
    ("capabilities_baseline", "capabilities_baseline", "capabilities"),
    ("hostpathvolumes", "hostPathVolumes", "hostPath"),
    ("hostports", "hostPorts", "hostPort"),
    ("hostprobesandhostlifecycle", "hostProbesAndHostLifecycle", "probe or lifecycle host"),
    ("apparmorprofile", "appArmorProfile", "forbidden AppArmor profile"),
    ("selinuxoptions", "seLinuxOptions", "seLinuxOptions"),
    ("procmount", "procMount", "procMount"),
    ("seccompprofile_baseline", "seccompProfile_baseline", "seccompProfile"),
    ("sysctls", "sysctls", "forbidden sysctl"),
    ("windowshostprocess", "windowsHostProcess", "hostProcess"),
    ("restrictedvolumes", "restrictedVolumes", "restricted volume types"),
    ("allowprivilegeescalation", "allowPrivilegeEscalation", "allowPrivilegeEscalation"),
    ("runasnonroot", "runAsNonRoot", "runAsNonRoot"),
    ("runasuser", "runAsUser", "runAsUser"),
    ("seccompprofile_restricted", "seccompProfile_restricted", "seccompProfile"),
    ("capabilities_restricted", "capabilities_restricted", "unrestricted capabilities"),
    ("procmount_restricted", "procMount_restricted", "procMount"),
];

/// Baseline check → the Restricted check that overrides it.
const OVERRIDES: &[(&str, &str)] = &[
    ("capabilities_baseline", "capabilities_restricted"),
    ("seccompProfile_baseline", "seccompProfile_restricted"),
    ("hostPathVolumes", "restrictedVolumes"),
    ("procMount", "procMount_restricted"),
];

/// Fixture stems that carry no check and must be admitted.
const BASE_STEMS: &[&str] = &["base", "base_linux", "base_windows"];

fn testdata_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/pss/testdata")
}

#[derive(Debug)]
struct Fixture {
    path: PathBuf,
    level: Level,
    minor: u32,
    pass: bool,
    stem: String,
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    entries
}

/// Walks `testdata/<level>/v1.<minor>/<outcome>/*.yaml`.
fn fixtures() -> Vec<Fixture> {
    let root = testdata_dir();
    assert!(root.is_dir(), "fixture corpus missing at {}", root.display());
    let mut out = Vec::new();
    for level_dir in sorted_entries(&root).into_iter().filter(|p| p.is_dir()) {
        let level_name = level_dir.file_name().unwrap().to_string_lossy().to_string();
        let level: Level =
            level_name.parse().unwrap_or_else(|e| panic!("unexpected level directory {level_name}: {e}"));
        for version_dir in sorted_entries(&level_dir) {
            let version_name = version_dir.file_name().unwrap().to_string_lossy().to_string();
            let version: Version =
                version_name.parse().unwrap_or_else(|e| panic!("unexpected version directory {version_name}: {e}"));
            let minor = version.minor.expect("fixture versions are concrete");
            for outcome_dir in sorted_entries(&version_dir) {
                let pass = match outcome_dir.file_name().unwrap().to_str() {
                    Some("pass") => true,
                    Some("fail") => false,
                    other => panic!("unexpected outcome directory {other:?}"),
                };
                for file in sorted_entries(&outcome_dir) {
                    assert_eq!(
                        file.extension().and_then(|e| e.to_str()),
                        Some("yaml"),
                        "unexpected file {}",
                        file.display()
                    );
                    let stem = file.file_stem().unwrap().to_string_lossy().to_string();
                    out.push(Fixture { path: file, level, minor, pass, stem });
                }
            }
        }
    }
    out
}

/// Reads a fixture through the product's inventory reader (kind dispatch, YAML merge keys,
/// typed decoding), exactly as `tarn eval` and `tarn agent scan` do.
fn load(path: &Path) -> Result<PodTemplateSpec, String> {
    let bytes = fs::read(path).map_err(|e| format!("read: {e}"))?;
    let name = path.display().to_string();
    let mut inv = tarn_eval::inventory::read_sources([(name.as_str(), bytes.as_slice())]);
    if !inv.problems.is_empty() || inv.workloads.len() != 1 {
        return Err(format!("inventory reader: {} workloads, problems {:?}", inv.workloads.len(), inv.problems));
    }
    Ok(inv.workloads.remove(0).template)
}

/// `privileged12` → `privileged`.
fn prefix(stem: &str) -> &str {
    stem.trim_end_matches(|c: char| c.is_ascii_digit())
}

fn describe(verdicts: &[CheckVerdict]) -> String {
    pss::aggregate_denial(verdicts).unwrap_or_else(|| "allowed".to_string())
}

/// Checks one fixture; `Err` describes the disagreement.
fn check_fixture(fx: &Fixture) -> Result<(), String> {
    let pod = load(&fx.path)?;
    if pod.metadata.name.as_deref() != Some(fx.stem.as_str()) {
        return Err(format!("metadata.name {:?} does not match the file stem", pod.metadata.name));
    }
    let policy = Policy::new(fx.level, Version::v1(fx.minor));
    let verdicts = pss::evaluate(&policy, &pod.metadata, &pod.spec);
    let ids: Vec<&str> = pss::checks(&policy).iter().map(|c| c.id).collect();
    let verdict_ids: Vec<&str> = verdicts.iter().map(|v| v.check_id).collect();
    if ids != verdict_ids {
        return Err(format!("verdict order {verdict_ids:?} != checks() {ids:?}"));
    }

    if fx.pass {
        if verdicts.iter().all(|v| v.allowed) {
            return Ok(());
        }
        return Err(format!("expected allowed, got denied: {}", describe(&verdicts)));
    }

    let prefix = prefix(&fx.stem);
    if BASE_STEMS.contains(&prefix) {
        return Err("a base fixture in fail/".to_string());
    }
    let (_, named, substring) = EXPECTATIONS
        .iter()
        .find(|(p, _, _)| *p == prefix)
        .ok_or_else(|| format!("unknown fixture prefix {prefix:?}"))?;
    let expected = if ids.contains(named) {
        *named
    } else {
        OVERRIDES
            .iter()
            .find(|(base, _)| base == named)
            .map(|(_, over)| *over)
            .filter(|over| fx.level == Level::Restricted && ids.contains(over))
            .ok_or_else(|| format!("check {named} is not evaluated at {policy}"))?
    };
    let verdict = verdicts.iter().find(|v| v.check_id == expected).expect("listed check has a verdict");
    if verdict.allowed {
        return Err(format!("expected {expected} to fail, got: {}", describe(&verdicts)));
    }
    let message = verdict.message();
    if !message.contains(substring) {
        return Err(format!("{expected} message {message:?} lacks expected substring {substring:?}"));
    }
    if pss::aggregate_denial(&verdicts).is_none() {
        return Err("aggregate_denial returned None for a denied pod".to_string());
    }
    Ok(())
}

#[test]
fn pss_corpus_agreement() {
    let fixtures = fixtures();
    let mut mismatches = Vec::new();
    for fx in &fixtures {
        if let Err(why) = check_fixture(fx) {
            let rel = fx.path.strip_prefix(testdata_dir()).unwrap_or(&fx.path);
            mismatches.push(format!("{}: {why}", rel.display()));
        }
    }
    let agreed = fixtures.len() - mismatches.len();
    println!("PSS corpus: {agreed}/{} fixtures agree ({} checked)", fixtures.len(), fixtures.len());
    assert!(
        mismatches.is_empty(),
        "{} of {} fixtures disagree:\n{}",
        mismatches.len(),
        fixtures.len(),
        mismatches.join("\n")
    );
    assert_eq!(fixtures.len(), EXPECTED_FIXTURES, "fixture count changed: is a directory missing?");
}

#[test]
fn corpus_covers_every_level_version_and_outcome() {
    let fixtures = fixtures();
    for level in [Level::Baseline, Level::Restricted] {
        for minor in 0..=pss::LATEST_MINOR {
            for pass in [true, false] {
                assert!(
                    fixtures.iter().any(|f| f.level == level && f.minor == minor && f.pass == pass),
                    "no {} fixtures for {level}:v1.{minor}",
                    if pass { "pass" } else { "fail" }
                );
            }
        }
    }
}

#[test]
fn latest_and_future_versions_match_newest_fixtures() {
    let newest: Vec<Fixture> = fixtures().into_iter().filter(|f| f.minor == pss::LATEST_MINOR).collect();
    assert!(newest.len() > 100, "too few v1.{} fixtures", pss::LATEST_MINOR);
    let mut mismatches = Vec::new();
    for fx in &newest {
        let pod = load(&fx.path).unwrap();
        let pinned = pss::evaluate(&Policy::new(fx.level, Version::v1(pss::LATEST_MINOR)), &pod.metadata, &pod.spec);
        for version in [Version::latest(), Version::v1(99), Version::v1(38)] {
            let got = pss::evaluate(&Policy::new(fx.level, version), &pod.metadata, &pod.spec);
            if got != pinned {
                mismatches.push(format!("{} at {version}", fx.path.display()));
            }
        }
    }
    println!("latest/v1.38/v1.99 compared on {} fixtures", newest.len());
    assert!(mismatches.is_empty(), "differ from v1.37:\n{}", mismatches.join("\n"));
}

#[test]
fn allowed_verdicts_are_empty_and_failures_are_attributed() {
    let mut failures = 0usize;
    for fx in fixtures() {
        let pod = load(&fx.path).unwrap();
        let policy = Policy::new(fx.level, Version::v1(fx.minor));
        for v in pss::evaluate(&policy, &pod.metadata, &pod.spec) {
            if v.allowed {
                assert!(v.message().is_empty());
                assert!(v.forbidden_reason.is_empty() && v.forbidden_detail.is_empty());
                assert_eq!(v.implicated, Implicated::Containers(Vec::new()));
            } else {
                failures += 1;
                assert!(!v.forbidden_reason.is_empty(), "{}: empty reason", v.check_id);
                if let Implicated::Containers(names) = &v.implicated {
                    assert!(!names.is_empty(), "{}: nobody implicated", v.check_id);
                    for name in names {
                        assert!(
                            pod.spec.all_containers().any(|c| &c.name == name),
                            "{}: implicates unknown container {name}",
                            v.check_id
                        );
                    }
                }
            }
        }
    }
    assert!(failures > 2000, "suspiciously few failures: {failures}");
}
