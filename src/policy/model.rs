//! The validated trust policy: what a statement says, as the rest of pullguard reads it.

use super::WILDCARD;

/// A signature validation type of the verification-level table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValidationType {
    Integrity,
    Authenticity,
    AuthenticTimestamp,
    Expiry,
    Revocation,
}

impl ValidationType {
    /// All types, in Go's order.
    pub const ALL: [ValidationType; 5] = [
        ValidationType::Integrity,
        ValidationType::Authenticity,
        ValidationType::AuthenticTimestamp,
        ValidationType::Expiry,
        ValidationType::Revocation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ValidationType::Integrity => "integrity",
            ValidationType::Authenticity => "authenticity",
            ValidationType::AuthenticTimestamp => "authenticTimestamp",
            ValidationType::Expiry => "expiry",
            ValidationType::Revocation => "revocation",
        }
    }

    /// Exact (case-sensitive) parse of an `override` key.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub(super) fn index(self) -> usize {
        self as usize
    }
}

/// What a failed validation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Enforce,
    Log,
    Skip,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::Enforce, Action::Log, Action::Skip];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Enforce => "enforce",
            Action::Log => "log",
            Action::Skip => "skip",
        }
    }

    /// Exact (case-sensitive) parse of an `override` value.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// A verification level: a preset (`strict`, `permissive`, `audit`, `skip`) or `custom` (a
/// preset with overrides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationLevel {
    pub name: String,
    pub(super) actions: [Action; 5],
}

impl VerificationLevel {
    /// One of the four presets by name (exact match).
    pub fn preset(name: &str) -> Option<Self> {
        use Action::{Enforce as E, Log as L, Skip as S};
        let actions = match name {
            "strict" => [E, E, E, E, E],
            "permissive" => [E, E, L, L, L],
            "audit" => [E, L, L, L, L],
            "skip" => [S, S, S, S, S],
            _ => return None,
        };
        Some(VerificationLevel {
            name: name.to_string(),
            actions,
        })
    }

    pub fn action(&self, t: ValidationType) -> Action {
        self.actions
            .get(t.index())
            .copied()
            .unwrap_or(Action::Enforce)
    }

    /// Actions in [`ValidationType::ALL`] order.
    pub fn actions(&self) -> [Action; 5] {
        self.actions
    }

    /// Go: `verificationLevel.Name == "skip"`.
    pub fn is_skip(&self) -> bool {
        self.name == "skip"
    }
}

/// `signatureVerification.verifyTimestamp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerifyTimestamp {
    #[default]
    Always,
    AfterCertExpiry,
}

impl VerifyTimestamp {
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyTimestamp::Always => "always",
            VerifyTimestamp::AfterCertExpiry => "afterCertExpiry",
        }
    }
}

/// Trust store type: the `<type>` of a policy's `"<type>:<name>"` and the directory of a named
/// store (`truststore/x509/<type>/<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreKind {
    Ca,
    SigningAuthority,
    Tsa,
}

impl StoreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Ca => "ca",
            StoreKind::SigningAuthority => "signingAuthority",
            StoreKind::Tsa => "tsa",
        }
    }

    /// Exact (case-sensitive) parse.
    pub fn parse(s: &str) -> Option<Self> {
        [StoreKind::Ca, StoreKind::SigningAuthority, StoreKind::Tsa]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for StoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `"<type>:<name>"` from `trustStores`, as written (duplicates are kept).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrustStoreRef {
    pub kind: StoreKind,
    pub name: String,
}

/// One `trustedIdentities` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedIdentity {
    /// `"*"`.
    Any,
    /// `x509.subject:<DN>`. `raw` is the whole entry as written (prefix included); `attrs` the
    /// parsed DN (see [`parse_dn`]). Matching re-parses `raw`, exactly like Go.
    X509Subject {
        raw: String,
        attrs: Vec<(String, String)>,
    },
    /// Any other `<prefix>:<value>` (accepted by validation, never matched natively).
    Other(String),
}

impl TrustedIdentity {
    /// The entry as written in the policy.
    pub fn raw(&self) -> &str {
        match self {
            TrustedIdentity::Any => WILDCARD,
            TrustedIdentity::X509Subject { raw, .. } => raw,
            TrustedIdentity::Other(raw) => raw,
        }
    }
}

/// A validated trust policy statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub name: String,
    pub registry_scopes: Vec<String>,
    pub level: VerificationLevel,
    pub verify_timestamp: VerifyTimestamp,
    pub trust_stores: Vec<TrustStoreRef>,
    pub trusted_identities: Vec<TrustedIdentity>,
}

/// A validated OCI trust policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    pub version: String,
    pub statements: Vec<Statement>,
}
