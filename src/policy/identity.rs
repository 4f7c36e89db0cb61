//! The trusted-identity check on the signing certificate (spec §6.6, notation-go
//! `verifyX509TrustedIdentities`).

use super::dn::{DnAttrs, go_format_map_list, is_subset, parse_dn_bytes, q};
use super::{Statement, TrustedIdentity, WILDCARD, X509_SUBJECT};
use crate::x509::Cert;

impl Statement {
    /// The trusted-identity check of spec §6.6 on the (already parsed) leaf certificate, with
    /// Go's messages (notation-go `verifyX509TrustedIdentities`). The leaf's subject is the one
    /// [`Cert`] rendered at parse time (Go `pkix.Name.String()`).
    pub fn check_trusted_identity(&self, leaf: &Cert) -> Result<(), String> {
        if self
            .trusted_identities
            .iter()
            .any(|ti| matches!(ti, TrustedIdentity::Any) || ti.raw() == WILDCARD)
        {
            return Ok(());
        }
        let mut x509_identities: Vec<DnAttrs> = Vec::new();
        for ti in &self.trusted_identities {
            let identity = ti.raw();
            let Some((prefix, value)) = identity.split_once(':') else {
                return Err(format!(
                    "trust policy statement {} has trusted identity {} missing separator",
                    q(&self.name),
                    q(identity)
                ));
            };
            if prefix == X509_SUBJECT {
                if value.is_empty() {
                    return Err(format!(
                        "trust policy statement {} has trusted identity {} without an identity value",
                        q(&self.name),
                        q(identity)
                    ));
                }
                x509_identities.push(parse_dn_bytes(value)?);
            }
        }
        if x509_identities.is_empty() {
            return Err(format!(
                "no x509 trusted identities are configured in the trust policy {}",
                q(&self.name)
            ));
        }
        let leaf = parse_dn_bytes(leaf.subject()).map_err(|e| {
            format!(
                "error while parsing the certificate subject from the digital signature. error : {}",
                q(&e)
            )
        })?;
        if x509_identities.iter().any(|ti| is_subset(ti, &leaf)) {
            return Ok(());
        }
        Err(format!(
            "signing certificate from the digital signature does not match the X.509 trusted identities {} defined in the trust policy {}",
            go_format_map_list(&x509_identities),
            q(&self.name)
        ))
    }
}
