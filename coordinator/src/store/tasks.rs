//! Task queues and pending tasks: results reported the Redis way, claims, heartbeats,
//! releases and queue depths. Each call about a token first waits for the handoff fence
//! (see `handoff_fence`), so it never overtakes the write that records the task.

use super::{InboxEvent, Result, Store};

impl Store {
    /// Reports results: `(shard, token, event)`; true where the task was pending. The
    /// script adds the execution ARN from the pending task (tokens do not carry it),
    /// and rings the bell of each shard that got an event once, except for shards
    /// served in this process: the caller wakes those in-process.
    pub async fn report(&self, items: &[(u32, String, InboxEvent)]) -> Result<Vec<bool>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        if self.fence.holds_any() {
            for (_, token, _) in items {
                self.fence.wait(token).await;
            }
        }
        let mut quiet = String::from(",");
        let mut seen = std::collections::HashSet::new();
        for (shard, _, _) in items {
            if seen.insert(*shard) && self.local_shards.contains(*shard) {
                quiet.push_str(&shard.to_string());
                quiet.push(',');
            }
        }
        let mut inv = self.scripts.report.prepare_invoke();
        inv.arg(&self.keys.prefix).arg(items.len()).arg(quiet);
        for (shard, token, event) in items {
            inv.arg(shard).arg(token).arg(serde_json::to_string(event).unwrap_or_default());
        }
        let v: Vec<i64> = inv.invoke_async(&mut self.conn()).await?;
        Ok(v.into_iter().map(|x| x == 1).collect())
    }

    /// Claims up to `max` tasks of `queue` for coordinator `owner` (whose claim ledger
    /// records those without timers); returns their task JSON texts.
    pub async fn claim(&self, queue: &str, max: u32, now_ms: i64, owner: &str) -> Result<Vec<String>> {
        Ok(self
            .scripts
            .claim
            .key(self.keys.queue(queue))
            .key(self.keys.queue_bell(queue))
            .key(self.keys.claims(owner))
            .key(self.keys.claimants())
            .arg(&self.keys.prefix)
            .arg(max.max(1))
            .arg(now_ms)
            .arg(owner)
            .invoke_async(&mut self.conn())
            .await?)
    }

    /// Requeues what dead coordinators claimed without timers (see
    /// `scripts::recover_claims`); returns how many tasks went back.
    pub async fn recover_claims(&self, now_ms: i64, liveness_ms: i64) -> Result<u64> {
        Ok(self
            .scripts
            .recover_claims
            .key(self.keys.claimants())
            .key(self.keys.coordinators())
            .arg(&self.keys.prefix)
            .arg(now_ms)
            .arg(liveness_ms)
            .invoke_async(&mut self.conn())
            .await?)
    }

    /// Extends a heartbeat deadline; false when the task is gone.
    pub async fn heartbeat(&self, shard: u32, token: &str, now_ms: i64) -> Result<bool> {
        self.fence.wait(token).await;
        let r: i64 = self
            .scripts
            .heartbeat
            .key(self.keys.tasks(shard))
            .key(self.keys.timers(shard))
            .arg(token)
            .arg(now_ms)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(r == 1)
    }

    /// Requeues claimed tasks; returns how many were still pending.
    pub async fn release(&self, tokens: &[(u32, String)]) -> Result<u64> {
        if tokens.is_empty() {
            return Ok(0);
        }
        if self.fence.holds_any() {
            for (_, token) in tokens {
                self.fence.wait(token).await;
            }
        }
        let mut inv = self.scripts.release.prepare_invoke();
        inv.arg(&self.keys.prefix);
        for (shard, token) in tokens {
            inv.arg(shard).arg(token);
        }
        Ok(inv.invoke_async(&mut self.conn()).await?)
    }

    /// Depth of every known queue.
    pub async fn queue_depths(&self) -> Result<Vec<(String, u64)>> {
        let mut c = self.conn();
        let names: Vec<String> = redis::cmd("SMEMBERS").arg(self.keys.queues()).query_async(&mut c).await?;
        // redis-rs refuses an empty pipeline.
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for n in &names {
            pipe.cmd("LLEN").arg(self.keys.queue(n));
        }
        let depths: Vec<u64> = pipe.query_async(&mut c).await?;
        Ok(names.into_iter().zip(depths).collect())
    }
}
