//! Bad input against a real `stepline serve` process: each gets a clear error and the
//! coordinator keeps serving.

mod cluster;

use std::time::Duration;

use cluster::{Coordinator, Redis, TempDir, count, post};
use serde_json::{Value, json};
use stepline_proto::worker::v1 as pb;
use stepline_proto::worker::v1::worker_client::WorkerClient;
use tokio::io::AsyncWriteExt;
use tonic::Code;

async fn poll(w: &mut WorkerClient<tonic::transport::Channel>, queue: &str, wait_ms: u32) -> Vec<pb::Task> {
    let req = pb::PollTasksRequest { queue: queue.into(), max_tasks: 1, wait_time_ms: wait_ms, worker_id: "t".into() };
    w.poll_tasks(req).await.expect("poll works").into_inner().tasks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors_and_the_coordinator_keeps_serving() {
    let dir = TempDir::new("bad-input");
    let redis = Redis::start(&dir.0).await;
    let coord = Coordinator::start(&dir.0, "coordinator", &redis.url).await;
    let api = coord.api();
    let mut w =
        WorkerClient::connect(coord.grpc_url()).await.expect("gRPC connects").max_decoding_message_size(usize::MAX);

    // Garbage and forged tokens, on every call that takes one.
    for token in ["garbage", "", "0.0.0.0", "99999.aa.bb.1"] {
        let e = w.complete_task(pb::CompleteTaskRequest { token: token.into(), output_json: "{}".into() }).await;
        let e = e.expect_err("garbage token refused");
        assert_eq!(e.code(), Code::InvalidArgument, "{token}: {e:?}");
        assert!(e.message().starts_with("InvalidToken"), "{e:?}");
        let e = w.fail_task(pb::FailTaskRequest { token: token.into(), ..Default::default() }).await.unwrap_err();
        assert!(e.message().starts_with("InvalidToken"), "{e:?}");
        let e = w.heartbeat(pb::HeartbeatRequest { token: token.into() }).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
        let (status, v) = api.call("SendTaskSuccess", &json!({"taskToken": token, "output": "{}"})).await;
        // AWS checks the length first: an empty token is a ValidationException.
        let want = if token.is_empty() { "ValidationException" } else { "InvalidToken" };
        assert_eq!((status, v["__type"].as_str()), (400, Some(want)), "{v}");
    }
    w.release_tasks(pb::ReleaseTasksRequest { tokens: vec!["garbage".into()] }).await.expect("ignored, not fatal");

    // Polling a queue nobody ever used returns empty after the wait.
    assert!(poll(&mut w, "no-such-queue", 200).await.is_empty());
    let e = w.poll_tasks(pb::PollTasksRequest::default()).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "a poll needs a queue: {e:?}");

    // A Task whose queue has no worker just waits.
    let sm = api
        .create(
            "lonely",
            &json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "stepline:queue:nobody-serves", "End": true}}}),
        )
        .await;
    let lonely = api.start(&sm, "lonely-1", &json!({})).await;

    // A 10 MB task result: the call is accepted and the task fails with
    // States.DataLimitExceeded, as on AWS when a Lambda function returns more than
    // 256 KiB; the execution fails with that error unless the state catches it.
    let sm = api
        .create(
            "big",
            &json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "stepline:queue:big-results", "End": true}}}),
        )
        .await;
    let big = api.start(&sm, "big-1", &json!({})).await;
    let task = loop {
        if let Some(t) = poll(&mut w, "big-results", 1000).await.pop() {
            break t;
        }
    };
    let huge = format!("{{\"blob\": \"{}\"}}", "x".repeat(10 * 1024 * 1024));
    w.complete_task(pb::CompleteTaskRequest { token: task.token.clone(), output_json: huge }).await.expect("accepted");
    let d = api.wait_all(std::slice::from_ref(&big), Duration::from_secs(10)).await.remove(0);
    assert_eq!(d["status"], "FAILED", "{d}");
    assert_eq!(d["error"], "States.DataLimitExceeded", "{d}");
    assert!(d["cause"].as_str().unwrap_or("").contains("payload limit"), "{d}");
    // Its token is spent now.
    let e = w.complete_task(pb::CompleteTaskRequest { token: task.token, output_json: "1".into() }).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");

    // Output that is not JSON is refused with a clear message; the task stays pending.
    let sm2 = api
        .create(
            "notjson",
            &json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "stepline:queue:notjson", "End": true}}}),
        )
        .await;
    let nj = api.start(&sm2, "nj-1", &json!({})).await;
    let task = loop {
        if let Some(t) = poll(&mut w, "notjson", 1000).await.pop() {
            break t;
        }
    };
    let e = w
        .complete_task(pb::CompleteTaskRequest { token: task.token.clone(), output_json: "{oops".into() })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("not JSON"), "{e:?}");
    w.complete_task(pb::CompleteTaskRequest { token: task.token, output_json: "[1]".into() }).await.expect("then ok");
    let d = api.wait_all(std::slice::from_ref(&nj), Duration::from_secs(10)).await.remove(0);
    assert_eq!(d["output"], "[1]", "{d}");

    // Invalid definitions, named as AWS names them, with the location of the fault.
    for (definition, located) in [
        (json!({"StartAt": "Nope", "States": {"P": {"Type": "Pass", "End": true}}}).to_string(), "/StartAt"),
        (json!({"StartAt": "P", "States": {"P": {"Type": "Pass"}}}).to_string(), "/States/P"),
        ("{not json".to_string(), ""),
        (String::new(), ""),
    ] {
        let body = json!({"name": "bad", "definition": definition, "roleArn": "arn:aws:iam::123456789012:role/r"});
        let (status, v) = api.call("CreateStateMachine", &body).await;
        assert_eq!(status, 400, "{v}");
        assert!(
            ["InvalidDefinition", "ValidationException"].contains(&v["__type"].as_str().unwrap_or("")),
            "{definition}: {v}"
        );
        assert!(v["message"].as_str().unwrap_or("").contains(located), "{definition}: {v}");
    }

    // Malformed requests.
    for (action, body, error) in [
        ("ListStateMachines", "{malformed", "SerializationException"),
        ("ListStateMachines", "[1, 2]", "SerializationException"),
        ("StartExecution", "{\"stateMachineArn\": 7}", "SerializationException"),
        ("Frobnicate", "{}", "UnknownOperationException"),
    ] {
        let (status, v) = post(coord.http, action, body).await;
        assert_eq!((status, v["__type"].as_str()), (400, Some(error)), "{action} {body}: {v}");
    }
    let (status, v) = api.call("StartExecution", &json!({"stateMachineArn": sm, "input": "{not json"})).await;
    assert_eq!((status, v["__type"].as_str()), (400, Some("InvalidExecutionInput")), "{v}");
    // Not even HTTP: the connection is dropped, nothing else happens.
    if let Ok(mut s) = tokio::net::TcpStream::connect(coord.http).await {
        let _ = s.write_all(b"\x00\x01garbage\r\n\r\n").await;
    }
    if let Ok(mut s) = tokio::net::TcpStream::connect(coord.grpc).await {
        let _ = s.write_all(b"GET / HTTP/1.1\r\n\r\n").await;
    }

    // Still serving: the lonely task is still waiting, and a new execution runs.
    let d = api.describe(&lonely).await;
    assert_eq!(d["status"], "RUNNING", "a task with no worker waits: {d}");
    let h = api.history(&lonely).await;
    assert_eq!(count(&h, "TaskScheduled"), 1, "{h:?}");
    let ok = api.create("ok", &json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}})).await;
    let arn = api.start(&ok, "ok-1", &json!({"still": "serving"})).await;
    let d = api.wait_all(&[arn], Duration::from_secs(10)).await.remove(0);
    assert_eq!(d["status"], "SUCCEEDED");
    let output: Value = serde_json::from_str(d["output"].as_str().unwrap_or("null")).unwrap();
    assert_eq!(output, json!({"still": "serving"}));
}
