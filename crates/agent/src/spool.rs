//! A local, durable queue of prepared snapshots that are not committed yet.
//!
//! A snapshot is written here before the lake is touched, and removed only after its commit is
//! acknowledged, so neither a storage outage nor a crash loses it; re-committing is idempotent
//! (see `SnapshotWriter::write_prepared`), so nothing is committed twice. Entries are read one
//! at a time, so a long outage costs disk, not memory. Entries that can never be committed
//! (unreadable, or rejected by the lake as invalid) move to `failed/` with the reason, where a
//! human can look at them; they do not block the ones behind them.

use std::path::{Path, PathBuf};

use tarn_lake::PreparedSnapshot;

use crate::AgentError;

#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    /// Opens (creating) the spool and removes temporaries a crash left behind.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, AgentError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)
            .map_err(|source| AgentError::Spool { path: dir.display().to_string(), source })?;
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if e.path().extension().is_some_and(|x| x == "tmp") {
                let _ = std::fs::remove_file(e.path());
            }
        }
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, p: &PreparedSnapshot) -> PathBuf {
        // Snapshot ids are UUIDv7: file names sort in preparation order.
        self.dir.join(format!("{}.json", p.snapshot_id))
    }

    /// Stores `p` durably (write a temporary file, fsync, rename, fsync the directory).
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
        std::fs::rename(&tmp, &path).map_err(err)?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Paths of pending snapshots, oldest first (not loaded).
    pub fn pending_paths(&self) -> Result<Vec<PathBuf>, AgentError> {
        let err = |source| AgentError::Spool { path: self.dir.display().to_string(), source };
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map_err(err)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        Ok(files)
    }

    /// How many snapshots wait.
    pub fn len(&self) -> usize {
        self.pending_paths().map(|p| p.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Loads one pending snapshot.
    pub fn load(path: &Path) -> Result<PreparedSnapshot, AgentError> {
        let bytes =
            std::fs::read(path).map_err(|source| AgentError::Spool { path: path.display().to_string(), source })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| AgentError::SpoolEntry { path: path.display().to_string(), reason: e.to_string() })
    }

    /// Pending snapshots, oldest first, all loaded (tests and small spools).
    pub fn pending(&self) -> Result<Vec<Result<PreparedSnapshot, AgentError>>, AgentError> {
        Ok(self.pending_paths()?.iter().map(|p| Self::load(p)).collect())
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

    /// Moves an entry that can never be committed to `failed/`, with the reason beside it.
    pub fn quarantine(&self, path: &Path, reason: &str) -> Result<PathBuf, AgentError> {
        let failed = self.dir.join("failed");
        let err = |source| AgentError::Spool { path: failed.display().to_string(), source };
        std::fs::create_dir_all(&failed).map_err(err)?;
        let target = failed.join(path.file_name().unwrap_or_default());
        std::fs::rename(path, &target).map_err(err)?;
        std::fs::write(target.with_extension("reason.txt"), format!("{reason}\n")).map_err(err)?;
        Ok(target)
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
    fn push_pending_remove_in_order_and_quarantine() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("spool")).unwrap();
        std::fs::write(dir.path().join("spool/left-by-a-crash.json.tmp"), "{").unwrap();
        let spool = Spool::open(dir.path().join("spool")).unwrap();
        assert!(!dir.path().join("spool/left-by-a-crash.json.tmp").exists());
        let (a, b) = (prepared(2), prepared(1));
        spool.push(&a).unwrap();
        spool.push(&b).unwrap();
        let pending: Vec<_> = spool.pending().unwrap().into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(pending, [b.clone(), a.clone()]);
        spool.remove(&b).unwrap();
        spool.remove(&b).unwrap();
        assert_eq!(spool.len(), 1);
        std::fs::write(dir.path().join("spool/garbage.json"), "{").unwrap();
        let paths = spool.pending_paths().unwrap();
        let bad = paths.iter().find(|p| Spool::load(p).is_err()).unwrap().clone();
        let moved = spool.quarantine(&bad, "unreadable").unwrap();
        assert!(moved.exists() && !bad.exists());
        assert_eq!(spool.len(), 1, "failed/ is not pending");
    }
}
