//! What AWS refuses in an EXPRESS state machine: tasks that wait for a callback
//! (`.waitForTaskToken`), for a job to finish (`.sync`), or for an activity worker, since
//! an express execution runs for at most five minutes and keeps no history to resume.

use super::{StateKind, StateMachine};
use crate::diagnostic::Diagnostic;

/// Every Task state of `sm` whose `Resource` an EXPRESS state machine may not use, each
/// with AWS's message and located at the Resource.
pub(super) fn express_diagnostics(sm: &StateMachine) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for m in &sm.machines {
        for (name, state) in &m.states {
            let StateKind::Task(task) = &state.kind else { continue };
            if let Some(message) = refusal(&task.resource) {
                out.push(Diagnostic::schema(message, format!("{}/States/{name}/Resource", m.location)));
            }
        }
    }
    out
}

fn refusal(resource: &str) -> Option<&'static str> {
    if resource.ends_with(".waitForTaskToken") {
        // AWS's text has two spaces before "at" here (its message ends in a space), and
        // one in the others.
        return Some("Express state machine does not support '.waitForTaskToken' service integration ");
    }
    if resource.ends_with(".sync") || resource.contains(".sync:") {
        return Some("Express state machine does not support '.sync' service integration");
    }
    let parts: Vec<&str> = resource.split(':').collect();
    if parts.len() == 7 && parts[0] == "arn" && parts[2] == "states" && parts[5] == "activity" {
        return Some("Express state machine does not support Activity ARN");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn callbacks_jobs_and_activities_are_refused_and_the_rest_is_not() {
        for refused in [
            "arn:aws:states:::sns:publish.waitForTaskToken",
            "arn:aws:states:::states:startExecution.sync",
            "arn:aws:states:::states:startExecution.sync:2",
            "arn:aws:states:us-east-1:123456789012:activity:work",
        ] {
            assert!(refusal(refused).is_some(), "{refused}");
        }
        for allowed in [
            "arn:aws:states:::lambda:invoke",
            "arn:aws:lambda:us-east-1:123456789012:function:f",
            "arn:aws:states:::states:startExecution",
            "stepline:queue:echo",
        ] {
            assert_eq!(refusal(allowed), None, "{allowed}");
        }
    }
}
