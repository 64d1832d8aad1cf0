//! Many concurrent executions through batched polls and batched results: every one
//! must finish exactly once with its own output.

mod common;

use std::time::{Duration, Instant};

use common::Harness;
use serde_json::{Value, json};
use stepline_proto::worker::v1 as pb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_executions_through_batched_workers() {
    const N: usize = 300;
    let h = Harness::start().await;
    let sm = h
        .create(
            "bulk",
            json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "stepline:queue:bulk",
                "ResultPath": "$.r", "Next": "C"},
                "C": {"Type": "Choice", "Choices": [{"Variable": "$.r.even", "BooleanEquals": true, "Next": "Even"}], "Default": "Odd"},
                "Even": {"Type": "Pass", "Result": "even", "ResultPath": "$.kind", "End": true},
                "Odd": {"Type": "Pass", "Result": "odd", "ResultPath": "$.kind", "End": true}}}),
        )
        .await;
    let started = Instant::now();
    let mut worker = h.worker().await;
    let serve = tokio::spawn(async move {
        let mut served = 0;
        while served < N {
            let tasks = worker
                .poll_tasks(pb::PollTasksRequest {
                    queue: "bulk".into(),
                    max_tasks: 100,
                    wait_time_ms: 2000,
                    worker_id: "w".into(),
                })
                .await
                .expect("poll")
                .into_inner()
                .tasks;
            let results = tasks
                .iter()
                .map(|t| {
                    let input: Value = serde_json::from_str(&t.input_json).unwrap_or_default();
                    let even = input["i"].as_u64().unwrap_or(1).is_multiple_of(2);
                    pb::TaskResult {
                        token: t.token.clone(),
                        outcome: Some(pb::task_result::Outcome::OutputJson(json!({"even": even}).to_string())),
                    }
                })
                .collect();
            served += tasks.len();
            let r = worker.report_results(pb::ReportResultsRequest { results }).await.expect("report").into_inner();
            assert!(r.rejections.iter().all(String::is_empty), "{r:?}");
        }
        served
    });
    let mut arns = Vec::new();
    for i in 0..N {
        arns.push(h.start_execution(&sm, &format!("b{i}"), json!({"i": i})).await);
    }
    assert_eq!(serve.await.expect("worker"), N);
    for (i, arn) in arns.iter().enumerate() {
        let d = h.wait_done(arn, Duration::from_secs(20)).await;
        assert_eq!(d["status"], "SUCCEEDED", "{d}");
        let out: Value = serde_json::from_str(d["output"].as_str().unwrap()).unwrap();
        assert_eq!(out["i"], i);
        assert_eq!(out["kind"], if i % 2 == 0 { "even" } else { "odd" });
    }
    eprintln!("{N} executions in {:?}", started.elapsed());
    h.stop().await;
}
