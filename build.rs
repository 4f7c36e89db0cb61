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
    Ok(())
}
