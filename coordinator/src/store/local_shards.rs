//! Which shards' engine loops run in this process.

use std::collections::HashMap;

/// The shards whose engine loop runs in this process. Events this process queues for
/// them wake the loop in-process (`App::doors`), so the scripts skip ringing their
/// Redis bell, which would only wake this same process's bell listener a second time.
/// Stale by at most the moment between a lease loss and the loop's abort: a new owner
/// then still finds the events on its first batch (it looks at once on taking the
/// lease, and at least every 250 ms when idle).
#[derive(Debug, Default)]
pub struct LocalShards {
    /// Shard -> live guards (a counter, so an aborted loop's late drop cannot unmark a
    /// shard whose new loop already started).
    on: std::sync::RwLock<HashMap<u32, usize>>,
}

/// Marks a shard as served here until dropped.
#[derive(Debug)]
pub struct LocalShardGuard {
    shards: std::sync::Arc<LocalShards>,
    shard: u32,
}

impl LocalShards {
    /// Marks `shard` as served in this process until the guard drops.
    pub fn serve(self: &std::sync::Arc<Self>, shard: u32) -> LocalShardGuard {
        *self.on.write().unwrap_or_else(|e| e.into_inner()).entry(shard).or_insert(0) += 1;
        LocalShardGuard { shards: self.clone(), shard }
    }

    /// Whether `shard`'s loop runs here.
    pub fn contains(&self, shard: u32) -> bool {
        self.on.read().unwrap_or_else(|e| e.into_inner()).contains_key(&shard)
    }
}

impl Drop for LocalShardGuard {
    fn drop(&mut self) {
        let mut on = self.shards.on.write().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = on.get_mut(&self.shard) {
            *n -= 1;
            if *n == 0 {
                on.remove(&self.shard);
            }
        }
    }
}
