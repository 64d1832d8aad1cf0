//! RedriveExecution: an unsuccessful execution resumes from the top-level state it ended
//! in, with that state's input and variables; states that succeeded do not run again.

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
