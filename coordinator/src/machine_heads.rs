//! Each state machine's current definition (SHA-256, role, name and type), cached for
//! StartExecution's one-round-trip way (see `shard_door`'s `start_fresh`). A stale entry
//! costs little: the apply that creates the execution checks the SHA-256 and refuses,
//! and the start then takes the start script's way, which reads the definition in Redis.
//!
//! A start the loop did not create (a name already used, a changed definition, a busy
//! loop) also sends that state machine's next starts the start script's way for a
//! while: a refusal costs its whole batch, so a storm of retried names then costs one
//! refused batch per `REST`, not one per start.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::starts::StateMachineHead;
use crate::store::{Store, StoreError};

/// Most state machines remembered; past that the cache starts over.
const MAX_ENTRIES: usize = 10_000;

/// How long a state machine's starts take the start script's way after one was refused.
const REST: Duration = Duration::from_secs(1);

/// State machine ARN → its current definition as last read, or until when its starts
/// take the start script's way.
#[derive(Debug, Default)]
pub struct MachineHeads {
    map: Mutex<HashMap<String, Known>>,
}

#[derive(Debug, Clone)]
enum Known {
    Head(StateMachineHead),
    Resting(Instant),
}

impl MachineHeads {
    /// The head of the state machine `arn` (read from Redis when not cached); None if it
    /// does not exist, or while its starts rest from the one-round-trip way.
    pub async fn get(&self, store: &Store, arn: &str) -> Result<Option<StateMachineHead>, StoreError> {
        match self.lock().get(arn) {
            Some(Known::Head(head)) => return Ok(Some(head.clone())),
            Some(Known::Resting(until)) if Instant::now() < *until => return Ok(None),
            _ => {}
        }
        let Some(head) = store.state_machine_head(arn).await? else { return Ok(None) };
        self.insert(arn, Known::Head(head.clone()));
        Ok(Some(head))
    }

    /// Whether the state machine `arn` is EXPRESS, as [`MachineHeads::get`] knows it,
    /// without copying the head.
    pub async fn express(&self, store: &Store, arn: &str) -> Result<Option<bool>, StoreError> {
        if let Some(Known::Head(head)) = self.lock().get(arn) {
            return Ok(Some(head.express));
        }
        Ok(self.get(store, arn).await?.map(|head| head.express))
    }

    /// A start of `arn` was not created in-process: what is known of it may be stale,
    /// and its starts take the start script's way for a while.
    pub fn refused(&self, arn: &str) {
        self.insert(arn, Known::Resting(Instant::now() + REST));
    }

    /// Drops what is known of `arn` (deleted here: the next start reads it again).
    pub fn forget(&self, arn: &str) {
        self.lock().remove(arn);
    }

    fn insert(&self, arn: &str, known: Known) {
        let mut map = self.lock();
        if map.len() >= MAX_ENTRIES && !map.contains_key(arn) {
            map.clear();
        }
        map.insert(arn.to_string(), known);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Known>> {
        // Inserts and removals cannot leave the map half-changed.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}
