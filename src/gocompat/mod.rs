//! "Behave and speak like Go": the pieces of Go's standard library (and of the Go modules under
//! notation) whose exact behaviour decides a verdict or appears in a message. notation's error
//! strings are the contract the conformance tests hold us to, so each piece here copies one Go
//! function, with its accept/refuse rules and its error text. This module knows nothing of
//! notation; the verifier calls it. One copy of each piece:
//!
//! - [`quote`]: `strconv.Quote` (what `%q` prints; invalid UTF-8 as `\xNN`, `IsPrint` decides
//!   what is escaped) and the `time` package's private `quote` (what `time.ParseError` prints,
//!   every non-ASCII byte as `\xNN`). Rust's `{:?}` escapes other characters and differently.
//! - [`asn1`]: the one DER/BER reader: Go `encoding/asn1` (`parseTagAndLength`, `parseField`,
//!   with the `%+v` field-parameter dump in its errors), tspclient-go's `ber.ConvertToDER`, asn1's
//!   UTCTime/GeneralizedTime through `time.Parse` and its round-trip check, and the strict
//!   (`cryptobyte`-like) TLV/OID/length helpers. `der`/`asn1-rs` accept and word things otherwise.
//! - [`pem`]: `encoding/pem.Decode` (leading text, any block type, headers skipped, a block that
//!   does not parse is passed over), as notation-core-go `parseCertificates` calls it.
//! - [`pkix_name`]: `pkix.Name.String()` with crypto/x509's `parseASN1String` (attribute order,
//!   RFC 4514 escaping, `#hex` for unknown attributes): no crate renders names the way Go does.
//! - [`sigalg`]: crypto/x509's `SignatureAlgorithm` table (OIDs, `String()` names, hash, key
//!   algorithm): which signatures Go calls insecure (MD5, SHA-1) or unimplemented (MD2, …).
//! - [`time_fmt`]: `time.Parse(time.RFC3339, …)` (fast path, then the generic parser, which
//!   takes a one-digit hour, a `,` fraction and offsets up to `±24:60`), and the formats Go prints:
//!   `RFC1123Z`, `RFC3339`, `time.Time.String()`.
//! - [`base64`]: `base64.StdEncoding` / `RawURLEncoding` as `encoding/json` and golang-jwt use
//!   them (CR/LF skipped, non-zero trailing bits accepted): the `base64` crate, configured so.
//! - [`cbor_scan`](mod@cbor_scan): fxamacker/cbor's well-formedness rules as go-cose configures them
//!   (`IndefLengthForbidden`, `TagsForbidden` outside the protected header, 32 levels, no
//!   trailing data), checked before `coset` decodes.
//! - [`errno`]: `syscall.Errno.Error()` texts (`lstat …: no such file or directory`), which the
//!   policy loader's messages carry.
//! - [`hex`]: `hex.EncodeToString`, for the `#hex` of `pkix.Name`.
//! - [`json`]: `encoding/json` decoding as notation reads the trust policy (case-insensitive keys,
//!   duplicate keys merged, Go's error texts).
//!
//! Deliberately not a crate: the ASN.1 reader, `Quote`, `pkix.Name`, PEM and the time parser
//! (their error texts and edge cases are the point, and a crate's would differ); a crate is used
//! where it can be configured to Go's rules (`base64`) or where the bytes, not the words, matter
//! (`x509-parser`, OpenSSL for the signature math).

pub mod asn1;
pub mod base64;
pub mod cbor_scan;
pub mod errno;
pub mod hex;
pub mod json;
pub mod pem;
pub mod pkix_name;
pub mod quote;
pub mod sigalg;
pub mod time_fmt;

pub use self::base64::{b64_raw_url, b64_std};
pub use self::cbor_scan::{CborRules, cbor_scan};
pub use self::time_fmt::parse_rfc3339;
