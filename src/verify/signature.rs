//! One envelope against one statement: the five validations (integrity, authenticity,
//! expiry, authentic timestamp, revocation) and their actions, plugins included.

use super::*;

/// Verify one envelope against `stmt` for `target`, at time `now`, checking OCSP/CRL with
/// `rev` (only when the level does not skip revocation, and for a TSA chain). Never panics on
/// bad input.
pub async fn verify_envelope(
    cfg: &TrustConfig,
    stmt: &Statement,
    media_type: &str,
    bytes: &[u8],
    target: &Descriptor,
    now: OffsetDateTime,
    rev: &dyn RevocationCheck,
) -> SignatureReport {
    let plugins = crate::plugin::PluginOptions::for_config_dir(&cfg.dir);
    verify_envelope_with(cfg, stmt, media_type, bytes, target, now, rev, &plugins).await
}

/// [`verify_envelope`] with the verification-plugin options (`--plugin-config`, bounds).
#[allow(clippy::too_many_arguments)]
pub async fn verify_envelope_with(
    cfg: &TrustConfig,
    stmt: &Statement,
    media_type: &str,
    bytes: &[u8],
    target: &Descriptor,
    now: OffsetDateTime,
    rev: &dyn RevocationCheck,
    plugins: &crate::plugin::PluginOptions,
) -> SignatureReport {
    let mut report = SignatureReport::new(sha256_digest(bytes), media_type);
    let level = &stmt.level;
    // Integrity is always enforced.
    let env = match envelope::parse_and_verify(media_type, bytes) {
        Ok(e) => e,
        Err(e) => {
            report.validations.push(ValidationResult {
                kind: ValidationType::Integrity.as_str(),
                action: Action::Enforce.as_str(),
                error: Some(e.clone()),
            });
            report.error = Some(format!("integrity validation failed. Failure reason: {e}"));
            return report;
        }
    };
    report.validations.push(ValidationResult {
        kind: ValidationType::Integrity.as_str(),
        action: Action::Enforce.as_str(),
        error: None,
    });
    report.scheme = Some(env.scheme.as_str());
    report.signer = Some(env.leaf().subject().to_string());
    report.signing_time = Some(rfc3339(env.signing_time));
    report.expiry = env.expiry.map(rfc3339);
    report.signing_agent = env.signing_agent.clone();
    report.user_metadata = env.target.annotations.clone();

    // notation-go: a named verification plugin is found and described before authenticity.
    let plugin = match &env.verification_plugin {
        None => None,
        Some(_) => match crate::plugin::prepare(plugins, &env).await {
            Ok(p) => Some(p),
            Err(e) => {
                report.error = Some(e);
                return report;
            }
        },
    };
    let plugin_has = |cap: &str| plugin.as_ref().is_some_and(|p| p.has(cap));

    for kind in [
        ValidationType::Authenticity,
        ValidationType::Expiry,
        ValidationType::AuthenticTimestamp,
        ValidationType::Revocation,
    ] {
        let action = level.action(kind);
        // A plugin with the revocation capability replaces the built-in check.
        if kind == ValidationType::Revocation
            && action != Action::Skip
            && plugin_has(crate::plugin::CAP_REVOCATION_CHECK)
        {
            continue;
        }
        if action == Action::Skip {
            report.validations.push(ValidationResult {
                kind: kind.as_str(),
                action: action.as_str(),
                error: None,
            });
            continue;
        }
        let result = match kind {
            ValidationType::Authenticity => authenticity(
                cfg,
                stmt,
                &env,
                !plugin_has(crate::plugin::CAP_TRUSTED_IDENTITY),
            ),
            ValidationType::Expiry => expiry(&env, now),
            ValidationType::AuthenticTimestamp => {
                authentic_timestamp(cfg, stmt, &env, now, rev).await
            }
            ValidationType::Revocation => revocation(&env, rev, now).await,
            ValidationType::Integrity => Ok(()),
        };
        let failed = result.as_ref().err().cloned();
        report.validations.push(ValidationResult {
            kind: kind.as_str(),
            action: action.as_str(),
            error: failed.clone(),
        });
        if let Some(e) = failed
            && action == Action::Enforce
        {
            report.error = Some(format!(
                "{} validation failed. Failure reason: {e}",
                kind.as_str()
            ));
            return report;
        }
    }
    if let Some(p) = &plugin
        && let Err(e) = run_plugin(plugins, p, &env, stmt, &mut report).await
    {
        report.error = Some(e);
        return report;
    }
    // The signed descriptor must be the resolved one (notation: oras content.Equal).
    let t = &env.target;
    if t.media_type != target.media_type || t.digest != target.digest || t.size != target.size {
        report.error = Some(format!(
            "content descriptor mismatch: the signature is for {} {} ({} bytes), the artifact is {} {} ({} bytes)",
            t.media_type, t.digest, t.size, target.media_type, target.digest, target.size
        ));
    }
    report
}

/// notation-go's `verify-signature` step and `processPluginResponse`: the capabilities asked
/// (revocation only when the level does not skip it), every extended attribute processed, and
/// each capability's result applied with its validation's action.
pub(super) async fn run_plugin(
    opts: &crate::plugin::PluginOptions,
    plugin: &crate::plugin::Plugin,
    env: &Envelope,
    stmt: &Statement,
    report: &mut SignatureReport,
) -> Result<(), String> {
    use crate::plugin::{CAP_REVOCATION_CHECK, CAP_TRUSTED_IDENTITY};
    let level = &stmt.level;
    let caps: Vec<&str> = plugin
        .capabilities
        .iter()
        .copied()
        .filter(|c| {
            *c != CAP_REVOCATION_CHECK || level.action(ValidationType::Revocation) != Action::Skip
        })
        .collect();
    if caps.is_empty() {
        return Ok(());
    }
    let identities: Vec<String> = stmt
        .trusted_identities
        .iter()
        .map(|t| t.raw().to_string())
        .collect();
    let resp = crate::plugin::verify(opts, plugin, env, &identities, &caps).await?;
    let processed: std::collections::HashSet<&str> =
        resp.processed.iter().filter_map(|p| p.as_str()).collect();
    for a in &env.extended {
        if !processed.contains(a.key.as_str()) {
            return Err(format!(
                "extended critical attribute {:?} was not processed by the verification plugin {:?} (all extended critical attributes must be processed by the verification plugin)",
                a.key, plugin.name
            ));
        }
    }
    for cap in caps {
        let Some(Some(result)) = resp.results.get(cap) else {
            return Err(format!(
                "verification plugin {:?} failed to verify {cap:?}",
                plugin.name
            ));
        };
        let (kind, error) = if cap == CAP_TRUSTED_IDENTITY {
            let e = (!result.success).then(|| {
                format!(
                    "trusted identify verification by plugin {:?} failed with reason {:?}",
                    plugin.name, result.reason
                )
            });
            (ValidationType::Authenticity, e)
        } else {
            let e = (!result.success).then(|| {
                format!(
                    "revocation check by verification plugin {:?} failed with reason {:?}",
                    plugin.name, result.reason
                )
            });
            (ValidationType::Revocation, e)
        };
        let action = level.action(kind);
        if kind == ValidationType::Authenticity {
            if let Some(v) = report
                .validations
                .iter_mut()
                .find(|v| v.kind == kind.as_str())
                && error.is_some()
            {
                v.error = error.clone();
            }
        } else {
            report.validations.push(ValidationResult {
                kind: kind.as_str(),
                action: action.as_str(),
                error: error.clone(),
            });
        }
        if let Some(e) = error
            && action == Action::Enforce
        {
            return Err(format!(
                "{} validation failed. Failure reason: {e}",
                kind.as_str()
            ));
        }
    }
    Ok(())
}

pub(super) fn authenticity(
    cfg: &TrustConfig,
    stmt: &Statement,
    env: &Envelope,
    check_identity: bool,
) -> Result<(), String> {
    let kind = match env.scheme {
        SigningScheme::X509 => StoreKind::Ca,
        SigningScheme::SigningAuthority => StoreKind::SigningAuthority,
    };
    let stores = cfg.certs(stmt, kind)?;
    if stores.iter().all(|s| s.is_empty()) {
        return Err("no trusted certificates are found to verify authenticity".into());
    }
    let trusted = env
        .chain
        .iter()
        .any(|c| stores.iter().flat_map(|s| s.iter()).any(|t| t.der == c.der));
    if !trusted {
        return Err(
            "the signature's certificate chain does not contain any trusted certificate".into(),
        );
    }
    if !check_identity {
        return Ok(());
    }
    stmt.check_trusted_identity(env.leaf())
}

pub(super) fn expiry(env: &Envelope, now: OffsetDateTime) -> Result<(), String> {
    match env.expiry {
        Some(e) if now >= e => Err(format!(
            "digital signature has expired on {}",
            go_quote(&format_rfc1123z(e))
        )),
        _ => Ok(()),
    }
}

pub(super) async fn authentic_timestamp(
    cfg: &TrustConfig,
    stmt: &Statement,
    env: &Envelope,
    now: OffsetDateTime,
    rev: &dyn RevocationCheck,
) -> Result<(), String> {
    if env.scheme == SigningScheme::SigningAuthority {
        for c in &env.chain {
            if env.signing_time < c.not_before() || env.signing_time > c.not_after() {
                return Err(format!(
                    "certificate {} was not valid when the digital signature was produced at {}",
                    go_quote(c.subject()),
                    go_quote(&format_rfc1123z(env.signing_time))
                ));
            }
        }
        return Ok(());
    }
    let has_tsa = stmt.trust_stores.iter().any(|r| r.kind == StoreKind::Tsa);
    let triggered = has_tsa
        && match stmt.verify_timestamp {
            VerifyTimestamp::Always => true,
            VerifyTimestamp::AfterCertExpiry => env.chain.iter().any(|c| now > c.not_after()),
        };
    if !triggered {
        return x509::check_validity_at(&env.chain, now);
    }
    let token = env
        .timestamp_token
        .as_deref()
        .ok_or("no timestamp countersignature was found in the signature envelope")?;
    let roots: Vec<Vec<u8>> = cfg
        .certs(stmt, StoreKind::Tsa)?
        .iter()
        .flat_map(|s| s.iter().map(|c| c.der.clone()))
        .collect();
    if roots.is_empty() {
        return Err("no trusted TSA certificate found in trust store".into());
    }
    let ts = crate::timestamp::verify_token(token, &env.signature, &roots)
        .map_err(|e| e.notation_message())?;
    let tsa_chain = ts
        .signer_chain_der
        .iter()
        .map(|d| Cert::from_der(d))
        .collect::<Result<Vec<_>, _>>()?;
    x509::validate_timestamping_chain(&tsa_chain)
        .map_err(|e| format!("failed to validate the timestamping certificate chain: {e}"))?;
    let (lower, upper) = ts.range();
    for c in &env.chain {
        if lower < c.not_before() {
            return Err(format!(
                "timestamp can be before certificate {} validity period, it will be valid from {}",
                go_quote(c.subject()),
                go_quote(&format_rfc1123z(c.not_before()))
            ));
        }
        if upper > c.not_after() {
            return Err(format!(
                "timestamp can be after certificate {} validity period, it was expired at {}",
                go_quote(c.subject()),
                go_quote(&format_rfc1123z(c.not_after()))
            ));
        }
    }
    // The TSA chain's revocation is always enforced inside this step (notation-go).
    rev.check_chain(&tsa_chain, Purpose::Timestamping, None, now)
        .await
        .map_err(|e| e.to_string())
}

/// The code-signing chain's OCSP/CRL status. The signing time counts for the invalidityDate
/// rule only when it is authentic (signingAuthority scheme), as in notation-go.
pub(super) async fn revocation(
    env: &Envelope,
    rev: &dyn RevocationCheck,
    now: OffsetDateTime,
) -> Result<(), String> {
    let signing_time = (env.scheme == SigningScheme::SigningAuthority).then_some(env.signing_time);
    rev.check_chain(&env.chain, Purpose::CodeSigning, signing_time, now)
        .await
        .map_err(|e| e.to_string())
}
