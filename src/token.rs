//! Bearer tokens as registries hand them out (the Docker token spec, as docker/distribution's
//! `registry/client/auth` client does it): a `WWW-Authenticate: Bearer realm,service,scope`
//! challenge; `GET realm?service&scope` anonymously or with basic credentials (asking for an
//! offline refresh token then); `POST realm` with `grant_type=refresh_token` for an identity
//! token or a refresh token the server gave; `expires_in` (60 s when absent or shorter, as in
//! Docker). Tokens are cached per process by realm, service, scope and a hash of the
//! credential (never the credential itself), reused until they expire or the registry refuses
//! them, and fetched once for concurrent requests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};

use crate::auth::Credential;
use crate::http::{Http, pct_encode};

/// Docker's `minimumTokenLifetimeSeconds`.
const MIN_LIFETIME: Duration = Duration::from_secs(60);
const CLIENT_ID: &str = "pullguard";
/// Tokens kept at most (each a few KiB).
const MAX_ENTRIES: usize = 4096;

#[derive(Clone)]
struct Entry {
    token: String,
    expires: Instant,
    refresh: Option<String>,
}

#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, Entry>>,
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Why no token: the registry (its token endpoint) refused, or it could not be asked.
pub enum TokenError {
    Denied(String),
    Failed(String),
}

fn cred_hash(cred: Option<&Credential>) -> String {
    let mut h = openssl::sha::Sha256::new();
    match cred {
        None => h.update(b"anonymous"),
        Some(Credential::Basic { username, password }) => {
            h.update(b"basic\0");
            h.update(username.as_bytes());
            h.update(b"\0");
            h.update(password.as_bytes());
        }
        Some(Credential::IdentityToken(t)) => {
            h.update(b"identity\0");
            h.update(t.as_bytes());
        }
    }
    h.finish().iter().map(|b| format!("{b:02x}")).collect()
}

impl TokenCache {
    /// A token for `scope` at `realm`. `stale` is the token the registry just refused: it is
    /// not handed out again.
    pub async fn token(
        &self,
        http: &Http,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        cred: Option<&Credential>,
        stale: Option<&str>,
    ) -> Result<String, TokenError> {
        let key = format!(
            "{realm}\0{}\0{scope}\0{}",
            service.unwrap_or(""),
            cred_hash(cred)
        );
        let flight = Flight {
            map: &self.flights,
            lock: {
                let mut f = self.flights.lock().unwrap_or_else(|e| e.into_inner());
                f.entry(key.clone()).or_default().clone()
            },
            key: key.clone(),
        };
        let _one = flight.lock.lock().await;
        let cached = self
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        let refresh = match &cached {
            Some(e) if e.expires > Instant::now() && Some(e.token.as_str()) != stale => {
                return Ok(e.token.clone());
            }
            Some(e) => e.refresh.clone(),
            None => None,
        };
        let mut got = Err(TokenError::Denied("no token".into()));
        if let Some(r) = &refresh {
            got = fetch(http, realm, service, scope, Grant::Refresh(r)).await;
            if got.is_err() {
                tracing::debug!(realm, "refresh token refused; asking with the credential");
            }
        }
        if got.is_err() {
            let grant = match cred {
                None => Grant::Anonymous,
                Some(Credential::Basic { username, password }) => Grant::Basic(username, password),
                Some(Credential::IdentityToken(t)) => Grant::Refresh(t),
            };
            got = fetch(http, realm, service, scope, grant).await;
        }
        let mut entry = got?;
        if entry.refresh.is_none() {
            entry.refresh = refresh.or_else(|| match cred {
                Some(Credential::IdentityToken(t)) => Some(t.clone()),
                _ => None,
            });
        }
        let token = entry.token.clone();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            // Many users × repositories (X-Registry-Auth): drop what has expired and has no
            // refresh token, then, if still full, everything (tokens are asked for again).
            let now = Instant::now();
            entries.retain(|_, e| e.expires > now || e.refresh.is_some());
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            let mut f = self.flights.lock().unwrap_or_else(|e| e.into_inner());
            f.retain(|k, l| entries.contains_key(k) || Arc::strong_count(l) > 1);
        }
        entries.insert(key, entry);
        Ok(token)
    }
}

/// One token request at a time per key; the key's lock leaves the map with the last request
/// that held it (whatever way that request ended), so failed requests for many names do not
/// pile up.
struct Flight<'a> {
    map: &'a Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    lock: Arc<tokio::sync::Mutex<()>>,
    key: String,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let mut f = self.map.lock().unwrap_or_else(|e| e.into_inner());
        // The map's reference and this one: nobody else waits on it.
        if Arc::strong_count(&self.lock) <= 2 {
            f.remove(&self.key);
        }
    }
}

enum Grant<'a> {
    Anonymous,
    Basic(&'a str, &'a str),
    Refresh(&'a str),
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", pct_encode(k), pct_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn fetch(
    http: &Http,
    realm: &str,
    service: Option<&str>,
    scope: &str,
    grant: Grant<'_>,
) -> Result<Entry, TokenError> {
    let mut q: Vec<(&str, &str)> = Vec::new();
    if let Some(s) = service {
        q.push(("service", s));
    }
    q.push(("scope", scope));
    let sep = if realm.contains('?') { '&' } else { '?' };
    let result = match grant {
        Grant::Refresh(t) => {
            let mut f = q.clone();
            f.extend([
                ("grant_type", "refresh_token"),
                ("refresh_token", t),
                ("client_id", CLIENT_ID),
            ]);
            let headers = [(
                CONTENT_TYPE,
                "application/x-www-form-urlencoded".to_string(),
            )];
            http.send(Method::POST, realm, &headers, Bytes::from(form(&f)))
                .await
        }
        Grant::Basic(u, p) => {
            use base64::Engine as _;
            let mut f = q.clone();
            f.extend([("offline_token", "true"), ("client_id", CLIENT_ID)]);
            let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            let headers = [(AUTHORIZATION, format!("Basic {b64}"))];
            let url = format!("{realm}{sep}{}", form(&f));
            http.send(Method::GET, &url, &headers, Bytes::new()).await
        }
        Grant::Anonymous => {
            let url = format!("{realm}{sep}{}", form(&q));
            http.send(Method::GET, &url, &[], Bytes::new()).await
        }
    };
    let resp =
        result.map_err(|e| TokenError::Failed(format!("token request to {realm} failed: {e}")))?;
    if !resp.status.is_success() {
        return Err(TokenError::Denied(format!(
            "token endpoint answered {}",
            resp.status
        )));
    }
    let body = resp
        .read_limited(1 << 20)
        .await
        .map_err(TokenError::Failed)?;
    let answer = parse_answer(&body)?;
    // A lifetime the token server made up (`expires_in` of 2^64 - 1) cannot overflow the clock.
    let now = Instant::now();
    Ok(Entry {
        token: answer.token,
        expires: now
            .checked_add(answer.lifetime)
            .unwrap_or(now + MAX_LIFETIME),
        refresh: answer.refresh,
    })
}

/// A token endpoint's JSON answer, as Docker reads it.
struct Answer {
    token: String,
    /// `expires_in`, at least [`MIN_LIFETIME`] (as Docker) and at most [`MAX_LIFETIME`].
    lifetime: Duration,
    refresh: Option<String>,
}

/// The longest a token is reused, whatever its `expires_in` says (a refused token is asked for
/// again anyway).
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

fn parse_answer(body: &[u8]) -> Result<Answer, TokenError> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| TokenError::Denied("token endpoint answered malformed JSON".into()))?;
    let s = |k: &str| {
        v.get(k)
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    };
    let token = s("access_token")
        .or_else(|| s("token"))
        .ok_or_else(|| TokenError::Denied("token endpoint answered no token".into()))?;
    let lifetime = v
        .get("expires_in")
        .and_then(|e| e.as_u64())
        .map(Duration::from_secs)
        .unwrap_or(MIN_LIFETIME)
        .clamp(MIN_LIFETIME, MAX_LIFETIME);
    Ok(Answer {
        token,
        lifetime,
        refresh: s("refresh_token"),
    })
}

/// For the `token_answer` fuzz target only: a token endpoint's answer as it is read.
#[doc(hidden)]
pub fn fuzz_answer(body: &[u8]) -> Option<(usize, u64)> {
    parse_answer(body)
        .ok()
        .map(|a| (a.token.len(), a.lifetime.as_secs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_keys_differ_and_hide_the_secret() {
        let a = Credential::Basic {
            username: "u".into(),
            password: "s3cret".into(),
        };
        let b = Credential::Basic {
            username: "u".into(),
            password: "other".into(),
        };
        let (ha, hb, hn) = (cred_hash(Some(&a)), cred_hash(Some(&b)), cred_hash(None));
        assert!(ha != hb && ha != hn && hb != hn);
        assert!(!ha.contains("s3cret") && ha.len() == 64);
    }

    /// `expires_in` is taken between Docker's 60 s floor and a day; a made-up one cannot
    /// overflow the clock.
    #[test]
    fn lifetimes_are_bounded() {
        let life = |b: &str| {
            parse_answer(b.as_bytes())
                .ok()
                .map(|a| a.lifetime.as_secs())
        };
        assert_eq!(life(r#"{"token":"t","expires_in":300}"#), Some(300));
        assert_eq!(life(r#"{"token":"t","expires_in":1}"#), Some(60));
        assert_eq!(life(r#"{"access_token":"t"}"#), Some(60));
        assert_eq!(
            life(r#"{"token":"t","expires_in":18446744073709551615}"#),
            Some(24 * 3600)
        );
        assert_eq!(life(r#"{"expires_in":300}"#), None);
        assert_eq!(life("not json"), None);
    }

    /// Token requests that fail (here: a realm nobody listens on) leave nothing behind.
    #[tokio::test]
    async fn failed_requests_leave_no_flight_behind() {
        let cache = TokenCache::default();
        let http = Http::new(
            std::time::Duration::from_secs(1),
            std::time::Duration::from_secs(1),
        );
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let realm = format!("http://{}/token", closed.local_addr().unwrap());
        drop(closed);
        for i in 0..50 {
            let scope = format!("repository:r{i}:pull");
            assert!(
                cache
                    .token(&http, &realm, None, &scope, None, None)
                    .await
                    .is_err()
            );
        }
        assert!(cache.flights.lock().unwrap().is_empty());
        assert!(cache.entries.lock().unwrap().is_empty());
    }
}
