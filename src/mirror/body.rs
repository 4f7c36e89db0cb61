//! A blob on its way from the upstream registry to the client: passed through frame by frame,
//! counted and hashed, the part that completes it held back until size and digest match.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Frame, Incoming};
use openssl::hash::{Hasher, MessageDigest};

use super::MirrorCounters;
use crate::docker::BoxError;
use crate::drain::Ticket;
use crate::oci::hex;

/// What an upstream blob body must be, and how far it has got: a whole blob (its size, and its
/// digest unless hashing is off), of which only a window may be passed on (a `Range:` answer cut
/// out of the whole blob by the mirror); or an upstream's own 206 body, which is counted only.
pub(super) struct Check {
    digest: String,
    /// Bytes the upstream body must have.
    size: u64,
    /// `None`: count only (`[mirror] check_blob_digests = false`, or an upstream's 206 body).
    hasher: Option<Hasher>,
    alg: &'static str,
    total: u64,
    /// The upstream bytes passed on, `[from, to)`; the rest is counted and hashed, not sent.
    window: (u64, u64),
    /// An upstream's 206 body: the `Content-Range` it claims, for the messages.
    range: Option<String>,
    /// The part that completes what is passed on, sent only at a good end of the body.
    held: Option<Bytes>,
}

impl Check {
    /// A whole blob, every byte passed on.
    pub(super) fn new(digest: &str, size: u64, hash: bool) -> Result<Check, String> {
        let (hasher, alg) = hasher_for(digest)?;
        let hasher = hash.then_some(hasher);
        Ok(Check {
            digest: digest.to_string(),
            size,
            hasher,
            alg,
            total: 0,
            window: (0, size),
            range: None,
            held: None,
        })
    }

    /// Pass on only bytes `start..=end` of the whole blob.
    pub(super) fn window(mut self, start: u64, end: u64) -> Check {
        self.window = (start, end.saturating_add(1).min(self.size));
        self
    }

    /// An upstream's 206 body for `range` (`bytes a-b/total`): `len` bytes, counted, not hashed
    /// (no digest covers a part).
    pub(super) fn part(len: u64, range: String) -> Check {
        Check {
            digest: String::new(),
            size: len,
            hasher: None,
            alg: "",
            total: 0,
            window: (0, len),
            range: Some(range),
            held: None,
        }
    }

    /// Take in one frame; the bytes to send on now, if any.
    fn feed(&mut self, data: Bytes) -> Result<Option<Bytes>, String> {
        let offset = self.total;
        self.total += data.len() as u64;
        if self.total > self.size {
            return Err(match &self.range {
                Some(r) => format!(
                    "the registry sent more than the {} bytes of the range {r}",
                    self.size
                ),
                None => format!("the registry sent more than {} bytes", self.size),
            });
        }
        if let Some(h) = self.hasher.as_mut() {
            h.update(&data).map_err(|e| format!("cannot hash: {e}"))?;
        }
        let (from, to) = self.window;
        let (lo, hi) = (from.max(offset), to.min(self.total));
        if lo >= hi {
            return Ok(None);
        }
        // Within one frame: both ends are at most data.len() past `offset`.
        let part = data.slice((lo - offset) as usize..(hi - offset) as usize);
        if hi == to {
            // The part that completes what is passed on waits for the end of the body, and
            // for size and digest to match; the ones before it go at once.
            self.held = Some(part);
            return Ok(None);
        }
        Ok(Some(part))
    }

    /// At the end of the upstream body: the held frame when size and digest match.
    fn finish(&mut self) -> Result<Option<Bytes>, String> {
        if self.total != self.size {
            return Err(match &self.range {
                Some(r) => format!(
                    "the registry sent {} bytes of the range {r}, which has {}",
                    self.total, self.size
                ),
                None => format!(
                    "the registry sent {} bytes, the verified manifest says {}",
                    self.total, self.size
                ),
            });
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

/// The upstream body passed through frame by frame, no buffering beyond one frame. It is
/// counted (and, for a whole blob, hashed) on the way and the part that would complete it is
/// held back until size and digest match: a body that does not match ends in an error, so the
/// client never gets a complete wrong body. A stall longer than `idle` is an error too.
pub(super) struct BlobBody {
    pub(super) upstream: Incoming,
    pub(super) check: Check,
    pub(super) idle: Duration,
    pub(super) stall: Pin<Box<tokio::time::Sleep>>,
    pub(super) done: bool,
    /// `registry/repository@digest`, for the log.
    pub(super) what: String,
    pub(super) counters: Arc<MirrorCounters>,
    pub(super) _in_flight: Ticket,
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
                    let last = match this.check.finish() {
                        Err(why) => return this.fail(why),
                        Ok(last) => last,
                    };
                    return Poll::Ready(last.map(|b| {
                        crate::metrics::mirror_bytes(true, b.len());
                        Ok(Frame::data(b))
                    }));
                }
                Poll::Ready(Some(Ok(frame))) => {
                    let deadline = tokio::time::Instant::now() + this.idle;
                    this.stall.as_mut().reset(deadline);
                    let Ok(data) = frame.into_data() else {
                        continue; // trailers: not passed on
                    };
                    match this.check.feed(data) {
                        Err(why) => return this.fail(why),
                        Ok(Some(prev)) => {
                            crate::metrics::mirror_bytes(true, prev.len());
                            return Poll::Ready(Some(Ok(Frame::data(prev))));
                        }
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
        assert_eq!(
            c.feed(Bytes::from_static(b"hello")).unwrap().as_deref(),
            Some(&b"hello"[..]),
            "not the last: passed on at once"
        );
        assert_eq!(c.feed(Bytes::from_static(b", mirror")).unwrap(), None);
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
    fn windows_pass_on_only_the_range_and_still_hash_the_whole() {
        let body = b"0123456789abcdef";
        let digest = crate::oci::sha256_digest(body);
        let run = |c: &mut Check, frames: &[&'static [u8]]| -> Result<Vec<u8>, String> {
            let mut out = Vec::new();
            for f in frames {
                if let Some(b) = c.feed(Bytes::from_static(f))? {
                    out.extend_from_slice(&b);
                }
            }
            if let Some(b) = c.finish()? {
                out.extend_from_slice(&b);
            }
            Ok(out)
        };
        let frames: &[&'static [u8]] = &[b"0123", b"4567", b"89ab", b"cdef"];
        for (start, end) in [(0, 15), (2, 5), (4, 7), (5, 5), (10, 15), (3, 14)] {
            let mut c = Check::new(&digest, 16, true).unwrap().window(start, end);
            let got = run(&mut c, frames).unwrap();
            assert_eq!(got, &body[start as usize..=end as usize], "{start}-{end}");
        }
        // The window's last bytes wait for the whole blob's digest.
        let mut c = Check::new(&digest, 16, true).unwrap().window(2, 5);
        assert_eq!(
            c.feed(Bytes::from_static(b"0123")).unwrap().as_deref(),
            Some(&b"23"[..])
        );
        assert_eq!(c.feed(Bytes::from_static(b"4567")).unwrap(), None);
        assert_eq!(c.feed(Bytes::from_static(b"89ab")).unwrap(), None);
        c.feed(Bytes::from_static(b"cdeF")).unwrap();
        assert!(c.finish().unwrap_err().contains("hashing to"));
        assert_eq!(c.held.as_deref(), Some(&b"45"[..]), "never sent");

        // An upstream's part: counted against the range it claims, short and long.
        let mut c = Check::part(6, "bytes 2-7/16".into());
        assert_eq!(run(&mut c, &[b"234", b"567"]).unwrap(), b"234567");
        let mut c = Check::part(6, "bytes 2-7/16".into());
        let e = run(&mut c, &[b"234", b"56"]).unwrap_err();
        assert!(e.contains("5 bytes of the range bytes 2-7/16"), "{e}");
        let mut c = Check::part(6, "bytes 2-7/16".into());
        let e = run(&mut c, &[b"234", b"5678"]).unwrap_err();
        assert!(e.contains("more than the 6 bytes"), "{e}");
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
