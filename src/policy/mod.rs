//! Notation OCI trust policy (`trustpolicy.json`, as notation 1.3 reads it): loading,
//! validation, policy selection and the trusted-identity check, reproducing notation-go
//! (v1.x, `verifier/trustpolicy`) including its exact error messages.
//!
//! - [`model`]: the validated document (`PolicyDocument`, `Statement`, levels, stores, identities).
//! - [`load`]: reading `trustpolicy.json` from a configuration directory (Go's `getDocument`).
//! - [`decode`]: the JSON into notation-go's raw structs, the way Go's `encoding/json` does
//!   (through [`crate::gocompat::json`]): only the first JSON value is read, keys match struct
//!   fields case-insensitively, unknown keys are ignored, duplicate keys are applied in order
//!   (later ones win, objects and maps merge), `null` leaves a string unchanged and resets a list
//!   or map, and any syntax or type error makes the document "malformed".
//! - [`validate`]: `OCIDocument.Validate`, continued past the first error.
//! - [`select`]: which statement applies to an artifact or a scope (spec §6.5).
//! - [`identity`]: the trusted-identity check on the signing certificate (spec §6.6).
//! - [`dn`]: distinguished names as go-ldap and notation-go parse them.

mod decode;
mod dn;
mod error;
mod identity;
mod load;
mod model;
mod select;
mod validate;

#[cfg(test)]
mod tests;

pub use dn::parse_dn;
pub use error::{IdentityError, LevelError, PolicyError, StatementError, ValidationError};
pub use load::{ignored_policy_file, ignored_policy_message};
pub use model::{
    Action, PolicyDocument, Statement, StoreKind, TrustStoreRef, TrustedIdentity, ValidationType,
    VerificationLevel, VerifyTimestamp,
};

const TRUST_POLICY_LINK: &str = "https://notaryproject.dev/docs/quickstart/#create-a-trust-policy";
const WILDCARD: &str = "*";
const X509_SUBJECT: &str = "x509.subject";
