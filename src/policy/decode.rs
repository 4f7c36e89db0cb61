//! The JSON into notation-go's raw structs (`OCIDocument`, `OCITrustPolicy`,
//! `SignatureVerification`), the way Go's `encoding/json` fills them: keys matched with Go's
//! folding, members applied in order (later ones win, objects and maps merge), `null` leaves a
//! string unchanged and resets a list or map, and Go's type-error texts.

use crate::gocompat::json::{JVal, key_matches, unmarshal_type_error};

#[derive(Debug, Default, Clone)]
pub(super) struct RawSignatureVerification {
    pub(super) level: String,
    /// `map[ValidationType]ValidationAction`; `None` = nil map. Keys in first-appearance order.
    pub(super) overrides: Option<Vec<(String, String)>>,
    pub(super) verify_timestamp: String,
}

#[derive(Debug, Default, Clone)]
pub(super) struct RawStatement {
    pub(super) name: String,
    pub(super) signature_verification: RawSignatureVerification,
    pub(super) trust_stores: Vec<String>,
    pub(super) trusted_identities: Vec<String>,
    pub(super) registry_scopes: Vec<String>,
}

#[derive(Debug, Default)]
pub(super) struct RawDocument {
    pub(super) version: String,
    pub(super) statements: Vec<RawStatement>,
}

fn decode_string(
    dst: &mut String,
    v: &JVal,
    strct: &str,
    field: &str,
    ty: &str,
) -> Result<(), String> {
    match v {
        JVal::Str(s) => {
            dst.clone_from(s);
            Ok(())
        }
        JVal::Null => Ok(()),
        other => Err(unmarshal_type_error(other, strct, field, ty)),
    }
}

/// Go decoding of a JSON array into an existing slice: elements are decoded into the existing
/// ones (so `null` keeps an element), new ones start from zero, the slice is cut to the array's
/// length; `null` resets the slice.
fn decode_slice<T: Default>(
    dst: &mut Vec<T>,
    v: &JVal,
    mut elem: impl FnMut(&mut T, &JVal) -> Result<(), String>,
    err: impl Fn(&JVal) -> String,
) -> Result<(), String> {
    match v {
        JVal::Null => {
            dst.clear();
            Ok(())
        }
        JVal::Arr(items) => {
            for (i, item) in items.iter().enumerate() {
                if i >= dst.len() {
                    dst.push(T::default());
                }
                if let Some(slot) = dst.get_mut(i) {
                    elem(slot, item)?;
                }
            }
            dst.truncate(items.len());
            Ok(())
        }
        other => Err(err(other)),
    }
}

fn decode_string_slice(dst: &mut Vec<String>, v: &JVal, field: &str) -> Result<(), String> {
    decode_slice(
        dst,
        v,
        |s, item| decode_string(s, item, "OCITrustPolicy", field, "string"),
        |other| unmarshal_type_error(other, "OCITrustPolicy", field, "[]string"),
    )
}

pub(super) fn decode_document(v: &JVal) -> Result<RawDocument, String> {
    let mut doc = RawDocument::default();
    match v {
        JVal::Null => {}
        JVal::Obj(members) => {
            for (key, value) in members {
                if key_matches(key, "version") {
                    decode_string(&mut doc.version, value, "OCIDocument", "version", "string")?;
                } else if key_matches(key, "trustPolicies") {
                    decode_slice(&mut doc.statements, value, decode_statement, |other| {
                        unmarshal_type_error(
                            other,
                            "OCIDocument",
                            "trustPolicies",
                            "[]trustpolicy.OCITrustPolicy",
                        )
                    })?;
                }
            }
        }
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type trustpolicy.OCIDocument",
                other.kind()
            ));
        }
    }
    Ok(doc)
}

fn decode_statement(st: &mut RawStatement, v: &JVal) -> Result<(), String> {
    let members = match v {
        JVal::Null => return Ok(()),
        JVal::Obj(m) => m,
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go struct field OCIDocument.trustPolicies of type trustpolicy.OCITrustPolicy",
                other.kind()
            ));
        }
    };
    for (key, value) in members {
        if key_matches(key, "name") {
            decode_string(
                &mut st.name,
                value,
                "OCITrustPolicy",
                "trustPolicies.name",
                "string",
            )?;
        } else if key_matches(key, "signatureVerification") {
            decode_signature_verification(&mut st.signature_verification, value)?;
        } else if key_matches(key, "trustStores") {
            decode_string_slice(&mut st.trust_stores, value, "trustPolicies.trustStores")?;
        } else if key_matches(key, "trustedIdentities") {
            decode_string_slice(
                &mut st.trusted_identities,
                value,
                "trustPolicies.trustedIdentities",
            )?;
        } else if key_matches(key, "registryScopes") {
            decode_string_slice(
                &mut st.registry_scopes,
                value,
                "trustPolicies.registryScopes",
            )?;
        }
    }
    Ok(())
}

fn decode_signature_verification(
    sv: &mut RawSignatureVerification,
    v: &JVal,
) -> Result<(), String> {
    const S: &str = "SignatureVerification";
    let members = match v {
        JVal::Null => return Ok(()),
        JVal::Obj(m) => m,
        other => {
            return Err(unmarshal_type_error(
                other,
                "OCITrustPolicy",
                "trustPolicies.signatureVerification",
                "trustpolicy.SignatureVerification",
            ));
        }
    };
    for (key, value) in members {
        if key_matches(key, "level") {
            decode_string(
                &mut sv.level,
                value,
                S,
                "trustPolicies.signatureVerification.level",
                "string",
            )?;
        } else if key_matches(key, "verifyTimestamp") {
            decode_string(
                &mut sv.verify_timestamp,
                value,
                S,
                "trustPolicies.signatureVerification.verifyTimestamp",
                "trustpolicy.TimestampOption",
            )?;
        } else if key_matches(key, "override") {
            match value {
                JVal::Null => sv.overrides = None,
                JVal::Obj(entries) => {
                    let map = sv.overrides.get_or_insert_with(Vec::new);
                    for (k, val) in entries {
                        let action = match val {
                            JVal::Str(s) => s.clone(),
                            JVal::Null => String::new(),
                            other => {
                                return Err(unmarshal_type_error(
                                    other,
                                    S,
                                    &format!("trustPolicies.signatureVerification.override.{k}"),
                                    "trustpolicy.ValidationAction",
                                ));
                            }
                        };
                        match map.iter_mut().find(|(existing, _)| existing == k) {
                            Some(entry) => entry.1 = action,
                            None => map.push((k.clone(), action)),
                        }
                    }
                }
                other => {
                    return Err(unmarshal_type_error(
                        other,
                        S,
                        "trustPolicies.signatureVerification.override",
                        "map[trustpolicy.ValidationType]trustpolicy.ValidationAction",
                    ));
                }
            }
        }
    }
    Ok(())
}
