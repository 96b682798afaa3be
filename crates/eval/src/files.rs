//! Walking the files users point Tarn at (manifests, policies).

use std::path::{Path, PathBuf};

/// `p` itself if it is a file, else every `*.yaml`, `*.yml` and `*.json` below it (hidden
/// entries skipped), in sorted order, as `(display name, path)`. An unreadable path is returned
/// with its error.
pub(crate) fn collect_manifest_files(p: &Path) -> Result<Vec<(String, PathBuf)>, (PathBuf, std::io::Error)> {
    let mut out = Vec::new();
    walk(p, &mut out)?;
    Ok(out)
}

fn walk(p: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), (PathBuf, std::io::Error)> {
    let err = |e| (p.to_path_buf(), e);
    if std::fs::metadata(p).map_err(err)?.is_file() {
        out.push((p.display().to_string(), p.to_path_buf()));
        return Ok(());
    }
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(p).map_err(err)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>().map_err(err)?;
    entries.sort();
    for e in entries {
        let name = e.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if e.is_dir() {
            walk(&e, out)?;
        } else if [".yaml", ".yml", ".json"].iter().any(|ext| name.ends_with(ext)) {
            out.push((e.display().to_string(), e));
        }
    }
    Ok(())
}
