//! A minimal DER writer for the few extension values the `openssl` crate has no builder for
//! (JPKI subjectAltName otherNames, certificatePolicies with a CPS qualifier, issuerAltName and
//! CRL distribution points as DirectoryName, CRL reasonCode / crlNumber / authorityKeyIdentifier).
//! Only definite-length encodings of the handful of types we need; no parsing.

/// Encodes one TLV with the given (single-byte) tag.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// SEQUENCE of already-encoded elements.
pub fn sequence(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// Context-specific constructed tag `[n]` (explicit tagging, or implicit on a constructed type).
pub fn context_constructed(n: u8, content: &[u8]) -> Vec<u8> {
    tlv(0xA0 | n, content)
}

/// Context-specific primitive tag `[n]` (implicit tagging of a primitive type).
pub fn context_primitive(n: u8, content: &[u8]) -> Vec<u8> {
    tlv(0x80 | n, content)
}

pub fn utf8_string(s: &str) -> Vec<u8> {
    tlv(0x0C, s.as_bytes())
}

pub fn ia5_string(s: &str) -> Vec<u8> {
    tlv(0x16, s.as_bytes())
}

/// Minimal two's-complement content octets of a non-negative integer.
fn unsigned_content(value: u64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    let mut content = bytes[skip..].to_vec();
    if content[0] & 0x80 != 0 {
        content.insert(0, 0);
    }
    content
}

pub fn integer(value: u64) -> Vec<u8> {
    tlv(0x02, &unsigned_content(value))
}

pub fn enumerated(value: u64) -> Vec<u8> {
    tlv(0x0A, &unsigned_content(value))
}

/// OBJECT IDENTIFIER from its dotted form. Returns `None` on a malformed OID.
pub fn oid(dotted: &str) -> Option<Vec<u8>> {
    let arcs: Vec<u64> = dotted
        .split('.')
        .map(|a| a.parse::<u64>().ok())
        .collect::<Option<Vec<_>>>()?;
    if arcs.len() < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] >= 40) {
        return None;
    }
    let mut content = Vec::new();
    let mut push_arc = |mut v: u64| {
        let mut tmp = vec![(v & 0x7F) as u8];
        v >>= 7;
        while v > 0 {
            tmp.push(0x80 | (v & 0x7F) as u8);
            v >>= 7;
        }
        tmp.reverse();
        content.extend_from_slice(&tmp);
    };
    push_arc(arcs[0] * 40 + arcs[1]);
    for a in &arcs[2..] {
        push_arc(*a);
    }
    Some(tlv(0x06, &content))
}

/// Reads one TLV (single-byte tag, definite length) and returns (tag, content, rest).
pub fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut len = 0usize;
        for b in &rest[..n] {
            len = (len << 8) | usize::from(*b);
        }
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The subjectPublicKey BIT STRING contents (without the unused-bits octet) of a DER
/// SubjectPublicKeyInfo: the input of the RFC 5280 §4.2.1.2 method-1 key identifier.
pub fn spki_public_key_bits(spki: &[u8]) -> Option<&[u8]> {
    let (tag, content, _) = read_tlv(spki)?;
    if tag != 0x30 {
        return None;
    }
    let (alg_tag, _, rest) = read_tlv(content)?;
    if alg_tag != 0x30 {
        return None;
    }
    let (bits_tag, bits, _) = read_tlv(rest)?;
    if bits_tag != 0x03 || bits.first() != Some(&0) {
        return None;
    }
    Some(&bits[1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_known_values() {
        assert_eq!(
            oid("1.2.392.200149.8.5.5.1").unwrap(),
            vec![0x06, 0x0A, 0x2A, 0x83, 0x08, 0x8C, 0x9B, 0x55, 0x08, 0x05, 0x05, 0x01]
        );
        assert_eq!(
            oid("2.5.29.21").unwrap(),
            vec![0x06, 0x03, 0x55, 0x1D, 0x15]
        );
        assert_eq!(integer(0), vec![2, 1, 0]);
        assert_eq!(integer(128), vec![2, 2, 0, 128]);
        assert_eq!(enumerated(5), vec![0x0A, 1, 5]);
        let long = vec![0u8; 300];
        assert_eq!(&tlv(0x04, &long)[..4], &[0x04, 0x82, 0x01, 0x2C]);
        assert!(oid("3.1").is_none());
        assert!(oid("1.x").is_none());
    }
}
