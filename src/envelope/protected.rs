//! The protected header, independent of the envelope format: its values, the Notary signed
//! attributes and their checks (`crit`, signing scheme, times, expiry).

use super::*;

/// Header values in the protected header, independent of the envelope format.
pub(crate) enum HeaderValue {
    Str(String),
    Time(OffsetDateTime),
    Other(serde_json::Value),
}

impl HeaderValue {
    pub(crate) fn json(&self) -> serde_json::Value {
        match self {
            HeaderValue::Str(s) => serde_json::Value::String(s.clone()),
            HeaderValue::Time(t) => serde_json::Value::String(
                t.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
            ),
            HeaderValue::Other(v) => v.clone(),
        }
    }
}

/// A header label: JWS names, COSE integers or text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Label {
    Int(i128),
    Text(String),
}

impl Label {
    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Label::Text(t) => Some(t),
            Label::Int(_) => None,
        }
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Label::Int(i) => write!(f, "{i}"),
            Label::Text(t) => f.write_str(t),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Jws,
    Cose,
}

/// The protected header as notation-core-go reads it.
pub(crate) struct Protected {
    pub(crate) format: Format,
    pub(crate) alg: Option<String>,
    pub(crate) cty: Option<String>,
    /// `crit`, when present (JWS: a non-null array; COSE: the label exists).
    pub(crate) crit: Option<Vec<Label>>,
    /// The Notary system headers (signingScheme, signingTime, authenticSigningTime, expiry),
    /// under their canonical names. JWS: the struct fields Go's decoder filled (names matched
    /// case-insensitively, the last one wins); COSE: those text labels.
    pub(crate) known: Vec<(&'static str, HeaderValue)>,
    /// The extended attributes: JWS: every key but exactly the system header names
    /// (notation-core-go deletes only those); COSE: every label but alg, crit, content type and
    /// the four Notary system headers.
    pub(crate) ext: Vec<(Label, HeaderValue)>,
    /// COSE: every label of the protected map.
    pub(crate) labels: Vec<Label>,
}

impl Protected {
    pub(crate) fn new(format: Format) -> Protected {
        Protected {
            format,
            alg: None,
            cty: None,
            crit: None,
            known: Vec::new(),
            ext: Vec::new(),
            labels: Vec::new(),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&HeaderValue> {
        self.known
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    pub(crate) fn set(&mut self, key: &'static str, v: Option<HeaderValue>) {
        self.known.retain(|(k, _)| *k != key);
        if let Some(v) = v {
            self.known.push((key, v));
        }
    }

    pub(crate) fn ext_get(&self, key: &str) -> Option<&HeaderValue> {
        self.ext
            .iter()
            .rev()
            .find(|(k, _)| k.text() == Some(key))
            .map(|(_, v)| v)
    }
}

pub(crate) struct SignedAttrs {
    pub(crate) scheme: SigningScheme,
    pub(crate) signing_time: OffsetDateTime,
    pub(crate) expiry: Option<OffsetDateTime>,
    pub(crate) plugin: Option<String>,
    pub(crate) extended: Vec<ExtendedAttribute>,
    pub(crate) plugin_headers: Vec<ExtendedAttribute>,
}

/// The Notary system headers (notation-core-go's `headerKeys` minus alg/cty/crit).
pub(crate) const SYSTEM_HEADERS: [&str; 4] = [
    HDR_SIGNING_SCHEME,
    HDR_SIGNING_TIME,
    HDR_AUTHENTIC_SIGNING_TIME,
    HDR_EXPIRY,
];

/// Go's `time.Time.IsZero`: 0001-01-01T00:00:00Z, which notation-core-go treats as absent.
pub(crate) fn is_go_zero(t: &OffsetDateTime) -> bool {
    t.unix_timestamp() == -62_135_596_800 && t.nanosecond() == 0
}

pub(crate) fn time_of(p: &Protected, key: &str) -> Result<Option<OffsetDateTime>, Stage> {
    match p.get(key) {
        None => Ok(None),
        Some(HeaderValue::Time(t)) => Ok(Some(*t)),
        Some(_) => Err(verify(format!("header {key:?} is not a valid time"))),
    }
}

/// `these required headers are not marked as critical: [...]` (Go prints a slice with `%v`).
pub(crate) fn not_critical(missing: &[&str]) -> Stage {
    verify(format!(
        "these required headers are not marked as critical: [{}]",
        missing.join(" ")
    ))
}

/// The Notary rules on the protected header, per envelope format as notation-core-go applies
/// them (`signature/jws` `validateProtectedHeaders`/`validateCriticalHeaders`, `signature/cose`
/// `validateCritHeaders`/`parseProtectedHeaders`, and the base envelope's
/// `validateSignerInfo`).
pub(crate) fn check_signed_attrs(p: &Protected) -> Result<SignedAttrs, Stage> {
    // Sets, so that a header with many entries costs linear time.
    let crit_set: std::collections::HashSet<&Label> = p.crit.iter().flatten().collect();
    let ext_set: std::collections::HashSet<&Label> = p.ext.iter().map(|(k, _)| k).collect();
    let scheme_str = match p.get(HDR_SIGNING_SCHEME) {
        Some(HeaderValue::Str(s)) => Some(s.clone()),
        Some(_) if p.format == Format::Cose => return Err(verify("invalid signingScheme")),
        // JWS: a non-string value failed decoding already; absent is the empty scheme.
        _ => None,
    };
    let scheme = match scheme_str.as_deref() {
        Some("notary.x509") => Some(SigningScheme::X509),
        Some("notary.x509.signingAuthority") => Some(SigningScheme::SigningAuthority),
        _ => None,
    };
    let signing_time = time_of(p, HDR_SIGNING_TIME)?;
    let authentic = time_of(p, HDR_AUTHENTIC_SIGNING_TIME)?;
    let expiry = time_of(p, HDR_EXPIRY)?;
    let (scheme, time, expiry) = match p.format {
        Format::Jws => {
            let scheme = match scheme {
                Some(SigningScheme::X509) if authentic.is_some() => {
                    return Err(verify(format!(
                        "{HDR_AUTHENTIC_SIGNING_TIME:?} header must not be present for notary.x509 signing scheme"
                    )));
                }
                Some(SigningScheme::SigningAuthority) if signing_time.is_some() => {
                    return Err(verify(format!(
                        "{HDR_SIGNING_TIME:?} header must not be present for notary.x509.signingAuthority signing scheme"
                    )));
                }
                Some(SigningScheme::SigningAuthority) if authentic.is_none() => {
                    return Err(verify(format!(
                        "{HDR_AUTHENTIC_SIGNING_TIME:?} header must be present for notary.x509 signing scheme"
                    )));
                }
                Some(s) => s,
                None => {
                    return Err(verify(format!(
                        "unsupported SigningScheme: `{}`",
                        scheme_str.unwrap_or_default()
                    )));
                }
            };
            // validateCriticalHeaders
            let crit = p.crit.as_deref().unwrap_or_default();
            if crit.is_empty() {
                return Err(verify(r#"missing "crit" header"#));
            }
            let expiry = expiry.filter(|e| !is_go_zero(e));
            let mut must: Vec<&str> = vec![HDR_SIGNING_SCHEME];
            if expiry.is_some() {
                must.push(HDR_EXPIRY);
            }
            if scheme == SigningScheme::SigningAuthority {
                must.push(HDR_AUTHENTIC_SIGNING_TIME);
            }
            for c in crit {
                let name = c.text().unwrap_or_default();
                if let Some(i) = must.iter().position(|m| *m == name) {
                    must.remove(i);
                } else if !ext_set.contains(c) {
                    return Err(verify(format!(
                        "{name:?} header is marked critical but not present"
                    )));
                }
            }
            if !must.is_empty() {
                return Err(not_critical(&must));
            }
            let time = match scheme {
                SigningScheme::X509 => signing_time,
                SigningScheme::SigningAuthority => authentic,
            };
            (scheme, time, expiry)
        }
        Format::Cose => {
            // validateCritHeaders (crit's own shape was checked at decoding).
            let mut must: Vec<&str> = vec![HDR_SIGNING_SCHEME];
            if scheme == Some(SigningScheme::SigningAuthority) {
                must.push(HDR_AUTHENTIC_SIGNING_TIME);
            }
            if p.get(HDR_EXPIRY).is_some() {
                must.push(HDR_EXPIRY);
            }
            must.retain(|m| !crit_set.contains(&Label::Text((*m).to_string())));
            if !must.is_empty() {
                return Err(not_critical(&must));
            }
            let Some(scheme) = scheme else {
                return Err(verify(format!(
                    "unsupported signingScheme: {}",
                    scheme_str.unwrap_or_default()
                )));
            };
            let (label, time) = match scheme {
                SigningScheme::X509 => (HDR_SIGNING_TIME, signing_time),
                SigningScheme::SigningAuthority => (HDR_AUTHENTIC_SIGNING_TIME, authentic),
            };
            if time.is_none() {
                return Err(verify(format!(
                    "invalid signingTime: protected header {label:?} is missing"
                )));
            }
            (scheme, time, expiry.filter(|e| !is_go_zero(e)))
        }
    };
    // validateSignerInfo / validateSigningAndExpiryTime
    let time = time
        .filter(|t| !is_go_zero(t))
        .ok_or_else(|| verify("signing-time not present"))?;
    if let Some(e) = expiry
        && e <= time
    {
        return Err(verify("expiry cannot be equal or before the signing time"));
    }
    let plugin = match p.ext_get(HDR_PLUGIN) {
        None => None,
        Some(HeaderValue::Str(s)) => Some(s.clone()),
        Some(_) => return Err(verify(format!("{HDR_PLUGIN:?} header must be a string"))),
    };
    let is_plugin_header =
        |k: &Label| k.text() == Some(HDR_PLUGIN) || k.text() == Some(HDR_PLUGIN_MIN_VERSION);
    let attr = |(k, v): &(Label, HeaderValue)| ExtendedAttribute {
        key: k.to_string(),
        critical: crit_set.contains(k),
        value: v.json(),
    };
    let extended = p
        .ext
        .iter()
        .filter(|(k, _)| !is_plugin_header(k))
        .map(attr)
        .collect();
    let plugin_headers = p
        .ext
        .iter()
        .filter(|(k, _)| is_plugin_header(k))
        .map(attr)
        .collect();
    Ok(SignedAttrs {
        scheme,
        signing_time: time,
        expiry,
        plugin,
        extended,
        plugin_headers,
    })
}
