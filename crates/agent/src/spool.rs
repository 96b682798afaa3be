//! A local, durable queue of prepared snapshots that are not committed yet.
//!
//! A snapshot is written here before the lake is touched, and removed only after its commit is
//! acknowledged, so neither a storage outage nor a crash loses it; re-committing is idempotent
//! (see `SnapshotWriter::write_prepared`), so nothing is committed twice.

use std::path::{Path, PathBuf};

use tarn_lake::PreparedSnapshot;

use crate::AgentError;

#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, AgentError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)
            .map_err(|source| AgentError::Spool { path: dir.display().to_string(), source })?;
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, p: &PreparedSnapshot) -> PathBuf {
        // Snapshot ids are UUIDv7: file names sort in preparation order.
        self.dir.join(format!("{}.json", p.snapshot_id))
    }

    /// Stores `p` durably (write to a temporary file, fsync, rename).
    pub fn push(&self, p: &PreparedSnapshot) -> Result<(), AgentError> {
        let path = self.path_of(p);
        let tmp = path.with_extension("json.tmp");
        let err = |source| AgentError::Spool { path: path.display().to_string(), source };
        let body = serde_json::to_vec(p).expect("prepared snapshots serialise");
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(err)?;
            f.write_all(&body).map_err(err)?;
            f.sync_all().map_err(err)?;
        }
        std::fs::rename(&tmp, &path).map_err(err)
    }

    /// Pending snapshots, oldest first. Unreadable entries are returned as errors and left in
    /// place for a human to look at.
    pub fn pending(&self) -> Result<Vec<Result<PreparedSnapshot, AgentError>>, AgentError> {
        let err = |source| AgentError::Spool { path: self.dir.display().to_string(), source };
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map_err(err)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        Ok(files
            .into_iter()
            .map(|p| {
                let bytes =
                    std::fs::read(&p).map_err(|source| AgentError::Spool { path: p.display().to_string(), source })?;
                serde_json::from_slice(&bytes)
                    .map_err(|e| AgentError::SpoolEntry { path: p.display().to_string(), reason: e.to_string() })
            })
            .collect())
    }

    /// Forgets a committed snapshot.
    pub fn remove(&self, p: &PreparedSnapshot) -> Result<(), AgentError> {
        let path = self.path_of(p);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(AgentError::Spool { path: path.display().to_string(), source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use tarn_lake::SnapshotInput;
    use tarn_model::{AgentInfo, SnapshotId};

    use super::*;

    fn prepared(minute: u32) -> PreparedSnapshot {
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, minute, 0).unwrap();
        PreparedSnapshot {
            snapshot_id: SnapshotId::new_at(t),
            ingested_at: t,
            input: SnapshotInput {
                cluster: "c".parse().unwrap(),
                group_path: "/".parse().unwrap(),
                observed_at: t,
                evaluated_at: t,
                agent: AgentInfo { id: "a".into(), version: "0".into() },
                policy_digest: "sha256:00".into(),
                inventory_digest: "sha256:00".into(),
                frameworks: vec![],
            },
            rows: vec![],
        }
    }

    #[test]
    fn push_pending_remove_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path().join("spool")).unwrap();
        let (a, b) = (prepared(2), prepared(1));
        spool.push(&a).unwrap();
        spool.push(&b).unwrap();
        let pending: Vec<_> = spool.pending().unwrap().into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(pending, [b.clone(), a.clone()]);
        spool.remove(&b).unwrap();
        spool.remove(&b).unwrap();
        assert_eq!(spool.pending().unwrap().len(), 1);
        std::fs::write(dir.path().join("spool/garbage.json"), "{").unwrap();
        assert!(spool.pending().unwrap().iter().any(|r| r.is_err()));
    }
}
