//! A read cache for the objects queries open.
//!
//! Every object a query reads is immutable: evaluation objects and compacted objects are created
//! once (conditional create) and named by the catalog with their size and digest. So a session can
//! keep whole objects in memory and serve Parquet's many small range reads (footer, page index,
//! one page per column per row group) from there, without a request or a syscall each. Objects
//! are fetched whole on first use (a HEAD for the size, then one GET instead of many ranged ones),
//! kept up to a byte budget, oldest evicted first; objects larger than an eighth of the budget are
//! never read whole: their reads pass through to the store.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

#[derive(Debug, Default)]
struct State {
    objects: HashMap<Path, (Bytes, ObjectMeta)>,
    /// Objects too large to keep: their reads go to the store as they come.
    too_big: HashSet<Path>,
    order: VecDeque<Path>,
    bytes: u64,
}

/// Wraps a store; reads go through the cache, everything else straight to the store.
#[derive(Debug)]
pub struct ReadCache {
    inner: Arc<dyn ObjectStore>,
    budget: u64,
    state: Mutex<State>,
}

impl std::fmt::Display for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReadCache({})", self.inner)
    }
}

impl ReadCache {
    pub fn new(inner: Arc<dyn ObjectStore>, budget: u64) -> Self {
        Self { inner, budget, state: Mutex::default() }
    }

    fn lookup(&self, location: &Path) -> Option<(Bytes, ObjectMeta)> {
        self.state.lock().expect("cache lock").objects.get(location).cloned()
    }

    fn insert(&self, location: &Path, bytes: Bytes, meta: ObjectMeta) {
        let size = bytes.len() as u64;
        let mut s = self.state.lock().expect("cache lock");
        if s.objects.contains_key(location) {
            return;
        }
        while s.bytes + size > self.budget {
            let Some(old) = s.order.pop_front() else { break };
            if let Some((b, _)) = s.objects.remove(&old) {
                s.bytes -= b.len() as u64;
            }
        }
        s.bytes += size;
        s.order.push_back(location.clone());
        s.objects.insert(location.clone(), (bytes, meta));
    }

    /// The whole object, from the cache or fetched (and cached); `None` for an object too large
    /// to keep, whose reads the caller passes to the store. An object's size is learnt with one
    /// HEAD before it is fetched, so a large object is never read whole.
    async fn whole(&self, location: &Path) -> Result<Option<(Bytes, ObjectMeta)>> {
        if let Some(hit) = self.lookup(location) {
            return Ok(Some(hit));
        }
        if self.state.lock().expect("cache lock").too_big.contains(location) {
            return Ok(None);
        }
        if self.inner.head(location).await?.size > self.budget / 8 {
            self.state.lock().expect("cache lock").too_big.insert(location.clone());
            return Ok(None);
        }
        let r = self.inner.get_opts(location, GetOptions::default()).await?;
        let meta = r.meta.clone();
        let bytes = r.bytes().await?;
        self.insert(location, bytes.clone(), meta.clone());
        Ok(Some((bytes, meta)))
    }

    fn slice(location: &Path, bytes: &Bytes, range: Range<u64>) -> Result<Bytes> {
        let len = bytes.len() as u64;
        if range.start > range.end || range.end > len {
            return Err(object_store::Error::Generic {
                store: "ReadCache",
                source: format!("range {range:?} is outside {location} ({len} bytes)").into(),
            });
        }
        Ok(bytes.slice(range.start as usize..range.end as usize))
    }
}

#[async_trait]
impl ObjectStore for ReadCache {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let conditional = options.if_match.is_some()
            || options.if_none_match.is_some()
            || options.if_modified_since.is_some()
            || options.if_unmodified_since.is_some()
            || options.version.is_some()
            || options.head;
        if conditional {
            return self.inner.get_opts(location, options).await;
        }
        let Some((bytes, meta)) = self.whole(location).await? else {
            return self.inner.get_opts(location, options).await;
        };
        let range = match &options.range {
            Some(r) => r
                .as_range(meta.size)
                .map_err(|e| object_store::Error::Generic { store: "ReadCache", source: Box::new(e) })?,
            None => 0..meta.size,
        };
        let data = Self::slice(location, &bytes, range.clone())?;
        Ok(GetResult {
            payload: GetResultPayload::Stream(futures::stream::once(async move { Ok(data) }).boxed()),
            meta,
            range,
            attributes: Default::default(),
        })
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let Some((bytes, _)) = self.whole(location).await? else {
            return self.inner.get_ranges(location, ranges).await;
        };
        ranges.iter().map(|r| Self::slice(location, &bytes, r.clone())).collect()
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use object_store::memory::InMemory;

    use super::*;

    #[tokio::test]
    async fn serves_ranges_from_one_fetch_and_respects_the_budget() {
        let inner = Arc::new(InMemory::new());
        for (name, len) in [("a", 100usize), ("b", 100), ("big", 1000)] {
            inner.put(&Path::from(name), PutPayload::from(vec![7u8; len])).await.unwrap();
        }
        let cache = ReadCache::new(inner.clone(), 800);
        assert_eq!(cache.get_range(&Path::from("a"), 10..20).await.unwrap().len(), 10);
        assert_eq!(cache.get_ranges(&Path::from("a"), &[0..1, 99..100]).await.unwrap().len(), 2);
        // Cached: still served after the store loses it.
        inner.delete(&Path::from("a")).await.unwrap();
        assert_eq!(cache.get_range(&Path::from("a"), 0..100).await.unwrap().len(), 100);
        // As object_store does: a range past the end returns the remainder; get_ranges is strict.
        assert_eq!(cache.get_range(&Path::from("a"), 50..101).await.unwrap().len(), 50);
        assert!(cache.get_ranges(&Path::from("a"), &[0..1, 50..101]).await.is_err(), "outside the object");
        // Too big for the budget: passes through, never cached.
        assert_eq!(cache.get_range(&Path::from("big"), 0..10).await.unwrap().len(), 10);
        assert!(cache.lookup(&Path::from("big")).is_none());
        assert!(cache.state.lock().unwrap().too_big.contains(&Path::from("big")));
        assert_eq!(cache.get_ranges(&Path::from("big"), &[0..1, 990..1000]).await.unwrap()[1].len(), 10);
        let b = Path::from("b");
        let r = cache.get_opts(&b, GetOptions { range: Some((90..100).into()), ..Default::default() }).await.unwrap();
        assert_eq!((r.range.clone(), r.bytes().await.unwrap().len()), (90..100, 10));
        assert!(cache.state.lock().unwrap().bytes <= 800);
    }
}
