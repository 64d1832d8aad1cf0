//! Each state machine's current definition (SHA-256, role and name), cached for
//! StartExecution's one-round-trip way (see `shard_door`'s `start_fresh`). A stale entry
//! costs little: the apply that creates the execution checks the SHA-256 and refuses,
//! the start then takes the start script's way (which reads the definition in Redis),
//! and the entry is dropped.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::store::starts::StateMachineHead;
use crate::store::{Store, StoreError};

/// Most state machines remembered; past that the cache starts over.
const MAX_ENTRIES: usize = 10_000;

/// State machine ARN → its current definition, as last read.
#[derive(Debug, Default)]
pub struct MachineHeads {
    map: Mutex<HashMap<String, StateMachineHead>>,
}

impl MachineHeads {
    /// The head of the state machine `arn` (read from Redis when not cached); None if it
    /// does not exist.
    pub async fn get(&self, store: &Store, arn: &str) -> Result<Option<StateMachineHead>, StoreError> {
        if let Some(head) = self.lock().get(arn) {
            return Ok(Some(head.clone()));
        }
        let Some(head) = store.state_machine_head(arn).await? else { return Ok(None) };
        let mut map = self.lock();
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(arn.to_string(), head.clone());
        Ok(Some(head))
    }

    /// Drops what is known of `arn` (it may have changed).
    pub fn forget(&self, arn: &str) {
        self.lock().remove(arn);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, StateMachineHead>> {
        // Inserts and removals cannot leave the map half-changed.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}
