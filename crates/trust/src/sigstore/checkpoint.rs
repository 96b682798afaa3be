//! Transparency-log checkpoints: C2SP signed notes (<https://c2sp.org/signed-note>) whose text is a
//! tlog checkpoint (<https://c2sp.org/tlog-checkpoint>): origin, tree size, root hash, optional
//! extension lines, then one or more signature lines, some of which may be witness cosignatures.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::crypto::HashAlg;
use super::trusted_root::TransparencyLog;

/// One `— <name> <base64(key hint || signature)>` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_hint: [u8; 4],
    pub signature: Vec<u8>,
}

/// A signed note split into its signed text and its signature lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    /// The signed bytes: every line of the text, each ending in `\n`.
    pub text: String,
    pub signatures: Vec<NoteSignature>,
}

/// The body of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub tree_size: u64,
    pub root_hash: [u8; 32],
    pub extensions: Vec<String>,
}

impl SignedNote {
    pub fn parse(note: &str) -> Result<Self, String> {
        // The last blank line separates text from signatures; signature lines never contain one.
        let split = note.rfind("\n\n").ok_or("no blank line between note text and signatures")?;
        let text = &note[..=split];
        let sig_block = &note[split + 2..];
        if sig_block.is_empty() {
            return Err("note has no signature lines".into());
        }
        let body = sig_block.strip_suffix('\n').ok_or("signature block does not end in a newline")?;
        let signatures = body.split('\n').map(parse_signature_line).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { text: text.to_string(), signatures })
    }
}

fn parse_signature_line(line: &str) -> Result<NoteSignature, String> {
    let rest = line
        .strip_prefix("\u{2014} ")
        .ok_or_else(|| format!("signature line {line:?} does not start with an em dash"))?;
    let (name, b64) = rest.split_once(' ').ok_or_else(|| format!("signature line {line:?} has no signature"))?;
    if name.is_empty() || name.contains('+') || b64.contains(' ') {
        return Err(format!("malformed signature line {line:?}"));
    }
    let raw = STANDARD.decode(b64).map_err(|e| format!("signature of {name:?} is not base64: {e}"))?;
    if raw.len() < 5 {
        return Err(format!("signature of {name:?} is too short"));
    }
    Ok(NoteSignature {
        name: name.to_string(),
        key_hint: [raw[0], raw[1], raw[2], raw[3]],
        signature: raw[4..].to_vec(),
    })
}

impl Checkpoint {
    pub fn parse(text: &str) -> Result<Self, String> {
        let body = text.strip_suffix('\n').ok_or("checkpoint text does not end in a newline")?;
        let mut lines = body.split('\n');
        let origin = lines.next().filter(|l| !l.is_empty()).ok_or("checkpoint has no origin line")?;
        let size_line = lines.next().ok_or("checkpoint has no tree size line")?;
        if size_line.is_empty()
            || !size_line.bytes().all(|b| b.is_ascii_digit())
            || (size_line.len() > 1 && size_line.starts_with('0'))
        {
            return Err(format!("checkpoint tree size {size_line:?} is not a decimal number"));
        }
        let tree_size = size_line.parse::<u64>().map_err(|e| format!("checkpoint tree size: {e}"))?;
        let hash_line = lines.next().ok_or("checkpoint has no root hash line")?;
        let root_hash: [u8; 32] = STANDARD
            .decode(hash_line)
            .ok()
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| format!("checkpoint root hash {hash_line:?} is not 32 base64 bytes"))?;
        let extensions: Vec<String> = lines.map(str::to_string).collect();
        if extensions.iter().any(String::is_empty) {
            return Err("checkpoint has an empty extension line".into());
        }
        Ok(Self { origin: origin.to_string(), tree_size, root_hash, extensions })
    }
}

/// The signer name a log uses in its checkpoints: the authority (`host[:port]`) of its base URL.
pub(crate) fn log_name(base_url: &str) -> &str {
    let rest = base_url.split_once("://").map_or(base_url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

/// Verifies a checkpoint against the log that claims it and returns its parsed body.
///
/// The log's signature line is the one whose name is the log's name and whose key hint is the
/// first four bytes of the log ID; every such line must verify, at least one must exist, and
/// lines from other signers (witness cosignatures, unknown keys) are ignored. The origin must
/// name the same log (Rekor v1 appends ` - <tree id>` to it).
pub(crate) fn verify(envelope: &str, log: &TransparencyLog) -> Result<Checkpoint, String> {
    let note = SignedNote::parse(envelope)?;
    let checkpoint = Checkpoint::parse(&note.text)?;
    let name = log_name(&log.base_url);
    if checkpoint.origin != name && !checkpoint.origin.starts_with(&format!("{name} - ")) {
        return Err(format!("origin {:?} is not the log {name:?}", checkpoint.origin));
    }
    let hint = log.log_id.get(..4).ok_or("log ID is shorter than a key hint")?;
    let key = log.key.as_ref().ok_or("the log's key type is not supported")?;
    let ours: Vec<&NoteSignature> =
        note.signatures.iter().filter(|s| s.name == name && s.key_hint.as_slice() == hint).collect();
    if ours.is_empty() {
        return Err(format!("no signature line from {name:?} with key hint {}", hex::encode(hint)));
    }
    for sig in ours {
        if !key.verify(key.scheme(HashAlg::Sha256), note.text.as_bytes(), &sig.signature) {
            return Err(format!("signature from {name:?} does not verify"));
        }
    }
    Ok(checkpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "rs1YPY0ydAV0lxgfrq5pE4oRpUJwo3syeps5+eGUTDI=";

    #[test]
    fn parses_cosigned_checkpoint() {
        let env = format!(
            "log.example\n736\n{ROOT}\n\n\u{2014} log.example 8w1amdbj1mjNN674dHAkD92+QZoEgBC7o0mXYSTRluDjQrOPjrps3zQB9ut+ShLepyZPsWBDi5IB3yXyjgjQT6OG9A8=\n\u{2014} witness.example O8PH5AAAAABopO8+4O9uzScQrNEnGdKLYXSPoUjH1Se4n92W+wT/j5Kel/4J2XWE4bEe9bpIVUD6EGOeUDFkSWz/rbDhvVcJ/2OrDw==\n"
        );
        let note = SignedNote::parse(&env).unwrap();
        assert_eq!(note.text, format!("log.example\n736\n{ROOT}\n"));
        assert_eq!(note.signatures.len(), 2);
        assert_eq!(note.signatures[0].key_hint, [0xf3, 0x0d, 0x5a, 0x99]);
        assert_eq!(note.signatures[1].name, "witness.example");
        let cp = Checkpoint::parse(&note.text).unwrap();
        assert_eq!((cp.origin.as_str(), cp.tree_size), ("log.example", 736));
        assert!(cp.extensions.is_empty());
    }

    #[test]
    fn parses_rekor_v1_checkpoint_with_extension_line() {
        let cp = Checkpoint::parse(&format!(
            "rekor.sigstore.dev - 2605736670972794746\n23083062\n{ROOT}\nTimestamp: 1689177396617352539\n"
        ))
        .unwrap();
        assert_eq!(cp.extensions, vec!["Timestamp: 1689177396617352539".to_string()]);
    }

    #[test]
    fn rejects_malformed_notes() {
        let cases = [
            format!("log.example\n736\n{ROOT}\n\n"),                    // no signature line
            format!("log.example\n736\n{ROOT}\n\u{2014} a AAAAAAA=\n"), // no blank line
            format!("log.example\n736\n{ROOT}\n\n- a AAAAAAAA\n"),      // not an em dash
            format!("log.example\n736\n{ROOT}\n\n\u{2014} a AAAA\n"),   // shorter than a hint
            format!("log.example\n736\n{ROOT}\n\n\u{2014} a AAAAAAAA"), // no final newline
        ];
        for c in cases {
            assert!(SignedNote::parse(&c).is_err(), "{c:?}");
        }
        let bodies = [
            format!("736\n{ROOT}\n"),                   // missing origin
            "log.example\n736\n".to_string(),           // missing root hash
            format!("log.example\n{ROOT}\n"),           // missing size
            format!("log.example\n-1\n{ROOT}\n"),       // negative size
            format!("log.example\n0736\n{ROOT}\n"),     // leading zero
            "log.example\n736\nAAAA\n".to_string(),     // short hash
            format!("log.example\n736\n{ROOT}\n\nx\n"), // empty extension line
        ];
        for b in bodies {
            assert!(Checkpoint::parse(&b).is_err(), "{b:?}");
        }
    }

    #[test]
    fn log_names() {
        assert_eq!(log_name("https://rekor.sigstore.dev"), "rekor.sigstore.dev");
        assert_eq!(log_name("http://localhost:8000/api"), "localhost:8000");
        assert_eq!(log_name("rekor-local"), "rekor-local");
    }
}
