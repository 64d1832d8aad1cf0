//! The Stepline load generator: drives a running cluster and reports throughput and latency.
