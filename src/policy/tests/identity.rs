//! DN parsing, trusted-identity matching, Go's rendering of certificate subjects.

use super::*;
use crate::gocompat::pkix_name::name_string;

#[test]
fn dn_parsing_cases() {
    let cases = read_json("policies/registry-scope-and-identity-cases.json");
    let list = cases["dn_parsing_cases"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(list.len(), 8);
    for case in list {
        let dn = case["dn"].as_str().unwrap_or_default();
        let valid = case["valid"].as_bool().unwrap_or(false);
        assert_eq!(parse_dn(dn).is_ok(), valid, "DN {dn:?}: {:?}", parse_dn(dn));
    }
    assert_eq!(
        parse_dn("C=US,ST=California,O=Notary Project,S=California")
            .err()
            .as_deref(),
        Some(
            "distinguished name (DN) \"C=US,ST=California,O=Notary Project,S=California\" has duplicate RDN attribute for \"ST\", DN can only have unique RDN attributes"
        )
    );
    assert_eq!(
        parse_dn("invalid").err().as_deref(),
        Some(
            "parsing distinguished name (DN) \"invalid\" failed with err: DN ended with incomplete type, value pair. A valid DN must contain 'C', 'ST' or 'S', and 'O' RDN attributes at a minimum, and follow RFC 4514 standard"
        )
    );
    assert_eq!(
        parse_dn("C=US,S=California,O=Notary Project"),
        Ok(vec![
            ("C".to_string(), "US".to_string()),
            ("ST".to_string(), "California".to_string()),
            ("O".to_string(), "Notary Project".to_string())
        ])
    );
    // notation-go TestValidateTrustedIdentities: escapes and spaces are accepted.
    let doc = policy(json!({"trustedIdentities": [
        "x509.subject:C=US,ST=WA,O=MyOrg",
        "x509.subject:C=US,ST=WA,O=  My.  Org",
        "x509.subject:C=US,ST=WA,O=My \"special\" Org \\, \\; \\\\ others",
        "unknown:my-trusted-identity"
    ]}));
    let doc = PolicyDocument::from_json(&doc).unwrap_or_else(|e| panic!("{e:?}"));
    match &doc.statements[0].trusted_identities[2] {
        TrustedIdentity::X509Subject { attrs, .. } => {
            assert_eq!(attrs[2].1, "My \"special\" Org , ; \\ others")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        doc.statements[0].trusted_identities[3],
        TrustedIdentity::Other("unknown:my-trusted-identity".into())
    );
}

fn statement_with(identities: &[&str]) -> Statement {
    Statement {
        name: "test-statement-name".into(),
        registry_scopes: vec!["*".into()],
        level: VerificationLevel::preset("strict").unwrap_or_else(|| panic!()),
        verify_timestamp: VerifyTimestamp::Always,
        trust_stores: vec![],
        trusted_identities: identities
            .iter()
            .map(|s| match s.split_once(':') {
                _ if *s == "*" => TrustedIdentity::Any,
                Some((X509_SUBJECT, v)) => TrustedIdentity::X509Subject {
                    raw: s.to_string(),
                    attrs: parse_dn(v).unwrap_or_default(),
                },
                _ => TrustedIdentity::Other(s.to_string()),
            })
            .collect(),
    }
}

#[test]
fn identity_matching_cases() {
    let cases = read_json("policies/registry-scope-and-identity-cases.json");
    let list = cases["trustedIdentity_matching"]["cases"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(list.len(), 10);
    let mismatch = |maps: &str| {
        format!(
            "signing certificate from the digital signature does not match the X.509 trusted identities {maps} defined in the trust policy \"test-statement-name\""
        )
    };
    let ind = "map[\"C\":\"IND\" \"O\":\"SomeOrg\" \"ST\":\"TS\"]";
    for (i, case) in list.iter().enumerate() {
        let cert = case["cert"].as_str().unwrap_or_default();
        let ids: Vec<&str> = case["trustedIdentities"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap_or_default()).collect())
            .unwrap_or_default();
        let leaf = leaf_cert(&format!("certs/cert-validation/{cert}"));
        let got = statement_with(&ids).check_trusted_identity(&leaf);
        if case["match"].as_bool() == Some(true) {
            assert_eq!(got, Ok(()), "case {i}: {ids:?}");
            continue;
        }
        let want = match (i, case["error"].as_str()) {
            (_, Some(e)) => e.to_string(),
            (5 | 6, None) => mismatch(&format!("[{ind}]")),
            (7, None) => mismatch(&format!(
                "[{ind} map[\"C\":\"LOL\" \"O\":\"LOL\" \"ST\":\"LOL\"]]"
            )),
            (8, None) => "unsupported distinguished name (DN) \"C=bad=#identity,O=LOL,ST=LOL\": notation does not support x509.subject identities containing \"=#\"".to_string(),
            (9, None) => "error while parsing the certificate subject from the digital signature. error : \"unsupported distinguished name (DN) \\\"CN=Bad=#CN,OU=SomeOU,O=SomeOrg,L=Seattle,ST=WA,C=US\\\": notation does not support x509.subject identities containing \\\"=#\\\"\"".to_string(),
            _ => panic!("case {i} changed: {case}"),
        };
        assert_eq!(got, Err(want), "case {i}: {ids:?}");
    }
}

#[test]
fn identity_mismatch_message_from_policy_file() {
    let bytes = fs::read(td(
        "policies/valid/e2e_invalid_trusted_identity_trustpolicy.json",
    ))
    .unwrap_or_default();
    let doc = PolicyDocument::from_json(&bytes).unwrap_or_else(|e| panic!("{e:?}"));
    let leaf = leaf_cert("certs/cert-validation/signing-cert.pem");
    assert_eq!(
        doc.statements[0].check_trusted_identity(&leaf),
        Err("signing certificate from the digital signature does not match the X.509 trusted identities [map[\"C\":\"USB\" \"CN\":\"e2e\" \"L\":\"Seattle\" \"O\":\"Notary\" \"ST\":\"WA\"]] defined in the trust policy \"e2e\"".to_string())
    );
    let st = statement_with(&["x509.subject:C=US,ST=WA,O=SomeOrg,OU=SomeOU,CN=SomeCN,L=Seattle"]);
    assert_eq!(st.check_trusted_identity(&leaf), Ok(()));
    // Case-sensitive values.
    let st = statement_with(&["x509.subject:C=us,ST=WA,O=SomeOrg"]);
    assert!(st.check_trusted_identity(&leaf).is_err());
    // As data: the identities as notation-go parsed them.
    assert_eq!(
        st.trusted_identity(&leaf),
        Err(IdentityError::NoMatch {
            statement: st.name.clone(),
            identities: vec![vec![
                (b"C".to_vec(), b"us".to_vec()),
                (b"ST".to_vec(), b"WA".to_vec()),
                (b"O".to_vec(), b"SomeOrg".to_vec()),
            ]],
        })
    );
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    if content.len() < 0x80 {
        out.push(content.len() as u8);
    } else {
        out.push(0x81);
        out.push(content.len() as u8);
    }
    out.extend_from_slice(content);
    out
}

fn atv(oid: &[u8], tag: u8, value: &str) -> Vec<u8> {
    let mut c = tlv(0x06, oid);
    c.extend(tlv(tag, value.as_bytes()));
    tlv(0x30, &c)
}

fn name_der(rdns: &[Vec<Vec<u8>>]) -> Vec<u8> {
    let body: Vec<u8> = rdns.iter().flat_map(|r| tlv(0x31, &r.concat())).collect();
    tlv(0x30, &body)
}

fn subject_of(der: &[u8]) -> Result<String, String> {
    use x509_parser::prelude::FromDer;
    let (_, name) = x509_parser::x509::X509Name::from_der(der).map_err(|e| e.to_string())?;
    name_string(&name)
}

#[test]
fn go_subject_rendering() {
    for (file, want) in [
        (
            "signing-cert.pem",
            "CN=SomeCN,OU=SomeOU,O=SomeOrg,L=Seattle,ST=WA,C=US",
        ),
        (
            "bad-cert.pem",
            "CN=Bad=#CN,OU=SomeOU,O=SomeOrg,L=Seattle,ST=WA,C=US",
        ),
    ] {
        let der = pem_der(&format!("certs/cert-validation/{file}"));
        let (_, cert) =
            x509_parser::parse_x509_certificate(&der).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(name_string(cert.subject()).as_deref(), Ok(want));
    }
    let oid = |n: u8| vec![0x55, 0x04, n];
    let email = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01];
    let der = name_der(&[
        vec![atv(&oid(6), 0x13, "US")],
        vec![atv(&email, 0x16, "a@b.c")],
        vec![atv(&oid(11), 0x0c, "x")],
        vec![atv(&oid(8), 0x0c, "WA")],
        vec![atv(&oid(11), 0x0c, "y,z")],
        vec![atv(&oid(10), 0x0c, " #Org ")],
        vec![atv(&oid(3), 0x0c, "first")],
        vec![atv(&oid(3), 0x0c, "last")],
        vec![atv(&oid(5), 0x13, "123")],
        // T61String: Go keeps the raw bytes (crypto/x509 parseASN1String), here UTF-8 "é".
        vec![atv(&oid(7), 0x14, "Sea\u{e9}"), atv(&oid(42), 0x13, "Bob")],
    ]);
    assert_eq!(
        subject_of(&der).as_deref(),
        Ok(
            "SERIALNUMBER=123,CN=last,OU=x+OU=y\\,z,O=\\ #Org\\ ,L=Seaé,ST=WA,C=US,2.5.4.42=#1303426f62,1.2.840.113549.1.9.1=#0c056140622e63"
        )
    );
    // Go rejects such certificates at parse time.
    let der = name_der(&[vec![atv(&oid(6), 0x13, "U_S")]]);
    let err = subject_of(&der).unwrap_err();
    assert!(err.contains("invalid PrintableString"), "{err}");
    // A leaf subject with two OUs renders as a multi-valued RDN, which notation rejects.
    let der = name_der(&[
        vec![atv(&oid(6), 0x13, "US")],
        vec![atv(&oid(8), 0x13, "WA")],
        vec![atv(&oid(10), 0x13, "O")],
        vec![atv(&oid(11), 0x13, "a")],
        vec![atv(&oid(11), 0x13, "b")],
    ]);
    let s = subject_of(&der).unwrap_or_default();
    assert_eq!(s, "OU=a+OU=b,O=O,ST=WA,C=US");
    assert!(parse_dn(&s).is_err());
}
