//! The Stepline coordinator: runs ASL executions around the pure `asl` engine.
//! It holds the `stepline serve` runtime (Redis store, shard engine loops, gRPC worker
//! service, AWS-compatible HTTP API, bulk starts over gRPC) and the local tools of the CLI (in-memory runs, conformance).

pub mod api;
pub mod backlog;
pub mod bulk_start;
pub mod conformance;
pub mod console;
pub mod dispatch;
pub mod embedded_redis;
pub mod engine_loop;
pub mod grpc;
pub mod leases;
pub mod machine_heads;
pub mod metrics;
pub mod mock_config;
pub mod retention;
pub mod serve;
pub mod shard_door;
pub mod store;
pub mod telemetry;
pub mod timers;
pub mod tokens;
pub mod work_stream;
