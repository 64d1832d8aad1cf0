//! `asl`: the Amazon States Language engine, pure and deterministic with no IO.
//!
//! It parses and validates definitions, evaluates JSONPath, JSONata and the
//! intrinsic functions, and runs executions through [`engine::step`]: events in,
//! commands out, with the clock and randomness injected by the caller.

pub mod choice;
pub mod definition;
pub mod diagnostic;
pub mod engine;
pub mod env;
pub mod failure;
pub mod graph;
pub mod integrations;
pub mod intrinsics;
pub mod jsonata;
pub mod jsonpath;
pub mod map_run_arns;
pub mod nesting;
pub mod payload;
pub mod simulate;
pub mod timestamp;
