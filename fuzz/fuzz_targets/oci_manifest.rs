//! OCI manifests and indexes as the engine reads them (shape, descriptors, digests), and image
//! references (what `docker pull` and `ctl verify` are given).
#![no_main]
use libfuzzer_sys::fuzz_target;
use pullguard::oci::{self, ImageRef, Manifest};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::parse(data) {
        let descs = m
            .manifests
            .iter()
            .chain(m.layers.iter())
            .chain(m.blobs.iter())
            .flatten()
            .chain(m.config.iter())
            .chain(m.subject.iter());
        for d in descs {
            let _ = oci::validate_digest(&d.digest);
            let _ = oci::check_digest(&d.digest, data);
        }
    }
    let s = pg_fuzz::text(data);
    for line in s.lines().take(8) {
        if let Ok(r) = ImageRef::parse(line) {
            let _ = (r.scope(), r.reference(), r.to_string());
            let _ = r.with_digest(
                "sha256:0000000000000000000000000000000000000000000000000000000000000000",
            );
            let _ = ImageRef::parse(&r.to_string());
        }
        let _ = oci::validate_digest(line);
        let _ = oci::digest_with(line, data);
    }
});
