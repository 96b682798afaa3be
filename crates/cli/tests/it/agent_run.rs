//! `tarn agent run`: continuous evaluation, policy-change triggers, bad input, a storage
//! outage with spooling, and a clean SIGTERM.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use crate::common::*;

struct Agent {
    child: Child,
    events: Receiver<serde_json::Value>,
}

impl Agent {
    fn start(lake: &Path, inventory: &Path, key: &Path, policies: &Path, spool: &Path) -> Self {
        let mut child = tarn()
            .args(["agent", "run", "--cluster", "c1", "--interval", "1h", "--poll", "100ms", "--format", "json"])
            .arg("--lake")
            .arg(lake)
            .arg("--inventory")
            .arg(inventory)
            .arg("--key")
            .arg(key)
            .arg("--policies")
            .arg(policies)
            .arg("--spool")
            .arg(spool)
            .env("COSIGN_PASSWORD", "")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, events) = channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        Self { child, events }
    }

    /// The next event of `kind`, skipping others.
    fn next(&self, kind: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(e) if e["event"] == kind => return e,
                Ok(_) => {}
                Err(_) => panic!("no {kind} event within 60s"),
            }
        }
    }
}

fn touch_policy(policies: &Path, n: u32) {
    std::fs::write(policies.join("note.yaml"), format!("# revision {n}\n")).unwrap();
}

#[test]
fn runs_continuously_survives_bad_input_and_outages_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keypair(dir.path());
    let inventory = dir.path().join("inventory");
    copy_dir(&fixtures().join("quickstart/base/shop"), &inventory);
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    touch_policy(&policies, 0);
    let (lake, spool) = (dir.path().join("lake"), dir.path().join("spool"));
    // A spool entry left unreadable by an earlier run is quarantined, not retried forever.
    std::fs::create_dir_all(&spool).unwrap();
    std::fs::write(spool.join("00000000-0000-7000-8000-000000000000.json"), "{ truncated").unwrap();
    let agent = Agent::start(&lake, &inventory, &key, &policies, &spool);
    let q = agent.next("quarantined");
    assert!(q["entry"].as_str().unwrap().contains("failed"), "{q}");
    assert!(spool.join("failed/00000000-0000-7000-8000-000000000000.reason.txt").exists());

    // Cycle 1 at start.
    let started = agent.next("evaluated");
    assert_eq!(started["trigger"], "start");
    let first = agent.next("committed");
    assert_eq!(first["seq"], 1);

    // A policy change triggers a re-evaluation at once (the interval is an hour).
    touch_policy(&policies, 1);
    assert_eq!(agent.next("evaluated")["trigger"], "policy_change");
    assert_eq!(agent.next("committed")["seq"], 2);

    // A malformed manifest is skipped; the rest is still committed.
    std::fs::write(inventory.join("broken.yaml"), "kind: Pod\nmetadata: {name: x}\nspec: [not, a, map]\n").unwrap();
    touch_policy(&policies, 2);
    let e = agent.next("evaluated");
    assert_eq!(e["skipped_documents"], 1);
    assert_eq!(agent.next("committed")["seq"], 3);

    // Storage outage: objects cannot be written. Two cycles are spooled, not lost.
    let evaluations = lake.join("evaluations");
    std::fs::rename(&evaluations, lake.join("evaluations.moved")).unwrap();
    std::fs::write(&evaluations, "not a directory").unwrap();
    touch_policy(&policies, 3);
    let s1 = agent.next("spooled");
    touch_policy(&policies, 4);
    let s2 = loop {
        let s = agent.next("spooled");
        if s["snapshot_id"] != s1["snapshot_id"] {
            break s;
        }
    };
    assert!(std::fs::read_dir(&spool).unwrap().filter(|e| e.as_ref().unwrap().path().is_file()).count() >= 2);

    // Storage back: both commit from the spool, oldest first, exactly once.
    std::fs::remove_file(&evaluations).unwrap();
    std::fs::rename(lake.join("evaluations.moved"), &evaluations).unwrap();
    let c1 = agent.next("committed");
    let c2 = agent.next("committed");
    assert_eq!(
        (c1["snapshot_id"].clone(), c2["snapshot_id"].clone()),
        (s1["snapshot_id"].clone(), s2["snapshot_id"].clone())
    );
    assert_eq!((c1["seq"].as_u64(), c2["seq"].as_u64()), (Some(4), Some(5)));
    assert_eq!(c1["from_spool"], true);

    // SIGTERM: the agent says so, leaves nothing pending and exits 0.
    let pid = agent.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let stopping = agent.next("stopping");
    assert_eq!(stopping["pending"], 0);
    let mut child = agent.child;
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(std::fs::read_dir(&spool).unwrap().filter(|e| e.as_ref().unwrap().path().is_file()).count(), 0);

    let out = ok(&run(&["evidence", "verify", "--lake", lake.to_str().unwrap(), "--key", public.to_str().unwrap()]));
    assert!(out.contains("VERIFIED: 1 clusters, 5 log entries, 5 objects"), "{out}");
}

#[test]
fn shipped_agent_deployment_passes_pss_restricted() {
    let deploy = fixtures().join("deploy");
    let out = ok(&run(&["eval", "--framework", "pss-restricted", "--format", "jsonl", deploy.to_str().unwrap()]));
    let results: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(results.len(), 1, "{out}");
    assert_eq!(results[0]["name"], "tarn-agent");
    assert_eq!(results[0]["allowed"], true, "{}", results[0]);
    // The agent's role never touches Secrets.
    let rbac = std::fs::read_to_string(deploy.join("rbac.yaml")).unwrap();
    assert!(!rbac.contains("secrets") && !rbac.contains("configmaps"));
}
