//! Compiles `proto/**/*.proto` with protox (a pure-Rust protobuf compiler), so building
//! Stepline never needs a system `protoc`, then generates prost messages and tonic
//! client/server code from the resulting descriptor set.

use std::path::PathBuf;

/// The .proto files to compile, relative to the `proto/` include root.
const PROTOS: &[&str] = &["stepline/worker/v1/worker.proto", "stepline/executions/v1/executions.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    let mut compiler = protox::Compiler::new(["proto"])?;
    // Source info carries the .proto comments into the generated rustdoc and into the
    // descriptor set served by reflection (so grpcurl `describe` shows them).
    compiler.include_source_info(true);
    compiler.open_files(PROTOS)?;

    std::fs::write(out_dir.join("stepline_descriptor.bin"), compiler.encode_file_descriptor_set())?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .emit_rerun_if_changed(false)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
