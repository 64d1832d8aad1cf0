//! The AWS API beyond the basics, end to end against Redis: activities shared between
//! GetActivityTask and gRPC workers, `.waitForTaskToken` callbacks, versions and aliases.

mod common;

use std::time::Duration;

use common::{Harness, poll_one};
use serde_json::{Value, json};
use stepline_proto::worker::v1 as pb;
use stepline_worker::{Handler, Worker, WorkerConfig};

/// A worker of the SDK serving `queue` with `handler`, until `stop`.
struct SdkWorker {
    stop: tokio::sync::oneshot::Sender<()>,
    running: tokio::task::JoinHandle<()>,
}

impl SdkWorker {
    fn start<H: Handler>(h: &Harness, queue: &str, handler: H) -> SdkWorker {
        let worker = Worker::new(WorkerConfig::new(format!("http://{}", h.grpc), queue), handler).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(async move {
            let _ = worker
                .run_until(async {
                    let _ = stopped.await;
                })
                .await;
        });
        SdkWorker { stop, running }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.running.await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_tasks_reach_get_activity_task_and_grpc_workers() {
    let h = Harness::start().await;
    let act = h.ok("CreateActivity", json!({"name": "shared"})).await["activityArn"].as_str().unwrap().to_string();
    let sm = h
        .create(
            "acts",
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Task", "Resource": act, "Next": "B"},
                "B": {"Type": "Task", "Resource": act, "End": true}}}),
        )
        .await;
    let arn = h.start_execution(&sm, "x1", json!({"n": 1})).await;
    // First task through the HTTP long poll, completed with SendTaskSuccess.
    let t = h.ok("GetActivityTask", json!({"activityArn": act})).await;
    assert_eq!(serde_json::from_str::<Value>(t["input"].as_str().unwrap()).unwrap(), json!({"n": 1}));
    h.ok("SendTaskSuccess", json!({"taskToken": t["taskToken"], "output": "{\"n\": 2}"})).await;
    // Second through gRPC on the queue named after the activity.
    let mut w = h.worker().await;
    let task = poll_one(&mut w, "shared", Duration::from_secs(5)).await;
    assert_eq!(serde_json::from_str::<Value>(&task.input_json).unwrap(), json!({"n": 2}));
    w.complete_task(pb::CompleteTaskRequest { token: task.token, output_json: "{\"n\": 3}".into() }).await.unwrap();
    let d = h.wait_done(&arn, Duration::from_secs(5)).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    h.err("GetActivityTask", json!({"activityArn": format!("{act}-gone")}), "ActivityDoesNotExist").await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_task_token_ignores_the_worker_result_until_the_callback() {
    let h = Harness::start().await;
    let sm = h
        .create(
            "cb",
            json!({"StartAt": "C", "States": {"C": {"Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "notify", "Payload": {"token.$": "$$.Task.Token"}}, "End": true}}}),
        )
        .await;
    let arn = h.start_execution(&sm, "c1", json!({})).await;
    let mut w = h.worker().await;
    let task = poll_one(&mut w, "notify", Duration::from_secs(5)).await;
    let input: Value = serde_json::from_str(&task.input_json).unwrap();
    assert_eq!(input["token"], json!(task.token), "$$.Task.Token is the task's token");
    // The worker's own result only acknowledges delivery.
    w.complete_task(pb::CompleteTaskRequest { token: task.token.clone(), output_json: "{\"lambda\": 1}".into() })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let d = h.ok("DescribeExecution", json!({"executionArn": arn})).await;
    assert_eq!(d["status"], "RUNNING");
    h.ok("SendTaskSuccess", json!({"taskToken": task.token, "output": "{\"callback\": 1}"})).await;
    let d = h.wait_done(&arn, Duration::from_secs(5)).await;
    assert_eq!(serde_json::from_str::<Value>(d["output"].as_str().unwrap()).unwrap(), json!({"callback": 1}));
    h.err("SendTaskSuccess", json!({"taskToken": task.token, "output": "{}"}), "TaskTimedOut").await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_start_on_versions_and_aliases() {
    let h = Harness::start().await;
    let sm =
        h.create("vers", json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 1, "End": true}}})).await;
    let v1 = h.ok("PublishStateMachineVersion", json!({"stateMachineArn": sm})).await["stateMachineVersionArn"]
        .as_str()
        .unwrap()
        .to_string();
    let def2 = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 2, "End": true}}}).to_string();
    h.ok("UpdateStateMachine", json!({"stateMachineArn": sm, "definition": def2})).await;
    let alias = h
        .ok(
            "CreateStateMachineAlias",
            json!({"name": "live", "routingConfiguration": [{"stateMachineVersionArn": v1, "weight": 100}]}),
        )
        .await["stateMachineAliasArn"]
        .as_str()
        .unwrap()
        .to_string();
    for (target, expect) in [(alias.as_str(), 1), (sm.as_str(), 2), (v1.as_str(), 1)] {
        let x = h.ok("StartExecution", json!({"stateMachineArn": target})).await;
        let d = h.wait_done(x["executionArn"].as_str().unwrap(), Duration::from_secs(5)).await;
        assert_eq!(d["output"], json!(expect.to_string()), "{target}: {d}");
    }
    let listed = h.ok("ListExecutions", json!({"stateMachineArn": sm})).await;
    let rows = listed["executions"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    // Each row names the version and alias it ran on, as DescribeExecution does.
    let on = |field: &str| rows.iter().filter(|r| r.get(field).is_some()).count();
    assert_eq!((on("stateMachineVersionArn"), on("stateMachineAliasArn")), (2, 1), "{listed}");
    assert!(rows.iter().filter_map(|r| r.get("stateMachineAliasArn")).all(|a| *a == json!(alias)), "{listed}");
    h.stop().await;
}

/// History event timestamps go out as AWS JSON 1.0 sends timestamps: epoch seconds, a
/// number (strict SDKs refuse a string), between the execution's start and stop dates (to the
/// millisecond).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_timestamps_are_epoch_seconds() {
    let h = Harness::start().await;
    let sm = h
        .create("stamps", json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "W"}, "W": {"Type": "Wait", "Seconds": 1, "End": true}}}))
        .await;
    let arn = h.start_execution(&sm, "e", json!({})).await;
    let d = h.wait_done(&arn, Duration::from_secs(10)).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    let (start, stop) = (d["startDate"].as_f64().expect("a number"), d["stopDate"].as_f64().expect("a number"));
    // The dates carry microseconds and history timestamps AWS's milliseconds, so an event in the
    // execution's first millisecond is stamped with that millisecond, a little before startDate.
    let start = (start * 1000.0).floor() / 1000.0;
    for reverse in [false, true] {
        let v = h.ok("GetExecutionHistory", json!({"executionArn": arn, "reverseOrder": reverse})).await;
        let stamps: Vec<f64> = v["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["timestamp"].as_f64().unwrap_or_else(|| panic!("timestamp is a number: {e}")))
            .collect();
        assert_eq!(stamps.len(), 6, "{v}");
        assert!(stamps.iter().all(|t| (start..=stop).contains(t)), "{stamps:?} within {start}..={stop}");
        let (first, last) = if reverse { (stamps[5], stamps[0]) } else { (stamps[0], stamps[5]) };
        assert!(last - first >= 0.999, "the Wait of 1 s lies between the first and last events: {stamps:?}");
    }
    h.stop().await;
}

/// Messages as AWS words them (recorded responses): an ARN that is no ARN, an unknown
/// status filter, an overlong page token, and why a finished execution cannot be redriven.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_words_for_bad_requests() {
    let h = Harness::start().await;
    for action in ["DescribeExecution", "GetExecutionHistory"] {
        let e = h.err(action, json!({"executionArn": "invalid_state_machine_arn"}), "InvalidArn").await;
        assert_eq!(e["message"], "Invalid Arn: 'Invalid ARN prefix: invalid_state_machine_arn'");
    }
    let sm = h.create("words", json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}})).await;
    let e = h
        .err("ListExecutions", json!({"stateMachineArn": sm, "statusFilter": "succeeded"}), "ValidationException")
        .await;
    assert_eq!(
        e["message"],
        "1 validation error detected: Value 'succeeded' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [SUCCEEDED, TIMED_OUT, PENDING_REDRIVE, ABORTED, FAILED, RUNNING]"
    );
    let long = "t".repeat(1025);
    let e = h.err("ListStateMachines", json!({"nextToken": long}), "ValidationException").await;
    assert_eq!(
        e["message"],
        format!(
            "1 validation error detected: Value '{long}' at 'nextToken' failed to satisfy constraint: Member must have length less than or equal to 1024"
        )
    );
    // ListExecutions takes longer tokens than the other list actions.
    let long = "t".repeat(3097);
    let e = h.err("ListExecutions", json!({"stateMachineArn": sm, "nextToken": long}), "ValidationException").await;
    assert_eq!(
        e["message"],
        format!(
            "1 validation error detected: Value '{long}' at 'nextToken' failed to satisfy constraint: Member must have length less than or equal to 3096"
        )
    );
    let arn = h.start_execution(&sm, "done", json!({})).await;
    let d = h.wait_done(&arn, Duration::from_secs(10)).await;
    let listed = h.ok("ListExecutions", json!({"stateMachineArn": sm})).await;
    assert_eq!(listed["executions"][0]["redriveCount"], 0, "{listed}");
    assert_eq!(
        (&d["redriveStatus"], &d["redriveStatusReason"]),
        (&json!("NOT_REDRIVABLE"), &json!("Execution is SUCCEEDED and cannot be redriven"))
    );
    h.stop().await;
}

/// A distributed Map's items run as child executions: listed by map run, described and
/// with histories of their own while the parent runs, counted in DescribeMapRun, and
/// aborted with the parent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_map_children_are_executions_of_their_own() {
    let h = Harness::start().await;
    let act = h.ok("CreateActivity", json!({"name": "items"})).await["activityArn"].as_str().unwrap().to_string();
    let sm = h
        .create(
            "fan",
            json!({"StartAt": "M", "States": {"M": {
                "Type": "Map", "Label": "Items", "ToleratedFailureCount": 1, "End": true,
                "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": act, "End": true}}}}}}),
        )
        .await;
    let arn = h.start_execution(&sm, "run", json!([1, 2, 3])).await;
    let mut w = h.worker().await;
    let mut held = None;
    for _ in 0..3 {
        let task = poll_one(&mut w, "items", Duration::from_secs(5)).await;
        match serde_json::from_str::<Value>(&task.input_json).unwrap() {
            v if v == json!(1) => {
                w.complete_task(pb::CompleteTaskRequest { token: task.token, output_json: "\"one\"".into() })
                    .await
                    .unwrap();
            }
            v if v == json!(2) => {
                let failed = pb::FailTaskRequest { token: task.token, error: "Bad".into(), cause: "two".into() };
                w.fail_task(failed).await.unwrap();
            }
            _ => held = Some(task),
        }
    }
    assert!(held.is_some(), "item 3 is held");
    let runs = h.ok("ListMapRuns", json!({"executionArn": arn})).await;
    let run = runs["mapRuns"][0]["mapRunArn"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let counts = loop {
        let counts = h.ok("DescribeMapRun", json!({"mapRunArn": run})).await["executionCounts"].clone();
        if counts["succeeded"] == 1 && counts["failed"] == 1 || std::time::Instant::now() > deadline {
            break counts;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        (counts["succeeded"].clone(), counts["failed"].clone(), counts["running"].clone()),
        (json!(1), json!(1), json!(1)),
        "{counts}"
    );
    let running = h.ok("ListExecutions", json!({"mapRunArn": run, "statusFilter": "RUNNING"})).await;
    let child = running["executions"][0]["executionArn"].as_str().unwrap().to_string();
    let d = h.ok("DescribeExecution", json!({"executionArn": child})).await;
    assert_eq!((d["status"].as_str(), d["input"].as_str()), (Some("RUNNING"), Some("3")), "{d}");
    assert!(d.get("stopDate").is_none(), "{d}");
    let failed = h.ok("ListExecutions", json!({"mapRunArn": run, "statusFilter": "FAILED"})).await;
    let failed = h.ok("DescribeExecution", json!({"executionArn": failed["executions"][0]["executionArn"]})).await;
    assert_eq!((failed["error"].as_str(), failed["cause"].as_str()), (Some("Bad"), Some("two")), "{failed}");
    assert!(
        !h.history_types(&arn).await.iter().any(|t| t.starts_with("Activity")),
        "the parent shows the map run only"
    );
    // A child ends with its parent, not alone: refused with a reason, nothing changes.
    h.err("StopExecution", json!({"executionArn": child}), "ValidationException").await;
    h.ok("StopExecution", json!({"executionArn": arn})).await;
    assert_eq!(h.wait_done(&arn, Duration::from_secs(5)).await["status"], "ABORTED");
    let types = h.history_types(&child).await;
    assert_eq!(types.first().map(String::as_str), Some("ExecutionStarted"));
    assert_eq!(&types[types.len() - 2..], ["TaskStateAborted", "ExecutionAborted"], "{types:?}");
    let all = h.ok("ListExecutions", json!({"mapRunArn": run})).await;
    let mut statuses: Vec<&str> =
        all["executions"].as_array().unwrap().iter().filter_map(|e| e["status"].as_str()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, ["ABORTED", "FAILED", "SUCCEEDED"]);
    h.err("ListExecutions", json!({"mapRunArn": run, "stateMachineArn": sm}), "ValidationException").await;
    h.stop().await;
}

/// UpdateMapRun reaches the running map run: a higher MaxConcurrency starts more
/// children at once, a raised tolerance lets a failed child pass, and DescribeMapRun
/// shows the limits in force, during the run and after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_map_run_changes_the_running_map_run() {
    let h = Harness::start().await;
    let act = h.ok("CreateActivity", json!({"name": "slow"})).await["activityArn"].as_str().unwrap().to_string();
    let sm = h
        .create(
            "limited",
            json!({"StartAt": "M", "States": {"M": {
                "Type": "Map", "MaxConcurrency": 1, "End": true,
                "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": act, "End": true}}}}}}),
        )
        .await;
    let arn = h.start_execution(&sm, "run", json!([1, 2, 3])).await;
    let mut w = h.worker().await;
    let first = poll_one(&mut w, "slow", Duration::from_secs(5)).await;
    let idle = pb::PollTasksRequest { queue: "slow".into(), max_tasks: 1, wait_time_ms: 300, worker_id: "t".into() };
    assert!(w.poll_tasks(idle).await.unwrap().into_inner().tasks.is_empty(), "one child at a time");
    let runs = h.ok("ListMapRuns", json!({"executionArn": arn})).await;
    let run = runs["mapRuns"][0]["mapRunArn"].as_str().unwrap().to_string();
    let limits = |d: &Value| (d["maxConcurrency"].clone(), d["toleratedFailureCount"].clone());
    assert_eq!(limits(&h.ok("DescribeMapRun", json!({"mapRunArn": run})).await), (json!(1), json!(0)));

    h.ok("UpdateMapRun", json!({"mapRunArn": run, "maxConcurrency": 3, "toleratedFailureCount": 1})).await;
    let second = poll_one(&mut w, "slow", Duration::from_secs(5)).await;
    let third = poll_one(&mut w, "slow", Duration::from_secs(5)).await;
    assert_eq!(limits(&h.ok("DescribeMapRun", json!({"mapRunArn": run})).await), (json!(3), json!(1)));

    let failed = pb::FailTaskRequest { token: second.token, error: "Bad".into(), cause: "tolerated".into() };
    w.fail_task(failed).await.unwrap();
    for t in [first, third] {
        w.complete_task(pb::CompleteTaskRequest { token: t.token, output_json: t.input_json }).await.unwrap();
    }
    let done = h.wait_done(&arn, Duration::from_secs(5)).await;
    assert_eq!(done["status"], "SUCCEEDED", "one failure was tolerated after the update: {done}");
    let after = h.ok("DescribeMapRun", json!({"mapRunArn": run})).await;
    assert_eq!((limits(&after), after["status"].clone()), ((json!(3), json!(1)), json!("SUCCEEDED")));
    assert_eq!(after["executionCounts"]["failed"], 1, "{after}");
    // An ended run has nothing left to change; bad values are refused.
    h.ok("UpdateMapRun", json!({"mapRunArn": run, "maxConcurrency": 7})).await;
    assert_eq!(limits(&h.ok("DescribeMapRun", json!({"mapRunArn": run})).await), (json!(3), json!(1)));
    h.err("UpdateMapRun", json!({"mapRunArn": run, "toleratedFailurePercentage": 101}), "ValidationException").await;
    h.stop().await;
}

/// A distributed Map's ItemReader, end to end: the read goes to the queue named after
/// `s3:getObject`, where the worker's built-in `files` handler serves it from a
/// directory, and each CSV row runs as a child execution.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_reader_reads_items_through_the_files_worker() {
    use stepline_worker::builtin::S3Files;

    let h = Harness::start().await;
    let root = std::env::temp_dir().join(format!("stepline-item-reader-{}", std::process::id()));
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::write(root.join("data/rows.csv"), "id,name\n1,ann\n2,bob\n3,cy\n").unwrap();
    let get = "arn:aws:states:::s3:getObject";
    let files = SdkWorker::start(&h, get, S3Files { root: root.clone() });
    let sm = h
        .create(
            "reader",
            json!({"StartAt": "M", "States": {"M": {
                "Type": "Map", "End": true,
                "ItemReader": {"Resource": get, "ReaderConfig": {"InputType": "CSV", "MaxItems": 2},
                               "Parameters": {"Bucket": "data", "Key.$": "$.key"}},
                "ItemSelector": {"name.$": "$$.Map.Item.Value.name"},
                "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}}),
        )
        .await;
    let arn = h.start_execution(&sm, "csv", json!({"key": "rows.csv"})).await;
    let done = h.wait_done(&arn, Duration::from_secs(10)).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(output, json!([{"name": "ann"}, {"name": "bob"}]), "MaxItems 2 of the CSV's rows");
    let run = h.ok("ListMapRuns", json!({"executionArn": arn})).await["mapRuns"][0]["mapRunArn"].clone();
    let children = h.ok("ListExecutions", json!({"mapRunArn": run})).await;
    assert_eq!(children["executions"].as_array().map(Vec::len), Some(2));

    let missing = h.start_execution(&sm, "missing", json!({"key": "nope.csv"})).await;
    let failed = h.wait_done(&missing, Duration::from_secs(10)).await;
    assert_eq!(
        (failed["status"].as_str(), failed["error"].as_str()),
        (Some("FAILED"), Some("States.ItemReaderFailed"))
    );
    assert_eq!(failed["cause"], "S3.NoSuchKey: The specified key does not exist.");
    files.stop().await;
    let _ = std::fs::remove_dir_all(root);
    h.stop().await;
}

/// `examples/csv-map` runs as its README says: the `files` worker reads the CSV, an echo
/// worker answers the activity, and the summary counts the rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csv_map_example_runs() {
    use stepline_worker::builtin::{Echo, S3Files};

    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/csv-map");
    let h = Harness::start().await;
    h.ok("CreateActivity", json!({"name": "price-order"})).await;
    let reader = SdkWorker::start(&h, "arn:aws:states:::s3:getObject", S3Files { root: example.join("files") });
    let pricer = SdkWorker::start(&h, "price-order", Echo);
    let definition: Value =
        serde_json::from_str(&std::fs::read_to_string(example.join("definition.asl.json")).unwrap()).unwrap();
    let sm = h.create("csv-map", definition).await;
    let arn = h.start_execution(&sm, "november", json!({"bucket": "orders", "key": "2026/11.csv"})).await;
    let done = h.wait_done(&arn, Duration::from_secs(10)).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["orders"], 5, "{output}");
    assert_eq!(output["priced"][2], json!({"id": "A-1003", "customer": "Lee, Cy", "amount": 30.25}));
    reader.stop().await;
    pricer.stop().await;
    h.stop().await;
}

/// DescribeMapRun gives the limits a map run started with, also when the definition reads
/// them from the input (`…Path`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_map_run_shows_limits_read_from_the_input() {
    let h = Harness::start().await;
    let sm = h
        .create(
            "pathed",
            json!({"StartAt": "M", "States": {"M": {
                "Type": "Map", "ItemsPath": "$.items", "MaxConcurrencyPath": "$.mc",
                "ToleratedFailurePercentagePath": "$.pct", "End": true,
                "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}}),
        )
        .await;
    let arn = h.start_execution(&sm, "pathed", json!({"items": [1, 2, 3], "mc": 2, "pct": 25})).await;
    assert_eq!(h.wait_done(&arn, Duration::from_secs(5)).await["status"], "SUCCEEDED");
    let run = h.ok("ListMapRuns", json!({"executionArn": arn})).await["mapRuns"][0]["mapRunArn"].clone();
    let d = h.ok("DescribeMapRun", json!({"mapRunArn": run})).await;
    assert_eq!(
        (&d["maxConcurrency"], &d["toleratedFailurePercentage"], &d["toleratedFailureCount"]),
        (&json!(2), &json!(25.0), &json!(0)),
        "{d}"
    );
    h.stop().await;
}
