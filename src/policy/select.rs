//! Which statement applies (spec §6.5, notation-go `GetApplicableTrustPolicy`).

use super::dn::q;
use super::validate::validate_registry_scope_format;
use super::{PolicyDocument, Statement, TRUST_POLICY_LINK, WILDCARD};

impl PolicyDocument {
    /// Spec §6.5 (Go `GetApplicableTrustPolicy`): `artifact_ref` is `registry/repo@digest`. An
    /// exact scope match wins, else the `*` statement, else Go's error.
    pub fn statement_for(&self, artifact_ref: &str) -> Result<&Statement, String> {
        let Some(at) = artifact_ref.rfind('@') else {
            return Err(format!(
                "artifact URI {} could not be parsed, make sure it is the fully qualified oci artifact URI without the scheme/protocol. e.g domain.com:80/my/repository@sha256:digest",
                q(artifact_ref)
            ));
        };
        let path = artifact_ref.get(..at).unwrap_or_default();
        validate_registry_scope_format(path)?;
        let mut wildcard = None;
        let mut applicable = None;
        for st in &self.statements {
            if st.registry_scopes.iter().any(|s| s == WILDCARD) {
                wildcard = Some(st);
            } else if st.registry_scopes.iter().any(|s| s == path) {
                applicable = Some(st);
            }
        }
        applicable.or(wildcard).ok_or_else(|| {
            format!(
                "artifact {} has no applicable oci trust policy statement. Trust policy applicability for a given artifact is determined by registryScopes. To create a trust policy, see: {TRUST_POLICY_LINK}",
                q(artifact_ref)
            )
        })
    }
}
