//! X.509 certificate handling for Notation verification, mirroring the Go
//! implementation (crypto/x509 + notation-core-go `x509` package):
//!
//! * parsing of PEM (several blocks) or DER (possibly concatenated) data, the
//!   way notation-core-go `parseCertificates` does it (Go `encoding/pem`);
//! * the Go rendering of names (`pkix.Name.String()`), used in every message;
//! * the Go semantics of `Certificate.CheckSignature` (SHA-1 allowed, no CA
//!   constraint) and `Certificate.CheckSignatureFrom` (parent must be a CA,
//!   SHA-1 refused), with Go's error strings;
//! * the Notary Project certificate requirements (`ValidateCodeSigningCertChain`
//!   with `signingTime == nil`, `ValidateTimestampingCertChain`);
//! * the key → signature algorithm mapping (`ExtractKeySpec`);
//! * validity-period checks with Go's messages (RFC 1123Z times).
//!
//! Nothing in here panics on input data: every malformed input is an `Err`.
//!
//! One noun per file: `alg.rs` (§2.4 algorithms), `cert.rs` (`Cert`, `parse_certs`), `ext.rs`
//! (extensions), `signature.rs` (Go `CheckSignature`/`CheckSignatureFrom`), `chain.rs` (§2.5),
//! `validity.rs` (§8). The Go pieces they speak through live in [`crate::gocompat`].

use openssl::hash::MessageDigest;
use openssl::x509::X509;
use time::OffsetDateTime;

use crate::gocompat::asn1::{oid as oid_to_string, tlv as read_tlv};
use crate::gocompat::hex::encode as hex;
use crate::gocompat::pem::decode as pem_decode;
use crate::gocompat::sigalg::{self, CertSigAlg, HashKind, PkAlgo};
// The old public paths, kept for the modules that still name them here.
use crate::gocompat::pkix_name::name_string as go_name_string;
use crate::gocompat::quote::quote as go_quote;
use crate::gocompat::time_fmt::format_rfc1123z;

mod alg;
mod cert;
mod chain;
mod ext;
mod key;
mod signature;
mod validity;

// The extension parsers, for the siblings (`use super::*`); then what the rest of the crate names.
use ext::*;

pub use alg::{SigAlg, signature_algorithm};
pub use cert::{Cert, PublicKeyInfo, parse_certs};
pub use chain::{validate_code_signing_chain, validate_timestamping_chain};
pub(crate) use ext::parse_eku;
pub use ext::{BasicConstraints, ExtKeyUsage, key_usage};
pub(crate) use key::rsa_key_usable;
pub use validity::check_validity_at;

#[cfg(test)]
mod tests;
