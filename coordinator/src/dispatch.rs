//! Task routing (resource ARN -> queue), the task record kept in Redis, and the
//! in-process wake-ups that answer a long poll the moment work arrives.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;

/// A pending task as stored in its shard's task hash (and handed to workers).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskRecord {
    /// The task token.
    pub token: String,
    /// The queue it is served from.
    pub queue: String,
    /// What the worker receives, as JSON text.
    pub input: String,
    /// The Task state's name.
    pub state_name: String,
    /// The execution ARN.
    pub execution_arn: String,
    /// Attempt number, from 0.
    pub attempt: u32,
    /// When the task times out (epoch ms), 0 for never.
    pub timeout_at_ms: i64,
    /// Heartbeat interval in seconds, 0 for none (read by the claim script as `hb`).
    pub hb: u64,
    /// The resource ARN.
    pub resource: String,
    /// When it was scheduled (epoch ms), for the latency histogram.
    pub scheduled_ms: i64,
}

/// Why a task cannot be routed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RouteError {
    /// `lambda:invoke` without a usable `FunctionName`.
    #[error("lambda:invoke needs a FunctionName (a function name or ARN) in its Parameters")]
    MissingFunctionName,
}

/// The queue a resource is served from, and what the worker receives.
pub fn route(resource: &str, input: &Value) -> Result<(String, Value), RouteError> {
    if resource.starts_with("arn:aws:states:::lambda:invoke") {
        let name = input.get("FunctionName").and_then(Value::as_str).ok_or(RouteError::MissingFunctionName)?;
        let queue = lambda_function_name(name).ok_or(RouteError::MissingFunctionName)?;
        let payload = input.get("Payload").cloned().unwrap_or(Value::Object(Default::default()));
        return Ok((queue, payload));
    }
    if let Some(name) = resource.strip_prefix("stepline:queue:") {
        return Ok((name.to_string(), input.clone()));
    }
    let parts: Vec<&str> = resource.split(':').collect();
    // arn:aws:states:<region>:<acct>:activity:<name>
    if parts.len() == 7 && parts[2] == "states" && parts[5] == "activity" {
        return Ok((parts[6].to_string(), input.clone()));
    }
    if parts.len() >= 7 && parts[2] == "lambda" && parts[5] == "function" {
        return Ok((parts[6].to_string(), input.clone()));
    }
    // Anything else (another service integration) is served by a queue named after the
    // resource itself, so a worker can still implement it.
    Ok((resource.to_string(), input.clone()))
}

/// The function name in a Lambda `FunctionName`: a plain name, `name:alias`, a full
/// ARN or a partial ARN (`<acct>:function:<name>`).
fn lambda_function_name(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.split(':').collect();
    let name = match parts.iter().position(|p| *p == "function") {
        Some(i) => parts.get(i + 1).copied(),
        None => parts.first().copied(),
    }?;
    (!name.is_empty()).then(|| name.to_string())
}

/// Per-queue wake-ups for long polls in this process.
#[derive(Debug, Default)]
pub struct Waiters {
    queues: Mutex<HashMap<String, Arc<QueueWaiter>>>,
}

/// The wake-up of one queue, and when someone last polled it.
#[derive(Debug)]
pub struct QueueWaiter {
    /// Woken when tasks may have arrived.
    pub notify: Notify,
    /// Last poll, so idle bell listeners can stop.
    pub last_poll: Mutex<Instant>,
}

impl Waiters {
    /// The waiter of `queue`, and whether it was just created (the caller then starts
    /// a bell listener for it).
    pub fn get(&self, queue: &str) -> (Arc<QueueWaiter>, bool) {
        let mut map = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = map.get(queue) {
            *w.last_poll.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
            return (w.clone(), false);
        }
        let w = Arc::new(QueueWaiter { notify: Notify::new(), last_poll: Mutex::new(Instant::now()) });
        map.insert(queue.to_string(), w.clone());
        (w, true)
    }

    /// Wakes one local poller of `queue` (the caller calls this once per queue that got
    /// new tasks): it claims as many tasks as it may take. Waking every poller for one
    /// new task only made them all run the claim script, and all but one came back
    /// empty.
    ///
    /// No wake-up is lost: pollers register (`Notified::enable`) before they claim, and
    /// if nobody is registered the wake-up is kept for the next one; a poller that was
    /// woken but leaves without waiting (its claim found other tasks, or its client
    /// went away) drops its `Notified`, which hands the wake-up on to another poller.
    /// Tasks beyond what the woken poller takes are found by the next poll of the
    /// worker, the next wake-up of the queue, or at worst the pollers' periodic
    /// re-check (at least once a second).
    pub fn wake(&self, queue: &str) {
        let map = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = map.get(queue) {
            w.notify.notify_one();
        }
    }

    /// Forgets `queue` if nobody polled it for `idle`; true if it was removed.
    pub fn remove_if_idle(&self, queue: &str, idle: Duration) -> bool {
        let mut map = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        let idle_now = map
            .get(queue)
            .map(|w| w.last_poll.lock().unwrap_or_else(|e| e.into_inner()).elapsed() > idle)
            .unwrap_or(true);
        if idle_now {
            map.remove(queue);
        }
        idle_now
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ready(n: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>) -> bool {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        std::future::Future::poll(n, &mut cx).is_ready()
    }

    #[test]
    fn a_wake_reaches_one_poller_and_is_never_lost() {
        let waiters = Waiters::default();
        let (w, _) = waiters.get("q");
        let mut a = Box::pin(w.notify.notified());
        let mut b = Box::pin(w.notify.notified());
        a.as_mut().enable();
        b.as_mut().enable();
        waiters.wake("q");
        // One wake-up, one poller.
        assert!(ready(a.as_mut()));
        assert!(!ready(b.as_mut()));
        // Woken but gone without waiting: the wake-up passes to another poller.
        waiters.wake("q");
        let mut c = Box::pin(w.notify.notified());
        c.as_mut().enable();
        drop(b);
        assert!(ready(c.as_mut()));
        // Nobody registered: the next poller to register finds it.
        waiters.wake("q");
        let mut d = Box::pin(w.notify.notified());
        d.as_mut().enable();
        assert!(ready(d.as_mut()));
        // Only one was kept.
        let mut e = Box::pin(w.notify.notified());
        e.as_mut().enable();
        assert!(!ready(e.as_mut()));
    }

    #[test]
    fn resources_route_to_queues() {
        let i = json!({"a": 1});
        assert_eq!(route("arn:aws:states:us-east-1:123:activity:resize", &i).unwrap().0, "resize");
        assert_eq!(route("arn:aws:lambda:us-east-1:123:function:thumb", &i).unwrap().0, "thumb");
        assert_eq!(route("arn:aws:lambda:us-east-1:123:function:thumb:prod", &i).unwrap().0, "thumb");
        assert_eq!(route("stepline:queue:q1", &i).unwrap().0, "q1");
        let inv = json!({"FunctionName": "arn:aws:lambda:us-east-1:123:function:f1:$LATEST", "Payload": {"x": 1}});
        assert_eq!(route("arn:aws:states:::lambda:invoke", &inv).unwrap(), ("f1".into(), json!({"x": 1})));
        let inv = json!({"FunctionName": "f2"});
        assert_eq!(route("arn:aws:states:::lambda:invoke.waitForTaskToken", &inv).unwrap(), ("f2".into(), json!({})));
        assert_eq!(route("arn:aws:states:::lambda:invoke", &i), Err(RouteError::MissingFunctionName));
    }
}
