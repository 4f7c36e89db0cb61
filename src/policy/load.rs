//! Reading `trustpolicy.json` from a notation configuration directory, as notation-go 1.3's
//! `trustpolicy.LoadDocument` does, with Go's texts for file-system errors.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::decode::decode_document;
use super::validate::validate;
use super::{PolicyDocument, PolicyError, ValidationError};
use crate::gocompat::errno::text as go_errno_text;
use crate::gocompat::json;

const OCI_POLICY_FILE: &str = "trustpolicy.oci.json";
const LEGACY_POLICY_FILE: &str = "trustpolicy.json";

/// `dir/trustpolicy.oci.json` when it exists (as any kind of file): notation 1.3 does not
/// read it, and neither does pullguard.
pub fn ignored_policy_file(dir: &Path) -> Option<PathBuf> {
    let p = dir.join(OCI_POLICY_FILE);
    std::fs::symlink_metadata(&p).is_ok().then_some(p)
}

/// The loud note about an ignored `trustpolicy.oci.json`.
pub fn ignored_policy_message(path: &Path) -> String {
    format!(
        "{} is ignored: notation 1.3 (and pullguard) read only trustpolicy.json from {}",
        path.display(),
        path.parent()
            .map_or_else(String::new, |d| d.display().to_string())
    )
}

impl PolicyDocument {
    /// Parse and validate an OCI trust policy. `Err` holds every problem found; the first one is
    /// exactly the message notation-go returns for the document. A JSON decode error gives
    /// `malformed trust policy. ...` followed by a detail.
    pub fn from_json(bytes: &[u8]) -> Result<PolicyDocument, Vec<String>> {
        Self::validate_json(bytes).map_err(|errors| {
            errors
                .into_iter()
                .flat_map(ValidationError::into_problems)
                .collect()
        })
    }

    /// [`PolicyDocument::from_json`], its problems as data (a malformed document is one
    /// [`ValidationError::Policy`]).
    pub fn validate_json(bytes: &[u8]) -> Result<PolicyDocument, Vec<ValidationError>> {
        let malformed = |detail: String| {
            vec![ValidationError::Policy(PolicyError::Malformed {
                detail: Some(detail),
            })]
        };
        let value = json::parse_document(bytes).map_err(malformed)?;
        let raw = decode_document(&value).map_err(malformed)?;
        validate(raw)
    }

    /// Load from a notation configuration directory as notation 1.3 (notation-go 1.3's
    /// `trustpolicy.LoadDocument`) does: `trustpolicy.json` only. A `trustpolicy.oci.json`
    /// (read first by later notation releases) is not read; [`ignored_policy_file`] names it so
    /// that callers can say so, and when it is the only file the error says so too.
    pub fn load_dir(dir: &Path) -> Result<(PolicyDocument, PathBuf), Vec<String>> {
        Self::load_dir_with_bytes(dir).map(|(doc, path, _)| (doc, path))
    }

    /// [`Self::load_dir`], also giving back the bytes the document was parsed from (the daemon
    /// hashes and shows exactly those: a second read could see a newer file than the one
    /// parsed).
    pub fn load_dir_with_bytes(
        dir: &Path,
    ) -> Result<(PolicyDocument, PathBuf, Vec<u8>), Vec<String>> {
        let path = dir.join(LEGACY_POLICY_FILE);
        match read_policy_file(&path) {
            Err(PolicyError::NotPresent) => {
                let mut problems = PolicyError::NotPresent.into_problems();
                if let Some(oci) = ignored_policy_file(dir) {
                    problems.push(ignored_policy_message(&oci));
                }
                Err(problems)
            }
            Err(e) => Err(e.into_problems()),
            Ok(bytes) => Self::from_json(&bytes).map(|doc| (doc, path, bytes)),
        }
    }
}

/// notation-go `getDocument` up to the JSON decoding.
fn read_policy_file(path: &Path) -> Result<Vec<u8>, PolicyError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(PolicyError::NotPresent),
        Err(e) => {
            return Err(PolicyError::Lstat {
                path: path.to_path_buf(),
                errno: go_errno_text(&e),
            });
        }
    };
    if meta.is_dir() || meta.file_type().is_symlink() {
        return Err(PolicyError::NotRegularFile);
    }
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(PolicyError::PermissionDenied {
                path: path.to_path_buf(),
            });
        }
        Err(e) => {
            return Err(PolicyError::Open {
                path: path.to_path_buf(),
                errno: go_errno_text(&e),
            });
        }
    };
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).is_err() {
        // Go: a read error surfaces from the JSON decoder, i.e. as "malformed".
        return Err(PolicyError::Malformed { detail: None });
    }
    Ok(bytes)
}
