//! tspclient-go `SignedToken.Verify`: the signer certificate (SigningCertificateV2), its
//! signature over the signed attributes, the signed attributes themselves, and `verify_token`.

use super::*;

impl ParsedToken {
    /// tspclient-go `SignedToken.Verify` with `CurrentTime = verify_time`
    /// (genTime) and the given roots as the only trust anchors (any of them
    /// may anchor the chain, as with Go's root pool). Tries each SignerInfo
    /// in turn; the first that verifies wins, else the last error is returned.
    /// Returns the chain, signing certificate first.
    pub fn verify(
        &self,
        verify_time: OffsetDateTime,
        tsa_roots_der: &[Vec<u8>],
    ) -> Result<Vec<Vec<u8>>, TimestampError> {
        let verr = |m: String| {
            TimestampError::new(Stage::Verify, format!("failed to verify signed token: {m}"))
        };
        if self.signer_infos.is_empty() {
            return Err(verr("signerInfo not found".to_string()));
        }
        if tsa_roots_der.is_empty() {
            return Err(verr("tsa root certificate pool cannot be nil".to_string()));
        }
        let mut roots = Vec::with_capacity(tsa_roots_der.len());
        for r in tsa_roots_der {
            let x = X509::from_der(r).map_err(|e| {
                TimestampError::new(
                    Stage::TrustStore,
                    format!("failed to parse TSA root certificate: {e}"),
                )
            })?;
            roots.push(x);
        }
        let mut last = String::new();
        for si in &self.signer_infos {
            match self.verify_signer(si, verify_time, &roots) {
                Ok(chain) => return Ok(chain),
                Err(e) => last = e,
            }
        }
        Err(verr(last))
    }

    fn verify_signer(
        &self,
        si: &SignerInfo,
        verify_time: OffsetDateTime,
        roots: &[X509],
    ) -> Result<Vec<Vec<u8>>, String> {
        let idx = self.signing_certificate(si)?;
        let cert_der = self
            .certificates
            .get(idx)
            .ok_or_else(|| "signing certificate not found in the timestamp token".to_string())?;
        if si.version != 1 {
            return Err(format!(
                "cms verification failure: invalid signer info version: only version 1 is supported; got {}",
                si.version
            ));
        }
        let chain = build_chain(cert_der, &self.certificates, roots, verify_time)
            .map_err(|e| format!("cms verification failure: {e}"))?;
        self.verify_signature(si, cert_der)?;
        self.verify_signed_attributes(si, &chain)?;
        check_leaf_eku(cert_der)?;
        Ok(chain)
    }

    /// tspclient-go `SignedToken.SigningCertificate`: the certificate named by
    /// the SigningCertificateV2 attribute (or the sid when it has no
    /// IssuerSerial), whose hash must equal certHash. Returns its index.
    pub(crate) fn signing_certificate(&self, si: &SignerInfo) -> Result<usize, String> {
        let Some(attr) = si
            .signed_attrs
            .iter()
            .find(|a| a.oid == OID_SIGNING_CERTIFICATE_V2)
        else {
            return Err(
                "failed to get SigningCertificateV2 from signed attributes: attribute not found"
                    .to_string(),
            );
        };
        let ids = parse_signing_certificate_v2(&attr.values).map_err(|e| {
            format!("failed to get SigningCertificateV2 from signed attributes: {e}")
        })?;
        let Some(first) = ids.first() else {
            return Err("signingCertificateV2 does not contain any certificate".to_string());
        };
        let found = match &first.issuer_serial {
            Some((name, serial)) => {
                let Some(name) = name else {
                    return Err("issuer name is missing in IssuerSerial".to_string());
                };
                let issuer = unmarshal_raw(name)
                    .map_err(|e| format!("failed to unmarshal issuer name: {e}"))?;
                self.find_certificate(issuer, serial)
            }
            None => self.find_certificate(&si.sid_issuer, &si.sid_serial),
        };
        let Some(idx) = found else {
            return Err("signing certificate not found in the timestamp token".to_string());
        };
        let md = match &first.hash_alg {
            None => MessageDigest::sha256(),
            Some(oid) => sha2_digest(oid).ok_or_else(|| {
                "unsupported certificate hash algorithm in SigningCertificateV2 attribute"
                    .to_string()
            })?,
        };
        let cert = self
            .certificates
            .get(idx)
            .ok_or_else(|| "signing certificate not found in the timestamp token".to_string())?;
        let digest = hash(md, cert).map_err(|e| e.to_string())?;
        if *digest != *first.cert_hash {
            return Err(
                "signing certificate hash does not match CertHash in signed attribute".to_string(),
            );
        }
        Ok(idx)
    }

    /// cms `GetCertificate`: raw issuer and serial number match.
    fn find_certificate(&self, issuer: &[u8], serial: &[u8]) -> Option<usize> {
        let want = canonical_int(serial);
        self.certificates.iter().position(|der| {
            X509Certificate::from_der(der).is_ok_and(|(_, c)| {
                c.tbs_certificate.issuer.as_raw() == issuer
                    && canonical_int(c.tbs_certificate.raw_serial()) == want
            })
        })
    }

    /// cms `verifySignature`.
    fn verify_signature(&self, si: &SignerInfo, cert_der: &[u8]) -> Result<(), String> {
        let fail = |m: &str| format!("cms verification failure: {m}");
        let Some((kind, md)) = signature_algorithm(&si.digest_alg, &si.sig_alg) else {
            return Err(fail("unknown signature algorithm"));
        };
        let signed: Vec<u8> = if si.signed_attrs.is_empty() {
            self.content.clone()
        } else {
            encode_set(si.signed_attrs.iter().map(|a| a.full.as_slice()))
        };
        let cert = X509::from_der(cert_der).map_err(|e| fail(&e.to_string()))?;
        let key = cert.public_key().map_err(|e| fail(&e.to_string()))?;
        check_signature(kind, md, &key, &signed, &si.signature).map_err(|e| fail(&e))
    }

    /// cms `verifySignedAttributes`.
    fn verify_signed_attributes(&self, si: &SignerInfo, chain: &[Vec<u8>]) -> Result<(), String> {
        let fail = |m: String| format!("cms verification failure: {m}");
        if chain.is_empty() {
            return Err(fail(
                "Failed to verify signed attributes because the certificate chain is empty."
                    .to_string(),
            ));
        }
        if si.signed_attrs.is_empty() {
            return Err(fail("missing signed attributes".to_string()));
        }
        let get = |oid: &str| si.signed_attrs.iter().find(|a| a.oid == oid);

        let content_type = match get(OID_CONTENT_TYPE) {
            None => Err("attribute not found".to_string()),
            Some(a) => unmarshal_oid(&a.values),
        }
        .map_err(|e| fail(format!("invalid content type: {e}")))?;
        if content_type != OID_TST_INFO {
            return Err(fail(format!(
                "mismatch content type: found {} in signer info, and {} in signed data",
                go_quote(&content_type),
                go_quote(OID_TST_INFO)
            )));
        }

        let expected = match get(OID_MESSAGE_DIGEST) {
            None => Err("attribute not found".to_string()),
            Some(a) => unmarshal_octets(&a.values),
        }
        .map_err(|e| fail(format!("invalid message digest: {e}")))?;
        let Some(md) = sha2_digest(&si.digest_alg) else {
            return Err(fail("unsupported digest algorithm".to_string()));
        };
        let actual = hash(md, &self.content).map_err(|e| fail(format!("hash failure: {e}")))?;
        if *actual != *expected {
            return Err(fail("mismatch message digest".to_string()));
        }

        let Some(st) = get(OID_SIGNING_TIME) else {
            return Ok(());
        };
        let signing_time =
            unmarshal_time(&st.values).map_err(|e| fail(format!("invalid signing time: {e}")))?;
        for der in chain {
            let (_, c) = X509Certificate::from_der(der).map_err(|e| fail(e.to_string()))?;
            let v = c.validity();
            if signing_time < v.not_before.to_datetime() || signing_time > v.not_after.to_datetime()
            {
                return Err(fail(format!(
                    "signing time, {}, is outside certificate's validity period",
                    go_time_string(signing_time)
                )));
            }
        }
        Ok(())
    }
}

/// Full notation-go `verifyTimestamp` steps 2-3 for one token: parse,
/// TSTInfo, imprint over `signature` (the envelope's signature bytes), then
/// the CMS signature, SigningCertificateV2 and chain to `tsa_roots_der` at
/// genTime. TSA EKU rules of notation-core-go, the range check against the
/// signing chain and revocation are left to the caller. tspclient-go's own
/// check that the TSA certificate's EKU is exactly, and critically,
/// timeStamping *is* done here, as part of the token verification.
pub fn verify_token(
    der: &[u8],
    signature: &[u8],
    tsa_roots_der: &[Vec<u8>],
) -> Result<Timestamp, TimestampError> {
    let token = parse_token(der)?;
    let info = token.tst_info()?;
    info.validate(signature)?;
    if tsa_roots_der.is_empty() {
        return Err(TimestampError::new(
            Stage::TrustStore,
            "no trusted TSA certificate found in trust store",
        ));
    }
    let chain = token.verify(info.gen_time, tsa_roots_der)?;
    Ok(Timestamp {
        gen_time: info.gen_time,
        accuracy: info.accuracy,
        policy_oid: info.policy_oid,
        hash_alg_oid: info.hash_alg_oid,
        signer_chain_der: chain,
    })
}

// ---------------------------------------------------------------------------
