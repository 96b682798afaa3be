//! Splitting policy files into documents and pointing at lines.
//!
//! YAML files are split on `---` lines before parsing, so a malformed document is reported
//! (with its line) and the documents after it are still read.

use serde_json::Value;

use super::set::PolicyProblem;

/// One document of a policy file.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    pub source: String,
    /// 1-based among the file's non-empty documents.
    pub number: usize,
    /// 1-based line where the document's text starts; `None` for JSON.
    pub start_line: Option<usize>,
    pub text: String,
}

impl Document {
    pub fn problem(&self, name: Option<String>, field: Option<String>, message: String) -> PolicyProblem {
        PolicyProblem {
            source: self.source.clone(),
            document: self.number,
            line: self.start_line,
            name,
            field,
            message,
            kept: false,
        }
    }
}

fn file_problem(source: &str, message: String) -> PolicyProblem {
    PolicyProblem { source: source.into(), document: 0, line: None, name: None, field: None, message, kept: false }
}

/// The file's documents as JSON values (`List` objects unpacked), and what could not be read.
pub(crate) fn split_documents(source: &str, bytes: &[u8]) -> (Vec<(Document, Value)>, Vec<PolicyProblem>) {
    let mut docs = Vec::new();
    let mut problems = Vec::new();
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.strip_prefix('\u{feff}').unwrap_or(t),
        Err(e) => return (docs, vec![file_problem(source, format!("not UTF-8 text: {e}"))]),
    };
    let trimmed = text.trim_start();
    if source.ends_with(".json") || trimmed.starts_with('{') || trimmed.starts_with('[') {
        for (i, v) in serde_json::Deserializer::from_str(text).into_iter::<Value>().enumerate() {
            let doc = Document { source: source.into(), number: i + 1, start_line: None, text: String::new() };
            match v {
                Ok(Value::Array(items)) => items.into_iter().for_each(|it| push_unpacked(&doc, it, &mut docs)),
                Ok(v) => push_unpacked(&doc, v, &mut docs),
                Err(e) => {
                    let mut p =
                        doc.problem(None, None, format!("invalid JSON: {e} (the rest of the file was not read)"));
                    p.line = Some(e.line());
                    problems.push(p);
                    break;
                }
            }
        }
        return (docs, problems);
    }
    let mut number = 0;
    for (start_line, piece) in yaml_pieces(text) {
        // Point at the first line with content, past license headers and blank lines.
        let is_content = |l: &str| !l.trim().is_empty() && !l.trim_start().starts_with('#');
        let Some(skip) = piece.lines().position(is_content) else { continue };
        let piece: String = piece.lines().skip(skip).flat_map(|l| [l, "\n"]).collect();
        let start_line = start_line + skip;
        number += 1;
        let doc = Document { source: source.into(), number, start_line: Some(start_line), text: piece.clone() };
        let parsed = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&piece).map_err(|e| {
            let line = e.location().map(|l| start_line + l.line() - 1);
            (line, format!("invalid YAML: {e}"))
        });
        let value = parsed.and_then(|mut y| {
            y.apply_merge().map_err(|e| (None, format!("unsupported YAML: {e}")))?;
            serde_json::to_value(&y).map_err(|e| (None, format!("unsupported YAML: {e}")))
        });
        match value {
            Ok(Value::Null) => {}
            Ok(v) => push_unpacked(&doc, v, &mut docs),
            Err((line, msg)) => {
                let mut p = doc.problem(None, None, msg);
                p.line = line.or(p.line);
                problems.push(p);
            }
        }
    }
    (docs, problems)
}

fn push_unpacked(doc: &Document, v: Value, out: &mut Vec<(Document, Value)>) {
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    if (kind == "List" || kind.ends_with("List"))
        && let Some(Value::Array(items)) = v.get("items")
    {
        for it in items {
            push_unpacked(doc, it.clone(), out);
        }
        return;
    }
    out.push((doc.clone(), v));
}

/// `(first line number, text)` of each `---`-separated piece.
fn yaml_pieces(text: &str) -> Vec<(usize, String)> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut start = 1;
    for (i, line) in text.lines().enumerate() {
        let is_marker = line == "---" || line.starts_with("--- ") || line.starts_with("---\t") || line == "...";
        if is_marker {
            pieces.push((start, std::mem::take(&mut current)));
            start = i + 2;
            if let Some(rest) = line.strip_prefix("--- ") {
                // `--- value` starts the document on the marker line.
                start = i + 1;
                current.push_str(rest);
                current.push('\n');
            }
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    pieces.push((start, current));
    pieces
}

enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn steps(field: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    for part in field.split('.') {
        let (key, mut rest) = part.split_once('[').map(|(k, r)| (k, Some(r))).unwrap_or((part, None));
        if !key.is_empty() {
            out.push(Step::Key(key));
        }
        while let Some(r) = rest {
            let (n, after) = r.split_once(']').unwrap_or((r, ""));
            if let Ok(n) = n.parse() {
                out.push(Step::Index(n));
            }
            rest = after.strip_prefix('[');
        }
    }
    out
}

/// `(indent, content)` of a line, with list dashes stripped.
fn shape(l: &str) -> (usize, &str) {
    let mut indent = l.len() - l.trim_start().len();
    let mut c = l.trim_start();
    while let Some(r) = c.strip_prefix("- ") {
        let r2 = r.trim_start();
        indent += 2 + (r.len() - r2.len());
        c = r2;
    }
    (indent, c)
}

/// Best-effort line of `field` (`spec.authorities[1].key.data`) in the document: the line of
/// the deepest path component found by following keys and list items by indentation.
pub(crate) fn locate(doc: &Document, field: &str) -> Option<usize> {
    let start = doc.start_line?;
    let lines: Vec<&str> = doc.text.lines().collect();
    let (mut pos, mut parent, mut found) = (0usize, -1isize, None);
    let mut first = true;
    for step in steps(field) {
        match step {
            Step::Key(k) => {
                let from = if first { 0 } else { pos };
                let hit = (from..lines.len()).find(|&i| {
                    let (ind, c) = shape(lines[i]);
                    (ind as isize) > parent
                        && (c.strip_prefix(k).is_some_and(|r| r.starts_with(':'))
                            || c.strip_prefix(&format!("\"{k}\"")).is_some_and(|r| r.starts_with(':')))
                });
                let Some(i) = hit else { break };
                let (ind, _) = shape(lines[i]);
                (pos, parent, found) = (i + 1, ind as isize, Some(i));
            }
            Step::Index(n) => {
                let items: Vec<usize> = (pos..lines.len())
                    .take_while(|&i| {
                        let l = lines[i];
                        l.trim().is_empty()
                            || (l.len() - l.trim_start().len()) as isize > parent
                            || l.trim_start().starts_with('-')
                    })
                    .filter(|&i| lines[i].trim_start().starts_with('-'))
                    .collect();
                let Some(&dash_indent) = items.first().map(|&i| lines[i].len() - lines[i].trim_start().len()).as_ref()
                else {
                    break;
                };
                let at_level: Vec<usize> = items
                    .into_iter()
                    .filter(|&i| lines[i].len() - lines[i].trim_start().len() == dash_indent)
                    .collect();
                let Some(&i) = at_level.get(n) else { break };
                (pos, parent, found) = (i, dash_indent as isize, Some(i));
            }
        }
        first = false;
    }
    found.map(|i| start + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_locates() {
        let text = "# header\n---\napiVersion: v1\nkind: A\n---\nkind: [\n---\nkind: B\nspec:\n  authorities:\n  - key:\n      data: x\n  - keyless:\n      url: y\n";
        let (docs, problems) = split_documents("f.yaml", text.as_bytes());
        assert_eq!(docs.len(), 2);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].document, 2);
        assert_eq!(problems[0].line, Some(7));
        let (b, _) = &docs[1];
        assert_eq!((b.number, b.start_line), (3, Some(8)));
        assert_eq!(locate(b, "spec.authorities[1].keyless.url"), Some(14));
        assert_eq!(locate(b, "spec.authorities[0].key.data"), Some(12));
        assert_eq!(locate(b, "spec.authorities[0].key.kms"), Some(11));
    }
}
