//! Validation diagnostics in the shape the upstream admission webhook reports them.
//!
//! policy-controller validates with knative's `apis.FieldError`: every diagnostic is a message
//! plus the field paths it concerns, optionally with details on the next line. Paths grow as the
//! error travels up the object (`data` → `key.data` → `authorities[0].key.data` →
//! `spec.authorities[0].key.data`). When printed, diagnostics with the same level, message and
//! details are merged (their paths joined with `, ` in sorted order), the merged list is sorted
//! by message then details, and the lines are joined with `\n`. Reproducing that exactly is what
//! lets the upstream `# ERROR:` expectations match verbatim.

use std::fmt;

/// Severity of a diagnostic: errors reject a policy, warnings only annotate it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Error,
    Warning,
}

/// One diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub message: String,
    pub paths: Vec<String>,
    /// Longer explanation printed on the line after the message.
    pub details: String,
    pub level: Level,
}

/// A set of diagnostics, possibly empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<FieldError>);

fn leaf(message: String, paths: &[&str], details: String) -> FieldErrors {
    FieldErrors(vec![FieldError {
        message,
        paths: paths.iter().map(|p| p.to_string()).collect(),
        details,
        level: Level::Error,
    }])
}

impl FieldErrors {
    pub fn none() -> Self {
        Self::default()
    }

    /// `missing field(s): a, b`.
    pub fn missing(paths: &[&str]) -> Self {
        leaf("missing field(s)".into(), paths, String::new())
    }

    /// `expected exactly one, got neither: a, b`.
    pub fn missing_one_of(paths: &[&str]) -> Self {
        leaf("expected exactly one, got neither".into(), paths, String::new())
    }

    /// `expected exactly one, got both: a, b`.
    pub fn multiple_one_of(paths: &[&str]) -> Self {
        leaf("expected exactly one, got both".into(), paths, String::new())
    }

    /// `invalid value: <value>: <path>` with optional details.
    pub fn invalid(value: &str, path: &str, details: &str) -> Self {
        leaf(format!("invalid value: {value}"), &[path], details.to_string())
    }

    /// `must not set the field(s): a`.
    pub fn disallowed(paths: &[&str]) -> Self {
        leaf("must not set the field(s)".into(), paths, String::new())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        self.0.iter()
    }

    /// Collects `other` into `self`.
    pub fn also(&mut self, other: FieldErrors) {
        self.0.extend(other.0);
    }

    /// The same diagnostics at another level.
    pub fn at(mut self, level: Level) -> Self {
        for e in &mut self.0 {
            e.level = level;
        }
        self
    }

    /// Prefixes every path with `field` (which may itself be dotted, or an index like `[3]`).
    pub fn via_field(mut self, field: &str) -> Self {
        for e in &mut self.0 {
            for p in &mut e.paths {
                *p = flatten(&[field, p]);
            }
        }
        self
    }

    /// `err.via_field_index("authorities", 2)` turns `key` into `authorities[2].key`.
    pub fn via_field_index(self, field: &str, index: usize) -> Self {
        self.via_field(&format!("[{index}]")).via_field(field)
    }

    /// Only the diagnostics at `level`.
    pub fn filter(&self, level: Level) -> FieldErrors {
        FieldErrors(self.0.iter().filter(|e| e.level == level).cloned().collect())
    }

    /// The diagnostics merged and sorted as they are printed.
    pub fn merged(&self) -> Vec<FieldError> {
        let mut out: Vec<FieldError> = Vec::new();
        for e in &self.0 {
            match out.iter_mut().find(|o| o.level == e.level && o.message == e.message && o.details == e.details) {
                Some(o) => {
                    for p in &e.paths {
                        if !o.paths.contains(p) {
                            o.paths.push(p.clone());
                        }
                    }
                }
                None => out.push(e.clone()),
            }
        }
        for e in &mut out {
            e.paths.sort();
        }
        out.sort_by(|a, b| (&a.message, &a.details, a.level).cmp(&(&b.message, &b.details, b.level)));
        out
    }

    /// The first path of the first printed diagnostic, to point a reader at the document.
    pub fn first_path(&self) -> Option<String> {
        self.merged().into_iter().next().and_then(|e| e.paths.into_iter().next())
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.merged().iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}: {}", e.message, e.paths.join(", "))?;
            if !e.details.is_empty() {
                write!(f, "\n{}", e.details)?;
            }
        }
        Ok(())
    }
}

/// Joins path components, gluing index components (`[0]`) to the component before them and
/// dropping empty ones: `["spec", "authorities.[0]", "key"]` → `spec.authorities[0].key`.
fn flatten(parts: &[&str]) -> String {
    let mut out: Vec<String> = Vec::new();
    for part in parts {
        for p in part.split('.') {
            if p.is_empty() {
                continue;
            }
            match out.last_mut() {
                Some(last) if p.starts_with('[') && p.ends_with(']') => last.push_str(p),
                _ => out.push(p.to_string()),
            }
        }
    }
    out.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_grow_and_print_like_knative() {
        let e = FieldErrors::missing_one_of(&["data", "kms", "secretref"])
            .via_field("key")
            .via_field_index("authorities", 0)
            .via_field("spec");
        assert_eq!(
            e.to_string(),
            "expected exactly one, got neither: spec.authorities[0].key.data, spec.authorities[0].key.kms, spec.authorities[0].key.secretref"
        );
        let glob = FieldErrors::invalid("[", "", "glob is invalid: syntax error in pattern")
            .via_field("glob")
            .via_field_index("images", 0)
            .via_field("spec");
        assert_eq!(glob.to_string(), "invalid value: [: spec.images[0].glob\nglob is invalid: syntax error in pattern");
    }

    #[test]
    fn merges_equal_messages_and_sorts() {
        let mut e = FieldErrors::missing(&["b"]);
        e.also(FieldErrors::invalid("x", "z", ""));
        e.also(FieldErrors::missing(&["a", "b"]));
        assert_eq!(e.to_string(), "invalid value: x: z\nmissing field(s): a, b");
        assert_eq!(e.first_path().as_deref(), Some("z"));
        assert!(e.filter(Level::Warning).is_empty());
    }
}
