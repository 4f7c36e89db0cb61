//! `pullguard ctl`: the admin client of the control API. Human output by default, `--output
//! json` for scripts. Exit codes: 0 ok / allowed, 1 denied or refused, 2 usage or the daemon is
//! unreachable.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;

use crate::control::{self, pb};

#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum CtlCommand {
    /// Version, uptime, policy generation, trust stores, counters, listeners, reload errors.
    Status,
    /// Reload the policy dir now (the last good policy stays if the new one is invalid).
    Reload,
    /// Print the trust policy in force.
    Policy,
    /// Would this image be allowed? Exit 0 allowed, 1 denied.
    Verify {
        /// Image reference (name[:tag][@digest]).
        reference: String,
    },
    /// Recent decisions (newest last); --follow streams new ones.
    Decisions {
        /// Keep streaming new decisions as they are made.
        #[arg(long)]
        follow: bool,
        /// allowed or denied
        #[arg(long)]
        verdict: Option<String>,
        /// Substring of the image reference.
        #[arg(long)]
        image: Option<String>,
        /// RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// At most this many (the newest).
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Verdict cache.
    Cache {
        #[command(subcommand)]
        command: CacheCommand,
    },
    /// grpc.health.v1 check.
    Health,
}

#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum CacheCommand {
    /// Forget every cached verdict.
    Purge,
}

fn decision_json(d: &pb::Decision) -> serde_json::Value {
    json!({
        "time": d.time, "origin": d.origin, "image": d.image, "digest": d.digest,
        "policy": d.policy, "verdict": d.verdict, "reason": d.reason,
        "generation": d.generation, "cached": d.cached, "duration_ms": d.duration_ms,
        "client_uid": d.client_uid, "client_pid": d.client_pid,
        "client_addr": Some(&d.client_addr).filter(|s| !s.is_empty()),
        "call": Some(&d.call).filter(|s| !s.is_empty()),
        "signer": Some(&d.signer).filter(|s| !s.is_empty()),
        "signature_digest": Some(&d.signature_digest).filter(|s| !s.is_empty()),
    })
}

fn decision_line(d: &pb::Decision) -> String {
    // The reason already names the verdict, the image, the digest and the policy.
    format!(
        "{} [{} gen={}{}] {}",
        d.time,
        d.origin,
        d.generation,
        if d.cached { " cached" } else { "" },
        d.reason
    )
}

fn status_json(s: &pb::Status) -> serde_json::Value {
    let c = s.counters.unwrap_or_default();
    json!({
        "version": s.version,
        "uptime_seconds": s.uptime_seconds,
        "policy": {"generation": s.policy_generation, "source_hash": s.policy_source_hash,
                   "path": s.policy_path, "loaded_at": s.policy_loaded_at},
        "trust_stores": s.trust_stores.iter().map(|t| json!({
            "type": t.r#type, "name": t.name,
            "certs": t.certs.iter().map(|c| json!({"subject": c.subject, "not_after": c.not_after, "expires_soon": c.expires_soon})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "counters": {"verifications": c.verifications, "allowed": c.allowed, "denied": c.denied, "cache_hits": c.cache_hits},
        "listeners": s.listeners,
        "last_reload_error": s.last_reload_error,
        "warnings": s.warnings,
        "mirror": s.mirror.map(|m| json!({"manifests_served": m.manifests_served, "blobs_served": m.blobs_served,
                                         "denials": m.denials, "blob_failures": m.blob_failures})),
    })
}

fn print_json(v: &serde_json::Value) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("Error: {e}"),
    }
}

pub async fn run(socket: Option<PathBuf>, json_out: bool, cmd: CtlCommand) -> i32 {
    let path = control::socket_path(socket.as_deref());
    if let CtlCommand::Health = cmd {
        return health(&path, json_out).await;
    }
    let mut client = match control::connect(&path).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {e}");
            return 2;
        }
    };
    let rpc_err = |s: tonic::Status| {
        eprintln!("Error: {} ({:?})", s.message(), s.code());
        2
    };
    match cmd {
        CtlCommand::Status => match client.get_status(pb::GetStatusRequest {}).await {
            Ok(r) => {
                let s = r.into_inner();
                if json_out {
                    print_json(&status_json(&s));
                } else {
                    let c = s.counters.unwrap_or_default();
                    println!("pullguard {} up {:.0}s", s.version, s.uptime_seconds);
                    println!(
                        "policy      {} (generation {}, loaded {}, {})",
                        s.policy_path,
                        s.policy_generation,
                        s.policy_loaded_at,
                        s.policy_source_hash
                    );
                    for t in &s.trust_stores {
                        println!(
                            "truststore  {}:{} ({} certs)",
                            t.r#type,
                            t.name,
                            t.certs.len()
                        );
                        for cert in &t.certs {
                            let soon = if cert.expires_soon {
                                "  EXPIRES SOON"
                            } else {
                                ""
                            };
                            println!(
                                "              {} until {}{soon}",
                                cert.subject, cert.not_after
                            );
                        }
                    }
                    println!(
                        "verdicts    {} allowed, {} denied, {} verifications, {} cache hits",
                        c.allowed, c.denied, c.verifications, c.cache_hits
                    );
                    for l in &s.listeners {
                        println!("listening   {l}");
                    }
                    if let Some(m) = s.mirror {
                        println!(
                            "mirror      {} manifests served, {} blobs served, {} denials, {} broken blob streams",
                            m.manifests_served, m.blobs_served, m.denials, m.blob_failures
                        );
                    }
                    if !s.last_reload_error.is_empty() {
                        println!("last reload FAILED: {}", s.last_reload_error);
                    }
                    for w in &s.warnings {
                        println!("warning     {w}");
                    }
                }
                0
            }
            Err(s) => rpc_err(s),
        },
        CtlCommand::Reload => match client.reload_policy(pb::ReloadPolicyRequest {}).await {
            Ok(r) => {
                let r = r.into_inner();
                if json_out {
                    print_json(
                        &json!({"ok": r.ok, "generation": r.generation, "errors": r.errors}),
                    );
                } else if r.ok {
                    println!("reloaded: policy generation {}", r.generation);
                } else {
                    for e in &r.errors {
                        eprintln!("Error: {e}");
                    }
                    eprintln!("reload refused; generation {} stays in force", r.generation);
                }
                if r.ok { 0 } else { 1 }
            }
            Err(s) => rpc_err(s),
        },
        CtlCommand::Policy => match client.get_policy(pb::GetPolicyRequest {}).await {
            Ok(r) => {
                let r = r.into_inner();
                if json_out {
                    print_json(
                        &json!({"path": r.path, "generation": r.generation, "document": r.document}),
                    );
                } else {
                    println!("# {} (generation {})", r.path, r.generation);
                    println!("{}", r.document);
                }
                0
            }
            Err(s) => rpc_err(s),
        },
        CtlCommand::Verify { reference } => {
            let req = pb::VerifyRequest {
                reference,
                origin: "ctl".into(),
            };
            match client.verify(req).await {
                Ok(r) => {
                    let r = r.into_inner();
                    if json_out {
                        match serde_json::from_str::<serde_json::Value>(&r.outcome_json) {
                            Ok(v) => print_json(&v),
                            Err(_) => println!("{}", r.outcome_json),
                        }
                    } else if r.allowed {
                        println!("{}", r.summary);
                    } else {
                        eprintln!("{}", r.summary);
                    }
                    if r.allowed { 0 } else { 1 }
                }
                Err(s) if s.code() == tonic::Code::InvalidArgument => {
                    eprintln!("Error: {}", s.message());
                    2
                }
                Err(s) => rpc_err(s),
            }
        }
        CtlCommand::Decisions {
            follow,
            verdict,
            image,
            since,
            limit,
        } => {
            if follow {
                let mut stream = match client.watch_decisions(pb::WatchDecisionsRequest {}).await {
                    Ok(s) => s.into_inner(),
                    Err(s) => return rpc_err(s),
                };
                loop {
                    match stream.message().await {
                        Ok(Some(d)) => {
                            if verdict.as_deref().is_some_and(|v| v != d.verdict)
                                || image.as_deref().is_some_and(|i| !d.image.contains(i))
                            {
                                continue;
                            }
                            if json_out {
                                println!("{}", decision_json(&d));
                            } else {
                                println!("{}", decision_line(&d));
                            }
                        }
                        Ok(None) => return 0,
                        Err(s) => return rpc_err(s),
                    }
                }
            }
            let req = pb::ListDecisionsRequest {
                verdict: verdict.unwrap_or_default(),
                image: image.unwrap_or_default(),
                since: since.unwrap_or_default(),
                limit: limit.unwrap_or(0),
            };
            match client.list_decisions(req).await {
                Ok(r) => {
                    let ds = r.into_inner().decisions;
                    if json_out {
                        print_json(&serde_json::Value::Array(
                            ds.iter().map(decision_json).collect(),
                        ));
                    } else {
                        for d in &ds {
                            println!("{}", decision_line(d));
                        }
                    }
                    0
                }
                Err(s) => rpc_err(s),
            }
        }
        CtlCommand::Cache {
            command: CacheCommand::Purge,
        } => match client.purge_cache(pb::PurgeCacheRequest {}).await {
            Ok(r) => {
                let n = r.into_inner().purged;
                if json_out {
                    print_json(&json!({"purged": n}));
                } else {
                    println!("purged {n} cached verdict(s)");
                }
                0
            }
            Err(s) => rpc_err(s),
        },
        CtlCommand::Health => 0,
    }
}

async fn health(path: &std::path::Path, json_out: bool) -> i32 {
    let channel = match crate::http::unix_grpc_channel(path, "the pullguard daemon").await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {e}");
            return 2;
        }
    };
    let mut h = control::health::health_client::HealthClient::new(channel);
    match h
        .check(control::health::HealthCheckRequest {
            service: String::new(),
        })
        .await
    {
        Ok(r) => {
            let st = r.into_inner().status;
            let serving =
                st == control::health::health_check_response::ServingStatus::Serving as i32;
            if json_out {
                print_json(&json!({"serving": serving}));
            } else {
                println!("{}", if serving { "SERVING" } else { "NOT_SERVING" });
            }
            if serving { 0 } else { 1 }
        }
        Err(s) => {
            eprintln!("Error: {} ({:?})", s.message(), s.code());
            2
        }
    }
}
