//! `pullguard verify`: notation verify's drop-in (its order of checks, flags, references,
//! registry choices and errors).

use super::*;

/// A clap error on `verify`, worded as pflag words the common ones.
pub(super) fn verify_usage_error(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let flag = arg
        .as_deref()
        .map(|a| a.split([' ', '=']).next().unwrap_or(a).to_string());
    match (e.kind(), flag) {
        (ErrorKind::UnknownArgument, Some(f)) if f.starts_with("--") => {
            format!("Error: unknown flag: {f}")
        }
        (ErrorKind::UnknownArgument, Some(f)) if f.starts_with('-') => format!(
            "Error: unknown shorthand flag: '{}' in {f}",
            f.trim_start_matches('-').chars().next().unwrap_or('-')
        ),
        (ErrorKind::InvalidValue, Some(f)) if f.starts_with('-') => {
            format!("Error: flag needs an argument: {f}")
        }
        _ => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("").trim();
            let first = first.strip_prefix("error: ").unwrap_or(first);
            format!("Error: {first}")
        }
    }
}

/// The trust policy and stores of a `verify`, loaded on a thread of its own that the CLI
/// starts before it parses the command line: OpenSSL's one-time start (its config file, the
/// default provider's SHA-256) runs while clap parses and the runtime and the registry client
/// are built, and the policy is read as soon as its directory is known, so that the loading is
/// mostly done when the registry's first answers come. Started later (as a runtime's blocking
/// task once the requests were out), this CPU-bound work held the core the runtime thread
/// needed to take those answers while the registry held the other: answers waited 1.4-3.8 ms
/// for a core (`perf record -a` of both processes' syscalls and scheduler switches).
pub(super) struct TrustLoader {
    dir: std::sync::mpsc::Sender<PathBuf>,
    loaded: tokio::sync::oneshot::Receiver<Result<TrustConfig, Vec<String>>>,
}

impl TrustLoader {
    /// The thread, started (None if the system refuses a thread).
    pub(super) fn start() -> Option<TrustLoader> {
        let (dir, dir_rx) = std::sync::mpsc::channel::<PathBuf>();
        let (tx, loaded) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("pullguard-trust".into())
            .spawn(move || {
                // OpenSSL's start (config, providers, name tables) and its SHA-256 fetch,
                // which the signature check at the end needs; the digest checks of the
                // registry's answers on the way do not wait for them (`oci::sha256`).
                openssl::init();
                let _ = openssl::sha::sha256(b"");
                // No directory: the command ended before it needed the policy.
                if let Ok(dir) = dir_rx.recv() {
                    let _ = tx.send(TrustConfig::load(&dir));
                }
            })
            .ok()?;
        Some(TrustLoader { dir, loaded })
    }
}

pub(super) fn run_verify(args: VerifyArgs, loader: Option<TrustLoader>) -> i32 {
    crate::metrics::off();
    let verbose = args.verbose.unwrap_or(false);
    let debug = args.debug.unwrap_or(false);
    // Quiet by default, as notation is: no code on this path logs at `error` (its failures
    // are the printed verdict), so without -v, -d or PULLGUARD_LOG no subscriber is set up
    // (its span registry alone was ~5% of a run's page faults).
    if debug || verbose || std::env::var_os("PULLGUARD_LOG").is_some() {
        init_tracing_level(if debug {
            "debug"
        } else if verbose {
            "info"
        } else {
            "error"
        });
    }
    match verify_cli(&args, verbose || debug, loader) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e}");
            EXIT_DENIED
        }
    }
}

/// `registry/repository` as typed and the image, parsed as oras-go's `ParseReference` reads a
/// notation reference: the registry is everything before the first `/` (no Docker Hub
/// defaults), and a tag or a digest is required.
pub(super) fn notation_reference(input: &str) -> Result<(String, ImageRef), String> {
    let expecting = "Expecting <registry>/<repository>:<tag> or <registry>/<repository>@<digest>";
    let q = crate::gocompat::quote::quote(input);
    let (registry, rest) = match input.split_once('/') {
        Some((r, rest)) if !r.is_empty() && !rest.is_empty() => (r, rest),
        _ => {
            return Err(format!(
                "{q}: invalid reference: missing registry or repository. {expecting}"
            ));
        }
    };
    let (name, has_ref) = match rest.rsplit_once('@') {
        Some((n, _)) => (n, true),
        None => {
            let last = rest.rfind('/').map_or(0, |i| i + 1);
            match rest[last..].rfind(':') {
                Some(i) => (&rest[..last + i], true),
                None => (rest, false),
            }
        }
    };
    if !has_ref {
        return Err(format!(
            "{q}: invalid reference: no tag or digest. {expecting}"
        ));
    }
    // Parse under a placeholder host so that no Docker Hub rule applies to the repository,
    // then put the registry back (spelled canonically: lowercase, no trailing dot).
    let placeholder = ImageRef::parse(&format!("pullguard.invalid/{rest}"))
        .map_err(|e| e.replace("pullguard.invalid/", &format!("{registry}/")))?;
    let canonical = ImageRef::parse(&format!("{registry}/x:1"))
        .ok()
        .filter(|r| r.repository == "x")
        .map(|r| r.registry)
        .unwrap_or_else(|| {
            registry
                .to_ascii_lowercase()
                .trim_end_matches('.')
                .to_string()
        });
    Ok((
        format!("{registry}/{name}"),
        ImageRef {
            registry: canonical,
            ..placeholder
        },
    ))
}

pub(super) fn verify_cli(
    args: &VerifyArgs,
    verbose: bool,
    loader: Option<TrustLoader>,
) -> Result<i32, String> {
    // The order of notation's checks: the argument, the flag group, --max-signatures, the
    // trust policy, --plugin-config, --user-metadata, then the reference.
    let Some(input) = args.reference.first() else {
        return Err("missing reference to the artifact: use `pullguard verify --help` to see what parameters are required".into());
    };
    let oci_layout = args.oci_layout.unwrap_or(false);
    // notation: MarkFlagsRequiredTogether("oci-layout", "scope"). Without --oci-layout, a
    // --scope would replace the registry scope the policy is chosen by: refused.
    match (oci_layout, args.scope.is_some()) {
        (true, false) => {
            return Err("if any flags in the group [oci-layout scope] are set they must all be set; missing [scope]".into());
        }
        (false, true) => {
            return Err("if any flags in the group [oci-layout scope] are set they must all be set; missing [oci-layout]".into());
        }
        _ => {}
    }
    let cfg = Config::load(args.config.as_deref())?;
    let max_signatures = match &args.max_signatures {
        Some(s) => go_int("max-signatures", s)?,
        None => cfg.max_signatures as i64,
    };
    if max_signatures <= 0 {
        return Err(format!(
            "max-signatures value {max_signatures} must be a positive number"
        ));
    }
    if args.allow_referrers_api.is_some() {
        eprintln!(
            "Warning: flag '--allow-referrers-api' is deprecated and will be removed in future versions."
        );
    }
    // notation's NOTATION_CONFIG names its config dir; it comes after pullguard's own choices.
    let notation_config = std::env::var_os("NOTATION_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|_| {
            args.policy_dir.is_none()
                && cfg.policy_dir.is_none()
                && !std::path::Path::new(config::DEFAULT_POLICY_DIR)
                    .join("trustpolicy.json")
                    .exists()
        });
    let dir = notation_config.unwrap_or_else(|| policy_dir(args.policy_dir.clone(), &cfg));
    // The policy is read from here on, on the loader's thread; its errors are still reported
    // in notation's order, below.
    let loading = match loader.or_else(TrustLoader::start) {
        Some(l) if l.dir.send(dir.clone()).is_ok() => l.loaded,
        _ => return Err("cannot load the trust policy: no thread to load it on".into()),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    // Ctrl-C while a verification plugin runs takes its process group along.
    crate::plugin::exit_on_interrupt();
    // The registry's first round trip does not wait for the trust policy: the image is
    // resolved (and by digest its signatures listed) while the policy and its stores load.
    let remote = (!oci_layout).then(|| remote_target(args, &cfg, &dir, input));
    let primed = match &remote {
        Some(Ok(r)) => {
            let _entered = runtime.enter();
            Some(Primed::start(r.client.clone(), &r.image))
        }
        _ => None,
    };
    let trust = match runtime.block_on(loading) {
        Ok(Ok(t)) => t,
        Ok(Err(problems)) => {
            for p in problems.iter().skip(1) {
                eprintln!("Error: {p}");
            }
            return Err(problems.into_iter().next().unwrap_or_default());
        }
        Err(e) => return Err(format!("cannot load the trust policy: {e}")),
    };
    for w in &trust.warnings {
        eprintln!("Warning: {w}");
    }
    let plugin_config = flag_map(&args.plugin_config, "plugin-config")?;
    let user_metadata = flag_map(&args.user_metadata, "user-metadata")?;
    // The daemon's chain, require_platform_signature included; no decision log.
    let opts = GateOptions {
        max_signatures: usize::try_from(max_signatures).unwrap_or(usize::MAX),
        user_metadata,
        plugins: crate::plugin::PluginSettings {
            config: plugin_config,
            timeout: Some(
                args.plugin_timeout
                    .map_or(cfg.plugin_timeout, Duration::from_secs),
            ),
        },
        require_platform_signature: cfg.require_platform_signature,
        decision_ring: 0,
        ..GateOptions::default()
    };
    let verify_image = |registry: Arc<dyn Registry>, image: &ImageRef, opts: GateOptions| {
        let gate = Gate::with_registry(trust, registry, opts, Arc::new(SystemClock));
        let verdict = runtime.block_on(gate.check(&Request::new(image.clone(), "cli")));
        (*outcome_of(&verdict)).clone()
    };
    let (outcome, resolved_name, tag) = match remote {
        None => {
            let (path, reference) = split_layout_ref(input);
            let Some(reference) = reference.filter(|r| !r.is_empty()) else {
                return Err(format!(
                    "{}: invalid reference: missing tag or digest. Expecting <file_path>:<tag> or <file_path>@<digest>",
                    crate::gocompat::quote::quote(input)
                ));
            };
            let layout = OciLayout::open(std::path::Path::new(path))?;
            let is_digest = input.rfind('@').is_some();
            let image = ImageRef {
                registry: "local".into(),
                repository: "layout".into(),
                tag: (!is_digest).then(|| reference.to_string()),
                digest: is_digest.then(|| reference.to_string()),
            };
            let opts = GateOptions {
                scope: args.scope.clone(),
                ..opts
            };
            let mut o = verify_image(Arc::new(layout), &image, opts);
            o.reference = input.clone();
            (o, path.to_string(), image.tag.clone())
        }
        Some(remote) => {
            let r = remote?;
            let registry: Arc<dyn Registry> = match primed {
                Some(p) => Arc::new(p),
                None => r.client,
            };
            let mut o = verify_image(registry, &r.image, opts);
            if let Some(crate::verify::Failure::Resolve(e)) = &mut o.failure {
                notation_resolve_error(e, input, r.plain_http);
            }
            let tag = r
                .image
                .digest
                .is_none()
                .then(|| r.image.tag.clone())
                .flatten();
            (o, r.name, tag)
        }
    };
    let resolved = match outcome.digest() {
        Some(d) => format!("{resolved_name}@{d}"),
        None => input.clone(),
    };
    if let (Some(tag), Some(_)) = (&tag, outcome.digest())
        && args.output == Output::Text
    {
        eprintln!(
            "Warning: Always verify the artifact using digest(@sha256:...) rather than a tag(:{tag}) because resolved digest may not point to the same signed artifact, as tags are mutable."
        );
    }
    print_outcome(&outcome, args.output, &resolved, verbose);
    // The verdict is out: the process ends now, so the runtime is not taken down (no wait
    // for its idle blocking thread, no teardown of each pooled connection's task: the exit
    // closes the sockets).
    std::mem::forget(runtime);
    Ok(if outcome.allowed {
        EXIT_OK
    } else {
        EXIT_DENIED
    })
}

/// `-u`/`-p` (else `$NOTATION_USERNAME`/`$NOTATION_PASSWORD`), as notation's
/// `SecureFlagOpts.Credential`: a password alone is a refresh (identity) token.
/// What `pullguard verify` asks a registry with: the reference as notation names it, the
/// image, the client (credentials, TLS or plain HTTP as notation decides) and whether the
/// registry is spoken to in plain HTTP.
pub(super) struct Remote {
    name: String,
    image: ImageRef,
    client: Arc<RegistryClient>,
    plain_http: bool,
}

pub(super) fn remote_target(
    args: &VerifyArgs,
    cfg: &Config,
    dir: &std::path::Path,
    input: &str,
) -> Result<Remote, String> {
    let (name, image) = notation_reference(input)?;
    let docker = DockerConfig::load(
        args.docker_config
            .as_deref()
            .or(cfg.docker_config.as_deref()),
    )?;
    let mut insecure = cfg.insecure_registries.clone();
    insecure.extend(args.insecure_registries.iter().cloned());
    insecure.extend(notation_insecure_registries(dir));
    // notation: --insecure-registry, a registry in its config.json, or localhost:PORT.
    let host = image.registry.split(':').next().unwrap_or("");
    if args.insecure_registry.unwrap_or(false)
        || host == "localhost"
        || insecure
            .iter()
            .any(|r| r.eq_ignore_ascii_case(&image.registry))
    {
        insecure.push(image.registry.clone());
    }
    let plain_http = insecure.contains(&image.registry);
    let ropts = RegistryOptions {
        insecure,
        // One verification, its requests on one connection where the registry takes h2.
        http2: true,
        // By tag, the second connection is needed only once the resolve answered (by digest
        // the first three questions go at once: nothing to open ahead).
        connect_ahead: image.digest.is_none().then(|| image.registry.clone()),
        ..crate::daemon::registry_options(cfg, Vec::new())
    };
    let creds = match notation_credential(args) {
        Some(c) => Credentials::Fixed(Some(c)),
        None => Credentials::DockerConfig(Arc::new(docker)),
    };
    let client = Arc::new(RegistryClient::new(ropts, creds)?);
    Ok(Remote {
        name,
        image,
        client,
        plain_http,
    })
}

pub(super) fn notation_credential(args: &VerifyArgs) -> Option<crate::auth::Credential> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let username = args
        .username
        .clone()
        .or_else(|| env("NOTATION_USERNAME"))
        .unwrap_or_default();
    let password = args
        .password
        .clone()
        .or_else(|| env("NOTATION_PASSWORD"))
        .unwrap_or_default();
    match (username.is_empty(), password.is_empty()) {
        (true, true) => None,
        (true, false) => Some(crate::auth::Credential::IdentityToken(password)),
        (false, _) => Some(crate::auth::Credential::Basic { username, password }),
    }
}

/// notation's `config.json` (`insecureRegistries`) in the notation config dir.
pub(super) fn notation_insecure_registries(dir: &std::path::Path) -> Vec<String> {
    let Ok(bytes) = std::fs::read(dir.join("config.json")) else {
        return Vec::new();
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Vec::new();
    };
    v.as_object()
        .and_then(|o| {
            o.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("insecureRegistries"))
                .map(|(_, v)| v)
        })
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A resolve error as oras-go words the usual ones: a 404 is `<reference>: not found`, and a
/// TLS handshake that met a plain-HTTP server is Go's `http: server gave HTTP response to
/// HTTPS client`, with the flag to use named.
pub(super) fn notation_resolve_error(e: &mut String, reference: &str, plain_http: bool) {
    if e.contains("registry answered 404") {
        *e = format!("{reference}: not found");
        return;
    }
    let lower = e.to_ascii_lowercase();
    if !plain_http
        && (lower.contains("wrong version number") || lower.contains("packet length too long"))
    {
        let url = e
            .split_once("request to ")
            .and_then(|(_, rest)| rest.split_once(" failed"))
            .map_or("", |(u, _)| u);
        *e = format!(
            "Get {}: http: server gave HTTP response to HTTPS client (a plain-HTTP registry: use --insecure-registry)",
            crate::gocompat::quote::quote(url)
        );
    }
}

/// `dir:tag` or `dir@sha256:...` → (dir, reference).
pub(super) fn split_layout_ref(s: &str) -> (&str, Option<&str>) {
    if let Some((p, d)) = s.rsplit_once('@') {
        return (p, Some(d));
    }
    let after_slash = s.rfind('/').map_or(0, |i| i + 1);
    match s[after_slash..].rfind(':') {
        Some(i) => (&s[..after_slash + i], Some(&s[after_slash + i + 1..])),
        None => (s, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_refs_split() {
        assert_eq!(split_layout_ref("/a/b:v1"), ("/a/b", Some("v1")));
        assert_eq!(
            split_layout_ref("dir@sha256:ab"),
            ("dir", Some("sha256:ab"))
        );
        assert_eq!(split_layout_ref("./x.y/dir"), ("./x.y/dir", None));
    }
}
