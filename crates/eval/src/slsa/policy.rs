//! What a cluster owner requires of image provenance.

use super::builders::{self, GCB_HOSTED_WORKER};
use super::refs::{BuilderId, verify_versioned_tag};
use tarn_model::glob_match;

/// The SLSA policy images are judged against.
///
/// Builder entries are a builder ID name (any version), `name@vX.Y.Z` /
/// `name@refs/tags/vX.Y.Z` (that release), or a prefix ending in `*`. Repository, branch and
/// tag entries are globs (`*` matches any run of characters) or exact strings; repositories are
/// written `github.com/owner/repo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlsaPolicy {
    /// Builder IDs whose provenance is accepted (`builder-trusted`).
    pub trusted_builders: Vec<String>,
    /// Signing identities that isolate provenance generation from the build: signing as one
    /// of these (verified) grades L3.
    pub l3_builders: Vec<String>,
    /// Source repositories images may be built from; empty allows any.
    pub source_repositories: Vec<String>,
    /// Branches builds may run on; with `tags`, either may match; both empty allow any ref.
    pub branches: Vec<String>,
    pub tags: Vec<String>,
    /// A semver prefix the build's tag must satisfy (`v1`, `v1.4`).
    pub versioned_tag: Option<String>,
    /// The lowest acceptable build level (`build-level` fails below it).
    pub min_level: u8,
}

impl Default for SlsaPolicy {
    /// slsa-github-generator's workflows (including its BYOB builders) and Cloud Build are
    /// trusted; any source and ref; L3 required.
    fn default() -> Self {
        Self {
            trusted_builders: vec![format!("{}*", builders::BYOB_BUILDER_PREFIX), GCB_HOSTED_WORKER.to_string()],
            l3_builders: builders::L3_BUILDERS.iter().map(|b| b.to_string()).collect(),
            source_repositories: Vec::new(),
            branches: Vec::new(),
            tags: Vec::new(),
            versioned_tag: None,
            min_level: 3,
        }
    }
}

/// `builder_id` (`name@version` or `name`) is one of `entries`.
pub(crate) fn builder_listed(entries: &[String], builder_id: &str) -> bool {
    let Ok(id) = BuilderId::parse(builder_id, false) else { return false };
    entries.iter().any(|e| if e.contains('*') { glob_match(e, &id.name) } else { id.matches_loose(e, true).is_ok() })
}

impl SlsaPolicy {
    /// Why the source repository and ref are not allowed, or `None`.
    pub fn source_problem(&self, repository: &str, git_ref: &str) -> Option<String> {
        if !self.source_repositories.is_empty() && !self.source_repositories.iter().any(|p| glob_match(p, repository)) {
            return Some(format!("source {repository} is not an allowed repository"));
        }
        let (branch, tag) = match super::refs::parse_git_ref(git_ref) {
            ("heads", b) => (Some(b), None),
            ("tags", t) => (None, Some(t)),
            _ => (None, None),
        };
        if !self.branches.is_empty() || !self.tags.is_empty() {
            let ok = branch.is_some_and(|b| self.branches.iter().any(|p| glob_match(p, b)))
                || tag.is_some_and(|t| self.tags.iter().any(|p| glob_match(p, t)));
            if !ok {
                let r = if git_ref.is_empty() { "an unknown ref" } else { git_ref };
                return Some(format!("built from {r}, which no allowed branch or tag matches"));
            }
        }
        if let Some(v) = &self.versioned_tag {
            match tag {
                None => return Some(format!("built from {git_ref:?}, not a tag matching {v}")),
                Some(t) => {
                    if let Err(e) = verify_versioned_tag(t, v) {
                        return Some(format!("tag {t} does not satisfy {v}: {}", e.detail));
                    }
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for (p, s, want) in [
            ("github.com/org/*", "github.com/org/repo", true),
            ("github.com/org/*", "github.com/other/repo", false),
            ("*", "", true),
            ("a*b*c", "abc", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "acb", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
        ] {
            assert_eq!(glob_match(p, s), want, "{p} {s}");
        }
    }

    #[test]
    fn builder_entries() {
        let e = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let g = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml";
        assert!(builder_listed(&e(&[g]), &format!("{g}@refs/tags/v2.1.0")));
        assert!(builder_listed(&e(&[&format!("{g}@v2.1.0")]), &format!("{g}@refs/tags/v2.1.0")));
        assert!(!builder_listed(&e(&[&format!("{g}@v2.0.0")]), &format!("{g}@refs/tags/v2.1.0")));
        assert!(builder_listed(&SlsaPolicy::default().trusted_builders, &format!("{g}@refs/tags/v2.1.0")));
        assert!(!builder_listed(
            &SlsaPolicy::default().trusted_builders,
            "https://github.com/evil/x.yml@refs/tags/v1.0.0"
        ));
    }

    #[test]
    fn refs() {
        let p = SlsaPolicy { branches: vec!["main".into()], tags: vec!["v*".into()], ..Default::default() };
        assert_eq!(p.source_problem("github.com/o/r", "refs/heads/main"), None);
        assert_eq!(p.source_problem("github.com/o/r", "refs/tags/v1.2.3"), None);
        assert!(p.source_problem("github.com/o/r", "refs/heads/dev").is_some());
        let p = SlsaPolicy { versioned_tag: Some("v1".into()), ..Default::default() };
        assert_eq!(p.source_problem("github.com/o/r", "refs/tags/v1.4.0"), None);
        assert!(p.source_problem("github.com/o/r", "refs/tags/v2.0.0").is_some());
        assert!(p.source_problem("github.com/o/r", "refs/heads/main").is_some());
        let p = SlsaPolicy { source_repositories: vec!["github.com/o/*".into()], ..Default::default() };
        assert!(p.source_problem("github.com/x/r", "").is_some());
    }
}
