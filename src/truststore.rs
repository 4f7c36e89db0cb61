// placeholder until the trust store module lands
use std::path::Path;
use crate::x509::Cert;
pub enum Kind { Ca, SigningAuthority, Tsa }
pub fn load_named_store(_root: &Path, _kind: Kind, _name: &str) -> Result<Vec<Cert>, String> { Err("todo".into()) }
