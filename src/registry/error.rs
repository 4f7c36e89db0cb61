//! What a registry call can fail with, as data: the caller learns whether the registry did not
//! have it, refused us, was unreachable for now, or answered something malformed. A registry
//! that is down is not a forged signature: [`RegistryError::is_transient`] drives how long a
//! denial is remembered and what a client is told.

use std::fmt;

/// The HTTP status and OCI error code when there was one, and the message (the `Display`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    pub status: Option<u16>,
    pub code: Option<String>,
    pub message: String,
}

/// An error from a registry (or an OCI layout standing in for one).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistryError {
    /// 404: no such manifest, blob or repository.
    NotFound(Detail),
    /// 401/403, or a challenge that could not be answered.
    Unauthorized(Detail),
    /// Worth asking again soon: the connection failed or timed out, 408, 429 or 5xx.
    Transient(Detail),
    /// An answer that breaks the protocol or the limits (malformed, too large, wrong digest).
    Protocol(Detail),
}

impl RegistryError {
    /// Classified by HTTP status.
    pub fn from_status(status: u16, code: Option<String>, message: impl Into<String>) -> Self {
        let d = Detail {
            status: Some(status),
            code,
            message: message.into(),
        };
        match status {
            404 => RegistryError::NotFound(d),
            401 | 403 => RegistryError::Unauthorized(d),
            408 | 429 | 500..=599 => RegistryError::Transient(d),
            _ => RegistryError::Protocol(d),
        }
    }

    /// No status: the request did not complete (connect, timeout, reset).
    pub fn transient(message: impl Into<String>) -> Self {
        RegistryError::Transient(Detail {
            status: None,
            code: None,
            message: message.into(),
        })
    }

    /// No status: the answer (or the request we would make) is not acceptable.
    pub fn protocol(message: impl Into<String>) -> Self {
        RegistryError::Protocol(Detail {
            status: None,
            code: None,
            message: message.into(),
        })
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        RegistryError::NotFound(Detail {
            status: None,
            code: None,
            message: message.into(),
        })
    }

    pub fn detail(&self) -> &Detail {
        match self {
            RegistryError::NotFound(d)
            | RegistryError::Unauthorized(d)
            | RegistryError::Transient(d)
            | RegistryError::Protocol(d) => d,
        }
    }

    /// The same class, another message (context added by a caller).
    pub fn map_message(self, f: impl FnOnce(String) -> String) -> Self {
        let wrap = |d: Detail| Detail {
            message: f(d.message),
            ..d
        };
        match self {
            RegistryError::NotFound(d) => RegistryError::NotFound(wrap(d)),
            RegistryError::Unauthorized(d) => RegistryError::Unauthorized(wrap(d)),
            RegistryError::Transient(d) => RegistryError::Transient(wrap(d)),
            RegistryError::Protocol(d) => RegistryError::Protocol(wrap(d)),
        }
    }

    pub fn message(&self) -> &str {
        &self.detail().message
    }

    pub fn status(&self) -> Option<u16> {
        self.detail().status
    }

    pub fn code(&self) -> Option<&str> {
        self.detail().code.as_deref()
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, RegistryError::NotFound(_))
    }

    /// Asking again soon may succeed: remember the denial briefly, and tell a client the
    /// registry is unavailable rather than that the image is untrusted.
    pub fn is_transient(&self) -> bool {
        matches!(self, RegistryError::Transient(_))
    }
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for RegistryError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_classify() {
        let c = |s| RegistryError::from_status(s, None, "m");
        assert!(c(404).is_not_found());
        assert!(matches!(c(401), RegistryError::Unauthorized(_)));
        assert!(matches!(c(403), RegistryError::Unauthorized(_)));
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(c(s).is_transient(), "{s}");
        }
        for s in [400, 405, 416] {
            assert!(matches!(c(s), RegistryError::Protocol(_)), "{s}");
        }
        assert!(RegistryError::transient("x").is_transient());
        assert!(!RegistryError::protocol("x").is_transient());
        assert_eq!(
            RegistryError::protocol("exact text").to_string(),
            "exact text"
        );
        let e = c(503).map_message(|m| format!("ctx: {m}"));
        assert!(e.is_transient() && e.to_string() == "ctx: m" && e.status() == Some(503));
    }
}
