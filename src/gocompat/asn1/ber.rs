//! tspclient-go's `internal/encoding/asn1/ber.ConvertToDER`: a timestamp token may be BER (a TSA
//! may send indefinite lengths); Go's `encoding/asn1` only reads DER, so the token is converted
//! first, with tspclient-go's error texts.

use super::{der_len, der_len_size as der_length_size};

pub(crate) fn ber_syntax(m: &str) -> String {
    format!("asn1: syntax error: {m}")
}

pub(crate) fn ber_structural(m: &str) -> String {
    format!("asn1: structure error: {m}")
}

/// Returns (identifier octets, content length, remaining octets).
pub(crate) fn ber_metadata(r: &[u8]) -> Result<(&[u8], usize, &[u8]), String> {
    // identifier
    let Some(&first) = r.first() else {
        return Err(ber_syntax(
            "decoding BER identifier octets: identifier octets is empty",
        ));
    };
    let mut off = 1usize;
    if first & 0x1f == 0x1f {
        while r.get(off).is_some_and(|b| b & 0x80 == 0x80) {
            off += 1;
        }
        if off >= r.len() {
            return Err(ber_syntax(
                "decoding BER identifier octets: high-tag-number form with early EOF",
            ));
        }
        off += 1;
    }
    if off >= r.len() {
        return Err(ber_syntax(
            "decoding BER identifier octets: early EOF due to missing length and content octets",
        ));
    }
    let (ident, r) = r.split_at(off);
    // length
    let Some(&b) = r.first() else {
        return Err(ber_syntax(
            "decoding BER length octets: length octets is empty",
        ));
    };
    let rest = r.get(1..).unwrap_or(&[]);
    if b < 0x80 {
        let len = usize::from(b);
        if len > rest.len() {
            return Err(ber_syntax(
                "decoding BER length octets: short form length octets value should be less or equal to the subsequent octets length",
            ));
        }
        return Ok((ident, len, rest));
    }
    if b == 0x80 {
        return Err(ber_structural(
            "decoding BER length octets: indefinite length not supported",
        ));
    }
    let n = usize::from(b & 0x7f);
    if n > 4 {
        return Err(ber_structural(&format!(
            "decoding BER length octets: length of encoded data ({n} bytes) cannot exceed 4 bytes"
        )));
    }
    if 1 + n >= r.len() {
        return Err(ber_syntax(
            "decoding BER length octets: long form length octets with early EOF",
        ));
    }
    let mut length: u64 = 0;
    for &x in r.get(1..1 + n).unwrap_or(&[]) {
        length = (length << 8) | u64::from(x);
    }
    if length >> 31 > 0 {
        return Err(ber_structural(&format!(
            "decoding BER length octets: length {length} does not fit the memory space of int32"
        )));
    }
    let rest = r.get(1 + n..).unwrap_or(&[]);
    let len = usize::try_from(length).unwrap_or(usize::MAX);
    if len > rest.len() {
        return Err(ber_syntax(
            "decoding BER length octets: long form length octets value should be less or equal to the subsequent octets length",
        ));
    }
    Ok((ident, len, rest))
}

pub(crate) fn ber_to_der(ber: &[u8]) -> Result<Vec<u8>, String> {
    struct Node<'a> {
        ident: &'a [u8],
        primitive: Option<&'a [u8]>,
        length: usize,
    }
    fn encoded_len(n: &Node<'_>) -> usize {
        let l = n.primitive.map_or(n.length, <[u8]>::len);
        n.ident.len() + der_length_size(l) + l
    }
    if ber.is_empty() {
        return Err(ber_syntax("BER-encoded ASN.1 data structures is empty"));
    }
    let (ident, len, rest) = ber_metadata(ber)?;
    if rest.len() != len {
        return Err(ber_syntax(&format!(
            "decoding BER: length octets value {len} does not match with content length {}",
            rest.len()
        )));
    }
    let is_primitive = |id: &[u8]| id.first().is_some_and(|b| b & 0x20 == 0);
    let mut nodes: Vec<Node<'_>> = Vec::new();
    if is_primitive(ident) {
        nodes.push(Node {
            ident,
            primitive: Some(rest),
            length: 0,
        });
    } else {
        nodes.push(Node {
            ident,
            primitive: None,
            length: 0,
        });
        let mut stack: Vec<(usize, &[u8])> = vec![(0, rest)];
        while let Some(&(idx, raw)) = stack.last() {
            if raw.is_empty() {
                stack.pop();
                let enc = nodes.get(idx).map_or(0, encoded_len);
                if let Some(&(parent, _)) = stack.last()
                    && let Some(p) = nodes.get_mut(parent)
                {
                    p.length += enc;
                }
                continue;
            }
            let (id, clen, r) = ber_metadata(raw)?;
            let (content, tail) = r.split_at(clen.min(r.len()));
            if let Some(top) = stack.last_mut() {
                top.1 = tail;
            }
            let new_idx = nodes.len();
            if is_primitive(id) {
                let n = Node {
                    ident: id,
                    primitive: Some(content),
                    length: 0,
                };
                let enc = encoded_len(&n);
                nodes.push(n);
                if let Some(p) = nodes.get_mut(idx) {
                    p.length += enc;
                }
            } else {
                nodes.push(Node {
                    ident: id,
                    primitive: None,
                    length: 0,
                });
                stack.push((new_idx, content));
            }
        }
    }
    let mut out = Vec::with_capacity(ber.len());
    for n in &nodes {
        out.extend_from_slice(n.ident);
        match n.primitive {
            Some(c) => {
                der_len(c.len(), &mut out);
                out.extend_from_slice(c);
            }
            None => der_len(n.length, &mut out),
        }
    }
    Ok(out)
}
