//! Volume checks: `hostPathVolumes` (Baseline) and `restrictedVolumes`
//! (Restricted, overrides `hostPathVolumes`).

use std::collections::BTreeSet;

use crate::k8s::{ObjectMeta, PodSpec};

use super::Implicated;
use super::util::{Outcome, fail, join_quote, pluralize};

/// No volume may be a hostPath volume (v1.0+).
pub(crate) fn host_path_volumes_v1_0(_meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    let names: Vec<&str> = spec.volumes.iter().filter(|v| v.host_path.is_some()).map(|v| v.name.as_str()).collect();
    if names.is_empty() {
        return None;
    }
    fail(
        "hostPath volumes",
        format!("{} {}", pluralize("volume", "volumes", names.len()), join_quote(&names)),
        Implicated::Pod,
    )
}

/// Only configMap, csi, downwardAPI, emptyDir, ephemeral, image,
/// persistentVolumeClaim, projected and secret volumes are allowed (v1.0+).
///
/// A volume without any source is allowed: the API server defaults it to
/// `emptyDir`. A source this model does not know is reported as `unknown`, as
/// upstream does for any source outside its lists.
pub(crate) fn restricted_volumes_v1_0(_meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    let mut bad_volumes = Vec::new();
    let mut bad_types = BTreeSet::new();
    for volume in &spec.volumes {
        if volume.allowed_restricted_source().is_some() || volume.has_no_source() {
            continue;
        }
        bad_volumes.push(volume.name.as_str());
        bad_types.insert(volume.restricted_source().unwrap_or("unknown"));
    }
    if bad_volumes.is_empty() {
        return None;
    }
    let types: Vec<&str> = bad_types.into_iter().collect();
    fail(
        "restricted volume types",
        format!(
            "{} {} {} {} {}",
            pluralize("volume", "volumes", bad_volumes.len()),
            join_quote(&bad_volumes),
            pluralize("uses", "use", bad_volumes.len()),
            pluralize("restricted volume type", "restricted volume types", types.len()),
            join_quote(&types)
        ),
        Implicated::Pod,
    )
}
