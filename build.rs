fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure().compile_with_config(
        config,
        &[
            "proto/pullguard/v1/control.proto",
            "proto/grpc/health/v1/health.proto",
        ],
        &["proto"],
    )?;
    // The containerd API subset the store watch uses (client side only), with containerd's
    // own import paths (rooted at proto/containerd).
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    let wkt = protoc_bin_vendored::include_path()?;
    let wkt = wkt.to_str().ok_or("protoc include path is not UTF-8")?;
    tonic_prost_build::configure()
        .build_server(false)
        .compile_with_config(
            config,
            &[
                "proto/containerd/services/events/v1/events.proto",
                "proto/containerd/services/images/v1/images.proto",
                "proto/containerd/events/image.proto",
                "proto/containerd/services/namespaces/v1/namespace.proto",
            ],
            &["proto/containerd", wkt],
        )?;
    // The CRI ImageService subset the tests use to see an image store as a kubelet does.
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .build_server(false)
        .compile_with_config(config, &["proto/cri/api.proto"], &["proto/cri"])?;
    // Relative relocations packed (DT_RELR): the PIE's ~43,000 of them shrink from a 1 MB
    // table the loader reads at every exec to 13 KB (`pullguard verify` starts ~0.15 ms
    // sooner). The binary then needs glibc >= 2.36 (Debian 12, Ubuntu 24.04), so it is done
    // only when building natively on such a glibc.
    if std::env::var("TARGET")? == std::env::var("HOST")? && host_glibc_at_least(2, 36) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    Ok(())
}

/// The build host's glibc version (`getconf GNU_LIBC_VERSION`: "glibc 2.36") is at least this.
fn host_glibc_at_least(major: u32, minor: u32) -> bool {
    let Ok(out) = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
    else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text
        .trim()
        .strip_prefix("glibc ")
        .unwrap_or("")
        .split('.')
        .map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(a), Some(b)) => (a, b) >= (major, minor),
        _ => false,
    }
}
