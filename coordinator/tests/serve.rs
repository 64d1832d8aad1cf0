//! End-to-end tests of `stepline serve`: real Redis, the coordinator in-process, the
//! HTTP API over a socket and a gRPC worker.

mod common;

use std::time::{Duration, Instant};

use common::{Harness, poll_one, raw_get, raw_post};
use serde_json::{Value, json};
use stepline_proto::worker::v1 as pb;
use tonic::Code;

const ACTIVITY: &str = "arn:aws:states:us-east-1:123456789012:activity";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_is_served_by_a_worker_and_the_execution_succeeds() {
    let h = Harness::start().await;
    let sm = h
        .create(
            "tasky",
            json!({"StartAt": "Work", "States": {
                "Work": {"Type": "Task", "Resource": format!("{ACTIVITY}:work"), "Next": "Invoke"},
                "Invoke": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:fn1", "Payload.$": "$"},
                    "OutputPath": "$.Payload", "End": true}
            }}),
        )
        .await;
    let arn = h.start_execution(&sm, "e1", json!({"n": 1})).await;
    let mut w = h.worker().await;
    let t = poll_one(&mut w, "work", Duration::from_secs(5)).await;
    assert_eq!(serde_json::from_str::<Value>(&t.input_json).unwrap(), json!({"n": 1}));
    assert_eq!(t.state_name, "Work");
    assert_eq!(t.execution_arn, arn);
    assert_eq!(t.attempt, 0);
    w.complete_task(pb::CompleteTaskRequest { token: t.token.clone(), output_json: r#"{"n": 2}"#.into() })
        .await
        .unwrap();
    // A second completion of the same token is refused: the task is no longer pending.
    let again =
        w.complete_task(pb::CompleteTaskRequest { token: t.token, output_json: "{}".into() }).await.unwrap_err();
    assert_eq!(again.code(), Code::NotFound);
    assert!(again.message().starts_with("InvalidToken"), "{}", again.message());

    let t = poll_one(&mut w, "fn1", Duration::from_secs(5)).await;
    assert_eq!(
        serde_json::from_str::<Value>(&t.input_json).unwrap(),
        json!({"n": 2}),
        "lambda:invoke hands over the Payload"
    );
    w.complete_task(pb::CompleteTaskRequest { token: t.token, output_json: r#"{"done": true}"#.into() }).await.unwrap();

    let d = h.wait_done(&arn, Duration::from_secs(5)).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    assert_eq!(serde_json::from_str::<Value>(d["output"].as_str().unwrap()).unwrap(), json!({"done": true}));
    let types = h.history_types(&arn).await;
    assert_eq!(types.first().map(String::as_str), Some("ExecutionStarted"));
    assert!(types.contains(&"TaskSucceeded".to_string()), "{types:?}");
    assert_eq!(types.last().map(String::as_str), Some("ExecutionSucceeded"));

    let (status, metrics) = raw_get(h.http, "/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("stepline_executions_succeeded_total"), "{metrics}");
    assert_eq!(raw_get(h.http, "/readyz").await.0, 200);
    assert_eq!(raw_get(h.http, "/healthz").await.0, 200);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_state_fires_from_the_timer_zset() {
    let h = Harness::start().await;
    let sm = h
        .create(
            "waity",
            json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "P"}, "P": {"Type": "Pass", "End": true}}}),
        )
        .await;
    let started = Instant::now();
    let arn = h.start_execution(&sm, "w1", json!({"k": "v"})).await;
    let d = h.wait_done(&arn, Duration::from_secs(5)).await;
    assert_eq!(d["status"], "SUCCEEDED");
    assert!(started.elapsed() >= Duration::from_millis(950), "the Wait state waited");
    assert_eq!(d["output"], json!({"k": "v"}).to_string());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_task_is_retried() {
    let h = Harness::start().await;
    let sm = h
        .create(
            "retry",
            json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": format!("{ACTIVITY}:flaky"),
                "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1.0}], "End": true}}}),
        )
        .await;
    let arn = h.start_execution(&sm, "r1", json!({})).await;
    let mut w = h.worker().await;
    let t = poll_one(&mut w, "flaky", Duration::from_secs(5)).await;
    assert_eq!(t.attempt, 0);
    w.fail_task(pb::FailTaskRequest { token: t.token, error: "Boom".into(), cause: "first try".into() }).await.unwrap();
    let t = poll_one(&mut w, "flaky", Duration::from_secs(5)).await;
    assert_eq!(t.attempt, 1);
    w.complete_task(pb::CompleteTaskRequest { token: t.token, output_json: "\"ok\"".into() }).await.unwrap();
    let d = h.wait_done(&arn, Duration::from_secs(5)).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    assert_eq!(d["output"], "\"ok\"");
    let types = h.history_types(&arn).await;
    assert!(types.contains(&"ActivityFailed".to_string()), "{types:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_worker_times_out_on_heartbeat_and_the_task_is_retried() {
    let h = Harness::start().await;
    let sm = h
        .create(
            "hb",
            json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": format!("{ACTIVITY}:slow"), "HeartbeatSeconds": 1,
                "Retry": [{"ErrorEquals": ["States.HeartbeatTimeout"], "IntervalSeconds": 1, "MaxAttempts": 1}], "End": true}}}),
        )
        .await;
    let arn = h.start_execution(&sm, "h1", json!({})).await;
    let mut w = h.worker().await;
    let dead = poll_one(&mut w, "slow", Duration::from_secs(5)).await;
    assert_eq!(dead.heartbeat_seconds, 1);
    // This worker dies: no heartbeat. The retry hands the task out again.
    let t = poll_one(&mut w, "slow", Duration::from_secs(8)).await;
    assert_eq!(t.attempt, 1);
    let hb = w.heartbeat(pb::HeartbeatRequest { token: dead.token.clone() }).await.unwrap().into_inner();
    assert!(hb.cancel_requested, "the dead attempt is cancelled");
    let hb = w.heartbeat(pb::HeartbeatRequest { token: t.token.clone() }).await.unwrap().into_inner();
    assert!(!hb.cancel_requested);
    let stale =
        w.complete_task(pb::CompleteTaskRequest { token: dead.token, output_json: "{}".into() }).await.unwrap_err();
    assert!(stale.message().starts_with("InvalidToken"), "{stale:?}");
    w.complete_task(pb::CompleteTaskRequest { token: t.token, output_json: "{\"second\": true}".into() })
        .await
        .unwrap();
    let d = h.wait_done(&arn, Duration::from_secs(5)).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    let types = h.history_types(&arn).await;
    assert!(types.contains(&"ActivityTimedOut".to_string()), "{types:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_forged_tokens_are_invalid() {
    let h = Harness::start().await;
    let mut w = h.worker().await;
    for token in ["garbage", "", "1.0123456789abcdef.00000000000000000000000000000000.1"] {
        let e = w
            .complete_task(pb::CompleteTaskRequest { token: token.into(), output_json: "{}".into() })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{token}: {e:?}");
        assert!(e.message().starts_with("InvalidToken"), "{e:?}");
        let e = w.heartbeat(pb::HeartbeatRequest { token: token.into() }).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
    }
    let r = w
        .report_results(pb::ReportResultsRequest {
            results: vec![pb::TaskResult {
                token: "nope".into(),
                outcome: Some(pb::task_result::Outcome::OutputJson("1".into())),
            }],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(r.rejections[0].starts_with("InvalidToken"), "{r:?}");
    h.err("SendTaskSuccess", json!({"taskToken": "garbage", "output": "{}"}), "InvalidToken").await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_execution_is_idempotent_and_stop_aborts() {
    let h = Harness::start().await;
    let sm = h
        .create(
            "idem",
            json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "stepline:queue:idle", "End": true}}}),
        )
        .await;
    let a = h.ok("StartExecution", json!({"stateMachineArn": sm, "name": "same", "input": "{\"a\":1}"})).await;
    let b = h.ok("StartExecution", json!({"stateMachineArn": sm, "name": "same", "input": "{\"a\":1}"})).await;
    assert_eq!(a, b);
    h.err(
        "StartExecution",
        json!({"stateMachineArn": sm, "name": "same", "input": "{\"a\":2}"}),
        "ExecutionAlreadyExists",
    )
    .await;
    let arn = a["executionArn"].as_str().unwrap();

    let mut w = h.worker().await;
    let t = poll_one(&mut w, "idle", Duration::from_secs(5)).await;
    h.ok("StopExecution", json!({"executionArn": arn, "error": "Halt", "cause": "test"})).await;
    let d = h.wait_done(arn, Duration::from_secs(5)).await;
    assert_eq!(d["status"], "ABORTED");
    assert_eq!(d["error"], "Halt");
    let hb = w.heartbeat(pb::HeartbeatRequest { token: t.token }).await.unwrap().into_inner();
    assert!(hb.cancel_requested, "a stopped execution's task is cancelled");
    // Once ended, the same name is taken for good.
    h.err(
        "StartExecution",
        json!({"stateMachineArn": sm, "name": "same", "input": "{\"a\":1}"}),
        "ExecutionAlreadyExists",
    )
    .await;
    let list = h.ok("ListExecutions", json!({"stateMachineArn": sm, "statusFilter": "ABORTED"})).await;
    assert_eq!(list["executions"].as_array().map(Vec::len), Some(1));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_errors_are_aws_shaped() {
    let h = Harness::start().await;
    let missing = "arn:aws:states:us-east-1:123456789012:stateMachine:nope";
    h.err("StartExecution", json!({"stateMachineArn": missing}), "StateMachineDoesNotExist").await;
    h.err("DescribeStateMachine", json!({"stateMachineArn": missing}), "StateMachineDoesNotExist").await;
    h.err("DescribeStateMachine", json!({"stateMachineArn": "not-an-arn"}), "InvalidArn").await;
    h.err(
        "DescribeExecution",
        json!({"executionArn": "arn:aws:states:us-east-1:123456789012:execution:nope:x"}),
        "ExecutionDoesNotExist",
    )
    .await;
    h.err("StartExecution", json!({}), "ValidationException").await;
    let v = h
        .err(
            "CreateStateMachine",
            json!({"name": "bad", "definition": "{\"StartAt\": \"X\", \"States\": {}}", "roleArn": "arn:aws:iam::1:role/r"}),
            "InvalidDefinition",
        )
        .await;
    assert!(v["message"].as_str().unwrap().contains("/States"), "located diagnostics: {v}");
    h.err(
        "CreateStateMachine",
        json!({"name": "bad name", "definition": "{}", "roleArn": "arn:aws:iam::1:role/r"}),
        "InvalidName",
    )
    .await;
    let sm = h.create("ok", json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}})).await;
    h.err("StartExecution", json!({"stateMachineArn": sm, "input": "{not json"}), "InvalidExecutionInput").await;
    let e = h.err("StartExecution", json!({"stateMachineArn": sm, "input": ""}), "InvalidExecutionInput").await;
    assert_eq!(e["message"], "Invalid State Machine Execution Input: 'Invalid execution input.'");
    // A JSON string, number or null is an input too, as on AWS.
    for input in ["\"text\"", "2", "null"] {
        h.ok("StartExecution", json!({"stateMachineArn": sm, "input": input})).await;
    }

    let (status, v) = raw_post(h.http, "AWSStepFunctions.ListStateMachines", "{malformed").await;
    assert_eq!(status, 400);
    assert_eq!(v["__type"], "SerializationException");
    let (status, v) = raw_post(h.http, "AWSStepFunctions.Frobnicate", "{}").await;
    assert_eq!(status, 400);
    assert_eq!(v["__type"], "UnknownOperationException");
    let big = format!("{{\"x\": \"{}\"}}", "a".repeat(5 * 1024 * 1024));
    let (status, v) = raw_post(h.http, "AWSStepFunctions.ListStateMachines", &big).await;
    assert_eq!(status, 400, "the body limit applies, with an AWS-shaped error");
    assert_eq!(v["__type"], "ValidationException");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_and_execution_timeouts_apply() {
    let h = Harness::start().await;
    let sm = h
        .create(
            "timeouts",
            json!({"StartAt": "T", "States": {
                "T": {"Type": "Task", "Resource": format!("{ACTIVITY}:never"), "TimeoutSeconds": 1,
                      "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Caught"}], "End": true},
                "Caught": {"Type": "Pass", "Result": "caught", "End": true}}}),
        )
        .await;
    let arn = h.start_execution(&sm, "t1", json!({})).await;
    let d = h.wait_done(&arn, Duration::from_secs(5)).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    assert_eq!(d["output"], "\"caught\"");

    let sm = h
        .create(
            "exec-timeout",
            json!({"TimeoutSeconds": 1, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": true}}}),
        )
        .await;
    let arn = h.start_execution(&sm, "t2", json!({})).await;
    let d = h.wait_done(&arn, Duration::from_secs(5)).await;
    assert_eq!(d["status"], "TIMED_OUT", "{d}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_split_shards_and_take_over_when_one_leaves() {
    let mut a = Harness::start().await;
    let b = coordinator::serve::start(common::args(&a.redis.url)).await.expect("second replica");
    let owned = |s: &coordinator::serve::Server| s.app.owned.lock().unwrap().len();
    let started = Instant::now();
    loop {
        let (na, nb) = (owned(a.server.as_ref().unwrap()), owned(&b));
        if na == 2 && nb == 2 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "shards not split: {na} + {nb}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Some(s) = a.server.take() {
        s.stop().await;
    }
    let started = Instant::now();
    while owned(&b) < 4 {
        assert!(started.elapsed() < Duration::from_secs(10), "the survivor did not take every shard");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The survivor serves the API and runs executions on every shard.
    a.http = b.http_addr;
    let sm = a.create("after", json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}})).await;
    for i in 0..8 {
        let arn = a.start_execution(&sm, &format!("x{i}"), json!({"i": i})).await;
        assert_eq!(a.wait_done(&arn, Duration::from_secs(5)).await["status"], "SUCCEEDED");
    }
    b.stop().await;
}

/// An API connection left idle past `--http-idle-seconds` is closed by the server; one
/// that keeps sending requests stays open, and a new connection is served as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_api_connections_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let redis = common::TestRedis::start().await;
    let args = coordinator::serve::ServeArgs { http_idle_seconds: 1, ..common::args(&redis.url) };
    let server = coordinator::serve::start(args).await.expect("coordinator starts");
    let request = format!("GET /healthz HTTP/1.1\r\nhost: {}\r\n\r\n", server.http_addr);
    let mut conn = tokio::net::TcpStream::connect(server.http_addr).await.expect("connects");
    let mut buf = vec![0u8; 4096];
    for _ in 0..3 {
        // Busy for longer than the idle limit in all, never idle for that long.
        conn.write_all(request.as_bytes()).await.expect("request sent");
        let n = conn.read(&mut buf).await.expect("response read");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "keep-alive request served");
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    let closed = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await;
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "the idle connection is closed: {closed:?}");
    let (status, _) = raw_get(server.http_addr, "/healthz").await;
    assert_eq!(status, 200, "new connections are still served");
    server.stop().await;
}
