//! Trust material: a policy document with the trust stores it names, loaded once.

use super::*;

/// A named trust store's certificates, or why it failed to load.
pub type LoadedStore = Result<Arc<Vec<Cert>>, String>;

/// A policy document with the trust stores it names, loaded and immutable. The daemon swaps a
/// whole `Arc<TrustConfig>` on reload.
pub struct TrustConfig {
    pub dir: PathBuf,
    pub policy_path: PathBuf,
    pub policy: PolicyDocument,
    /// The policy file's text, as loaded.
    pub policy_text: String,
    /// Every store the policy names; a store that failed to load keeps its error, reported as an
    /// authenticity (or authenticTimestamp) failure when a statement uses it, as notation does.
    pub stores: HashMap<(StoreKind, String), LoadedStore>,
    /// sha256 over the policy file and every loaded certificate.
    pub source_hash: String,
    /// Not errors, but to be said (an ignored `trustpolicy.oci.json`).
    pub warnings: Vec<String>,
}

impl TrustConfig {
    /// Load `trustpolicy.json` (only, as notation 1.3) and `truststore/x509/...` from `dir`.
    pub fn load(dir: &Path) -> Result<TrustConfig, Vec<String>> {
        let (policy, policy_path, policy_bytes) = PolicyDocument::load_dir_with_bytes(dir)
            .map_err(|mut problems| {
                problems.extend(named_store_problems(dir));
                problems
            })?;
        let root = dir.join("truststore");
        let mut stores = HashMap::new();
        let policy_text = String::from_utf8_lossy(&policy_bytes).into_owned();
        let mut hash_input = (policy_bytes.len() as u64).to_be_bytes().to_vec();
        hash_input.extend_from_slice(&policy_bytes);
        for st in &policy.statements {
            for r in &st.trust_stores {
                let key = (r.kind, r.name.clone());
                if stores.contains_key(&key) {
                    continue;
                }
                let loaded = truststore::load_named_store(&root, r.kind, &r.name);
                // Structured, so that moving a certificate between stores changes the hash.
                let (kind, name) = (r.kind.as_str().as_bytes(), r.name.as_bytes());
                for part in [kind, name] {
                    hash_input.extend_from_slice(&(part.len() as u64).to_be_bytes());
                    hash_input.extend_from_slice(part);
                }
                match &loaded {
                    Ok(certs) => {
                        hash_input.extend_from_slice(&(certs.len() as u64).to_be_bytes());
                        for c in certs {
                            hash_input.extend_from_slice(&(c.der.len() as u64).to_be_bytes());
                            hash_input.extend_from_slice(&c.der);
                        }
                    }
                    Err(e) => hash_input.extend_from_slice(e.as_bytes()),
                }
                stores.insert(key, loaded.map(Arc::new));
            }
        }
        let warnings: Vec<String> = crate::policy::ignored_policy_file(dir)
            .map(|p| crate::policy::ignored_policy_message(&p))
            .into_iter()
            .collect();
        for w in &warnings {
            tracing::warn!("{w}");
        }
        Ok(TrustConfig {
            warnings,
            dir: dir.to_path_buf(),
            policy_path,
            policy,
            policy_text,
            stores,
            source_hash: sha256_digest(&hash_input),
        })
    }

    /// Store load errors, sorted (for `policy check` and daemon reloads, which refuse them).
    pub fn store_problems(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .stores
            .values()
            .filter_map(|r| r.as_ref().err().cloned())
            .collect();
        v.sort();
        v
    }

    /// The certificates of `stmt`'s stores of one kind, or the first load error.
    pub(super) fn certs(
        &self,
        stmt: &Statement,
        kind: StoreKind,
    ) -> Result<Vec<Arc<Vec<Cert>>>, String> {
        let mut out = Vec::new();
        for r in stmt.trust_stores.iter().filter(|r| r.kind == kind) {
            match self.stores.get(&(r.kind, r.name.clone())) {
                Some(Ok(c)) => out.push(c.clone()),
                Some(Err(e)) => return Err(e.clone()),
                None => {
                    return Err(format!(
                        "the trust store {:?} of type {:?} was not loaded",
                        r.name,
                        r.kind.as_str()
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// For a policy document that did not validate: the problems of the trust stores named by its
/// well-formed `type:name` references (read loosely), so that one run reports every problem.
pub(super) fn named_store_problems(dir: &Path) -> Vec<String> {
    let file = std::fs::read(dir.join("trustpolicy.json")).ok();
    let Some(doc) = file.and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok()) else {
        return Vec::new();
    };
    let mut refs: Vec<(StoreKind, &str)> = Vec::new();
    let statements = doc["trustPolicies"].as_array().into_iter().flatten();
    for r in statements.flat_map(|st| st["trustStores"].as_array().into_iter().flatten()) {
        let parsed = r.as_str().and_then(|r| r.split_once(':'));
        if let Some((kind, name)) = parsed
            && let Some(kind) = StoreKind::parse(kind)
            && truststore::is_valid_store_name(name)
            && !refs.contains(&(kind, name))
        {
            refs.push((kind, name));
        }
    }
    let root = dir.join("truststore");
    let mut problems: Vec<String> = refs
        .into_iter()
        .filter_map(|(k, n)| truststore::load_named_store(&root, k, n).err())
        .collect();
    problems.sort();
    problems
}
