//! notation-go `OCIDocument.Validate`, continued past the first error: every problem of a
//! document is collected as a [`ValidationError`], the first one is exactly notation's error.

use std::collections::{HashMap, HashSet};

use super::decode::{RawDocument, RawSignatureVerification, RawStatement};
use super::dn::{DnAttrs, is_subset, parse_dn_bytes};
use super::error::{IdentityError, LevelError, StatementError, ValidationError};
use super::{
    Action, PolicyDocument, PolicyError, Statement, StoreKind, TrustStoreRef, TrustedIdentity,
    ValidationType, VerificationLevel, VerifyTimestamp, WILDCARD, X509_SUBJECT,
};

pub(super) fn validate(raw: RawDocument) -> Result<PolicyDocument, Vec<ValidationError>> {
    let mut errors = Vec::new();
    if raw.version.is_empty() {
        errors.push(ValidationError::EmptyVersion);
    } else if raw.version != "1.0" {
        errors.push(ValidationError::UnsupportedVersion {
            version: raw.version.clone(),
        });
    }
    if raw.statements.is_empty() {
        errors.push(ValidationError::NoStatements);
    }

    let mut names: HashSet<&str> = HashSet::new();
    let mut built: Vec<Option<Statement>> = Vec::new();
    for st in &raw.statements {
        if names.contains(st.name.as_str()) {
            errors.push(ValidationError::DuplicateName {
                name: st.name.clone(),
            });
        }
        let (core_errors, statement) = validate_core(st);
        errors.extend(core_errors.into_iter().map(ValidationError::Statement));
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
        None => Err(vec![ValidationError::NotBuilt]),
    }
}

/// Go `validatePolicyCore` (its first error is the first entry), plus further problems of the
/// same statement. Returns the built statement when there is no error.
fn validate_core(st: &RawStatement) -> (Vec<StatementError>, Option<Statement>) {
    let name = &st.name;
    let statement = || name.clone();
    let mut errors = Vec::new();
    if name.is_empty() {
        errors.push(StatementError::MissingName);
    }
    let level = verification_level(&st.signature_verification);
    if let Err(level_errors) = &level {
        errors.extend(
            level_errors
                .iter()
                .map(|cause| StatementError::SignatureVerification {
                    statement: statement(),
                    cause: cause.clone(),
                }),
        );
    }
    let verify_timestamp = match st.signature_verification.verify_timestamp.as_str() {
        "" | "always" => Some(VerifyTimestamp::Always),
        "afterCertExpiry" => Some(VerifyTimestamp::AfterCertExpiry),
        other => {
            errors.push(StatementError::VerifyTimestamp {
                statement: statement(),
                got: other.to_string(),
            });
            None
        }
    };

    let mut stores = Vec::new();
    let mut identities = Vec::new();
    match &level {
        Ok(l) if l.is_skip() => {
            if !st.trust_stores.is_empty() || !st.trusted_identities.is_empty() {
                errors.push(StatementError::SkipWithTrust {
                    statement: statement(),
                });
            }
        }
        _ => {
            if level.is_ok() && (st.trust_stores.is_empty() || st.trusted_identities.is_empty()) {
                errors.push(StatementError::MissingTrust {
                    statement: statement(),
                });
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
fn verification_level(sv: &RawSignatureVerification) -> Result<VerificationLevel, Vec<LevelError>> {
    if sv.level.is_empty() {
        return Err(vec![LevelError::Empty]);
    }
    let Some(base) = VerificationLevel::preset(&sv.level) else {
        return Err(vec![LevelError::Invalid {
            level: sv.level.clone(),
        }]);
    };
    let overrides = match &sv.overrides {
        Some(o) if !o.is_empty() => o,
        _ => return Ok(base),
    };
    if base.is_skip() {
        return Err(vec![LevelError::CannotCustomize {
            level: base.name.clone(),
        }]);
    }
    let mut custom = VerificationLevel {
        name: "custom".to_string(),
        actions: base.actions,
    };
    let mut errors = Vec::new();
    for (key, value) in overrides {
        let Some(t) = ValidationType::parse(key) else {
            errors.push(LevelError::UnsupportedType { key: key.clone() });
            continue;
        };
        let Some(action) = Action::parse(value) else {
            errors.push(LevelError::UnsupportedAction {
                value: value.clone(),
            });
            continue;
        };
        if t == ValidationType::Integrity {
            errors.push(LevelError::IntegrityOverridden { key: key.clone() });
        } else if t != ValidationType::Revocation && action == Action::Skip {
            errors.push(LevelError::CannotSkip { key: key.clone() });
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
    errors: &mut Vec<StatementError>,
) -> Vec<TrustStoreRef> {
    let mut out = Vec::new();
    for store in stores {
        let Some((kind, store_name)) = store.split_once(':') else {
            errors.push(StatementError::MalformedStore {
                statement: name.to_string(),
                store: store.clone(),
            });
            continue;
        };
        let Some(kind) = StoreKind::parse(kind) else {
            errors.push(StatementError::UnsupportedStoreType {
                statement: name.to_string(),
                kind: kind.to_string(),
                store: store.clone(),
            });
            continue;
        };
        if !is_valid_store_name(store_name) {
            errors.push(StatementError::UnsupportedStoreName {
                statement: name.to_string(),
                name: store_name.to_string(),
                store: store.clone(),
            });
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
    errors: &mut Vec<StatementError>,
) -> Vec<TrustedIdentity> {
    let statement = || name.to_string();
    if identities.len() > 1 && identities.iter().any(|i| i == WILDCARD) {
        errors.push(StatementError::WildcardIdentityWithOthers {
            statement: statement(),
        });
    }
    let mut out = Vec::new();
    let mut parsed: Vec<(&str, DnAttrs)> = Vec::new();
    for identity in identities {
        if identity.is_empty() {
            errors.push(StatementError::EmptyIdentity {
                statement: statement(),
            });
            continue;
        }
        if identity == WILDCARD {
            out.push(TrustedIdentity::Any);
            continue;
        }
        let Some((prefix, value)) = identity.split_once(':') else {
            errors.push(StatementError::Identity(IdentityError::MissingSeparator {
                statement: statement(),
                identity: identity.clone(),
            }));
            continue;
        };
        if prefix != X509_SUBJECT {
            out.push(TrustedIdentity::Other(identity.clone()));
            continue;
        }
        if value.is_empty() {
            errors.push(StatementError::Identity(IdentityError::WithoutValue {
                statement: statement(),
                identity: identity.clone(),
            }));
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
            Err(detail) => errors.push(StatementError::InvalidIdentityValue {
                statement: statement(),
                identity: identity.clone(),
                detail,
            }),
        }
    }
    for (i, (raw1, dn1)) in parsed.iter().enumerate() {
        for (j, (raw2, dn2)) in parsed.iter().enumerate() {
            if i != j && is_subset(dn1, dn2) {
                errors.push(StatementError::OverlappingIdentities {
                    statement: statement(),
                    first: raw1.to_string(),
                    second: raw2.to_string(),
                });
            }
        }
    }
    out
}

/// Go `validateRegistryScopes`, continued past the first error; duplicates are reported once
/// each, in order of first appearance.
fn validate_registry_scopes(statements: &[RawStatement]) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    for st in statements {
        if st.registry_scopes.is_empty() {
            errors.push(ValidationError::ZeroScopes {
                statement: st.name.clone(),
            });
        }
        if st.registry_scopes.len() > 1 && st.registry_scopes.iter().any(|s| s == WILDCARD) {
            errors.push(ValidationError::WildcardScopeWithOthers {
                statement: st.name.clone(),
            });
        }
        for scope in &st.registry_scopes {
            if scope != WILDCARD
                && let Err(e) = validate_registry_scope_format(scope)
            {
                errors.push(ValidationError::Policy(e));
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
            errors.push(ValidationError::DuplicateScope {
                scope: scope.to_string(),
            });
        }
    }
    errors
}

/// notation-go's domain regexp (`^(label)(\.label)*(:[0-9]+)?$`, a label being an ASCII
/// letter or digit, or letters, digits and hyphens between two of them), matched by hand: a
/// regex compiled at first use cost a one-shot `verify` more than the rest of selecting its
/// statement. `tests` checks it against the regexp itself.
pub(super) fn is_scope_domain(domain: &str) -> bool {
    let (host, port) = match domain.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (domain, None),
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    host.split('.').all(|label| {
        let b = label.as_bytes();
        match (b.first(), b.last()) {
            (Some(f), Some(l)) => {
                f.is_ascii_alphanumeric()
                    && l.is_ascii_alphanumeric()
                    && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
            }
            _ => false,
        }
    })
}

/// notation-go's repository regexp (path components of `[a-z0-9]+` joined by `.`, `_`, `__` or
/// any run of `-`, the components joined by `/`), matched by hand (see [`is_scope_domain`]).
pub(super) fn is_scope_repository(repository: &str) -> bool {
    repository.split('/').all(|component| {
        let b = component.as_bytes();
        let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        let mut i = 0;
        loop {
            // One run of [a-z0-9]+, then the end or a separator and another run.
            let start = i;
            while i < b.len() && alnum(b[i]) {
                i += 1;
            }
            if i == start {
                return false;
            }
            if i == b.len() {
                return true;
            }
            match b[i] {
                b'.' => i += 1,
                b'_' => {
                    i += 1;
                    if b.get(i) == Some(&b'_') {
                        i += 1;
                    }
                }
                b'-' => {
                    while b.get(i) == Some(&b'-') {
                        i += 1;
                    }
                }
                _ => return false,
            }
        }
    })
}

/// Go `validateRegistryScopeFormat`.
pub(super) fn validate_registry_scope_format(scope: &str) -> Result<(), PolicyError> {
    if scope.len() > 1 && scope.contains('*') {
        return Err(PolicyError::ScopeWithWildcard {
            scope: scope.to_string(),
        });
    }
    let invalid = || PolicyError::InvalidScope {
        scope: scope.to_string(),
    };
    let Some((domain, repository)) = scope.split_once('/') else {
        return Err(invalid());
    };
    if domain.is_empty()
        || repository.is_empty()
        || !is_scope_domain(domain)
        || !is_scope_repository(repository)
    {
        return Err(invalid());
    }
    Ok(())
}
