//! Table-driven unit tests: version/level parsing, check selection and the
//! message helpers (per-check messages and attribution are in
//! `tests_checks.rs`). The upstream fixture corpus is exercised by
//! `tests/it/pss_corpus.rs`.

use super::util::{go_quote, join_quote, pluralize, setters_phrase};
use super::*;

pub(super) fn pod(value: serde_json::Value) -> (ObjectMeta, PodSpec) {
    let template: crate::k8s::PodTemplateSpec = serde_json::from_value(value).unwrap();
    (template.metadata, template.spec)
}

pub(super) fn policy(s: &str) -> Policy {
    s.parse().unwrap()
}

/// The verdict of `check` for `value` at `policy`; panics if not evaluated.
pub(super) fn verdict(policy_str: &str, check: &str, value: serde_json::Value) -> CheckVerdict {
    let (meta, spec) = pod(value);
    evaluate(&policy(policy_str), &meta, &spec)
        .into_iter()
        .find(|v| v.check_id == check)
        .unwrap_or_else(|| panic!("{check} not evaluated at {policy_str}"))
}

pub(super) fn containers(names: &[&str]) -> Implicated {
    Implicated::Containers(names.iter().map(|s| s.to_string()).collect())
}

#[test]
fn version_parsing() {
    let cases: &[(&str, Option<Option<u32>>)] = &[
        ("latest", Some(None)),
        (" latest ", Some(None)),
        ("v1.25", Some(Some(25))),
        ("1.25", Some(Some(25))),
        ("v1.0", Some(Some(0))),
        ("v1.99", Some(Some(99))),
        ("", None),
        ("v1", None),
        ("v1.", None),
        ("v2.3", None),
        ("1.x", None),
        ("v1.-1", None),
        ("v1.2.3", None),
        ("Latest", None),
        ("vv1.2", None),
    ];
    for (input, expected) in cases {
        let got = input.parse::<Version>().ok().map(|v| v.minor);
        assert_eq!(got, *expected, "parsing {input:?}");
    }
}

#[test]
fn version_display_and_resolution() {
    let cases: &[(Version, &str, u32)] = &[
        (Version::latest(), "latest", LATEST_MINOR),
        (Version::v1(0), "v1.0", 0),
        (Version::v1(25), "v1.25", 25),
        (Version::v1(37), "v1.37", 37),
        (Version::v1(38), "v1.38", 37),
        (Version::v1(99), "v1.99", 37),
    ];
    for (version, display, resolved) in cases {
        assert_eq!(version.to_string(), *display);
        assert_eq!(version.resolved(), *resolved, "{display}");
        assert_eq!(display.parse::<Version>().unwrap(), *version);
    }
    assert_eq!(Version::default(), Version::LATEST);
    let json = serde_json::to_string(&Version::v1(25)).unwrap();
    assert_eq!(json, "\"v1.25\"");
    assert_eq!(serde_json::from_str::<Version>(&json).unwrap(), Version::v1(25));
    assert!(serde_json::from_str::<Version>("\"v9\"").is_err());
}

#[test]
fn level_and_policy_parsing() {
    let cases: &[(&str, Option<Level>)] = &[
        ("baseline", Some(Level::Baseline)),
        ("restricted", Some(Level::Restricted)),
        ("Restricted", Some(Level::Restricted)),
        ("privileged", None),
        ("", None),
    ];
    for (input, expected) in cases {
        assert_eq!(input.parse::<Level>().ok(), *expected, "{input:?}");
    }
    assert_eq!(Level::Baseline.to_string(), "baseline");
    assert_eq!(Level::Restricted.to_string(), "restricted");

    let p = policy("restricted:v1.25");
    assert_eq!(p, Policy::new(Level::Restricted, Version::v1(25)));
    assert_eq!(p.to_string(), "restricted:v1.25");
    assert_eq!(policy("baseline"), Policy::new(Level::Baseline, Version::LATEST));
    assert!("baseline:v1".parse::<Policy>().is_err());
    assert!("root:latest".parse::<Policy>().is_err());
}

#[test]
fn check_selection_follows_versions_and_overrides() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        // (policy, must contain, must not contain)
        (
            "baseline:v1.0",
            &["privileged", "hostPathVolumes", "capabilities_baseline", "procMount"],
            &["hostProbesAndHostLifecycle", "runAsNonRoot", "restrictedVolumes"],
        ),
        (
            "restricted:v1.0",
            &["capabilities_baseline", "seccompProfile_baseline", "runAsNonRoot"],
            &["hostPathVolumes", "allowPrivilegeEscalation", "runAsUser"],
        ),
        ("restricted:v1.8", &["allowPrivilegeEscalation"], &["seccompProfile_restricted"]),
        ("restricted:v1.19", &["seccompProfile_restricted", "capabilities_baseline"], &["seccompProfile_baseline"]),
        ("restricted:v1.22", &["capabilities_restricted"], &["capabilities_baseline", "runAsUser"]),
        ("restricted:v1.23", &["runAsUser"], &[]),
        ("restricted:v1.34", &["hostProbesAndHostLifecycle", "procMount"], &["procMount_restricted"]),
        ("restricted:v1.35", &["procMount_restricted"], &["procMount"]),
        ("baseline:latest", &["procMount", "hostProbesAndHostLifecycle"], &[]),
    ];
    for (p, present, absent) in cases {
        let ids: Vec<&str> = checks(&policy(p)).iter().map(|c| c.id).collect();
        for id in *present {
            assert!(ids.contains(id), "{p}: missing {id} in {ids:?}");
        }
        for id in *absent {
            assert!(!ids.contains(id), "{p}: unexpected {id} in {ids:?}");
        }
    }
    assert_eq!(checks(&policy("baseline:latest")).len(), 12);
    assert_eq!(checks(&policy("restricted:latest")).len(), 19 - 4);
    let restricted = checks(&policy("restricted:latest"));
    let first_restricted = restricted.iter().position(|c| c.level == Level::Restricted).unwrap();
    assert!(restricted[..first_restricted].iter().all(|c| c.level == Level::Baseline));
    assert!(restricted[first_restricted..].iter().all(|c| c.level == Level::Restricted));
}

#[test]
fn formatting_helpers() {
    assert_eq!(join_quote::<&str>(&[]), "");
    assert_eq!(join_quote(&["a"]), "\"a\"");
    assert_eq!(join_quote(&["a", "b"]), "\"a\", \"b\"");
    assert_eq!(pluralize("volume", "volumes", 1), "volume");
    assert_eq!(pluralize("volume", "volumes", 0), "volumes");
    assert_eq!(setters_phrase::<&str>(true, &[]), "pod");
    assert_eq!(setters_phrase(false, &["a"]), "container \"a\"");
    assert_eq!(setters_phrase(true, &["a", "b"]), "pod and containers \"a\", \"b\"");
    assert_eq!(go_quote("un\"conf\\ined\n"), "\"un\\\"conf\\\\ined\\n\"");
}
