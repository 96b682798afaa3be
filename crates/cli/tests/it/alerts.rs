//! Alerts end to end: real snapshots from `tarn agent scan`, `tarn alerts run`, and a real
//! CloudEvents receiver (the Python SDK 2.x, `tests/alerts/receiver.py`) that parses every event
//! in binary and structured mode and checks it against the CloudEvents and Tarn schemas.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::common::{keypair, ok, repo_root, require_or_skip, run, s3_lake, stderr, tarn};

/// The receiver process; killed on drop.
struct Receiver {
    child: Child,
    port: u16,
    out: PathBuf,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python_has_sdk() -> bool {
    Command::new("python3")
        .args(["-c", "import cloudevents.core.bindings.http, jsonschema"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn receiver(dir: &Path, name: &str, extra: &[&str]) -> Receiver {
    let out = dir.join(format!("{name}.jsonl"));
    let root = repo_root();
    let mut child = Command::new("python3")
        .arg(root.join("crates/cli/tests/alerts/receiver.py"))
        .arg("--out")
        .arg(&out)
        .arg("--ce-schema")
        .arg(root.join("fixtures/cloudevents/cloudevents.json"))
        .arg("--data-schema")
        .arg(root.join("schemas/alert-event.v1.json"))
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = serde_json::from_str::<Value>(&line).expect("receiver prints its port")["port"].as_u64().unwrap() as u16;
    Receiver { child, port, out }
}

impl Receiver {
    fn lines(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Accepted CloudEvents; panics on any request the SDK or a schema rejected.
    fn events(&self) -> Vec<Value> {
        let lines = self.lines();
        for l in &lines {
            assert!(l.get("error").is_none(), "the receiver rejected an event: {l}");
        }
        lines.into_iter().filter(|l| l.get("id").is_some()).collect()
    }

    fn rejected(&self) -> usize {
        self.lines().iter().filter(|l| l.get("rejected").is_some()).count()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

const GOOD: &str = "\
apiVersion: v1
kind: Pod
metadata: { name: NAME, namespace: shop }
spec:
  securityContext: { runAsNonRoot: true, seccompProfile: { type: RuntimeDefault } }
  containers:
    - name: app
      image: registry.example/shop/NAME@sha256:1111111111111111111111111111111111111111111111111111111111111111
      securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: [ALL] } }
";

/// `bad` workloads become privileged with host networking.
fn inventory(dir: &Path, tag: &str, workloads: &[&str], bad: &[&str]) -> PathBuf {
    let d = dir.join(format!("inv-{tag}"));
    std::fs::create_dir_all(&d).unwrap();
    for w in workloads {
        let mut y = GOOD.replace("NAME", w);
        if bad.contains(w) {
            y = y
                .replace("spec:\n", "spec:\n  hostNetwork: true\n")
                .replace("allowPrivilegeEscalation: false,", "privileged: true, allowPrivilegeEscalation: true,");
        }
        std::fs::write(d.join(format!("{w}.yaml")), y).unwrap();
    }
    d
}

struct Fleet {
    dir: tempfile::TempDir,
    lake: String,
    key: PathBuf,
    minute: u32,
    /// Lake options for every command (S3 endpoint).
    extra: Vec<String>,
}

impl Fleet {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (key, _) = keypair(dir.path());
        let lake = dir.path().join("lake").to_str().unwrap().to_string();
        Fleet { dir, lake, key, minute: 0, extra: Vec::new() }
    }

    fn on_s3(lake: String, endpoint: &str) -> Self {
        let mut f = Fleet::new();
        f.lake = lake;
        f.extra = vec!["--s3-endpoint".into(), endpoint.into(), "--allow-http".into()];
        f
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// One snapshot of `cluster` with `bad` workloads failing, a minute after the last one.
    fn scan(&mut self, cluster: &str, bad: &[&str]) {
        self.minute += 1;
        let inv = inventory(self.dir.path(), &format!("{cluster}-{}", self.minute), &["web", "api", "worker"], bad);
        let at = format!("2026-03-01T{:02}:{:02}:00Z", 6 + self.minute / 60, self.minute % 60);
        ok(&tarn()
            .args(["agent", "scan", "--lake", &self.lake, "--cluster", cluster, "--group", "/acme/prod"])
            .args(["--framework", "pss-baseline", "--framework", "pss-restricted", "--at", &at, "--key"])
            .arg(&self.key)
            .arg("--inventory")
            .arg(&inv)
            .args(&self.extra)
            .env("COSIGN_PASSWORD", "")
            .output()
            .unwrap());
    }

    fn rules(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn alerts_once(&self, rules: &Path, env: &[(&str, &str)]) -> std::process::Output {
        let mut c = tarn();
        c.args(["alerts", "run", "--once", "--lake", &self.lake, "--rules"]).arg(rules).args(&self.extra);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    }
}

#[test]
fn a_regression_fires_one_grouped_event_per_rule_in_both_modes_and_a_steady_state_none() {
    if !require_or_skip(python_has_sdk(), "python3 with cloudevents 2.x and jsonschema") {
        return;
    }
    let mut f = Fleet::new();
    let binary = receiver(f.path(), "binary", &[]);
    let structured = receiver(f.path(), "structured", &["--bearer", "s3cret", "--hmac-secret", "hmac-key"]);
    let slack = receiver(f.path(), "slack", &[]);
    let file = f.path().join("events.jsonl");
    let rules = f.rules(
        "rules.yaml",
        &format!(
            "\
sinks:
  - name: hook-binary
    type: webhook
    url: {}
    retry: {{ attempts: 3, initial_backoff: 10ms, max_backoff: 100ms }}
  - name: hook-structured
    type: webhook
    url_env: TEST_HOOK_URL
    mode: structured
    bearer_token_env: TEST_HOOK_TOKEN
    hmac_secret_env: TEST_HOOK_HMAC
  - name: chat
    type: slack
    url: {}
  - name: log
    type: file
    path: {}
defaults:
  sinks: [hook-binary, hook-structured, log]
rules:
  - name: pss-regressions
    scope: {{ groups: [/acme] }}
    frameworks: [pss-baseline]
    condition:
      transition: {{ on: [degraded, new] }}
    sinks: [hook-binary, hook-structured, chat, log]
  - name: restricted-floor
    condition:
      threshold: {{ framework: pss-restricted, below: 90 }}
    cooldown: 1h
",
            binary.url("/"),
            slack.url("/slack"),
            file.display()
        ),
    );
    let env = [
        ("TEST_HOOK_URL", structured.url("/events").leak() as &str),
        ("TEST_HOOK_TOKEN", "s3cret"),
        ("TEST_HOOK_HMAC", "hmac-key"),
    ];
    // History before the alerts start: one cluster already failing. Skipped on the first run.
    f.scan("prod-1", &["api"]);
    f.scan("prod-2", &[]);
    let o = f.alerts_once(&rules, &env);
    ok(&o);
    assert!(binary.events().is_empty(), "existing problems are skipped on the first run");

    // A regression in prod-2: two workloads turn privileged with host networking.
    f.scan("prod-2", &["web", "worker"]);
    ok(&f.alerts_once(&rules, &env));
    let ev = binary.events();
    let types: Vec<&str> = ev.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(ev.len(), 2, "one event per rule: {types:?}");
    let changed = ev.iter().find(|e| e["type"] == "dev.tarn.posture.changed.v1").expect("a posture event");
    assert_eq!(changed["mode"], "binary");
    assert_eq!(changed["specversion"], "1.0");
    assert_eq!(changed["subject"], "/acme/prod/prod-2");
    assert!(changed["source"].as_str().unwrap().starts_with("urn:tarn:lake:"));
    assert!(changed["source"].as_str().unwrap().ends_with(":cluster:prod-2"));
    let data = &changed["data"];
    // Grouped: every new failure of the cycle in one event (2 workloads × privileged, hostNamespaces).
    let findings = data["findings"].as_array().unwrap();
    let mut pairs: Vec<String> = findings
        .iter()
        .map(|x| {
            format!(
                "{} {} {}",
                x["workload_name"].as_str().unwrap(),
                x["control_id"].as_str().unwrap(),
                x["change"].as_str().unwrap()
            )
        })
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        [
            "web hostNamespaces degraded",
            "web privileged degraded",
            "worker hostNamespaces degraded",
            "worker privileged degraded"
        ]
    );
    assert_eq!(data["counts"]["degraded"], 4);
    assert_eq!(data["findings_total"], 4);
    assert!(data["snapshot"]["object_sha256"].as_str().unwrap().starts_with("sha256:"));
    assert!(data["snapshot"]["log_entry"].as_str().unwrap().starts_with("log/cluster=prod-2/"));
    assert_eq!(data["previous_snapshot"]["seq"], 1);
    assert!(changed["bytes"].as_u64().unwrap() < 64 * 1024);
    let threshold = ev.iter().find(|e| e["type"] == "dev.tarn.compliance.threshold.v1").expect("a threshold event");
    assert!(threshold["data"]["compliance_percent"].as_f64().unwrap() < 90.0);

    // The same events in structured mode (bearer token and HMAC checked by the receiver), on
    // Slack (the posture rule only) and in the file, with the same ids.
    let st = structured.events();
    assert_eq!(st.len(), 2);
    assert!(st.iter().all(|e| e["mode"] == "structured"));
    let ids = |v: &[Value]| {
        let mut i: Vec<String> = v.iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
        i.sort();
        i
    };
    assert_eq!(ids(&st), ids(&ev));
    let slack_lines = slack.lines();
    assert_eq!(slack_lines.len(), 1, "{slack_lines:?}");
    assert!(slack_lines[0]["slack"]["text"].as_str().unwrap().contains("prod-2: 4 degraded"));
    let filed: Vec<Value> =
        std::fs::read_to_string(&file).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(ids(&filed), ids(&ev));
    for e in &filed {
        tarn_alerts::event::validate(e).unwrap();
    }

    // Steady state: the same posture, and flapping within the de-duplication window, fire nothing.
    for i in 0..8 {
        let bad: &[&str] = if i % 2 == 0 { &["web", "worker"] } else { &["worker"] };
        f.scan("prod-2", bad);
        f.scan("prod-1", &["api"]);
        ok(&f.alerts_once(&rules, &env));
    }
    assert_eq!(binary.events().len(), 2, "no new events in a steady or flapping state");
    assert_eq!(structured.events().len(), 2);

    // Stored and queryable.
    let q = ok(&run(&[
        "evidence",
        "query",
        "--lake",
        &f.lake,
        "--format",
        "csv",
        "select a.rule, d.sink, d.status from alerts a join alert_deliveries d using (event_id) order by 1, 2",
    ]));
    assert_eq!(
        q.trim().replace("\r\n", "\n"),
        "rule,sink,status\npss-regressions,chat,delivered\npss-regressions,hook-binary,delivered\n\
pss-regressions,hook-structured,delivered\npss-regressions,log,delivered\nrestricted-floor,hook-binary,delivered\n\
restricted-floor,hook-structured,delivered\nrestricted-floor,log,delivered"
    );
    let h = ok(&run(&["alerts", "history", "--lake", &f.lake, "--format", "csv", "--rule", "pss-regressions"]));
    assert_eq!(h.lines().count(), 2, "{h}");
    assert!(h.contains("chat:delivered/1 hook-binary:delivered/1 hook-structured:delivered/1 log:delivered/1"), "{h}");
}

fn retrying_rules(f: &Fleet, url: &str, attempts: u32) -> PathBuf {
    f.rules(
        "retry.yaml",
        &format!(
            "\
sinks:
  - name: hook
    type: webhook
    url: {url}
    mode: structured
    retry: {{ attempts: {attempts}, initial_backoff: 20ms, max_backoff: 200ms }}
defaults:
  sinks: [hook]
rules:
  - name: regressions
    condition:
      transition: {{}}
"
        ),
    )
}

#[test]
fn a_receiver_failing_five_times_then_recovering_gets_every_event_exactly_once() {
    if !require_or_skip(python_has_sdk(), "python3 with cloudevents 2.x and jsonschema") {
        return;
    }
    let mut f = Fleet::new();
    let r = receiver(f.path(), "flaky", &["--fail-first", "5"]);
    let rules = retrying_rules(&f, &r.url("/"), 8);
    for c in ["a", "b", "c"] {
        f.scan(c, &[]);
    }
    ok(&f.alerts_once(&rules, &[]));
    for c in ["a", "b", "c"] {
        f.scan(c, &["web"]);
    }
    let o = f.alerts_once(&rules, &[]);
    ok(&o);
    assert!(stderr(&o).contains("3 delivered, 0 dead-lettered"), "{}", stderr(&o));
    assert_eq!(r.rejected(), 5);
    let ev = r.events();
    let mut ids: Vec<&str> = ev.iter().map(|e| e["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((ev.len(), ids.len()), (3, 3), "every event exactly once");
    // Nothing is left to send.
    ok(&f.alerts_once(&rules, &[]));
    assert_eq!(r.events().len(), 3);
}

#[test]
fn a_restart_mid_delivery_loses_nothing_and_dead_letters_can_be_redelivered() {
    if !require_or_skip(python_has_sdk(), "python3 with cloudevents 2.x and jsonschema") {
        return;
    }
    let mut f = Fleet::new();
    let down = receiver(f.path(), "down", &["--fail-first", "100000"]);
    let rules = f.rules(
        "restart.yaml",
        "\
sinks:
  - name: hook
    type: webhook
    url_env: TEST_HOOK_URL
    retry: { attempts: 100, initial_backoff: 20ms, max_backoff: 50ms }
defaults:
  sinks: [hook]
rules:
  - name: regressions
    condition:
      transition: {}
",
    );
    for c in ["a", "b"] {
        f.scan(c, &[]);
    }
    ok(&f.alerts_once(&rules, &[("TEST_HOOK_URL", &down.url("/"))]));
    for c in ["a", "b"] {
        f.scan(c, &["api"]);
    }
    // The daemon keeps retrying against a receiver that is down; kill it hard mid-delivery.
    let mut daemon = tarn()
        .args(["alerts", "run", "--poll", "100ms", "--lake", &f.lake, "--rules"])
        .arg(&rules)
        .env("TEST_HOOK_URL", down.url("/"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while down.rejected() < 5 {
        assert!(Instant::now() < deadline, "the daemon never tried to deliver");
        std::thread::sleep(Duration::from_millis(50));
    }
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    let outbox = Path::new(&f.lake).join("alerts/outbox/sink=hook");
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 2, "both events wait in the outbox");

    // Restarted against a receiver that is up: both events, once each.
    let up = receiver(f.path(), "up", &[]);
    ok(&f.alerts_once(&rules, &[("TEST_HOOK_URL", &up.url("/"))]));
    let ev = up.events();
    assert_eq!(ev.len(), 2);
    assert_ne!(ev[0]["id"], ev[1]["id"]);
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 0);

    // A sink that stays down: the last attempt writes a dead letter; redeliver re-queues it.
    let few = retrying_rules(&f, &down.url("/"), 2);
    f.scan("a", &["api", "web"]);
    let o = f.alerts_once(&few, &[]);
    assert_eq!(o.status.code(), Some(1), "dead letters fail --once: {}", stderr(&o));
    assert!(stderr(&o).contains("1 dead-lettered"), "{}", stderr(&o));
    let h = ok(&run(&["alerts", "history", "--lake", &f.lake, "--format", "csv"]));
    assert!(h.contains("hook:dead/2"), "{h}");
    ok(&run(&["alerts", "redeliver", "--lake", &f.lake, "--sink", "hook"]));
    ok(&f.alerts_once(&rules, &[("TEST_HOOK_URL", &up.url("/"))]));
    assert_eq!(up.events().len(), 3);
    let h = ok(&run(&["alerts", "history", "--lake", &f.lake, "--format", "csv"]));
    assert!(h.contains("hook:delivered/1") && !h.contains("hook:dead"), "{h}");
}

#[test]
fn staleness_fires_once_per_silent_period() {
    let mut f = Fleet::new();
    let file = f.path().join("stale.jsonl");
    let rules = f.rules(
        "stale.yaml",
        &format!(
            "\
sinks:
  - name: log
    type: file
    path: {}
defaults:
  sinks: [log]
rules:
  - name: silent
    condition:
      staleness: {{ interval: 1s, missed: 2 }}
",
            file.display()
        ),
    );
    f.scan("quiet", &[]);
    ok(&f.alerts_once(&rules, &[]));
    std::thread::sleep(Duration::from_millis(2200));
    ok(&f.alerts_once(&rules, &[]));
    ok(&f.alerts_once(&rules, &[]));
    let lines = std::fs::read_to_string(&file).unwrap_or_default();
    assert_eq!(lines.lines().count(), 1, "{lines}");
    let e: Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(e["type"], "dev.tarn.cluster.stale.v1");
    assert_eq!(e["data"]["last_snapshot"]["seq"], 1);
    // A new snapshot ends the silent period; the next silence is a new event.
    f.scan("quiet", &[]);
    ok(&f.alerts_once(&rules, &[]));
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 1);
    std::thread::sleep(Duration::from_millis(2200));
    ok(&f.alerts_once(&rules, &[]));
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 2);
}

#[test]
fn rule_files_are_validated_with_locations() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.yaml");
    std::fs::write(
        &p,
        "sinks:\n  - name: log\n    type: file\n    path: \"-\"\nrules:\n  - name: r\n    condition:\n      threshold: { framework: cis-k8s, below: 120 }\n    sinks: [log]\n",
    )
    .unwrap();
    let o = run(&["alerts", "rules", "validate", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("bad.yaml: line 8 column 40: rules[0].below (r): 120: a percentage, 0 to 100"), "{e}");
    let ex = repo_root().join("fixtures/alerts/rules.example.yaml");
    let o = ok(&run(&["alerts", "rules", "validate", ex.to_str().unwrap()]));
    assert!(o.contains("5 rule(s), 3 sink(s), valid"), "{o}");
    let o = ok(&run(&["alerts", "rules", "list", "--rules", ex.to_str().unwrap(), "--format", "json"]));
    let v: Value = serde_json::from_str(&o).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 5);
}

#[test]
fn alerts_on_an_s3_lake_are_stored_queued_and_delivered_once() {
    let Some((lake, endpoint)) = s3_lake("cli-alerts") else {
        return;
    };
    let mut f = Fleet::on_s3(lake, &endpoint);
    let file = f.path().join("s3-events.jsonl");
    let rules = f.rules(
        "s3.yaml",
        &format!(
            "sinks:\n  - name: log\n    type: file\n    path: {}\ndefaults:\n  sinks: [log]\nrules:\n  - name: r\n    \
condition:\n      transition: {{}}\n",
            file.display()
        ),
    );
    f.scan("s3-c", &[]);
    ok(&f.alerts_once(&rules, &[]));
    f.scan("s3-c", &["web"]);
    ok(&f.alerts_once(&rules, &[]));
    ok(&f.alerts_once(&rules, &[]));
    let lines = std::fs::read_to_string(&file).unwrap();
    assert_eq!(lines.lines().count(), 1, "{lines}");
    let mut args = vec!["alerts", "history", "--lake", f.lake.as_str(), "--format", "csv"];
    args.extend(f.extra.iter().map(String::as_str));
    let h = ok(&run(&args));
    assert!(h.contains("log:delivered/1"), "{h}");
}

#[test]
fn the_daemon_stops_cleanly_on_sigterm_and_keeps_what_is_queued() {
    let mut f = Fleet::new();
    let rules = f.rules(
        "term.yaml",
        "sinks:\n  - name: hook\n    type: webhook\n    url: http://127.0.0.1:9/\n    \
retry: { attempts: 50, initial_backoff: 50ms, max_backoff: 100ms }\ndefaults:\n  sinks: [hook]\n\
rules:\n  - name: r\n    condition:\n      transition: {}\n",
    );
    f.scan("t", &[]);
    ok(&f.alerts_once(&rules, &[]));
    f.scan("t", &["web"]);
    // Nothing listens on port 9: the daemon keeps retrying until it is told to stop.
    let mut daemon = tarn()
        .args(["alerts", "run", "--poll", "100ms", "--lake", &f.lake, "--rules"])
        .arg(&rules)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let outbox = Path::new(&f.lake).join("alerts/outbox/sink=hook");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_dir(&outbox).map(|d| d.count()).unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "the daemon never queued the event");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(Command::new("kill").args(["-TERM", &daemon.id().to_string()]).status().unwrap().success());
    let started = Instant::now();
    let status = daemon.wait().unwrap();
    assert!(status.success(), "exit {status:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut daemon.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("stopping"), "{err}");
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 1, "the event stays queued");
}
