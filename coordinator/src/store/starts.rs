//! StartExecution's write, with group commit: starts that arrive while a write is in
//! flight are written together by the next one, so under load many starts share one
//! round trip and one script run instead of paying for one each. An idle coordinator
//! writes a lone start at once.

use tokio::sync::{mpsc, oneshot};

use super::epoch::{epoch_text, parse_epoch_us, us_to_ms};
use super::{ExecCreate, NewExecution, Result, START_GRACE_MS, StartOutcome, Store, StoreError, shard_of};

/// Most starts written by one script call.
const MAX_GROUP: usize = 256;

/// One StartExecution to write.
#[derive(Debug, Clone)]
pub struct StartRequest {
    /// The execution ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// The state machine (or version) ARN it runs.
    pub state_machine_arn: String,
    /// The input JSON text.
    pub input: String,
    /// Start time (epoch µs).
    pub start_us: i64,
    /// Prefix of its task tokens.
    pub token_prefix: String,
    /// Started by StartSyncExecution (see `asl::engine::ExecutionInfo::synchronous`).
    pub synchronous: bool,
}

/// What a start needs of its state machine to run its first step in-process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateMachineHead {
    /// The SHA-256 of its current definition.
    pub sha: String,
    /// Its role ARN.
    pub role: String,
    /// Its name.
    pub name: String,
    /// Whether it is an EXPRESS state machine (its executions take the express ARN form).
    pub express: bool,
}

impl StartRequest {
    /// The fields the engine loop loads for this execution (`LOAD_FIELDS` names,
    /// without `st` and `ver`), once created with `head`'s definition.
    pub fn loaded_fields(self, head: StateMachineHead) -> Vec<(&'static str, String)> {
        let mut fields = vec![
            ("arn", self.arn),
            ("name", self.name),
            ("sm", self.state_machine_arn),
            ("smname", head.name),
            ("role", head.role),
            ("start", epoch_text(self.start_us)),
            ("input", self.input),
            ("tp", self.token_prefix),
            ("def", head.sha),
        ];
        if self.synchronous {
            fields.push(("sync", "1".to_string()));
        }
        fields
    }

    /// What an apply writes to create this execution with `head`'s definition.
    pub fn create(&self, store: &Store, head: &StateMachineHead) -> ExecCreate {
        let shard = shard_of(&self.arn, store.shards);
        ExecCreate {
            key: store.keys.execution(shard, &self.arn),
            index: store.keys.executions_of(&self.state_machine_arn),
            machine: store.keys.state_machine(&self.state_machine_arn),
            sha: head.sha.clone(),
            arn: self.arn.clone(),
            name: self.name.clone(),
            input: self.input.clone(),
            start_us: self.start_us,
            token_prefix: self.token_prefix.clone(),
            role: head.role.clone(),
            machine_name: head.name.clone(),
            machine_arn: self.state_machine_arn.clone(),
        }
    }
}

type Waiting = (StartRequest, oneshot::Sender<std::result::Result<StartOutcome, String>>);

/// The queue of starts waiting for the group writer.
#[derive(Debug, Clone)]
pub(crate) struct StartQueue {
    tx: mpsc::UnboundedSender<Waiting>,
}

impl StartQueue {
    /// Starts the group writer for `store` (a clone without a queue of its own, so the
    /// writer ends once every queued `Store` is dropped).
    pub(crate) fn spawn(store: Store) -> StartQueue {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_groups(store, rx));
        StartQueue { tx }
    }
}

async fn write_groups(store: Store, mut rx: mpsc::UnboundedReceiver<Waiting>) {
    let mut group: Vec<Waiting> = Vec::new();
    while rx.recv_many(&mut group, MAX_GROUP).await > 0 {
        let (requests, replies): (Vec<StartRequest>, Vec<_>) = group.drain(..).unzip();
        match store.write_starts(requests).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                let why = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(why.clone()));
                }
            }
        }
    }
}

impl Store {
    /// A state machine's current definition SHA-256, role, name and type; None if it
    /// does not exist.
    pub async fn state_machine_head(&self, arn: &str) -> Result<Option<StateMachineHead>> {
        let v: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.keys.state_machine(arn))
            .arg(&["sha", "role", "name", "type"])
            .query_async(&mut self.conn())
            .await?;
        let mut v = v.into_iter();
        let (Some(Some(sha)), role, name, kind) =
            (v.next(), v.next().flatten(), v.next().flatten(), v.next().flatten())
        else {
            return Ok(None);
        };
        Ok(Some(StateMachineHead {
            sha,
            role: role.unwrap_or_default(),
            name: name.unwrap_or_default(),
            express: kind.as_deref() == Some("EXPRESS"),
        }))
    }

    /// StartExecution: creates the execution and arms its start atomically (idempotent
    /// on name and input while it runs).
    pub async fn start_execution(
        &self,
        arn: &str,
        name: &str,
        state_machine_arn: &str,
        input: &str,
        start_us: i64,
        token_prefix: &str,
    ) -> Result<StartOutcome> {
        self.start(StartRequest {
            arn: arn.to_string(),
            name: name.to_string(),
            state_machine_arn: state_machine_arn.to_string(),
            input: input.to_string(),
            start_us,
            token_prefix: token_prefix.to_string(),
            synchronous: false,
        })
        .await
    }

    /// Writes the start `request` describes, as [`Store::start_execution`] does.
    pub async fn start(&self, request: StartRequest) -> Result<StartOutcome> {
        let Some(queue) = &self.starts else {
            let mut outcomes = self.write_starts(vec![request]).await?;
            return outcomes.pop().ok_or_else(|| StoreError::Corrupt("the start script answered nothing".into()));
        };
        let (reply, answer) = oneshot::channel();
        queue.tx.send((request, reply)).map_err(|_| StoreError::Group("the start writer has stopped".into()))?;
        match answer.await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(why)) => Err(StoreError::Group(why)),
            Err(_) => Err(StoreError::Group("the start writer has stopped".into())),
        }
    }

    /// Writes several starts in one script call; one outcome per request, in order.
    async fn write_starts(&self, requests: Vec<StartRequest>) -> Result<Vec<StartOutcome>> {
        let mut inv = self.scripts.start.prepare_invoke();
        inv.arg(requests.len());
        for r in &requests {
            let shard = shard_of(&r.arn, self.shards);
            let ring = self.bell_flag(shard);
            // A loop in this process gets the start handed in (and drops the timer);
            // the timer only fires if that hand-off is lost, e.g. with this process.
            let start_ms = us_to_ms(r.start_us);
            let due = if ring == "0" { start_ms.saturating_add(START_GRACE_MS) } else { start_ms };
            inv.arg(self.keys.execution(shard, &r.arn))
                .arg(self.keys.timers(shard))
                .arg(self.keys.inbox_bell(shard))
                .arg(self.keys.executions_of(&r.state_machine_arn))
                .arg(self.keys.state_machine(&r.state_machine_arn))
                .arg(&r.arn)
                .arg(&r.name)
                .arg(&r.input)
                .arg(epoch_text(r.start_us))
                .arg(&r.token_prefix)
                .arg(crate::timers::Timer::Start.member(&r.arn))
                .arg(&r.state_machine_arn)
                .arg(ring)
                .arg(due)
                .arg(if r.synchronous { "1" } else { "0" });
        }
        let answers: Vec<Vec<String>> = inv.invoke_async(&mut self.conn()).await?;
        if answers.len() != requests.len() {
            return Err(StoreError::Corrupt(format!(
                "the start script answered {} times for {} starts",
                answers.len(),
                requests.len()
            )));
        }
        Ok(requests.into_iter().zip(answers).map(|(r, v)| outcome(r, v)).collect())
    }
}

fn outcome(r: StartRequest, v: Vec<String>) -> StartOutcome {
    let at = v.get(1).and_then(|s| parse_epoch_us(s)).unwrap_or(0);
    match v.first().map(String::as_str) {
        Some("created") => {
            let field = |i: usize| v.get(i).cloned().unwrap_or_default();
            let head =
                StateMachineHead { sha: field(2), role: field(3), name: field(4), express: field(5) == "EXPRESS" };
            let r = StartRequest { start_us: at, ..r };
            StartOutcome::Created(NewExecution { at, fields: r.loaded_fields(head) })
        }
        Some("same") => StartOutcome::Same(at),
        Some("exists") => StartOutcome::Exists,
        _ => StartOutcome::NoStateMachine,
    }
}
