//! Image globs and image references with policy-controller's semantics.
//!
//! A glob matches the whole normalized reference: `*` matches within a path segment (anything
//! but `/`, so also across `:` and `@`), `**` matches anything. References are normalized like
//! go-containerregistry does (`nginx` → `index.docker.io/library/nginx:latest`,
//! `docker.io/x/y@sha256:…` → `index.docker.io/x/y@sha256:…`); when the normalized form does
//! not match, the reference as written is tried too (upstream's deprecated fallback). The globs
//! `*` and `*/*` mean `index.docker.io/library/*` and `index.docker.io/*/*`.

use regex::Regex;

/// Docker Hub's canonical registry host.
pub const DOCKER_HUB: &str = "index.docker.io";

/// A compiled image glob.
#[derive(Debug, Clone)]
pub struct ImageGlob {
    pub pattern: String,
    regex: Regex,
}

impl ImageGlob {
    /// Compiles a glob; the error is what upstream puts after `glob is invalid: `.
    pub fn compile(glob: &str) -> Result<Self, String> {
        check_filepath_syntax(glob)?;
        let expanded = match glob {
            "*/*" => "index.docker.io/*/*",
            "*" => "index.docker.io/library/*",
            g => g,
        };
        let valid =
            !expanded.is_empty() && expanded.chars().all(|c| c.is_ascii_alphanumeric() || "-_:/*.@".contains(c));
        if !valid {
            return Err(format!("invalid glob {expanded:?}"));
        }
        let re = expanded.replace('.', r"\.").replace("**", "#").replace('*', "[^/]*").replace('#', ".*");
        let regex = Regex::new(&format!("^{re}$")).map_err(|e| e.to_string())?;
        Ok(Self { pattern: glob.to_string(), regex })
    }

    /// Whether the glob matches `image` (normalized, else as written). Unparseable references
    /// match nothing.
    pub fn matches(&self, image: &str) -> bool {
        match ImageReference::parse(image) {
            Ok(r) => {
                let name = r.name();
                self.regex.is_match(&name) || (name != image && self.regex.is_match(image))
            }
            Err(_) => false,
        }
    }
}

/// The syntax check of Go's `filepath.Match` (which upstream runs first): `[` classes must be
/// closed and non-empty, ranges complete, and `\` must escape something.
fn check_filepath_syntax(p: &str) -> Result<(), String> {
    const BAD: &str = "syntax error in pattern";
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next().ok_or(BAD)?;
            }
            '[' => {
                if chars.peek() == Some(&'^') {
                    chars.next();
                }
                let mut items = 0;
                loop {
                    let lo = match chars.next() {
                        None => return Err(BAD.into()),
                        Some(']') if items > 0 => break,
                        Some('-' | ']') => return Err(BAD.into()),
                        Some('\\') => chars.next().ok_or(BAD)?,
                        Some(c) => c,
                    };
                    if chars.peek() == Some(&'-') {
                        chars.next();
                        let hi = match chars.next() {
                            None | Some('-' | ']') => return Err(BAD.into()),
                            Some('\\') => chars.next().ok_or(BAD)?,
                            Some(c) => c,
                        };
                        if hi < lo {
                            return Err(BAD.into());
                        }
                    }
                    items += 1;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A parsed image reference (go-containerregistry semantics, weak validation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference {
    /// `index.docker.io`, `ghcr.io`, `localhost:5000`, …
    pub registry: String,
    /// With Docker Hub's implicit `library/` added.
    pub repository: String,
    /// The tag, `latest` when neither tag nor digest is given; `None` for digest references.
    pub tag: Option<String>,
    /// `sha256:<hex>` for digest references.
    pub digest: Option<String>,
}

impl ImageReference {
    pub fn parse(s: &str) -> Result<Self, String> {
        let err = || format!("could not parse reference: {s}");
        if let Some((base, digest)) = s.split_once('@') {
            if digest.contains('@') {
                return Err(err());
            }
            let hex = digest.strip_prefix("sha256:").ok_or_else(err)?;
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                return Err(err());
            }
            // A tag before the digest is dropped.
            let (registry, repository) = match split_tag(base) {
                Some((repo, _)) => parse_repository(repo),
                None => parse_repository(base),
            }
            .ok_or_else(err)?;
            return Ok(Self { registry, repository, tag: None, digest: Some(digest.to_string()) });
        }
        let (base, tag) = split_tag(s).unwrap_or((s, "latest"));
        let (registry, repository) = parse_repository(base).ok_or_else(err)?;
        Ok(Self { registry, repository, tag: Some(tag.to_string()), digest: None })
    }

    /// `registry/repository:tag` or `registry/repository@digest`.
    pub fn name(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => format!("{}/{}@{d}", self.registry, self.repository),
            (None, Some(t)) => format!("{}/{}:{t}", self.registry, self.repository),
            (None, None) => format!("{}/{}", self.registry, self.repository),
        }
    }

    /// `registry/repository`.
    pub fn repository_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

/// Splits `base:tag` when the last `:` is not part of a `host:port` (its suffix has no `/`).
fn split_tag(s: &str) -> Option<(&str, &str)> {
    let (base, tag) = s.rsplit_once(':')?;
    if tag.contains('/') {
        return None;
    }
    let valid =
        !tag.is_empty() && tag.len() <= 128 && tag.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    valid.then_some((base, tag))
}

fn parse_repository(name: &str) -> Option<(String, String)> {
    let (mut registry, repo) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) => (first.to_string(), rest),
        _ => (DOCKER_HUB.to_string(), name),
    };
    let valid_repo = (2..=255).contains(&repo.len())
        && repo.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-./".contains(c));
    let valid_registry = registry.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c));
    if !valid_repo || !valid_registry {
        return None;
    }
    if registry == "docker.io" {
        registry = DOCKER_HUB.to_string();
    }
    let repo = if registry == DOCKER_HUB && !repo.contains('/') { format!("library/{repo}") } else { repo.to_string() };
    Some((registry, repo))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Upstream's own table (pkg/apis/glob/glob_test.go).
    #[test]
    fn upstream_glob_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("foo", "index.docker.io/library/foo:latest", true),
            ("foo", "index.docker.io/library/foo:*", true),
            ("foo", "index.docker.io/library/*", true),
            ("foo", "index.docker.io/library/*:latest", true),
            ("foo", "index.docker.io/*/*", true),
            ("foo", "index.docker.io/**", true),
            ("foo", "index.docker.**", true),
            ("foo", "inde**", true),
            ("foo", "**", true),
            ("foo", "foo", true),
            ("foo", "foo*", true),
            ("foo", "foo**", true),
            ("myuser/myapp", "index.docker.io/myuser/myapp:latest", true),
            ("myuser/myapp", "index.docker.io/myuser/myapp:*", true),
            ("myuser/myapp", "index.docker.io/myuser/*", true),
            ("myuser/myapp", "index.docker.io/myuser/*:latest", true),
            ("myuser/myapp", "index.docker.io/*/*", true),
            ("myuser/myapp", "index.docker.io/**", true),
            ("myuser/myapp", "index.docker.**", true),
            ("myuser/myapp", "inde**", true),
            ("myuser/myapp", "**", true),
            ("myuser/myapp", "myuser/myapp", true),
            ("myuser/myapp", "myuser/myapp*", true),
            ("myuser/myapp", "myuser/myapp**", true),
            ("ghcr.io/foo/bar", "ghcr.io/*/*", true),
            ("ghcr.io/foo/bar", "ghcr.io/**", true),
            ("ghcr.io/foo", "ghcr.io/*/*", false),
            ("ghcr.io/foo", "ghcr.io/**", true),
            ("ghcr.io/foo", "ghc**", true),
            ("ghcr.io/foo", "**", true),
            ("ghcr.io/foo", "*/**", true),
            ("ghcr.io/foo", "ghcr.io/foo*", true),
            ("ghcr.io/foo", "ghcr.io/foo**", true),
            ("prefix-ghcr.io/foo", "ghcr.io/foo", false),
            ("ghcr.io/foo-suffix", "ghcr.io/foo", false),
            ("ghcrxio/foo", "ghcr.io/**", false),
            ("invalid&name", "**", false),
            ("foo", "*", true),
            ("myuser/myapp", "*/*", true),
        ];
        for (image, glob, want) in cases {
            let g = ImageGlob::compile(glob).unwrap();
            assert_eq!(g.matches(image), *want, "{image} ~ {glob}");
        }
        for bad in [".+", "[a-z]*", "["] {
            assert!(ImageGlob::compile(bad).is_err(), "{bad}");
        }
        assert_eq!(ImageGlob::compile("[").unwrap_err(), "syntax error in pattern");
        assert_eq!(ImageGlob::compile("a b").unwrap_err(), "invalid glob \"a b\"");
    }

    #[test]
    fn references_normalize() {
        let d = "sha256:".to_string() + &"ab".repeat(32);
        for (input, name) in [
            ("nginx", "index.docker.io/library/nginx:latest".to_string()),
            ("docker.io/bitnami/redis:7", "index.docker.io/bitnami/redis:7".to_string()),
            ("localhost:5000/app:v1", "localhost:5000/app:v1".to_string()),
            (&format!("ghcr.io/a/b:v1@{d}"), format!("ghcr.io/a/b@{d}")),
            (&format!("busybox@{d}"), format!("index.docker.io/library/busybox@{d}")),
        ] {
            assert_eq!(ImageReference::parse(input).unwrap().name(), name, "{input}");
        }
        for bad in ["", "UPPER/case", "a@sha256:12", "x y"] {
            assert!(ImageReference::parse(bad).is_err(), "{bad}");
        }
        let g = ImageGlob::compile("ghcr.io/a/b@sha256:*").unwrap();
        assert!(g.matches(&format!("ghcr.io/a/b@{d}")));
    }
}
