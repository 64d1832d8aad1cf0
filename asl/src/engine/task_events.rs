//! The history events of a Task state's work, named and detailed as AWS records them
//! for its three kinds of resource: Lambda functions (`LambdaFunction*`), activities
//! (`Activity*`) and service integrations (`Task*`, with `resource` and `resourceType`).

use serde_json::{Map, Value, json};

use super::FrameId;
use super::history::payload_text;
use super::states::Run;
use crate::definition::StateKind;

/// Which family of events a Task's resource records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TaskFamily {
    /// `arn:aws:lambda:…` resources.
    Lambda,
    /// `arn:aws:states:…:activity:…` resources.
    Activity,
    /// Service integrations such as `arn:aws:states:::lambda:invoke`.
    Service,
}

/// A step of a Task's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TaskStep {
    Scheduled,
    Started,
    Succeeded,
    Failed,
    TimedOut,
}

impl TaskFamily {
    /// The family of `resource`.
    pub(super) fn of(resource: &str) -> Self {
        let parts: Vec<&str> = resource.splitn(7, ':').collect();
        if resource.starts_with("arn:aws:lambda:") || (parts.len() > 3 && parts[2] == "lambda" && parts[0] == "arn") {
            TaskFamily::Lambda
        } else if parts.len() > 6 && parts[2] == "states" && parts[5] == "activity" {
            TaskFamily::Activity
        } else {
            TaskFamily::Service
        }
    }

    /// The event type AWS records for `step`.
    pub(super) fn event(self, step: TaskStep) -> &'static str {
        use TaskStep::*;
        match self {
            TaskFamily::Lambda => match step {
                Scheduled => "LambdaFunctionScheduled",
                Started => "LambdaFunctionStarted",
                Succeeded => "LambdaFunctionSucceeded",
                Failed => "LambdaFunctionFailed",
                TimedOut => "LambdaFunctionTimedOut",
            },
            TaskFamily::Activity => match step {
                Scheduled => "ActivityScheduled",
                Started => "ActivityStarted",
                Succeeded => "ActivitySucceeded",
                Failed => "ActivityFailed",
                TimedOut => "ActivityTimedOut",
            },
            TaskFamily::Service => match step {
                Scheduled => "TaskScheduled",
                Started => "TaskStarted",
                Succeeded => "TaskSucceeded",
                Failed => "TaskFailed",
                TimedOut => "TaskTimedOut",
            },
        }
    }
}

/// `resourceType` and `resource` of a service integration, e.g. `lambda` / `invoke`.
pub(super) fn resource_parts(arn: &str) -> (String, String) {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() >= 7 && parts[2] == "states" && parts[5] != "activity" {
        return (parts[5].to_string(), parts[6..].join(":"));
    }
    (parts.get(2).copied().unwrap_or("").to_string(), arn.to_string())
}

impl Run<'_, '_> {
    /// The resource of the Task state frame `fid` runs, and its family.
    pub(super) fn task_resource(&self, fid: FrameId) -> (TaskFamily, String) {
        match self.state_of(fid).map(|s| &s.kind) {
            Some(StateKind::Task(t)) => (TaskFamily::of(&t.resource), t.resource.clone()),
            _ => (TaskFamily::Service, String::new()),
        }
    }

    /// Records `step` of frame `fid`'s Task with `details` (None: no details object),
    /// adding `resource` and `resourceType` where AWS does (service integrations, after
    /// scheduling).
    pub(super) fn record_task(&mut self, fid: FrameId, step: TaskStep, details: Option<Value>) -> u64 {
        let (family, resource) = self.task_resource(fid);
        let details = match family {
            TaskFamily::Service if step != TaskStep::Scheduled => {
                let (resource_type, resource) = resource_parts(&resource);
                let mut d = match details {
                    Some(Value::Object(d)) => d,
                    _ => Map::new(),
                };
                d.insert("resource".into(), Value::String(resource));
                d.insert("resourceType".into(), Value::String(resource_type));
                Some(Value::Object(d))
            }
            // AWS writes an empty object for an activity started without a worker name.
            TaskFamily::Activity if step == TaskStep::Started => Some(details.unwrap_or_else(|| json!({}))),
            _ => details,
        };
        self.record_at(fid, family.event(step), details)
    }

    /// Records the Task's start once (workers that report no start get it with their result).
    pub(super) fn ensure_started(&mut self, fid: FrameId) {
        self.ensure_started_by(fid, None);
    }

    /// Records the Task's start once, naming the worker that took it where one gave a name.
    pub(super) fn ensure_started_by(&mut self, fid: FrameId, worker_name: Option<String>) {
        if let Some(super::Phase::Task { started, .. }) = self.exec.frames.get_mut(&fid).map(|f| &mut f.phase)
            && !*started
        {
            *started = true;
            let details = worker_name.map(|w| json!({"workerName": w}));
            self.record_task(fid, TaskStep::Started, details);
        }
    }

    /// Records a Task's success.
    pub(super) fn record_task_output(&mut self, fid: FrameId, output: &Value) {
        let details = json!({"output": payload_text(output), "outputDetails": {"truncated": false}});
        self.record_task(fid, TaskStep::Succeeded, Some(details));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_follow_the_resource() {
        assert_eq!(TaskFamily::of("arn:aws:lambda:us-east-1:1:function:f"), TaskFamily::Lambda);
        assert_eq!(TaskFamily::of("arn:aws:states:us-east-1:1:activity:a"), TaskFamily::Activity);
        assert_eq!(TaskFamily::of("arn:aws:states:::lambda:invoke"), TaskFamily::Service);
        assert_eq!(TaskFamily::Activity.event(TaskStep::TimedOut), "ActivityTimedOut");
        assert_eq!(
            resource_parts("arn:aws:states:::sqs:sendMessage.waitForTaskToken"),
            ("sqs".into(), "sendMessage.waitForTaskToken".into())
        );
    }
}
