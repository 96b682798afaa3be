//! Builder IDs, git refs and versions, with slsa-verifier's exact matching rules:
//! Go's `golang.org/x/mod/semver` (`v1` and `v1.2` are valid shorthands), `name@version`
//! builder IDs, and versioned-tag (semver prefix) matching.

use std::fmt;

use super::error::{ErrorKind, VerifyError, err};

/// A builder ID split into its name and optional version (`name@refs/tags/v1.2.3`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuilderId {
    pub name: String,
    pub version: String,
}

impl BuilderId {
    /// Parses `name` or `name@version`; a version is required when `need_version`.
    pub fn parse(id: &str, need_version: bool) -> Result<Self, VerifyError> {
        let parts: Vec<&str> = id.split('@').collect();
        match parts.as_slice() {
            [name, version] if !version.is_empty() => Ok(Self { name: name.to_string(), version: version.to_string() }),
            [name] if !need_version => Ok(Self { name: name.to_string(), version: String::new() }),
            _ => err(ErrorKind::InvalidFormat, format!("builderID: {id:?}")),
        }
    }

    /// `expected` names this builder; when it carries a version, the version matches too
    /// (`allow_ref`: `v1.2.3` matches this builder's `refs/tags/v1.2.3`).
    pub fn matches_loose(&self, expected: &str, allow_ref: bool) -> Result<(), VerifyError> {
        let e = Self::parse(expected, false)?;
        if e.name != self.name {
            return err(
                ErrorKind::MismatchBuilderId,
                format!("builder {:?} is not the expected {:?}", self.name, e.name),
            );
        }
        if !e.version.is_empty()
            && e.version != self.version
            && !(allow_ref && format!("refs/tags/{}", e.version) == self.version)
        {
            return err(
                ErrorKind::MismatchBuilderId,
                format!("builder version {:?} is not the expected {:?}", self.version, e.version),
            );
        }
        Ok(())
    }

    /// Name and version both match (`allow_ref` as for [`Self::matches_loose`]).
    pub fn matches_full(&self, expected: &str, allow_ref: bool) -> Result<(), VerifyError> {
        let e = Self::parse(expected, false)?;
        if e.name != self.name {
            return err(
                ErrorKind::MismatchBuilderId,
                format!("builder {:?} is not the expected {:?}", self.name, e.name),
            );
        }
        if e.version != self.version && !(allow_ref && format!("refs/tags/{}", e.version) == self.version) {
            return err(
                ErrorKind::MismatchBuilderId,
                format!("builder version {:?} is not the expected {:?}", self.version, e.version),
            );
        }
        Ok(())
    }
}

impl fmt::Display for BuilderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.version.is_empty() { f.write_str(&self.name) } else { write!(f, "{}@{}", self.name, self.version) }
    }
}

/// Splits `refs/<type>/<name>`; anything else has an empty type.
pub fn parse_git_ref(r: &str) -> (&str, &str) {
    let mut parts = r.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("refs"), Some(typ), Some(name)) => (typ, name),
        _ => ("", r),
    }
}

fn ref_name<'a>(ref_type: &str, r: &'a str) -> Result<&'a str, VerifyError> {
    let (typ, name) = parse_git_ref(r);
    if r.is_empty() {
        let what = if ref_type == "tags" { "tag" } else { "branch" };
        return err(ErrorKind::InvalidRef, format!("the build did not run on a {what}"));
    }
    if typ != ref_type {
        return err(ErrorKind::InvalidRef, format!("{r:?}: unexpected ref type {typ:?}"));
    }
    if name.is_empty() {
        return err(ErrorKind::InvalidRef, format!("{r:?}: empty ref name"));
    }
    Ok(name)
}

/// The tag name of `refs/tags/<tag>`.
pub fn tag_from_ref(r: &str) -> Result<&str, VerifyError> {
    ref_name("tags", r)
}

/// The branch name of `refs/heads/<branch>`.
pub fn branch_from_ref(r: &str) -> Result<&str, VerifyError> {
    ref_name("heads", r)
}

/// `github.com/o/r` → `git+https://github.com/o/r`.
pub fn normalize_git_uri(s: &str) -> String {
    if s.starts_with("git+") {
        s.to_string()
    } else if s.contains("://") {
        format!("git+{s}")
    } else {
        format!("git+https://{s}")
    }
}

/// Splits `git+<uri>@<ref>` into URI and ref (empty when absent).
pub fn parse_git_uri_and_ref(uri: &str) -> Result<(&str, &str), VerifyError> {
    if uri.is_empty() {
        return err(ErrorKind::MalformedUri, "empty uri");
    }
    if !uri.starts_with("git+") {
        return err(ErrorKind::MalformedUri, format!("not a git URI: {uri:?}"));
    }
    Ok(uri.split_once('@').unwrap_or((uri, "")))
}

/// A version as Go's `golang.org/x/mod/semver` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoSemver {
    pub major: String,
    pub minor: String,
    pub patch: String,
    /// With its leading `-`, or empty.
    pub prerelease: String,
    /// With its leading `+`, or empty.
    pub build: String,
}

fn is_num(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

fn idents_ok(s: &str, numeric_rule: bool) -> bool {
    !s.is_empty()
        && s.split('.').all(|id| {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && (!numeric_rule || !id.bytes().all(|b| b.is_ascii_digit()) || is_num(id))
        })
}

impl GoSemver {
    /// `vMAJOR[.MINOR[.PATCH[-PRERELEASE][+BUILD]]]`; shorthands have no prerelease or build.
    pub fn parse(v: &str) -> Option<Self> {
        let rest = v.strip_prefix('v')?;
        let (core, build) = match rest.split_once('+') {
            Some((c, b)) => (c, Some(b)),
            None => (rest, None),
        };
        let (core, pre) = match core.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (core, None),
        };
        let nums: Vec<&str> = core.split('.').collect();
        if nums.is_empty() || nums.len() > 3 || !nums.iter().all(|n| is_num(n)) {
            return None;
        }
        if nums.len() < 3 && (pre.is_some() || build.is_some()) {
            return None;
        }
        if pre.is_some_and(|p| !idents_ok(p, true)) || build.is_some_and(|b| !idents_ok(b, false)) {
            return None;
        }
        Some(Self {
            major: nums[0].to_string(),
            minor: nums.get(1).unwrap_or(&"0").to_string(),
            patch: nums.get(2).unwrap_or(&"0").to_string(),
            prerelease: pre.map(|p| format!("-{p}")).unwrap_or_default(),
            build: build.map(|b| format!("+{b}")).unwrap_or_default(),
        })
    }

    /// `vMAJOR.MINOR.PATCH[-PRERELEASE]` (build metadata dropped).
    pub fn canonical(&self) -> String {
        format!("v{}.{}.{}{}", self.major, self.minor, self.patch, self.prerelease)
    }
}

/// A release tag a builder may be referenced at: `refs/tags/vX.Y.Z`. In testing mode a
/// prerelease is allowed (`vX.Y.Z-rc.1`), build metadata never.
pub fn is_valid_builder_tag(r: &str, testing: bool) -> Result<(), VerifyError> {
    let pin = tag_from_ref(r)?;
    let v = GoSemver::parse(pin);
    let ok = match &v {
        Some(v) if testing => v.build.is_empty() && pin.split('-').next().unwrap_or("").split('.').count() == 3,
        Some(v) => v.build.is_empty() && v.prerelease.is_empty() && pin.split('.').count() == 3,
        None => false,
    };
    if ok { Ok(()) } else { err(ErrorKind::InvalidRef, format!("{pin}: not of the form vX.Y.Z")) }
}

fn version_part(v: &str, i: usize) -> Option<&str> {
    v.split('.').nth(i)
}

/// The provenance tag satisfies `expected`, a semver prefix: `v1` matches any `v1.x.y`,
/// `v1.2` any `v1.2.y`, `v1.2.3` only itself (build metadata ignored).
pub fn verify_versioned_tag(provenance_tag: &str, expected: &str) -> Result<(), VerifyError> {
    if GoSemver::parse(expected).is_none() {
        return err(ErrorKind::InvalidSemver, expected.to_string());
    }
    let Some(sem) = GoSemver::parse(provenance_tag).map(|v| v.canonical()) else {
        return err(ErrorKind::InvalidSemver, provenance_tag.to_string());
    };
    let mismatch = |what: &str, e: &str, g: &str| {
        err(ErrorKind::MismatchVersionedTag, format!("{what} version expected {e:?}, got {g:?}"))
    };
    let major = |v: &str| v.split('.').next().unwrap_or("").split(['-', '+']).next().unwrap_or("").to_string();
    let (em, gm) = (major(expected), major(&sem));
    if em != gm {
        return mismatch("major", &em, &gm);
    }
    if let Some(e) = version_part(expected, 1) {
        let g = version_part(&sem, 1).unwrap_or("");
        if e != g {
            return mismatch("minor", e, g);
        }
    }
    if let Some(e) = version_part(expected, 2) {
        let build = GoSemver::parse(expected).map(|v| v.build).unwrap_or_default();
        let e = e.strip_suffix(build.as_str()).unwrap_or(e);
        let g = version_part(&sem, 2).unwrap_or("");
        if e != g {
            return mismatch("patch", e, g);
        }
    }
    Ok(())
}
