//! Which statement applies (spec §6.5, notation-go `GetApplicableTrustPolicy`). Selection is
//! pure: it depends on the scope (`registry/repository`) only, never on the digest.

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
        let scope = artifact_ref.get(..at).unwrap_or_default();
        self.applicable(scope)?.ok_or_else(|| {
            format!(
                "artifact {} has no applicable oci trust policy statement. Trust policy applicability for a given artifact is determined by registryScopes. To create a trust policy, see: {TRUST_POLICY_LINK}",
                q(artifact_ref)
            )
        })
    }

    /// The statement for every artifact of `scope` (`registry/repository`, as an image's
    /// `ImageRef::scope()`), without a digest: the same statement, and for a malformed scope
    /// the same error, as [`statement_for`](Self::statement_for) gives `scope@<any digest>`.
    /// For the questions asked before there is a digest ("does the policy skip this
    /// repository?").
    pub fn statement_for_scope(&self, scope: &str) -> Result<&Statement, String> {
        self.applicable(scope)?.ok_or_else(|| {
            format!(
                "registry scope {} has no applicable oci trust policy statement. Trust policy applicability for a given artifact is determined by registryScopes. To create a trust policy, see: {TRUST_POLICY_LINK}",
                q(scope)
            )
        })
    }

    /// The exact scope match, else the `*` statement; `Err` for a malformed scope.
    fn applicable(&self, scope: &str) -> Result<Option<&Statement>, String> {
        validate_registry_scope_format(scope)?;
        let mut wildcard = None;
        let mut applicable = None;
        for st in &self.statements {
            if st.registry_scopes.iter().any(|s| s == WILDCARD) {
                wildcard = Some(st);
            } else if st.registry_scopes.iter().any(|s| s == scope) {
                applicable = Some(st);
            }
        }
        Ok(applicable.or(wildcard))
    }
}
