//! Streaming re-hash of the objects the logs reference.

use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use tarn_trust::StreamingSha256;

use super::{Problem, ProblemKind, VerifyReport};
use crate::store::Lake;

pub(super) struct ObjectCheck {
    pub cluster: Option<String>,
    pub path: Path,
    pub size: u64,
    pub sha256: String,
}

type Hashed = std::result::Result<(u64, String), object_store::Error>;

/// Hashes every object (8 at a time, each streamed, never whole in memory).
pub(super) async fn hash_objects(lake: &Lake, checks: Vec<ObjectCheck>, report: &mut VerifyReport) {
    let store = lake.store().clone();
    let results: Vec<(ObjectCheck, Hashed)> = futures::stream::iter(checks)
        .map(|c| {
            let store = store.clone();
            async move {
                let r = async {
                    let mut stream = store.get(&c.path).await?.into_stream();
                    let mut h = StreamingSha256::new();
                    let mut n = 0u64;
                    while let Some(chunk) = stream.try_next().await? {
                        h.update(&chunk);
                        n += chunk.len() as u64;
                    }
                    Ok((n, format!("sha256:{}", h.finish_hex())))
                }
                .await;
                (c, r)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for (c, r) in results {
        let p = |kind, detail| Problem { kind, cluster: c.cluster.clone(), object: c.path.to_string(), detail };
        match r {
            Ok((size, sha)) => {
                report.objects_hashed += 1;
                report.bytes_hashed += size;
                if sha != c.sha256 || size != c.size {
                    report.problems.push(p(
                        ProblemKind::DigestMismatch,
                        format!("object is {size} bytes {sha}; the signed record says {} bytes {}", c.size, c.sha256),
                    ));
                }
            }
            Err(object_store::Error::NotFound { .. }) => {
                report.problems.push(p(ProblemKind::MissingObject, "committed object is missing (deleted?)".into()));
            }
            Err(e) => report.problems.push(p(ProblemKind::MissingObject, format!("cannot read object: {e}"))),
        }
    }
}
