//! The trusted-identity check on the signing certificate (spec §6.6, notation-go
//! `verifyX509TrustedIdentities`).

use super::dn::{DnAttrs, is_subset, parse_dn_bytes};
use super::error::IdentityError;
use super::{Statement, TrustedIdentity, WILDCARD, X509_SUBJECT};
use crate::x509::Cert;

impl Statement {
    /// The trusted-identity check of spec §6.6 on the (already parsed) leaf certificate
    /// (notation-go `verifyX509TrustedIdentities`; `Display` is its text). The leaf's subject
    /// is the one [`Cert`] rendered at parse time (Go `pkix.Name.String()`).
    pub fn trusted_identity(&self, leaf: &Cert) -> Result<(), IdentityError> {
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
                return Err(IdentityError::MissingSeparator {
                    statement: self.name.clone(),
                    identity: identity.to_string(),
                });
            };
            if prefix == X509_SUBJECT {
                if value.is_empty() {
                    return Err(IdentityError::WithoutValue {
                        statement: self.name.clone(),
                        identity: identity.to_string(),
                    });
                }
                x509_identities.push(
                    parse_dn_bytes(value)
                        .map_err(|detail| IdentityError::InvalidValue { detail })?,
                );
            }
        }
        if x509_identities.is_empty() {
            return Err(IdentityError::NoX509Identities {
                statement: self.name.clone(),
            });
        }
        let leaf = parse_dn_bytes(leaf.subject())
            .map_err(|detail| IdentityError::UnparsableSubject { detail })?;
        if x509_identities.iter().any(|ti| is_subset(ti, &leaf)) {
            return Ok(());
        }
        Err(IdentityError::NoMatch {
            statement: self.name.clone(),
            identities: x509_identities,
        })
    }

    /// [`Statement::trusted_identity`], its error rendered (for callers that still speak
    /// strings: `verify.rs`).
    pub fn check_trusted_identity(&self, leaf: &Cert) -> Result<(), String> {
        self.trusted_identity(leaf).map_err(|e| e.to_string())
    }
}
