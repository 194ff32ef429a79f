//! Compiles every package under `proto/` and writes one descriptor set for
//! server reflection. Uses the vendored protoc unless `PROTOC` names another.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-env-changed=PROTOC");
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let protos = [
        root.join("generec/common/v1/common.proto"),
        root.join("generec/corpus/v1/corpus.proto"),
        root.join("generec/trust/v1/trust.proto"),
        root.join("generec/generation/v1/generation.proto"),
        root.join("generec/feed/v1/feed.proto"),
    ];
    for proto in &protos {
        println!("cargo:rerun-if-changed={}", proto.display());
    }
    let protoc = match std::env::var_os("PROTOC") {
        Some(path) => PathBuf::from(path),
        None => protoc_bin_vendored::protoc_bin_path()?,
    };
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("generec_descriptor.bin"))
        .compile_with_config(config, &protos, &[root])?;
    Ok(())
}
