use super::cert::sha256_hex;
use super::*;
use crate::gocompat::asn1::der_len;
use crate::gocompat::pem::base64_std_decode;
use crate::gocompat::pkix_name::name_from_attributes as go_name_from_attributes;
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    BasicConstraints as BcExt, ExtendedKeyUsage as EkuExt, KeyUsage as KuExt,
};
use openssl::x509::{X509Builder, X509Name, X509NameBuilder};

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/notation");

fn read(rel: &str) -> Vec<u8> {
    let path = format!("{TESTDATA}/{rel}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn load(rel: &str) -> Vec<Cert> {
    parse_certs(&read(rel)).unwrap_or_else(|e| panic!("parse {rel}: {e}"))
}

/// One certificate as Go's crypto/x509 + notation-core-go `parseCertificates` print it over the
/// test data: `Subject.String()`, `Issuer.String()`, NotBefore and NotAfter in RFC 1123Z
/// (`testdata/go_reference.json`).
#[derive(serde::Deserialize)]
struct GoReference {
    file: String,
    index: usize,
    subject: String,
    issuer: String,
    not_before: String,
    not_after: String,
}

fn go_reference() -> Vec<GoReference> {
    serde_json::from_str(include_str!("testdata/go_reference.json")).expect("go_reference.json")
}

#[test]
fn subjects_issuers_and_validity_match_go() {
    let reference = go_reference();
    for r in &reference {
        let (file, idx) = (&r.file, r.index);
        let certs = load(file);
        let cert = &certs[idx];
        assert_eq!(cert.subject(), r.subject, "{file}[{idx}] subject");
        assert_eq!(cert.issuer(), r.issuer, "{file}[{idx}] issuer");
        assert_eq!(
            format_rfc1123z(cert.not_before()),
            r.not_before,
            "{file}[{idx}]"
        );
        assert_eq!(
            format_rfc1123z(cert.not_after()),
            r.not_after,
            "{file}[{idx}]"
        );
    }
    assert_eq!(reference.len(), 105);
    // Every file Go parses must have the same number of certificates.
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for r in &reference {
        match counts.iter_mut().find(|(f, _)| *f == r.file) {
            Some(entry) => entry.1 = entry.1.max(r.index + 1),
            None => counts.push((&r.file, r.index + 1)),
        }
    }
    for (file, n) in counts {
        assert_eq!(load(file).len(), n, "{file}");
    }
}

#[test]
fn parse_pem_der_and_multi() {
    let pem = load("certs/cert-validation/notation-core-go_pem.crt");
    let der = load("certs/cert-validation/notation-core-go_der.der");
    assert_eq!(pem.len(), 1);
    assert_eq!(der.len(), 1);
    assert_eq!(pem[0], der[0]);
    assert_eq!(
        pem[0].der,
        read("certs/cert-validation/notation-core-go_der.der")
    );
    let multi_pem = load("certs/cert-validation/notation-core-go_multi-pem.crt");
    let multi_der = load("certs/cert-validation/notation-core-go_multi-der.der");
    assert_eq!(multi_pem.len(), 2);
    assert_eq!(multi_der.len(), 2);
    assert_eq!(multi_pem, multi_der);
    assert_eq!(
        pem[0].sha256_fingerprint(),
        sha256_hex(&read("certs/cert-validation/notation-core-go_der.der"))
    );
    assert!(pem[0].is_ca());
    assert!(pem[0].is_self_signed());
    let min = load("certs/cert-validation/notation-core-go_openssl-minimum-self-signed.pem");
    assert_eq!(min.len(), 1);
    assert!(!min[0].is_ca());
    assert!(min[0].is_self_signed());
}

#[test]
fn parse_edge_cases() {
    // Empty input: no certificates, no error (Go returns an empty list).
    assert!(parse_certs(b"").unwrap().is_empty());
    // Not PEM and not DER.
    assert!(parse_certs(b"hello world").is_err());
    assert!(
        parse_certs(&read(
            "truststores/notation-go_verifier_testdata_truststore/x509/ca/trust-store-with-invalid-certs/invalid"
        ))
        .is_err()
    );
    // A CMS blob is DER but not a certificate.
    assert!(parse_certs(&read("timestamp-tokens/tspclient-go/TimeStampToken.p7s")).is_err());
    // Text before and after PEM blocks is ignored; block type is not checked.
    let pem = read("certs/cert-validation/notation-core-go_pem.crt");
    let mut wrapped = b"leading text\n".to_vec();
    wrapped.extend_from_slice(&pem);
    wrapped.extend_from_slice(b"trailing text\n");
    assert_eq!(parse_certs(&wrapped).unwrap().len(), 1);
    let renamed = String::from_utf8(pem.clone())
        .unwrap()
        .replace("CERTIFICATE", "FOO");
    assert_eq!(parse_certs(renamed.as_bytes()).unwrap().len(), 1);
    // A PEM block that is not a certificate fails.
    let key = PKey::from_ec_key(
        EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap(),
    )
    .unwrap();
    let key_pem = key.private_key_to_pem_pkcs8().unwrap();
    assert!(parse_certs(&key_pem).is_err());
    let mut mixed = pem.clone();
    mixed.extend_from_slice(&key_pem);
    assert!(parse_certs(&mixed).is_err());
    // DER with trailing garbage fails; from_der refuses trailing data.
    let mut der = read("certs/cert-validation/notation-core-go_der.der");
    assert!(Cert::from_der(&der).is_ok());
    der.push(0);
    assert!(Cert::from_der(&der).is_err());
    assert!(parse_certs(&der).is_err());
    // Truncated DER.
    let der = read("certs/cert-validation/notation-core-go_der.der");
    assert!(parse_certs(&der[..der.len() - 1]).is_err());
    // A PEM block with broken base64 is skipped (Go pem.Decode): no
    // block at all then means DER parsing of the whole text, which fails.
    let broken = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    assert!(parse_certs(broken.as_bytes()).is_err());
    let mut broken_then_good = broken.as_bytes().to_vec();
    broken_then_good.extend_from_slice(&pem);
    assert_eq!(parse_certs(&broken_then_good).unwrap().len(), 1);
}

#[test]
fn base64_decoder() {
    assert_eq!(base64_std_decode(b"").unwrap(), b"");
    assert_eq!(base64_std_decode(b"Zg==").unwrap(), b"f");
    assert_eq!(base64_std_decode(b"Zm8=").unwrap(), b"fo");
    assert_eq!(base64_std_decode(b"Zm9v\r\nYmFy").unwrap(), b"foobar");
    assert!(base64_std_decode(b"Zg").is_none());
    assert!(base64_std_decode(b"Zg==Zg==").is_none());
    assert!(base64_std_decode(b"Z===").is_none());
    assert!(base64_std_decode(b"Zm9-").is_none());
}

#[test]
fn revocation_urls_of_e2e_chains() {
    let crl = load("certs/revocation-e2e/certchain_with_crl.pem");
    assert_eq!(crl.len(), 3);
    let (ocsp, crls) = crl[0].revocation_urls();
    assert!(ocsp.is_empty());
    assert_eq!(crls.len(), 1);
    assert!(crls[0].starts_with("http://"), "{crls:?}");
    assert!(!crl[1].crl_urls().is_empty());
    let ocsp_chain = load("certs/revocation-e2e/certchain_with_ocsp.pem");
    assert_eq!(ocsp_chain.len(), 2);
    assert_eq!(ocsp_chain[0].ocsp_urls().len(), 1);
    assert!(ocsp_chain[0].ocsp_urls()[0].starts_with("http://"));
    validate_code_signing_chain(&crl).unwrap();
    validate_code_signing_chain(&ocsp_chain).unwrap();
}

#[test]
fn every_signing_chain_passes_and_derives_its_algorithm() {
    let dir = format!("{TESTDATA}/certs/signing");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".chain.pem"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 37);
    // Leaves with an RSA-3072 key (checked with `openssl x509 -text`); all
    // others are RSA-2048.
    let rsa3072 = [
        "notation-go_example_verifyBlob.jws.chain.pem",
        "notation-go_mock_ca_expired_sig_env.json.chain.pem",
        "notation-go_mock_ca_invalid_sig_env.json.chain.pem",
        "notation-go_mock_ca_plugin_sig_env.json.chain.pem",
        "notation-go_mock_ca_valid_sig_env.json.chain.pem",
        "notation-go_mock_sa_expired_sig_env.json.chain.pem",
        "notation-go_mock_sa_invalid_sig_env.json.chain.pem",
        "notation-go_mock_sa_plugin_sig_env.json.chain.pem",
        "notation-go_mock_sa_valid_sig_env.json.chain.pem",
        "notation-go_verifier_test_testSig.jws.chain.pem",
    ];
    let mut multi = 0;
    for name in &names {
        let chain = load(&format!("certs/signing/{name}"));
        validate_code_signing_chain(&chain).unwrap_or_else(|e| panic!("{name}: {e}"));
        if chain.len() > 1 {
            multi += 1;
        }
        let alg = signature_algorithm(&chain[0]).unwrap();
        let (expected, jws, cose) = if rsa3072.contains(&name.as_str()) {
            (SigAlg::PS384, "PS384", -38)
        } else {
            (SigAlg::PS256, "PS256", -37)
        };
        assert_eq!(alg, expected, "{name}");
        assert_eq!(alg.as_jws(), jws);
        assert_eq!(alg.cose_alg(), cose);
        assert!(alg.is_rsa_pss());
    }
    // The eight mock_{ca,sa} chains are leaf + root; the rest self-signed.
    assert_eq!(multi, 8);
}

#[test]
fn digicert_timestamping_chain() {
    let chain: Vec<Cert> = [
        "certs/cert-validation/notation-core-go_timestamp_leaf.crt",
        "certs/cert-validation/notation-core-go_timestamp_intermediate.crt",
        "certs/cert-validation/notation-core-go_timestamp_root.crt",
    ]
    .iter()
    .flat_map(|f| load(f))
    .collect();
    validate_timestamping_chain(&chain).unwrap();
    assert_eq!(
        validate_code_signing_chain(&chain).unwrap_err(),
        r#"certificate with subject "CN=DigiCert Timestamp 2023,O=DigiCert\\, Inc.,C=US": extended key usage must not contain Timestamping eku"#
    );
    // Wrong order: the root first is a self-signed "leaf".
    let reversed: Vec<Cert> = chain.iter().rev().cloned().collect();
    assert_eq!(
        validate_timestamping_chain(&reversed).unwrap_err(),
        r#"leaf certificate with subject "CN=DigiCert Trusted Root G4,OU=www.digicert.com,O=DigiCert Inc,C=US" is self-signed. Certificate chain must not contain self-signed leaf certificate"#
    );
    // Missing intermediate.
    let gap = vec![chain[0].clone(), chain[2].clone()];
    let e = validate_timestamping_chain(&gap).unwrap_err();
    assert_eq!(
        e,
        r#"invalid certificates or certificate with subject "CN=DigiCert Timestamp 2023,O=DigiCert\\, Inc.,C=US" is not issued by "CN=DigiCert Trusted Root G4,OU=www.digicert.com,O=DigiCert Inc,C=US". Error: crypto/rsa: verification error"#
    );
}

#[test]
fn validity_messages() {
    let cert = load("certs/roots/wabbit-networks.io.crt").remove(0);
    let nb = cert.not_before();
    let na = cert.not_after();
    check_validity_at(std::slice::from_ref(&cert), nb).unwrap();
    check_validity_at(std::slice::from_ref(&cert), na).unwrap();
    let before = nb - time::Duration::seconds(1);
    assert_eq!(
        check_validity_at(std::slice::from_ref(&cert), before).unwrap_err(),
        format!(
            "verification time is before certificate \"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US\" validity period, it will be valid from \"{}\"",
            format_rfc1123z(nb)
        )
    );
    let after = na + time::Duration::seconds(1);
    assert_eq!(
        check_validity_at(std::slice::from_ref(&cert), after).unwrap_err(),
        format!(
            "verification time is after certificate \"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US\" validity period, it was expired at \"{}\"",
            format_rfc1123z(na)
        )
    );
    // The expired e2e certificate (valid 2023-06-26 .. 2023-06-27).
    let expired = load("certs/roots/notation-e2e_expired_e2e.crt");
    let at = time::macros::datetime!(2024-07-01 00:00:00 UTC);
    let e = check_validity_at(&expired, at).unwrap_err();
    assert!(e.starts_with("verification time is after certificate \"O=Internet Widgits Pty Ltd,ST=Some-State,C=AU\" validity period, it was expired at \""), "{e}");
    assert!(e.contains("Jun 2023"), "{e}");
    assert_eq!(
        format_rfc1123z(time::macros::datetime!(2006-01-02 15:04:05 -7)),
        "Mon, 02 Jan 2006 22:04:05 +0000"
    );
    assert_eq!(
        format_rfc1123z(time::macros::datetime!(2024-02-05 03:04:05 UTC)),
        "Mon, 05 Feb 2024 03:04:05 +0000"
    );
}

#[test]
fn go_quote_escapes() {
    assert_eq!(go_quote("abc"), "\"abc\"");
    assert_eq!(go_quote(r#"a"b\c"#), r#""a\"b\\c""#);
    assert_eq!(go_quote("a\nb\t\u{1}\u{7f}"), r#""a\nb\t\x01\x7f""#);
    assert_eq!(go_quote("Ünï 日本"), "\"Ünï 日本\"");
    assert_eq!(go_quote("\u{a0}\u{200b}"), r#""\u00a0\u200b""#);
}

#[test]
fn sig_alg_tables() {
    let all = [
        SigAlg::PS256,
        SigAlg::PS384,
        SigAlg::PS512,
        SigAlg::ES256,
        SigAlg::ES384,
        SigAlg::ES512,
    ];
    let cose = [-37, -38, -39, -7, -35, -36];
    for (alg, c) in all.iter().zip(cose) {
        assert_eq!(alg.cose_alg(), c);
        assert_eq!(SigAlg::from_cose(c), Some(*alg));
        assert_eq!(SigAlg::from_jws(alg.as_jws()), Some(*alg));
        assert_eq!(alg.hash().size(), alg.hash_len());
        assert_eq!(alg.is_rsa_pss(), alg.as_jws().starts_with("PS"));
        assert_eq!(format!("{alg}"), alg.as_jws());
    }
    assert_eq!(SigAlg::PS384.hash_name(), "sha384");
    assert_eq!(SigAlg::from_jws("RS256"), None);
    assert_eq!(SigAlg::from_jws("none"), None);
    assert_eq!(SigAlg::from_cose(-8), None);
}

// ---------------------------------------------------------------------
// Generated certificates
// ---------------------------------------------------------------------

fn ec_key(nid: Nid) -> PKey<Private> {
    PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap()).unwrap()
}

fn rsa_key(bits: u32) -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap()
}

fn name(cn: &str) -> X509Name {
    let mut b = X509NameBuilder::new().unwrap();
    b.append_entry_by_text("CN", cn).unwrap();
    b.build()
}

#[derive(Clone)]
struct Spec<'a> {
    cn: &'a str,
    /// Issuer name override (defaults to the signer's subject).
    issuer_cn: Option<&'a str>,
    /// (cA, critical, pathLen)
    bc: Option<(bool, bool, Option<u32>)>,
    /// (critical, usages)
    ku: Option<(bool, &'a [&'a str])>,
    /// (critical, usages)
    eku: Option<(bool, &'a [&'a str])>,
    digest: Option<MessageDigest>,
}

fn leaf_spec(cn: &str) -> Spec<'_> {
    Spec {
        cn,
        issuer_cn: None,
        bc: None,
        ku: Some((true, &["digitalSignature"])),
        eku: Some((false, &["codeSigning"])),
        digest: Some(MessageDigest::sha256()),
    }
}

fn ca_spec(cn: &str) -> Spec<'_> {
    Spec {
        cn,
        issuer_cn: None,
        bc: Some((true, true, None)),
        ku: Some((true, &["keyCertSign", "cRLSign"])),
        eku: None,
        digest: Some(MessageDigest::sha256()),
    }
}

fn tsa_spec(cn: &str) -> Spec<'_> {
    Spec {
        eku: Some((true, &["timeStamping"])),
        ..leaf_spec(cn)
    }
}

/// Builds a certificate for `key`, signed by `signer` (cert + key) or self-signed.
fn build(spec: &Spec<'_>, key: &PKey<Private>, signer: Option<(&Cert, &PKey<Private>)>) -> Cert {
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let serial = BigNum::from_u32(rand_serial()).unwrap();
    b.set_serial_number(&Asn1Integer::from_bn(&serial).unwrap())
        .unwrap();
    b.set_subject_name(&name(spec.cn)).unwrap();
    let issuer_name = match (spec.issuer_cn, signer) {
        (Some(cn), _) => name(cn),
        (None, Some((c, _))) => c.x509().unwrap().subject_name().to_owned().unwrap(),
        (None, None) => name(spec.cn),
    };
    b.set_issuer_name(&issuer_name).unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    if let Some((ca, critical, pathlen)) = spec.bc {
        let mut e = BcExt::new();
        if ca {
            e.ca();
        }
        if critical {
            e.critical();
        }
        if let Some(p) = pathlen {
            e.pathlen(p);
        }
        b.append_extension(e.build().unwrap()).unwrap();
    }
    if let Some((critical, usages)) = spec.ku {
        let mut e = KuExt::new();
        if critical {
            e.critical();
        }
        for u in usages {
            match *u {
                "digitalSignature" => e.digital_signature(),
                "keyEncipherment" => e.key_encipherment(),
                "dataEncipherment" => e.data_encipherment(),
                "keyAgreement" => e.key_agreement(),
                "keyCertSign" => e.key_cert_sign(),
                "cRLSign" => e.crl_sign(),
                "encipherOnly" => e.encipher_only(),
                "decipherOnly" => e.decipher_only(),
                other => panic!("unknown usage {other}"),
            };
        }
        b.append_extension(e.build().unwrap()).unwrap();
    }
    if let Some((critical, usages)) = spec.eku {
        let mut e = EkuExt::new();
        if critical {
            e.critical();
        }
        for u in usages {
            e.other(u);
        }
        b.append_extension(e.build().unwrap()).unwrap();
    }
    let signing_key = signer.map(|(_, k)| k).unwrap_or(key);
    let digest = if signing_key.id() == openssl::pkey::Id::ED25519 {
        MessageDigest::null()
    } else {
        spec.digest.unwrap_or_else(MessageDigest::null)
    };
    b.sign(signing_key, digest).unwrap();
    let der = b.build().to_der().unwrap();
    Cert::from_der(&der).unwrap()
}

fn rand_serial() -> u32 {
    let mut buf = [0u8; 4];
    openssl::rand::rand_bytes(&mut buf).unwrap();
    u32::from_be_bytes(buf) & 0x7fff_ffff | 1
}

/// A root → intermediate chain (EC P-256 keys).
struct Ca {
    root: Cert,
    root_key: PKey<Private>,
    inter: Cert,
    inter_key: PKey<Private>,
}

fn ca() -> Ca {
    let root_key = ec_key(Nid::X9_62_PRIME256V1);
    let root = build(&ca_spec("root"), &root_key, None);
    let inter_key = ec_key(Nid::X9_62_PRIME256V1);
    let inter = build(&ca_spec("inter"), &inter_key, Some((&root, &root_key)));
    Ca {
        root,
        root_key,
        inter,
        inter_key,
    }
}

fn chain_with_leaf(ca: &Ca, spec: &Spec<'_>, key: &PKey<Private>) -> Vec<Cert> {
    let leaf = build(spec, key, Some((&ca.inter, &ca.inter_key)));
    vec![leaf, ca.inter.clone(), ca.root.clone()]
}

fn cs_err(chain: &[Cert]) -> String {
    validate_code_signing_chain(chain).unwrap_err()
}

#[test]
fn generated_good_chains_and_algorithms() {
    let ca = ca();
    for (key, alg) in [
        (ec_key(Nid::X9_62_PRIME256V1), SigAlg::ES256),
        (ec_key(Nid::SECP384R1), SigAlg::ES384),
        (ec_key(Nid::SECP521R1), SigAlg::ES512),
        (rsa_key(2048), SigAlg::PS256),
        (rsa_key(3072), SigAlg::PS384),
        (rsa_key(4096), SigAlg::PS512),
    ] {
        let chain = chain_with_leaf(&ca, &leaf_spec("leaf"), &key);
        validate_code_signing_chain(&chain).unwrap();
        assert_eq!(signature_algorithm(&chain[0]).unwrap(), alg);
        // Leaf alone is not self-signed.
        assert!(!chain[0].is_self_signed());
        // Self-signed single leaf.
        let single = build(&leaf_spec("self"), &key, None);
        validate_code_signing_chain(std::slice::from_ref(&single)).unwrap();
        assert!(single.is_self_signed());
    }
    // Two-certificate chain; EKU absent; BC present with cA false.
    let key = ec_key(Nid::X9_62_PRIME256V1);
    let spec = Spec {
        eku: None,
        bc: Some((false, true, None)),
        ..leaf_spec("leaf")
    };
    let leaf = build(&spec, &key, Some((&ca.root, &ca.root_key)));
    validate_code_signing_chain(&[leaf, ca.root.clone()]).unwrap();
    // Unknown EKUs and anyExtendedKeyUsage are accepted for code signing (Go).
    let spec = Spec {
        eku: Some((false, &["codeSigning", "1.2.3.4", "anyExtendedKeyUsage"])),
        ..leaf_spec("leaf")
    };
    validate_code_signing_chain(&chain_with_leaf(&ca, &spec, &key)).unwrap();
    // RSA-PSS signed certificates (hash = MGF1 hash, salt = hash length).
    let root_key = rsa_key(2048);
    let root = build(&ca_spec("pss-root"), &root_key, None);
    let pss_leaf = {
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&Asn1Integer::from_bn(&BigNum::from_u32(7).unwrap()).unwrap())
            .unwrap();
        b.set_subject_name(&name("pss-leaf")).unwrap();
        b.set_issuer_name(root.x509().unwrap().subject_name())
            .unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.append_extension(KuExt::new().critical().digital_signature().build().unwrap())
            .unwrap();
        // Sign conventionally, then re-sign the TBS with RSASSA-PSS.
        b.sign(&root_key, MessageDigest::sha256()).unwrap();
        sign_pss(b.build(), &root_key)
    };
    validate_code_signing_chain(&[pss_leaf, root]).unwrap();
    // Ed25519 CA above an ECDSA leaf (Go verifies Ed25519 signatures).
    let ed_key = PKey::generate_ed25519().unwrap();
    let ed_root = build(&ca_spec("ed-root"), &ed_key, None);
    let leaf = build(&leaf_spec("leaf"), &key, Some((&ed_root, &ed_key)));
    assert_eq!(leaf.sig_alg, CertSigAlg::Ed25519);
    assert_eq!(ed_root.sig_alg, CertSigAlg::Ed25519);
    validate_code_signing_chain(&[leaf, ed_root]).unwrap();
}

fn sign_pss(x: X509, key: &PKey<Private>) -> Cert {
    // Re-encode by hand: TBS with the PSS AlgorithmIdentifier, then sign.
    let pss_ai: &[u8] = &[
        0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x34,
        0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
        0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, 0x20,
    ];
    let der = x.to_der().unwrap();
    // Certificate ::= SEQUENCE { tbs, sigAlg, sig }: rebuild the TBS with
    // the PSS identifier.
    let (_, cert_body, _) = read_tlv(&der).unwrap();
    let (_, tbs_body, _) = read_tlv(cert_body).unwrap();
    // tbs: [0] version, serial, signature AI, ...
    let (_, _, after_version) = read_tlv(tbs_body).unwrap();
    let serial_len = tlv_len(after_version);
    let after_serial = &after_version[serial_len..];
    let ai_len = tlv_len(after_serial);
    let mut new_tbs_body = tbs_body[..tbs_body.len() - after_version.len()].to_vec();
    new_tbs_body.extend_from_slice(&after_version[..serial_len]);
    new_tbs_body.extend_from_slice(pss_ai);
    new_tbs_body.extend_from_slice(&after_serial[ai_len..]);
    let tbs = wrap(0x30, &new_tbs_body);
    let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), key).unwrap();
    signer
        .set_rsa_padding(openssl::rsa::Padding::PKCS1_PSS)
        .unwrap();
    signer
        .set_rsa_pss_saltlen(openssl::sign::RsaPssSaltlen::DIGEST_LENGTH)
        .unwrap();
    signer.set_rsa_mgf1_md(MessageDigest::sha256()).unwrap();
    signer.update(&tbs).unwrap();
    let sig = signer.sign_to_vec().unwrap();
    let mut bits = vec![0u8];
    bits.extend_from_slice(&sig);
    let mut body = tbs;
    body.extend_from_slice(pss_ai);
    body.extend_from_slice(&wrap(0x03, &bits));
    let cert = Cert::from_der(&wrap(0x30, &body)).unwrap();
    assert_eq!(cert.sig_alg, CertSigAlg::Sha256RsaPss);
    cert
}

fn tlv_len(input: &[u8]) -> usize {
    let (_, _, rest) = read_tlv(input).unwrap();
    input.len() - rest.len()
}

fn wrap(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    der_len(content.len(), &mut out);
    out.extend_from_slice(content);
    out
}

#[test]
fn generated_leaf_failures() {
    let ca = ca();
    let key = ec_key(Nid::X9_62_PRIME256V1);
    let leaf_q = "\"CN=leaf\"";

    let no_ku = Spec {
        ku: None,
        ..leaf_spec("leaf")
    };
    assert_eq!(
        cs_err(&chain_with_leaf(&ca, &no_ku, &key)),
        format!("certificate with subject {leaf_q}: key usage extension must be present")
    );
    let ku_not_critical = Spec {
        ku: Some((false, &["digitalSignature"])),
        ..leaf_spec("leaf")
    };
    assert_eq!(
        cs_err(&chain_with_leaf(&ca, &ku_not_critical, &key)),
        format!("certificate with subject {leaf_q}: key usage extension must be marked critical")
    );
    let leaf_ca = Spec {
        bc: Some((true, true, None)),
        ..leaf_spec("leaf")
    };
    assert_eq!(
        cs_err(&chain_with_leaf(&ca, &leaf_ca, &key)),
        format!(
            "certificate with subject {leaf_q}: if the basic constraints extension is present, the ca field must be set to false"
        )
    );
    let server_auth = Spec {
        eku: Some((false, &["codeSigning", "serverAuth"])),
        ..leaf_spec("leaf")
    };
    assert_eq!(
        cs_err(&chain_with_leaf(&ca, &server_auth, &key)),
        format!(
            "certificate with subject {leaf_q}: extended key usage must not contain ServerAuth eku"
        )
    );
    for (eku, name) in [
        ("clientAuth", "ClientAuth"),
        ("emailProtection", "EmailProtection"),
        ("timeStamping", "Timestamping"),
        ("OCSPSigning", "OCSPSigning"),
    ] {
        let usages = [eku];
        let spec = Spec {
            eku: Some((false, &usages)),
            ..leaf_spec("leaf")
        };
        assert_eq!(
            cs_err(&chain_with_leaf(&ca, &spec, &key)),
            format!(
                "certificate with subject {leaf_q}: extended key usage must not contain {name} eku"
            )
        );
    }
    let no_ds = Spec {
        ku: Some((true, &["keyEncipherment"])),
        ..leaf_spec("leaf")
    };
    assert_eq!(
        cs_err(&chain_with_leaf(&ca, &no_ds, &key)),
        format!(
            "the certificate with subject {leaf_q} is invalid. The key usage must have the bit positions for \"Digital Signature\" set"
        )
    );
    let extra = Spec {
        ku: Some((
            true,
            &[
                "digitalSignature",
                "keyEncipherment",
                "cRLSign",
                "decipherOnly",
            ],
        )),
        ..leaf_spec("leaf")
    };
    assert_eq!(
        cs_err(&chain_with_leaf(&ca, &extra, &key)),
        format!(
            "the certificate with subject {leaf_q} is invalid. The key usage must be \"Digital Signature\" only, but found \"KeyEncipherment\", \"CRLSign\", \"DecipherOnly\""
        )
    );
    // Key sizes.
    let rsa1024 = rsa_key(1024);
    let chain = chain_with_leaf(&ca, &leaf_spec("leaf"), &rsa1024);
    assert_eq!(
        cs_err(&chain),
        format!("certificate with subject {leaf_q}: rsa key size 1024 bits is not supported")
    );
    assert_eq!(
        signature_algorithm(&chain[0]).unwrap_err(),
        "rsa key size 1024 bits is not supported"
    );
    let p224 = ec_key(Nid::SECP224R1);
    let chain = chain_with_leaf(&ca, &leaf_spec("leaf"), &p224);
    assert_eq!(
        cs_err(&chain),
        format!("certificate with subject {leaf_q}: ecdsa key size 224 bits is not supported")
    );
    let ed = PKey::generate_ed25519().unwrap();
    let chain = chain_with_leaf(&ca, &leaf_spec("leaf"), &ed);
    assert_eq!(
        cs_err(&chain),
        format!("certificate with subject {leaf_q}: unsupported public key type")
    );
    assert_eq!(
        signature_algorithm(&chain[0]).unwrap_err(),
        "unsupported public key type"
    );
    // Self-signed single leaf that breaks a leaf rule.
    let single = build(&no_ku, &key, None);
    assert_eq!(
        cs_err(std::slice::from_ref(&single)),
        format!(
            "invalid self-signed certificate. Error: certificate with subject {leaf_q}: key usage extension must be present"
        )
    );
}

#[test]
fn generated_chain_shape_failures() {
    let ca = ca();
    let key = ec_key(Nid::X9_62_PRIME256V1);
    let chain = chain_with_leaf(&ca, &leaf_spec("leaf"), &key);
    validate_code_signing_chain(&chain).unwrap();

    assert_eq!(
        cs_err(&[]),
        "certificate chain must contain at least one certificate"
    );
    // Root first.
    let wrong: Vec<Cert> = chain.iter().rev().cloned().collect();
    assert_eq!(
        cs_err(&wrong),
        "leaf certificate with subject \"CN=root\" is self-signed. Certificate chain must not contain self-signed leaf certificate"
    );
    // Intermediate before leaf: the leaf cannot sign.
    let wrong = vec![chain[1].clone(), chain[0].clone(), chain[2].clone()];
    assert_eq!(
        cs_err(&wrong),
        "invalid certificates or certificate with subject \"CN=inter\" is not issued by \"CN=leaf\". Error: x509: invalid signature: parent certificate cannot sign this kind of certificate"
    );
    // Missing intermediate: signature does not verify.
    let gap = vec![chain[0].clone(), chain[2].clone()];
    assert_eq!(
        cs_err(&gap),
        "invalid certificates or certificate with subject \"CN=leaf\" is not issued by \"CN=root\". Error: x509: ECDSA verification failure"
    );
    // Missing root.
    assert_eq!(
        cs_err(&chain[..2]),
        "root certificate with subject \"CN=inter\" is invalid or not self-signed. Certificate chain must end with a valid self-signed root certificate. Error: x509: ECDSA verification failure"
    );
    // Signed by the right key but the issuer name differs.
    let renamed = Spec {
        issuer_cn: Some("other"),
        ..leaf_spec("leaf")
    };
    let leaf = build(&renamed, &key, Some((&ca.inter, &ca.inter_key)));
    assert_eq!(
        cs_err(&[leaf, ca.inter.clone(), ca.root.clone()]),
        "certificate with subject \"CN=leaf\" is not issued by \"CN=inter\""
    );
    // Self-signed intermediate in the middle.
    let self_inter = build(&ca_spec("self-inter"), &ca.inter_key, None);
    let leaf = build(&leaf_spec("leaf"), &key, Some((&self_inter, &ca.inter_key)));
    assert_eq!(
        cs_err(&[leaf, self_inter, ca.root.clone()]),
        "intermediate certificate with subject \"CN=self-inter\" is self-signed. Certificate chain must not contain self-signed intermediate certificate"
    );
    // Root that is self-signed by key but not self-issued.
    let odd_root = build(
        &Spec {
            issuer_cn: Some("elsewhere"),
            ..ca_spec("odd-root")
        },
        &ca.root_key,
        None,
    );
    let leaf = build(&leaf_spec("leaf"), &key, Some((&odd_root, &ca.root_key)));
    // The leaf's issuer is the odd root's subject, so issuance is fine; the
    // root fails the self-issued test.
    assert_eq!(
        cs_err(&[leaf, odd_root]),
        "root certificate with subject \"CN=odd-root\" is not self-signed. Certificate chain must end with a valid self-signed root certificate"
    );
    // Single certificate signed by somebody else.
    let lone = build(&leaf_spec("lone"), &key, Some((&ca.root, &ca.root_key)));
    assert_eq!(
        cs_err(std::slice::from_ref(&lone)),
        "invalid self-signed certificate. subject: \"CN=lone\". Error: x509: ECDSA verification failure"
    );
    // Single certificate signed by its own key with a foreign issuer name.
    let lone = build(
        &Spec {
            issuer_cn: Some("someone"),
            ..leaf_spec("lone")
        },
        &key,
        None,
    );
    assert_eq!(
        cs_err(std::slice::from_ref(&lone)),
        "invalid self-signed certificate. subject: \"CN=lone\". Error: issuer(CN=someone) and subject(CN=lone) are not the same"
    );
    assert_eq!(
        validate_timestamping_chain(std::slice::from_ref(&lone)).unwrap_err(),
        "invalid self-signed certificate. subject: \"CN=lone\". Error: issuer (CN=someone) and subject (CN=lone) are not the same"
    );
    // ECDSA-signed leaf presented with an RSA "parent".
    let rsa_root_key = rsa_key(2048);
    let rsa_root = build(&ca_spec("rsa-root"), &rsa_root_key, None);
    assert_eq!(
        cs_err(&[chain[0].clone(), rsa_root]),
        "invalid certificates or certificate with subject \"CN=leaf\" is not issued by \"CN=rsa-root\". Error: x509: signature algorithm specifies an ECDSA public key, but have public key of type *rsa.PublicKey"
    );
}

#[test]
fn generated_ca_failures() {
    let key = ec_key(Nid::X9_62_PRIME256V1);
    let root_key = ec_key(Nid::X9_62_PRIME256V1);
    let inter_key = ec_key(Nid::X9_62_PRIME256V1);
    // pathLen 0 on the root with an intermediate below it.
    let root = build(
        &Spec {
            bc: Some((true, true, Some(0))),
            ..ca_spec("root")
        },
        &root_key,
        None,
    );
    let inter = build(&ca_spec("inter"), &inter_key, Some((&root, &root_key)));
    let leaf = build(&leaf_spec("leaf"), &key, Some((&inter, &inter_key)));
    assert_eq!(
        cs_err(&[leaf.clone(), inter.clone(), root.clone()]),
        "certificate with subject \"CN=root\": expected path length of 1 but certificate has path length 0 instead"
    );
    // pathLen 0 directly above the leaf is fine.
    let leaf0 = build(&leaf_spec("leaf"), &key, Some((&root, &root_key)));
    validate_code_signing_chain(&[leaf0, root.clone()]).unwrap();

    // CA key usage not critical: code signing refuses, timestamping accepts.
    let root = build(
        &Spec {
            ku: Some((false, &["keyCertSign"])),
            ..ca_spec("root")
        },
        &root_key,
        None,
    );
    let leaf = build(&leaf_spec("leaf"), &key, Some((&root, &root_key)));
    assert_eq!(
        cs_err(&[leaf, root.clone()]),
        "certificate with subject \"CN=root\": key usage extension must be marked critical"
    );
    let tsa = build(&tsa_spec("tsa"), &key, Some((&root, &root_key)));
    validate_timestamping_chain(&[tsa, root]).unwrap();

    // CA without key usage.
    let root = build(
        &Spec {
            ku: None,
            ..ca_spec("root")
        },
        &root_key,
        None,
    );
    let leaf = build(&leaf_spec("leaf"), &key, Some((&root, &root_key)));
    assert_eq!(
        cs_err(&[leaf, root]),
        "certificate with subject \"CN=root\": key usage extension must be present"
    );

    // CA with basic constraints cA=false cannot sign at all.
    let root = build(
        &Spec {
            bc: Some((false, true, None)),
            ..ca_spec("root")
        },
        &root_key,
        None,
    );
    let leaf = build(&leaf_spec("leaf"), &key, Some((&root, &root_key)));
    // The leaf is checked first: its parent may not sign certificates.
    assert_eq!(
        cs_err(&[leaf, root.clone()]),
        "invalid certificates or certificate with subject \"CN=leaf\" is not issued by \"CN=root\". Error: x509: invalid signature: parent certificate cannot sign this kind of certificate"
    );
    // Go's isSelfSigned uses CheckSignatureFrom, so a non-CA is never
    // "self-signed" there.
    assert_eq!(
        cs_err(&[root.clone(), root]),
        "invalid certificates or certificate with subject \"CN=root\" is not issued by \"CN=root\". Error: x509: invalid signature: parent certificate cannot sign this kind of certificate"
    );
    // Basic constraints present but not critical is accepted (Go).
    let root = build(
        &Spec {
            bc: Some((true, false, None)),
            ..ca_spec("root")
        },
        &root_key,
        None,
    );
    let leaf = build(&leaf_spec("leaf"), &key, Some((&root, &root_key)));
    validate_code_signing_chain(&[leaf, root]).unwrap();
}

#[test]
fn generated_sha1_signatures() {
    let root_key = rsa_key(2048);
    let key = rsa_key(2048);
    let sha1 = |spec: Spec<'static>| Spec {
        digest: Some(MessageDigest::sha1()),
        ..spec
    };
    // SHA-1 signed leaf under a SHA-256 root.
    let root = build(&ca_spec("root"), &root_key, None);
    let leaf = build(&sha1(leaf_spec("leaf")), &key, Some((&root, &root_key)));
    assert_eq!(
        cs_err(&[leaf, root.clone()]),
        "invalid certificates or certificate with subject \"CN=leaf\" is not issued by \"CN=root\". Error: x509: cannot verify signature: insecure algorithm SHA1-RSA"
    );
    // SHA-1 self-signed root.
    let root1 = build(&sha1(ca_spec("root")), &root_key, None);
    let leaf = build(&leaf_spec("leaf"), &key, Some((&root1, &root_key)));
    assert_eq!(
        cs_err(&[leaf, root1]),
        "root certificate with subject \"CN=root\" is invalid or not self-signed. Certificate chain must end with a valid self-signed root certificate. Error: x509: cannot verify signature: insecure algorithm SHA1-RSA"
    );
    // ECDSA-SHA1.
    let ec_root_key = ec_key(Nid::X9_62_PRIME256V1);
    let ec_root = build(&ca_spec("root"), &ec_root_key, None);
    let leaf = build(
        &sha1(leaf_spec("leaf")),
        &key,
        Some((&ec_root, &ec_root_key)),
    );
    assert_eq!(
        cs_err(&[leaf, ec_root]),
        "invalid certificates or certificate with subject \"CN=leaf\" is not issued by \"CN=root\". Error: x509: cannot verify signature: insecure algorithm ECDSA-SHA1"
    );
    // A single self-signed SHA-1 leaf passes: Go's CheckSignature allows SHA-1.
    let single = build(&sha1(leaf_spec("self")), &key, None);
    assert!(single.check_self_signature().is_ok());
    validate_code_signing_chain(std::slice::from_ref(&single)).unwrap();
    assert_eq!(
        single.check_signature_from(&single).unwrap_err(),
        "x509: invalid signature: parent certificate cannot sign this kind of certificate"
    );
}

#[test]
fn generated_timestamping_chains() {
    let root_key = ec_key(Nid::X9_62_PRIME256V1);
    let root = build(&ca_spec("root"), &root_key, None);
    let key = ec_key(Nid::SECP384R1);
    let tsa_q = "\"CN=tsa\"";
    let ok = build(&tsa_spec("tsa"), &key, Some((&root, &root_key)));
    validate_timestamping_chain(&[ok.clone(), root.clone()]).unwrap();
    assert_eq!(
        validate_code_signing_chain(&[ok, root.clone()]).unwrap_err(),
        format!(
            "certificate with subject {tsa_q}: extended key usage must not contain Timestamping eku"
        )
    );
    // EKU not critical.
    let spec = Spec {
        eku: Some((false, &["timeStamping"])),
        ..tsa_spec("tsa")
    };
    let leaf = build(&spec, &key, Some((&root, &root_key)));
    assert_eq!(
        validate_timestamping_chain(&[leaf, root.clone()]).unwrap_err(),
        format!(
            "timestamp signing certificate with subject {tsa_q} must have extended key usage extension marked as critical"
        )
    );
    // Extra or missing EKU.
    for usages in [
        &["timeStamping", "codeSigning"][..],
        &["timeStamping", "1.2.3.4"][..],
        &["codeSigning"][..],
    ] {
        let spec = Spec {
            eku: Some((true, usages)),
            ..tsa_spec("tsa")
        };
        let leaf = build(&spec, &key, Some((&root, &root_key)));
        assert_eq!(
            validate_timestamping_chain(&[leaf, root.clone()]).unwrap_err(),
            format!(
                "timestamp signing certificate with subject {tsa_q} must have and only have Timestamping as extended key usage"
            ),
            "{usages:?}"
        );
    }
    let spec = Spec {
        eku: None,
        ..tsa_spec("tsa")
    };
    let leaf = build(&spec, &key, Some((&root, &root_key)));
    assert_eq!(
        validate_timestamping_chain(&[leaf, root.clone()]).unwrap_err(),
        format!(
            "timestamp signing certificate with subject {tsa_q} must have and only have Timestamping as extended key usage"
        )
    );
    // Key usage not critical is accepted for a TSA leaf, but must be present.
    let spec = Spec {
        ku: Some((false, &["digitalSignature"])),
        ..tsa_spec("tsa")
    };
    let leaf = build(&spec, &key, Some((&root, &root_key)));
    validate_timestamping_chain(&[leaf, root.clone()]).unwrap();
    let spec = Spec {
        ku: None,
        ..tsa_spec("tsa")
    };
    let leaf = build(&spec, &key, Some((&root, &root_key)));
    assert_eq!(
        validate_timestamping_chain(&[leaf, root.clone()]).unwrap_err(),
        format!("certificate with subject {tsa_q}: key usage extension must be present")
    );
    // Self-signed TSA certificate.
    let single = build(&tsa_spec("tsa"), &key, None);
    validate_timestamping_chain(std::slice::from_ref(&single)).unwrap();
}

#[test]
fn go_name_rendering() {
    let key = ec_key(Nid::X9_62_PRIME256V1);
    let mut b = X509NameBuilder::new().unwrap();
    for (k, v) in [
        ("C", "US"),
        ("O", "Org, Inc."),
        ("OU", "b"),
        ("OU", "a"),
        ("CN", "x"),
        ("emailAddress", "x@y.z"),
        ("serialNumber", "123"),
        ("L", "Town+"),
        ("ST", "S;t\"q"),
        ("street", "1 Main"),
        ("postalCode", "9"),
        ("DC", "example"),
        ("CN", "Ünï"),
    ] {
        b.append_entry_by_text(k, v).unwrap();
    }
    let subject = b.build();
    let mut xb = X509Builder::new().unwrap();
    xb.set_version(2).unwrap();
    xb.set_subject_name(&subject).unwrap();
    xb.set_issuer_name(&name(" #lead ")).unwrap();
    xb.set_pubkey(&key).unwrap();
    xb.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    xb.set_not_after(&Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    xb.sign(&key, MessageDigest::sha256()).unwrap();
    let cert = Cert::from_der(&xb.build().to_der().unwrap()).unwrap();
    // Expected strings produced by Go's pkix.Name.String() for the same names.
    assert_eq!(
        cert.subject(),
        r#"SERIALNUMBER=123,CN=Ünï,OU=b+OU=a,O=Org\, Inc.,POSTALCODE=9,STREET=1 Main,L=Town\+,ST=S\;t\"q,C=US,0.9.2342.19200300.100.1.25=#13076578616d706c65,1.2.840.113549.1.9.1=#0c057840792e7a"#
    );
    assert_eq!(cert.issuer(), r"CN=\ #lead\ ");
    let attrs = vec![("2.5.4.3".to_string(), "#x".to_string())];
    assert_eq!(go_name_from_attributes(&attrs), r"CN=\#x");
    // Empty CN is dropped; empty C is kept.
    let attrs = vec![
        ("2.5.4.6".to_string(), String::new()),
        ("2.5.4.3".to_string(), String::new()),
    ];
    assert_eq!(go_name_from_attributes(&attrs), "C=");
    assert_eq!(cert.version(), 3);
    assert!(cert.serial().is_empty() || cert.serial()[0] & 0x80 == 0);
}

#[test]
fn oid_and_der_helpers() {
    assert_eq!(
        oid_to_string(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]).unwrap(),
        "1.2.840.113549.1.1.11"
    );
    assert_eq!(
        oid_to_string(&[0x55, 0x1d, 0x25, 0x00]).unwrap(),
        "2.5.29.37.0"
    );
    assert!(oid_to_string(&[]).is_none());
    assert!(oid_to_string(&[0x86]).is_none());
    assert!(read_tlv(&[0x30, 0x05, 0x00]).is_none());
    assert!(read_tlv(&[0x30, 0x81]).is_none());
    let mut v = Vec::new();
    der_len(300, &mut v);
    assert_eq!(v, [0x82, 0x01, 0x2c]);
    assert_eq!(parse_key_usage(&[0x03, 0x02, 0x07, 0x80]).unwrap(), 1);
    assert_eq!(
        parse_key_usage(&[0x03, 0x03, 0x07, 0x00, 0x80]).unwrap(),
        1 << 8
    );
    assert!(parse_key_usage(&[0x04, 0x00]).is_err());
    let bc = parse_basic_constraints(&[0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00]).unwrap();
    assert_eq!(
        bc,
        BasicConstraints {
            is_ca: true,
            max_path_len: Some(0)
        }
    );
    assert!(parse_basic_constraints(&[0x30, 0x03, 0x01, 0x01, 0x01]).is_err());
}

#[test]
fn mutated_and_truncated_input_never_panics() {
    let der = read("certs/cert-validation/notation-core-go_openssl-minimum-self-signed.pem");
    let der = parse_certs(&der).unwrap().remove(0).der;
    let root = load("certs/roots/NotationTestRoot.pem").remove(0);
    let mut parsed = 0;
    for i in 0..der.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut m = der.clone();
            m[i] ^= flip;
            if let Ok(certs) = parse_certs(&m) {
                parsed += 1;
                let _ = validate_code_signing_chain(&certs);
                let _ = validate_timestamping_chain(&certs);
                let mut with_root = certs.clone();
                with_root.push(root.clone());
                let _ = validate_code_signing_chain(&with_root);
                let _ = signature_algorithm(&certs[0]);
                let _ = certs[0].subject().len() + certs[0].revocation_urls().0.len();
            }
        }
        let _ = parse_certs(&der[..i]);
    }
    assert!(parsed > 0);
    let pem = read("certs/cert-validation/notation-core-go_multi-pem.crt");
    for i in 0..pem.len() {
        let _ = parse_certs(&pem[..i]);
    }
}

/// `der` with the first occurrence of `from` replaced by `to` (same length).
fn patch(der: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = der
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern in the certificate");
    let mut out = der.to_vec();
    out[at..at + to.len()].copy_from_slice(to);
    out
}

#[test]
fn public_keys_are_parsed_as_go_parses_them() {
    // Go crypto/x509 parsePublicKey: its checks, in ParseCertificate, with its texts.
    let ec = ec_key(Nid::X9_62_PRIME256V1);
    let good = build(&leaf_spec("ec key"), &ec, None);
    assert!(good.public_key().is_some());
    let mut ctx = openssl::bn::BigNumContext::new().unwrap();
    let point = ec
        .ec_key()
        .unwrap()
        .public_key()
        .to_bytes(
            &EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap(),
            openssl::ec::PointConversionForm::UNCOMPRESSED,
            &mut ctx,
        )
        .unwrap();
    // Off the curve, and a compressed marker on an uncompressed-length point (Go's
    // elliptic.Unmarshal takes the uncompressed form only).
    let mut off = point.clone();
    *off.last_mut().unwrap() ^= 1;
    let mut compressed = point.clone();
    compressed[0] = 2;
    for bad in [off, compressed] {
        assert_eq!(
            Cert::from_der(&patch(&good.der, &point, &bad)).unwrap_err(),
            "x509: failed to unmarshal elliptic curve point"
        );
    }
    let rsa = rsa_key(2048);
    let good = build(&leaf_spec("rsa key"), &rsa, None);
    assert!(good.public_key().is_some());
    // rsaEncryption's parameters must be NULL: an empty OCTET STRING instead.
    let oid: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut not_null = oid.to_vec();
    not_null[11] = 0x04;
    assert_eq!(
        Cert::from_der(&patch(&good.der, oid, &not_null)).unwrap_err(),
        "x509: RSA key missing NULL parameters"
    );
    // A negative public exponent (65537 with its sign bit set).
    assert_eq!(
        Cert::from_der(&patch(
            &good.der,
            &[0x02, 0x03, 0x01, 0x00, 0x01],
            &[0x02, 0x03, 0x81, 0x00, 0x01]
        ))
        .unwrap_err(),
        "x509: RSA public exponent is not a positive number"
    );
    // The key built from its components verifies what OpenSSL's own view verifies.
    let signed = build(&leaf_spec("self"), &rsa, None);
    assert!(signed.check_self_signature().is_ok());
    let mut tampered = signed.clone();
    let last = tampered.signature.len() - 1;
    tampered.signature[last] ^= 1;
    assert_eq!(
        tampered.check_self_signature().unwrap_err(),
        "crypto/rsa: verification error"
    );
}

#[test]
fn bit_strings_are_right_aligned_as_go_reads_them() {
    // Go asn1.BitString.RightAlign: 10 bits 1010101011 (6 unused) -> 0b10, 0b1010_1011.
    assert_eq!(
        super::key::right_align(&[0b1010_1010, 0b1100_0000], 6),
        vec![0b10, 0b1010_1011]
    );
    assert_eq!(super::key::right_align(&[1, 2], 0), vec![1, 2]);
    // A signature whose BIT STRING claims unused bits is not the signature OpenSSL's own
    // check saw, and not the one Go verifies: refused either at parse or at verification.
    let key = rsa_key(2048);
    let good = build(&leaf_spec("bits"), &key, None);
    let sig_len = good.signature.len();
    let at = good.der.len() - sig_len - 1;
    assert_eq!(good.der[at], 0, "the unused-bits byte of the signature");
    let mut der = good.der.clone();
    der[at] = 1;
    *der.last_mut().unwrap() &= 0xfe;
    match Cert::from_der(&der) {
        Ok(c) => assert_eq!(
            c.check_self_signature().unwrap_err(),
            "crypto/rsa: verification error"
        ),
        Err(e) => assert!(e.starts_with("x509: "), "{e}"),
    }
}

#[test]
fn rsa_keys_go_would_not_verify_with_verify_nothing() {
    use openssl::bn::BigNum;
    let key = |n: &BigNum, e: u32| {
        PKey::from_rsa(
            Rsa::from_public_components(
                openssl::bn::BigNumRef::to_owned(n).unwrap(),
                BigNum::from_u32(e).unwrap(),
            )
            .unwrap(),
        )
        .unwrap()
    };
    let n2048 = rsa_key(2048).rsa().unwrap().n().to_owned().unwrap();
    let n512 = rsa_key(512).rsa().unwrap().n().to_owned().unwrap();
    let mut even = n2048.to_owned().unwrap();
    even.clear_bit(0).unwrap();
    assert!(super::rsa_key_usable(&key(&n2048, 65537)));
    assert!(super::rsa_key_usable(&key(&n2048, 3)));
    for (n, e) in [(&n2048, 1), (&n2048, 65536), (&n512, 65537), (&even, 65537)] {
        assert!(
            !super::rsa_key_usable(&key(n, e)),
            "e={e} bits={}",
            n.num_bits()
        );
    }
    let huge = Rsa::from_public_components(
        n2048.to_owned().unwrap(),
        BigNum::from_dec_str("4294967297").unwrap(),
    )
    .unwrap();
    assert!(!super::rsa_key_usable(&PKey::from_rsa(huge).unwrap()));
}
