//! The Stepline coordinator: runs ASL executions around the pure `asl` engine.
//! For now it holds the local tools of the `stepline` CLI (in-memory runs and the conformance runner).

pub mod api;
pub mod conformance;
pub mod dispatch;
pub mod embedded_redis;
pub mod engine_loop;
pub mod grpc;
pub mod leases;
pub mod metrics;
pub mod mock_config;
pub mod serve;
pub mod store;
pub mod timers;
pub mod tokens;
