//! The policy layer's errors where it meets its callers: loading the file and selecting a
//! statement. `Display` is notation-go's exact text. (The problems validation collects are
//! still rendered messages, `Vec<String>`: see `validate.rs`.)

use std::fmt;
use std::path::PathBuf;

use super::TRUST_POLICY_LINK;
use super::dn::q;

const ENSURE_SCOPE: &str = "make sure it is a fully qualified repository without the scheme, protocol or tag. For example domain.com/my/repository or a local scope like local/myOCILayout";

/// Why the policy could not be read, or gave no statement.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// `trustpolicy.json` does not exist.
    NotPresent,
    /// It is a directory or a symlink.
    NotRegularFile,
    /// Opening it was refused.
    PermissionDenied { path: PathBuf },
    /// `lstat` failed otherwise; `errno` is Go's text for the OS error.
    Lstat { path: PathBuf, errno: String },
    /// `open` failed otherwise.
    Open { path: PathBuf, errno: String },
    /// Not a JSON document of the policy's shape (or unreadable); `detail` is Go's
    /// `encoding/json` error when there is one.
    Malformed { detail: Option<String> },
    /// An artifact reference without `@`.
    UnparsableArtifact { artifact: String },
    /// A registry scope with a `*` (other than the lone wildcard).
    ScopeWithWildcard { scope: String },
    /// A registry scope that is not `domain/repository`.
    InvalidScope { scope: String },
    /// No statement's scopes match the artifact's, and there is no `*` statement.
    NoApplicableStatement { artifact: String },
    /// [`PolicyDocument::statement_for_scope`](super::PolicyDocument::statement_for_scope):
    /// no statement for the scope.
    NoStatementForScope { scope: String },
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SEE: &str = "To create a trust policy, see:";
        match self {
            PolicyError::NotPresent => {
                write!(f, "trust policy is not present. {SEE} {TRUST_POLICY_LINK}")
            }
            PolicyError::NotRegularFile => write!(
                f,
                "trust policy is not a regular file (symlinks are not supported). {SEE} {TRUST_POLICY_LINK}"
            ),
            PolicyError::PermissionDenied { path } => write!(
                f,
                "unable to read trust policy due to file permissions, please verify the permissions of {}",
                path.display()
            ),
            PolicyError::Lstat { path, errno } => write!(f, "lstat {}: {errno}", path.display()),
            PolicyError::Open { path, errno } => write!(f, "open {}: {errno}", path.display()),
            PolicyError::Malformed { .. } => {
                write!(f, "malformed trust policy. {SEE} {TRUST_POLICY_LINK}")
            }
            PolicyError::UnparsableArtifact { artifact } => write!(
                f,
                "artifact URI {} could not be parsed, make sure it is the fully qualified oci artifact URI without the scheme/protocol. e.g domain.com:80/my/repository@sha256:digest",
                q(artifact)
            ),
            PolicyError::ScopeWithWildcard { scope } => write!(
                f,
                "registry scope {} with wild card(s) is not valid, {ENSURE_SCOPE}",
                q(scope)
            ),
            PolicyError::InvalidScope { scope } => {
                write!(
                    f,
                    "registry scope {} is not valid, {ENSURE_SCOPE}",
                    q(scope)
                )
            }
            PolicyError::NoApplicableStatement { artifact } => write!(
                f,
                "artifact {} has no applicable oci trust policy statement. Trust policy applicability for a given artifact is determined by registryScopes. {SEE} {TRUST_POLICY_LINK}",
                q(artifact)
            ),
            PolicyError::NoStatementForScope { scope } => write!(
                f,
                "registry scope {} has no applicable oci trust policy statement. Trust policy applicability for a given artifact is determined by registryScopes. {SEE} {TRUST_POLICY_LINK}",
                q(scope)
            ),
        }
    }
}

impl std::error::Error for PolicyError {}

impl PolicyError {
    /// The problems as `load_dir`/`from_json` list them: the message, then Go's detail.
    pub(super) fn into_problems(self) -> Vec<String> {
        let first = self.to_string();
        match self {
            PolicyError::Malformed {
                detail: Some(detail),
            } => vec![first, detail],
            _ => vec![first],
        }
    }
}
