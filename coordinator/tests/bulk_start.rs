//! The gRPC `StartExecutions` call against a real coordinator and redis-server: every
//! entry gets StartExecution's answer, in order (ARN and start date, or the AWS error
//! name), the executions run, a repeated entry is idempotent as on the AWS API, an
//! oversized batch is refused whole, and a coordinator that requires SigV4 refuses the
//! call (the gRPC port carries no signature).

mod common;

use std::time::Duration;

use common::Harness;
use serde_json::json;
use stepline_proto::executions::v1 as pb;
use stepline_proto::executions::v1::executions_client::ExecutionsClient;
use tonic::Code;
use tonic::transport::Channel;

const SOON: Duration = Duration::from_secs(10);

async fn client(h: &Harness) -> ExecutionsClient<Channel> {
    ExecutionsClient::connect(format!("http://{}", h.grpc)).await.expect("gRPC connects")
}

fn entry(sm: &str, name: &str, input: &str) -> pb::StartExecutionEntry {
    pb::StartExecutionEntry { state_machine_arn: sm.into(), name: name.into(), input: input.into() }
}

#[tokio::test]
async fn starts_each_entry_as_start_execution_would() {
    let h = Harness::start().await;
    let sm = h
        .create(
            "bulk",
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"got.$": "$.n"}, "End": true}}}),
        )
        .await;
    let unknown = sm.replace(":bulk", ":nobody");
    let mut c = client(&h).await;
    let entries = vec![
        entry(&sm, "a", r#"{"n": 1}"#),
        entry(&sm, "", r#"{"n": 2}"#),
        entry(&unknown, "c", "{}"),
        entry(&sm, "d", "{not json"),
        entry(&sm, "bad name", "{}"),
        entry(&sm, "f", ""),
    ];
    let results = c
        .start_executions(pb::StartExecutionsRequest { executions: entries })
        .await
        .expect("the call succeeds")
        .into_inner()
        .results;
    assert_eq!(results.len(), 6, "one result per entry: {results:?}");

    // Started: named, unnamed (a UUID name, as on AWS), and without input ("{}").
    for (i, want_output) in [(0, json!({"got": 1})), (1, json!({"got": 2}))] {
        let r = &results[i];
        assert!(r.error.is_empty(), "entry {i}: {r:?}");
        assert!(r.start_date_ms > 0, "entry {i}: {r:?}");
        let done = h.wait_done(&r.execution_arn, SOON).await;
        assert_eq!(done["status"], "SUCCEEDED", "{done}");
        let output: serde_json::Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
        assert_eq!(output, want_output);
    }
    assert!(results[0].execution_arn.ends_with(":execution:bulk:a"), "{:?}", results[0]);
    let generated = results[1].execution_arn.rsplit(':').next().unwrap();
    assert_eq!(generated.len(), 36, "a UUID name: {generated}");
    assert!(results[5].error.is_empty(), "{:?}", results[5]);
    let done = h.wait_done(&results[5].execution_arn, SOON).await;
    assert_eq!(done["input"], "{}");
    assert_eq!(done["status"], "FAILED", "Parameters needs $.n: {done}");

    // Refused, each with the error the AWS API gives, without stopping the others.
    assert_eq!(results[2].error, "StateMachineDoesNotExist", "{:?}", results[2]);
    assert_eq!(results[3].error, "InvalidExecutionInput", "{:?}", results[3]);
    assert_eq!(results[4].error, "InvalidName", "{:?}", results[4]);
    for r in &results[2..5] {
        assert!(r.execution_arn.is_empty() && r.start_date_ms == 0 && !r.message.is_empty(), "{r:?}");
    }
    h.stop().await;
}

#[tokio::test]
async fn a_repeated_entry_is_idempotent_and_a_reused_name_is_refused() {
    let h = Harness::start().await;
    let sm =
        h.create("waits", json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": true}}})).await;
    let mut c = client(&h).await;
    let first = c
        .start_executions(pb::StartExecutionsRequest { executions: vec![entry(&sm, "once", r#"{"x":1}"#)] })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert!(first[0].error.is_empty(), "{first:?}");
    // Same name and input while running: the same execution (StartExecution's
    // idempotency); same name, other input: ExecutionAlreadyExists.
    let again = c
        .start_executions(pb::StartExecutionsRequest {
            executions: vec![entry(&sm, "once", r#"{"x":1}"#), entry(&sm, "once", r#"{"x":2}"#)],
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(again[0].execution_arn, first[0].execution_arn, "{again:?}");
    assert_eq!(again[0].start_date_ms, first[0].start_date_ms, "{again:?}");
    assert_eq!(again[1].error, "ExecutionAlreadyExists", "{again:?}");
    let listed = h.ok("ListExecutions", json!({"stateMachineArn": sm})).await;
    assert_eq!(listed["executions"].as_array().unwrap().len(), 1, "{listed}");
    h.stop().await;
}

#[tokio::test]
async fn a_batch_over_the_limit_is_refused_whole() {
    let h = Harness::start().await;
    let sm = h.create("big", json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}})).await;
    let mut c = client(&h).await;
    let executions = (0..=coordinator::bulk_start::MAX_BATCH).map(|i| entry(&sm, &format!("e{i}"), "{}")).collect();
    let status = c.start_executions(pb::StartExecutionsRequest { executions }).await.expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let listed = h.ok("ListExecutions", json!({"stateMachineArn": sm})).await;
    assert!(listed["executions"].as_array().unwrap().is_empty(), "nothing started: {listed}");
    h.stop().await;
}

/// Kills the child process on drop.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn refused_while_signing_is_required() {
    let redis = common::TestRedis::start().await;
    let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (http, grpc) = (free(), free());
    // Its own process: the auth mode is read once per process from the environment.
    let _coordinator = Child(
        std::process::Command::new(env!("CARGO_BIN_EXE_stepline"))
            .arg("serve")
            .args(["--http-addr", &http.to_string(), "--grpc-addr", &grpc.to_string()])
            .args(["--redis-url", &redis.url, "--shards", "4"])
            .env("STEPLINE_AUTH", "sigv4")
            .env("STEPLINE_AUTH_ACCESS_KEY_ID", "AKIDTEST")
            .env("STEPLINE_AUTH_SECRET_ACCESS_KEY", "secret-for-the-test")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("stepline serve starts"),
    );
    let started = std::time::Instant::now();
    let mut c = loop {
        if let Ok(c) = ExecutionsClient::connect(format!("http://{grpc}")).await {
            break c;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the coordinator's gRPC port did not open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let sm = "arn:aws:states:us-east-1:123456789012:stateMachine:any";
    let status = c
        .start_executions(pb::StartExecutionsRequest { executions: vec![entry(sm, "x", "{}")] })
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(status.message().contains("STEPLINE_AUTH=sigv4"), "{status:?}");
}
