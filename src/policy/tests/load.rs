//! Loading from a configuration directory.

use super::*;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("h-policy-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap_or_else(|e| panic!("mkdir: {e}"));
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn load_dir_like_go() {
    let good = fs::read(td("policies/valid/e2e_trustpolicy.json")).unwrap_or_default();
    let other = fs::read(td("policies/valid/e2e_audit_trustpolicy.json")).unwrap_or_default();

    let d = TempDir::new("empty");
    assert_eq!(
        PolicyDocument::load_dir(&d.0).err(),
        Some(vec![format!("trust policy is not present. {LINK_TAIL}")])
    );

    let d = TempDir::new("legacy");
    fs::write(d.0.join("trustpolicy.json"), &good).unwrap_or_default();
    let (doc, path) = PolicyDocument::load_dir(&d.0).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(path, d.0.join("trustpolicy.json"));
    assert_eq!(doc.statements[0].level.name, "strict");

    // notation 1.3 reads trustpolicy.json only: a trustpolicy.oci.json beside it is ignored
    // (and named), and alone it is "not present".
    fs::write(d.0.join("trustpolicy.oci.json"), &other).unwrap_or_default();
    let (doc, path) = PolicyDocument::load_dir(&d.0).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(path, d.0.join("trustpolicy.json"));
    assert_eq!(doc.statements[0].level.name, "strict");
    assert_eq!(
        ignored_policy_file(&d.0),
        Some(d.0.join("trustpolicy.oci.json"))
    );
    fs::remove_file(d.0.join("trustpolicy.json")).unwrap_or_default();
    let errs = PolicyDocument::load_dir(&d.0).err().unwrap_or_default();
    assert_eq!(
        errs.first(),
        Some(&format!("trust policy is not present. {LINK_TAIL}"))
    );
    assert!(
        errs.get(1)
            .is_some_and(|e| e.contains("trustpolicy.oci.json is ignored")),
        "{errs:?}"
    );

    let not_regular = vec![format!(
        "trust policy is not a regular file (symlinks are not supported). {LINK_TAIL}"
    )];
    let d = TempDir::new("symlink");
    fs::write(d.0.join("real.json"), &good).unwrap_or_default();
    std::os::unix::fs::symlink(d.0.join("real.json"), d.0.join("trustpolicy.json"))
        .unwrap_or_default();
    assert_eq!(
        PolicyDocument::load_dir(&d.0).err(),
        Some(not_regular.clone())
    );

    let d = TempDir::new("dir");
    fs::create_dir(d.0.join("trustpolicy.json")).unwrap_or_default();
    assert_eq!(PolicyDocument::load_dir(&d.0).err(), Some(not_regular));

    let d = TempDir::new("malformed");
    fs::write(d.0.join("trustpolicy.json"), b"{").unwrap_or_default();
    let errs = PolicyDocument::load_dir(&d.0).err().unwrap_or_default();
    assert_eq!(
        errs.first(),
        Some(&format!("malformed trust policy. {LINK_TAIL}"))
    );

    let d = TempDir::new("notdir");
    fs::write(d.0.join("file"), b"x").unwrap_or_default();
    let inner = d.0.join("file");
    assert_eq!(
        PolicyDocument::load_dir(&inner).err(),
        Some(vec![format!(
            "lstat {}: not a directory",
            inner.join("trustpolicy.json").display()
        )])
    );
}
