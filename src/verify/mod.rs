//! The verification engine: trust material (policy + stores), one envelope against one
//! statement (the five validations and their actions), and one image end to end (resolve once,
//! pick the statement, discover signatures, first one that passes wins).
//!
//! One noun per file: `trust.rs` (`TrustConfig`), `report.rs` (`SignatureReport`),
//! `signature.rs` (one envelope, its validations), `outcome.rs` (`Outcome`, `Failure`),
//! `target.rs` (one image end to end), `source.rs` (`Source`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::envelope::{self, Envelope, SigningScheme};
use crate::gocompat::quote::quote as go_quote;
use crate::gocompat::time_fmt::format_rfc1123z;
use crate::layout::OciLayout;
use crate::oci::{Descriptor, ImageRef, sha256_digest};
use crate::policy::{
    Action, PolicyDocument, Statement, StoreKind, ValidationType, VerifyTimestamp,
};
use crate::registry::{BoxFuture, Fetched, Registry, RegistryClient, RegistryError};
use crate::revocation::{Purpose, RevocationCheck, RevocationChecker};
use crate::truststore;
use crate::x509::{self, Cert};

mod outcome;
mod report;
mod signature;
mod source;
mod target;
mod trust;

// Each file's private helpers, for its siblings (`use super::*`).
use self::{outcome::*, report::*};

pub use outcome::{Failure, Outcome, Timings};
pub use report::{SignatureReport, ValidationResult};
pub use signature::{verify_envelope, verify_envelope_with};
pub use source::Source;
pub use target::{
    resolve, resolve_or_deny, verifies_signatures, verify_discovered, verify_image, verify_target,
};
pub use trust::{LoadedStore, TrustConfig};

#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub max_signatures: usize,
    pub now: OffsetDateTime,
    /// Scope used for policy selection instead of the image's `registry/repository`
    /// (notation's `--scope`, for OCI layouts).
    pub scope: Option<String>,
    /// OCSP/CRL checker (HTTP clients and the CRL cache); the daemon shares one.
    pub revocation: Arc<dyn RevocationCheck>,
    /// `key=value` pairs the signature's payload annotations must carry (notation's
    /// `--user-metadata`, notation-go's `VerifyOptions.UserMetadata`).
    pub user_metadata: BTreeMap<String, String>,
    /// Verification plugins: `--plugin-config` and the run deadline.
    pub plugins: crate::plugin::PluginSettings,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            max_signatures: 100,
            now: OffsetDateTime::now_utc(),
            scope: None,
            revocation: Arc::new(RevocationChecker::default()),
            user_metadata: BTreeMap::new(),
            plugins: Default::default(),
        }
    }
}
