//! pullguard lets a container image in only when its Notation (Notary Project) signature
//! verifies against the host's trust policy.
//!
//! # Layout
//! One line per top-level module, from the trust rules up to the daemon.
//! - [`gocompat`]: Go's behaviour and texts where they decide a verdict or a message.
//! - [`policy`]: the trust policy document (v1.0): parsing, validation, statement selection.
//! - [`truststore`]: named trust stores (`x509/{ca,signingAuthority,tsa}/NAME`).
//! - [`x509`]: certificates and the spec's certificate and chain rules.
//! - [`envelope`]: JWS and COSE signature envelopes (the integrity check).
//! - [`timestamp`]: RFC 3161 timestamp countersignatures.
//! - [`revocation`]: OCSP and CRL checks of certificate chains.
//! - [`plugin`]: verification plugins, run as notation runs them.
//! - [`verify`]: the verifier: one envelope against a statement, one image end to end.
//! - [`oci`]: OCI descriptors, manifests, indexes, digests and image references.
//! - [`registry`]: the OCI distribution client and the signature-manifest shape rules.
//! - [`layout`]: an OCI image layout on disk as a signature source.
//! - [`http`]: the HTTP/1.1 client under the registry client.
//! - [`tls`]: TLS trust per registry (system roots, `certs.d`, `[registries]`).
//! - [`proxy_env`]: HTTP proxy selection from the environment, as Go does it.
//! - [`auth`]: registry credentials, as the Docker CLI finds them.
//! - [`token`]: registry bearer tokens (the Docker token spec).
//! - [`gate`]: the pull path as one chain (resolve → select statement → discover → fetch →
//!   verify → check target → platform → verdict), its verdict cache and decision log.
//! - [`who`]: who asked for a decision and what for (a decision record's fields).
//! - [`docker`]: the Docker guard: the Engine API proxy and the authorization plugin.
//! - [`mirror`]: the verifying OCI registry mirror.
//! - [`store`]: the image stores themselves: the store watch and `pullguard audit`.
//! - [`control`]: the gRPC control API.
//! - [`server`]: the one accept loop of the HTTP/1 servers.
//! - [`drain`]: work in flight, counted so that a shutdown can wait for it.
//! - [`metrics`]: Prometheus metrics.
//! - [`daemon`]: the daemon as a library: sockets, servers, signals, reload, shutdown.
//! - [`config`]: the configuration file, raw then typed.
//! - [`cli`]: the `pullguard` command line.
//! - [`ctl`]: `pullguard ctl`, the control API's admin client.

// No unwrap or expect on outside data: an error, never a panic (#[cfg(test)] code may:
// clippy.toml).
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod auth;
pub mod cli;
pub mod config;
pub mod control;
pub mod ctl;
pub mod daemon;
pub mod docker;
pub mod drain;
pub mod envelope;
pub mod gate;
pub mod gocompat;
pub mod http;
pub mod https;
pub mod layout;
pub mod metrics;
pub mod mirror;
pub mod oci;
pub mod plugin;
pub mod policy;
pub mod proxy_env;
pub mod registry;
pub mod revocation;
pub mod server;
pub mod store;
pub mod timestamp;
pub mod tls;
pub mod token;
pub mod truststore;
pub mod verify;
pub mod who;
pub mod x509;
