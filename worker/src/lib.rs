//! The Stepline worker SDK: poll tasks over gRPC, heartbeat, and report results.
