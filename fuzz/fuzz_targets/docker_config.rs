//! A Docker CLI `config.json` (auths, credHelpers, credsStore) and the credential lookup for a
//! few hosts. Credential helpers are never run: PATH is emptied first, so a helper named by
//! the input fails to start (an error, as for a missing helper).
#![no_main]
use libfuzzer_sys::fuzz_target;
use pullguard::auth::DockerConfig;

fuzz_target!(|data: &[u8]| {
    static INIT: std::sync::Once = std::sync::Once::new();
    // SAFETY: set once, before any thread of this process reads the environment.
    INIT.call_once(|| unsafe { std::env::set_var("PATH", "/nonexistent-pullguard-fuzz") });
    let Ok(cfg) = DockerConfig::from_json(data) else {
        return;
    };
    let lower = data.to_ascii_lowercase();
    let helpers = lower
        .windows(5)
        .any(|w| w == b"creds" || w == b"credh" || w == b"\\u00");
    if helpers {
        return; // spawning (even a missing) helper costs a fork per input
    }
    for host in [
        "docker.io",
        "ghcr.io",
        "127.0.0.1:5000",
        "index.docker.io",
        " ",
    ] {
        let _ = cfg.credentials_for(host);
    }
});
