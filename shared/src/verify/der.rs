//! The little DER reading the verifier needs: a certificate's to-be-signed part and public
//! key, and a `SubjectPublicKeyInfo`'s algorithm and key bytes. Every read is bounded by
//! its input; a malformed value is an `Err`, never a panic.

/// One DER element: its tag, its content and the whole encoding (tag, length, content).
#[derive(Debug, Clone, Copy)]
pub struct Element<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    pub whole: &'a [u8],
}

pub const SEQUENCE: u8 = 0x30;
pub const OID: u8 = 0x06;
pub const BIT_STRING: u8 = 0x03;
pub const INTEGER: u8 = 0x02;

/// The first element of `input` and what follows it.
pub fn next(input: &[u8]) -> Result<(Element<'_>, &[u8]), &'static str> {
    let (&tag, rest) = input.split_first().ok_or("DER value ends early")?;
    if tag & 0x1f == 0x1f {
        return Err("DER tag of more than one byte");
    }
    let (&first, rest) = rest.split_first().ok_or("DER value ends early")?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err("bad DER length");
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err("DER value ends early");
    }
    let header = input.len() - rest.len();
    let element = Element {
        tag,
        content: &rest[..len],
        whole: &input[..header + len],
    };
    Ok((element, &rest[len..]))
}

/// The one element `input` holds, of tag `tag`.
pub fn only(input: &[u8], tag: u8) -> Result<Element<'_>, &'static str> {
    let (element, rest) = next(input)?;
    if element.tag != tag {
        return Err("unexpected DER tag");
    }
    if !rest.is_empty() {
        return Err("trailing bytes after a DER value");
    }
    Ok(element)
}

/// The elements of a constructed value's content.
pub fn children(mut content: &[u8]) -> Result<Vec<Element<'_>>, &'static str> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (element, rest) = next(content)?;
        out.push(element);
        content = rest;
    }
    Ok(out)
}

/// A certificate's parts the verifier reads.
#[derive(Debug, Clone, Copy)]
pub struct CertParts<'a> {
    /// The whole `tbsCertificate` encoding (what revocation hashes cover).
    pub tbs: &'a [u8],
    /// The whole `subjectPublicKeyInfo` encoding.
    pub spki: &'a [u8],
}

/// Splits an X.509 certificate: `SEQUENCE { tbs, algorithm, signature }`, and in `tbs`
/// `[0] version?, serial, signature, issuer, validity, subject, subjectPublicKeyInfo, ...`.
pub fn certificate(der: &[u8]) -> Result<CertParts<'_>, &'static str> {
    let cert = only(der, SEQUENCE)?;
    let (tbs, _) = next(cert.content)?;
    if tbs.tag != SEQUENCE {
        return Err("certificate without a to-be-signed part");
    }
    let fields = children(tbs.content)?;
    let skip = usize::from(fields.first().is_some_and(|f| f.tag == 0xa0));
    let spki = fields
        .get(skip + 5)
        .filter(|f| f.tag == SEQUENCE)
        .ok_or("certificate without a public key")?;
    Ok(CertParts {
        tbs: tbs.whole,
        spki: spki.whole,
    })
}

/// A `SubjectPublicKeyInfo`: its algorithm OID, its parameters (the curve OID for EC keys,
/// empty when absent or NULL) and the key bytes inside the bit string.
#[derive(Debug, Clone, Copy)]
pub struct Spki<'a> {
    pub algorithm: &'a [u8],
    pub parameters: &'a [u8],
    pub key: &'a [u8],
}

pub fn spki(der: &[u8]) -> Result<Spki<'_>, &'static str> {
    let outer = only(der, SEQUENCE)?;
    let fields = children(outer.content)?;
    let [algorithm, key] = fields.as_slice() else {
        return Err("not a SubjectPublicKeyInfo");
    };
    if algorithm.tag != SEQUENCE || key.tag != BIT_STRING {
        return Err("not a SubjectPublicKeyInfo");
    }
    let parts = children(algorithm.content)?;
    let oid = parts
        .first()
        .filter(|p| p.tag == OID)
        .ok_or("key algorithm without an OID")?;
    let parameters = match parts.get(1) {
        Some(p) if p.tag == OID => p.content,
        _ => &[],
    };
    // The bit string's first byte counts the unused bits: a key has none.
    match key.content.split_first() {
        Some((0, key)) => Ok(Spki {
            algorithm: oid.content,
            parameters,
            key,
        }),
        _ => Err("public key bit string with unused bits"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_short_and_long_lengths() {
        assert!(next(&[]).is_err());
        assert!(next(&[0x30]).is_err());
        assert!(next(&[0x30, 0x05, 0x00]).is_err());
        assert!(next(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_err());
        assert!(next(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        let (e, rest) = next(&[0x02, 0x01, 0x05, 0xaa]).unwrap();
        assert_eq!((e.tag, e.content, rest), (0x02, &[5u8][..], &[0xaa][..]));
        assert!(certificate(&[0x30, 0x00]).is_err());
        assert!(spki(&[0x30, 0x02, 0x05, 0x00]).is_err());
    }
}
