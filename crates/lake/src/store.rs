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
    pub created_by: String,
}

impl Lake {
    /// Opens the lake at `location`: a path or `file://` URL (created if missing),
    /// `memory://` (process-local, for tests), `s3://bucket/prefix`, `gs://bucket/prefix`,
    /// or `az://container/prefix`. Cloud credentials come from the usual environment
    /// (`AWS_*`, `GOOGLE_*`, `AZURE_*`).
    pub fn open(location: &str, opts: &StoreOptions) -> Result<Self> {
        let invalid = |reason: String| LakeError::InvalidUrl { url: location.to_string(), reason };
        if location.trim().is_empty() {
            return Err(invalid("empty location".into()));
        }
        let Some((scheme, rest)) = location.split_once("://") else {
            return Self::open_local(location);
        };
        match scheme {
            "file" => Self::open_local(rest),
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

    fn open_local(dir: &str) -> Result<Self> {
        let invalid = |reason: String| LakeError::InvalidUrl { url: dir.to_string(), reason };
        // Creating the root directory is set-up, not lake data: everything inside goes through
        // the object store.
        std::fs::create_dir_all(dir).map_err(|e| invalid(format!("cannot create directory: {e}")))?;
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
                let d: LakeDescriptor = serde_json::from_slice(&bytes).map_err(|e| LakeError::CorruptEntry {
                    path: paths::LAKE_DESCRIPTOR.into(),
                    reason: e.to_string(),
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

    /// Makes sure the descriptor exists and is readable by this build (writers call this).
    pub async fn ensure_descriptor(&self) -> Result<LakeDescriptor> {
        if let Some(d) = self.descriptor().await? {
            return Ok(d);
        }
        let d = LakeDescriptor {
            format: "tarn-lake".into(),
            format_version: LAKE_FORMAT_VERSION,
            created_by: format!("tarn {}", tarn_model::TARN_VERSION),
        };
        let body = serde_json::to_vec_pretty(&d).expect("serializable");
        match self.store.put_opts(&paths::lake_descriptor(), PutPayload::from(body), PutMode::Create.into()).await {
            Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(self.descriptor().await?.unwrap_or(d))
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
    async fn refuses_newer_format() {
        let lake = Lake::open("memory://", &StoreOptions::default()).unwrap();
        let body = br#"{"format":"tarn-lake","format_version":99,"created_by":"future"}"#.to_vec();
        lake.store().put(&paths::lake_descriptor(), PutPayload::from(body)).await.unwrap();
        assert!(matches!(lake.descriptor().await, Err(LakeError::UnsupportedFormat { found: 99, .. })));
    }
}
