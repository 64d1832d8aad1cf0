//! RedriveExecution: an unsuccessful execution resumes from the top-level state it ended
//! in, with that state's input and variables; states that succeeded do not run again.
//! Inside a Parallel or Map, only the branches and iterations that failed or were aborted
//! run again, each from where it stood.

mod common;

use asl::engine::{RedriveError, redrive};
use asl::simulate::ExecutionStatus;
use common::*;
use serde_json::json;

const ACT: &str = "arn:aws:states:us-east-1:123456789012:activity:work";

fn two_steps() -> serde_json::Value {
    json!({
        "StartAt": "Prepare",
        "States": {
            "Prepare": {"Type": "Pass", "Assign": {"seen": true}, "Result": {"n": 1}, "Next": "Work"},
            "Work": {"Type": "Task", "Resource": ACT, "Parameters": {"n.$": "$.n", "seen.$": "$seen"}, "End": true}
        }
    })
}

#[test]
fn redrive_resumes_at_the_failed_state_with_its_input_and_variables() {
    let mut d = Driver::start(two_steps(), json!({}));
    let first = d.only_task();
    d.fail(&first.token, "Boom", "first try");
    assert_eq!(d.status(), ExecutionStatus::Failed);

    let commands = redrive(&d.machine, &mut d.exec, d.now).expect("a failed execution can be redriven");
    assert_eq!(d.exec.status, ExecutionStatus::Running);
    assert_eq!(d.exec.info.redrive_count, 1);
    let scheduled: Vec<_> = commands
        .iter()
        .filter_map(|c| match c {
            asl::engine::Command::ScheduleTask(t) => Some(t.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(scheduled.len(), 1);
    assert_eq!(scheduled[0].input, json!({"n": 1, "seen": true}));
    assert_ne!(scheduled[0].token, first.token, "a redriven attempt gets a fresh token");

    d.succeed(&scheduled[0].token, json!("done"));
    assert_eq!(d.status(), ExecutionStatus::Succeeded);
    assert_eq!(d.exec.output, Some(json!("done")));
    let prepares = d.types().iter().filter(|t| t.as_str() == "PassStateEntered").count();
    assert_eq!(prepares, 1, "the Pass state that succeeded is not run again");
    assert!(d.types().iter().any(|t| t == "ExecutionRedriven"));
}

#[test]
fn a_running_or_succeeded_execution_cannot_be_redriven() {
    let mut d = Driver::start(two_steps(), json!({}));
    assert_eq!(
        redrive(&d.machine, &mut d.exec, d.now).map(|_| ()),
        Err(RedriveError::NotUnsuccessful(ExecutionStatus::Running))
    );
    let t = d.only_task();
    d.succeed(&t.token, json!(1));
    assert_eq!(
        redrive(&d.machine, &mut d.exec, d.now).map(|_| ()),
        Err(RedriveError::NotUnsuccessful(ExecutionStatus::Succeeded))
    );
}

#[test]
fn an_aborted_execution_redrives_from_where_it_was_stopped() {
    let mut d = Driver::start(two_steps(), json!({}));
    d.send(asl::engine::Event::Stop { error: None, cause: None });
    assert_eq!(d.status(), ExecutionStatus::Aborted);
    let commands = redrive(&d.machine, &mut d.exec, d.now).expect("aborted executions can be redriven");
    assert!(commands.iter().any(|c| matches!(c, asl::engine::Command::ScheduleTask(_))));
}

/// The tasks a redrive's commands schedule, by input.
fn scheduled_inputs(commands: &[asl::engine::Command]) -> Vec<serde_json::Value> {
    commands
        .iter()
        .filter_map(|c| match c {
            asl::engine::Command::ScheduleTask(t) => Some(t.input.clone()),
            _ => None,
        })
        .collect()
}

/// Redrives `d` after a round trip through serde, as the coordinator stores it.
fn redrive_stored(d: &mut Driver) -> Vec<serde_json::Value> {
    let text = serde_json::to_string(&d.exec).expect("the execution serializes");
    d.exec = serde_json::from_str(&text).expect("the execution deserializes");
    let commands = redrive(&d.machine, &mut d.exec, d.now).expect("redrivable");
    // Record the scheduled tasks the way `send` does.
    for c in &commands {
        if let asl::engine::Command::ScheduleTask(t) = c {
            d.tasks.push(t.clone());
            d.scheduled.push(t.clone());
        }
    }
    let mut inputs = scheduled_inputs(&commands);
    inputs.sort_by_key(|v| v.to_string());
    inputs
}

fn branch(name: &str) -> serde_json::Value {
    json!({
        "StartAt": format!("{name}Prep"),
        "States": {
            format!("{name}Prep"): {"Type": "Pass", "Result": {"b": name}, "Next": format!("{name}Work")},
            format!("{name}Work"): {"Type": "Task", "Resource": ACT, "End": true}
        }
    })
}

#[test]
fn a_parallel_redrive_reruns_only_the_failed_and_aborted_branches() {
    let def = json!({
        "StartAt": "Fan",
        "States": {"Fan": {"Type": "Parallel", "Branches": [branch("A"), branch("B"), branch("C")], "End": true}}
    });
    let mut d = Driver::start(def, json!({}));
    let a = d.task_with_input(&json!({"b": "A"}));
    d.succeed(&a.token, json!("a-done"));
    let b = d.task_with_input(&json!({"b": "B"}));
    d.fail(&b.token, "Boom", "B failed");
    assert_eq!(d.status(), ExecutionStatus::Failed);
    assert!(d.tasks.is_empty(), "C's task was cancelled: {:?}", d.tasks);

    let inputs = redrive_stored(&mut d);
    assert_eq!(inputs, vec![json!({"b": "B"}), json!({"b": "C"})], "A succeeded and is not run again");
    let prep_entries = d.types().iter().filter(|t| t.as_str() == "PassStateEntered").count();
    assert_eq!(prep_entries, 3, "the branches resume at their Task, not at their first state");

    let b2 = d.task_with_input(&json!({"b": "B"}));
    d.succeed(&b2.token, json!("b-done"));
    let c2 = d.task_with_input(&json!({"b": "C"}));
    d.succeed(&c2.token, json!("c-done"));
    assert_eq!(d.status(), ExecutionStatus::Succeeded);
    assert_eq!(d.exec.output, Some(json!(["a-done", "b-done", "c-done"])));
}

fn item_map(max_concurrency: u64) -> serde_json::Value {
    json!({
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "MaxConcurrency": max_concurrency,
                "ItemProcessor": {
                    "StartAt": "Prep",
                    "States": {
                        "Prep": {"Type": "Pass", "Parameters": {"item.$": "$"}, "Next": "Work"},
                        "Work": {"Type": "Task", "Resource": ACT, "End": true}
                    }
                },
                "End": true
            }
        }
    })
}

#[test]
fn an_inline_map_redrive_reruns_only_the_unsuccessful_iterations() {
    let mut d = Driver::start(item_map(0), json!([0, 1, 2, 3]));
    for i in [0, 2] {
        let t = d.task_with_input(&json!({"item": i}));
        d.succeed(&t.token, json!(i * 10));
    }
    let t1 = d.task_with_input(&json!({"item": 1}));
    d.fail(&t1.token, "Boom", "item 1 failed");
    assert_eq!(d.status(), ExecutionStatus::Failed);

    let inputs = redrive_stored(&mut d);
    assert_eq!(inputs, vec![json!({"item": 1}), json!({"item": 3})]);
    let started: Vec<_> = d
        .history()
        .iter()
        .skip_while(|e| e["type"] != "ExecutionRedriven")
        .filter(|e| e["type"] == "MapIterationStarted")
        .map(|e| e["mapIterationStartedEventDetails"]["index"].clone())
        .collect();
    assert_eq!(started, vec![json!(1), json!(3)], "only iterations 1 and 3 start again");

    d.run_to_end();
    assert_eq!(d.status(), ExecutionStatus::Succeeded);
    assert_eq!(d.exec.output, Some(json!([0, {"item": 1}, 20, {"item": 3}])));
}

#[test]
fn a_map_redrive_runs_the_iterations_that_never_started() {
    let mut d = Driver::start(item_map(1), json!([0, 1, 2, 3]));
    let t0 = d.only_task();
    d.succeed(&t0.token, json!("zero"));
    let t1 = d.only_task();
    d.fail(&t1.token, "Boom", "item 1 failed");
    assert_eq!(d.status(), ExecutionStatus::Failed);

    let inputs = redrive_stored(&mut d);
    assert_eq!(inputs, vec![json!({"item": 1})], "one at a time, starting with the failed one");
    d.run_to_end();
    assert_eq!(d.status(), ExecutionStatus::Succeeded);
    assert_eq!(d.exec.output, Some(json!(["zero", {"item": 1}, {"item": 2}, {"item": 3}])));
    assert_eq!(d.scheduled.len(), 2 + 3, "items 1, 2 and 3 ran after the redrive, item 0 did not");
}

#[test]
fn a_nested_redrive_resumes_only_the_failed_iteration_inside_its_branch() {
    let def = json!({
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Parallel",
                "Branches": [
                    branch("A"),
                    {
                        "StartAt": "Inner",
                        "States": {
                            "Inner": {
                                "Type": "Map",
                                "ItemsPath": "$.items",
                                "ItemProcessor": {
                                    "StartAt": "Work",
                                    "States": {"Work": {"Type": "Task", "Resource": ACT, "End": true}}
                                },
                                "End": true
                            }
                        }
                    }
                ],
                "End": true
            }
        }
    });
    let mut d = Driver::start(def, json!({"items": ["x", "y"]}));
    let a = d.task_with_input(&json!({"b": "A"}));
    d.succeed(&a.token, json!("a-done"));
    let x = d.task_with_input(&json!("x"));
    d.succeed(&x.token, json!("x-done"));
    let y = d.task_with_input(&json!("y"));
    d.fail(&y.token, "Boom", "y failed");
    assert_eq!(d.status(), ExecutionStatus::Failed);

    let inputs = redrive_stored(&mut d);
    assert_eq!(inputs, vec![json!("y")], "only the failed iteration of the failed branch runs again");
    let y2 = d.only_task();
    d.succeed(&y2.token, json!("y-done"));
    assert_eq!(d.status(), ExecutionStatus::Succeeded);
    assert_eq!(d.exec.output, Some(json!(["a-done", ["x-done", "y-done"]])));
}

#[test]
fn a_stopped_parallel_redrives_only_the_branches_that_had_not_finished() {
    let def = json!({
        "StartAt": "Fan",
        "States": {"Fan": {"Type": "Parallel", "Branches": [branch("A"), branch("B")], "End": true}}
    });
    let mut d = Driver::start(def, json!({}));
    let a = d.task_with_input(&json!({"b": "A"}));
    d.succeed(&a.token, json!("a-done"));
    d.send(asl::engine::Event::Stop { error: None, cause: None });
    assert_eq!(d.status(), ExecutionStatus::Aborted);

    let inputs = redrive_stored(&mut d);
    assert_eq!(inputs, vec![json!({"b": "B"})]);
    d.run_to_end();
    assert_eq!(d.exec.output, Some(json!(["a-done", {"b": "B"}])));
}

#[test]
fn a_retried_parallel_reruns_every_branch() {
    // Retry is not redrive: the whole state runs again.
    let def = json!({
        "StartAt": "Fan",
        "States": {"Fan": {
            "Type": "Parallel",
            "Branches": [branch("A"), branch("B")],
            "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 1, "MaxAttempts": 1}],
            "End": true
        }}
    });
    let mut d = Driver::start(def, json!({}));
    let a = d.task_with_input(&json!({"b": "A"}));
    d.succeed(&a.token, json!("a-done"));
    let b = d.task_with_input(&json!({"b": "B"}));
    d.fail(&b.token, "Boom", "B failed");
    d.fire_next_timer();
    assert_eq!(d.tasks.len(), 2, "both branches run again after the retry delay");
}
