//! `pullguard audit`: a one-shot inventory of the Docker and containerd image stores, each
//! image with its digest, verdict, policy and reason. Exit 0 when every image verifies, 1 when
//! any does not, 2 on a usage or configuration error or a store that cannot be read.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};

use super::containerd::Containerd;
use super::{Finding, check_containerd, check_docker, docker};
use crate::auth::DockerConfig;
use crate::cli::{EXIT_DENIED, EXIT_OK, EXIT_USAGE};
use crate::config::{self, Config};
use crate::docker::{Dockerd, Guard};
use crate::gate::{Gate, GateOptions};
use crate::registry::{Credentials, RegistryClient};

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditOutput {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Config file (TOML); its `[watch]` section names the stores by default.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Directory with trustpolicy(.oci).json and truststore/ (default: policy_dir of the
    /// config, else /etc/pullguard if it has a policy, else notation's config dir).
    #[arg(long)]
    policy_dir: Option<PathBuf>,
    /// Registry (host[:port]) to reach over plain HTTP, added to insecure_registries. Repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    insecure_registry: Vec<String>,
    /// containerd's socket (default: watch.containerd).
    #[arg(long, value_name = "SOCK")]
    containerd: Option<PathBuf>,
    /// containerd namespace to audit; repeatable (default: watch.namespaces, else all).
    #[arg(long = "namespace", short = 'n', value_name = "NS")]
    namespaces: Vec<String>,
    /// dockerd's socket (default: watch.docker).
    #[arg(long, value_name = "SOCK")]
    docker: Option<PathBuf>,
    /// Output format: text (one line per image and a total) or json.
    #[arg(long, short = 'o', value_enum, default_value_t = AuditOutput::Text)]
    output: AuditOutput,
}

fn usage(msg: impl std::fmt::Display) -> i32 {
    eprintln!("Error: {msg}");
    EXIT_USAGE
}

pub fn run(args: AuditArgs) -> i32 {
    let cfg = match Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let containerd = args.containerd.clone().or(cfg.watch.containerd.clone());
    let docker_sock = args.docker.clone().or(cfg.watch.docker.clone());
    if containerd.is_none() && docker_sock.is_none() {
        return usage(
            "no image store to audit: name one with --containerd SOCK and/or --docker SOCK (or [watch] in the config)",
        );
    }
    let namespaces = if args.namespaces.is_empty() {
        cfg.watch.namespaces.clone()
    } else {
        args.namespaces.clone()
    };
    let dir = args
        .policy_dir
        .clone()
        .or_else(|| cfg.policy_dir.clone())
        .unwrap_or_else(config::default_policy_dir);
    let trust = match crate::daemon::load_strict(&dir) {
        Ok(t) => t,
        Err(problems) => {
            for p in &problems {
                eprintln!("Error: {p}");
            }
            return EXIT_USAGE;
        }
    };
    let docker_cfg = match DockerConfig::load(cfg.docker_config.as_deref()) {
        Ok(d) => d,
        Err(e) => return usage(e),
    };
    let mut insecure = cfg.insecure_registries.clone();
    insecure.extend(args.insecure_registry.iter().cloned());
    let client = match RegistryClient::new(
        crate::daemon::registry_options(&cfg, insecure),
        Credentials::DockerConfig(Arc::new(docker_cfg)),
    ) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let engine = Arc::new(Gate::new(
        trust,
        client,
        GateOptions {
            max_signatures: cfg.max_signatures,
            require_platform_signature: cfg.require_platform_signature,
            ..GateOptions::default()
        },
    ));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return usage(format!("cannot start the runtime: {e}")),
    };
    let found = runtime.block_on(async {
        let mut all = Vec::new();
        if let Some(sock) = &containerd {
            all.extend(audit_containerd(&engine, sock, &namespaces).await?);
        }
        if let Some(sock) = &docker_sock {
            all.extend(audit_docker(&engine, sock).await?);
        }
        Ok::<_, String>(all)
    });
    let found = match found {
        Ok(f) => f,
        Err(e) => return usage(format!("cannot audit: {e}")),
    };
    print(&found, args.output);
    if found.iter().all(|f| f.verified) {
        EXIT_OK
    } else {
        EXIT_DENIED
    }
}

async fn audit_containerd(
    engine: &Gate,
    sock: &std::path::Path,
    namespaces: &[String],
) -> Result<Vec<Finding>, String> {
    let c = Containerd::connect(sock).await?;
    let namespaces = if namespaces.is_empty() {
        c.namespaces().await?
    } else {
        namespaces.to_vec()
    };
    let mut out = Vec::new();
    for ns in &namespaces {
        for rec in c.images(ns, Vec::new()).await? {
            out.push(check_containerd(engine, &c, ns, &rec).await);
        }
    }
    Ok(out)
}

async fn audit_docker(engine: &Arc<Gate>, sock: &std::path::Path) -> Result<Vec<Finding>, String> {
    let guard = Guard {
        engine: engine.clone(),
        dockerd: Dockerd::new(sock.to_path_buf()),
        switches: Default::default(),
    };
    let mut out = Vec::new();
    for img in docker::list(&guard.dockerd).await? {
        if let Some((f, _)) = check_docker(&guard, &img.id, &img.tags).await? {
            out.push(f);
        }
    }
    Ok(out)
}

fn print(found: &[Finding], output: AuditOutput) {
    let unverified = found.iter().filter(|f| !f.verified).count();
    if output == AuditOutput::Json {
        let v = serde_json::json!({
            "images": found,
            "total": found.len(),
            "unverified": unverified,
        });
        match serde_json::to_string_pretty(&v) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("Error: cannot render the audit: {e}"),
        }
        return;
    }
    for f in found {
        let store = match &f.namespace {
            Some(ns) => format!("{}/{ns}", f.store),
            None => f.store.to_string(),
        };
        println!(
            "{:<10} {store} {} {} policy={} {}",
            f.verdict(),
            f.image,
            f.digest.as_deref().or(f.id.as_deref()).unwrap_or("-"),
            f.policy.as_deref().unwrap_or("-"),
            f.reason
        );
    }
    println!(
        "{} image(s), {} verified, {unverified} unverified",
        found.len(),
        found.len() - unverified
    );
}
