//! A blob on its way from the upstream registry to the client: passed through frame by frame,
//! counted and hashed, the last frame held back until size and digest match.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Frame, Incoming};
use openssl::hash::{Hasher, MessageDigest};

use super::{InFlight, MirrorCounters};
use crate::docker::BoxError;
use crate::oci::hex;

/// The size and digest a whole blob must have, and how far it has got.
pub(super) struct Check {
    digest: String,
    size: u64,
    /// `None`: size only (`[mirror] check_blob_digests = false`; the client checks the digest).
    hasher: Option<Hasher>,
    alg: &'static str,
    total: u64,
    /// The last frame seen, sent on only once the next one (or a good end) arrives.
    held: Option<Bytes>,
}

impl Check {
    pub(super) fn new(digest: &str, size: u64, hash: bool) -> Result<Check, String> {
        let (hasher, alg) = hasher_for(digest)?;
        let hasher = hash.then_some(hasher);
        Ok(Check {
            digest: digest.to_string(),
            size,
            hasher,
            alg,
            total: 0,
            held: None,
        })
    }

    /// Take in one frame; the frame to send on now, if any.
    fn feed(&mut self, data: Bytes) -> Result<Option<Bytes>, String> {
        self.total += data.len() as u64;
        if self.total > self.size {
            return Err(format!("the registry sent more than {} bytes", self.size));
        }
        if let Some(h) = self.hasher.as_mut() {
            h.update(&data).map_err(|e| format!("cannot hash: {e}"))?;
        }
        Ok(self.held.replace(data))
    }

    /// At the end of the upstream body: the held frame when size and digest match.
    fn finish(&mut self) -> Result<Option<Bytes>, String> {
        if self.total != self.size {
            return Err(format!(
                "the registry sent {} bytes, the verified manifest says {}",
                self.total, self.size
            ));
        }
        let Some(hasher) = self.hasher.as_mut() else {
            return Ok(self.held.take());
        };
        let got = hasher
            .finish()
            .map(|d| format!("{}:{}", self.alg, hex(&d)))
            .map_err(|e| format!("cannot hash: {e}"))?;
        if got != self.digest {
            return Err(format!(
                "the registry sent content hashing to {got}, not {}",
                self.digest
            ));
        }
        Ok(self.held.take())
    }
}

/// The upstream body passed through frame by frame, no buffering beyond one frame. With a
/// [`Check`] (a whole blob) it is counted and hashed on the way and the last frame is held back
/// until size and digest match: a blob that does not match ends in an error, so the client never
/// gets a complete wrong body. A stall longer than `idle` is an error too.
pub(super) struct BlobBody {
    pub(super) upstream: Incoming,
    pub(super) check: Option<Check>,
    pub(super) idle: Duration,
    pub(super) stall: Pin<Box<tokio::time::Sleep>>,
    pub(super) done: bool,
    /// `registry/repository@digest`, for the log.
    pub(super) what: String,
    pub(super) counters: Arc<MirrorCounters>,
    pub(super) _in_flight: InFlight,
}

impl BlobBody {
    fn fail(&mut self, why: String) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.done = true;
        self.counters.blob_failures.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            target: "pullguard::mirror",
            event = "blob_failed",
            blob = %self.what,
            reason = %why,
            "mirror blob stream failed"
        );
        Poll::Ready(Some(Err(why.into())))
    }
}

impl hyper::body::Body for BlobBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match Pin::new(&mut this.upstream).poll_frame(cx) {
                Poll::Pending => {
                    if this.stall.as_mut().poll(cx).is_ready() {
                        let why = format!("the registry stalled for {:?}", this.idle);
                        return this.fail(why);
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Some(Err(e))) => {
                    let why = format!(
                        "reading from the registry failed: {}",
                        crate::http::error_chain(&e)
                    );
                    return this.fail(why);
                }
                Poll::Ready(None) => {
                    this.done = true;
                    let last = match this.check.as_mut().map(Check::finish) {
                        Some(Err(why)) => return this.fail(why),
                        Some(Ok(last)) => last,
                        None => None,
                    };
                    return Poll::Ready(last.map(|b| Ok(Frame::data(b))));
                }
                Poll::Ready(Some(Ok(frame))) => {
                    let deadline = tokio::time::Instant::now() + this.idle;
                    this.stall.as_mut().reset(deadline);
                    let Ok(data) = frame.into_data() else {
                        continue; // trailers: not passed on
                    };
                    let Some(check) = this.check.as_mut() else {
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    };
                    match check.feed(data) {
                        Err(why) => return this.fail(why),
                        Ok(Some(prev)) => return Poll::Ready(Some(Ok(Frame::data(prev)))),
                        Ok(None) => continue,
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}

pub(super) fn hasher_for(digest: &str) -> Result<(Hasher, &'static str), String> {
    let (md, alg) = match digest.split_once(':').map_or("", |(a, _)| a) {
        "sha256" => (MessageDigest::sha256(), "sha256"),
        "sha384" => (MessageDigest::sha384(), "sha384"),
        "sha512" => (MessageDigest::sha512(), "sha512"),
        other => return Err(format!("unsupported digest algorithm {other:?}")),
    };
    Hasher::new(md)
        .map(|h| (h, alg))
        .map_err(|e| format!("cannot hash: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_hold_the_last_frame_until_the_digest_matches() {
        let body = b"hello, mirror";
        let digest = crate::oci::sha256_digest(body);
        let mut c = Check::new(&digest, body.len() as u64, true).unwrap();
        assert_eq!(c.feed(Bytes::from_static(b"hello")).unwrap(), None);
        assert_eq!(
            c.feed(Bytes::from_static(b", mirror")).unwrap().as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(c.finish().unwrap().as_deref(), Some(&b", mirror"[..]));

        let mut c = Check::new(&digest, body.len() as u64, true).unwrap();
        c.feed(Bytes::from_static(b"hello, mirrot")).unwrap();
        let e = c.finish().unwrap_err();
        assert!(e.contains("hashing to"), "{e}");
        assert_eq!(c.held.as_deref(), Some(&b"hello, mirrot"[..]), "never sent");

        let mut c = Check::new(&digest, body.len() as u64, true).unwrap();
        c.feed(Bytes::from_static(b"hello")).unwrap();
        assert!(c.finish().unwrap_err().contains("5 bytes"));
        let mut c = Check::new(&digest, 3, true).unwrap();
        assert!(c.feed(Bytes::from_static(b"hello")).is_err());

        // Size only: wrong bytes of the right size pass here (the client's digest check fails).
        let mut c = Check::new(&digest, body.len() as u64, false).unwrap();
        c.feed(Bytes::from_static(b"hello, mirrot")).unwrap();
        assert_eq!(c.finish().unwrap().as_deref(), Some(&b"hello, mirrot"[..]));
        let mut c = Check::new(&digest, 3, false).unwrap();
        assert!(c.feed(Bytes::from_static(b"hello")).is_err());
    }

    #[test]
    fn hashers_follow_the_digest_algorithm() {
        let (mut h, alg) = hasher_for(&format!("sha512:{}", "0".repeat(128))).unwrap();
        h.update(b"{}").unwrap();
        assert_eq!(alg, "sha512");
        assert_eq!(
            format!("{alg}:{}", hex(&h.finish().unwrap())),
            crate::oci::digest_with("sha512", b"{}").unwrap()
        );
        assert!(hasher_for("md5:00").is_err());
    }
}
