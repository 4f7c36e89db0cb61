//! go-ldap `ParseDN` and notation-go's DN rules.

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
