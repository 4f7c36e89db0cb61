//! pullguard lets a container image in only when its Notation (Notary Project) signature
//! verifies against the host's trust policy.
//!
//! # Layout
//! - [`policy`]: the trust policy document (v1.0): parsing, validation, statement selection,
//!   trusted identities.
//! - [`truststore`] and [`x509`]: named trust stores and the certificate rules of the spec.
//! - [`envelope`]: JWS and COSE signature envelopes (the integrity check).
//! - [`timestamp`]: RFC 3161 timestamp countersignatures.
//! - [`revocation`]: OCSP and CRL checks of certificate chains.
//! - [`verify`]: the engine: one envelope against a statement, one image end to end.
//! - [`registry`], [`layout`], [`oci`], [`auth`]: where manifests and signatures come from.
//! - [`gate`]: the pull path as one chain (resolve → select statement → discover → fetch →
//!   verify → check target → platform → verdict), its verdict cache and decision log.
//! - [`docker`], [`mirror`], [`control`], [`server`],
//!   [`daemon`]: the daemon: Docker API proxy, verifying registry mirror, gRPC control API, the
//!   one accept loop, lifecycle (signals, reload, systemd, its own sockets).
//! - [`store`]: the image stores themselves: the store watch and `pullguard audit`.
//! - [`config`] and [`cli`]: the command line.

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
