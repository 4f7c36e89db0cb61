//! The policy layer's errors, as data: loading the file and selecting a statement
//! ([`PolicyError`]), what validation finds in a document ([`ValidationError`], with a
//! statement's own problems in [`StatementError`] and a `signatureVerification`'s in
//! [`LevelError`]), and the trusted-identity check on a signing certificate
//! ([`IdentityError`]). `Display` is notation-go's exact text (`verifier/trustpolicy`
//! `trustpolicy.go` and `oci.go`, `verifier/verifier.go` `verifyX509TrustedIdentities`), nesting
//! as Go's `%w` wrapping does. A distinguished name that does not parse carries the DN
//! parser's message (`dn.rs`, go-ldap and notation-go `pkix`) as it is.

use std::fmt;
use std::path::PathBuf;

use super::TRUST_POLICY_LINK;
use super::dn::{go_format_map_list, q};

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

/// One problem of a trust policy document (notation-go `OCIDocument.Validate`, continued past
/// the first: the first one found is notation's error).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidationError {
    /// Not read as a policy document (malformed JSON), or a registry scope of the wrong form.
    Policy(PolicyError),
    EmptyVersion,
    UnsupportedVersion {
        version: String,
    },
    NoStatements,
    DuplicateName {
        name: String,
    },
    /// A statement's own problem (Go `validatePolicyCore`, wrapped `oci trust policy: %w`).
    Statement(StatementError),
    ZeroScopes {
        statement: String,
    },
    WildcardScopeWithOthers {
        statement: String,
    },
    DuplicateScope {
        scope: String,
    },
    /// Every check passed but a statement was not built (a bug, not a policy problem).
    NotBuilt,
}

/// A statement's own problem (Go `validatePolicyCore`, `validateTrustStore`,
/// `validateTrustedIdentities`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatementError {
    MissingName,
    SignatureVerification {
        statement: String,
        cause: LevelError,
    },
    VerifyTimestamp {
        statement: String,
        got: String,
    },
    SkipWithTrust {
        statement: String,
    },
    MissingTrust {
        statement: String,
    },
    MalformedStore {
        statement: String,
        store: String,
    },
    UnsupportedStoreType {
        statement: String,
        kind: String,
        store: String,
    },
    UnsupportedStoreName {
        statement: String,
        name: String,
        store: String,
    },
    WildcardIdentityWithOthers {
        statement: String,
    },
    EmptyIdentity {
        statement: String,
    },
    /// A trusted identity without `:`, or an `x509.subject:` with nothing after it: the same
    /// text as the identity check's.
    Identity(IdentityError),
    InvalidIdentityValue {
        statement: String,
        identity: String,
        /// The DN parser's message.
        detail: String,
    },
    OverlappingIdentities {
        statement: String,
        first: String,
        second: String,
    },
}

/// A `signatureVerification` that gives no level (Go `GetVerificationLevel`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LevelError {
    Empty,
    Invalid {
        level: String,
    },
    /// `skip` with overrides.
    CannotCustomize {
        level: String,
    },
    UnsupportedType {
        key: String,
    },
    UnsupportedAction {
        value: String,
    },
    IntegrityOverridden {
        key: String,
    },
    CannotSkip {
        key: String,
    },
}

/// Why a signing certificate is not one of a statement's trusted identities (notation-go
/// `verifyX509TrustedIdentities`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentityError {
    MissingSeparator {
        statement: String,
        identity: String,
    },
    WithoutValue {
        statement: String,
        identity: String,
    },
    /// A trusted identity's DN does not parse: Go returns the parser's error as it is.
    InvalidValue {
        detail: String,
    },
    NoX509Identities {
        statement: String,
    },
    /// The certificate's subject does not parse as a DN.
    UnparsableSubject {
        detail: String,
    },
    /// No x509 identity is a subset of the subject; `identities` as notation-go parsed them
    /// (attribute type, value; in order of first appearance).
    NoMatch {
        statement: String,
        identities: Vec<Vec<(Vec<u8>, Vec<u8>)>>,
    },
}

/// Go's `%q` of `ValidationTypes` and `ValidationActions` (`trustpolicy.go`).
const VALIDATION_TYPES: &str =
    r#"["integrity" "authenticity" "authenticTimestamp" "expiry" "revocation"]"#;
const VALIDATION_ACTIONS: &str = r#"["enforce" "log" "skip"]"#;

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DOC: &str = "oci trust policy document";
        const ST: &str = "oci trust policy statement";
        match self {
            ValidationError::Policy(e) => write!(f, "{e}"),
            ValidationError::EmptyVersion => {
                write!(f, "{DOC} has empty version, version must be specified")
            }
            ValidationError::UnsupportedVersion { version } => {
                write!(f, "{DOC} uses unsupported version {}", q(version))
            }
            ValidationError::NoStatements => {
                write!(f, "{DOC} can not have zero trust policy statements")
            }
            ValidationError::DuplicateName { name } => write!(
                f,
                "multiple oci trust policy statements use the same name {}, statement names must be unique",
                q(name)
            ),
            ValidationError::Statement(e) => write!(f, "oci trust policy: {e}"),
            ValidationError::ZeroScopes { statement } => write!(
                f,
                "{ST} {} has zero registry scopes, it must specify registry scopes with at least one value",
                q(statement)
            ),
            ValidationError::WildcardScopeWithOthers { statement } => write!(
                f,
                "{ST} {} uses wildcard registry scope '*', a wildcard scope cannot be used in conjunction with other scope values",
                q(statement)
            ),
            ValidationError::DuplicateScope { scope } => write!(
                f,
                "registry scope {} is present in multiple oci trust policy statements, one registry scope value can only be associated with one statement",
                q(scope)
            ),
            ValidationError::NotBuilt => write!(f, "internal error: statement not built"),
        }
    }
}

impl fmt::Display for StatementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const ST: &str = "trust policy statement";
        match self {
            StatementError::MissingName => write!(
                f,
                "a trust policy statement is missing a name, every statement requires a name"
            ),
            StatementError::SignatureVerification { statement, cause } => write!(
                f,
                "{ST} {} has invalid signatureVerification: {cause}",
                q(statement)
            ),
            StatementError::VerifyTimestamp { statement, got } => write!(
                f,
                "{ST} {} has invalid signatureVerification: verifyTimestamp must be \"always\" or \"afterCertExpiry\", but got {}",
                q(statement),
                q(got)
            ),
            StatementError::SkipWithTrust { statement } => write!(
                f,
                "{ST} {} is set to skip signature verification but configured with trust stores and/or trusted identities, remove them if signature verification needs to be skipped",
                q(statement)
            ),
            StatementError::MissingTrust { statement } => write!(
                f,
                "{ST} {} is either missing trust stores or trusted identities, both must be specified",
                q(statement)
            ),
            StatementError::MalformedStore { statement, store } => write!(
                f,
                "{ST} {} has malformed trust store value {}. The required format is <TrustStoreType>:<TrustStoreName>",
                q(statement),
                q(store)
            ),
            StatementError::UnsupportedStoreType {
                statement,
                kind,
                store,
            } => write!(
                f,
                "{ST} {} uses an unsupported trust store type {} in trust store value {}",
                q(statement),
                q(kind),
                q(store)
            ),
            StatementError::UnsupportedStoreName {
                statement,
                name,
                store,
            } => write!(
                f,
                "{ST} {} uses an unsupported trust store name {} in trust store value {}. Named store name needs to follow [a-zA-Z0-9_.-]+ format",
                q(statement),
                q(name),
                q(store)
            ),
            StatementError::WildcardIdentityWithOthers { statement } => write!(
                f,
                "{ST} {} uses a wildcard trusted identity '*', a wildcard identity cannot be used in conjunction with other values",
                q(statement)
            ),
            StatementError::EmptyIdentity { statement } => {
                write!(f, "{ST} {} has an empty trusted identity", q(statement))
            }
            StatementError::Identity(e) => write!(f, "{e}"),
            StatementError::InvalidIdentityValue {
                statement,
                identity,
                detail,
            } => write!(
                f,
                "{ST} {} has trusted identity {} with invalid identity value: {detail}",
                q(statement),
                q(identity)
            ),
            StatementError::OverlappingIdentities {
                statement,
                first,
                second,
            } => write!(
                f,
                "{ST} {} has overlapping x509 trustedIdentities, {} overlaps with {}",
                q(statement),
                q(first),
                q(second)
            ),
        }
    }
}

impl fmt::Display for LevelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const CUSTOM: &str = "in custom signature verification";
        match self {
            LevelError::Empty => write!(
                f,
                "signature verification level is empty or missing in the trust policy statement"
            ),
            LevelError::Invalid { level } => {
                write!(f, "invalid signature verification level {}", q(level))
            }
            LevelError::CannotCustomize { level } => write!(
                f,
                "signature verification level {} can't be used to customize signature verification",
                q(level)
            ),
            LevelError::UnsupportedType { key } => write!(
                f,
                "verification type {} {CUSTOM} is not supported, supported values are {VALIDATION_TYPES}",
                q(key)
            ),
            LevelError::UnsupportedAction { value } => write!(
                f,
                "verification action {} {CUSTOM} is not supported, supported values are {VALIDATION_ACTIONS}",
                q(value)
            ),
            LevelError::IntegrityOverridden { key } => {
                write!(f, "{} verification can not be overridden {CUSTOM}", q(key))
            }
            LevelError::CannotSkip { key } => {
                write!(f, "{} verification can not be skipped {CUSTOM}", q(key))
            }
        }
    }
}

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentityError::MissingSeparator {
                statement,
                identity,
            } => write!(
                f,
                "trust policy statement {} has trusted identity {} missing separator",
                q(statement),
                q(identity)
            ),
            IdentityError::WithoutValue {
                statement,
                identity,
            } => write!(
                f,
                "trust policy statement {} has trusted identity {} without an identity value",
                q(statement),
                q(identity)
            ),
            IdentityError::InvalidValue { detail } => write!(f, "{detail}"),
            IdentityError::NoX509Identities { statement } => write!(
                f,
                "no x509 trusted identities are configured in the trust policy {}",
                q(statement)
            ),
            IdentityError::UnparsableSubject { detail } => write!(
                f,
                "error while parsing the certificate subject from the digital signature. error : {}",
                q(detail)
            ),
            IdentityError::NoMatch {
                statement,
                identities,
            } => write!(
                f,
                "signing certificate from the digital signature does not match the X.509 trusted identities {} defined in the trust policy {}",
                go_format_map_list(identities),
                q(statement)
            ),
        }
    }
}

impl std::error::Error for ValidationError {}
impl std::error::Error for StatementError {}
impl std::error::Error for LevelError {}
impl std::error::Error for IdentityError {}

impl ValidationError {
    /// As `from_json` lists it: the message (then Go's JSON detail for a malformed document).
    pub(super) fn into_problems(self) -> Vec<String> {
        match self {
            ValidationError::Policy(e) => e.into_problems(),
            e => vec![e.to_string()],
        }
    }
}
