//! The Stepline coordinator: runs ASL executions around the pure `asl` engine.
//! For now it holds the local tools of the `stepline` CLI (in-memory runs and the conformance runner).

pub mod conformance;
pub mod mock_config;
