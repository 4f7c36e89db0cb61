//! tspclient-go `ParseSignedToken` and `SignedToken.Info`: the CMS SignedData, SignerInfo,
//! TSTInfo and SigningCertificateV2 structures, read with Go's `encoding/asn1` rules.

use super::*;

#[derive(Debug, Clone)]
pub(crate) struct Attribute {
    pub(crate) oid: String,
    /// The content octets of the attribute's value SET (Go `Values.Bytes`).
    pub(crate) values: Vec<u8>,
    /// The Attribute as Go re-encodes it for the signature input.
    pub(crate) full: Vec<u8>,
}

#[derive(Debug, Clone)]
pub(crate) struct SignerInfo {
    pub(crate) version: i64,
    pub(crate) sid_issuer: Vec<u8>,
    pub(crate) sid_serial: Vec<u8>,
    pub(crate) digest_alg: String,
    pub(crate) signed_attrs: Vec<Attribute>,
    pub(crate) sig_alg: String,
    pub(crate) signature: Vec<u8>,
}

/// A parsed, unverified TimeStampToken (CMS SignedData over a TSTInfo).
#[derive(Debug, Clone)]
pub struct ParsedToken {
    /// The encapsulated TSTInfo DER.
    pub content: Vec<u8>,
    /// The certificates carried in the token (DER), in token order.
    pub certificates: Vec<Vec<u8>>,
    pub(crate) signer_infos: Vec<SignerInfo>,
}

/// Parses a TimeStampToken (tspclient-go `ParseSignedToken`): CMS SignedData
/// version 3 whose encapsulated content type is id-ct-TSTInfo. Lengths in BER
/// definite form are normalised first, as tspclient-go does.
pub fn parse_token(der: &[u8]) -> Result<ParsedToken, TimestampError> {
    let perr = |m: String| TimestampError::new(Stage::Parse, m);
    let data = ber_to_der(der).map_err(|e| {
        perr(format!(
            "cms: syntax error: invalid signed data: failed to convert from BER to DER: {e}"
        ))
    })?;
    let (content_type, content) = parse_content_info(&data).map_err(|e| {
        perr(format!(
            "cms: syntax error: invalid content info: failed to unmarshal DER to ContentInfo: {e}"
        ))
    })?;
    if content_type != OID_SIGNED_DATA {
        return Err(perr("cms: content type is not signed-data".to_string()));
    }
    let sd = parse_signed_data(content)
        .map_err(|e| perr(format!("cms: syntax error: invalid signed data: {e}")))?;
    if sd.version != 3 {
        return Err(perr(format!(
            "cms: syntax error: unsupported signed data version: got {}, want 3",
            sd.version
        )));
    }
    let certificates = split_certificates(sd.certificates).map_err(|e| {
        perr(format!(
            "cms: syntax error: failed to parse X.509 certificates from signed data. Only X.509 certificates are supported: {e}"
        ))
    })?;
    if sd.content_type != OID_TST_INFO {
        return Err(perr(format!(
            "unexpected content type: {}. Expected to be id-ct-TSTInfo ({OID_TST_INFO})",
            sd.content_type
        )));
    }
    Ok(ParsedToken {
        content: sd.content,
        certificates,
        signer_infos: sd.signer_infos,
    })
}

impl ParsedToken {
    /// tspclient-go `SignedToken.Info`.
    pub fn tst_info(&self) -> Result<TstInfo, TimestampError> {
        parse_tst_info(&self.content).map_err(|e| {
            TimestampError::new(
                Stage::Info,
                format!("cannot unmarshal TSTInfo from timestamp token: {e}"),
            )
        })
    }
}

pub(crate) fn parse_content_info(data: &[u8]) -> Result<(String, &[u8]), String> {
    let mut top = Rd::new(data);
    let ci = top.req(&spec(SEQ, "ContentInfo"))?;
    let mut r = Rd::new(ci.content);
    let ct = go_oid(r.req(&spec(OID, "ObjectIdentifier"))?.content)?;
    let content = r
        .explicit(0, false, None)?
        .map(|e| e.content)
        .unwrap_or(&[]);
    Ok((ct, content))
}

pub(crate) struct SignedData<'a> {
    pub(crate) version: i64,
    pub(crate) content_type: String,
    pub(crate) content: Vec<u8>,
    pub(crate) certificates: Option<&'a [u8]>,
    pub(crate) signer_infos: Vec<SignerInfo>,
}

pub(crate) fn parse_signed_data(b: &[u8]) -> Result<SignedData<'_>, String> {
    let mut top = Rd::new(b);
    let sd = top.req(&spec(SEQ, "SignedData"))?;
    let mut r = Rd::new(sd.content);
    let version = go_i64(r.req(&spec(INT, "int"))?.content)?;
    let algs = r.req(&Spec {
        kind: SET,
        optional: false,
        params: P_SET,
        name: "",
    })?;
    for a in seq_of(algs.content, SEQ, "AlgorithmIdentifier")? {
        parse_algorithm_identifier(a.content)?;
    }
    let eci = r.req(&spec(SEQ, "EncapsulatedContentInfo"))?;
    let mut er = Rd::new(eci.content);
    let content_type = go_oid(er.req(&spec(OID, "ObjectIdentifier"))?.content)?;
    let content = er
        .explicit(0, true, Some(&spec(OCTETS, "")))?
        .map(|e| e.content.to_vec())
        .unwrap_or_default();
    let certificates = r.field(&opt(Kind::Ctx(0, None)))?.map(|e| e.content);
    // CRLs [1]: not used by timestamp tokens; skipped.
    let _crls = r.field(&opt(Kind::Ctx(1, Some(true))))?;
    let sis = r.req(&Spec {
        kind: SET,
        optional: false,
        params: P_SET,
        name: "",
    })?;
    let mut signer_infos = Vec::new();
    for e in seq_of(sis.content, SEQ, "SignerInfo")? {
        signer_infos.push(parse_signer_info(e.content)?);
    }
    Ok(SignedData {
        version,
        content_type,
        content,
        certificates,
        signer_infos,
    })
}

pub(crate) fn parse_algorithm_identifier(b: &[u8]) -> Result<String, String> {
    let mut r = Rd::new(b);
    let oid = go_oid(r.req(&spec(OID, "ObjectIdentifier"))?.content)?;
    let _params = r.field(&opt(Kind::Any))?;
    Ok(oid)
}

pub(crate) fn parse_attributes(b: &[u8]) -> Result<Vec<Attribute>, String> {
    let mut out = Vec::new();
    for e in seq_of(b, SEQ, "Attribute")? {
        let mut r = Rd::new(e.content);
        let oid_elem = r.req(&spec(OID, "ObjectIdentifier"))?;
        let oid = go_oid(oid_elem.content)?;
        let values = r.req(&Spec {
            kind: Kind::Any,
            optional: false,
            params: P_SET,
            name: "RawValue",
        })?;
        // Go re-marshals {Type, Values}: anything after them is dropped.
        let mut full = vec![0x30];
        der_len(oid_elem.full.len() + values.full.len(), &mut full);
        full.extend_from_slice(oid_elem.full);
        full.extend_from_slice(values.full);
        out.push(Attribute {
            oid,
            values: values.content.to_vec(),
            full,
        });
    }
    Ok(out)
}

pub(crate) fn parse_signer_info(b: &[u8]) -> Result<SignerInfo, String> {
    let mut r = Rd::new(b);
    let version = go_i64(r.req(&spec(INT, "int"))?.content)?;
    let sid = r.req(&spec(SEQ, "IssuerAndSerialNumber"))?;
    let mut sr = Rd::new(sid.content);
    let issuer = sr.req(&spec(Kind::Any, "RawValue"))?;
    let serial = go_bigint(sr.req(&spec(INT, ""))?.content)?;
    let dalg = r.req(&spec(SEQ, "AlgorithmIdentifier"))?;
    let digest_alg = parse_algorithm_identifier(dalg.content)?;
    let signed_attrs = match r.field(&opt(Kind::Ctx(0, Some(true))))? {
        Some(e) => parse_attributes(e.content)?,
        None => Vec::new(),
    };
    let salg = r.req(&spec(SEQ, "AlgorithmIdentifier"))?;
    let sig_alg = parse_algorithm_identifier(salg.content)?;
    let signature = r.req(&spec(OCTETS, ""))?.content.to_vec();
    if let Some(e) = r.field(&opt(Kind::Ctx(1, Some(true))))? {
        parse_attributes(e.content)?;
    }
    Ok(SignerInfo {
        version,
        sid_issuer: issuer.full.to_vec(),
        sid_serial: serial,
        digest_alg,
        signed_attrs,
        sig_alg,
        signature,
    })
}

pub(crate) fn parse_tst_info(b: &[u8]) -> Result<TstInfo, String> {
    let mut top = Rd::new(b);
    let seq = top.req(&spec(SEQ, "TSTInfo"))?;
    let mut r = Rd::new(seq.content);
    let version = go_i64(r.req(&spec(INT, "int"))?.content)?;
    let policy_oid = go_oid(r.req(&spec(OID, "ObjectIdentifier"))?.content)?;
    let mi = r.req(&spec(SEQ, "MessageImprint"))?;
    let mut mr = Rd::new(mi.content);
    let alg = mr.req(&spec(SEQ, "AlgorithmIdentifier"))?;
    let hash_alg_oid = parse_algorithm_identifier(alg.content)?;
    let hashed_message = mr.req(&spec(OCTETS, ""))?.content.to_vec();
    let serial_number = go_bigint(r.req(&spec(INT, ""))?.content)?;
    let gt = r.req(&Spec {
        kind: Kind::Time,
        optional: false,
        params: P_GENTIME,
        name: "Time",
    })?;
    let gen_time = go_time(&gt)?
        .checked_to_offset(UtcOffset::UTC)
        .ok_or_else(|| "genTime out of range".to_string())?;
    let accuracy = match r.field(&opt(SEQ))? {
        Some(e) => parse_accuracy(e.content)?,
        None => Duration::ZERO,
    };
    let ordering = match r.field(&opt(BOOL))? {
        Some(e) => go_bool(e.content)?,
        None => false,
    };
    let nonce = match r.field(&opt(INT))? {
        Some(e) => Some(go_bigint(e.content)?),
        None => None,
    };
    let _tsa = r.field(&opt(Kind::Ctx(0, None)))?;
    if let Some(e) = r.field(&opt(Kind::Ctx(1, Some(true))))? {
        for ext in seq_of(e.content, SEQ, "Extension")? {
            let mut xr = Rd::new(ext.content);
            go_oid(xr.req(&spec(OID, "ObjectIdentifier"))?.content)?;
            if let Some(c) = xr.field(&opt(BOOL))? {
                go_bool(c.content)?;
            }
            xr.req(&spec(OCTETS, ""))?;
        }
    }
    Ok(TstInfo {
        version,
        policy_oid,
        hash_alg_oid,
        hashed_message,
        serial_number,
        gen_time,
        accuracy,
        ordering,
        nonce,
    })
}

pub(crate) fn parse_accuracy(b: &[u8]) -> Result<Duration, String> {
    let mut r = Rd::new(b);
    let s = match r.field(&opt(INT))? {
        Some(e) => go_i64(e.content)?,
        None => 0,
    };
    let ms = match r.field(&opt(Kind::Ctx(0, Some(false))))? {
        Some(e) => go_i64(e.content)?,
        None => 0,
    };
    let us = match r.field(&opt(Kind::Ctx(1, Some(false))))? {
        Some(e) => go_i64(e.content)?,
        None => 0,
    };
    Ok(Duration::seconds(s)
        .saturating_add(Duration::milliseconds(ms))
        .saturating_add(Duration::microseconds(us)))
}

pub(crate) struct EssCertIdV2 {
    pub(crate) hash_alg: Option<String>,
    pub(crate) cert_hash: Vec<u8>,
    /// (GeneralNames directoryName content if present, serial number).
    pub(crate) issuer_serial: Option<(Option<Vec<u8>>, Vec<u8>)>,
}

pub(crate) fn parse_signing_certificate_v2(values: &[u8]) -> Result<Vec<EssCertIdV2>, String> {
    let mut top = Rd::new(values);
    let sc = top.req(&spec(SEQ, "signingCertificateV2"))?;
    let mut r = Rd::new(sc.content);
    let certs = r.req(&spec(SEQ, ""))?;
    let mut out = Vec::new();
    for e in seq_of(certs.content, SEQ, "eSSCertIDv2")? {
        let mut er = Rd::new(e.content);
        let hash_alg = match er.field(&opt(SEQ))? {
            Some(a) => Some(parse_algorithm_identifier(a.content)?),
            None => None,
        };
        let cert_hash = er.req(&spec(OCTETS, ""))?.content.to_vec();
        let issuer_serial = match er.field(&opt(SEQ))? {
            Some(is) => {
                let mut ir = Rd::new(is.content);
                let gn = ir.req(&spec(SEQ, "generalNames"))?;
                let mut gr = Rd::new(gn.content);
                let name = gr
                    .field(&opt(Kind::Ctx(4, None)))?
                    .map(|n| n.content.to_vec());
                let serial = go_bigint(ir.req(&spec(INT, ""))?.content)?;
                Some((name, serial))
            }
            None => None,
        };
        out.push(EssCertIdV2 {
            hash_alg,
            cert_hash,
            issuer_serial,
        });
    }
    let _policies = r.field(&opt(Kind::Any))?;
    Ok(out)
}
