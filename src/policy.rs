//! Notation OCI trust policy (`trustpolicy.json`, as notation 1.3 reads it): loading,
//! validation, policy selection and the trusted-identity check, reproducing notation-go
//! (v1.x, `verifier/trustpolicy`) including its exact error messages.
//!
//! JSON is decoded the way Go's `encoding/json` decodes into notation-go's structs: only the first
//! JSON value is read, keys match struct fields case-insensitively, unknown keys are ignored,
//! duplicate keys are applied in order (later ones win, objects and maps merge), `null` leaves a
//! string unchanged and resets a list or map, and any syntax or type error makes the document
//! "malformed".

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use regex::Regex;

mod dn;

pub use crate::x509::go_name_string as go_subject_string;
pub use dn::parse_dn;
use dn::{DnAttrs, go_format_map_list, is_subset, parse_dn_bytes, q};

const TRUST_POLICY_LINK: &str = "https://notaryproject.dev/docs/quickstart/#create-a-trust-policy";
const WILDCARD: &str = "*";
const X509_SUBJECT: &str = "x509.subject";
const OCI_POLICY_FILE: &str = "trustpolicy.oci.json";
const LEGACY_POLICY_FILE: &str = "trustpolicy.json";

/// `dir/trustpolicy.oci.json` when it exists (as any kind of file): notation 1.3 does not
/// read it, and neither does pullguard.
pub fn ignored_policy_file(dir: &Path) -> Option<PathBuf> {
    let p = dir.join(OCI_POLICY_FILE);
    std::fs::symlink_metadata(&p).is_ok().then_some(p)
}

/// The loud note about an ignored `trustpolicy.oci.json`.
pub fn ignored_policy_message(path: &Path) -> String {
    format!(
        "{} is ignored: notation 1.3 (and pullguard) read only trustpolicy.json from {}",
        path.display(),
        path.parent()
            .map_or_else(String::new, |d| d.display().to_string())
    )
}

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

    fn index(self) -> usize {
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
    actions: [Action; 5],
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

/// Trust store type.
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

impl PolicyDocument {
    /// Parse and validate an OCI trust policy. `Err` holds every problem found; the first one is
    /// exactly the message notation-go returns for the document. A JSON decode error gives
    /// `malformed trust policy. ...` followed by a detail.
    pub fn from_json(bytes: &[u8]) -> Result<PolicyDocument, Vec<String>> {
        let malformed = |detail: String| {
            vec![
                format!(
                    "malformed trust policy. To create a trust policy, see: {TRUST_POLICY_LINK}"
                ),
                detail,
            ]
        };
        let value = json::parse_document(bytes).map_err(malformed)?;
        let raw = decode_document(&value).map_err(malformed)?;
        validate(raw)
    }

    /// Load from a notation configuration directory as notation 1.3 (notation-go 1.3's
    /// `trustpolicy.LoadDocument`) does: `trustpolicy.json` only. A `trustpolicy.oci.json`
    /// (read first by later notation releases) is not read; [`ignored_policy_file`] names it so
    /// that callers can say so, and when it is the only file the error says so too.
    pub fn load_dir(dir: &Path) -> Result<(PolicyDocument, PathBuf), Vec<String>> {
        let path = dir.join(LEGACY_POLICY_FILE);
        match read_policy_file(&path) {
            Err(LoadError::NotExist) => {
                let mut problems = vec![format!(
                    "trust policy is not present. To create a trust policy, see: {TRUST_POLICY_LINK}"
                )];
                if let Some(oci) = ignored_policy_file(dir) {
                    problems.push(ignored_policy_message(&oci));
                }
                Err(problems)
            }
            Err(LoadError::Other(e)) => Err(vec![e]),
            Ok(bytes) => Self::from_json(&bytes).map(|doc| (doc, path)),
        }
    }

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

impl Statement {
    /// The trusted-identity check of spec §6.6 on the leaf certificate (DER), with Go's messages
    /// (notation-go `verifyX509TrustedIdentities`).
    pub fn check_trusted_identity(&self, leaf_der: &[u8]) -> Result<(), String> {
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
        let (_, cert) = x509_parser::parse_x509_certificate(leaf_der)
            .map_err(|e| format!("failed to parse the signing certificate: {e}"))?;
        let subject = go_subject_string(cert.subject())?;
        let leaf = parse_dn_bytes(&subject).map_err(|e| {
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

// ---------------------------------------------------------------------------------------------
// Loader
// ---------------------------------------------------------------------------------------------

enum LoadError {
    NotExist,
    Other(String),
}

/// notation-go `getDocument` up to the JSON decoding.
fn read_policy_file(path: &Path) -> Result<Vec<u8>, LoadError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(LoadError::NotExist),
        Err(e) => {
            return Err(LoadError::Other(format!(
                "lstat {}: {}",
                path.display(),
                go_errno_text(&e)
            )));
        }
    };
    if meta.is_dir() || meta.file_type().is_symlink() {
        return Err(LoadError::Other(format!(
            "trust policy is not a regular file (symlinks are not supported). To create a trust policy, see: {TRUST_POLICY_LINK}"
        )));
    }
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(LoadError::Other(format!(
                "unable to read trust policy due to file permissions, please verify the permissions of {}",
                path.display()
            )));
        }
        Err(e) => {
            return Err(LoadError::Other(format!(
                "open {}: {}",
                path.display(),
                go_errno_text(&e)
            )));
        }
    };
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).is_err() {
        // Go: a read error surfaces from the JSON decoder, i.e. as "malformed".
        return Err(LoadError::Other(format!(
            "malformed trust policy. To create a trust policy, see: {TRUST_POLICY_LINK}"
        )));
    }
    Ok(bytes)
}

/// Go's text for common errno values (Rust's has a capital letter and "(os error N)").
fn go_errno_text(e: &std::io::Error) -> String {
    let text = match e.raw_os_error() {
        Some(1) => "operation not permitted",
        Some(2) => "no such file or directory",
        Some(5) => "input/output error",
        Some(13) => "permission denied",
        Some(20) => "not a directory",
        Some(21) => "is a directory",
        Some(36) => "file name too long",
        Some(40) => "too many levels of symbolic links",
        _ => return e.to_string(),
    };
    text.to_string()
}

// ---------------------------------------------------------------------------------------------
// Go-style decoding into notation-go's structs
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default, Clone)]
struct RawSignatureVerification {
    level: String,
    /// `map[ValidationType]ValidationAction`; `None` = nil map. Keys in first-appearance order.
    overrides: Option<Vec<(String, String)>>,
    verify_timestamp: String,
}

#[derive(Debug, Default, Clone)]
struct RawStatement {
    name: String,
    signature_verification: RawSignatureVerification,
    trust_stores: Vec<String>,
    trusted_identities: Vec<String>,
    registry_scopes: Vec<String>,
}

#[derive(Debug, Default)]
struct RawDocument {
    version: String,
    statements: Vec<RawStatement>,
}

use json::JVal;

/// Go `encoding/json` key matching against an ASCII field name: exact, else case-folded
/// (ASCII letters, plus U+212A KELVIN SIGN ~ 'k' and U+017F LONG S ~ 's').
fn key_matches(key: &str, field: &str) -> bool {
    let mut fb = field.bytes();
    for c in key.chars() {
        let folded = match c {
            '\u{212a}' => b'K',
            '\u{17f}' => b'S',
            c if c.is_ascii() => (c as u8).to_ascii_uppercase(),
            _ => return false,
        };
        match fb.next() {
            Some(f) if f.to_ascii_uppercase() == folded => {}
            _ => return false,
        }
    }
    fb.next().is_none()
}

fn type_error(v: &JVal, strct: &str, field: &str, ty: &str) -> String {
    format!(
        "json: cannot unmarshal {} into Go struct field {strct}.{field} of type {ty}",
        v.kind()
    )
}

fn decode_string(
    dst: &mut String,
    v: &JVal,
    strct: &str,
    field: &str,
    ty: &str,
) -> Result<(), String> {
    match v {
        JVal::Str(s) => {
            dst.clone_from(s);
            Ok(())
        }
        JVal::Null => Ok(()),
        other => Err(type_error(other, strct, field, ty)),
    }
}

/// Go decoding of a JSON array into an existing slice: elements are decoded into the existing
/// ones (so `null` keeps an element), new ones start from zero, the slice is cut to the array's
/// length; `null` resets the slice.
fn decode_slice<T: Default>(
    dst: &mut Vec<T>,
    v: &JVal,
    mut elem: impl FnMut(&mut T, &JVal) -> Result<(), String>,
    err: impl Fn(&JVal) -> String,
) -> Result<(), String> {
    match v {
        JVal::Null => {
            dst.clear();
            Ok(())
        }
        JVal::Arr(items) => {
            for (i, item) in items.iter().enumerate() {
                if i >= dst.len() {
                    dst.push(T::default());
                }
                if let Some(slot) = dst.get_mut(i) {
                    elem(slot, item)?;
                }
            }
            dst.truncate(items.len());
            Ok(())
        }
        other => Err(err(other)),
    }
}

fn decode_string_slice(dst: &mut Vec<String>, v: &JVal, field: &str) -> Result<(), String> {
    decode_slice(
        dst,
        v,
        |s, item| decode_string(s, item, "OCITrustPolicy", field, "string"),
        |other| type_error(other, "OCITrustPolicy", field, "[]string"),
    )
}

fn decode_document(v: &JVal) -> Result<RawDocument, String> {
    let mut doc = RawDocument::default();
    match v {
        JVal::Null => {}
        JVal::Obj(members) => {
            for (key, value) in members {
                if key_matches(key, "version") {
                    decode_string(&mut doc.version, value, "OCIDocument", "version", "string")?;
                } else if key_matches(key, "trustPolicies") {
                    decode_slice(&mut doc.statements, value, decode_statement, |other| {
                        type_error(
                            other,
                            "OCIDocument",
                            "trustPolicies",
                            "[]trustpolicy.OCITrustPolicy",
                        )
                    })?;
                }
            }
        }
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type trustpolicy.OCIDocument",
                other.kind()
            ));
        }
    }
    Ok(doc)
}

fn decode_statement(st: &mut RawStatement, v: &JVal) -> Result<(), String> {
    let members = match v {
        JVal::Null => return Ok(()),
        JVal::Obj(m) => m,
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go struct field OCIDocument.trustPolicies of type trustpolicy.OCITrustPolicy",
                other.kind()
            ));
        }
    };
    for (key, value) in members {
        if key_matches(key, "name") {
            decode_string(
                &mut st.name,
                value,
                "OCITrustPolicy",
                "trustPolicies.name",
                "string",
            )?;
        } else if key_matches(key, "signatureVerification") {
            decode_signature_verification(&mut st.signature_verification, value)?;
        } else if key_matches(key, "trustStores") {
            decode_string_slice(&mut st.trust_stores, value, "trustPolicies.trustStores")?;
        } else if key_matches(key, "trustedIdentities") {
            decode_string_slice(
                &mut st.trusted_identities,
                value,
                "trustPolicies.trustedIdentities",
            )?;
        } else if key_matches(key, "registryScopes") {
            decode_string_slice(
                &mut st.registry_scopes,
                value,
                "trustPolicies.registryScopes",
            )?;
        }
    }
    Ok(())
}

fn decode_signature_verification(
    sv: &mut RawSignatureVerification,
    v: &JVal,
) -> Result<(), String> {
    const S: &str = "SignatureVerification";
    let members = match v {
        JVal::Null => return Ok(()),
        JVal::Obj(m) => m,
        other => {
            return Err(type_error(
                other,
                "OCITrustPolicy",
                "trustPolicies.signatureVerification",
                "trustpolicy.SignatureVerification",
            ));
        }
    };
    for (key, value) in members {
        if key_matches(key, "level") {
            decode_string(
                &mut sv.level,
                value,
                S,
                "trustPolicies.signatureVerification.level",
                "string",
            )?;
        } else if key_matches(key, "verifyTimestamp") {
            decode_string(
                &mut sv.verify_timestamp,
                value,
                S,
                "trustPolicies.signatureVerification.verifyTimestamp",
                "trustpolicy.TimestampOption",
            )?;
        } else if key_matches(key, "override") {
            match value {
                JVal::Null => sv.overrides = None,
                JVal::Obj(entries) => {
                    let map = sv.overrides.get_or_insert_with(Vec::new);
                    for (k, val) in entries {
                        let action = match val {
                            JVal::Str(s) => s.clone(),
                            JVal::Null => String::new(),
                            other => {
                                return Err(type_error(
                                    other,
                                    S,
                                    &format!("trustPolicies.signatureVerification.override.{k}"),
                                    "trustpolicy.ValidationAction",
                                ));
                            }
                        };
                        match map.iter_mut().find(|(existing, _)| existing == k) {
                            Some(entry) => entry.1 = action,
                            None => map.push((k.clone(), action)),
                        }
                    }
                }
                other => {
                    return Err(type_error(
                        other,
                        S,
                        "trustPolicies.signatureVerification.override",
                        "map[trustpolicy.ValidationType]trustpolicy.ValidationAction",
                    ));
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Validation (notation-go OCIDocument.Validate, continued past the first error)
// ---------------------------------------------------------------------------------------------

fn validate(raw: RawDocument) -> Result<PolicyDocument, Vec<String>> {
    let mut errors = Vec::new();
    if raw.version.is_empty() {
        errors.push(
            "oci trust policy document has empty version, version must be specified".to_string(),
        );
    } else if raw.version != "1.0" {
        errors.push(format!(
            "oci trust policy document uses unsupported version {}",
            q(&raw.version)
        ));
    }
    if raw.statements.is_empty() {
        errors.push(
            "oci trust policy document can not have zero trust policy statements".to_string(),
        );
    }

    let mut names: HashSet<&str> = HashSet::new();
    let mut built: Vec<Option<Statement>> = Vec::new();
    for st in &raw.statements {
        if names.contains(st.name.as_str()) {
            errors.push(format!(
                "multiple oci trust policy statements use the same name {}, statement names must be unique",
                q(&st.name)
            ));
        }
        let (core_errors, statement) = validate_core(st);
        errors.extend(
            core_errors
                .into_iter()
                .map(|e| format!("oci trust policy: {e}")),
        );
        built.push(statement);
        names.insert(st.name.as_str());
    }

    errors.extend(validate_registry_scopes(&raw.statements));

    if !errors.is_empty() {
        return Err(errors);
    }
    match built.into_iter().collect::<Option<Vec<Statement>>>() {
        Some(statements) => Ok(PolicyDocument {
            version: raw.version,
            statements,
        }),
        None => Err(vec!["internal error: statement not built".to_string()]),
    }
}

/// Go `validatePolicyCore` (its first error is the first entry), plus further problems of the
/// same statement. Returns the built statement when there is no error.
fn validate_core(st: &RawStatement) -> (Vec<String>, Option<Statement>) {
    let name = &st.name;
    let mut errors = Vec::new();
    if name.is_empty() {
        errors.push(
            "a trust policy statement is missing a name, every statement requires a name"
                .to_string(),
        );
    }
    let level = verification_level(&st.signature_verification);
    if let Err(level_errors) = &level {
        errors.extend(level_errors.iter().map(|e| {
            format!(
                "trust policy statement {} has invalid signatureVerification: {e}",
                q(name)
            )
        }));
    }
    let verify_timestamp = match st.signature_verification.verify_timestamp.as_str() {
        "" | "always" => Some(VerifyTimestamp::Always),
        "afterCertExpiry" => Some(VerifyTimestamp::AfterCertExpiry),
        other => {
            errors.push(format!(
                "trust policy statement {} has invalid signatureVerification: verifyTimestamp must be \"always\" or \"afterCertExpiry\", but got {}",
                q(name),
                q(other)
            ));
            None
        }
    };

    let mut stores = Vec::new();
    let mut identities = Vec::new();
    match &level {
        Ok(l) if l.is_skip() => {
            if !st.trust_stores.is_empty() || !st.trusted_identities.is_empty() {
                errors.push(format!(
                    "trust policy statement {} is set to skip signature verification but configured with trust stores and/or trusted identities, remove them if signature verification needs to be skipped",
                    q(name)
                ));
            }
        }
        _ => {
            if level.is_ok() && (st.trust_stores.is_empty() || st.trusted_identities.is_empty()) {
                errors.push(format!(
                    "trust policy statement {} is either missing trust stores or trusted identities, both must be specified",
                    q(name)
                ));
            }
            stores = validate_trust_stores(name, &st.trust_stores, &mut errors);
            identities = validate_trusted_identities(name, &st.trusted_identities, &mut errors);
        }
    }

    let statement = match (level, verify_timestamp) {
        (Ok(level), Some(verify_timestamp)) if errors.is_empty() => Some(Statement {
            name: name.clone(),
            registry_scopes: st.registry_scopes.clone(),
            level,
            verify_timestamp,
            trust_stores: stores,
            trusted_identities: identities,
        }),
        _ => None,
    };
    (errors, statement)
}

/// Go `SignatureVerification.GetVerificationLevel`. Override problems are reported in the order
/// the keys first appear (Go iterates a map, so with several bad keys its choice is random).
fn verification_level(sv: &RawSignatureVerification) -> Result<VerificationLevel, Vec<String>> {
    if sv.level.is_empty() {
        return Err(vec![
            "signature verification level is empty or missing in the trust policy statement"
                .to_string(),
        ]);
    }
    let Some(base) = VerificationLevel::preset(&sv.level) else {
        return Err(vec![format!(
            "invalid signature verification level {}",
            q(&sv.level)
        )]);
    };
    let overrides = match &sv.overrides {
        Some(o) if !o.is_empty() => o,
        _ => return Ok(base),
    };
    if base.is_skip() {
        return Err(vec![format!(
            "signature verification level {} can't be used to customize signature verification",
            q(&base.name)
        )]);
    }
    let mut custom = VerificationLevel {
        name: "custom".to_string(),
        actions: base.actions,
    };
    let mut errors = Vec::new();
    for (key, value) in overrides {
        let Some(t) = ValidationType::parse(key) else {
            errors.push(format!(
                "verification type {} in custom signature verification is not supported, supported values are [\"integrity\" \"authenticity\" \"authenticTimestamp\" \"expiry\" \"revocation\"]",
                q(key)
            ));
            continue;
        };
        let Some(action) = Action::parse(value) else {
            errors.push(format!(
                "verification action {} in custom signature verification is not supported, supported values are [\"enforce\" \"log\" \"skip\"]",
                q(value)
            ));
            continue;
        };
        if t == ValidationType::Integrity {
            errors.push(format!(
                "{} verification can not be overridden in custom signature verification",
                q(key)
            ));
        } else if t != ValidationType::Revocation && action == Action::Skip {
            errors.push(format!(
                "{} verification can not be skipped in custom signature verification",
                q(key)
            ));
        } else if let Some(slot) = custom.actions.get_mut(t.index()) {
            *slot = action;
        }
    }
    if errors.is_empty() {
        Ok(custom)
    } else {
        Err(errors)
    }
}

/// `^[a-zA-Z0-9_.-]+$` (notation-go `file.IsValidFileName`).
fn is_valid_store_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Go `validateTrustStore`, every entry checked.
fn validate_trust_stores(
    name: &str,
    stores: &[String],
    errors: &mut Vec<String>,
) -> Vec<TrustStoreRef> {
    let mut out = Vec::new();
    for store in stores {
        let Some((kind, store_name)) = store.split_once(':') else {
            errors.push(format!(
                "trust policy statement {} has malformed trust store value {}. The required format is <TrustStoreType>:<TrustStoreName>",
                q(name),
                q(store)
            ));
            continue;
        };
        let Some(kind) = StoreKind::parse(kind) else {
            errors.push(format!(
                "trust policy statement {} uses an unsupported trust store type {} in trust store value {}",
                q(name),
                q(kind),
                q(store)
            ));
            continue;
        };
        if !is_valid_store_name(store_name) {
            errors.push(format!(
                "trust policy statement {} uses an unsupported trust store name {} in trust store value {}. Named store name needs to follow [a-zA-Z0-9_.-]+ format",
                q(name),
                q(store_name),
                q(store)
            ));
            continue;
        }
        out.push(TrustStoreRef {
            kind,
            name: store_name.to_string(),
        });
    }
    out
}

/// Go `validateTrustedIdentities`, every entry checked, then every overlapping pair.
fn validate_trusted_identities(
    name: &str,
    identities: &[String],
    errors: &mut Vec<String>,
) -> Vec<TrustedIdentity> {
    if identities.len() > 1 && identities.iter().any(|i| i == WILDCARD) {
        errors.push(format!(
            "trust policy statement {} uses a wildcard trusted identity '*', a wildcard identity cannot be used in conjunction with other values",
            q(name)
        ));
    }
    let mut out = Vec::new();
    let mut parsed: Vec<(&str, DnAttrs)> = Vec::new();
    for identity in identities {
        if identity.is_empty() {
            errors.push(format!(
                "trust policy statement {} has an empty trusted identity",
                q(name)
            ));
            continue;
        }
        if identity == WILDCARD {
            out.push(TrustedIdentity::Any);
            continue;
        }
        let Some((prefix, value)) = identity.split_once(':') else {
            errors.push(format!(
                "trust policy statement {} has trusted identity {} missing separator",
                q(name),
                q(identity)
            ));
            continue;
        };
        if prefix != X509_SUBJECT {
            out.push(TrustedIdentity::Other(identity.clone()));
            continue;
        }
        if value.is_empty() {
            errors.push(format!(
                "trust policy statement {} has trusted identity {} without an identity value",
                q(name),
                q(identity)
            ));
            continue;
        }
        match parse_dn_bytes(value) {
            Ok(attrs) => {
                out.push(TrustedIdentity::X509Subject {
                    raw: identity.clone(),
                    attrs: attrs
                        .iter()
                        .map(|(k, v)| {
                            (
                                String::from_utf8_lossy(k).into_owned(),
                                String::from_utf8_lossy(v).into_owned(),
                            )
                        })
                        .collect(),
                });
                parsed.push((identity.as_str(), attrs));
            }
            Err(e) => errors.push(format!(
                "trust policy statement {} has trusted identity {} with invalid identity value: {e}",
                q(name),
                q(identity)
            )),
        }
    }
    for (i, (raw1, dn1)) in parsed.iter().enumerate() {
        for (j, (raw2, dn2)) in parsed.iter().enumerate() {
            if i != j && is_subset(dn1, dn2) {
                errors.push(format!(
                    "trust policy statement {} has overlapping x509 trustedIdentities, {} overlaps with {}",
                    q(name),
                    q(raw1),
                    q(raw2)
                ));
            }
        }
    }
    out
}

/// Go `validateRegistryScopes`, continued past the first error; duplicates are reported once
/// each, in order of first appearance.
fn validate_registry_scopes(statements: &[RawStatement]) -> Vec<String> {
    let mut errors = Vec::new();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    for st in statements {
        if st.registry_scopes.is_empty() {
            errors.push(format!(
                "oci trust policy statement {} has zero registry scopes, it must specify registry scopes with at least one value",
                q(&st.name)
            ));
        }
        if st.registry_scopes.len() > 1 && st.registry_scopes.iter().any(|s| s == WILDCARD) {
            errors.push(format!(
                "oci trust policy statement {} uses wildcard registry scope '*', a wildcard scope cannot be used in conjunction with other scope values",
                q(&st.name)
            ));
        }
        for scope in &st.registry_scopes {
            if scope != WILDCARD
                && let Err(e) = validate_registry_scope_format(scope)
            {
                errors.push(e);
            }
            let count = counts.entry(scope.as_str()).or_insert(0);
            if *count == 0 {
                order.push(scope.as_str());
            }
            *count += 1;
        }
    }
    for scope in order {
        if counts.get(scope).copied().unwrap_or(0) > 1 {
            errors.push(format!(
                "registry scope {} is present in multiple oci trust policy statements, one registry scope value can only be associated with one statement",
                q(scope)
            ));
        }
    }
    errors
}

fn scope_regexes() -> &'static Option<(Regex, Regex)> {
    static RES: OnceLock<Option<(Regex, Regex)>> = OnceLock::new();
    RES.get_or_init(|| {
        let domain = Regex::new(
            r"^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))+)?(?::[0-9]+)?$",
        )
        .ok()?;
        let repository = Regex::new(
            r"^[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?(?:(?:/[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?)+)?$",
        )
        .ok()?;
        Some((domain, repository))
    })
}

/// Go `validateRegistryScopeFormat`.
fn validate_registry_scope_format(scope: &str) -> Result<(), String> {
    const ENSURE: &str = "make sure it is a fully qualified repository without the scheme, protocol or tag. For example domain.com/my/repository or a local scope like local/myOCILayout";
    if scope.len() > 1 && scope.contains('*') {
        return Err(format!(
            "registry scope {} with wild card(s) is not valid, {ENSURE}",
            q(scope)
        ));
    }
    let invalid = || format!("registry scope {} is not valid, {ENSURE}", q(scope));
    let Some((domain, repository)) = scope.split_once('/') else {
        return Err(invalid());
    };
    let Some((domain_re, repository_re)) = scope_regexes() else {
        return Err(invalid());
    };
    if domain.is_empty()
        || repository.is_empty()
        || !domain_re.is_match(domain)
        || !repository_re.is_match(repository)
    {
        return Err(invalid());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// JSON, read the way Go's encoding/json Decoder reads it
// ---------------------------------------------------------------------------------------------

mod json {
    /// Go's `maxNestingDepth`.
    const MAX_DEPTH: usize = 10_000;
    /// Containers deeper than this are syntax-checked but not kept (the schema needs 5 levels).
    const KEEP_DEPTH: usize = 16;

    #[derive(Debug)]
    pub(super) enum JVal {
        Null,
        Bool,
        Num,
        Str(String),
        Arr(Vec<JVal>),
        /// Members in document order, duplicates kept.
        Obj(Vec<(String, JVal)>),
        /// An array or object nested deeper than `KEEP_DEPTH`.
        DeepArr,
        DeepObj,
    }

    impl JVal {
        pub(super) fn kind(&self) -> &'static str {
            match self {
                JVal::Null => "null",
                JVal::Bool => "bool",
                JVal::Num => "number",
                JVal::Str(_) => "string",
                JVal::Arr(_) | JVal::DeepArr => "array",
                JVal::Obj(_) | JVal::DeepObj => "object",
            }
        }
    }

    /// Parse the first JSON value of `b` like `json.Decoder.Decode`: leading whitespace is
    /// skipped, bytes after a top-level object or array are not looked at, a top-level scalar
    /// must be followed by whitespace or the end.
    pub(super) fn parse_document(b: &[u8]) -> Result<JVal, String> {
        let mut p = Parser { b, pos: 0 };
        p.ws();
        if p.peek().is_none() {
            return Err("EOF".to_string());
        }
        let v = p.value(0)?;
        if !matches!(
            v,
            JVal::Arr(_) | JVal::Obj(_) | JVal::DeepArr | JVal::DeepObj
        ) && let Some(c) = p.peek()
            && !is_ws(c)
        {
            return Err(p.unexpected("after top-level value"));
        }
        Ok(v)
    }

    fn is_ws(c: u8) -> bool {
        matches!(c, b' ' | b'\t' | b'\n' | b'\r')
    }

    struct Parser<'a> {
        b: &'a [u8],
        pos: usize,
    }

    #[derive(Clone, Copy, PartialEq)]
    enum Skip {
        Value,
        ValueOrEnd,
        Key,
        KeyOrEnd,
        After,
    }

    impl Parser<'_> {
        fn peek(&self) -> Option<u8> {
            self.b.get(self.pos).copied()
        }

        fn ws(&mut self) {
            while self.peek().is_some_and(is_ws) {
                self.pos += 1;
            }
        }

        fn unexpected(&self, context: &str) -> String {
            match self.peek() {
                None => "unexpected end of JSON input".to_string(),
                Some(c) if (0x20..0x7f).contains(&c) => format!(
                    "invalid character '{}' {context} (offset {})",
                    c as char, self.pos
                ),
                Some(c) => format!(
                    "invalid character '\\x{c:02x}' {context} (offset {})",
                    self.pos
                ),
            }
        }

        fn value(&mut self, depth: usize) -> Result<JVal, String> {
            self.ws();
            match self.peek() {
                Some(c @ (b'{' | b'[')) => {
                    if depth + 1 > MAX_DEPTH {
                        return Err("exceeded max depth".to_string());
                    }
                    if depth + 1 > KEEP_DEPTH {
                        self.skip_container(depth)?;
                        return Ok(if c == b'{' {
                            JVal::DeepObj
                        } else {
                            JVal::DeepArr
                        });
                    }
                    if c == b'{' {
                        self.object(depth + 1)
                    } else {
                        self.array(depth + 1)
                    }
                }
                _ => self.scalar(),
            }
        }

        fn object(&mut self, depth: usize) -> Result<JVal, String> {
            self.pos += 1;
            let mut members = Vec::new();
            self.ws();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(JVal::Obj(members));
            }
            loop {
                self.ws();
                if self.peek() != Some(b'"') {
                    return Err(self.unexpected("looking for beginning of object key string"));
                }
                let key = self.string()?;
                self.ws();
                if self.peek() != Some(b':') {
                    return Err(self.unexpected("after object key"));
                }
                self.pos += 1;
                let v = self.value(depth)?;
                members.push((key, v));
                self.ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        return Ok(JVal::Obj(members));
                    }
                    _ => return Err(self.unexpected("after object key:value pair")),
                }
            }
        }

        fn array(&mut self, depth: usize) -> Result<JVal, String> {
            self.pos += 1;
            let mut items = Vec::new();
            self.ws();
            if self.peek() == Some(b']') {
                self.pos += 1;
                return Ok(JVal::Arr(items));
            }
            loop {
                items.push(self.value(depth)?);
                self.ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        return Ok(JVal::Arr(items));
                    }
                    _ => return Err(self.unexpected("after array element")),
                }
            }
        }

        /// Syntax-check a container without recursion. `depth` is the depth of its parent.
        fn skip_container(&mut self, depth: usize) -> Result<(), String> {
            let mut stack: Vec<u8> = Vec::new();
            let mut state = Skip::Value;
            loop {
                self.ws();
                let c = self
                    .peek()
                    .ok_or_else(|| "unexpected end of JSON input".to_string())?;
                match state {
                    Skip::Value | Skip::ValueOrEnd => {
                        if state == Skip::ValueOrEnd && c == b']' {
                            self.pos += 1;
                            stack.pop();
                            if stack.is_empty() {
                                return Ok(());
                            }
                            state = Skip::After;
                        } else if c == b'[' || c == b'{' {
                            self.pos += 1;
                            stack.push(c);
                            if depth + stack.len() > MAX_DEPTH {
                                return Err("exceeded max depth".to_string());
                            }
                            state = if c == b'[' {
                                Skip::ValueOrEnd
                            } else {
                                Skip::KeyOrEnd
                            };
                        } else {
                            self.scalar()?;
                            state = Skip::After;
                        }
                    }
                    Skip::Key | Skip::KeyOrEnd => {
                        if state == Skip::KeyOrEnd && c == b'}' {
                            self.pos += 1;
                            stack.pop();
                            if stack.is_empty() {
                                return Ok(());
                            }
                            state = Skip::After;
                        } else if c == b'"' {
                            self.string()?;
                            self.ws();
                            if self.peek() != Some(b':') {
                                return Err(self.unexpected("after object key"));
                            }
                            self.pos += 1;
                            state = Skip::Value;
                        } else {
                            return Err(
                                self.unexpected("looking for beginning of object key string")
                            );
                        }
                    }
                    Skip::After => {
                        let Some(&top) = stack.last() else {
                            return Ok(());
                        };
                        if c == b',' {
                            self.pos += 1;
                            state = if top == b'[' { Skip::Value } else { Skip::Key };
                        } else if (top == b'[' && c == b']') || (top == b'{' && c == b'}') {
                            self.pos += 1;
                            stack.pop();
                            if stack.is_empty() {
                                return Ok(());
                            }
                        } else {
                            return Err(self.unexpected("after container element"));
                        }
                    }
                }
            }
        }

        fn scalar(&mut self) -> Result<JVal, String> {
            match self.peek() {
                Some(b'"') => Ok(JVal::Str(self.string()?)),
                Some(b't') => self.literal(b"true", JVal::Bool),
                Some(b'f') => self.literal(b"false", JVal::Bool),
                Some(b'n') => self.literal(b"null", JVal::Null),
                Some(b'-' | b'0'..=b'9') => {
                    self.number()?;
                    Ok(JVal::Num)
                }
                _ => Err(self.unexpected("looking for beginning of value")),
            }
        }

        fn literal(&mut self, word: &[u8], v: JVal) -> Result<JVal, String> {
            for &w in word {
                if self.peek() != Some(w) {
                    return Err(self.unexpected("in literal"));
                }
                self.pos += 1;
            }
            Ok(v)
        }

        fn digits(&mut self) -> usize {
            let start = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            self.pos - start
        }

        fn number(&mut self) -> Result<(), String> {
            if self.peek() == Some(b'-') {
                self.pos += 1;
            }
            match self.peek() {
                Some(b'0') => self.pos += 1,
                Some(b'1'..=b'9') => {
                    self.digits();
                }
                _ => return Err(self.unexpected("in numeric literal")),
            }
            if self.peek() == Some(b'.') {
                self.pos += 1;
                if self.digits() == 0 {
                    return Err(self.unexpected("after decimal point in numeric literal"));
                }
            }
            if matches!(self.peek(), Some(b'e' | b'E')) {
                self.pos += 1;
                if matches!(self.peek(), Some(b'+' | b'-')) {
                    self.pos += 1;
                }
                if self.digits() == 0 {
                    return Err(self.unexpected("in exponent of numeric literal"));
                }
            }
            Ok(())
        }

        fn hex4(&self, at: usize) -> Option<u32> {
            let chunk = self.b.get(at..at + 4)?;
            let s = std::str::from_utf8(chunk).ok()?;
            if !s.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            u32::from_str_radix(s, 16).ok()
        }

        /// A string, unquoted like Go: invalid UTF-8 bytes and unpaired surrogate escapes become
        /// U+FFFD, control characters are errors.
        fn string(&mut self) -> Result<String, String> {
            self.pos += 1;
            let mut out = String::new();
            loop {
                let Some(c) = self.peek() else {
                    return Err("unexpected end of JSON input".to_string());
                };
                match c {
                    b'"' => {
                        self.pos += 1;
                        return Ok(out);
                    }
                    b'\\' => {
                        self.pos += 1;
                        let e = self
                            .peek()
                            .ok_or_else(|| "unexpected end of JSON input".to_string())?;
                        self.pos += 1;
                        match e {
                            b'"' => out.push('"'),
                            b'\\' => out.push('\\'),
                            b'/' => out.push('/'),
                            b'b' => out.push('\u{8}'),
                            b'f' => out.push('\u{c}'),
                            b'n' => out.push('\n'),
                            b'r' => out.push('\r'),
                            b't' => out.push('\t'),
                            b'u' => {
                                let Some(r) = self.hex4(self.pos) else {
                                    return Err(
                                        self.unexpected("in \\u hexadecimal character escape")
                                    );
                                };
                                self.pos += 4;
                                if (0xd800..0xe000).contains(&r) {
                                    let low = if self.b.get(self.pos..self.pos + 2) == Some(b"\\u")
                                    {
                                        self.hex4(self.pos + 2)
                                    } else {
                                        None
                                    };
                                    match low {
                                        Some(lo)
                                            if (0xd800..0xdc00).contains(&r)
                                                && (0xdc00..0xe000).contains(&lo) =>
                                        {
                                            let cp = 0x10000 + ((r - 0xd800) << 10) + (lo - 0xdc00);
                                            out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
                                            self.pos += 6;
                                        }
                                        _ => out.push('\u{fffd}'),
                                    }
                                } else {
                                    out.push(char::from_u32(r).unwrap_or('\u{fffd}'));
                                }
                            }
                            _ => {
                                self.pos -= 1;
                                return Err(self.unexpected("in string escape code"));
                            }
                        }
                    }
                    c if c < 0x20 => return Err(self.unexpected("in string literal")),
                    c if c < 0x80 => {
                        out.push(c as char);
                        self.pos += 1;
                    }
                    _ => match super::dn::decode_char(self.b, self.pos) {
                        Some((ch, width)) => {
                            out.push(ch);
                            self.pos += width;
                        }
                        None => {
                            out.push('\u{fffd}');
                            self.pos += 1;
                        }
                    },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use std::fs;

    const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/notation");
    const LINK_TAIL: &str = "To create a trust policy, see: https://notaryproject.dev/docs/quickstart/#create-a-trust-policy";

    fn td(rel: &str) -> PathBuf {
        Path::new(TESTDATA).join(rel)
    }

    fn read_json(rel: &str) -> Value {
        let bytes = fs::read(td(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("parse {rel}: {e}"))
    }

    fn first_error(bytes: &[u8]) -> Option<String> {
        PolicyDocument::from_json(bytes)
            .err()
            .and_then(|e| e.into_iter().next())
    }

    fn pem_der(rel: &str) -> Vec<u8> {
        let pem = fs::read(td(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"));
        match x509_parser::pem::parse_x509_pem(&pem) {
            Ok((_, p)) => p.contents,
            Err(e) => panic!("PEM {rel}: {e}"),
        }
    }

    /// A valid single-statement policy with the given fields overridden.
    fn policy(overrides: Value) -> Vec<u8> {
        let mut st = json!({
            "name": "test-statement-name",
            "registryScopes": ["registry.acme-rockets.io/software/net-monitor"],
            "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:valid-trust-store"],
            "trustedIdentities": ["*"]
        });
        if let (Some(obj), Some(over)) = (st.as_object_mut(), overrides.as_object()) {
            for (k, v) in over {
                obj.insert(k.clone(), v.clone());
            }
        }
        serde_json::to_vec(&json!({"version": "1.0", "trustPolicies": [st]})).unwrap_or_default()
    }

    struct Expectation {
        valid: bool,
        blob: bool,
        error: Option<String>,
        source: &'static str,
    }

    /// Every file in policies/valid and policies/invalid against the two expected.json files.
    #[test]
    fn policy_vectors() {
        let mut expected: HashMap<String, Expectation> = HashMap::new();
        for (rel, source) in [
            (
                "policies/notation-go-unit-policies.expected.json",
                "notation-go-unit",
            ),
            ("policies/e2e-policies.expected.json", "e2e"),
        ] {
            let v = read_json(rel);
            for (section, valid) in [("valid", true), ("invalid", false)] {
                for entry in v[section].as_array().cloned().unwrap_or_default() {
                    let file = entry["file"].as_str().unwrap_or_default().to_string();
                    let blob = entry["documentType"] == "blob" || file.ends_with(".blob.json");
                    let error = entry["expectedError"].as_str().map(str::to_string);
                    assert!(valid || error.is_some(), "{file}: no expectedError");
                    expected.insert(
                        file,
                        Expectation {
                            valid,
                            blob,
                            error,
                            source,
                        },
                    );
                }
            }
        }

        let mut checked: HashMap<&str, (usize, usize)> = HashMap::new();
        let mut failures = Vec::new();
        let mut skipped = Vec::new();
        let mut unlisted = Vec::new();
        let mut seen = HashSet::new();
        for dir in ["valid", "invalid"] {
            let mut files: Vec<String> = fs::read_dir(td(&format!("policies/{dir}")))
                .unwrap_or_else(|e| panic!("list {dir}: {e}"))
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json"))
                .collect();
            files.sort();
            for name in files {
                let rel = format!("{dir}/{name}");
                seen.insert(rel.clone());
                let bytes = fs::read(td(&format!("policies/{rel}"))).unwrap_or_default();
                // Blob documents (trustpolicy.blob.json schema) are out of scope. The file
                // notation-go_blob_global_skip_ACCEPTED_BY_GO.json is a blob document although
                // its entry says "oci": read as OCI it lacks registryScopes.
                if name.ends_with(".blob.json") || name.contains("_blob_") {
                    skipped.push(rel.clone());
                    if name == "notation-go_blob_global_skip_ACCEPTED_BY_GO.json" {
                        assert_eq!(
                            first_error(&bytes).as_deref(),
                            Some(
                                "oci trust policy statement \"global-skip\" has zero registry scopes, it must specify registry scopes with at least one value"
                            )
                        );
                    }
                    continue;
                }
                let Some(exp) = expected.get(&rel) else {
                    unlisted.push(rel);
                    continue;
                };
                assert!(!exp.blob, "{rel} is a blob document");
                assert_eq!(
                    exp.valid,
                    dir == "valid",
                    "{rel} listed in the wrong section"
                );
                let counter = checked.entry(exp.source).or_insert((0, 0));
                counter.1 += 1;
                let result = PolicyDocument::from_json(&bytes);
                let ok = match (&result, &exp.error) {
                    (Ok(_), None) => true,
                    (Err(errs), Some(want)) => errs.first() == Some(want),
                    _ => false,
                };
                if ok {
                    counter.0 += 1;
                } else {
                    failures.push(format!(
                        "{rel}: got {:?}, want {:?}",
                        result.as_ref().err(),
                        exp.error
                    ));
                }
            }
        }
        let mut missing: Vec<&String> = expected.keys().filter(|f| !seen.contains(*f)).collect();
        missing.sort();
        eprintln!("policy vectors checked (passed/total): {checked:?}");
        eprintln!("skipped blob documents ({}): {skipped:?}", skipped.len());
        eprintln!(
            "listed in expected.json but absent ({}): {missing:?}",
            missing.len()
        );
        assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
        assert!(
            unlisted.is_empty(),
            "files without expectation: {unlisted:?}"
        );
        let total: usize = checked.values().map(|c| c.1).sum();
        assert!(total >= 80, "only {total} vectors checked");
    }

    #[test]
    fn valid_documents_are_built() {
        let bytes = fs::read(td(
            "policies/valid/e2e_override_permissive_trustpolicy.json",
        ))
        .unwrap_or_default();
        let doc = PolicyDocument::from_json(&bytes).unwrap_or_else(|e| panic!("{e:?}"));
        let st = &doc.statements[0];
        assert_eq!(st.level.name, "custom");
        assert_eq!(st.level.action(ValidationType::Integrity), Action::Enforce);
        assert_eq!(st.level.action(ValidationType::Authenticity), Action::Log);
        assert_eq!(st.level.action(ValidationType::Expiry), Action::Enforce);
        assert_eq!(
            st.level.action(ValidationType::AuthenticTimestamp),
            Action::Enforce
        );
        assert_eq!(st.level.action(ValidationType::Revocation), Action::Enforce);

        let bytes = fs::read(td(
            "policies/valid/e2e_timestamp_after_cert_expiry_trustpolicy.json",
        ))
        .unwrap_or_default();
        let doc = PolicyDocument::from_json(&bytes).unwrap_or_else(|e| panic!("{e:?}"));
        let st = &doc.statements[0];
        assert_eq!(st.verify_timestamp, VerifyTimestamp::AfterCertExpiry);
        assert!(st.trust_stores.contains(&TrustStoreRef {
            kind: StoreKind::Tsa,
            name: "e2e".into()
        }));

        let bytes = fs::read(td("policies/valid/notation-go_oci_dummy.json")).unwrap_or_default();
        let doc = PolicyDocument::from_json(&bytes).unwrap_or_else(|e| panic!("{e:?}"));
        let st = &doc.statements[0];
        assert_eq!(
            st.level,
            VerificationLevel::preset("strict").unwrap_or_else(|| panic!())
        );
        assert_eq!(st.verify_timestamp, VerifyTimestamp::Always);
        assert_eq!(
            st.trust_stores,
            vec![
                TrustStoreRef {
                    kind: StoreKind::Ca,
                    name: "valid-trust-store".into()
                },
                TrustStoreRef {
                    kind: StoreKind::SigningAuthority,
                    name: "valid-trust-store".into()
                }
            ]
        );
        match &st.trusted_identities[..] {
            [TrustedIdentity::X509Subject { raw, attrs }] => {
                assert_eq!(
                    raw,
                    "x509.subject:CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"
                );
                assert_eq!(attrs.len(), 5);
                assert_eq!(
                    attrs[0],
                    ("CN".to_string(), "Notation Test Root".to_string())
                );
            }
            other => panic!("identities {other:?}"),
        }

        let bytes = fs::read(td("policies/valid/e2e_skip_trustpolicy.json")).unwrap_or_default();
        let doc = PolicyDocument::from_json(&bytes).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(doc.statements[0].level.is_skip());
        for t in ValidationType::ALL {
            assert_eq!(doc.statements[0].level.action(t), Action::Skip);
        }
        let audit = VerificationLevel::preset("audit").unwrap_or_else(|| panic!());
        assert_eq!(
            audit.actions().map(Action::as_str),
            ["enforce", "log", "log", "log", "log"]
        );
        assert_eq!(
            ValidationType::ALL.map(ValidationType::as_str),
            [
                "integrity",
                "authenticity",
                "authenticTimestamp",
                "expiry",
                "revocation"
            ]
        );
    }

    #[test]
    fn registry_scope_tables() {
        let cases = read_json("policies/registry-scope-and-identity-cases.json");
        let mut n = 0;
        for scope in cases["registryScopes_valid"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let scope = scope.as_str().unwrap_or_default();
            let doc = policy(json!({ "registryScopes": [scope] }));
            assert!(PolicyDocument::from_json(&doc).is_ok(), "scope {scope:?}");
            n += 1;
        }
        for key in [
            "registryScopes_invalid_not_valid_message",
            "registryScopes_invalid_wildcard_message",
        ] {
            let template = cases[key]["error"].as_str().unwrap_or_default();
            for scope in cases[key]["scopes"].as_array().cloned().unwrap_or_default() {
                let scope = scope.as_str().unwrap_or_default();
                let want = template.replace("\"<scope>\"", &q(scope));
                let doc = policy(json!({ "registryScopes": [scope] }));
                assert_eq!(first_error(&doc), Some(want), "scope {scope:?}");
                n += 1;
            }
        }
        assert_eq!(n, 7 + 13 + 4);
    }

    #[test]
    fn registry_scope_collection_is_ordered() {
        let doc = json!({"version": "1.0", "trustPolicies": [
            {"name": "a", "registryScopes": ["x.io/b", "x.io/a", "x.io/b"],
             "signatureVerification": {"level": "skip"}},
            {"name": "b", "registryScopes": ["x.io/a", "*", "bad scope"],
             "signatureVerification": {"level": "skip"}},
            {"name": "c", "registryScopes": [], "signatureVerification": {"level": "skip"}}
        ]});
        let errs = PolicyDocument::from_json(&serde_json::to_vec(&doc).unwrap_or_default())
            .err()
            .unwrap_or_default();
        let tail = "make sure it is a fully qualified repository without the scheme, protocol or tag. For example domain.com/my/repository or a local scope like local/myOCILayout";
        let dup = "is present in multiple oci trust policy statements, one registry scope value can only be associated with one statement";
        assert_eq!(
            errs,
            vec![
                "oci trust policy statement \"b\" uses wildcard registry scope '*', a wildcard scope cannot be used in conjunction with other scope values".to_string(),
                format!("registry scope \"bad scope\" is not valid, {tail}"),
                "oci trust policy statement \"c\" has zero registry scopes, it must specify registry scopes with at least one value".to_string(),
                format!("registry scope \"x.io/b\" {dup}"),
                format!("registry scope \"x.io/a\" {dup}"),
            ]
        );
    }

    #[test]
    fn artifact_reference_table() {
        let bytes = fs::read(td("policies/valid/notation-go_oci_dummy.json")).unwrap_or_default();
        let doc = PolicyDocument::from_json(&bytes).unwrap_or_else(|e| panic!("{e:?}"));
        let cases = read_json("policies/registry-scope-and-identity-cases.json");
        let refs: Vec<String> = cases["artifactReference_invalid_for_policy_lookup"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(refs.len(), 9);
        let unparsable = |r: &str| {
            format!(
                "artifact URI {} could not be parsed, make sure it is the fully qualified oci artifact URI without the scheme/protocol. e.g domain.com:80/my/repository@sha256:digest",
                q(r)
            )
        };
        let no_policy = |r: &str| {
            format!(
                "artifact {} has no applicable oci trust policy statement. Trust policy applicability for a given artifact is determined by registryScopes. {LINK_TAIL}",
                q(r)
            )
        };
        for r in &refs {
            let want = match r.as_str() {
                "" | "invaliduri" | "domain.com/repository"
                | "domain.com/repositorysha256:digest" | "domain.com/repositorysha256digest" => {
                    unparsable(r)
                }
                "domain.com/repository@sha256:" | "domain.com/repository@sha256"
                | "domain.com/repository@" => no_policy(r),
                "repository@sha256:digest" => "registry scope \"repository\" is not valid, make sure it is a fully qualified repository without the scheme, protocol or tag. For example domain.com/my/repository or a local scope like local/myOCILayout".to_string(),
                other => panic!("unexpected reference in vector file: {other:?}"),
            };
            assert_eq!(doc.statement_for(r).err(), Some(want), "ref {r:?}");
        }
        let ok = doc.statement_for("registry.acme-rockets.io/software/net-monitor@sha256:abc");
        assert_eq!(ok.map(|s| s.name.as_str()), Ok("test-statement-name"));
        // The last '@' splits.
        assert!(
            doc.statement_for("registry.acme-rockets.io/software/net-monitor@x@sha256:a")
                .is_err()
        );
        // No prefix matching.
        assert!(
            doc.statement_for("registry.acme-rockets.io/software@sha256:abc")
                .is_err()
        );

        let bytes = fs::read(td(
            "policies/valid/e2e_multi_statements_with_wildcard_registry_scope_trustpolicy.json",
        ))
        .unwrap_or_default();
        let doc = PolicyDocument::from_json(&bytes).unwrap_or_else(|e| panic!("{e:?}"));
        let pick = |r: &str| doc.statement_for(r).map(|s| s.name.clone());
        assert_eq!(
            pick("localhost:5000/test-repo9@sha256:00"),
            Ok("e2e".to_string())
        );
        assert_eq!(
            pick("localhost:5000/other@sha256:00"),
            Ok("e2e2".to_string())
        );
        assert_eq!(
            pick("localhost:5000/test-repo9"),
            Err(unparsable("localhost:5000/test-repo9"))
        );
    }

    #[test]
    fn dn_parsing_cases() {
        let cases = read_json("policies/registry-scope-and-identity-cases.json");
        let list = cases["dn_parsing_cases"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(list.len(), 8);
        for case in list {
            let dn = case["dn"].as_str().unwrap_or_default();
            let valid = case["valid"].as_bool().unwrap_or(false);
            assert_eq!(parse_dn(dn).is_ok(), valid, "DN {dn:?}: {:?}", parse_dn(dn));
        }
        assert_eq!(
            parse_dn("C=US,ST=California,O=Notary Project,S=California")
                .err()
                .as_deref(),
            Some(
                "distinguished name (DN) \"C=US,ST=California,O=Notary Project,S=California\" has duplicate RDN attribute for \"ST\", DN can only have unique RDN attributes"
            )
        );
        assert_eq!(
            parse_dn("invalid").err().as_deref(),
            Some(
                "parsing distinguished name (DN) \"invalid\" failed with err: DN ended with incomplete type, value pair. A valid DN must contain 'C', 'ST' or 'S', and 'O' RDN attributes at a minimum, and follow RFC 4514 standard"
            )
        );
        assert_eq!(
            parse_dn("C=US,S=California,O=Notary Project"),
            Ok(vec![
                ("C".to_string(), "US".to_string()),
                ("ST".to_string(), "California".to_string()),
                ("O".to_string(), "Notary Project".to_string())
            ])
        );
        // notation-go TestValidateTrustedIdentities: escapes and spaces are accepted.
        let doc = policy(json!({"trustedIdentities": [
            "x509.subject:C=US,ST=WA,O=MyOrg",
            "x509.subject:C=US,ST=WA,O=  My.  Org",
            "x509.subject:C=US,ST=WA,O=My \"special\" Org \\, \\; \\\\ others",
            "unknown:my-trusted-identity"
        ]}));
        let doc = PolicyDocument::from_json(&doc).unwrap_or_else(|e| panic!("{e:?}"));
        match &doc.statements[0].trusted_identities[2] {
            TrustedIdentity::X509Subject { attrs, .. } => {
                assert_eq!(attrs[2].1, "My \"special\" Org , ; \\ others")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            doc.statements[0].trusted_identities[3],
            TrustedIdentity::Other("unknown:my-trusted-identity".into())
        );
    }

    fn statement_with(identities: &[&str]) -> Statement {
        Statement {
            name: "test-statement-name".into(),
            registry_scopes: vec!["*".into()],
            level: VerificationLevel::preset("strict").unwrap_or_else(|| panic!()),
            verify_timestamp: VerifyTimestamp::Always,
            trust_stores: vec![],
            trusted_identities: identities
                .iter()
                .map(|s| match s.split_once(':') {
                    _ if *s == "*" => TrustedIdentity::Any,
                    Some((X509_SUBJECT, v)) => TrustedIdentity::X509Subject {
                        raw: s.to_string(),
                        attrs: parse_dn(v).unwrap_or_default(),
                    },
                    _ => TrustedIdentity::Other(s.to_string()),
                })
                .collect(),
        }
    }

    #[test]
    fn identity_matching_cases() {
        let cases = read_json("policies/registry-scope-and-identity-cases.json");
        let list = cases["trustedIdentity_matching"]["cases"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(list.len(), 10);
        let mismatch = |maps: &str| {
            format!(
                "signing certificate from the digital signature does not match the X.509 trusted identities {maps} defined in the trust policy \"test-statement-name\""
            )
        };
        let ind = "map[\"C\":\"IND\" \"O\":\"SomeOrg\" \"ST\":\"TS\"]";
        for (i, case) in list.iter().enumerate() {
            let cert = case["cert"].as_str().unwrap_or_default();
            let ids: Vec<&str> = case["trustedIdentities"]
                .as_array()
                .map(|a| a.iter().map(|v| v.as_str().unwrap_or_default()).collect())
                .unwrap_or_default();
            let der = pem_der(&format!("certs/cert-validation/{cert}"));
            let got = statement_with(&ids).check_trusted_identity(&der);
            if case["match"].as_bool() == Some(true) {
                assert_eq!(got, Ok(()), "case {i}: {ids:?}");
                continue;
            }
            let want = match (i, case["error"].as_str()) {
                (_, Some(e)) => e.to_string(),
                (5 | 6, None) => mismatch(&format!("[{ind}]")),
                (7, None) => mismatch(&format!(
                    "[{ind} map[\"C\":\"LOL\" \"O\":\"LOL\" \"ST\":\"LOL\"]]"
                )),
                (8, None) => "unsupported distinguished name (DN) \"C=bad=#identity,O=LOL,ST=LOL\": notation does not support x509.subject identities containing \"=#\"".to_string(),
                (9, None) => "error while parsing the certificate subject from the digital signature. error : \"unsupported distinguished name (DN) \\\"CN=Bad=#CN,OU=SomeOU,O=SomeOrg,L=Seattle,ST=WA,C=US\\\": notation does not support x509.subject identities containing \\\"=#\\\"\"".to_string(),
                _ => panic!("case {i} changed: {case}"),
            };
            assert_eq!(got, Err(want), "case {i}: {ids:?}");
        }
    }

    #[test]
    fn identity_mismatch_message_from_policy_file() {
        let bytes = fs::read(td(
            "policies/valid/e2e_invalid_trusted_identity_trustpolicy.json",
        ))
        .unwrap_or_default();
        let doc = PolicyDocument::from_json(&bytes).unwrap_or_else(|e| panic!("{e:?}"));
        let der = pem_der("certs/cert-validation/signing-cert.pem");
        assert_eq!(
            doc.statements[0].check_trusted_identity(&der),
            Err("signing certificate from the digital signature does not match the X.509 trusted identities [map[\"C\":\"USB\" \"CN\":\"e2e\" \"L\":\"Seattle\" \"O\":\"Notary\" \"ST\":\"WA\"]] defined in the trust policy \"e2e\"".to_string())
        );
        let st =
            statement_with(&["x509.subject:C=US,ST=WA,O=SomeOrg,OU=SomeOU,CN=SomeCN,L=Seattle"]);
        assert_eq!(st.check_trusted_identity(&der), Ok(()));
        // Case-sensitive values.
        let st = statement_with(&["x509.subject:C=us,ST=WA,O=SomeOrg"]);
        assert!(st.check_trusted_identity(&der).is_err());
        assert!(
            statement_with(&["x509.subject:C=US,ST=WA,O=SomeOrg"])
                .check_trusted_identity(b"not a certificate")
                .is_err()
        );
    }

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if content.len() < 0x80 {
            out.push(content.len() as u8);
        } else {
            out.push(0x81);
            out.push(content.len() as u8);
        }
        out.extend_from_slice(content);
        out
    }

    fn atv(oid: &[u8], tag: u8, value: &str) -> Vec<u8> {
        let mut c = tlv(0x06, oid);
        c.extend(tlv(tag, value.as_bytes()));
        tlv(0x30, &c)
    }

    fn name_der(rdns: &[Vec<Vec<u8>>]) -> Vec<u8> {
        let body: Vec<u8> = rdns.iter().flat_map(|r| tlv(0x31, &r.concat())).collect();
        tlv(0x30, &body)
    }

    fn subject_of(der: &[u8]) -> Result<String, String> {
        use x509_parser::prelude::FromDer;
        let (_, name) = x509_parser::x509::X509Name::from_der(der).map_err(|e| e.to_string())?;
        go_subject_string(&name)
    }

    #[test]
    fn go_subject_rendering() {
        for (file, want) in [
            (
                "signing-cert.pem",
                "CN=SomeCN,OU=SomeOU,O=SomeOrg,L=Seattle,ST=WA,C=US",
            ),
            (
                "bad-cert.pem",
                "CN=Bad=#CN,OU=SomeOU,O=SomeOrg,L=Seattle,ST=WA,C=US",
            ),
        ] {
            let der = pem_der(&format!("certs/cert-validation/{file}"));
            let (_, cert) =
                x509_parser::parse_x509_certificate(&der).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(go_subject_string(cert.subject()).as_deref(), Ok(want));
        }
        let oid = |n: u8| vec![0x55, 0x04, n];
        let email = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01];
        let der = name_der(&[
            vec![atv(&oid(6), 0x13, "US")],
            vec![atv(&email, 0x16, "a@b.c")],
            vec![atv(&oid(11), 0x0c, "x")],
            vec![atv(&oid(8), 0x0c, "WA")],
            vec![atv(&oid(11), 0x0c, "y,z")],
            vec![atv(&oid(10), 0x0c, " #Org ")],
            vec![atv(&oid(3), 0x0c, "first")],
            vec![atv(&oid(3), 0x0c, "last")],
            vec![atv(&oid(5), 0x13, "123")],
            // T61String: Go keeps the raw bytes (crypto/x509 parseASN1String), here UTF-8 "é".
            vec![atv(&oid(7), 0x14, "Sea\u{e9}"), atv(&oid(42), 0x13, "Bob")],
        ]);
        assert_eq!(
            subject_of(&der).as_deref(),
            Ok(
                "SERIALNUMBER=123,CN=last,OU=x+OU=y\\,z,O=\\ #Org\\ ,L=Seaé,ST=WA,C=US,2.5.4.42=#1303426f62,1.2.840.113549.1.9.1=#0c056140622e63"
            )
        );
        // Go rejects such certificates at parse time.
        let der = name_der(&[vec![atv(&oid(6), 0x13, "U_S")]]);
        let err = subject_of(&der).unwrap_err();
        assert!(err.contains("invalid PrintableString"), "{err}");
        // A leaf subject with two OUs renders as a multi-valued RDN, which notation rejects.
        let der = name_der(&[
            vec![atv(&oid(6), 0x13, "US")],
            vec![atv(&oid(8), 0x13, "WA")],
            vec![atv(&oid(10), 0x13, "O")],
            vec![atv(&oid(11), 0x13, "a")],
            vec![atv(&oid(11), 0x13, "b")],
        ]);
        let s = subject_of(&der).unwrap_or_default();
        assert_eq!(s, "OU=a+OU=b,O=O,ST=WA,C=US");
        assert!(parse_dn(&s).is_err());
    }

    #[test]
    fn json_decoding_like_go() {
        let ok = |s: &str| PolicyDocument::from_json(s.as_bytes());
        let first = |s: &str| first_error(s.as_bytes());
        let malformed = format!("malformed trust policy. {LINK_TAIL}");
        let st = r#"{"name":"n","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:x"],"trustedIdentities":["*"]}"#;

        // Case-insensitive keys, unknown keys ignored, U+017F folds to 's'.
        let doc = ok(r#"{"VERSION":"1.0","TrustPolicies":[{"NAME":"n","registryscopes":["*"],
            "SignatureVerification":{"LEVEL":"audit","Override":{"expiry":"enforce"},"VERIFYtimestamp":"afterCertExpiry"},
            "trustſtores":["ca:x"],"TRUSTEDIDENTITIES":["*"],"globalPolicy":true,"x":{"y":[1,2.5e3,-0,true,null]}}]}"#)
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(doc.statements[0].level.name, "custom");
        assert_eq!(
            doc.statements[0].level.action(ValidationType::Expiry),
            Action::Enforce
        );
        assert_eq!(
            doc.statements[0].verify_timestamp,
            VerifyTimestamp::AfterCertExpiry
        );
        assert_eq!(doc.statements[0].trust_stores.len(), 1);
        // U+017F folds to 's'; 'é' folds to nothing ASCII, so "vérsion" is an unknown key.
        assert!(
            ok(&format!(
                r#"{{"verſion":"1.0","vérsion":"2","trustPolicies":[{st}]}}"#
            ))
            .is_ok()
        );

        // Later duplicate keys win; objects merge.
        assert!(
            ok(&format!(
                r#"{{"version":"2","version":"1.0","trustPolicies":[{st}]}}"#
            ))
            .is_ok()
        );
        let merged = format!(
            r#"{{"version":"1.0","trustPolicies":[{st}],"trustPolicies":[{{"signatureVerification":{{"override":{{"expiry":"log"}}}},"signatureVerification":{{"override":{{"revocation":"skip"}}}}}}]}}"#
        );
        let doc = ok(&merged).unwrap_or_else(|e| panic!("{e:?}"));
        let level = &doc.statements[0].level;
        assert_eq!(level.name, "custom");
        assert_eq!(level.action(ValidationType::Expiry), Action::Log);
        assert_eq!(level.action(ValidationType::Revocation), Action::Skip);
        assert_eq!(doc.statements[0].name, "n");

        // null: string unchanged, list/map reset, new list element zero.
        assert!(
            ok(&format!(
                r#"{{"version":"1.0","version":null,"trustPolicies":[{st}]}}"#
            ))
            .is_ok()
        );
        assert_eq!(
            first(&format!(
                r#"{{"version":"1.0","trustPolicies":[{st}],"trustPolicies":null}}"#
            )),
            Some("oci trust policy document can not have zero trust policy statements".into())
        );
        assert_eq!(
            first(&policy_str(r#""trustStores":["ca:x",null]"#)),
            Some("oci trust policy: trust policy statement \"n\" has malformed trust store value \"\". The required format is <TrustStoreType>:<TrustStoreName>".into())
        );
        assert_eq!(
            first(&policy_str(r#""signatureVerification":{"level":"strict","override":{"expiry":null}}"#)),
            Some("oci trust policy: trust policy statement \"n\" has invalid signatureVerification: verification action \"\" in custom signature verification is not supported, supported values are [\"enforce\" \"log\" \"skip\"]".into())
        );
        assert!(
            ok(&policy_str(
                r#""signatureVerification":{"level":"strict","override":null}"#
            ))
            .is_ok()
        );
        assert!(
            ok(&policy_str(
                r#""signatureVerification":{"level":"strict","override":{}}"#
            ))
            .is_ok()
        );

        // Only the first JSON value is read.
        assert!(
            ok(&format!(
                r#"{{"version":"1.0","trustPolicies":[{st}]}} trailing {{ junk"#
            ))
            .is_ok()
        );
        let empty_version = Some(
            "oci trust policy document has empty version, version must be specified".to_string(),
        );
        assert_eq!(first("null"), empty_version);
        assert_eq!(first(" null x"), empty_version);
        assert_eq!(first("{}"), empty_version);
        for bad in [
            "",
            "   ",
            "nullx",
            "[]",
            "\"s\"",
            "1",
            "true",
            "\u{feff}{}",
            "{\"version\":1}",
            "{\"version\":\"1.0\",}",
            "{\"trustPolicies\":[1]}",
            "{\"trustPolicies\":{}}",
            "{\"trustPolicies\":[{\"trustStores\":\"ca:x\"}]}",
            "{\"version\":\"1.0\"",
            "{\"version\":\"a\u{1}b\"}",
            "{\"version\":\"\\x\"}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":-}",
            "{\"a\":tru}",
            "{'a':1}",
        ] {
            assert_eq!(
                first(bad).as_deref(),
                Some(malformed.as_str()),
                "input {bad:?}"
            );
            let errs = PolicyDocument::from_json(bad.as_bytes())
                .err()
                .unwrap_or_default();
            assert_eq!(errs.len(), 2, "detail for {bad:?}");
        }
        // Nesting: 10000 levels are fine, 10001 are not (Go's maxNestingDepth).
        let nest = |n: usize| {
            format!(
                r#"{{"version":"1.0","trustPolicies":[{st}],"x":{}1{}}}"#,
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        assert!(ok(&nest(9_999)).is_ok());
        assert_eq!(first(&nest(10_000)).as_deref(), Some(malformed.as_str()));

        // Strings: invalid UTF-8 and lone surrogates become U+FFFD; pairs decode.
        let mut bytes = br#"{"version":"1.0","trustPolicies":[{"name":"a"#.to_vec();
        bytes.extend_from_slice(&[0xff, 0xe2, 0x82]);
        bytes.extend_from_slice(br#"\ud800\u0041\ud83d\ude00","registryScopes":["*"],"signatureVerification":{"level":"x"}}]}"#);
        assert_eq!(
            first_error(&bytes),
            Some("oci trust policy: trust policy statement \"a\u{fffd}\u{fffd}\u{fffd}\u{fffd}A😀\" has invalid signatureVerification: invalid signature verification level \"x\"".into())
        );
    }

    fn policy_str(fields: &str) -> String {
        format!(
            r#"{{"version":"1.0","trustPolicies":[{{"name":"n","registryScopes":["*"],"signatureVerification":{{"level":"strict"}},"trustStores":["ca:x"],"trustedIdentities":["*"],{fields}}}]}}"#
        )
    }

    #[test]
    fn all_problems_are_collected_in_go_order() {
        // A raw string keeps the override keys in document order (json! would sort them).
        let doc = r#"{"version": "2.0", "trustPolicies": [
            {"name": "a", "registryScopes": ["x.io/a"],
             "signatureVerification": {"level": "strict",
                "override": {"integrity": "log", "expiry": "skip", "foo": "log", "revocation": "nope"},
                "verifyTimestamp": "never"},
             "trustStores": ["ca", "x:y", "ca:b@d", "tsa:ok"],
             "trustedIdentities": ["*", "", "nosep", "x509.subject:", "x509.subject:C=US",
                                   "x509.subject:C=US,ST=WA,O=o", "x509.subject:C=US,ST=WA,O=o,CN=c"]},
            {"name": "a", "registryScopes": ["x.io/a"], "signatureVerification": {"level": "skip"},
             "trustStores": ["ca:x"]}
        ]}"#;
        let errs = PolicyDocument::from_json(doc.as_bytes())
            .err()
            .unwrap_or_default();
        let p = "oci trust policy: trust policy statement \"a\"";
        let sv = format!("{p} has invalid signatureVerification:");
        let want = vec![
            "oci trust policy document uses unsupported version \"2.0\"".to_string(),
            format!("{sv} \"integrity\" verification can not be overridden in custom signature verification"),
            format!("{sv} \"expiry\" verification can not be skipped in custom signature verification"),
            format!("{sv} verification type \"foo\" in custom signature verification is not supported, supported values are [\"integrity\" \"authenticity\" \"authenticTimestamp\" \"expiry\" \"revocation\"]"),
            format!("{sv} verification action \"nope\" in custom signature verification is not supported, supported values are [\"enforce\" \"log\" \"skip\"]"),
            format!("{sv} verifyTimestamp must be \"always\" or \"afterCertExpiry\", but got \"never\""),
            format!("{p} has malformed trust store value \"ca\". The required format is <TrustStoreType>:<TrustStoreName>"),
            format!("{p} uses an unsupported trust store type \"x\" in trust store value \"x:y\""),
            format!("{p} uses an unsupported trust store name \"b@d\" in trust store value \"ca:b@d\". Named store name needs to follow [a-zA-Z0-9_.-]+ format"),
            format!("{p} uses a wildcard trusted identity '*', a wildcard identity cannot be used in conjunction with other values"),
            format!("{p} has an empty trusted identity"),
            format!("{p} has trusted identity \"nosep\" missing separator"),
            format!("{p} has trusted identity \"x509.subject:\" without an identity value"),
            format!("{p} has trusted identity \"x509.subject:C=US\" with invalid identity value: distinguished name (DN) \"C=US\" has no mandatory RDN attribute for \"ST\", it must contain 'C', 'ST' or 'S', and 'O' RDN attributes at a minimum"),
            format!("{p} has overlapping x509 trustedIdentities, \"x509.subject:C=US,ST=WA,O=o\" overlaps with \"x509.subject:C=US,ST=WA,O=o,CN=c\""),
            "multiple oci trust policy statements use the same name \"a\", statement names must be unique".to_string(),
            format!("{p} is set to skip signature verification but configured with trust stores and/or trusted identities, remove them if signature verification needs to be skipped"),
            "registry scope \"x.io/a\" is present in multiple oci trust policy statements, one registry scope value can only be associated with one statement".to_string(),
        ];
        assert_eq!(errs, want);
    }

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let p = std::env::temp_dir().join(format!("h-policy-{}-{tag}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap_or_else(|e| panic!("mkdir: {e}"));
            TempDir(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn load_dir_like_go() {
        let good = fs::read(td("policies/valid/e2e_trustpolicy.json")).unwrap_or_default();
        let other = fs::read(td("policies/valid/e2e_audit_trustpolicy.json")).unwrap_or_default();

        let d = TempDir::new("empty");
        assert_eq!(
            PolicyDocument::load_dir(&d.0).err(),
            Some(vec![format!("trust policy is not present. {LINK_TAIL}")])
        );

        let d = TempDir::new("legacy");
        fs::write(d.0.join("trustpolicy.json"), &good).unwrap_or_default();
        let (doc, path) = PolicyDocument::load_dir(&d.0).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(path, d.0.join("trustpolicy.json"));
        assert_eq!(doc.statements[0].level.name, "strict");

        // notation 1.3 reads trustpolicy.json only: a trustpolicy.oci.json beside it is ignored
        // (and named), and alone it is "not present".
        fs::write(d.0.join("trustpolicy.oci.json"), &other).unwrap_or_default();
        let (doc, path) = PolicyDocument::load_dir(&d.0).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(path, d.0.join("trustpolicy.json"));
        assert_eq!(doc.statements[0].level.name, "strict");
        assert_eq!(
            ignored_policy_file(&d.0),
            Some(d.0.join("trustpolicy.oci.json"))
        );
        fs::remove_file(d.0.join("trustpolicy.json")).unwrap_or_default();
        let errs = PolicyDocument::load_dir(&d.0).err().unwrap_or_default();
        assert_eq!(
            errs.first(),
            Some(&format!("trust policy is not present. {LINK_TAIL}"))
        );
        assert!(
            errs.get(1)
                .is_some_and(|e| e.contains("trustpolicy.oci.json is ignored")),
            "{errs:?}"
        );

        let not_regular = vec![format!(
            "trust policy is not a regular file (symlinks are not supported). {LINK_TAIL}"
        )];
        let d = TempDir::new("symlink");
        fs::write(d.0.join("real.json"), &good).unwrap_or_default();
        std::os::unix::fs::symlink(d.0.join("real.json"), d.0.join("trustpolicy.json"))
            .unwrap_or_default();
        assert_eq!(
            PolicyDocument::load_dir(&d.0).err(),
            Some(not_regular.clone())
        );

        let d = TempDir::new("dir");
        fs::create_dir(d.0.join("trustpolicy.json")).unwrap_or_default();
        assert_eq!(PolicyDocument::load_dir(&d.0).err(), Some(not_regular));

        let d = TempDir::new("malformed");
        fs::write(d.0.join("trustpolicy.json"), b"{").unwrap_or_default();
        let errs = PolicyDocument::load_dir(&d.0).err().unwrap_or_default();
        assert_eq!(
            errs.first(),
            Some(&format!("malformed trust policy. {LINK_TAIL}"))
        );

        let d = TempDir::new("notdir");
        fs::write(d.0.join("file"), b"x").unwrap_or_default();
        let inner = d.0.join("file");
        assert_eq!(
            PolicyDocument::load_dir(&inner).err(),
            Some(vec![format!(
                "lstat {}: not a directory",
                inner.join("trustpolicy.json").display()
            )])
        );
    }
}
