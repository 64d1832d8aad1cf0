//! The step function: `step(machine, &mut Execution, Event, now) -> Vec<Command>`.
//!
//! An execution is a tree of *frames*: the top-level flow, and one frame per running
//! Parallel branch or Map iteration. Each event wakes one frame; the engine then runs
//! every frame it can (Pass, Choice, and the bookkeeping of Parallel and Map) until each
//! one either ends or parks on something durable: a task, a timer, or its children.
//! What must happen outside (schedule a task, start a timer, cancel) comes back as
//! commands; new history events collect in `Execution::history` until the driver
//! takes them with [`Execution::take_history`].

mod child_executions;
mod context;
mod eval;
mod fanout;
mod flow;
mod history;
mod item_reader;
mod jsonata_states;
mod jsonpath_states;
mod retry;
mod states;
mod task;
mod task_events;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::definition::{MachineId, StateMachine};
pub use crate::simulate::ExecutionStatus;
pub use fanout::{MapRunStart, MapRunUpdate};
pub use history::{ChildEvent, Details, HistoryEvent};

/// Identifies a frame within one execution.
pub type FrameId = u64;

/// Up to this many frames, a task's frame is found by a scan rather than an index.
const SCANNED_FRAMES: usize = 32;

/// Identifies a timer within one execution.
pub type TimerId = u64;

/// Facts about an execution that the context object exposes.
///
/// Empty and zero fields are left out of the serialized form (and read back as such):
/// a driver that keeps these facts elsewhere stores the state without them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecutionInfo {
    /// The execution ARN (`$$.Execution.Id`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub execution_arn: String,
    /// The execution name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The state machine ARN.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub state_machine_arn: String,
    /// The state machine name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub state_machine_name: String,
    /// The role ARN (`$$.Execution.RoleArn`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub role_arn: String,
    /// When the execution started.
    #[serde(default, skip_serializing_if = "is_epoch")]
    pub start_time: DateTime<Utc>,
    /// The execution input.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub input: Value,
    /// How often it was redriven.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub redrive_count: u32,
    /// Started by StartSyncExecution, which leaves `RedriveCount` out of `$$.Execution`
    /// (a synchronous EXPRESS execution can never be redriven); AWS keeps it otherwise.
    #[serde(default, skip_serializing_if = "is_false")]
    pub synchronous: bool,
    /// Prefix of every task token this execution mints; the driver makes it unguessable
    /// and routable (the token is `<prefix><serial>`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_prefix: String,
}

fn is_epoch(t: &DateTime<Utc>) -> bool {
    *t == DateTime::<Utc>::default()
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What happened that the engine must react to.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The execution starts (its input is in `ExecutionInfo`).
    Start,
    /// A worker picked up the task.
    TaskStarted {
        /// The task token.
        token: String,
        /// The name the worker gave (GetActivityTask's `workerName`), if any.
        worker_name: Option<String>,
    },
    /// The task's resource returned a value.
    TaskSucceeded {
        /// The task token.
        token: String,
        /// The result.
        output: Value,
    },
    /// The task's resource failed.
    TaskFailed {
        /// The task token.
        token: String,
        /// Error name.
        error: String,
        /// Cause text.
        cause: String,
    },
    /// The task ran past its TimeoutSeconds.
    TaskTimedOut {
        /// The task token.
        token: String,
    },
    /// The task sent no heartbeat within HeartbeatSeconds.
    HeartbeatTimedOut {
        /// The task token.
        token: String,
    },
    /// A timer started with `Command::StartTimer` fired.
    TimerFired {
        /// The timer.
        timer: TimerId,
    },
    /// A user stopped the execution.
    Stop {
        /// Error name given to StopExecution.
        error: Option<String>,
        /// Cause given to StopExecution.
        cause: Option<String>,
    },
    /// The execution ran past its TimeoutSeconds.
    ExecutionTimedOut,
    /// UpdateMapRun: new limits for a running distributed Map's map run.
    UpdateMapRun {
        /// The map run's ARN.
        map_run_arn: String,
        /// The limits to change (the others stay).
        limits: MapRunUpdate,
    },
    /// Resume the work a previous step left ready (after `Command::Continue`).
    Continue,
}

/// A task for a worker to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskCommand {
    /// The token that identifies this attempt.
    pub token: String,
    /// The Task state's name.
    pub state_name: String,
    /// The resource ARN.
    pub resource: String,
    /// The effective input (for `lambda:invoke`, the Parameters/Arguments object).
    pub input: Value,
    /// Attempt number, from 0.
    pub attempt: u32,
    /// Seconds before the task times out.
    pub timeout_seconds: Option<u64>,
    /// Seconds allowed between heartbeats.
    pub heartbeat_seconds: Option<u64>,
}

/// What the engine asks its driver to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Put a task on its queue.
    ScheduleTask(TaskCommand),
    /// Withdraw a task that is no longer wanted (its branch was aborted).
    CancelTask {
        /// The task token.
        token: String,
    },
    /// Fire `TimerFired { timer }` at `at`.
    StartTimer {
        /// The timer.
        timer: TimerId,
        /// When it fires.
        at: DateTime<Utc>,
    },
    /// Forget a timer.
    CancelTimer {
        /// The timer.
        timer: TimerId,
    },
    /// The execution reached a final status (see `Execution::status`).
    Finished,
    /// This step stopped at its transition budget with work still ready: send
    /// `Event::Continue` (after persisting, so other executions get their turn).
    Continue,
}

/// Everything durable about one execution.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Execution {
    /// Facts for the context object.
    pub info: ExecutionInfo,
    /// Current status.
    pub status: ExecutionStatus,
    /// Output once SUCCEEDED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// Error once failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Cause once failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// History events not yet taken by the driver (all of them, if it never takes any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryEvent>,
    /// Distributed Map child executions' events not yet taken by the driver.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub child_history: Vec<ChildEvent>,
    /// Map runs started and not yet taken by the driver (`take_started_map_runs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub started_map_runs: Vec<MapRunStart>,
    /// How many history events there have been in all; the next one's id is this plus one.
    pub event_count: u64,
    /// The last event's type and `previousEventId`, from which the next event's link
    /// follows (see `history::previous_event_id`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    last_event_type: String,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    last_previous_id: u64,
    /// State transitions so far.
    pub transitions: u64,
    frames: BTreeMap<FrameId, Frame>,
    next_id: u64,
    rng: u64,
    /// Where a redrive resumes: the top-level state that was running when the execution ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    redrive_point: Option<RedrivePoint>,
    /// The frame awaiting each task token, built from the frames when first needed and
    /// kept as tasks are scheduled: a Map with thousands of tasks out found each result's
    /// frame by a scan of them all, quadratic in the tasks out. It may hold tokens no
    /// longer awaited; every hit is checked against the frame.
    #[serde(skip)]
    task_index: Option<HashMap<String, FrameId>>,
}

/// The state a flow was in when it failed or was stopped, kept so that it can be
/// redriven: the top level's, and inside a Parallel or Map, each child's.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RedrivePoint {
    state: String,
    input: Value,
    variables: Map<String, Value>,
    /// For a Parallel or Map: how far each branch or iteration got. AWS redrives only the
    /// ones that failed or were aborted; None reruns them all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    children: Option<Vec<ChildResume>>,
}

impl RedrivePoint {
    /// Where `frame` stands; a Parallel or Map that failed brings its children's progress.
    fn of(frame: &Frame) -> RedrivePoint {
        let children = match &frame.phase {
            Phase::Fanout(fan) => fan.snapshot().cloned(),
            _ => None,
        };
        RedrivePoint {
            state: frame.state.clone(),
            input: frame.input.clone(),
            variables: frame.variables.clone(),
            children,
        }
    }
}

/// How far one branch or iteration got before its Parallel or Map failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum ChildResume {
    /// Never started: a redrive runs it from the start.
    Pending,
    /// Succeeded with this result: a redrive keeps it.
    Done(Value),
    /// Failed or aborted there: a redrive resumes it at that point.
    At(Box<RedrivePoint>),
}

/// Why an execution cannot be redriven.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedriveError {
    /// Only FAILED, ABORTED and TIMED_OUT executions can be redriven.
    #[error("the execution is {0:?}; only FAILED, ABORTED or TIMED_OUT executions can be redriven")]
    NotUnsuccessful(ExecutionStatus),
    /// It ended before entering any state, so there is nothing to resume.
    #[error("the execution ended before entering a state, so there is nothing to redrive")]
    NothingToResume,
}

/// One flow in progress: the top level, a Parallel branch or a Map iteration.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Frame {
    machine: MachineId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent: Option<(FrameId, usize)>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    variables: Map<String, Value>,
    state: String,
    entered_event: u64,
    #[serde(serialize_with = "history::serialize_time")]
    entered_time: DateTime<Utc>,
    input: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    retry_counts: Vec<u32>,
    phase: Phase,
    /// The token of the Task attempt being prepared or awaited (`$$.Task.Token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task_token: Option<String>,
    /// Set by a redrive: the progress of the Parallel or Map this frame enters, so that
    /// only its unsuccessful children run again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resume: Option<Vec<ChildResume>>,
}

/// What a frame is doing.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Phase {
    /// About to enter `state` with `input`.
    Enter,
    /// About to run the state's work again after a retry delay.
    Rerun,
    /// Waiting for a task.
    Task { token: String, attempt: u32, lambda: bool, started: bool },
    /// Waiting for a Wait state's timer.
    Wait { timer: TimerId, output: Value },
    /// Waiting out a retry delay.
    Backoff { timer: TimerId },
    /// Waiting for Parallel branches or Map iterations.
    Fanout(Box<fanout::Fanout>),
}

/// How a frame ended.
#[derive(Debug, Clone)]
enum FrameEnd {
    Succeeded(Value),
    Failed { error: String, cause: String },
}

impl Execution {
    /// A new execution, not yet started: feed it `Event::Start`.
    pub fn new(info: ExecutionInfo, seed: u64) -> Execution {
        Execution {
            info,
            status: ExecutionStatus::Running,
            output: None,
            error: None,
            cause: None,
            history: Vec::new(),
            child_history: Vec::new(),
            started_map_runs: Vec::new(),
            event_count: 0,
            last_event_type: String::new(),
            last_previous_id: 0,
            transitions: 0,
            frames: BTreeMap::new(),
            next_id: 1,
            rng: seed ^ 0x9E37_79B9_7F4A_7C15,
            redrive_point: None,
            task_index: None,
        }
    }

    /// Removes and returns the history events recorded since the last call.
    pub fn take_history(&mut self) -> Vec<HistoryEvent> {
        std::mem::take(&mut self.history)
    }

    /// Whether the execution has ended.
    pub fn is_finished(&self) -> bool {
        self.status != ExecutionStatus::Running
    }

    /// Removes and returns the map runs started since the last call.
    pub fn take_started_map_runs(&mut self) -> Vec<MapRunStart> {
        std::mem::take(&mut self.started_map_runs)
    }

    /// Tokens of the tasks currently awaited.
    pub fn pending_tokens(&self) -> Vec<String> {
        self.frames
            .values()
            .filter_map(|f| match &f.phase {
                Phase::Task { token, .. } => Some(token.clone()),
                _ => None,
            })
            .collect()
    }

    /// Whether the task with `token` is awaited.
    pub fn awaits(&mut self, token: &str) -> bool {
        self.task_frame(token).is_some()
    }

    /// The frame awaiting the task `token`, and whether it is a Lambda task.
    fn task_frame(&mut self, token: &str) -> Option<(FrameId, bool)> {
        let frames = &self.frames;
        // A scan of a few frames costs less than building and keeping an index.
        if self.task_index.is_none() && frames.len() <= SCANNED_FRAMES {
            return frames.iter().find_map(|(id, f)| match &f.phase {
                Phase::Task { token: t, lambda, .. } if t == token => Some((*id, *lambda)),
                _ => None,
            });
        }
        let index = self.task_index.get_or_insert_with(|| {
            let mut index = HashMap::new();
            for (id, f) in frames {
                if let Phase::Task { token, .. } = &f.phase {
                    index.insert(token.clone(), *id);
                }
            }
            index
        });
        let fid = *index.get(token)?;
        match frames.get(&fid).map(|f| &f.phase) {
            Some(Phase::Task { token: t, lambda, .. }) if t == token => Some((fid, *lambda)),
            _ => {
                index.remove(token);
                None
            }
        }
    }

    /// Notes that frame `fid` now awaits the task `token`.
    fn index_task(&mut self, token: &str, fid: FrameId) {
        if let Some(index) = self.task_index.as_mut() {
            // Tokens of tasks that ended without a result (aborted, cancelled) stay until
            // the index outgrows the frames; then it is built again.
            if index.len() > 64 && index.len() > 4 * self.frames.len() {
                self.task_index = None;
            } else {
                index.insert(token.to_string(), fid);
            }
        }
    }

    /// Forgets the task `token` once its result is in.
    fn forget_task(&mut self, token: &str) {
        if let Some(index) = self.task_index.as_mut() {
            index.remove(token);
        }
    }

    fn fresh_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }
}

/// Restarts an unsuccessful execution from the top-level state it ended in, with that
/// state's input and the variables it had, as RedriveExecution does.
///
/// A Parallel or Map state that failed runs again as a whole (AWS re-runs only its
/// unsuccessful branches or iterations).
pub fn redrive(machine: &StateMachine, exec: &mut Execution, now: DateTime<Utc>) -> Result<Vec<Command>, RedriveError> {
    if !matches!(exec.status, ExecutionStatus::Failed | ExecutionStatus::Aborted | ExecutionStatus::TimedOut) {
        return Err(RedriveError::NotUnsuccessful(exec.status));
    }
    let point = exec.redrive_point.take().ok_or(RedriveError::NothingToResume)?;
    exec.status = ExecutionStatus::Running;
    exec.output = None;
    exec.error = None;
    exec.cause = None;
    exec.info.redrive_count += 1;
    let mut run = states::Run {
        machine,
        exec,
        now,
        commands: Vec::new(),
        ready: Vec::new(),
        budget: states::STEP_TRANSITION_BUDGET,
    };
    let count = run.exec.info.redrive_count;
    run.record("ExecutionRedriven", Some(serde_json::json!({ "redriveCount": count })));
    let fid = run.resume_frame(0, None, point);
    run.ready.push(fid);
    run.drain();
    Ok(run.commands)
}

/// Applies `event` to `exec` at time `now`, returning what the driver must do.
pub fn step(machine: &StateMachine, exec: &mut Execution, event: Event, now: DateTime<Utc>) -> Vec<Command> {
    step_with_budget(machine, exec, event, now, states::STEP_TRANSITION_BUDGET)
}

/// Like [`step`], but pauses (with `Command::Continue`) after `budget` transitions.
pub fn step_with_budget(
    machine: &StateMachine,
    exec: &mut Execution,
    event: Event,
    now: DateTime<Utc>,
    budget: u64,
) -> Vec<Command> {
    let mut run = states::Run { machine, exec, now, commands: Vec::new(), ready: Vec::new(), budget: budget.max(1) };
    run.handle(event);
    run.drain();
    run.commands
}
