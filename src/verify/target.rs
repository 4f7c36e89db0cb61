//! One image end to end: resolve once, pick the statement, discover signatures, the first
//! one that passes wins.

use super::*;

/// Verify `image` from `source` under `cfg`: resolve it once, then [`verify_target`].
/// Every failure is a denial with a reason.
pub async fn verify_image(
    cfg: &TrustConfig,
    source: &dyn Registry,
    image: &ImageRef,
    opts: &VerifyOptions,
) -> Outcome {
    let start = Instant::now();
    match resolve_or_deny(source, image).await {
        Ok(resolved) => {
            let mut out = verify_target(cfg, source, image, &resolved.descriptor(), opts).await;
            out.timings.resolve_ms = ms(start) - out.timings.total_ms;
            out.timings.total_ms = ms(start);
            out
        }
        Err(mut out) => {
            out.timings.total_ms = ms(start);
            out
        }
    }
}

/// [`resolve`], a failure as the denial `verify_image` reports (with its notation class, and
/// whether the registry could not be asked).
pub async fn resolve_or_deny(source: &dyn Registry, image: &ImageRef) -> Result<Fetched, Outcome> {
    match source.resolve(image).await {
        Ok(resolved) => match check_resolved(image, resolved) {
            Ok(f) => Ok(f),
            Err(e) => {
                let mut out = Outcome::new(&image.to_string());
                // A digest that does not match: notation's own line, verbatim.
                out.failure = Some(Failure::Plain(e.clone()));
                out.reason = Some(e);
                Err(out)
            }
        },
        Err(e) => {
            let mut out = Outcome::new(&image.to_string());
            out.failure = Some(Failure::Resolve(e.to_string()));
            out.reason = Some(format!("{RESOLVE_PREFIX}{e}"));
            out.transient = e.is_transient();
            Err(out)
        }
    }
}

pub(super) const RESOLVE_PREFIX: &str = "cannot resolve the image: ";

/// Resolve a tag or digest to the manifest, checking a digest reference against the content.
pub async fn resolve(source: &dyn Registry, image: &ImageRef) -> Result<Fetched, String> {
    let resolved = source
        .resolve(image)
        .await
        .map_err(|e| format!("{RESOLVE_PREFIX}{e}"))?;
    check_resolved(image, resolved)
}

/// A digest reference must name the content that was served.
pub(super) fn check_resolved(image: &ImageRef, resolved: Fetched) -> Result<Fetched, String> {
    if let Some(d) = &image.digest
        && *d != resolved.digest
    {
        return Err(format!(
            "user input digest {d} does not match the resolved digest {}",
            resolved.digest
        ));
    }
    Ok(resolved)
}

/// Verify the already resolved `target` of `image`: select the statement, discover signatures,
/// and try them in order until one passes. As in notation-go's `Verify`, a signature that
/// cannot be retrieved (or whose manifest has the wrong shape) stops the whole verification:
/// it is not skipped.
pub async fn verify_target(
    cfg: &TrustConfig,
    source: &dyn Registry,
    image: &ImageRef,
    target: &Descriptor,
    opts: &VerifyOptions,
) -> Outcome {
    verify_discovered(cfg, source, image, target, opts, None).await
}

/// The statement [`verify_target`] would select for `image` at `digest`, when it verifies
/// signatures (not `skip`, no selection error): the caller may then list the signatures
/// while it resolves, and hand the list to [`verify_discovered`].
pub fn verifies_signatures(
    cfg: &TrustConfig,
    image: &ImageRef,
    digest: &str,
    opts: &VerifyOptions,
) -> bool {
    let scope = opts.scope.clone().unwrap_or_else(|| image.scope());
    cfg.policy
        .statement_for(&format!("{scope}@{digest}"))
        .is_ok_and(|s| !s.level.is_skip())
}

/// [`verify_target`] with the signature list already asked for (`discovered`: the answer of
/// `source.signatures` for `target`, fetched while the target was resolved), or `None` to
/// ask now. The outcome is the same either way.
pub async fn verify_discovered(
    cfg: &TrustConfig,
    source: &dyn Registry,
    image: &ImageRef,
    target: &Descriptor,
    opts: &VerifyOptions,
    discovered: Option<Result<Vec<Descriptor>, RegistryError>>,
) -> Outcome {
    let start = Instant::now();
    let mut out = Outcome::new(&image.to_string());
    if opts.max_signatures == 0 {
        let e = "max_signatures must be a positive number, got 0".to_string();
        out.stop(e.clone(), e);
        return out;
    }
    let target = target.clone();
    out.descriptor = Some(target.clone());
    let scope = opts.scope.clone().unwrap_or_else(|| image.scope());
    let artifact = format!("{scope}@{}", target.digest);
    out.artifact = Some(artifact.clone());
    let stmt = match cfg.policy.statement_for(&artifact) {
        Ok(s) => s,
        Err(e) => {
            let e = e.to_string();
            out.stop(e.clone(), e);
            out.timings.total_ms = ms(start);
            return out;
        }
    };
    out.policy = Some(stmt.name.clone());
    out.level = Some(stmt.level.name.clone());
    if stmt.level.is_skip() {
        out.allowed = true;
        out.reason = Some("trust policy is configured to skip signature verification".into());
        out.timings.total_ms = ms(start);
        return out;
    }
    let pinned = image.with_digest(&target.digest);
    let t = Instant::now();
    let listed = match discovered {
        Some(d) => d,
        None => source.signatures(&pinned, &target.digest).await,
    };
    let sigs = match listed {
        Ok(s) => s,
        Err(e) => {
            out.transient = e.is_transient();
            out.stop(format!("cannot list signatures: {e}"), e.to_string());
            out.timings.total_ms = ms(start);
            return out;
        }
    };
    out.timings.discover_ms = ms(t);
    if sigs.is_empty() {
        let e = format!(
            "no signature is associated with {}, make sure the artifact was signed successfully",
            go_quote(&artifact)
        );
        out.stop(e.clone(), e);
        out.timings.total_ms = ms(start);
        return out;
    }
    let t = Instant::now();
    let plugins = crate::plugin::PluginOptions::for_config_dir(&cfg.dir).with(&opts.plugins);
    for (i, desc) in sigs.iter().enumerate() {
        if i >= opts.max_signatures {
            out.reason = Some(format!(
                "signature evaluation stopped. The configured limit of {} signatures to verify per artifact exceeded",
                opts.max_signatures
            ));
            out.failure = Some(Failure::AllFailed);
            break;
        }
        let (media_type, bytes) = match source.fetch_signature(&pinned, desc).await {
            Ok(v) => v,
            Err(e) => {
                out.transient = e.is_transient();
                let e = format!(
                    "unable to retrieve digital signature with digest {} associated with {} from the Repository, error : {e}",
                    go_quote(&desc.digest),
                    go_quote(&artifact)
                );
                out.stop(e.clone(), e);
                break;
            }
        };
        let mut report = verify_envelope_with(
            cfg,
            stmt,
            &media_type,
            &bytes,
            &target,
            opts.now,
            opts.revocation.as_ref(),
            &plugins,
        )
        .await;
        report.digest = desc.digest.clone();
        if report.passed()
            && let Some(e) = check_user_metadata(&report, &opts.user_metadata)
        {
            report.error = Some(e);
        }
        if report.passed() {
            out.allowed = true;
            out.reason = None;
            out.signature = Some(report);
            break;
        }
        out.failed.push(report);
    }
    out.timings.verify_ms = ms(t);
    if !out.allowed && out.reason.is_none() {
        let reasons: Vec<String> = out
            .failed
            .iter()
            .map(|r| {
                format!(
                    "failed to verify signature with digest {}, {}",
                    r.digest,
                    r.error.as_deref().unwrap_or("unknown error")
                )
            })
            .collect();
        out.reason = Some(format!(
            "signature verification failed for all the signatures associated with {artifact}: {}",
            reasons.join("; ")
        ));
        out.failure = Some(Failure::AllFailed);
    }
    out.timings.total_ms = ms(start);
    out
}

/// notation-go's `verifyUserMetadata`: every wanted pair must be among the payload's
/// `targetArtifact.annotations`, with the same value.
pub(super) fn check_user_metadata(
    report: &SignatureReport,
    wanted: &BTreeMap<String, String>,
) -> Option<String> {
    let have = report.user_metadata.as_ref();
    let missing = wanted
        .iter()
        .any(|(k, v)| have.and_then(|m| m.get(k)) != Some(v));
    missing.then(|| "unable to find specified metadata in the signature".to_string())
}
