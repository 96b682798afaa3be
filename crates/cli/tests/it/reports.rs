//! `tarn reports`: per-framework reports on the golden lakes against hand-checked totals, the
//! PDF checked by real tools (qpdf, pdftotext, pdftoppm), CSV stability, reports as signed
//! evidence, and schedules that catch up without duplicates.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// qpdf and poppler-utils must be present when `TARN_REQUIRE_PDF_TOOLS=1` (CI); elsewhere a
/// missing tool skips the PDF checks with a note.
fn pdf_tools() -> bool {
    let have = ["qpdf", "pdftotext", "pdftoppm"].iter().all(|t| Command::new(t).arg("-v").output().is_ok());
    if !have {
        assert!(
            std::env::var("TARN_REQUIRE_PDF_TOOLS").is_err(),
            "qpdf/pdftotext/pdftoppm are required (apt-get install qpdf poppler-utils)"
        );
        eprintln!("note: qpdf/poppler-utils not installed; PDF checks skipped");
    }
    have
}

struct Case {
    lake: &'static str,
    framework: &'static str,
    from: &'static str,
    to: &'static str,
    /// Hand-checked (see fixtures/golden/*/README.md and the comments below).
    compliance_pct: &'static str,
    compliance_pct_start: &'static str,
    controls_total: u64,
    controls_failing: u64,
    findings: u64,
    failing_resources: u64,
}

const GOLDEN: &str = "lake-v1";
const ALL: &str = "reports-lake/lake";

const CASES: &[Case] = &[
    // 16 workloads at the end (alpha 10, beta 6 with netdebug). Failing resources per baseline
    // control: hostPathVolumes 2 (fluent-bit, kube-proxy), hostPorts 1 (ingress), privileged 2
    // and hostNamespaces 2 (kube-proxy, netdebug): (3 × 87.5 + 93.75 + 8 × 100) / 12 = 96.35.
    // Start (2026-01-05T12:00, 15 workloads, no netdebug): (86.67 + 3 × 93.33 + 800) / 12 = 97.22.
    Case {
        lake: GOLDEN,
        framework: "pss-baseline",
        from: "2026-01-05T12:00:00Z",
        to: "2026-01-07T00:00:00Z",
        compliance_pct: "96.35",
        compliance_pct_start: "97.22",
        controls_total: 12,
        controls_failing: 4,
        findings: 7,
        // alpha: fluent-bit, ingress, kube-proxy; beta: netdebug.
        failing_resources: 4,
    },
    // Restricted rows at the end: alpha 20 (shop 6, fluent-bit 5, ingress 1, coredns 1,
    // kube-proxy 7), beta 12 (shop 6, netdebug 6) = 32 findings in 9 workloads (alpha: frontend,
    // redis, fluent-bit, ingress, coredns, kube-proxy; beta: frontend, redis, netdebug). Failing
    // resources per control: allowPrivilegeEscalation 5, capabilities 7, runAsNonRoot 6, seccomp
    // 7, restrictedVolumes 2, privileged 2, hostNamespaces 2, hostPorts 1, of 16: the control
    // percentages sum to 1300 over 15 controls = 86.67.
    Case {
        lake: GOLDEN,
        framework: "pss-restricted",
        from: "2026-01-05T12:00:00Z",
        to: "2026-01-07T00:00:00Z",
        compliance_pct: "86.67",
        compliance_pct_start: "88.44",
        controls_total: 15,
        controls_failing: 8,
        findings: 32,
        failing_resources: 9,
    },
    // gamma day 2, 5 workloads: provenance-exists and build-level pass only for cart (20 %),
    // builder-trusted fails for cart, the only one judged (0 %), the other three pass for cart
    // and skip elsewhere (100 %): (20 + 20 + 0 + 300) / 6 = 56.67; 11 failing rows in 5 workloads.
    Case {
        lake: ALL,
        framework: "slsa",
        from: "2026-02-01T12:00:00Z",
        to: "2026-02-03T00:00:00Z",
        compliance_pct: "56.67",
        compliance_pct_start: "65.00",
        controls_total: 6,
        controls_failing: 3,
        findings: 11,
        failing_resources: 5,
    },
    // pinned-images: redis runs redis:7.4 by tag, the other 4 workloads are pinned: 80 %.
    Case {
        lake: ALL,
        framework: "custom",
        from: "2026-02-01T12:00:00Z",
        to: "2026-02-03T00:00:00Z",
        compliance_pct: "80.00",
        compliance_pct_start: "80.00",
        controls_total: 1,
        controls_failing: 1,
        findings: 1,
        failing_resources: 1,
    },
    // CIS 1.12 section 5 on gamma day 2: 37 failing rows in 9 controls (5.1.6, 5.2.6-5.2.9,
    // 5.3.2, 5.5.1, 5.6.2, 5.6.3; see fixtures/golden/reports-lake/README.md), 34 controls listed
    // (the 1.12 catalog); failing resources: the 5 workloads and namespace shop (5.3.2, no
    // NetworkPolicy).
    Case {
        lake: ALL,
        framework: "cis-k8s",
        from: "2026-02-01T12:00:00Z",
        to: "2026-02-03T00:00:00Z",
        compliance_pct: "63.33",
        compliance_pct_start: "68.89",
        controls_total: 34,
        controls_failing: 9,
        findings: 37,
        failing_resources: 6,
    },
];

fn golden_key() -> (PathBuf, PathBuf) {
    let g = fixtures().join("golden");
    (g.join("golden.key"), g.join("golden.pub"))
}

fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    // RFC 4180: CRLF record ends.
    assert!(text.ends_with("\r\n"), "{}", path.display());
    let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| headers.iter().zip(rec.unwrap().iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect())
        .collect()
}

fn generate(lake: &Path, framework: &str, from: &str, to: &str, format: &str, out: &Path, commit: bool) -> String {
    let (key, public) = golden_key();
    let mut args: Vec<String> = [
        "reports",
        "generate",
        "--lake",
        lake.to_str().unwrap(),
        "--framework",
        framework,
        "--from",
        from,
        "--to",
        to,
        "--format",
        format,
        "--out",
        out.to_str().unwrap(),
        "--verify-key",
        public.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if commit {
        args.extend(["--key".into(), key.to_str().unwrap().to_string()]);
    } else {
        args.push("--no-lake".into());
    }
    ok(&tarn().args(&args).env("COSIGN_PASSWORD", "").output().unwrap())
}

/// The number after `label` on its `pdftotext -layout` line.
fn pdf_value(text: &str, label: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(label) && l.trim_start()[label.len()..].starts_with("  "))
        .unwrap_or_else(|| panic!("no {label:?} line in the PDF text"));
    line.trim_start()[label.len()..].split_whitespace().next().unwrap().to_string()
}

#[test]
fn every_framework_report_has_the_hand_checked_totals_in_csv_and_pdf() {
    let tools = pdf_tools();
    let dir = tempfile::tempdir().unwrap();
    let golden = dir.path().join("golden");
    let all = dir.path().join("all");
    copy_dir(&fixtures().join("golden").join(GOLDEN), &golden);
    copy_dir(&fixtures().join("golden").join(ALL), &all);
    let mut committed = 0;
    for c in CASES {
        let lake = if c.lake == GOLDEN { &golden } else { &all };
        let csv_dir = dir.path().join(format!("{}-csv", c.framework));
        let out = generate(lake, c.framework, c.from, c.to, "csv", &csv_dir, true);
        assert!(out.contains("committed report"), "{out}");
        committed += 1;
        let summary = read_csv(&csv_dir.join("summary.csv"));
        assert_eq!(summary.len(), 1);
        let s = &summary[0];
        let want = [
            ("compliance_pct", c.compliance_pct.to_string()),
            ("compliance_pct_start", c.compliance_pct_start.to_string()),
            ("controls_total", c.controls_total.to_string()),
            ("controls_failing", c.controls_failing.to_string()),
            ("findings", c.findings.to_string()),
            ("failing_resources", c.failing_resources.to_string()),
            ("snapshots_verified", s["snapshots_used"].clone()),
        ];
        for (k, v) in want {
            assert_eq!(s[k], v, "{} {k}", c.framework);
        }
        // Sections agree with the summary.
        let controls = read_csv(&csv_dir.join("controls.csv"));
        let findings = read_csv(&csv_dir.join("findings.csv"));
        assert_eq!(controls.len() as u64, c.controls_total, "{}", c.framework);
        assert_eq!(findings.len() as u64, c.findings, "{}", c.framework);
        assert_eq!(controls.iter().filter(|r| r["status"] == "fail").count() as u64, c.controls_failing);
        // The framework % is the mean of the scored controls' percentages.
        let scored: Vec<f64> = controls.iter().filter_map(|r| r["compliance_pct"].parse::<f64>().ok()).collect();
        let mean = scored.iter().sum::<f64>() / scored.len() as f64;
        assert!((mean - s["compliance_pct"].parse::<f64>().unwrap()).abs() < 0.011, "{} mean {mean}", c.framework);
        // Every finding names a snapshot listed (and verified) in the evidence section.
        let evidence = read_csv(&csv_dir.join("evidence.csv"));
        for f in &findings {
            let e =
                evidence.iter().find(|e| e["snapshot_id"] == f["snapshot_id"]).expect("finding's snapshot in evidence");
            assert_eq!(e["object_sha256"], f["object_sha256"]);
            assert_eq!(e["signature"], "verified");
            assert!(e["role"].contains("end"));
            assert!(f["first_seen_failing"] <= f["observed_at"], "{f:?}");
        }
        // Identical input, byte-identical CSV.
        let again = dir.path().join(format!("{}-csv-again", c.framework));
        generate(lake, c.framework, c.from, c.to, "csv", &again, false);
        for (name, _) in tarn_reports::csv::SECTIONS {
            assert_eq!(std::fs::read(csv_dir.join(name)).unwrap(), std::fs::read(again.join(name)).unwrap(), "{name}");
        }

        let pdf = dir.path().join(format!("{}.pdf", c.framework));
        generate(lake, c.framework, c.from, c.to, "pdf", &pdf, true);
        committed += 1;
        assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));
        if !tools {
            continue;
        }
        let q = Command::new("qpdf").arg("--check").arg(&pdf).output().unwrap();
        assert!(q.status.success(), "qpdf --check {}: {}", pdf.display(), String::from_utf8_lossy(&q.stdout));
        let t = Command::new("pdftotext").args(["-layout"]).arg(&pdf).arg("-").output().unwrap();
        assert!(t.status.success());
        let text = String::from_utf8_lossy(&t.stdout);
        assert_eq!(pdf_value(&text, "Compliance %"), s["compliance_pct"], "{}", c.framework);
        for (label, col) in [
            ("Controls total", "controls_total"),
            ("Controls failing", "controls_failing"),
            ("Controls passing", "controls_passing"),
            ("Resources evaluated", "resources_evaluated"),
            ("Findings", "findings"),
            ("Snapshots verified", "snapshots_verified"),
        ] {
            assert_eq!(pdf_value(&text, label), s[col], "{} {label}", c.framework);
        }
        assert!(text.contains("Page 1 of"), "page numbers");
        assert!(text.contains("Contents"), "table of contents");
        // Page 1 rendered: not blank.
        let png = dir.path().join(format!("{}-p1", c.framework));
        let r = Command::new("pdftoppm")
            .args(["-f", "1", "-l", "1", "-r", "30", "-gray", "-singlefile"])
            .arg(&pdf)
            .arg(&png)
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let img = std::fs::read(png.with_extension("pgm")).unwrap();
        let dark = pgm_pixels(&img).iter().filter(|&&p| p < 160).count();
        assert!(dark > 500, "page 1 of {} looks blank ({dark} dark pixels)", c.framework);
        let fonts = Command::new("pdffonts").arg(&pdf).output().unwrap();
        let fonts = String::from_utf8_lossy(&fonts.stdout);
        assert!(fonts.contains("DejaVuSans") && !fonts.lines().skip(2).any(|l| l.contains(" no ")), "{fonts}");
    }

    // Reports are evidence: verification covers them, and a changed report file is caught.
    let (_, public) = golden_key();
    for lake in [&golden, &all] {
        let out =
            ok(&run(&["evidence", "verify", "--lake", lake.to_str().unwrap(), "--key", public.to_str().unwrap()]));
        assert!(out.contains("signed reports checked"), "{out}");
    }
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&run(&["reports", "list", "--lake", all.to_str().unwrap(), "--format", "json"])))
            .unwrap();
    assert_eq!(listed.as_array().unwrap().len() as u64 + 4, committed); // 2 PSS cases × 2 in the other lake
    let file = listed[0]["report"]["files"][0]["path"].as_str().unwrap().to_string();
    let path = all.join(&file);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.push(b'\n');
    std::fs::write(&path, bytes).unwrap();
    let o = run(&[
        "evidence",
        "verify",
        "--lake",
        all.to_str().unwrap(),
        "--key",
        public.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["kind"] == "digest_mismatch" && p["object"] == file.as_str()),
        "{v}"
    );
}

/// Pixels of a binary PGM (P5, 8-bit).
fn pgm_pixels(img: &[u8]) -> &[u8] {
    assert!(img.starts_with(b"P5"));
    // Header: magic, width, height, maxval, each followed by whitespace.
    let mut fields = 0;
    let mut i = 2;
    while fields < 3 {
        while img[i].is_ascii_whitespace() {
            i += 1;
        }
        while !img[i].is_ascii_whitespace() {
            i += 1;
        }
        fields += 1;
    }
    &img[i + 1..]
}

#[test]
fn report_log_rollback_is_caught_by_a_witness_and_stray_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    copy_dir(&fixtures().join("golden").join(GOLDEN), &lake);
    let (_, public) = golden_key();
    let (lake_s, pub_s) = (lake.to_str().unwrap(), public.to_str().unwrap());
    for _ in 0..2 {
        generate(&lake, "pss-baseline", "2026-01-05", "2026-01-07", "csv", &dir.path().join("c"), true);
    }
    let witness = dir.path().join("witness.json");
    let w = witness.to_str().unwrap();
    ok(&run(&["evidence", "verify", "--lake", lake_s, "--key", pub_s, "--witness", w, "--init-witness"]));
    let seen: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&witness).unwrap()).unwrap();
    assert_eq!(seen["reports"]["seq"], 2, "{seen}");
    // Remove the newest report entry: the chain alone cannot tell, the witness can.
    std::fs::remove_file(lake.join("reports/log/00000000000000000002.json")).unwrap();
    let o = run(&["evidence", "verify", "--lake", lake_s, "--key", pub_s, "--witness", w, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let kinds: Vec<&str> = v["problems"].as_array().unwrap().iter().map(|p| p["kind"].as_str().unwrap()).collect();
    // The rolled-back entry, and its files that nothing commits any more.
    assert!(kinds.contains(&"rolled_back"), "{v}");
    assert!(kinds.contains(&"unreferenced") || !v["in_flight"].as_array().unwrap().is_empty(), "{v}");
}

#[test]
fn bad_report_requests_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    copy_dir(&fixtures().join("golden").join(GOLDEN), &lake);
    let lake_s = lake.to_str().unwrap();
    let base = ["reports", "generate", "--lake", lake_s, "--no-lake", "--out"];
    let out = dir.path().join("r.pdf");
    let out_s = out.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--framework", "pss-baseline", "--from", "2026-01-07", "--to", "2026-01-05"], "the range is empty"),
        (
            &["--framework", "nist-800-53", "--from", "2026-01-05", "--to", "2026-01-07"],
            "framework \"nist-800-53\" has no evaluations",
        ),
        (&["--framework", "pss-baseline", "--from", "yesterday-ish", "--to", "2026-01-07"], "--from"),
        (
            &["--framework", "pss-baseline", "--group", "Bad Group", "--from", "2026-01-05", "--to", "2026-01-07"],
            "--group",
        ),
    ];
    for (extra, msg) in cases {
        let mut args: Vec<&str> = base.to_vec();
        args.push(out_s);
        args.extend_from_slice(extra);
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(msg), "{extra:?}: {}", stderr(&o));
    }
    // Committing needs a key.
    let o = run(&[
        "reports",
        "generate",
        "--lake",
        lake_s,
        "--framework",
        "pss-baseline",
        "--from",
        "2026-01-05",
        "--out",
        out_s,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--key"), "{}", stderr(&o));
    // CSV into a file that exists.
    std::fs::write(&out, b"x").unwrap();
    let o = run(&[
        "reports",
        "generate",
        "--lake",
        lake_s,
        "--no-lake",
        "--framework",
        "pss-baseline",
        "--from",
        "2026-01-05",
        "--format",
        "csv",
        "--out",
        out_s,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("into a directory"), "{}", stderr(&o));
    assert!(!lake.join("reports").exists(), "a failed request wrote to the lake");

    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "jobs:\n  - name: weekly\n    cron: \"0 6 * * MON\"\n    framework: cis-k8s\n    range: last fortnight\n",
    )
    .unwrap();
    let o = run(&["reports", "schedule", "validate", "--schedule", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("jobs[0] (weekly): ") && stderr(&o).contains("last fortnight"), "{}", stderr(&o));
    std::fs::write(&bad, "jobs:\n  - name: weekly\n    cron: \"0 6 * * MON\"\n    frameworks: cis-k8s\n").unwrap();
    let o = run(&["reports", "schedule", "validate", "--schedule", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("line 4") && stderr(&o).contains("frameworks"), "{}", stderr(&o));
}

#[test]
fn schedules_catch_up_after_downtime_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    copy_dir(&fixtures().join("golden").join(GOLDEN), &lake);
    let (key, public) = golden_key();
    let schedule = dir.path().join("schedule.yaml");
    let out_dir = dir.path().join("out");
    std::fs::write(
        &schedule,
        format!(
            "timezone: Europe/Berlin\njobs:\n  - name: hourly-pss\n    cron: \"0 * * * *\"\n    framework: pss-baseline\n    \
scope: group:/golden\n    range: last 1h\n    formats: [pdf, csv]\n    output: {}/{{job}}/{{date}}\n  \
- name: monthly-cis\n    cron: \"0 6 1 * *\"\n    timezone: America/New_York\n    framework: cis-k8s\n    range: previous month\n    formats: [csv]\n",
            out_dir.display()
        ),
    )
    .unwrap();
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "reports",
            "schedule",
            "run",
            "--once",
            "--lake",
            lake.to_str().unwrap(),
            "--schedule",
            schedule.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--verify-key",
            public.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let out = ok(&run(&["reports", "schedule", "validate", "--schedule", schedule.to_str().unwrap()]));
    assert!(out.contains("hourly-pss: 0 * * * * Europe/Berlin") && out.contains("2 job(s), valid"), "{out}");

    // The scheduler was registered 3.5 hours ago and has been down since: three hourly runs
    // are due (the monthly one is not, unless the month turned, then it is one more).
    let registered = chrono::Utc::now() - chrono::Duration::minutes(210);
    for job in ["hourly-pss", "monthly-cis"] {
        let p = lake.join(format!("_tarn/schedules/{job}"));
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(
            p.join("registered.json"),
            serde_json::to_vec(&serde_json::json!({"job": job, "registered_at": registered})).unwrap(),
        )
        .unwrap();
    }
    let o = tarn().args(args(&[])).env("COSIGN_PASSWORD", "").output().unwrap();
    let first = ok(&o);
    let hourly: Vec<&str> = first.lines().filter(|l| l.starts_with("hourly-pss due ")).collect();
    assert!((3..=4).contains(&hourly.len()), "{first}");
    assert!(hourly.iter().all(|l| l.contains("committed as reports/log/")), "{first}");
    // Running again right away: nothing new, nothing twice.
    let second = ok(&tarn().args(args(&[])).env("COSIGN_PASSWORD", "").output().unwrap());
    assert!(!second.contains("hourly-pss due "), "{second}");

    let history: Vec<serde_json::Value> = serde_json::from_str(&ok(&run(&[
        "reports",
        "schedule",
        "history",
        "--lake",
        lake.to_str().unwrap(),
        "--schedule",
        schedule.to_str().unwrap(),
        "--format",
        "json",
    ])))
    .unwrap();
    let runs: Vec<&serde_json::Value> = history.iter().filter(|r| r["job"] == "hourly-pss").collect();
    assert_eq!(runs.len(), hourly.len());
    let mut dues: Vec<&str> = runs.iter().map(|r| r["due"].as_str().unwrap()).collect();
    dues.dedup();
    assert_eq!(dues.len(), runs.len(), "a due time ran twice");
    for r in &runs {
        assert_eq!(r["status"], "ok", "{r}");
        // `last 1h` ends at the due time.
        assert_eq!(r["to"], r["due"]);
    }
    // Each run is a committed report naming its job; files were copied to the output dir.
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&run(&["reports", "list", "--lake", lake.to_str().unwrap(), "--format", "json"])))
            .unwrap();
    let by_job = listed.as_array().unwrap().iter().filter(|e| e["report"]["job"] == "hourly-pss").count();
    assert_eq!(by_job, runs.len());
    let copied = walk(&out_dir);
    assert!(copied.iter().any(|p| p.ends_with("hourly-pss.pdf")), "{copied:?}");
    assert!(copied.iter().any(|p| p.ends_with("csv/findings.csv")), "{copied:?}");

    // Catch-up is bounded: with more missed runs than --max-catch-up, the oldest are skipped.
    let p = lake.join("_tarn/schedules/hourly-pss");
    std::fs::remove_dir_all(p.join("runs")).unwrap();
    let o = tarn().args(args(&["--max-catch-up", "1"])).env("COSIGN_PASSWORD", "").output().unwrap();
    let out = ok(&o);
    assert_eq!(out.lines().filter(|l| l.starts_with("hourly-pss due ")).count(), 1, "{out}");
    assert!(stderr(&o).contains("older than --max-catch-up 1 and were skipped"), "{}", stderr(&o));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().unwrap().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

#[test]
fn a_report_computed_on_ballista_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    copy_dir(&fixtures().join("golden").join(ALL), &lake);
    let mut outs = Vec::new();
    for engine in ["embedded", "ballista-standalone"] {
        let out = dir.path().join(engine);
        ok(&run(&[
            "reports",
            "generate",
            "--lake",
            lake.to_str().unwrap(),
            "--framework",
            "cis-k8s",
            "--from",
            "2026-02-01T12:00:00Z",
            "--to",
            "2026-02-03",
            "--format",
            "csv",
            "--out",
            out.to_str().unwrap(),
            "--no-lake",
            "--engine",
            engine,
        ]));
        outs.push(out);
    }
    for (name, _) in tarn_reports::csv::SECTIONS {
        assert_eq!(std::fs::read(outs[0].join(name)).unwrap(), std::fs::read(outs[1].join(name)).unwrap(), "{name}");
    }
}

#[test]
fn reports_on_an_s3_lake_are_committed_and_verified() {
    let Some((lake, endpoint)) = s3_lake("cli-reports") else {
        return;
    };
    let s3 = ["--s3-endpoint", endpoint.as_str(), "--allow-http"];
    let (key, public) = golden_key();
    let shop = fixtures().join("quickstart/base/shop");
    for at in ["2026-01-05T06:00:00Z", "2026-01-06T06:00:00Z"] {
        let o = tarn()
            .args(["agent", "scan", "--lake", &lake, "--cluster", "delta", "--group", "/s3", "--inventory"])
            .arg(&shop)
            .args(["--key", key.to_str().unwrap(), "--at", at, "--framework", "pss-restricted"])
            .args(s3)
            .env("COSIGN_PASSWORD", "")
            .output()
            .unwrap();
        ok(&o);
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("csv");
    let o = tarn()
        .args([
            "reports",
            "generate",
            "--lake",
            &lake,
            "--framework",
            "pss-restricted",
            "--from",
            "2026-01-05T12:00:00Z",
        ])
        .args(["--to", "2026-01-07", "--format", "csv", "--out", out.to_str().unwrap()])
        .args(["--key", key.to_str().unwrap(), "--verify-key", public.to_str().unwrap()])
        .args(s3)
        .env("COSIGN_PASSWORD", "")
        .output()
        .unwrap();
    assert!(ok(&o).contains("committed report"), "{}", stdout(&o));
    let summary = read_csv(&out.join("summary.csv"));
    // quickstart shop: frontend (capabilities, seccomp) and redis (4) fail restricted.
    assert_eq!(summary[0]["findings"], "6");
    // Both scans are used (the posture at the range's start and end), both verified.
    assert_eq!(summary[0]["snapshots_verified"], "2");
    let mut args = vec!["evidence", "verify", "--lake", &lake, "--key", public.to_str().unwrap()];
    args.extend(s3);
    let v = ok(&run(&args));
    assert!(v.contains("VERIFIED") && v.contains("1 signed reports checked"), "{v}");
}
