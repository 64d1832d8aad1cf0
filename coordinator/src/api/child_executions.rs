//! A distributed Map's child executions through the execution API: DescribeExecution,
//! GetExecutionHistory and DescribeStateMachineForExecution of a child ARN, and
//! ListExecutions with `mapRunArn`. Each
//! child's history is a list in its parent's shard (see `asl::map_run_arns`); what
//! these calls answer is read from its first and last events.

use asl::map_run_arns::{child_execution_arn, child_execution_parts, child_state_machine_arn, map_run_parent};
use serde_json::{Value, json};

use super::executions::no_execution;
use super::map_runs::{MapRun, history, map_runs};
use super::{ApiError, ApiResult, Params, event_ms, page_token, timestamp};
use crate::serve::App;

/// Most children whose ends one Redis round trip reads.
pub const READ_CHUNK: usize = 500;

/// A child execution as its first and last history events tell it.
#[derive(Debug)]
pub struct ChildSummary {
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `ABORTED` or `TIMED_OUT`.
    pub status: &'static str,
    start_ms: i64,
    stop_ms: Option<i64>,
    input: Value,
    end: Value,
}

impl ChildSummary {
    /// The summary of a child whose first and last events are these texts.
    fn of(first: &str, last: &str) -> Option<ChildSummary> {
        let first: Value = serde_json::from_str(first).ok()?;
        let last: Value = serde_json::from_str(last).ok()?;
        let status = match last["type"].as_str().unwrap_or_default() {
            "ExecutionSucceeded" => "SUCCEEDED",
            "ExecutionFailed" => "FAILED",
            "ExecutionAborted" => "ABORTED",
            "ExecutionTimedOut" => "TIMED_OUT",
            _ => "RUNNING",
        };
        Some(ChildSummary {
            status,
            start_ms: event_ms(&first).unwrap_or(0),
            stop_ms: (status != "RUNNING").then(|| event_ms(&last).unwrap_or(0)),
            input: first["executionStartedEventDetails"]["input"].clone(),
            end: last,
        })
    }
}

/// The map run a map run ARN names, with its parent execution's ARN.
pub async fn find_map_run(app: &App, map_run_arn: &str) -> Result<(String, MapRun), ApiError> {
    let parent = map_run_parent(map_run_arn).ok_or_else(|| ApiError::invalid_arn(map_run_arn))?;
    let not_found = || ApiError::new("ResourceNotFound", format!("Resource not found: '{map_run_arn}'"));
    let run =
        map_runs(&history(app, &parent).await?).into_iter().find(|r| r.arn == map_run_arn).ok_or_else(not_found)?;
    Ok((parent, run))
}

/// The summaries of children `indexes` of a map run (None for those not started).
pub async fn summaries(
    app: &App,
    parent: &str,
    map_run_arn: &str,
    indexes: &[usize],
) -> Result<Vec<Option<ChildSummary>>, ApiError> {
    let arns: Vec<String> = indexes.iter().map(|&i| child_execution_arn(map_run_arn, i)).collect();
    let ends = app.store.child_ends(parent, &arns).await?;
    Ok(ends.into_iter().map(|e| e.and_then(|(first, last)| ChildSummary::of(&first, &last))).collect())
}

/// DescribeExecution of a child execution ARN, or None when `arn` is not one.
pub async fn describe(app: &App, arn: &str) -> Option<ApiResult> {
    let (map_run_arn, index) = child_execution_parts(arn)?;
    Some(describe_child(app, arn, &map_run_arn, index).await)
}

/// The parent's ARN and the summary of the child `arn` (item `index` of `map_run_arn`),
/// or ExecutionDoesNotExist when it has not started.
async fn find_child(app: &App, arn: &str, map_run_arn: &str, index: usize) -> Result<(String, ChildSummary), ApiError> {
    let parent = map_run_parent(map_run_arn).ok_or_else(|| ApiError::invalid_arn(arn))?;
    let summary =
        summaries(app, &parent, map_run_arn, &[index]).await?.pop().flatten().ok_or_else(|| no_execution(arn))?;
    Ok((parent, summary))
}

async fn describe_child(app: &App, arn: &str, map_run_arn: &str, index: usize) -> ApiResult {
    let (_, summary) = find_child(app, arn, map_run_arn, index).await?;
    let mut v = item_json(arn, map_run_arn, &summary);
    v["input"] = summary.input.clone();
    v["inputDetails"] = json!({"included": true});
    let end = &summary.end;
    if let Some(out) = end["executionSucceededEventDetails"].get("output") {
        v["output"] = out.clone();
        v["outputDetails"] = json!({"included": true});
    }
    for key in ["error", "cause"] {
        if let Some(text) = end["executionFailedEventDetails"].get(key) {
            v[key] = text.clone();
        }
    }
    v["redriveStatus"] = json!("NOT_REDRIVABLE");
    Ok(v)
}

/// The ListExecutions entry of a child.
fn item_json(arn: &str, map_run_arn: &str, s: &ChildSummary) -> Value {
    let name = arn.rsplit(':').next().unwrap_or_default();
    let mut v = json!({
        "executionArn": arn,
        "stateMachineArn": child_state_machine_arn(map_run_arn).unwrap_or_default(),
        "name": name,
        "status": s.status,
        "startDate": timestamp(s.start_ms),
        "mapRunArn": map_run_arn,
        "itemCount": 1,
        "redriveCount": 0,
    });
    if let Some(stop) = s.stop_ms {
        v["stopDate"] = timestamp(stop);
    }
    v
}

/// ListExecutions with `mapRunArn`: the map run's child executions, newest first,
/// `statusFilter` applied while paging.
pub async fn list(app: &App, p: &Params, map_run_arn: &str, filter: Option<&str>) -> ApiResult {
    let (parent, run) = find_map_run(app, map_run_arn).await?;
    let size = p.page_size()? as usize;
    let offset = p.page_offset_within(3096)? as usize;
    // Newest first: children start in item order.
    let order: Vec<usize> = (0..run.total as usize).rev().collect();
    let mut out = Vec::new();
    let mut next = None;
    let mut at = offset;
    'pages: while at < order.len() {
        let chunk = &order[at..(at + READ_CHUNK).min(order.len())];
        for (k, summary) in summaries(app, &parent, map_run_arn, chunk).await?.into_iter().enumerate() {
            let Some(summary) = summary else { continue };
            if filter.is_none_or(|f| f == summary.status) {
                let arn = child_execution_arn(map_run_arn, chunk[k]);
                out.push(item_json(&arn, map_run_arn, &summary));
                if out.len() == size {
                    let consumed = at + k + 1;
                    if consumed < order.len() {
                        next = Some(consumed as u64);
                    }
                    break 'pages;
                }
            }
        }
        at += chunk.len();
    }
    let mut v = json!({"executions": out});
    if let Some(n) = next {
        v["nextToken"] = json!(page_token(n));
    }
    Ok(v)
}

/// DescribeStateMachineForExecution of a child execution ARN, or None when `arn` is not
/// one: the definition its item processor runs, as a state machine of its own, under the
/// map run's state machine ARN (`<machine>/<label>`), with `mapRunArn` and `label`.
pub async fn describe_state_machine(app: &App, arn: &str) -> Option<ApiResult> {
    let (map_run_arn, index) = child_execution_parts(arn)?;
    Some(describe_child_machine(app, arn, &map_run_arn, index).await)
}

async fn describe_child_machine(app: &App, arn: &str, map_run_arn: &str, index: usize) -> ApiResult {
    let (parent, summary) = find_child(app, arn, map_run_arn, index).await?;
    let (_, extras) = app.store.describe_execution(&parent).await?.ok_or_else(|| no_execution(arn))?;
    let text = app.store.definition(extras.sha.as_deref().unwrap_or_default()).await?.unwrap_or_default();
    let label = asl::map_run_arns::map_run_label(map_run_arn).unwrap_or_default();
    let definition = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|d| processor_of(&d, label))
        .ok_or_else(|| no_execution(arn))?;
    let machine_arn = child_state_machine_arn(map_run_arn).unwrap_or_default();
    let name = machine_arn.rsplit(':').next().unwrap_or_default().to_string();
    Ok(json!({
        "stateMachineArn": machine_arn,
        "name": name,
        "definition": definition.to_string(),
        "roleArn": extras.role.unwrap_or_default(),
        "updateDate": timestamp(summary.start_ms),
        "mapRunArn": map_run_arn,
        "label": label,
        "loggingConfiguration": super::configurations::shown_logging(None),
        "tracingConfiguration": super::configurations::shown_tracing(None),
        "encryptionConfiguration": {"type": "AWS_OWNED_KEY"},
    }))
}

/// The item processor of the distributed Map labelled `label` (or named so, without a
/// Label) in `definition`, as a state machine definition: its states, with the query
/// language it inherits written out.
fn processor_of(definition: &Value, label: &str) -> Option<Value> {
    fn search(states: &Value, label: &str, language: &str) -> Option<Value> {
        for (name, state) in states.as_object()? {
            let language = state["QueryLanguage"].as_str().unwrap_or(language);
            let processor = state.get("ItemProcessor").or_else(|| state.get("Iterator"));
            if state["Type"] == "Map"
                && let Some(p) = processor
            {
                let distributed = p["ProcessorConfig"]["Mode"] == "DISTRIBUTED";
                if distributed && state["Label"].as_str().unwrap_or(name) == label {
                    let mut child = p.clone();
                    if let Some(o) = child.as_object_mut() {
                        o.remove("ProcessorConfig");
                        o.entry("QueryLanguage").or_insert_with(|| json!(language));
                    }
                    return Some(child);
                }
                if let Some(found) = search(&p["States"], label, language) {
                    return Some(found);
                }
            }
            for branch in state["Branches"].as_array().into_iter().flatten() {
                if let Some(found) = search(&branch["States"], label, language) {
                    return Some(found);
                }
            }
        }
        None
    }
    search(&definition["States"], label, definition["QueryLanguage"].as_str().unwrap_or("JSONPath"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_processor_of_a_labelled_or_named_map_is_found_at_any_depth() {
        let def = json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
            "P": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "Outer", "States": {
                "Outer": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "Inner", "States": {
                    "Inner": {"Type": "Map", "Label": "Deep", "End": true, "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                        "StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}}}}}}}}]}}});
        let found = processor_of(&def, "Deep").expect("found");
        assert_eq!(
            found,
            json!({"QueryLanguage": "JSONata", "StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}})
        );
        assert_eq!(processor_of(&def, "Outer"), None, "an inline Map runs no child executions");
        assert_eq!(processor_of(&def, "Nope"), None);
    }
}
