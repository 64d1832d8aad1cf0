//! A Map's ItemReader: the read goes out as a task on the reader's resource, and the
//! Map runs over the items decoded from the worker's answer.

mod common;

use asl::simulate::ExecutionStatus;
use common::*;
use serde_json::{Value, json};

const GET_OBJECT: &str = "arn:aws:states:::s3:getObject";

fn csv_map(reader_extra: Value, ql: &str) -> Value {
    let mut reader = json!({"Resource": GET_OBJECT,
        "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}});
    if let (Some(r), Some(extra)) = (reader.as_object_mut(), reader_extra.as_object()) {
        r.extend(extra.clone());
    }
    json!({"QueryLanguage": ql, "StartAt": "M", "States": {"M": {
        "Type": "Map", "End": true, "ItemReader": reader,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}})
}

#[test]
fn the_read_is_a_task_on_the_resource_with_the_parameters_and_no_task_events() {
    let def = csv_map(json!({"Parameters": {"Bucket": "data", "Key.$": "$.key"}}), "JSONPath");
    let mut d = Driver::start(def, json!({"key": "rows.csv"}));
    let read = d.only_task();
    assert_eq!(
        (read.resource.as_str(), read.input.clone()),
        (GET_OBJECT, json!({"Bucket": "data", "Key": "rows.csv"}))
    );
    assert_eq!(d.types(), ["ExecutionStarted", "MapStateEntered"], "AWS records no task events for the read");
    d.succeed(&read.token, json!({"Body": "id,name\n1,a\n2,b\n"}));
    assert_eq!(d.status(), ExecutionStatus::Succeeded);
    assert_eq!(d.exec.output, Some(json!([{"id": "1", "name": "a"}, {"id": "2", "name": "b"}])));
    let types = d.types();
    assert!(types.contains(&"MapRunStarted".to_string()), "{types:?}");
    let started = d.history().into_iter().find(|e| e["type"] == "MapStateStarted").unwrap_or_default();
    assert_eq!(started["mapStateStartedEventDetails"]["length"], 2);
}

#[test]
fn jsonata_arguments_and_max_items() {
    let def = csv_map(
        json!({"Arguments": {"Bucket": "data", "Key": "{% $states.input.key %}"},
               "ReaderConfig": {"InputType": "JSON", "MaxItems": 2}}),
        "JSONata",
    );
    let mut d = Driver::start(def, json!({"key": "items.json"}));
    let read = d.only_task();
    assert_eq!(read.input, json!({"Bucket": "data", "Key": "items.json"}));
    d.succeed(&read.token, json!("[10, 20, 30]"));
    assert_eq!(d.exec.output, Some(json!([10, 20])));
}

#[test]
fn item_selector_sees_the_read_items_and_the_state_input() {
    let mut def = csv_map(json!({}), "JSONPath");
    def["States"]["M"]["ItemSelector"] = json!({"row.$": "$$.Map.Item.Value", "batch.$": "$.batch"});
    let mut d = Driver::start(def, json!({"batch": 7}));
    let read = d.only_task();
    d.succeed(&read.token, json!("n\nx\n"));
    assert_eq!(d.exec.output, Some(json!([{"row": {"n": "x"}, "batch": 7}])));
}

#[test]
fn a_failed_or_unreadable_read_fails_the_map_with_item_reader_failed() {
    let mut d = Driver::start(csv_map(json!({}), "JSONPath"), json!({}));
    let read = d.only_task();
    d.fail(&read.token, "S3.NoSuchKey", "The specified key does not exist.");
    assert_eq!(d.status(), ExecutionStatus::Failed);
    assert_eq!(d.exec.error.as_deref(), Some("States.ItemReaderFailed"));
    assert_eq!(d.exec.cause.as_deref(), Some("S3.NoSuchKey: The specified key does not exist."));

    let mut d = Driver::start(csv_map(json!({}), "JSONPath"), json!({}));
    let read = d.only_task();
    d.succeed(&read.token, json!("a,b\n1,2,3\n"));
    assert_eq!(d.exec.error.as_deref(), Some("States.ItemReaderFailed"));
    assert_eq!(d.exec.cause.as_deref(), Some("CSV row 1 has 3 fields; the header has 2"));
    assert_eq!(d.types(), ["ExecutionStarted", "MapStateEntered", "MapStateFailed", "ExecutionFailed"]);
}

#[test]
fn a_retried_read_and_a_stop_while_reading() {
    let mut def = csv_map(json!({}), "JSONPath");
    def["States"]["M"]["Retry"] = json!([{"ErrorEquals": ["States.ItemReaderFailed"], "MaxAttempts": 1}]);
    let mut d = Driver::start(def, json!({}));
    let first = d.only_task();
    d.fail(&first.token, "Throttled", "");
    d.fire_next_timer();
    let second = d.only_task();
    assert_ne!(first.token, second.token, "each read is a task of its own");
    d.send(asl::engine::Event::Stop { error: None, cause: None });
    assert_eq!(d.status(), ExecutionStatus::Aborted);
    assert!(d.tasks.is_empty(), "the read was withdrawn");
    assert!(!d.types().contains(&"TaskStateAborted".to_string()), "{:?}", d.types());
}

#[test]
fn a_listing_gives_one_item_per_object() {
    let def = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "End": true,
        "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b", "Prefix": "in/"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "K", "States": {"K": {"Type": "Pass", "InputPath": "$.Key", "End": true}}}}}});
    let mut d = Driver::start(def, json!({}));
    let read = d.only_task();
    d.succeed(&read.token, json!({"Contents": [{"Key": "in/a", "Size": 1}, {"Key": "in/b", "Size": 2}]}));
    assert_eq!(d.exec.output, Some(json!(["in/a", "in/b"])));
}
