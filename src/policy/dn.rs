//! Distinguished names as notation-go sees them.
//!
//! * [`ldap_parse_dn`] is go-ldap v3.4.11 `ParseDN` (the version notation-go pins), byte for byte,
//!   including its quirks (only spaces are trimmed, a trailing escaped space is re-added,
//!   `\XX` escapes may produce arbitrary bytes).
//! * [`parse_dn_bytes`] is notation-go `internal/pkix.ParseDistinguishedName`.
//! * Certificate subjects are rendered by [`crate::gocompat::pkix_name::name_string`] (Go `pkix.Name.String()`)
//!   and quoted by [`crate::gocompat::quote::quote_bytes`] (Go `strconv.Quote`).
//!
//! Attribute types and values are kept as bytes: a `\XX` escape can produce invalid UTF-8 and Go
//! compares and prints such values byte-wise.

/// An ordered `map[string]string` as notation-go builds it (insertion order of first occurrence).
pub(super) type DnAttrs = Vec<(Vec<u8>, Vec<u8>)>;

/// One RDN: its attribute type/value pairs.
type Rdn = Vec<(Vec<u8>, Vec<u8>)>;

/// RFC 4514 DN parsing with notation's rules (go-ldap `ParseDN`, then: no multi-valued RDN, no
/// duplicate attribute types, `S` is an alias of `ST`, `C`, `ST` and `O` mandatory and non-empty,
/// nothing containing `=#`). Returns the attributes in order of first appearance, `S` renamed to
/// `ST`. Byte values that are not UTF-8 (from `\XX` escapes) are converted lossily.
pub fn parse_dn(dn: &str) -> Result<Vec<(String, String)>, String> {
    Ok(parse_dn_bytes(dn)?
        .into_iter()
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(&k).into_owned(),
                String::from_utf8_lossy(&v).into_owned(),
            )
        })
        .collect())
}

/// notation-go `pkix.ParseDistinguishedName`, keeping raw bytes.
pub(super) fn parse_dn_bytes(name: &str) -> Result<DnAttrs, String> {
    if name.contains("=#") {
        return Err(format!(
            "unsupported distinguished name (DN) {}: notation does not support x509.subject identities containing \"=#\"",
            q(name)
        ));
    }
    let rdns = ldap_parse_dn(name).map_err(|e| {
        format!(
            "parsing distinguished name (DN) {} failed with err: {e}. A valid DN must contain 'C', 'ST' or 'S', and 'O' RDN attributes at a minimum, and follow RFC 4514 standard",
            q(name)
        )
    })?;
    let mut map: DnAttrs = Vec::new();
    for rdn in rdns {
        if rdn.len() > 1 {
            return Err(format!(
                "distinguished name (DN) {} has multi-valued RDN attributes, remove multi-valued RDN attributes as they are not supported",
                q(name)
            ));
        }
        for (mut ty, value) in rdn {
            if ty == b"S" {
                ty = b"ST".to_vec();
            }
            match map.iter_mut().find(|(k, _)| *k == ty) {
                // Go: `if attrKeyValue[attribute.Type] == ""` then set, else duplicate.
                Some(entry) if !entry.1.is_empty() => {
                    return Err(format!(
                        "distinguished name (DN) {} has duplicate RDN attribute for {}, DN can only have unique RDN attributes",
                        q(name),
                        go_quote(&ty)
                    ));
                }
                Some(entry) => entry.1 = value,
                None => map.push((ty, value)),
            }
        }
    }
    for field in ["C", "ST", "O"] {
        if lookup(&map, field.as_bytes()).is_empty() {
            return Err(format!(
                "distinguished name (DN) {} has no mandatory RDN attribute for {}, it must contain 'C', 'ST' or 'S', and 'O' RDN attributes at a minimum",
                q(name),
                q(field)
            ));
        }
    }
    Ok(map)
}

/// Go map lookup semantics: a missing key reads as "".
fn lookup<'a>(map: &'a DnAttrs, key: &[u8]) -> &'a [u8] {
    map.iter()
        .find(|(k, _)| k.as_slice() == key)
        .map(|(_, v)| v.as_slice())
        .unwrap_or(&[])
}

/// notation-go `pkix.IsSubsetDN`: every key/value of `a` equals `b[key]` (missing reads as "").
pub(super) fn is_subset(a: &DnAttrs, b: &DnAttrs) -> bool {
    a.iter().all(|(k, v)| lookup(b, k) == v.as_slice())
}

/// Go `fmt.Sprintf("%q", []map[string]string{...})`: `[map["C":"US" "O":"x"] map[...]]`, keys sorted.
pub(super) fn go_format_map_list(list: &[DnAttrs]) -> String {
    let maps: Vec<String> = list
        .iter()
        .map(|m| {
            let mut entries: Vec<&(Vec<u8>, Vec<u8>)> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let parts: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v)))
                .collect();
            format!("map[{}]", parts.join(" "))
        })
        .collect();
    format!("[{}]", maps.join(" "))
}

// ---------------------------------------------------------------------------------------------
// go-ldap v3.4.11 ParseDN
// ---------------------------------------------------------------------------------------------

/// go-ldap v3.4.11 `ParseDN`. Returns the RDNs, each a list of (type, value).
pub(super) fn ldap_parse_dn(s: &str) -> Result<Vec<Rdn>, String> {
    let mut rdns: Vec<Rdn> = Vec::new();
    if s.trim().is_empty() {
        return Ok(rdns);
    }
    let mut rdn: Rdn = Vec::new();
    let mut ty: Vec<u8> = Vec::new();
    let mut escaping = false;
    let mut start = 0usize;
    for (i, &c) in s.as_bytes().iter().enumerate() {
        if escaping {
            escaping = false;
        } else if c == b'\\' {
            escaping = true;
        } else if c == b'=' && ty.is_empty() {
            ty = decode_string(slice(s, start, i)?)?;
            start = i + 1;
        } else if c == b',' || c == b'+' || c == b';' {
            if ty.is_empty() {
                return Err("incomplete type, value pair".to_string());
            }
            let value = set_value(slice(s, start, i)?)?;
            start = i + 1;
            rdn.push((std::mem::take(&mut ty), value));
            if c != b'+' {
                rdns.push(std::mem::take(&mut rdn));
            }
        }
    }
    if ty.is_empty() {
        return Err("DN ended with incomplete type, value pair".to_string());
    }
    let value = set_value(slice(s, start, s.len())?)?;
    rdn.push((ty, value));
    rdns.push(rdn);
    Ok(rdns)
}

/// `&s[a..b]`; the boundaries are always next to ASCII bytes, so this cannot fail in practice.
fn slice(s: &str, a: usize, b: usize) -> Result<&str, String> {
    s.get(a..b)
        .ok_or_else(|| "internal error: DN slice not on a character boundary".to_string())
}

fn set_value(s: &str) -> Result<Vec<u8>, String> {
    if s.starts_with('#') {
        // go-ldap decodes a BER value here. Unreachable through notation: a value that starts
        // with '#' means the DN contains "=#", which notation rejects before parsing.
        return Err(
            "failed to decode BER encoding: hex-encoded (BER) values are not supported".into(),
        );
    }
    decode_string(s)
}

fn strip_leading_and_trailing_spaces(input: &str) -> String {
    let no_spaces = input.trim_matches(' ');
    if no_spaces.ends_with('\\') && input.ends_with(' ') {
        format!("{no_spaces} ")
    } else {
        no_spaces.to_string()
    }
}

fn decode_string(input: &str) -> Result<Vec<u8>, String> {
    let stripped = strip_leading_and_trailing_spaces(input);
    let s: Vec<char> = stripped.chars().collect();
    let mut out: Vec<u8> = Vec::with_capacity(stripped.len());
    let mut i = 0usize;
    while let Some(&ch) = s.get(i) {
        if ch != '\\' {
            push_char(&mut out, ch);
            i += 1;
            continue;
        }
        let Some(&next) = s.get(i + 1) else {
            return Err(format!("got corrupted escaped character: '{stripped}'"));
        };
        if matches!(
            next,
            ' ' | '"' | '#' | '+' | ',' | ';' | '<' | '=' | '>' | '\\'
        ) {
            push_char(&mut out, next);
            i += 2;
            continue;
        }
        let Some(&third) = s.get(i + 2) else {
            return Err(format!(
                "failed to decode escaped character: encoding/hex: invalid byte: {next}"
            ));
        };
        let xx = format!("{next}{third}");
        let xb = xx.as_bytes();
        if xb.len() != 2 {
            return Err(format!(
                "failed to decode escaped character: invalid byte: {xx}"
            ));
        }
        let hi = hex_val(xb[0]).ok_or_else(|| hex_err(xb[0]))?;
        let lo = hex_val(xb[1]).ok_or_else(|| hex_err(xb[1]))?;
        out.push((hi << 4) | lo);
        i += 3;
    }
    Ok(out)
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `"failed to decode escaped character: " + hex.InvalidByteError(b).Error()` (`%#U`).
fn hex_err(b: u8) -> String {
    if (0x20..=0x7e).contains(&b) {
        format!(
            "failed to decode escaped character: encoding/hex: invalid byte: U+{:04X} '{}'",
            b, b as char
        )
    } else {
        format!("failed to decode escaped character: encoding/hex: invalid byte: U+{b:04X}")
    }
}

// ---------------------------------------------------------------------------------------------
// Go strconv.Quote
// ---------------------------------------------------------------------------------------------

pub(super) use crate::gocompat::quote::quote_bytes as go_quote;

/// Go `%q` of a string.
pub(super) fn q(s: &str) -> String {
    go_quote(s.as_bytes())
}

#[cfg(test)]
mod tests;
