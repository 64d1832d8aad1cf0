//! The gRPC contract between the Stepline coordinator and its workers (`stepline.worker.v1`).
