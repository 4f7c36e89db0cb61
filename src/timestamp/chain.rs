//! The TSA certificate chain: built and verified through OpenSSL, then the checks Go's
//! verifier makes that OpenSSL does not, with OpenSSL's errors mapped to Go's texts.

use super::*;

pub(crate) fn sha2_digest(oid: &str) -> Option<MessageDigest> {
    match oid {
        OID_SHA256 => Some(MessageDigest::sha256()),
        OID_SHA384 => Some(MessageDigest::sha384()),
        OID_SHA512 => Some(MessageDigest::sha512()),
        _ => None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum SigKind {
    RsaPkcs1,
    RsaPss,
    Ecdsa,
}

/// tspclient-go `oid.ToSignatureAlgorithm`.
pub(crate) fn signature_algorithm(digest: &str, sig: &str) -> Option<(SigKind, MessageDigest)> {
    match sig {
        OID_RSA => sha2_digest(digest).map(|m| (SigKind::RsaPkcs1, m)),
        OID_RSA_PSS => sha2_digest(digest).map(|m| (SigKind::RsaPss, m)),
        OID_SHA256_RSA => Some((SigKind::RsaPkcs1, MessageDigest::sha256())),
        OID_SHA384_RSA => Some((SigKind::RsaPkcs1, MessageDigest::sha384())),
        OID_SHA512_RSA => Some((SigKind::RsaPkcs1, MessageDigest::sha512())),
        OID_ECDSA_SHA256 => Some((SigKind::Ecdsa, MessageDigest::sha256())),
        OID_ECDSA_SHA384 => Some((SigKind::Ecdsa, MessageDigest::sha384())),
        OID_ECDSA_SHA512 => Some((SigKind::Ecdsa, MessageDigest::sha512())),
        _ => None,
    }
}

/// Go `x509.Certificate.CheckSignature`, with Go's error texts.
pub(crate) fn check_signature(
    kind: SigKind,
    md: MessageDigest,
    key: &PKey<Public>,
    signed: &[u8],
    sig: &[u8],
) -> Result<(), String> {
    let key_type = match key.id() {
        Id::RSA => "*rsa.PublicKey",
        Id::EC => "*ecdsa.PublicKey",
        Id::ED25519 => "ed25519.PublicKey",
        _ => return Err("x509: cannot verify signature: algorithm unimplemented".to_string()),
    };
    let (want, fail) = match kind {
        SigKind::RsaPkcs1 | SigKind::RsaPss => ("RSA", "crypto/rsa: verification error"),
        SigKind::Ecdsa => ("ECDSA", "x509: ECDSA verification failure"),
    };
    let matches = matches!(
        (kind, key.id()),
        (SigKind::RsaPkcs1 | SigKind::RsaPss, Id::RSA) | (SigKind::Ecdsa, Id::EC)
    );
    if !matches {
        return Err(format!(
            "x509: signature algorithm specifies an {want} public key, but have public key of type {key_type}"
        ));
    }
    let ok = (|| -> Result<bool, openssl::error::ErrorStack> {
        let mut v = Verifier::new(md, key)?;
        if kind == SigKind::RsaPss {
            v.set_rsa_padding(Padding::PKCS1_PSS)?;
            v.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
            v.set_rsa_mgf1_md(md)?;
        }
        v.update(signed)?;
        v.verify(sig)
    })()
    .unwrap_or(false);
    if ok { Ok(()) } else { Err(fail.to_string()) }
}

/// Builds the chain from `leaf_der` through the token's certificates to one of
/// `roots` at `at`, the way Go's `x509.Certificate.Verify` with
/// `KeyUsages = [timeStamping]` accepts it. Returns DER, leaf first.
pub(crate) fn build_chain(
    leaf_der: &[u8],
    token_certs: &[Vec<u8>],
    roots: &[X509],
    at: OffsetDateTime,
) -> Result<Vec<Vec<u8>>, String> {
    let ossl = |e: openssl::error::ErrorStack| format!("x509: {e}");
    // Go checks the leaf's own validity before looking for a chain.
    if let Some(detail) = expiry_detail(leaf_der, at) {
        return Err(detail);
    }
    let leaf = X509::from_der(leaf_der).map_err(ossl)?;
    let mut untrusted = Stack::new().map_err(ossl)?;
    for c in token_certs {
        untrusted
            .push(X509::from_der(c).map_err(ossl)?)
            .map_err(ossl)?;
    }
    let mut sb = X509StoreBuilder::new().map_err(ossl)?;
    for r in roots {
        sb.add_cert(r.clone()).map_err(ossl)?;
    }
    let mut param = X509VerifyParam::new().map_err(ossl)?;
    param.set_time(at.unix_timestamp());
    param
        .set_flags(X509VerifyFlags::PARTIAL_CHAIN)
        .map_err(ossl)?;
    sb.set_param(&param).map_err(ossl)?;
    let store = sb.build();
    let mut ctx = X509StoreContext::new().map_err(ossl)?;
    type Failure = (i32, String, u32, Option<Vec<u8>>);
    let outcome: Result<Vec<Vec<u8>>, Failure> = ctx
        .init(&store, &leaf, &untrusted, |c| {
            if c.verify_cert()? {
                let mut out = Vec::new();
                if let Some(chain) = c.chain() {
                    for x in chain {
                        out.push(x.to_der()?);
                    }
                }
                Ok(Ok(out))
            } else {
                let cur = match c.current_cert() {
                    Some(x) => Some(x.to_der()?),
                    None => None,
                };
                let err = c.error();
                Ok(Err((
                    err.as_raw(),
                    err.error_string().to_string(),
                    c.error_depth(),
                    cur,
                )))
            }
        })
        .map_err(ossl)?;
    let chain = match outcome {
        Ok(chain) if !chain.is_empty() => chain,
        Ok(_) => return Err(UNKNOWN_AUTHORITY.to_string()),
        Err((code, text, depth, cur)) => {
            return Err(chain_error(code, &text, depth, cur.as_deref(), at));
        }
    };
    go_chain_checks(&chain, at)?;
    Ok(chain)
}

pub(crate) const UNKNOWN_AUTHORITY: &str = "x509: certificate signed by unknown authority";

pub(crate) fn unknown_authority_hint(hint: &str, cert_der: Option<&[u8]>) -> String {
    let name = cert_der
        .and_then(|d| X509Certificate::from_der(d).ok())
        .map(|(_, c)| go_cert_name(&c))
        .unwrap_or_default();
    format!(
        "{UNKNOWN_AUTHORITY} (possibly because of {} while trying to verify candidate authority certificate {})",
        go_quote(hint),
        go_quote(&name)
    )
}

pub(crate) fn expiry_detail(cert_der: &[u8], at: OffsetDateTime) -> Option<String> {
    let (_, c) = X509Certificate::from_der(cert_der).ok()?;
    let v = c.validity();
    let nb = v.not_before.to_datetime();
    let na = v.not_after.to_datetime();
    if at < nb {
        Some(format!(
            "x509: certificate has expired or is not yet valid: current time {} is before {}",
            rfc3339(at),
            rfc3339(nb)
        ))
    } else if at > na {
        Some(format!(
            "x509: certificate has expired or is not yet valid: current time {} is after {}",
            rfc3339(at),
            rfc3339(na)
        ))
    } else {
        None
    }
}

/// Maps an OpenSSL chain-building failure to Go's wording.
pub(crate) fn chain_error(
    code: i32,
    text: &str,
    depth: u32,
    cur: Option<&[u8]>,
    at: OffsetDateTime,
) -> String {
    const NOT_YET_VALID: i32 = 9;
    const EXPIRED: i32 = 10;
    const DEPTH_ZERO_SELF_SIGNED: i32 = 18;
    const SELF_SIGNED_IN_CHAIN: i32 = 19;
    const NO_ISSUER_LOCALLY: i32 = 20;
    const UNABLE_TO_VERIFY_LEAF: i32 = 21;
    const NO_ISSUER: i32 = 2;
    const INVALID_CA: i32 = 24;
    const PATH_LENGTH: i32 = 25;
    const UNHANDLED_CRITICAL: i32 = 34;
    const SIGNATURE_FAILURE: i32 = 7;
    match code {
        NOT_YET_VALID | EXPIRED => {
            let detail = cur.and_then(|d| expiry_detail(d, at)).unwrap_or_else(|| {
                "x509: certificate has expired or is not yet valid: ".to_string()
            });
            if depth == 0 {
                detail
            } else {
                unknown_authority_hint(&detail, cur)
            }
        }
        NO_ISSUER
        | NO_ISSUER_LOCALLY
        | SELF_SIGNED_IN_CHAIN
        | DEPTH_ZERO_SELF_SIGNED
        | UNABLE_TO_VERIFY_LEAF => UNKNOWN_AUTHORITY.to_string(),
        UNHANDLED_CRITICAL if depth == 0 => "x509: unhandled critical extension".to_string(),
        UNHANDLED_CRITICAL => unknown_authority_hint("x509: unhandled critical extension", cur),
        INVALID_CA => unknown_authority_hint(
            "x509: certificate is not authorized to sign other certificates",
            cur,
        ),
        PATH_LENGTH => unknown_authority_hint(
            "x509: too many intermediates for path length constraint",
            cur,
        ),
        SIGNATURE_FAILURE => unknown_authority_hint("crypto/rsa: verification error", cur),
        _ => unknown_authority_hint(&format!("x509: {text}"), cur),
    }
}

/// What Go's verifier checks that OpenSSL's does not (or not the same way):
/// validity at the exact (sub-second) time, no SHA-1/MD5 signatures below the
/// anchor, and the extended key usage nesting for timeStamping.
pub(crate) fn go_chain_checks(chain: &[Vec<u8>], at: OffsetDateTime) -> Result<(), String> {
    let mut parsed = Vec::with_capacity(chain.len());
    for der in chain {
        let (_, c) = X509Certificate::from_der(der).map_err(|e| format!("x509: {e}"))?;
        parsed.push(c);
    }
    for (i, der) in chain.iter().enumerate() {
        if let Some(detail) = expiry_detail(der, at) {
            return Err(if i == 0 {
                detail
            } else {
                unknown_authority_hint(&detail, Some(der))
            });
        }
    }
    for (i, c) in parsed.iter().enumerate() {
        if i + 1 >= parsed.len() {
            break;
        }
        let name = sigalg::insecure_name(&c.signature_algorithm.algorithm.to_id_string());
        if let Some(name) = name {
            return Err(unknown_authority_hint(
                &format!("x509: cannot verify signature: insecure algorithm {name}"),
                chain.get(i + 1).map(Vec::as_slice),
            ));
        }
    }
    // Go checkChainForKeyUsage with [timeStamping].
    for c in parsed.iter().rev() {
        let Some((ekus, _)) = eku_of(c)? else {
            continue;
        };
        if ekus.is_empty() || ekus.iter().any(|o| o == OID_EKU_ANY) {
            continue;
        }
        if !ekus.iter().any(|o| o == OID_EKU_TIMESTAMPING) {
            return Err("x509: certificate specifies an incompatible key usage".to_string());
        }
    }
    Ok(())
}

/// The EKU OIDs and criticality, if the extension is present.
pub(crate) fn eku_of(c: &X509Certificate<'_>) -> Result<Option<(Vec<String>, bool)>, String> {
    let Some(ext) = c
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == OID_EXT_KEY_USAGE)
    else {
        return Ok(None);
    };
    let out = crate::x509::parse_eku(ext.value)?;
    Ok(Some((out, ext.critical)))
}

/// tspclient-go's check on the signing certificate (RFC 3161 2.3).
pub(crate) fn check_leaf_eku(cert_der: &[u8]) -> Result<(), String> {
    let (_, c) = X509Certificate::from_der(cert_der).map_err(|e| format!("x509: {e}"))?;
    match eku_of(&c)? {
        Some((ekus, critical)) if ekus.len() == 1 && ekus[..] == [OID_EKU_TIMESTAMPING] => {
            if critical {
                Ok(())
            } else {
                Err("signing certificate extended key usage extension must be set as critical"
                    .to_string())
            }
        }
        _ => Err(
            "signing certificate must have and only have ExtKeyUsageTimeStamping as extended key usage"
                .to_string(),
        ),
    }
}

/// Go `UnknownAuthorityError` naming: CommonName, else first Organization,
/// else `serial:<decimal>`.
pub(crate) fn go_cert_name(c: &X509Certificate<'_>) -> String {
    let subject = c.subject();
    if let Some(cn) = subject
        .iter_common_name()
        .filter_map(|a| a.as_str().ok())
        .last()
        && !cn.is_empty()
    {
        return cn.to_string();
    }
    if let Some(o) = subject
        .iter_organization()
        .filter_map(|a| a.as_str().ok())
        .next()
    {
        return o.to_string();
    }
    format!("serial:{}", int_to_decimal(c.tbs_certificate.raw_serial()))
}

pub(crate) fn split_certificates(raw: Option<&[u8]>) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let Some(mut rest) = raw else {
        return Ok(out);
    };
    while !rest.is_empty() {
        let (t, off) = tag_and_length(rest, 0).map_err(|_| MALFORMED_CERT.to_string())?;
        let end = off
            .checked_add(t.length)
            .filter(|&e| e <= rest.len())
            .ok_or_else(|| MALFORMED_CERT.to_string())?;
        let (one, tail) = rest.split_at(end);
        if t.class != 0 || t.tag != 16 || !t.compound {
            return Err(MALFORMED_CERT.to_string());
        }
        match X509Certificate::from_der(one) {
            Ok(([], _)) => {}
            _ => return Err(MALFORMED_CERT.to_string()),
        }
        out.push(one.to_vec());
        rest = tail;
    }
    Ok(out)
}

pub(crate) const MALFORMED_CERT: &str = "x509: malformed certificate";
