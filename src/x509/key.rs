//! A certificate's public key: Go's `parsePublicKey` checks and texts on x509-parser's view of
//! the SubjectPublicKeyInfo, and the OpenSSL key built from its components.
//!
//! The key is built from its numbers (RSA modulus and exponent, the EC point on its named
//! curve, the Ed25519 bytes), not by handing the DER to OpenSSL: OpenSSL 3.0 decodes a
//! certificate's key (`d2i_X509`, `d2i_PUBKEY`) through its provider decoder machinery, which
//! costs 150-500 µs per certificate here against under 1 µs for the components; a 100-
//! certificate trust store paid for it at every start and every verification paid it for each
//! certificate of its chain. Signatures are then checked over the TBS bytes with this key
//! (`signature.rs`), so no OpenSSL `X509` is made on the verification path at all.

use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Public};
use openssl::rsa::Rsa;

use super::PublicKeyInfo;
use crate::gocompat::sigalg::PkAlgo;

/// The parsed key, as Go's `parsePublicKey` would accept it, and its OpenSSL form (`None` for
/// DSA and unknown algorithms: Go parses those, and no signature by them verifies here).
pub(crate) struct Parsed {
    pub info: PublicKeyInfo,
    pub pk_algo: PkAlgo,
    pub key: Option<PKey<Public>>,
}

fn err(s: &str) -> String {
    s.to_string()
}

/// Go `parsePublicKey` for the algorithms Go knows (crypto/x509/parser.go), with its texts.
pub(crate) fn parse(tbs: &x509_parser::certificate::TbsCertificate<'_>) -> Result<Parsed, String> {
    let spki = &tbs.subject_pki;
    let params = spki.algorithm.parameters.as_ref();
    let key_bits = right_align(
        &spki.subject_public_key.data,
        spki.subject_public_key.unused_bits,
    );
    let der: &[u8] = &key_bits;
    match spki.algorithm.algorithm.to_id_string().as_str() {
        "1.2.840.113549.1.1.1" => {
            // RSA public keys must have a NULL in the parameters.
            if !params.is_some_and(|p| p.header.tag().0 == 5 && p.data.is_empty()) {
                return Err(err("x509: RSA key missing NULL parameters"));
            }
            let Ok(x509_parser::public_key::PublicKey::RSA(rsa)) = spki.parsed() else {
                return Err(err("x509: invalid RSA public key"));
            };
            let n = positive(rsa.modulus)
                .ok_or_else(|| err("x509: RSA modulus is not a positive number"))?;
            // Go reads E into an int64 (cryptobyte's asn1Signed: at most 8 content bytes).
            let e = rsa.exponent;
            if e.len() > 8 {
                return Err(err("x509: invalid RSA public exponent"));
            }
            let e = positive(e)
                .ok_or_else(|| err("x509: RSA public exponent is not a positive number"))?;
            let bits = u32::try_from(n.len() * 8).map_err(|_| err("x509: RSA key too large"))?;
            let key = BigNum::from_slice(n)
                .and_then(|n| Ok((n, BigNum::from_slice(e)?)))
                .and_then(|(n, e)| Rsa::from_public_components(n, e))
                .and_then(PKey::from_rsa)
                .map_err(|_| err("x509: invalid RSA public key"))?;
            Ok(Parsed {
                info: PublicKeyInfo::Rsa { bits },
                pk_algo: PkAlgo::Rsa,
                key: Some(key),
            })
        }
        "1.2.840.10045.2.1" => {
            let Some(curve) = params.and_then(|p| p.as_oid().ok()) else {
                return Err(err("x509: invalid ECDSA parameters"));
            };
            let (bits, nid) = match curve.to_id_string().as_str() {
                "1.3.132.0.33" => (224, Nid::SECP224R1),
                "1.2.840.10045.3.1.7" => (256, Nid::X9_62_PRIME256V1),
                "1.3.132.0.34" => (384, Nid::SECP384R1),
                "1.3.132.0.35" => (521, Nid::SECP521R1),
                _ => return Err(err("x509: unsupported elliptic curve")),
            };
            // Go's elliptic.Unmarshal: the uncompressed form only, a point on the curve.
            let size = (bits as usize).div_ceil(8);
            let bad = || err("x509: failed to unmarshal elliptic curve point");
            if der.len() != 1 + 2 * size || der[0] != 4 {
                return Err(bad());
            }
            let key = EcGroup::from_curve_name(nid)
                .and_then(|group| {
                    let mut ctx = openssl::bn::BigNumContext::new()?;
                    let point = EcPoint::from_bytes(&group, der, &mut ctx)?;
                    EcKey::from_public_key(&group, &point)
                })
                .and_then(|k| k.check_key().map(|_| k))
                .and_then(PKey::from_ec_key)
                .map_err(|_| bad())?;
            Ok(Parsed {
                info: PublicKeyInfo::Ec { bits },
                pk_algo: PkAlgo::Ecdsa,
                key: Some(key),
            })
        }
        "1.3.101.112" => {
            // RFC 8410, Section 3: "For all of the OIDs, the parameters MUST be absent."
            if params.is_some() {
                return Err(err("x509: Ed25519 key encoded with illegal parameters"));
            }
            if der.len() != 32 {
                return Err(err("x509: wrong Ed25519 public key size"));
            }
            let key = PKey::public_key_from_raw_bytes(der, Id::ED25519)
                .map_err(|_| err("x509: wrong Ed25519 public key size"))?;
            Ok(Parsed {
                info: PublicKeyInfo::Ed25519,
                pk_algo: PkAlgo::Ed25519,
                key: Some(key),
            })
        }
        "1.2.840.10040.4.1" => Ok(Parsed {
            info: PublicKeyInfo::Dsa,
            pk_algo: PkAlgo::Dsa,
            key: None,
        }),
        _ => Ok(Parsed {
            info: PublicKeyInfo::Unknown,
            pk_algo: PkAlgo::Unknown,
            key: None,
        }),
    }
}

/// The magnitude of a DER INTEGER's content, leading zeros dropped; `None` when it is zero
/// or negative.
fn positive(int: &[u8]) -> Option<&[u8]> {
    if int.first().is_some_and(|b| b & 0x80 != 0) {
        return None;
    }
    let start = int.iter().position(|b| *b != 0)?;
    Some(&int[start..])
}

/// Go `asn1.BitString.RightAlign`: the bits shifted right by the unused bit count (Go's
/// parser reads a certificate's signature and key bit strings this way; a non-zero count
/// changes the bytes, so such a signature does not verify in Go, nor here).
pub(crate) fn right_align(bytes: &[u8], unused_bits: u8) -> Vec<u8> {
    let shift = u32::from(unused_bits);
    if shift == 0 || shift >= 8 || bytes.is_empty() {
        return bytes.to_vec();
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.push(bytes[0] >> shift);
    for w in bytes.windows(2) {
        out.push((w[0] << (8 - shift)) | (w[1] >> shift));
    }
    out
}

/// Go's crypto/rsa refuses to verify with a key whose modulus is even or under 1024 bits, or
/// whose exponent is below 2, even or above 2^31-1 (`checkPublicKey`, `rsa1024min`); OpenSSL
/// verifies with them (with an exponent of 1 anyone can forge). Such a key verifies nothing
/// here either. Keys of other types pass.
pub(crate) fn rsa_key_usable(key: &openssl::pkey::PKeyRef<Public>) -> bool {
    let Ok(rsa) = key.rsa() else {
        return true;
    };
    let (n, e) = (rsa.n(), rsa.e());
    let odd = |b: &openssl::bn::BigNumRef| b.is_bit_set(0);
    odd(n) && n.num_bits() >= 1024 && odd(e) && e.num_bits() >= 2 && e.num_bits() <= 31
}
