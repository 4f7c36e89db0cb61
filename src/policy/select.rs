//! Which statement applies (spec §6.5, notation-go `GetApplicableTrustPolicy`). Selection is
//! pure: it depends on the scope (`registry/repository`) only, never on the digest.

use super::validate::validate_registry_scope_format;
use super::{PolicyDocument, PolicyError, Statement, WILDCARD};

impl PolicyDocument {
    /// Spec §6.5 (Go `GetApplicableTrustPolicy`): `artifact_ref` is `registry/repo@digest`. An
    /// exact scope match wins, else the `*` statement, else Go's error.
    pub fn statement_for(&self, artifact_ref: &str) -> Result<&Statement, PolicyError> {
        let Some(at) = artifact_ref.rfind('@') else {
            return Err(PolicyError::UnparsableArtifact {
                artifact: artifact_ref.to_string(),
            });
        };
        let scope = artifact_ref.get(..at).unwrap_or_default();
        self.applicable(scope)?
            .ok_or_else(|| PolicyError::NoApplicableStatement {
                artifact: artifact_ref.to_string(),
            })
    }

    /// The statement for every artifact of `scope` (`registry/repository`, as an image's
    /// `ImageRef::scope()`), without a digest: the same statement, and for a malformed scope
    /// the same error, as [`statement_for`](Self::statement_for) gives `scope@<any digest>`.
    /// For the questions asked before there is a digest ("does the policy skip this
    /// repository?").
    pub fn statement_for_scope(&self, scope: &str) -> Result<&Statement, PolicyError> {
        self.applicable(scope)?
            .ok_or_else(|| PolicyError::NoStatementForScope {
                scope: scope.to_string(),
            })
    }

    /// The exact scope match, else the `*` statement; `Err` for a malformed scope.
    fn applicable(&self, scope: &str) -> Result<Option<&Statement>, PolicyError> {
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
