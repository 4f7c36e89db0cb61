//! The daemon's TOML config, and the checks run on its values (socket modes, the mirror
//! section).
#![no_main]
use libfuzzer_sys::fuzz_target;
use pullguard::config::{self, Config};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cfg) = Config::parse(text) else {
        return;
    };
    if let Some(m) = &cfg.docker.socket_mode {
        let _ = config::parse_mode(m);
    }
    let _ = pullguard::mirror::MirrorOptions::from_section(
        &cfg.mirror,
        std::time::Duration::from_secs(1),
    );
});
