//! Blobs through the mirror: served only when granted by a verified manifest, streamed from
//! upstream through a [`BlobBody`] (whole, or a range cut out of the whole).

use std::sync::atomic::Ordering;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::header::{
    ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, HeaderValue,
};
use hyper::{Response, StatusCode};

use super::body::{BlobBody, Check};
use super::grants::Kind;
use super::range::{Want, parse_content_range, parse_range};
use super::response::{full, unsatisfiable, value};
use super::{DOCKER_CONTENT_DIGEST, Mirror};
use crate::docker::Body;
use crate::drain::Ticket;
use crate::oci::ImageRef;

impl Mirror {
    pub(super) async fn blob(
        &self,
        head: bool,
        image: ImageRef,
        range: Option<String>,
        guard: Ticket,
    ) -> Result<Response<Body>, String> {
        let generation = self.engine.snapshot().generation;
        let scope = image.scope();
        let digest = image.digest.clone().unwrap_or_default();
        // Only config and layer grants are blobs: an index child (a manifest grant) is served
        // by the manifests route, which applies require_platform_signature.
        let Some(g) = self
            .grant(generation, &scope, &digest)
            .filter(|g| g.kind == Kind::Blob)
        else {
            let under = match self.policy_name(&scope, &digest) {
                Some(p) => format!(" under trust policy {p:?}"),
                None => String::new(),
            };
            return Err(format!(
                "denied blob {scope}@{digest}{under}: it is not referenced by any manifest verified through this mirror under the current trust policy (generation {generation}); pull the image by tag or digest through the mirror"
            ));
        };
        let denied = |why: String| {
            format!(
                "denied blob {scope}@{digest} (part of {}) under trust policy {:?}: {why}",
                g.via,
                g.policy.as_deref().unwrap_or("-")
            )
        };
        if head {
            let mut r = Response::new(full(Bytes::new()));
            let h = r.headers_mut();
            h.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            h.insert(CONTENT_LENGTH, HeaderValue::from(g.size));
            if let Some(v) = value(&digest) {
                h.insert(DOCKER_CONTENT_DIGEST, v);
            }
            return Ok(r);
        }
        let size = g.size as u64;
        let want = range
            .as_deref()
            .map_or(Want::Whole, |r| parse_range(r, size));
        let part = match want {
            Want::Whole => None,
            Want::Part(start, end) => Some((start, end)),
            Want::Unsatisfiable => return Ok(unsatisfiable(size)),
        };
        // With digests checked, a part is cut out of the whole blob, which is hashed: the
        // upstream never sees the Range (it costs the bytes outside it). Without, the Range goes
        // upstream and its 206 is checked for range and length only.
        let ask = part
            .filter(|&(s, e)| !self.opts.check_blob_digests && (s, e) != (0, size - 1))
            .map(|(s, e)| format!("bytes={s}-{e}"));
        let resp = self
            .engine
            .client()
            .blob_stream(&image, &digest, ask.as_deref())
            .await
            .map_err(|e| denied(e.to_string()))?;
        let check = if resp.status == StatusCode::OK {
            if let Some(len) = resp.content_length()
                && len != size
            {
                return Err(denied(format!(
                    "the registry announced {len} bytes, the verified manifest says {size}"
                )));
            }
            let c = Check::new(&digest, size, self.opts.check_blob_digests).map_err(denied)?;
            match part {
                Some((s, e)) => c.window(s, e),
                None => c,
            }
        } else if let (StatusCode::PARTIAL_CONTENT, Some(asked), Some((s, e))) =
            (resp.status, &ask, part)
        {
            let claimed = resp
                .headers
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if parse_content_range(claimed) != Some((s, e, size)) {
                return Err(denied(format!(
                    "the registry answered {asked} with Content-Range {claimed:?}, not \"bytes {s}-{e}/{size}\""
                )));
            }
            let len = e - s + 1;
            if let Some(l) = resp.content_length()
                && l != len
            {
                return Err(denied(format!(
                    "the registry announced a Content-Length of {l} for the range bytes {s}-{e}/{size}, which has {len}"
                )));
            }
            Check::part(len, format!("bytes {s}-{e}/{size}"))
        } else {
            return Err(denied(format!("the registry answered {}", resp.status)));
        };
        let upstream = resp.headers.clone();
        let idle = self.opts.idle_timeout;
        let body = BlobBody {
            upstream: resp.into_body(),
            check,
            idle,
            stall: Box::pin(tokio::time::sleep(idle)),
            done: false,
            what: format!("{scope}@{digest}"),
            counters: self.counters.clone(),
            _in_flight: guard,
        };
        let mut r = Response::new(BodyExt::boxed(body));
        let h = r.headers_mut();
        for name in [CONTENT_TYPE, ETAG] {
            if let Some(v) = upstream.get(&name) {
                h.insert(name, v.clone());
            }
        }
        if !h.contains_key(CONTENT_TYPE) {
            h.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
        }
        h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        match part {
            Some((s, e)) => {
                h.insert(CONTENT_LENGTH, HeaderValue::from(e - s + 1));
                if let Some(v) = value(&format!("bytes {s}-{e}/{size}")) {
                    h.insert(CONTENT_RANGE, v);
                }
                *r.status_mut() = StatusCode::PARTIAL_CONTENT;
            }
            None => {
                h.insert(CONTENT_LENGTH, HeaderValue::from(size));
            }
        }
        let h = r.headers_mut();
        if let Some(v) = value(&digest) {
            h.insert(DOCKER_CONTENT_DIGEST, v);
        }
        let blobs = self.counters.blobs_served.fetch_add(1, Ordering::Relaxed) + 1;
        crate::metrics::mirror_blob();
        let (manifests, _, denials, _) = self.counters.get();
        tracing::info!(
            target: "pullguard::mirror",
            event = "blob",
            image = %scope,
            digest = %digest,
            size = g.size,
            range = range.as_deref().unwrap_or(""),
            via = %g.via,
            manifests_served = manifests,
            blobs_served = blobs,
            denials,
            "mirror serving blob"
        );
        Ok(r)
    }
}
