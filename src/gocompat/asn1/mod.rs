//! The one DER/BER reader: Go's `encoding/asn1` ([`reader`]), tspclient-go's BER to DER
//! conversion ([`ber`]) and asn1's time parsing ([`time`]), plus the small TLV, OID and length
//! helpers the certificate and revocation code walks DER with. Those helpers are strict DER as
//! Go's `cryptobyte` is (minimal lengths, no indefinite form, OID arcs below 2^31), because
//! crypto/x509 parses extensions and golang.org/x/crypto/ocsp parses responses with it.

pub mod ber;
pub mod reader;
pub mod time;

/// One DER element with a single-octet identifier: `(identifier octet, content, rest)`, or `None`
/// where `cryptobyte` would refuse it.
pub fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let &first = input.first()?;
    if first & 0x1f == 0x1f {
        return None;
    }
    let (t, off) = reader::tag_and_length(input, 0).ok()?;
    let end = off.checked_add(t.length)?;
    Some((first, input.get(off..end)?, input.get(end..)?))
}

/// Dotted string of an OBJECT IDENTIFIER's content octets (Go `parseObjectIdentifier`).
pub fn oid(content: &[u8]) -> Option<String> {
    reader::go_oid(content).ok()
}

/// Appends the DER length octets of `len` to `out`.
pub fn der_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let start = bytes
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - start) as u8);
        out.extend_from_slice(&bytes[start..]);
    }
}

/// How many octets [`der_len`] writes for `len`.
pub fn der_len_size(len: usize) -> usize {
    if len < 0x80 {
        1
    } else {
        1 + (usize::BITS - len.leading_zeros()).div_ceil(8) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decimal like Go's big.Int for sane lengths; a serial far past RFC 5280's 20 octets is
    /// not converted (quadratic), and a megabyte one takes no time.
    #[test]
    fn integers_to_decimal() {
        use super::reader::int_to_decimal;
        assert_eq!(int_to_decimal(&[0x01, 0x00]), "256");
        assert_eq!(int_to_decimal(&[0xff]), "-1");
        assert_eq!(int_to_decimal(&[0x00]), "0");
        let twenty = [0x7f; 20];
        assert_eq!(
            int_to_decimal(&twenty),
            "727885129180488904360266563744972327436484050815"
        );
        let huge = vec![0x42; 1 << 20];
        let s = int_to_decimal(&huge);
        assert!(
            s.starts_with("0x4242") && s.ends_with("(1048576 octets)"),
            "{s}"
        );
    }

    /// Strict DER as `cryptobyte` and `encoding/asn1` read it (golang.org/x/crypto/ocsp and
    /// crypto/x509 refuse what these refuse).
    #[test]
    fn tlv_oid_len_like_go() {
        assert_eq!(tlv(&[0x30, 0x01]), None);
        assert_eq!(tlv(&[0x30, 0x01, 0x05]), Some((0x30, &[5u8][..], &[][..])));
        // non-minimal long form, indefinite length, length past the end, multi-octet tag
        assert_eq!(tlv(&[0x30, 0x81, 0x01, 0x05]), None);
        assert_eq!(tlv(&[0x30, 0x80, 0x00, 0x00]), None);
        assert_eq!(tlv(&[0x30, 0x85, 0, 0, 0, 0, 1]), None);
        assert_eq!(tlv(&[0x1f, 0x81, 0x00, 0x00]), None);
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend([7u8; 0x80]);
        long.push(9);
        let (tag, content, rest) = tlv(&long).unwrap();
        assert_eq!((tag, content.len(), rest), (0x04, 0x80, &[9u8][..]));

        assert_eq!(
            oid(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]).as_deref(),
            Some("1.2.840.113549.1.1.11")
        );
        assert_eq!(
            oid(&[0x55, 0x1d, 0x25, 0x00]).as_deref(),
            Some("2.5.29.37.0")
        );
        assert_eq!(oid(&[0x88, 0x37]).as_deref(), Some("2.999"));
        // empty, truncated, non-minimal arc, an arc of 2^31 or more
        assert_eq!(oid(&[]), None);
        assert_eq!(oid(&[0x86]), None);
        assert_eq!(oid(&[0x2a, 0x80, 0x01]), None);
        assert_eq!(oid(&[0x2a, 0x88, 0x80, 0x80, 0x80, 0x00]), None);

        for len in [0usize, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x1_0000, 0x7f_ffff] {
            let mut out = Vec::new();
            der_len(len, &mut out);
            assert_eq!(out.len(), der_len_size(len), "{len:#x}");
            let mut enc = vec![0x04];
            enc.extend(&out);
            enc.extend(std::iter::repeat_n(0u8, len));
            assert_eq!(tlv(&enc).map(|(_, c, _)| c.len()), Some(len), "{len:#x}");
        }
    }
}
