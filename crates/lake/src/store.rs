//! Opening a lake from a URL. All lake I/O goes through the `ObjectStore` built here.

use std::sync::Arc;

use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload};
use serde::{Deserialize, Serialize};
use tarn_model::LAKE_FORMAT_VERSION;

use crate::error::{LakeError, Result};
use crate::paths;

/// Connection options that are not part of the URL.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// S3 endpoint override (MinIO, moto, Ceph, R2 …). `AWS_ENDPOINT_URL` works too.
    pub s3_endpoint: Option<String>,
    /// Permit plain-HTTP endpoints (loopback test servers).
    pub allow_http: bool,
}

/// An opened lake: an object store rooted at the lake's location.
#[derive(Debug, Clone)]
pub struct Lake {
    store: Arc<dyn ObjectStore>,
    url: String,
}

/// The lake descriptor at `_tarn/lake.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LakeDescriptor {
    pub format: String,
    pub format_version: u32,
    /// Random id of this lake; signed into every log entry so entries cannot be replayed
    /// from another lake or a backup of another lake.
    pub lake_id: String,
    pub created_by: String,
}

impl Lake {
    /// Opens the lake at `location`: a path or `file://` URL (created if missing),
    /// `memory://` (process-local, for tests), `s3://bucket/prefix`, `gs://bucket/prefix`,
    /// or `az://container/prefix`. Cloud credentials come from the usual environment
    /// (`AWS_*`, `GOOGLE_*`, `AZURE_*`).
    pub fn open(location: &str, opts: &StoreOptions) -> Result<Self> {
        Self::open_with(location, opts, true)
    }

    /// Opens an existing lake for reading: a local directory must exist, and the lake must
    /// have its descriptor (checked by [`Self::require_descriptor`]).
    pub async fn open_existing(location: &str, opts: &StoreOptions) -> Result<Self> {
        let lake = Self::open_with(location, opts, false)?;
        lake.require_descriptor().await?;
        Ok(lake)
    }

    fn open_with(location: &str, opts: &StoreOptions, create: bool) -> Result<Self> {
        let invalid = |reason: String| LakeError::InvalidUrl { url: location.to_string(), reason };
        if location.trim().is_empty() {
            return Err(invalid("empty location".into()));
        }
        let Some((scheme, rest)) = location.split_once("://") else {
            return Self::open_local(location, create);
        };
        match scheme {
            "file" => Self::open_local(rest, create),
            "memory" => Ok(Self::from_store(Arc::new(InMemory::new()), location)),
            "s3" | "s3a" | "gs" | "az" | "azure" => {
                let url = url::Url::parse(location).map_err(|e| invalid(e.to_string()))?;
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(invalid("missing bucket".into()));
                }
                let root: Arc<dyn ObjectStore> = match scheme {
                    "s3" | "s3a" => {
                        let mut b = AmazonS3Builder::from_env()
                            .with_url(location)
                            .with_conditional_put(S3ConditionalPut::ETagMatch);
                        if let Some(ep) = &opts.s3_endpoint {
                            b = b.with_endpoint(ep).with_allow_http(opts.allow_http || ep.starts_with("http://"));
                        } else if opts.allow_http {
                            b = b.with_allow_http(true);
                        }
                        Arc::new(b.build().map_err(|e| invalid(e.to_string()))?)
                    }
                    "gs" => Arc::new(
                        GoogleCloudStorageBuilder::from_env()
                            .with_url(location)
                            .build()
                            .map_err(|e| invalid(e.to_string()))?,
                    ),
                    _ => Arc::new(
                        MicrosoftAzureBuilder::from_env()
                            .with_url(location)
                            .build()
                            .map_err(|e| invalid(e.to_string()))?,
                    ),
                };
                let prefix = url.path().trim_matches('/');
                let store: Arc<dyn ObjectStore> =
                    if prefix.is_empty() { root } else { Arc::new(PrefixStore::new(root, Path::from(prefix))) };
                Ok(Self::from_store(store, location))
            }
            other => Err(invalid(format!(
                "unsupported scheme {other:?} (use a path, file://, memory://, s3://, gs:// or az://)"
            ))),
        }
    }

    fn open_local(dir: &str, create: bool) -> Result<Self> {
        let invalid = |reason: String| LakeError::InvalidUrl { url: dir.to_string(), reason };
        // Creating the root directory is set-up, not lake data: everything inside goes through
        // the object store.
        if create {
            std::fs::create_dir_all(dir).map_err(|e| invalid(format!("cannot create directory: {e}")))?;
        } else if !std::path::Path::new(dir).is_dir() {
            return Err(LakeError::NotALake { url: dir.to_string(), reason: "no such directory".into() });
        }
        let abs = std::fs::canonicalize(dir).map_err(|e| invalid(e.to_string()))?;
        let fs = LocalFileSystem::new_with_prefix(&abs).map_err(|e| invalid(e.to_string()))?;
        Ok(Self::from_store(Arc::new(fs), &format!("file://{}", abs.display())))
    }

    /// Wraps an existing store (tests, decorators).
    pub fn from_store(store: Arc<dyn ObjectStore>, url: &str) -> Self {
        Self { store, url: url.to_string() }
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Display form of the location (absolute `file://` for local lakes).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Reads the lake descriptor, or `None` for a lake nothing was written to yet.
    pub async fn descriptor(&self) -> Result<Option<LakeDescriptor>> {
        match self.store.get(&paths::lake_descriptor()).await {
            Ok(r) => {
                let bytes = r.bytes().await?;
                let d: LakeDescriptor = serde_json::from_slice(&bytes).map_err(|e| LakeError::NotALake {
                    url: self.url.clone(),
                    reason: format!("unreadable {}: {e}", paths::LAKE_DESCRIPTOR),
                })?;
                if d.format_version > LAKE_FORMAT_VERSION {
                    return Err(LakeError::UnsupportedFormat {
                        url: self.url.clone(),
                        found: d.format_version,
                        supported: LAKE_FORMAT_VERSION,
                    });
                }
                Ok(Some(d))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The descriptor, or an error saying this is not a Tarn lake (readers call this).
    pub async fn require_descriptor(&self) -> Result<LakeDescriptor> {
        self.descriptor().await?.ok_or_else(|| LakeError::NotALake {
            url: self.url.clone(),
            reason: format!("no {}", paths::LAKE_DESCRIPTOR),
        })
    }

    /// Makes sure the descriptor exists and is readable by this build, and that the store
    /// honours conditional creates, on which every commit relies (writers call this).
    pub async fn ensure_descriptor(&self) -> Result<LakeDescriptor> {
        let path = paths::lake_descriptor();
        if self.descriptor().await?.is_none() {
            let d = LakeDescriptor {
                format: "tarn-lake".into(),
                format_version: LAKE_FORMAT_VERSION,
                lake_id: uuid::Uuid::now_v7().to_string(),
                created_by: format!("tarn {}", tarn_model::TARN_VERSION),
            };
            let body = serde_json::to_vec_pretty(&d).expect("serializable");
            match self.store.put_opts(&path, PutPayload::from(body), PutMode::Create.into()).await {
                Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // Probe: creating the existing descriptor again must fail. A store that silently
        // overwrites (some S3 clones ignore If-None-Match) would let two writers fork a log.
        let current = self.store.get(&path).await?.bytes().await?;
        match self.store.put_opts(&path, PutPayload::from(current), PutMode::Create.into()).await {
            Err(object_store::Error::AlreadyExists { .. }) => {}
            Ok(_) => return Err(LakeError::NoConditionalCreate { url: self.url.clone() }),
            Err(e) => return Err(e.into()),
        }
        self.require_descriptor().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_locations() {
        for bad in ["", "ftp://x/y", "s3://", "gs:///p"] {
            assert!(Lake::open(bad, &StoreOptions::default()).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn descriptor_is_created_once() {
        let lake = Lake::open("memory://", &StoreOptions::default()).unwrap();
        assert!(lake.descriptor().await.unwrap().is_none());
        let a = lake.ensure_descriptor().await.unwrap();
        let b = lake.ensure_descriptor().await.unwrap();
        assert_eq!(a, b);
        assert_eq!(a.format_version, LAKE_FORMAT_VERSION);
    }

    #[tokio::test]
    async fn readers_refuse_a_missing_lake() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("typo");
        let e = Lake::open_existing(missing.to_str().unwrap(), &StoreOptions::default()).await.unwrap_err();
        assert!(matches!(e, LakeError::NotALake { .. }), "{e}");
        assert!(!missing.exists(), "reading must not create the directory");
        let e = Lake::open_existing(dir.path().to_str().unwrap(), &StoreOptions::default()).await.unwrap_err();
        assert!(e.to_string().contains("_tarn/lake.json"), "{e}");
    }

    /// A store that ignores conditional creates, like s3rver.
    #[derive(Debug)]
    struct Overwriting(InMemory);

    impl std::fmt::Display for Overwriting {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "Overwriting")
        }
    }

    #[async_trait::async_trait]
    impl ObjectStore for Overwriting {
        async fn put_opts(
            &self,
            location: &Path,
            payload: PutPayload,
            mut opts: object_store::PutOptions,
        ) -> object_store::Result<object_store::PutResult> {
            opts.mode = PutMode::Overwrite;
            self.0.put_opts(location, payload, opts).await
        }
        async fn put_multipart_opts(
            &self,
            location: &Path,
            opts: object_store::PutMultipartOptions,
        ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
            self.0.put_multipart_opts(location, opts).await
        }
        async fn get_opts(
            &self,
            location: &Path,
            options: object_store::GetOptions,
        ) -> object_store::Result<object_store::GetResult> {
            self.0.get_opts(location, options).await
        }
        fn delete_stream(
            &self,
            locations: futures::stream::BoxStream<'static, object_store::Result<Path>>,
        ) -> futures::stream::BoxStream<'static, object_store::Result<Path>> {
            self.0.delete_stream(locations)
        }
        fn list(
            &self,
            prefix: Option<&Path>,
        ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>> {
            self.0.list(prefix)
        }
        async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<object_store::ListResult> {
            self.0.list_with_delimiter(prefix).await
        }
        async fn copy_opts(
            &self,
            from: &Path,
            to: &Path,
            options: object_store::CopyOptions,
        ) -> object_store::Result<()> {
            self.0.copy_opts(from, to, options).await
        }
    }

    #[tokio::test]
    async fn writers_refuse_a_store_without_conditional_create() {
        let lake = Lake::from_store(Arc::new(Overwriting(InMemory::new())), "overwriting://");
        let e = lake.ensure_descriptor().await.unwrap_err();
        assert!(matches!(e, LakeError::NoConditionalCreate { .. }), "{e}");
    }

    #[tokio::test]
    async fn refuses_newer_format() {
        let lake = Lake::open("memory://", &StoreOptions::default()).unwrap();
        let body = br#"{"format":"tarn-lake","format_version":99,"lake_id":"x","created_by":"future"}"#.to_vec();
        lake.store().put(&paths::lake_descriptor(), PutPayload::from(body)).await.unwrap();
        assert!(matches!(lake.descriptor().await, Err(LakeError::UnsupportedFormat { found: 99, .. })));
    }
}
