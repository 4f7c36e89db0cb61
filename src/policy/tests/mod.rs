//! The policy layer's tests: notation-go's and the e2e vectors (`../shared/testdata/notation`),
//! one file per module under test.

mod decode;
mod identity;
mod load;
mod select;
mod validate;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::dn::q;
use super::*;
use serde_json::{Value, json};
use std::fs;

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/notation");
const LINK_TAIL: &str = "To create a trust policy, see: https://notaryproject.dev/docs/quickstart/#create-a-trust-policy";

fn td(rel: &str) -> PathBuf {
    Path::new(TESTDATA).join(rel)
}

fn read_json(rel: &str) -> Value {
    let bytes = fs::read(td(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("parse {rel}: {e}"))
}

fn first_error(bytes: &[u8]) -> Option<String> {
    PolicyDocument::from_json(bytes)
        .err()
        .and_then(|e| e.into_iter().next())
}

/// The first certificate of a PEM file under the test data, parsed once as the verifier does.
fn leaf_cert(rel: &str) -> crate::x509::Cert {
    crate::x509::Cert::from_der(&pem_der(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn pem_der(rel: &str) -> Vec<u8> {
    let pem = fs::read(td(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"));
    match x509_parser::pem::parse_x509_pem(&pem) {
        Ok((_, p)) => p.contents,
        Err(e) => panic!("PEM {rel}: {e}"),
    }
}

/// A valid single-statement policy with the given fields overridden.
fn policy(overrides: Value) -> Vec<u8> {
    let mut st = json!({
        "name": "test-statement-name",
        "registryScopes": ["registry.acme-rockets.io/software/net-monitor"],
        "signatureVerification": {"level": "strict"},
        "trustStores": ["ca:valid-trust-store"],
        "trustedIdentities": ["*"]
    });
    if let (Some(obj), Some(over)) = (st.as_object_mut(), overrides.as_object()) {
        for (k, v) in over {
            obj.insert(k.clone(), v.clone());
        }
    }
    serde_json::to_vec(&json!({"version": "1.0", "trustPolicies": [st]})).unwrap_or_default()
}
