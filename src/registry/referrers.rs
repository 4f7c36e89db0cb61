//! Listing a digest's Notation signatures: the Referrers API, or the `sha256-<hex>` tag schema
//! where a registry does not support it, and what each registry was seen to support.
//!
//! As oras-go's `Repository` keeps its referrers capability once it has seen the API answer
//! (or not), the client remembers it per registry host, for [`REMEMBERED`]: while unknown, the
//! API and the tag schema are asked at once (a registry without the API costs no extra round
//! trip); known supported, the API alone; known unsupported, the tag schema alone (the
//! daemon's every cold verification on such a registry saves the API's 404). A registry whose
//! answer changes is followed: the API found unsupported where it was supported is asked
//! again by tag at once and remembered so; one that starts to support it is seen again when
//! the memory ends. Meanwhile a signature pushed only through a newly enabled API is not seen
//! (a denial: fail closed).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::StatusCode;

use super::{
    MAX_REFERRERS_PAGES, RegistryClient, RegistryError, check_status, content_type, next_link,
    oci_error_code, parse_index, read_limited,
};
use crate::http::Resp;
use crate::oci::{
    ARTIFACT_TYPE_NOTATION, Descriptor, ImageRef, MAX_MANIFEST_SIZE, MEDIA_OCI_INDEX,
};

/// How long a registry's Referrers API support is remembered.
pub const REMEMBERED: Duration = Duration::from_secs(300);

/// What each registry host said of the Referrers API, and when (shared by a client's copies
/// with other credentials).
#[derive(Clone, Default)]
pub(super) struct Capabilities(Arc<Mutex<HashMap<String, (bool, Instant)>>>);

impl Capabilities {
    fn get(&self, registry: &str) -> Option<bool> {
        let map = self.0.lock().ok()?;
        map.get(registry)
            .filter(|(_, at)| at.elapsed() < REMEMBERED)
            .map(|(supported, _)| *supported)
    }

    fn set(&self, registry: &str, supported: bool) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(registry.to_string(), (supported, Instant::now()));
        }
    }
}

/// The Referrers API's answer, read.
enum Api {
    Listed(Vec<Descriptor>),
    /// 404 (but not for a missing repository) or a success that is not an index.
    Unsupported,
}

impl RegistryClient {
    /// What this client last saw of `registry`'s Referrers API: `Some(true)` supported,
    /// `Some(false)` not, `None` not seen (or seen over [`REMEMBERED`] ago).
    pub fn referrers_supported(&self, registry: &str) -> Option<bool> {
        self.referrers.get(registry)
    }

    /// Notation signatures on `digest`: the Referrers API first, then the `sha256-<hex>` tag
    /// schema when the registry does not support it. Filtered by artifact type client-side.
    pub async fn signatures(
        &self,
        image: &ImageRef,
        digest: &str,
    ) -> Result<Vec<Descriptor>, RegistryError> {
        let tag = digest.replace(':', "-");
        let registry = image.registry.as_str();
        let index = match self.referrers.get(registry) {
            Some(false) => self.tag_schema(self.manifest(image, &tag).await)?,
            Some(true) => match self.api(image, digest).await? {
                Api::Listed(l) => l,
                Api::Unsupported => {
                    self.referrers.set(registry, false);
                    self.tag_schema(self.manifest(image, &tag).await)?
                }
            },
            None => {
                let (api, by_tag) =
                    tokio::join!(self.api(image, digest), self.manifest(image, &tag));
                match api? {
                    Api::Listed(l) => {
                        self.referrers.set(registry, true);
                        l
                    }
                    Api::Unsupported => {
                        self.referrers.set(registry, false);
                        self.tag_schema(by_tag)?
                    }
                }
            }
        };
        Ok(index
            .into_iter()
            .filter(|d| d.artifact_type.as_deref() == Some(ARTIFACT_TYPE_NOTATION))
            .collect())
    }

    /// The tag schema's index: none when the tag does not exist.
    fn tag_schema(
        &self,
        by_tag: Result<super::Fetched, RegistryError>,
    ) -> Result<Vec<Descriptor>, RegistryError> {
        match by_tag {
            Ok(f) => parse_index(&f.bytes),
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// The Referrers API's list for `digest`, its `Link: <...>; rel="next"` pages followed on
    /// the same registry (a bounded number).
    async fn api(&self, image: &ImageRef, digest: &str) -> Result<Api, RegistryError> {
        let path = format!(
            "referrers/{digest}?artifactType={}",
            ARTIFACT_TYPE_NOTATION
                .replace('/', "%2F")
                .replace('+', "%2B")
        );
        let resp = self.get(image, &path, &[MEDIA_OCI_INDEX]).await?;
        let status = resp.status;
        let is_index = content_type(&resp.headers).as_deref() == Some(MEDIA_OCI_INDEX);
        if status.is_success() && is_index {
            return self.pages(image, digest, resp).await.map(Api::Listed);
        }
        if status == StatusCode::NOT_FOUND || status.is_success() {
            let body = read_limited(resp, 64 * 1024).await.unwrap_or_default();
            if oci_error_code(&body).as_deref() == Some("NAME_UNKNOWN") {
                return Err(RegistryError::from_status(
                    404,
                    Some("NAME_UNKNOWN".into()),
                    format!("repository {} not found", image.scope()),
                ));
            }
            return Ok(Api::Unsupported);
        }
        check_status(resp, &format!("referrers of {digest}")).await?;
        Ok(Api::Listed(Vec::new()))
    }

    async fn pages(
        &self,
        image: &ImageRef,
        digest: &str,
        first: Resp,
    ) -> Result<Vec<Descriptor>, RegistryError> {
        let mut next = next_link(&first.headers);
        let body = read_limited(first, MAX_MANIFEST_SIZE).await?;
        let mut all = parse_index(&body)?;
        let base = self.base_url(&image.registry);
        let mut pages = 1;
        while let Some(link) = next.take() {
            if pages >= MAX_REFERRERS_PAGES {
                tracing::warn!(image = %image, pages, "referrers list truncated");
                break;
            }
            let url = if link.starts_with('/') {
                format!("{base}{link}")
            } else if link.starts_with(&format!("{base}/")) {
                link
            } else {
                tracing::warn!(image = %image, link = %link, "referrers next page is on another host: not followed");
                break;
            };
            let resp = self.get_url(image, &url, &[MEDIA_OCI_INDEX], &[]).await?;
            let resp =
                check_status(resp, &format!("referrers of {digest} (page {})", pages + 1)).await?;
            next = next_link(&resp.headers);
            let body = read_limited(resp, MAX_MANIFEST_SIZE).await?;
            all.extend(parse_index(&body)?);
            pages += 1;
        }
        Ok(all)
    }
}
