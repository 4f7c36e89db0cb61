//! What one signature's verification found: each validation's result, for the verdict and
//! for notation's output.

use super::*;

#[derive(Debug, Clone, Serialize)]
pub struct ValidationResult {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What happened to one signature.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureReport {
    /// Digest of the signature manifest (or of the envelope when verified alone).
    pub digest: String,
    #[serde(rename = "envelopeMediaType")]
    pub envelope_media_type: String,
    #[serde(rename = "signingScheme", skip_serializing_if = "Option::is_none")]
    pub scheme: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    #[serde(rename = "signingTime", skip_serializing_if = "Option::is_none")]
    pub signing_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
    #[serde(rename = "signingAgent", skip_serializing_if = "Option::is_none")]
    pub signing_agent: Option<String>,
    /// The payload's `targetArtifact.annotations`: the user metadata `notation sign -m` adds.
    #[serde(rename = "userMetadata", skip_serializing_if = "Option::is_none")]
    pub user_metadata: Option<std::collections::BTreeMap<String, String>>,
    pub validations: Vec<ValidationResult>,
    /// Why this signature did not pass; `None` when it passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl SignatureReport {
    pub(super) fn new(digest: String, envelope_media_type: &str) -> SignatureReport {
        SignatureReport {
            digest,
            envelope_media_type: envelope_media_type.to_string(),
            scheme: None,
            signer: None,
            signing_time: None,
            expiry: None,
            signing_agent: None,
            user_metadata: None,
            validations: Vec::new(),
            error: None,
        }
    }

    pub fn passed(&self) -> bool {
        self.error.is_none()
    }

    /// `Warning: <type> was set to "log" and failed with error: <err>` lines, as notation prints.
    pub fn warnings(&self) -> Vec<String> {
        self.validations
            .iter()
            .filter(|v| v.action == "log")
            .filter_map(|v| {
                v.error
                    .as_ref()
                    .map(|e| format!("{} was set to \"log\" and failed with error: {e}", v.kind))
            })
            .collect()
    }
}

pub(super) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}
