//! The verification engine: trust material (policy + stores), one envelope against one
//! statement (the five validations and their actions), and one image end to end (resolve once,
//! pick the statement, discover signatures, first one that passes wins).

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

/// A named trust store's certificates, or why it failed to load.
pub type LoadedStore = Result<Arc<Vec<Cert>>, String>;

/// A policy document with the trust stores it names, loaded and immutable. The daemon swaps a
/// whole `Arc<TrustConfig>` on reload.
pub struct TrustConfig {
    pub dir: PathBuf,
    pub policy_path: PathBuf,
    pub policy: PolicyDocument,
    /// The policy file's text, as loaded.
    pub policy_text: String,
    /// Every store the policy names; a store that failed to load keeps its error, reported as an
    /// authenticity (or authenticTimestamp) failure when a statement uses it, as notation does.
    pub stores: HashMap<(StoreKind, String), LoadedStore>,
    /// sha256 over the policy file and every loaded certificate.
    pub source_hash: String,
    /// Not errors, but to be said (an ignored `trustpolicy.oci.json`).
    pub warnings: Vec<String>,
}

impl TrustConfig {
    /// Load `trustpolicy.json` (only, as notation 1.3) and `truststore/x509/...` from `dir`.
    pub fn load(dir: &Path) -> Result<TrustConfig, Vec<String>> {
        let (policy, policy_path) = PolicyDocument::load_dir(dir).map_err(|mut problems| {
            problems.extend(named_store_problems(dir));
            problems
        })?;
        let root = dir.join("truststore");
        let mut stores = HashMap::new();
        let policy_bytes = std::fs::read(&policy_path).unwrap_or_default();
        let policy_text = String::from_utf8_lossy(&policy_bytes).into_owned();
        let mut hash_input = (policy_bytes.len() as u64).to_be_bytes().to_vec();
        hash_input.extend_from_slice(&policy_bytes);
        for st in &policy.statements {
            for r in &st.trust_stores {
                let key = (r.kind, r.name.clone());
                if stores.contains_key(&key) {
                    continue;
                }
                let loaded = truststore::load_named_store(&root, r.kind, &r.name);
                // Structured, so that moving a certificate between stores changes the hash.
                let (kind, name) = (r.kind.as_str().as_bytes(), r.name.as_bytes());
                for part in [kind, name] {
                    hash_input.extend_from_slice(&(part.len() as u64).to_be_bytes());
                    hash_input.extend_from_slice(part);
                }
                match &loaded {
                    Ok(certs) => {
                        hash_input.extend_from_slice(&(certs.len() as u64).to_be_bytes());
                        for c in certs {
                            hash_input.extend_from_slice(&(c.der.len() as u64).to_be_bytes());
                            hash_input.extend_from_slice(&c.der);
                        }
                    }
                    Err(e) => hash_input.extend_from_slice(e.as_bytes()),
                }
                stores.insert(key, loaded.map(Arc::new));
            }
        }
        let warnings: Vec<String> = crate::policy::ignored_policy_file(dir)
            .map(|p| crate::policy::ignored_policy_message(&p))
            .into_iter()
            .collect();
        for w in &warnings {
            tracing::warn!("{w}");
        }
        Ok(TrustConfig {
            warnings,
            dir: dir.to_path_buf(),
            policy_path,
            policy,
            policy_text,
            stores,
            source_hash: sha256_digest(&hash_input),
        })
    }

    /// Store load errors, sorted (for `policy check` and daemon reloads, which refuse them).
    pub fn store_problems(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .stores
            .values()
            .filter_map(|r| r.as_ref().err().cloned())
            .collect();
        v.sort();
        v
    }

    /// The certificates of `stmt`'s stores of one kind, or the first load error.
    fn certs(&self, stmt: &Statement, kind: StoreKind) -> Result<Vec<Arc<Vec<Cert>>>, String> {
        let mut out = Vec::new();
        for r in stmt.trust_stores.iter().filter(|r| r.kind == kind) {
            match self.stores.get(&(r.kind, r.name.clone())) {
                Some(Ok(c)) => out.push(c.clone()),
                Some(Err(e)) => return Err(e.clone()),
                None => {
                    return Err(format!(
                        "the trust store {:?} of type {:?} was not loaded",
                        r.name,
                        r.kind.as_str()
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// For a policy document that did not validate: the problems of the trust stores named by its
/// well-formed `type:name` references (read loosely), so that one run reports every problem.
fn named_store_problems(dir: &Path) -> Vec<String> {
    let file = std::fs::read(dir.join("trustpolicy.json")).ok();
    let Some(doc) = file.and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok()) else {
        return Vec::new();
    };
    let mut refs: Vec<(StoreKind, &str)> = Vec::new();
    let statements = doc["trustPolicies"].as_array().into_iter().flatten();
    for r in statements.flat_map(|st| st["trustStores"].as_array().into_iter().flatten()) {
        let parsed = r.as_str().and_then(|r| r.split_once(':'));
        if let Some((kind, name)) = parsed
            && let Some(kind) = StoreKind::parse(kind)
            && truststore::is_valid_store_name(name)
            && !refs.contains(&(kind, name))
        {
            refs.push((kind, name));
        }
    }
    let root = dir.join("truststore");
    let mut problems: Vec<String> = refs
        .into_iter()
        .filter_map(|(k, n)| truststore::load_named_store(&root, k, n).err())
        .collect();
    problems.sort();
    problems
}

#[derive(Debug, Clone, Serialize)]
pub struct ValidationResult {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What happened to one signature.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureReport {
    /// Digest of the signature manifest (or of the envelope when verified alone).
    pub digest: String,
    #[serde(rename = "envelopeMediaType")]
    pub envelope_media_type: String,
    #[serde(rename = "signingScheme", skip_serializing_if = "Option::is_none")]
    pub scheme: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    #[serde(rename = "signingTime", skip_serializing_if = "Option::is_none")]
    pub signing_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
    #[serde(rename = "signingAgent", skip_serializing_if = "Option::is_none")]
    pub signing_agent: Option<String>,
    /// The payload's `targetArtifact.annotations`: the user metadata `notation sign -m` adds.
    #[serde(rename = "userMetadata", skip_serializing_if = "Option::is_none")]
    pub user_metadata: Option<std::collections::BTreeMap<String, String>>,
    pub validations: Vec<ValidationResult>,
    /// Why this signature did not pass; `None` when it passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl SignatureReport {
    fn new(digest: String, envelope_media_type: &str) -> SignatureReport {
        SignatureReport {
            digest,
            envelope_media_type: envelope_media_type.to_string(),
            scheme: None,
            signer: None,
            signing_time: None,
            expiry: None,
            signing_agent: None,
            user_metadata: None,
            validations: Vec::new(),
            error: None,
        }
    }

    pub fn passed(&self) -> bool {
        self.error.is_none()
    }

    /// `Warning: <type> was set to "log" and failed with error: <err>` lines, as notation prints.
    pub fn warnings(&self) -> Vec<String> {
        self.validations
            .iter()
            .filter(|v| v.action == "log")
            .filter_map(|v| {
                v.error
                    .as_ref()
                    .map(|e| format!("{} was set to \"log\" and failed with error: {e}", v.kind))
            })
            .collect()
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

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
async fn run_plugin(
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

fn authenticity(
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

fn expiry(env: &Envelope, now: OffsetDateTime) -> Result<(), String> {
    match env.expiry {
        Some(e) if now >= e => Err(format!(
            "digital signature has expired on {}",
            go_quote(&format_rfc1123z(e))
        )),
        _ => Ok(()),
    }
}

async fn authentic_timestamp(
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
async fn revocation(
    env: &Envelope,
    rev: &dyn RevocationCheck,
    now: OffsetDateTime,
) -> Result<(), String> {
    let signing_time = (env.scheme == SigningScheme::SigningAuthority).then_some(env.signing_time);
    rev.check_chain(&env.chain, Purpose::CodeSigning, signing_time, now)
        .await
        .map_err(|e| e.to_string())
}

/// Where signatures come from, as a closed pair (kept for callers that name one); any
/// [`Registry`] will do.
pub enum Source<'a> {
    Registry(&'a RegistryClient),
    Layout(&'a OciLayout),
}

impl Source<'_> {
    fn inner(&self) -> &dyn Registry {
        match self {
            Source::Registry(c) => *c,
            Source::Layout(l) => *l,
        }
    }
}

impl Registry for Source<'_> {
    fn resolve<'a>(&'a self, image: &'a ImageRef) -> BoxFuture<'a, Result<Fetched, RegistryError>> {
        self.inner().resolve(image)
    }

    fn signatures<'a>(
        &'a self,
        image: &'a ImageRef,
        digest: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Descriptor>, RegistryError>> {
        self.inner().signatures(image, digest)
    }

    fn manifest_by<'a>(
        &'a self,
        image: &'a ImageRef,
        desc: &'a Descriptor,
    ) -> BoxFuture<'a, Result<bytes::Bytes, RegistryError>> {
        self.inner().manifest_by(image, desc)
    }

    fn blob<'a>(
        &'a self,
        image: &'a ImageRef,
        desc: &'a Descriptor,
        max: u64,
    ) -> BoxFuture<'a, Result<bytes::Bytes, RegistryError>> {
        self.inner().blob(image, desc, max)
    }
}

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

#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub resolve_ms: f64,
    pub discover_ms: f64,
    pub verify_ms: f64,
    pub total_ms: f64,
}

/// How a denial ends, in the classes notation's CLI tells apart (it prints a different line
/// for each; `pullguard verify` prints the same).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The reference did not resolve: `failed to get manifest descriptor: <error>`.
    Resolve(String),
    /// Verification stopped before a verdict on every signature (no applicable policy, no
    /// signature, a listing error, a signature that cannot be retrieved):
    /// `signature verification failed: <error>`.
    Stopped(String),
    /// Every signature tried failed (or the limit was reached):
    /// `signature verification failed for all the signatures associated with <artifact>`.
    AllFailed,
    /// Printed as it is (a digest reference that does not match the content).
    Plain(String),
}

/// The verdict on one image.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub reference: String,
    /// `registry/repository@digest`, what the policy was selected for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub descriptor: Option<Descriptor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    pub allowed: bool,
    /// Why the image was denied (or, when allowed by `skip`, that it was skipped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The class of the denial (for the notation-compatible CLI line).
    #[serde(skip)]
    pub failure: Option<Failure>,
    /// The signature that passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<SignatureReport>,
    /// Signatures tried that did not pass, in order.
    pub failed: Vec<SignatureReport>,
    pub timings: Timings,
    /// Denied because a registry could not be asked (unreachable, timing out, 5xx), not on
    /// the signature's merits: remembered briefly, and a client is told so.
    #[serde(skip)]
    pub transient: bool,
}

impl Outcome {
    fn new(reference: &str) -> Outcome {
        Outcome {
            reference: reference.to_string(),
            artifact: None,
            descriptor: None,
            policy: None,
            level: None,
            allowed: false,
            reason: None,
            failure: None,
            signature: None,
            failed: Vec::new(),
            timings: Timings::default(),
            transient: false,
        }
    }

    /// A denial before anything was resolved.
    pub fn denied(reference: &str, reason: String) -> Outcome {
        let mut o = Outcome::new(reference);
        o.reason = Some(reason);
        o
    }

    /// Stop with `reason` (notation: an error out of `notation.Verify`, not a verdict).
    fn stop(&mut self, reason: String, failure_text: String) {
        self.reason = Some(reason);
        self.failure = Some(Failure::Stopped(failure_text));
    }

    pub fn digest(&self) -> Option<&str> {
        self.descriptor.as_ref().map(|d| d.digest.as_str())
    }

    /// The line notation's CLI prints after `Error: ` for this denial, with `resolved` (the
    /// `registry/repository@digest` or `layout-path@digest` of the artifact) where it names it.
    pub fn notation_error(&self, resolved: &str) -> String {
        match &self.failure {
            Some(Failure::Resolve(e)) => format!("failed to get manifest descriptor: {e}"),
            Some(Failure::Stopped(e)) => format!("signature verification failed: {e}"),
            Some(Failure::AllFailed) => format!(
                "signature verification failed for all the signatures associated with {resolved}"
            ),
            Some(Failure::Plain(e)) => e.clone(),
            None => self
                .reason
                .clone()
                .unwrap_or_else(|| "verification failed".into()),
        }
    }

    /// One line naming the image, the digest, the policy and the reason.
    pub fn summary(&self) -> String {
        let digest = self.digest().unwrap_or("unresolved");
        let policy = self.policy.as_deref().unwrap_or("-");
        if self.allowed {
            let signer = self
                .signature
                .as_ref()
                .and_then(|s| s.signer.as_deref())
                .unwrap_or("-");
            match &self.reason {
                Some(r) => format!(
                    "allowed {} ({digest}) under trust policy {policy:?}: {r}",
                    self.reference
                ),
                None => format!(
                    "allowed {} ({digest}) under trust policy {policy:?}: signed by {signer:?}",
                    self.reference
                ),
            }
        } else {
            let reason = self.reason.as_deref().unwrap_or("verification failed");
            crate::gate::Denial::new(
                &self.reference,
                self.digest(),
                self.policy.as_deref(),
                reason.to_string(),
            )
            .to_string()
        }
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

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

const RESOLVE_PREFIX: &str = "cannot resolve the image: ";

/// Resolve a tag or digest to the manifest, checking a digest reference against the content.
pub async fn resolve(source: &dyn Registry, image: &ImageRef) -> Result<Fetched, String> {
    let resolved = source
        .resolve(image)
        .await
        .map_err(|e| format!("{RESOLVE_PREFIX}{e}"))?;
    check_resolved(image, resolved)
}

/// A digest reference must name the content that was served.
fn check_resolved(image: &ImageRef, resolved: Fetched) -> Result<Fetched, String> {
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
fn check_user_metadata(
    report: &SignatureReport,
    wanted: &BTreeMap<String, String>,
) -> Option<String> {
    let have = report.user_metadata.as_ref();
    let missing = wanted
        .iter()
        .any(|(k, v)| have.and_then(|m| m.get(k)) != Some(v));
    missing.then(|| "unable to find specified metadata in the signature".to_string())
}
