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
    Ok(())
}
