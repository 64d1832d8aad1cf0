//! Redis key names. Everything about one execution carries the hash tag `{s<k>}` of
//! its shard, so an execution's keys, its shard's inbox, timers and task table share
//! one Redis Cluster slot.

/// Shard of an execution: FNV-1a of its ARN, modulo the shard count.
pub fn shard_of(execution_arn: &str, shards: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in execution_arn.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % u64::from(shards.max(1))) as u32
}

/// Builds key names under a common prefix (so several clusters can share one Redis).
#[derive(Debug, Clone)]
pub struct Keys {
    /// The prefix, e.g. `sl:`.
    pub prefix: String,
}

impl Keys {
    /// Keys under `prefix`.
    pub fn new(prefix: impl Into<String>) -> Keys {
        Keys { prefix: prefix.into() }
    }

    /// The hash of one state machine.
    pub fn state_machine(&self, arn: &str) -> String {
        format!("{}sm:{arn}", self.prefix)
    }

    /// ZSET of state machine ARNs by creation time.
    pub fn state_machines(&self) -> String {
        format!("{}sms", self.prefix)
    }

    /// A definition's text, addressed by its SHA-256 (kept after the machine is deleted).
    pub fn definition(&self, sha: &str) -> String {
        format!("{}smdef:{sha}", self.prefix)
    }

    /// ZSET of a state machine's execution ARNs by start time.
    pub fn executions_of(&self, state_machine_arn: &str) -> String {
        format!("{}ex:{state_machine_arn}", self.prefix)
    }

    /// The hash of one execution (fields, durable engine state, version).
    pub fn execution(&self, shard: u32, arn: &str) -> String {
        format!("{}{{s{shard}}}:x:{arn}", self.prefix)
    }

    /// The history list of one execution (AWS-shaped JSON events).
    pub fn history(&self, shard: u32, arn: &str) -> String {
        format!("{}{{s{shard}}}:h:{arn}", self.prefix)
    }

    /// The event inbox of a shard.
    pub fn inbox(&self, shard: u32) -> String {
        format!("{}{{s{shard}}}:inbox", self.prefix)
    }

    /// The doorbell of a shard's inbox (one element at most; BLPOP wakes the owner).
    pub fn inbox_bell(&self, shard: u32) -> String {
        format!("{}{{s{shard}}}:bell", self.prefix)
    }

    /// ZSET of a shard's timers (member: see `timers`, score: due time in ms).
    pub fn timers(&self, shard: u32) -> String {
        format!("{}{{s{shard}}}:timers", self.prefix)
    }

    /// Hash of a shard's pending tasks: token -> task JSON.
    pub fn tasks(&self, shard: u32) -> String {
        format!("{}{{s{shard}}}:tasks", self.prefix)
    }

    /// The lease on a shard (value: the owning coordinator's id).
    pub fn lease(&self, shard: u32) -> String {
        format!("{}{{s{shard}}}:lease", self.prefix)
    }

    /// The ready list of a task queue (tokens; LPUSH in, RPOP out).
    pub fn queue(&self, name: &str) -> String {
        format!("{}q:{name}", self.prefix)
    }

    /// The doorbell of a task queue.
    pub fn queue_bell(&self, name: &str) -> String {
        format!("{}q:{name}:bell", self.prefix)
    }

    /// SET of every queue name ever used (for the depth gauge).
    pub fn queues(&self) -> String {
        format!("{}queues", self.prefix)
    }

    /// ZSET of live coordinators by last heartbeat (ms).
    pub fn coordinators(&self) -> String {
        format!("{}coordinators", self.prefix)
    }

    /// ZSET of the tasks without timers that coordinator `owner` claimed lately (token ->
    /// claim time, ms): what to put back on the queues if it dies before answering.
    pub fn claims(&self, owner: &str) -> String {
        format!("{}claims:{owner}", self.prefix)
    }

    /// SET of the coordinators that have a `claims` ZSET.
    pub fn claimants(&self) -> String {
        format!("{}claimants", self.prefix)
    }

    /// Cluster settings that must agree across replicas (shard count, token key).
    pub fn config(&self) -> String {
        format!("{}config", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_in_range() {
        let a = shard_of("arn:aws:states:us-east-1:1:execution:m:e", 16);
        assert_eq!(a, shard_of("arn:aws:states:us-east-1:1:execution:m:e", 16));
        assert!(a < 16);
        assert_eq!(shard_of("x", 1), 0);
    }

    #[test]
    fn execution_keys_share_the_shard_tag() {
        let k = Keys::new("sl:");
        assert_eq!(k.execution(3, "a"), "sl:{s3}:x:a");
        assert_eq!(k.inbox(3), "sl:{s3}:inbox");
    }
}
