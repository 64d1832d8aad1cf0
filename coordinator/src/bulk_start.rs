//! The gRPC `stepline.executions.v1.Executions` service: StartExecution for many
//! executions in one call.
//!
//! Why: a client that submits batch work one StartExecution at a time pays an HTTP
//! request and response per execution, and under load those cost the coordinator more
//! CPU than running a one-task execution does (`loadtest/RESULTS.md`, round 6). Each
//! entry goes through the same code as the AWS API's StartExecution
//! (`api::executions::start_spec`), so checks, idempotency and error names are the same.

use std::sync::Arc;

use futures_util::future::join_all;
use stepline_proto::executions::v1 as pb;
use stepline_proto::executions::v1::executions_server::Executions;
use tonic::{Request, Response, Status};

use crate::api::executions::{StartSpec, start_spec};
use crate::serve::App;

/// Most entries in one StartExecutions call.
pub const MAX_BATCH: usize = 1000;

/// The `stepline.executions.v1.Executions` implementation.
pub struct ExecutionsService {
    /// The coordinator's shared state.
    pub app: Arc<App>,
}

#[tonic::async_trait]
impl Executions for ExecutionsService {
    async fn start_executions(
        &self,
        request: Request<pb::StartExecutionsRequest>,
    ) -> Result<Response<pb::StartExecutionsResponse>, Status> {
        // The gRPC port carries no AWS signature; with signing required, starts must
        // come through the AWS API, which checks it.
        if crate::api::auth::required() {
            return Err(Status::unauthenticated(
                "StartExecutions is off while STEPLINE_AUTH=sigv4: start executions with the signed AWS API",
            ));
        }
        let entries = request.into_inner().executions;
        if entries.len() > MAX_BATCH {
            return Err(Status::invalid_argument(format!(
                "{} executions in one StartExecutions call; at most {MAX_BATCH}",
                entries.len()
            )));
        }
        let starts = entries.iter().map(|e| async move {
            let spec = StartSpec {
                state_machine_arn: &e.state_machine_arn,
                name: Some(e.name.as_str()).filter(|n| !n.is_empty()),
                input: Some(e.input.as_str()).filter(|i| !i.is_empty()),
            };
            match start_spec(&self.app, &spec, None).await {
                Ok(s) => pb::StartExecutionResult {
                    execution_arn: s.arn,
                    start_date_ms: crate::store::epoch::us_to_ms(s.start_us),
                    ..Default::default()
                },
                Err(e) => {
                    pb::StartExecutionResult { error: e.name.to_string(), message: e.message, ..Default::default() }
                }
            }
        });
        Ok(Response::new(pb::StartExecutionsResponse { results: join_all(starts).await }))
    }
}
