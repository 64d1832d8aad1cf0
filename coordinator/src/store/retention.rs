//! Pruning the execution indexes. A finished execution's hash and history expire on
//! their own (the apply script sets their TTL), but its entry in the sorted set that
//! ListExecutions reads cannot expire alone: these reads find and drop such entries.

use std::collections::BTreeSet;

use super::{Result, Store, shard_of};

/// Index entries read per round.
const PAGE: usize = 500;

impl Store {
    /// Every execution index (one per state machine ARN that executions started through).
    pub async fn execution_indexes(&self) -> Result<Vec<String>> {
        let pattern = format!("{}ex:*", glob_escape(&self.keys.prefix));
        let mut c = self.conn();
        let mut cursor: u64 = 0;
        // SCAN may return a key more than once.
        let mut found = BTreeSet::new();
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .arg("TYPE")
                .arg("zset")
                .query_async(&mut c)
                .await?;
            found.extend(keys);
            if next == 0 {
                return Ok(found.into_iter().collect());
            }
            cursor = next;
        }
    }

    /// Drops from `index` the executions that started before `cutoff_ms` and exist no
    /// more; returns how many. Those that still exist (running, or not expired yet) stay.
    pub async fn prune_index(&self, index: &str, cutoff_ms: i64) -> Result<u64> {
        let mut c = self.conn();
        let mut removed = 0;
        let mut offset = 0;
        loop {
            let arns: Vec<String> = redis::cmd("ZRANGEBYSCORE")
                .arg(index)
                .arg("-inf")
                .arg(cutoff_ms)
                .arg("LIMIT")
                .arg(offset)
                .arg(PAGE)
                .query_async(&mut c)
                .await?;
            if arns.is_empty() {
                return Ok(removed);
            }
            let mut pipe = redis::pipe();
            for arn in &arns {
                pipe.cmd("EXISTS").arg(self.keys.execution(shard_of(arn, self.shards), arn));
            }
            let exists: Vec<bool> = pipe.query_async(&mut c).await?;
            let gone: Vec<&String> = arns.iter().zip(&exists).filter(|(_, e)| !**e).map(|(a, _)| a).collect();
            if !gone.is_empty() {
                let () = redis::cmd("ZREM").arg(index).arg(&gone).query_async(&mut c).await?;
            }
            removed += gone.len() as u64;
            // The entries kept are still ahead of the next page's start.
            offset += arns.len() - gone.len();
            if arns.len() < PAGE {
                return Ok(removed);
            }
        }
    }
}

/// `text` with SCAN's glob characters escaped.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(ch, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::glob_escape;

    #[test]
    fn glob_characters_of_the_prefix_are_escaped() {
        assert_eq!(glob_escape("sl:"), "sl:");
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
