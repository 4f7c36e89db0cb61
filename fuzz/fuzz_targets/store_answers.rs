//! What the store watch reads from the image stores: dockerd's `/events` stream (fed in pieces of
//! a size the input picks, so a line split anywhere is covered) and its `/images/json` listing,
//! and one protobuf event envelope from containerd's events API.
//! Input parts: chunk size byte + docker events | docker image list | containerd envelope.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = pg_fuzz::parts(data, 3);
    let events = p.first().copied().unwrap_or_default();
    let (chunk, events) = match events.split_first() {
        Some((c, rest)) => (usize::from(*c) + 1, rest),
        None => (1, events),
    };
    let list = p.get(1).copied().unwrap_or_default();
    let _ = pullguard::store::docker::fuzz_answers(events, chunk, list);
    let _ = pullguard::store::containerd::fuzz_event(p.get(2).copied().unwrap_or_default());
});
