// temporary minimal loader until the trust store module lands
use std::path::Path;
use crate::x509::{Cert, parse_certs};
#[derive(Clone, Copy)]
pub enum Kind { Ca, SigningAuthority, Tsa }
pub fn load_named_store(root: &Path, kind: Kind, name: &str) -> Result<Vec<Cert>, String> {
    let k = match kind { Kind::Ca => "ca", Kind::SigningAuthority => "signingAuthority", Kind::Tsa => "tsa" };
    let dir = root.join("x509").join(k).join(name);
    let rd = std::fs::read_dir(&dir).map_err(|_| format!("the trust store {name:?} of type {k:?} does not exist"))?;
    let mut out = Vec::new();
    for e in rd { let e = e.map_err(|e| e.to_string())?; out.extend(parse_certs(&std::fs::read(e.path()).map_err(|e| e.to_string())?)?); }
    if out.is_empty() { return Err(format!("no x509 certificates were found in trust store {name:?} of type {k:?}")); }
    Ok(out)
}
