use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

pub fn fixtures() -> PathBuf {
    repo_root().join("fixtures")
}

/// `tarn` with a clean environment (no TARN_* leaking in from the caller).
pub fn tarn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tarn"));
    for (k, _) in std::env::vars() {
        if k.starts_with("TARN_") || k == "COSIGN_PASSWORD" {
            c.env_remove(k);
        }
    }
    c
}

pub fn run(args: &[&str]) -> Output {
    tarn().args(args).output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
pub fn ok(o: &Output) -> String {
    assert!(o.status.success(), "exit {:?}\nstdout:\n{}\nstderr:\n{}", o.status.code(), stdout(o), stderr(o));
    stdout(o)
}

/// A throwaway key pair (weak scrypt parameters, empty password) in `dir`.
pub fn keypair(dir: &Path) -> (PathBuf, PathBuf) {
    let prefix = dir.join("test");
    let o = tarn()
        .args(["keys", "generate", "--scrypt-log-n", "4", "--output-prefix"])
        .arg(&prefix)
        .env("COSIGN_PASSWORD", "")
        .output()
        .unwrap();
    ok(&o);
    (prefix.with_extension("key"), prefix.with_extension("pub"))
}

/// A quickstart lake built once per test binary; tests copy it before changing it.
pub fn quickstart_lake() -> &'static Path {
    static LAKE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &LAKE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let lake = dir.path().join("lake");
            ok(&tarn().args(["quickstart", "--lake"]).arg(&lake).output().unwrap());
            (dir, lake)
        })
        .1
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

pub fn demo_pub() -> PathBuf {
    fixtures().join("quickstart/demo-key/DEMO-ONLY-DO-NOT-USE.pub")
}

/// A scalar from `tarn evidence query --format csv`.
pub fn query_scalar(lake: &str, sql: &str) -> String {
    let out = ok(&run(&["evidence", "query", "--lake", lake, "--format", "csv", sql]));
    out.lines().nth(1).unwrap_or_default().to_string()
}

/// An external tool is required in CI (`TARN_REQUIRE_INTEROP=1`) and optional elsewhere.
pub fn require_or_skip(available: bool, what: &str) -> bool {
    if available {
        return true;
    }
    assert!(std::env::var("TARN_REQUIRE_INTEROP").is_err(), "TARN_REQUIRE_INTEROP is set but {what} is missing");
    eprintln!("SKIPPED: {what} is not available");
    false
}

/// A fresh S3 lake URL under `prefix` and the `--s3-endpoint` to reach it, when the tests have
/// an S3 API (`TARN_TEST_S3_ENDPOINT`, `TARN_TEST_S3_BUCKET`); `None` skips, unless
/// `TARN_REQUIRE_S3` makes a missing S3 a failure.
pub fn s3_lake(prefix: &str) -> Option<(String, String)> {
    let (Ok(endpoint), Ok(bucket)) = (std::env::var("TARN_TEST_S3_ENDPOINT"), std::env::var("TARN_TEST_S3_BUCKET"))
    else {
        assert!(std::env::var("TARN_REQUIRE_S3").is_err(), "TARN_REQUIRE_S3 is set but no S3 endpoint is configured");
        eprintln!("SKIPPED: S3 not configured");
        return None;
    };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    Some((format!("s3://{bucket}/{prefix}/{nanos}"), endpoint))
}
