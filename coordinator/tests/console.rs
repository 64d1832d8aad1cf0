//! The web console: the page and its assets, and the graph SVG endpoint against a real
//! coordinator (real Redis, the coordinator in-process, HTTP over a socket).

mod common;

use std::time::Duration;

use common::{Harness, raw_get};
use serde_json::json;

const EXEC: &str = "arn:aws:states:us-east-1:123456789012:execution";
const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine";

/// `raw_get` with the query string percent-encoded.
async fn graph(h: &Harness, param: &str, arn: &str) -> (u16, String) {
    let encoded: String = arn
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect();
    raw_get(h.http, &format!("/console/api/graph.svg?{param}={encoded}")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_page_and_assets_are_served() {
    let h = Harness::start().await;
    let (status, page) = raw_get(h.http, "/console").await;
    assert_eq!(status, 200);
    assert!(page.contains("<title>Stepline console</title>"), "{page}");
    assert!(page.contains("console/app.js") && page.contains("console/style.css"));
    assert!(!page.contains("http://") && !page.contains("https://"), "nothing is loaded from elsewhere");
    let (status, js) = raw_get(h.http, "/console/app.js").await;
    assert_eq!(status, 200);
    assert!(js.contains("X-Amz-Target") && js.contains("console/api/graph.svg"));
    assert_eq!(raw_get(h.http, "/console/style.css").await.0, 200);
    assert_eq!(raw_get(h.http, "/console/").await.0, 308, "redirects to /console");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_svg_draws_a_machine_and_an_execution_path() {
    let h = Harness::start().await;
    let sm = h
        .create(
            "console-demo",
            json!({"StartAt": "Prepare <order>", "States": {
                "Prepare <order>": {"Type": "Pass", "Next": "Big?"},
                "Big?": {"Type": "Choice",
                    "Choices": [{"Variable": "$.amount", "NumericGreaterThan": 100, "Next": "Review"}],
                    "Default": "Reject"},
                "Review": {"Type": "Pass", "End": true},
                "Reject": {"Type": "Fail", "Error": "TooSmall", "Cause": "amount under 100"}
            }}),
        )
        .await;

    let (status, svg) = graph(&h, "stateMachineArn", &sm).await;
    assert_eq!(status, 200, "{svg}");
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{svg}");
    assert!(svg.contains("data-state=\"Prepare &lt;order&gt;\""), "names are escaped: {svg}");
    assert!(!svg.contains("<order>"));
    for name in ["Big?", "Review", "Reject"] {
        assert!(svg.contains(&format!("data-state=\"{name}\"")), "{name} is drawn");
    }
    assert!(!svg.contains(" visited"), "a bare machine has no path");

    let arn = h.start_execution(&sm, "small", json!({"amount": 5})).await;
    let done = h.wait_done(&arn, Duration::from_secs(10)).await;
    assert_eq!(done["status"], "FAILED", "{done}");
    let (status, svg) = graph(&h, "executionArn", &arn).await;
    assert_eq!(status, 200, "{svg}");
    assert!(svg.contains("<g class=\"node state type-pass visited\" data-state=\"Prepare &lt;order&gt;\""), "{svg}");
    assert!(svg.contains("<g class=\"node state type-choice visited\" data-state=\"Big?\""), "{svg}");
    assert!(svg.contains("<g class=\"node state type-fail visited failed\" data-state=\"Reject\""), "{svg}");
    assert!(svg.contains("<g class=\"node state type-pass\" data-state=\"Review\""), "Review was not visited");
    assert!(svg.contains("<g class=\"edge default taken\" data-from=\"Big?\" data-to=\"Reject\">"), "{svg}");
    assert!(svg.contains("<g class=\"edge rule\" data-from=\"Big?\" data-to=\"Review\">"), "{svg}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_svg_refuses_bad_requests_clearly() {
    let h = Harness::start().await;
    let (status, body) = graph(&h, "stateMachineArn", &format!("{MACHINE}:nope")).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.starts_with("StateMachineDoesNotExist: State Machine Does Not Exist"), "{body}");
    let (status, body) = graph(&h, "executionArn", &format!("{EXEC}:nope:x")).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.starts_with("ExecutionDoesNotExist: Execution Does Not Exist"), "{body}");
    let (status, body) = graph(&h, "executionArn", "not-an-arn").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.starts_with("InvalidArn"), "{body}");
    let (status, body) = raw_get(h.http, "/console/api/graph.svg").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("stateMachineArn or executionArn"), "{body}");
    let (status, body) = raw_get(h.http, "/console/api/graph.svg?stateMachineArn=a&executionArn=b").await;
    assert_eq!(status, 400, "{body}");
    h.stop().await;
}

/// A distributed Map's child execution is drawn with its item processor's graph and path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_svg_draws_a_child_execution_of_a_distributed_map() {
    let h = Harness::start().await;
    let sm = h
        .create(
            "console-fan",
            json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Map", "End": true, "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Check", "States": {
                    "Check": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericGreaterThan": 1, "Next": "Big"}],
                              "Default": "Small"},
                    "Big": {"Type": "Pass", "End": true},
                    "Small": {"Type": "Pass", "End": true}}}}}}),
        )
        .await;
    let arn = h.start_execution(&sm, "fan", json!([5])).await;
    assert_eq!(h.wait_done(&arn, Duration::from_secs(10)).await["status"], "SUCCEEDED");
    let run = h.ok("ListMapRuns", json!({"executionArn": arn})).await["mapRuns"][0]["mapRunArn"].clone();
    let child = h.ok("ListExecutions", json!({"mapRunArn": run})).await["executions"][0]["executionArn"].clone();
    let child = child.as_str().expect("a child ARN");
    let described = h.ok("DescribeStateMachineForExecution", json!({"executionArn": child})).await;
    assert_eq!((described["label"].as_str(), described["mapRunArn"] == run), (Some("Fan"), true), "{described}");
    assert_eq!(described["stateMachineArn"], json!(format!("{sm}/Fan")));
    let (status, svg) = graph(&h, "executionArn", child).await;
    assert_eq!(status, 200, "{svg}");
    assert!(svg.contains("<g class=\"node state type-pass visited\" data-state=\"Big\""), "{svg}");
    assert!(svg.contains("<g class=\"node state type-pass\" data-state=\"Small\""), "Small was not visited: {svg}");
    assert!(!svg.contains("data-state=\"Fan\""), "the child's graph is its processor's");
    h.stop().await;
}
