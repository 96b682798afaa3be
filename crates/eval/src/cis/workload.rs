//! Checks judged on one container of one workload: pod security (5.2.x), service account tokens
//! (5.1.6), secrets in environment variables (5.4.1), image provenance (5.5.1) and the general
//! policies (seccomp, security contexts, the default namespace).
//!
//! Every check yields one result per container; a pod-level setting (hostPID, a hostPath
//! volume) passes or fails every container of the pod. Where a trivy check id is used, the
//! condition is the upstream Rego check's, read with Kubernetes' precedence rules (a container
//! setting overrides the pod's), which agrees with the upstream good/bad examples.

use std::sync::Arc;

use tarn_model::Status;

use crate::catalog::{CheckResult, ResourceRef};
use crate::inventory::Workload;
use crate::k8s::{Container, PodSecurityContext, PodSpec, SecurityContext};

use super::CisContext;
use super::scope::Scope;

/// The container being judged, with its pod and inventory.
pub(super) struct Subject<'a> {
    pub w: &'a Workload,
    pub spec: &'a PodSpec,
    pub c: &'a Container,
    pub scope: &'a Scope<'a>,
}

type Check = fn(&Subject<'_>) -> Option<String>;

/// Check id → condition; `Some(message)` is a failure.
pub(super) const CHECKS: &[(&str, Check)] = &[
    ("KSV-0001", allow_privilege_escalation),
    ("KSV-0003", capabilities_no_drop_all),
    ("KSV-0005", sys_admin_added),
    ("KSV-0008", host_ipc),
    ("KSV-0009", host_network),
    ("KSV-0010", host_pid),
    ("KSV-0012", runs_as_root),
    ("KSV-0017", privileged),
    ("KSV-0020", uid_le_10000),
    ("KSV-0021", gid_le_10000),
    ("KSV-0022", capabilities_added),
    ("KSV-0023", host_path_volumes),
    ("KSV-0024", host_ports),
    ("KSV-0025", selinux_custom_options),
    ("KSV-0030", seccomp_not_runtime_default),
    ("KSV-0036", service_account_token_mounted),
    ("KSV-0103", windows_host_process),
    ("KSV-0104", seccomp_unconfined),
    ("KSV-0105", run_as_user_root),
    ("KSV-0110", default_namespace),
    ("KSV-0119", net_raw_added),
    ("TARN-CIS-NET-RAW", net_raw_kept),
    ("TARN-CIS-SA-TOKEN-AUTOMOUNT", token_automounted),
    ("TARN-CIS-SECRET-ENV", secrets_in_env),
];

pub(super) const PROVENANCE: &str = "TARN-IMG-PROVENANCE";

/// Runs every container check on every workload, and the image-provenance hook.
pub(super) fn run(scope: &Scope<'_>, ctx: &CisContext<'_>, out: &mut Vec<CheckResult>) {
    for w in &scope.inv.workloads {
        let spec = &w.template.spec;
        for c in spec.all_containers() {
            let resource = Arc::new(ResourceRef {
                namespace: w.namespace.clone(),
                kind: w.kind.clone(),
                name: w.name.clone(),
                container: c.name.clone(),
                image: c.image.clone().unwrap_or_default(),
                image_digest: w.image_digests.get(&c.name).cloned().unwrap_or_default(),
            });
            let s = Subject { w, spec, c, scope };
            for (id, check) in CHECKS {
                out.push(CheckResult::new(id, &resource, check(&s)));
            }
            if let Some(hook) = ctx.image_provenance {
                out.push(match hook(w, c) {
                    Some((true, _)) => CheckResult::new(PROVENANCE, &resource, None),
                    Some((false, why)) => CheckResult::new(PROVENANCE, &resource, Some(why)),
                    None => CheckResult::with_status(
                        PROVENANCE,
                        &resource,
                        Status::Skip,
                        format!("no image evidence for {}", resource.image),
                    ),
                });
            }
        }
    }
    if ctx.image_provenance.is_none() {
        let nothing = Arc::new(ResourceRef::default());
        out.push(CheckResult::with_status(PROVENANCE, &nothing, Status::Skip, "manual: no image evidence configured"));
    }
}

fn sc(c: &Container) -> Option<&SecurityContext> {
    c.security_context.as_ref()
}

fn quoted(c: &Container) -> String {
    format!("container {:?}", c.name)
}

/// Capability names compare case-insensitively and with or without the `CAP_` prefix.
fn cap_is(cap: &str, name: &str) -> bool {
    let cap = cap.trim();
    let bare = cap.get(..4).filter(|p| p.eq_ignore_ascii_case("CAP_")).map_or(cap, |_| &cap[4..]);
    bare.eq_ignore_ascii_case(name)
}

fn added(c: &Container) -> &[String] {
    sc(c).and_then(|s| s.capabilities.as_ref()).map_or(&[], |k| k.add.as_slice())
}

fn dropped(c: &Container) -> &[String] {
    sc(c).and_then(|s| s.capabilities.as_ref()).map_or(&[], |k| k.drop.as_slice())
}

fn allow_privilege_escalation(s: &Subject<'_>) -> Option<String> {
    (sc(s.c).and_then(|x| x.allow_privilege_escalation) != Some(false)).then(|| {
        format!(
            "{} does not set securityContext.allowPrivilegeEscalation=false (escalation is allowed when unset)",
            quoted(s.c)
        )
    })
}

fn capabilities_no_drop_all(s: &Subject<'_>) -> Option<String> {
    (!dropped(s.c).iter().any(|d| cap_is(d, "ALL"))).then(|| format!("{} does not drop ALL capabilities", quoted(s.c)))
}

fn sys_admin_added(s: &Subject<'_>) -> Option<String> {
    added(s.c).iter().any(|a| cap_is(a, "SYS_ADMIN")).then(|| format!("{} adds SYS_ADMIN", quoted(s.c)))
}

fn host_ipc(s: &Subject<'_>) -> Option<String> {
    (s.spec.host_ipc == Some(true)).then(|| "pod sets hostIPC=true".to_string())
}

fn host_network(s: &Subject<'_>) -> Option<String> {
    (s.spec.host_network == Some(true)).then(|| "pod sets hostNetwork=true".to_string())
}

fn host_pid(s: &Subject<'_>) -> Option<String> {
    (s.spec.host_pid == Some(true)).then(|| "pod sets hostPID=true".to_string())
}

fn pod_sc<'a>(s: &Subject<'a>) -> Option<&'a PodSecurityContext> {
    s.spec.security_context.as_ref()
}

fn runs_as_root(s: &Subject<'_>) -> Option<String> {
    let non_root = sc(s.c).and_then(|x| x.run_as_non_root).or_else(|| pod_sc(s).and_then(|p| p.run_as_non_root));
    (non_root != Some(true)).then(|| format!("{} does not set runAsNonRoot=true (pod or container)", quoted(s.c)))
}

fn run_as_user(s: &Subject<'_>) -> Option<i64> {
    sc(s.c).and_then(|x| x.run_as_user).or_else(|| pod_sc(s).and_then(|p| p.run_as_user))
}

fn run_as_user_root(s: &Subject<'_>) -> Option<String> {
    (run_as_user(s) == Some(0)).then(|| format!("{} runs with runAsUser=0", quoted(s.c)))
}

fn uid_le_10000(s: &Subject<'_>) -> Option<String> {
    match run_as_user(s) {
        Some(u) if u > 10000 => None,
        Some(u) => Some(format!("{} runs with runAsUser={u} (want > 10000)", quoted(s.c))),
        None => Some(format!("{} does not set runAsUser (want > 10000)", quoted(s.c))),
    }
}

fn gid_le_10000(s: &Subject<'_>) -> Option<String> {
    match sc(s.c).and_then(|x| x.run_as_group).or_else(|| pod_sc(s).and_then(|p| p.run_as_group)) {
        Some(g) if g > 10000 => None,
        Some(g) => Some(format!("{} runs with runAsGroup={g} (want > 10000)", quoted(s.c))),
        None => Some(format!("{} does not set runAsGroup (want > 10000)", quoted(s.c))),
    }
}

fn privileged(s: &Subject<'_>) -> Option<String> {
    (sc(s.c).and_then(|x| x.privileged) == Some(true))
        .then(|| format!("{} sets securityContext.privileged=true", quoted(s.c)))
}

fn capabilities_added(s: &Subject<'_>) -> Option<String> {
    let add = added(s.c);
    (!add.is_empty()).then(|| format!("{} adds capabilities {}", quoted(s.c), add.join(", ")))
}

fn host_path_volumes(s: &Subject<'_>) -> Option<String> {
    let paths: Vec<String> = s
        .spec
        .volumes
        .iter()
        .filter_map(|v| v.host_path.as_ref().map(|h| format!("{:?} ({})", v.name, h.path)))
        .collect();
    (!paths.is_empty()).then(|| format!("pod mounts hostPath volumes {}", paths.join(", ")))
}

fn host_ports(s: &Subject<'_>) -> Option<String> {
    let ports: Vec<String> =
        s.c.ports.iter().filter_map(|p| p.host_port.filter(|h| *h != 0)).map(|h| h.to_string()).collect();
    (!ports.is_empty()).then(|| format!("{} uses hostPort {}", quoted(s.c), ports.join(", ")))
}

const SELINUX_TYPES: [&str; 3] = ["container_t", "container_init_t", "container_kvm_t"];

fn selinux_custom_options(s: &Subject<'_>) -> Option<String> {
    let contexts = [
        ("pod", pod_sc(s).and_then(|p| p.se_linux_options.as_ref())),
        ("container", sc(s.c).and_then(|x| x.se_linux_options.as_ref())),
    ];
    let mut problems = Vec::new();
    for (level, opts) in contexts {
        let Some(o) = opts else { continue };
        if let Some(t) = o.type_.as_deref().filter(|t| !SELINUX_TYPES.contains(t)) {
            problems.push(format!("{level} seLinuxOptions.type {t:?}"));
        }
        for (key, v) in [("user", &o.user), ("role", &o.role)] {
            if v.is_some() {
                problems.push(format!("{level} seLinuxOptions.{key}"));
            }
        }
    }
    (!problems.is_empty()).then(|| format!("{}: custom SELinux options: {}", quoted(s.c), problems.join(", ")))
}

const POD_SECCOMP_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";

fn seccomp_type<'a>(s: &'a Subject<'_>) -> Option<&'a str> {
    sc(s.c)
        .and_then(|x| x.seccomp_profile.as_ref())
        .or_else(|| pod_sc(s).and_then(|p| p.seccomp_profile.as_ref()))
        .and_then(|p| p.type_.as_deref())
}

fn seccomp_not_runtime_default(s: &Subject<'_>) -> Option<String> {
    // Before v1.19 the pod annotation decided; when present it still does here, as upstream.
    if let Some(a) = s.w.template.metadata.annotations.get(POD_SECCOMP_ANNOTATION) {
        return (a != "runtime/default")
            .then(|| format!("pod annotation {POD_SECCOMP_ANNOTATION}={a:?}, want runtime/default"));
    }
    match seccomp_type(s) {
        Some("RuntimeDefault" | "Localhost") => None,
        Some(t) => Some(format!("{} uses seccomp profile type {t:?}, want RuntimeDefault or Localhost", quoted(s.c))),
        None => Some(format!("{} sets no seccomp profile (pod or container), want RuntimeDefault", quoted(s.c))),
    }
}

fn seccomp_unconfined(s: &Subject<'_>) -> Option<String> {
    let annotations = &s.w.template.metadata.annotations;
    let from_annotation = || {
        annotations
            .get(&format!("container.seccomp.security.alpha.kubernetes.io/{}", s.c.name))
            .or_else(|| annotations.get(POD_SECCOMP_ANNOTATION))
            .map(String::as_str)
    };
    match seccomp_type(s).or_else(from_annotation) {
        None | Some("") => Some(format!("{} sets no seccomp profile (unconfined by default)", quoted(s.c))),
        Some(t) if t.eq_ignore_ascii_case("unconfined") => Some(format!("{} runs seccomp Unconfined", quoted(s.c))),
        Some(_) => None,
    }
}

const TOKEN_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

fn service_account_token_mounted(s: &Subject<'_>) -> Option<String> {
    match s.spec.automount_service_account_token {
        Some(true) => Some("pod sets automountServiceAccountToken=true".to_string()),
        Some(false) => None,
        None => s
            .spec
            .all_containers()
            .any(|c| c.volume_mounts.iter().any(|m| m.mount_path.trim_end_matches('/') == TOKEN_PATH))
            .then(|| format!("a container mounts the service account token at {TOKEN_PATH}")),
    }
}

fn windows_host_process(s: &Subject<'_>) -> Option<String> {
    let pod = pod_sc(s).and_then(|p| p.windows_options.as_ref()).and_then(|w| w.host_process) == Some(true);
    let container = sc(s.c).and_then(|x| x.windows_options.as_ref()).and_then(|w| w.host_process) == Some(true);
    match (pod, container) {
        (true, _) => Some("pod sets windowsOptions.hostProcess=true".to_string()),
        (false, true) => Some(format!("{} sets windowsOptions.hostProcess=true", quoted(s.c))),
        _ => None,
    }
}

fn default_namespace(s: &Subject<'_>) -> Option<String> {
    (s.w.namespace == "default").then(|| format!("{} {} runs in the default namespace", s.w.kind, s.w.name))
}

fn net_raw_added(s: &Subject<'_>) -> Option<String> {
    added(s.c).iter().any(|a| cap_is(a, "NET_RAW") || cap_is(a, "ALL")).then(|| format!("{} adds NET_RAW", quoted(s.c)))
}

fn net_raw_kept(s: &Subject<'_>) -> Option<String> {
    if s.spec.os.as_ref().is_some_and(|o| o.name == "windows") {
        return None; // no Linux capabilities on Windows nodes
    }
    (!dropped(s.c).iter().any(|d| cap_is(d, "NET_RAW") || cap_is(d, "ALL"))).then(|| {
        format!(
            "{} keeps NET_RAW (container runtimes grant it unless capabilities.drop has NET_RAW or ALL)",
            quoted(s.c)
        )
    })
}

/// The pod spec wins; otherwise the ServiceAccount's setting; Kubernetes mounts the token when
/// neither says no. A ServiceAccount missing from the inventory counts as unset.
fn token_automounted(s: &Subject<'_>) -> Option<String> {
    let sa = s
        .spec
        .service_account_name
        .as_deref()
        .or(s.spec.service_account.as_deref())
        .filter(|n| !n.is_empty())
        .unwrap_or("default");
    match s.spec.automount_service_account_token {
        Some(false) => None,
        Some(true) => Some(format!("pod sets automountServiceAccountToken=true (service account {sa:?})")),
        None => match s.scope.service_account_automount(&s.w.namespace, sa) {
            Some(false) => None,
            Some(true) => Some(format!(
                "ServiceAccount {sa:?} sets automountServiceAccountToken=true and the pod does not opt out"
            )),
            None => Some(format!(
                "the token of service account {sa:?} is mounted (automountServiceAccountToken unset on the pod and the ServiceAccount)"
            )),
        },
    }
}

fn secrets_in_env(s: &Subject<'_>) -> Option<String> {
    let mut uses: Vec<String> =
        s.c.env
            .iter()
            .filter_map(|e| {
                let r = e.value_from.as_ref()?.secret_key_ref.as_ref()?;
                Some(format!("env {} from Secret {:?}", e.name, r.name))
            })
            .collect();
    uses.extend(
        s.c.env_from.iter().filter_map(|e| e.secret_ref.as_ref()).map(|r| format!("envFrom Secret {:?}", r.name)),
    );
    (!uses.is_empty())
        .then(|| format!("{} reads Secrets through environment variables: {}", quoted(s.c), uses.join(", ")))
}
