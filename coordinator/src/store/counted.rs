//! Counts the coordinator's requests to Redis: one per command, pipeline or script call
//! sent and answered, that is one round trip each. Exposed as
//! `stepline_redis_requests_total`, so what a task costs in round trips is measured, not
//! inferred from Redis's command statistics (which cannot tell a client's commands from
//! those its scripts run).

use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, RedisFuture, Value};

/// A connection whose requests are counted.
#[derive(Clone)]
pub struct Counted<C>(pub C);

impl<C: ConnectionLike + Send> ConnectionLike for Counted<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        crate::metrics::redis_request();
        self.0.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        crate::metrics::redis_request();
        self.0.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.0.get_db()
    }
}
