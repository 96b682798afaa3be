//! The check registry: every upstream check with its versioned
//! implementations, and selection of the checks active for a policy.

use crate::k8s::{ObjectMeta, PodSpec};

use super::util::Outcome;
use super::{CheckInfo, Level, Policy};
use super::{host, identity, privilege, profiles, sysctls, volumes};

pub(crate) type CheckFn = fn(&ObjectMeta, &PodSpec) -> Outcome;

/// A registered check: its implementations by minimum minor version
/// (ascending) and the Baseline check it overrides at `restricted`.
pub(crate) struct CheckDef {
    pub(crate) info: CheckInfo,
    versions: &'static [(u32, CheckFn)],
    overrides: Option<&'static str>,
}

impl CheckDef {
    fn implementation(&self, minor: u32) -> Option<CheckFn> {
        self.versions.iter().rev().find(|(min, _)| *min <= minor).map(|(_, f)| *f)
    }
}

const fn def(
    id: &'static str,
    level: Level,
    title: &'static str,
    versions: &'static [(u32, CheckFn)],
    overrides: Option<&'static str>,
) -> CheckDef {
    CheckDef { info: CheckInfo { id, level, title }, versions, overrides }
}

use Level::{Baseline, Restricted};

/// All checks, Baseline first, each group in upstream registration order.
static REGISTRY: &[CheckDef] = &[
    def("appArmorProfile", Baseline, "AppArmor", &[(0, profiles::app_armor_profile_v1_0)], None),
    def("capabilities_baseline", Baseline, "Capabilities", &[(0, privilege::capabilities_baseline_v1_0)], None),
    def("hostNamespaces", Baseline, "Host Namespaces", &[(0, host::host_namespaces_v1_0)], None),
    def("hostPathVolumes", Baseline, "HostPath Volumes", &[(0, volumes::host_path_volumes_v1_0)], None),
    def("hostPorts", Baseline, "Host Ports", &[(0, host::host_ports_v1_0)], None),
    def(
        "hostProbesAndHostLifecycle",
        Baseline,
        "Host Probes / Lifecycle Hooks",
        &[(34, host::host_probes_and_host_lifecycle_v1_34)],
        None,
    ),
    def("privileged", Baseline, "Privileged Containers", &[(0, privilege::privileged_v1_0)], None),
    def(
        "procMount",
        Baseline,
        "/proc Mount Type",
        &[(0, identity::proc_mount_v1_0), (35, identity::proc_mount_baseline_v1_35)],
        None,
    ),
    def(
        "seLinuxOptions",
        Baseline,
        "SELinux",
        &[(0, profiles::se_linux_options_v1_0), (31, profiles::se_linux_options_v1_31)],
        None,
    ),
    def(
        "seccompProfile_baseline",
        Baseline,
        "Seccomp",
        &[(0, profiles::seccomp_profile_baseline_v1_0), (19, profiles::seccomp_profile_baseline_v1_19)],
        None,
    ),
    def(
        "sysctls",
        Baseline,
        "Sysctls",
        &[
            (0, sysctls::sysctls_v1_0),
            (27, sysctls::sysctls_v1_27),
            (29, sysctls::sysctls_v1_29),
            (32, sysctls::sysctls_v1_32),
            (37, sysctls::sysctls_v1_37),
        ],
        None,
    ),
    def("windowsHostProcess", Baseline, "HostProcess", &[(0, host::windows_host_process_v1_0)], None),
    def(
        "allowPrivilegeEscalation",
        Restricted,
        "Privilege Escalation",
        &[(8, privilege::allow_privilege_escalation_v1_8), (25, privilege::allow_privilege_escalation_v1_25)],
        None,
    ),
    def(
        "capabilities_restricted",
        Restricted,
        "Capabilities",
        &[(22, privilege::capabilities_restricted_v1_22), (25, privilege::capabilities_restricted_v1_25)],
        Some("capabilities_baseline"),
    ),
    def("procMount_restricted", Restricted, "/proc Mount Type", &[(35, identity::proc_mount_v1_0)], Some("procMount")),
    def(
        "restrictedVolumes",
        Restricted,
        "Volume Types",
        &[(0, volumes::restricted_volumes_v1_0)],
        Some("hostPathVolumes"),
    ),
    def(
        "runAsNonRoot",
        Restricted,
        "Running as Non-root",
        &[(0, identity::run_as_non_root_v1_0), (35, identity::run_as_non_root_v1_35)],
        None,
    ),
    def(
        "runAsUser",
        Restricted,
        "Running as Non-root user",
        &[(23, identity::run_as_user_v1_23), (35, identity::run_as_user_v1_35)],
        None,
    ),
    def(
        "seccompProfile_restricted",
        Restricted,
        "Seccomp",
        &[(19, profiles::seccomp_profile_restricted_v1_19), (25, profiles::seccomp_profile_restricted_v1_25)],
        Some("seccompProfile_baseline"),
    ),
];

/// The registered checks active for `policy`, with their implementation.
pub(crate) fn active(policy: &Policy) -> Vec<(&'static CheckDef, CheckFn)> {
    let minor = policy.version.resolved();
    let with_impl = |d: &'static CheckDef| d.implementation(minor).map(|f| (d, f));
    let restricted: Vec<_> = match policy.level {
        Level::Baseline => Vec::new(),
        Level::Restricted => {
            REGISTRY.iter().filter(|d| d.info.level == Level::Restricted).filter_map(with_impl).collect()
        }
    };
    let overridden: Vec<&str> = restricted.iter().filter_map(|(d, _)| d.overrides).collect();
    REGISTRY
        .iter()
        .filter(|d| d.info.level == Level::Baseline && !overridden.contains(&d.info.id))
        .filter_map(with_impl)
        .chain(restricted)
        .collect()
}
