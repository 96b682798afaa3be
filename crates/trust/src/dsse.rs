//! Dead Simple Signing Envelope (<https://github.com/secure-systems-lab/dsse>).

/// DSSE pre-authentication encoding: what is actually signed.
///
/// `"DSSEv1" SP len(type) SP type SP len(body) SP body`
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn pae_matches_spec_example() {
        // Example from the DSSE protocol document.
        assert_eq!(
            super::pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(super::pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }
}
