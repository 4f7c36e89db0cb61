//! Go's `Certificate.CheckSignature` (own key, SHA-1 allowed) and `CheckSignatureFrom` (parent
//! must be a CA, SHA-1 refused), with Go's error texts.

use super::*;

const ERR_UNSUPPORTED_ALGORITHM: &str = "x509: cannot verify signature: algorithm unimplemented";
const ERR_CONSTRAINT_VIOLATION: &str =
    "x509: invalid signature: parent certificate cannot sign this kind of certificate";

impl Cert {
    /// Go `cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate,
    /// cert.Signature)`: the signature verifies with the certificate's own key.
    /// No CA constraint is applied and SHA-1 is allowed.
    pub fn check_self_signature(&self) -> Result<(), String> {
        self.check_signature_with(self, true)
    }

    /// Go `cert.CheckSignatureFrom(parent)`: the parent must be allowed to sign
    /// certificates (basic constraints CA, keyCertSign when key usage is set),
    /// SHA-1 (and MD5) signatures are refused.
    pub fn check_signature_from(&self, parent: &Cert) -> Result<(), String> {
        if (parent.version == 3 && parent.basic_constraints.is_none())
            || parent.basic_constraints.is_some_and(|bc| !bc.is_ca)
        {
            return Err(ERR_CONSTRAINT_VIOLATION.to_string());
        }
        if parent.key_usage != 0 && parent.key_usage & key_usage::CERT_SIGN == 0 {
            return Err(ERR_CONSTRAINT_VIOLATION.to_string());
        }
        if parent.pk_algo == PkAlgo::Unknown {
            return Err(ERR_UNSUPPORTED_ALGORITHM.to_string());
        }
        self.check_signature_with(parent, false)
    }

    /// Go `checkSignature(c.SignatureAlgorithm, ..., signer.PublicKey, allowSHA1)`.
    fn check_signature_with(&self, signer: &Cert, allow_sha1: bool) -> Result<(), String> {
        let algo = self.sig_alg;
        let insecure = || {
            format!(
                "x509: cannot verify signature: insecure algorithm {}",
                algo.go_name()
            )
        };
        match algo.hash_kind() {
            HashKind::None => {
                if algo.pk_algo() != PkAlgo::Ed25519 {
                    return Err(ERR_UNSUPPORTED_ALGORITHM.to_string());
                }
            }
            HashKind::Md5 => return Err(insecure()),
            HashKind::Sha1 => {
                if !allow_sha1 {
                    return Err(insecure());
                }
            }
            HashKind::Sha2 => {}
        }
        let (have, go_type, failure) = match signer.public_key {
            PublicKeyInfo::Rsa { .. } => (
                PkAlgo::Rsa,
                "*rsa.PublicKey",
                "crypto/rsa: verification error",
            ),
            PublicKeyInfo::Ec { .. } => (
                PkAlgo::Ecdsa,
                "*ecdsa.PublicKey",
                "x509: ECDSA verification failure",
            ),
            PublicKeyInfo::Ed25519 => (
                PkAlgo::Ed25519,
                "ed25519.PublicKey",
                "x509: Ed25519 verification failure",
            ),
            PublicKeyInfo::Dsa | PublicKeyInfo::Unknown => {
                return Err(ERR_UNSUPPORTED_ALGORITHM.to_string());
            }
        };
        if algo.pk_algo() != have {
            return Err(format!(
                "x509: signature algorithm specifies an {} public key, but have public key of type {}",
                algo.pk_algo().go_name(),
                go_type
            ));
        }
        let key = signer
            .public_key()
            .ok_or_else(|| ERR_UNSUPPORTED_ALGORITHM.to_string())?;
        match verify_signed(algo, key, &self.tbs, &self.signature) {
            Ok(true) => Ok(()),
            _ => Err(failure.to_string()),
        }
    }
}

/// Go `checkSignature`'s verification proper: `signature` over `signed` by `key` with
/// `algo` (PKCS #1 v1.5, PSS with the salt as long as the hash as Go requires, ECDSA
/// ASN.1, Ed25519). The algorithm and key type have been matched by the caller.
fn verify_signed(
    algo: CertSigAlg,
    key: &openssl::pkey::PKeyRef<openssl::pkey::Public>,
    signed: &[u8],
    signature: &[u8],
) -> Result<bool, openssl::error::ErrorStack> {
    use openssl::rsa::Padding;
    use openssl::sign::{RsaPssSaltlen, Verifier};
    if !super::key::rsa_key_usable(key) {
        return Ok(false);
    }
    let md = match algo {
        CertSigAlg::Sha1Rsa | CertSigAlg::EcdsaSha1 => MessageDigest::sha1(),
        CertSigAlg::Sha256Rsa | CertSigAlg::EcdsaSha256 | CertSigAlg::Sha256RsaPss => {
            MessageDigest::sha256()
        }
        CertSigAlg::Sha384Rsa | CertSigAlg::EcdsaSha384 | CertSigAlg::Sha384RsaPss => {
            MessageDigest::sha384()
        }
        CertSigAlg::Sha512Rsa | CertSigAlg::EcdsaSha512 | CertSigAlg::Sha512RsaPss => {
            MessageDigest::sha512()
        }
        CertSigAlg::Ed25519 => {
            return Verifier::new_without_digest(key)?.verify_oneshot(signature, signed);
        }
        _ => return Ok(false),
    };
    let mut v = Verifier::new(md, key)?;
    if matches!(
        algo,
        CertSigAlg::Sha256RsaPss | CertSigAlg::Sha384RsaPss | CertSigAlg::Sha512RsaPss
    ) {
        v.set_rsa_padding(Padding::PKCS1_PSS)?;
        v.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
        v.set_rsa_mgf1_md(md)?;
    }
    v.update(signed)?;
    v.verify(signature)
}
