//! The gRPC contracts of the Stepline coordinator: with its workers (`stepline.worker.v1`)
//! and with clients that start executions in bulk (`stepline.executions.v1`).
//!
//! The code is generated at build time from the `.proto` files under `proto/` by
//! `tonic-prost-build`, with `protox` as the compiler (no system `protoc` needed). The
//! protocol itself is documented in this crate's README.

/// The `stepline.worker` protobuf package.
pub mod worker {
    /// Version 1 of the worker protocol: messages, `worker_client` and `worker_server`.
    pub mod v1 {
        #![allow(clippy::doc_lazy_continuation, clippy::doc_overindented_list_items, missing_docs)]
        tonic::include_proto!("stepline.worker.v1");
    }
}

/// The `stepline.executions` protobuf package.
pub mod executions {
    /// Version 1: `StartExecutions`, messages, `executions_client` and `executions_server`.
    pub mod v1 {
        #![allow(clippy::doc_lazy_continuation, clippy::doc_overindented_list_items, missing_docs)]
        tonic::include_proto!("stepline.executions.v1");
    }
}

/// The encoded `FileDescriptorSet` of every Stepline .proto file, for `tonic-reflection`
/// (`Builder::configure().register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)`).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/stepline_descriptor.bin"));

/// The fully qualified gRPC service name of the worker service, e.g. for health checks.
pub const WORKER_SERVICE_NAME: &str = "stepline.worker.v1.Worker";

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn descriptor_set_decodes_and_names_the_service() {
        let fds = prost::bytes::Bytes::from_static(FILE_DESCRIPTOR_SET);
        // prost_types is not a dependency; decode just enough to check that the bytes are
        // a FileDescriptorSet mentioning our package, which reflection relies on.
        #[derive(Clone, PartialEq, prost::Message)]
        struct FileDescriptorSet {
            #[prost(bytes = "vec", repeated, tag = "1")]
            file: Vec<Vec<u8>>,
        }
        let set = FileDescriptorSet::decode(fds).expect("valid descriptor set");
        assert_eq!(set.file.len(), 2);
        let text = String::from_utf8_lossy(&set.file[0]);
        assert!(text.contains("stepline.worker.v1"));
        assert!(text.contains("PollTasks"));
        assert!(String::from_utf8_lossy(&set.file[1]).contains("StartExecutions"));
    }

    #[test]
    fn service_name_matches_generated_code() {
        assert_eq!(worker::v1::worker_server::SERVICE_NAME, WORKER_SERVICE_NAME);
    }
}
