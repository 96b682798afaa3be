//! A minimal DER reader: tag-length-value splitting with the raw bytes kept.
//!
//! Signatures in X.509, CMS and CT are computed over exact encodings (a TBSCertificate, CMS
//! signed attributes re-tagged as a SET, a precertificate TBS without its SCT extension), so those
//! paths work on raw TLVs rather than on decoded-and-re-encoded structures.

/// One DER element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    /// Header and value.
    pub raw: &'a [u8],
}

pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const SET: u8 = 0x31;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const OID: u8 = 0x06;
pub(crate) const GENERALIZED_TIME: u8 = 0x18;

/// Reads one element from the front of `input`; returns it and the rest.
pub(crate) fn read(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), String> {
    let (&tag, rest) = input.split_first().ok_or("unexpected end of DER input")?;
    if tag & 0x1f == 0x1f {
        return Err("multi-byte DER tags are not supported".into());
    }
    let (&first, rest) = rest.split_first().ok_or("truncated DER length")?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 {
            return Err("indefinite-length encoding is not DER".into());
        }
        if n > 4 || rest.len() < n {
            return Err("bad DER length".into());
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
        if len < 0x80 || rest[0] == 0 {
            return Err("non-minimal DER length".into());
        }
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(format!("DER element of {len} bytes is truncated"));
    }
    let header = input.len() - rest.len();
    let raw = &input[..header + len];
    Ok((Tlv { tag, value: &rest[..len], raw }, &rest[len..]))
}

/// Reads exactly one element spanning all of `input`.
pub(crate) fn read_exact(input: &[u8]) -> Result<Tlv<'_>, String> {
    let (tlv, rest) = read(input)?;
    if !rest.is_empty() {
        return Err(format!("{} trailing bytes after DER element", rest.len()));
    }
    Ok(tlv)
}

/// Reads one element and checks its tag.
pub(crate) fn expect(input: &[u8], tag: u8) -> Result<Tlv<'_>, String> {
    let tlv = read_exact(input)?;
    if tlv.tag != tag {
        return Err(format!("expected DER tag {tag:#04x}, found {:#04x}", tlv.tag));
    }
    Ok(tlv)
}

/// The elements inside a constructed value.
pub(crate) fn children(value: &[u8]) -> Result<Vec<Tlv<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let (tlv, r) = read(rest)?;
        out.push(tlv);
        rest = r;
    }
    Ok(out)
}

/// Encodes a header (tag and definite length) for a value of `len` bytes.
pub(crate) fn header(tag: u8, len: usize) -> Vec<u8> {
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out
}

/// Wraps `value` in a TLV with `tag`.
pub(crate) fn wrap(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = header(tag, value.len());
    out.extend_from_slice(value);
    out
}

/// Decodes an OBJECT IDENTIFIER element.
pub(crate) fn oid(tlv: &Tlv<'_>) -> Result<const_oid::ObjectIdentifier, String> {
    if tlv.tag != OID {
        return Err(format!("expected an OID, found tag {:#04x}", tlv.tag));
    }
    const_oid::ObjectIdentifier::from_bytes(tlv.value).map_err(|e| format!("bad OID: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_short_and_long_lengths() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let value = vec![7u8; len];
            let enc = wrap(SEQUENCE, &value);
            let tlv = read_exact(&enc).unwrap();
            assert_eq!((tlv.tag, tlv.value.len(), tlv.raw.len()), (SEQUENCE, len, enc.len()));
        }
    }

    #[test]
    fn rejects_non_der() {
        assert!(read(&[0x30, 0x80, 0, 0]).is_err(), "indefinite length");
        assert!(read(&[0x30, 0x81, 0x05, 1, 2, 3, 4, 5]).is_err(), "non-minimal length");
        assert!(read(&[0x30, 0x05, 1]).is_err(), "truncated");
        assert!(read_exact(&[0x05, 0x00, 0x05, 0x00]).is_err(), "trailing bytes");
    }
}
