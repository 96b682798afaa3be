use tarn_lake::{Lake, StoreOptions};

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Memory,
    Local,
    S3,
}

/// A lake for one test, plus whatever keeps it alive.
pub struct TestLake {
    pub lake: Lake,
    _dir: Option<tempfile::TempDir>,
}

impl Backend {
    /// Opens a fresh, empty lake; `None` when the backend is not configured (S3 only).
    pub fn open(self) -> Option<TestLake> {
        match self {
            Backend::Memory => {
                Some(TestLake { lake: Lake::open("memory://", &StoreOptions::default()).unwrap(), _dir: None })
            }
            Backend::Local => {
                let dir = tempfile::tempdir().unwrap();
                let lake = Lake::open(dir.path().join("lake").to_str().unwrap(), &StoreOptions::default()).unwrap();
                Some(TestLake { lake, _dir: Some(dir) })
            }
            Backend::S3 => {
                let (Ok(endpoint), Ok(bucket)) =
                    (std::env::var("TARN_TEST_S3_ENDPOINT"), std::env::var("TARN_TEST_S3_BUCKET"))
                else {
                    assert!(
                        std::env::var("TARN_REQUIRE_S3").is_err(),
                        "TARN_REQUIRE_S3 is set but TARN_TEST_S3_ENDPOINT/TARN_TEST_S3_BUCKET are not"
                    );
                    eprintln!("SKIPPED: S3 backend not configured (set TARN_TEST_S3_ENDPOINT and TARN_TEST_S3_BUCKET)");
                    return None;
                };
                let prefix = uuid::Uuid::new_v4();
                let url = format!("s3://{bucket}/tests/{prefix}");
                let opts = StoreOptions { s3_endpoint: Some(endpoint), allow_http: true };
                Some(TestLake { lake: Lake::open(&url, &opts).unwrap(), _dir: None })
            }
        }
    }
}
