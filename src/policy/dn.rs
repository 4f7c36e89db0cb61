//! Distinguished names as notation-go sees them.
//!
//! * [`ldap_parse_dn`] is go-ldap v3.4.11 `ParseDN` (the version notation-go pins), byte for byte,
//!   including its quirks (only spaces are trimmed, a trailing escaped space is re-added,
//!   `\XX` escapes may produce arbitrary bytes).
//! * [`parse_dn_bytes`] is notation-go `internal/pkix.ParseDistinguishedName`.
//! * Certificate subjects are rendered by [`crate::x509::go_name_string`] (Go `pkix.Name.String()`)
//!   and quoted by [`crate::x509::go_quote_bytes`] (Go `strconv.Quote`).
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

pub(super) use crate::x509::{decode_char, go_quote_bytes as go_quote};

/// Go `%q` of a string.
pub(super) fn q(s: &str) -> String {
    go_quote(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parsed = Vec<Vec<(String, String)>>;

    fn ldap_ok(s: &str) -> Parsed {
        match ldap_parse_dn(s) {
            Ok(rdns) => rdns
                .into_iter()
                .map(|rdn| {
                    rdn.into_iter()
                        .map(|(k, v)| {
                            (
                                String::from_utf8_lossy(&k).into_owned(),
                                String::from_utf8_lossy(&v).into_owned(),
                            )
                        })
                        .collect()
                })
                .collect(),
            Err(e) => panic!("ParseDN({s:?}) failed: {e}"),
        }
    }

    fn one(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    /// go-ldap v3.4.11 dn_test.go TestSuccessfulDNParsing (the cases without '#' BER values).
    #[test]
    fn go_ldap_successful_parsing() {
        let cases: Vec<(&str, Parsed)> = vec![
            ("", vec![]),
            (
                "cn=Jim\\2C \\22Hasse Hö\\22 Hansson!,dc=dummy,dc=com",
                vec![
                    one(&[("cn", "Jim, \"Hasse Hö\" Hansson!")]),
                    one(&[("dc", "dummy")]),
                    one(&[("dc", "com")]),
                ],
            ),
            (
                "OU=Sales+CN=J. Smith,DC=example,DC=net",
                vec![
                    one(&[("OU", "Sales"), ("CN", "J. Smith")]),
                    one(&[("DC", "example")]),
                    one(&[("DC", "net")]),
                ],
            ),
            ("CN=Lu\\C4\\8Di\\C4\\87", vec![one(&[("CN", "Lučić")])]),
            (
                "  CN  =  Lu\\C4\\8Di\\C4\\87  ",
                vec![one(&[("CN", "Lučić")])],
            ),
            (
                "   A   =   1   ,   B   =   2   ",
                vec![one(&[("A", "1")]), one(&[("B", "2")])],
            ),
            (
                "   A   =   1   +   B   =   2   ",
                vec![one(&[("A", "1"), ("B", "2")])],
            ),
            (
                r"   \ \ A\ \    =   \ \ 1\ \    ,   \ \ B\ \    =   \ \ 2\ \    ",
                vec![one(&[("  A  ", "  1  ")]), one(&[("  B  ", "  2  ")])],
            ),
            ("A = 88  \t", vec![one(&[("A", "88  \t")])]),
            ("A = 88  \n", vec![one(&[("A", "88  \n")])]),
            (
                "cn=john.doe;dc=example,dc=net",
                vec![
                    one(&[("cn", "john.doe")]),
                    one(&[("dc", "example")]),
                    one(&[("dc", "net")]),
                ],
            ),
            (
                r"cn=⭐;dc=❤️=\==,dc=❤️\\",
                vec![
                    one(&[("cn", "⭐")]),
                    one(&[("dc", "❤️===")]),
                    one(&[("dc", "❤️\\")]),
                ],
            ),
            (
                r"cn=john.doe\;weird name,dc=example,dc=net",
                vec![
                    one(&[("cn", "john.doe;weird name")]),
                    one(&[("dc", "example")]),
                    one(&[("dc", "net")]),
                ],
            ),
            (
                "cn=ZXhhbXBsZVRleHQ=,dc=dummy,dc=com",
                vec![
                    one(&[("cn", "ZXhhbXBsZVRleHQ=")]),
                    one(&[("dc", "dummy")]),
                    one(&[("dc", "com")]),
                ],
            ),
            (
                r#"CN=James \"Jim\" Smith\, III,DC=example,DC=net"#,
                vec![
                    one(&[("CN", "James \"Jim\" Smith, III")]),
                    one(&[("DC", "example")]),
                    one(&[("DC", "net")]),
                ],
            ),
            (
                r"CN=Before\0dAfter,DC=example,DC=net",
                vec![
                    one(&[("CN", "Before\rAfter")]),
                    one(&[("DC", "example")]),
                    one(&[("DC", "net")]),
                ],
            ),
            (
                r"cn=foo-lon\e2\9d\a4\ef\b8\8f\,g.com,OU=Foo===Long;ou=Ba # rq,ou=Baz,o=C\; orp.+c=US",
                vec![
                    one(&[("cn", "foo-lon❤️,g.com")]),
                    one(&[("OU", "Foo===Long")]),
                    one(&[("ou", "Ba # rq")]),
                    one(&[("ou", "Baz")]),
                    one(&[("o", "C; orp."), ("c", "US")]),
                ],
            ),
        ];
        for (dn, want) in cases {
            assert_eq!(ldap_ok(dn), want, "DN {dn:?}");
        }
    }

    /// go-ldap v3.4.11 dn_test.go TestErrorDNParsing (the cases not involving BER values).
    #[test]
    fn go_ldap_error_parsing() {
        let cases = [
            ("*", "DN ended with incomplete type, value pair"),
            (
                "cn=Jim\\0Test",
                "failed to decode escaped character: encoding/hex: invalid byte: U+0054 'T'",
            ),
            (
                "cn=Jim\\0",
                "failed to decode escaped character: encoding/hex: invalid byte: 0",
            ),
            (
                "DC=example,=net",
                "DN ended with incomplete type, value pair",
            ),
            ("test,DC=example,DC=com", "incomplete type, value pair"),
            ("=test,DC=example,DC=com", "incomplete type, value pair"),
            (
                "1.3.6.1.4.1.1466.0=test+",
                "DN ended with incomplete type, value pair",
            ),
            (
                "1.3.6.1.4.1.1466.0=test;",
                "DN ended with incomplete type, value pair",
            ),
            ("1.3.6.1.4.1.1466.0=test+,", "incomplete type, value pair"),
            ("cn=a\\", "got corrupted escaped character: 'a\\'"),
            (
                "cn=\\é1",
                "failed to decode escaped character: invalid byte: é1",
            ),
        ];
        for (dn, want) in cases {
            assert_eq!(ldap_parse_dn(dn).err().as_deref(), Some(want), "DN {dn:?}");
        }
    }

    #[test]
    fn notation_rules() {
        assert_eq!(
            parse_dn(" C=US, S=WA ,O=x\\2cy").ok(),
            Some(one(&[("C", "US"), ("ST", "WA"), ("O", "x,y")]))
        );
        // Go only treats a non-empty earlier value as a duplicate.
        assert_eq!(
            parse_dn("C=,C=US,ST=WA,O=o").ok(),
            Some(one(&[("C", "US"), ("ST", "WA"), ("O", "o")]))
        );
        // An empty mandatory value counts as missing.
        assert_eq!(
            parse_dn("C=US,ST=,O=o").err().as_deref(),
            Some(
                "distinguished name (DN) \"C=US,ST=,O=o\" has no mandatory RDN attribute for \"ST\", it must contain 'C', 'ST' or 'S', and 'O' RDN attributes at a minimum"
            )
        );
        // Attribute types are case-sensitive.
        assert!(parse_dn("c=US,ST=WA,O=o").is_err());
        assert_eq!(
            parse_dn("   ").err().as_deref(),
            Some(
                "distinguished name (DN) \"   \" has no mandatory RDN attribute for \"C\", it must contain 'C', 'ST' or 'S', and 'O' RDN attributes at a minimum"
            )
        );
        // Raw bytes survive for comparisons and printing.
        let m = parse_dn_bytes("C=US,ST=WA,O=\\ff").unwrap_or_default();
        assert_eq!(lookup(&m, b"O"), &[0xff]);
        assert_eq!(
            go_format_map_list(&[m]),
            "[map[\"C\":\"US\" \"O\":\"\\xff\" \"ST\":\"WA\"]]"
        );
    }

    #[test]
    fn subset_semantics() {
        let a = parse_dn_bytes("C=US,ST=WA,O=o").unwrap_or_default();
        let b = parse_dn_bytes("C=US,ST=WA,O=o,CN=x").unwrap_or_default();
        assert!(is_subset(&a, &b));
        assert!(!is_subset(&b, &a));
        // A key with an empty value matches a missing key (Go map semantics).
        let c = parse_dn_bytes("C=US,ST=WA,O=o,OU=").unwrap_or_default();
        assert!(is_subset(&c, &a));
    }

    #[test]
    fn quote_like_go() {
        assert_eq!(q("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(q("tab\there\n"), r#""tab\there\n""#);
        assert_eq!(q("\u{1}\u{7f}"), r#""\x01\x7f""#);
        assert_eq!(q("héllo ⭐"), "\"héllo ⭐\"");
        assert_eq!(q("\u{a0}\u{200b}"), r#""\u00a0\u200b""#);
        assert_eq!(q("\u{f0000}"), r#""\U000f0000""#);
        assert_eq!(go_quote(&[b'a', 0xff, 0xe2, 0x82]), r#""a\xff\xe2\x82""#);
    }
}
