//! RFC 3161 timestamp countersignature verification for Notary Project
//! (Notation) signatures.
//!
//! This mirrors `github.com/notaryproject/tspclient-go` (`ParseSignedToken`,
//! `SignedToken.Info`, `TSTInfo.Validate`, `SignedToken.Verify`) as used by
//! notation-go's `verifyTimestamp`, including its error strings. The ASN.1
//! decoding deliberately follows Go's `encoding/asn1` rules (DER only,
//! optional fields, trailing data inside a SEQUENCE tolerated, Go's error
//! texts) so that malformed tokens fail the same way and with the same words.
//!
//! What is *not* done here (the caller does it): the notation-core-go
//! timestamping chain rules (`ValidateTimestampingCertChain`), the check of the
//! timestamp range against the signing certificate chain, and revocation.
//!
//! One noun per file: this file holds the result types (`Timestamp`, `TstInfo`,
//! `TimestampError`/`Stage`); `token.rs` parses the token, `signer.rs` is `SignedToken.Verify`,
//! `chain.rs` builds and checks the TSA chain. The Go pieces (ASN.1 reader, BER to DER, time
//! parsing, `%q`) live in [`crate::gocompat`].
//!
//! Dependencies: `openssl` (hashes, signature verification, chain building),
//! `x509-parser` (certificate fields) and `time`.

use std::fmt;

use openssl::hash::{MessageDigest, hash};
use openssl::pkey::{Id, PKey, Public};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Verifier};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::{X509VerifyFlags, X509VerifyParam};
use openssl::x509::{X509, X509StoreContext};
use time::{Duration, OffsetDateTime, PrimitiveDateTime, UtcOffset};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::gocompat::asn1::ber::ber_to_der;
use crate::gocompat::asn1::der_len;
use crate::gocompat::asn1::reader::{
    BOOL, INT, Kind, OCTETS, OID, P_GENTIME, P_SET, Rd, SEQ, SET, Spec, canonical_int, encode_set,
    go_bigint, go_bool, go_i64, go_oid, int_to_decimal, opt, seq_of, spec, tag_and_length,
    unmarshal_octets, unmarshal_oid, unmarshal_raw, unmarshal_time,
};
use crate::gocompat::asn1::time::go_time;
use crate::gocompat::quote::quote as go_quote;
use crate::gocompat::sigalg;
use crate::gocompat::time_fmt::{format_rfc3339 as rfc3339, time_string as go_time_string};

/// id-ct-TSTInfo.
pub const OID_TST_INFO: &str = "1.2.840.113549.1.9.16.1.4";
/// Baseline time-stamp policy (RFC 3628 / ETSI), for which a missing accuracy
/// means one second.
pub const OID_BASELINE_TIMESTAMP_POLICY: &str = "0.4.0.2023.1.1";

const OID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const OID_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const OID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const OID_SIGNING_TIME: &str = "1.2.840.113549.1.9.5";
const OID_SIGNING_CERTIFICATE_V2: &str = "1.2.840.113549.1.9.16.2.47";
const OID_SHA256: &str = "2.16.840.1.101.3.4.2.1";
const OID_SHA384: &str = "2.16.840.1.101.3.4.2.2";
const OID_SHA512: &str = "2.16.840.1.101.3.4.2.3";
const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_SHA256_RSA: &str = "1.2.840.113549.1.1.11";
const OID_SHA384_RSA: &str = "1.2.840.113549.1.1.12";
const OID_SHA512_RSA: &str = "1.2.840.113549.1.1.13";
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const OID_ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";
const OID_EXT_KEY_USAGE: &str = "2.5.29.37";
const OID_EKU_ANY: &str = "2.5.29.37.0";
const OID_EKU_TIMESTAMPING: &str = "1.3.6.1.5.5.7.3.8";

/// Which step of notation-go's `verifyTimestamp` failed. Each step wraps the
/// tspclient-go error with its own prefix (see [`TimestampError::notation_message`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `tspclient.ParseSignedToken` (CMS parse, content type).
    Parse,
    /// `SignedToken.Info` (TSTInfo decoding).
    Info,
    /// `TSTInfo.Validate` (version, hash algorithm, message imprint).
    Validate,
    /// No usable TSA trust anchor was given.
    TrustStore,
    /// `SignedToken.Verify` (signing certificate, chain, CMS signature).
    Verify,
}

/// A failed timestamp check. `Display` gives the tspclient-go text (what
/// tspclient-go's own tests assert); [`TimestampError::notation_message`]
/// gives the text notation-go reports for `authenticTimestamp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampError {
    pub stage: Stage,
    pub message: String,
}

impl TimestampError {
    fn new(stage: Stage, message: impl Into<String>) -> Self {
        TimestampError {
            stage,
            message: message.into(),
        }
    }

    /// The error as notation-go's `verifyTimestamp` words it.
    pub fn notation_message(&self) -> String {
        match self.stage {
            Stage::Parse => format!(
                "failed to parse timestamp countersignature with error: {}",
                self.message
            ),
            Stage::Info => format!(
                "failed to get the timestamp TSTInfo with error: {}",
                self.message
            ),
            Stage::Validate => format!(
                "failed to get timestamp from timestamp countersignature with error: {}",
                self.message
            ),
            Stage::TrustStore => self.message.clone(),
            Stage::Verify => format!(
                "failed to verify the timestamp countersignature with error: {}",
                self.message
            ),
        }
    }
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TimestampError {}

/// A verified timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    /// TSTInfo genTime.
    pub gen_time: OffsetDateTime,
    /// TSTInfo accuracy as encoded (zero when absent). [`Timestamp::range`]
    /// applies the baseline-policy default.
    pub accuracy: Duration,
    /// TSTInfo policy, dotted.
    pub policy_oid: String,
    /// messageImprint hash algorithm, dotted.
    pub hash_alg_oid: String,
    /// TSA signing certificate first, then the chain as built up to the trust
    /// anchor (DER).
    pub signer_chain_der: Vec<Vec<u8>>,
}

impl Timestamp {
    /// The effective accuracy: the encoded one, or 1 s when it is zero or
    /// absent and the policy is the baseline policy 0.4.0.2023.1.1
    /// (tspclient-go `TSTInfo.Validate`).
    pub fn effective_accuracy(&self) -> Duration {
        effective_accuracy(self.accuracy, &self.policy_oid)
    }

    /// `[genTime - accuracy, genTime + accuracy]`.
    pub fn range(&self) -> (OffsetDateTime, OffsetDateTime) {
        let acc = self.effective_accuracy();
        let (min, max) = (
            PrimitiveDateTime::MIN.assume_utc(),
            PrimitiveDateTime::MAX.assume_utc(),
        );
        let neg = acc.is_negative();
        let lower = self
            .gen_time
            .checked_sub(acc)
            .unwrap_or(if neg { max } else { min });
        let upper = self
            .gen_time
            .checked_add(acc)
            .unwrap_or(if neg { min } else { max });
        (lower, upper)
    }
}

fn effective_accuracy(accuracy: Duration, policy_oid: &str) -> Duration {
    if accuracy.is_zero() && policy_oid == OID_BASELINE_TIMESTAMP_POLICY {
        Duration::SECOND
    } else {
        accuracy
    }
}

/// TSTInfo (RFC 3161 2.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TstInfo {
    pub version: i64,
    pub policy_oid: String,
    pub hash_alg_oid: String,
    pub hashed_message: Vec<u8>,
    /// INTEGER content octets (two's complement, minimal).
    pub serial_number: Vec<u8>,
    pub gen_time: OffsetDateTime,
    /// Zero when absent.
    pub accuracy: Duration,
    pub ordering: bool,
    /// INTEGER content octets.
    pub nonce: Option<Vec<u8>>,
}

impl TstInfo {
    /// tspclient-go `TSTInfo.Validate`: version 1, a SHA-2 imprint algorithm,
    /// and `messageImprint == hash(message)`.
    pub fn validate(&self, message: &[u8]) -> Result<(), TimestampError> {
        let err = |m: String| TimestampError::new(Stage::Validate, format!("invalid TSTInfo: {m}"));
        if self.version != 1 {
            return Err(err(format!(
                "timestamp token info version must be 1, but got {}",
                self.version
            )));
        }
        let Some(md) = sha2_digest(&self.hash_alg_oid) else {
            return Err(err(format!(
                "unrecognized hash algorithm: {}",
                self.hash_alg_oid
            )));
        };
        let digest = hash(md, message).map_err(|e| err(e.to_string()))?;
        if *digest != *self.hashed_message {
            return Err(err("mismatched message".to_string()));
        }
        Ok(())
    }

    /// `[genTime - accuracy, genTime + accuracy]` with the baseline default.
    pub fn range(&self) -> (OffsetDateTime, OffsetDateTime) {
        Timestamp {
            gen_time: self.gen_time,
            accuracy: self.accuracy,
            policy_oid: self.policy_oid.clone(),
            hash_alg_oid: self.hash_alg_oid.clone(),
            signer_chain_der: Vec::new(),
        }
        .range()
    }
}

mod chain;
mod signer;
mod token;

use chain::*;
use token::*;

pub use signer::verify_token;
pub use token::{ParsedToken, parse_token};

#[cfg(test)]
mod tests;
