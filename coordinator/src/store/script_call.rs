//! A script call written straight into one command buffer.
//!
//! redis-rs's `ScriptInvocation` keeps each argument in a `Vec` of its own and copies
//! them all again into the command it sends. The apply script takes ~45 arguments per
//! execution, so that was as many allocations and frees, and one more copy of every
//! byte, in the coordinator's hottest path (allocation was a quarter of its CPU).

use redis::{Cmd, FromRedisValue, RedisResult, Script, ServerErrorKind, ToRedisArgs};

/// `EVALSHA` of `script` with its keys and arguments, loading the script on NOSCRIPT.
pub struct ScriptCall<'a> {
    script: &'a Script,
    cmd: Cmd,
}

impl<'a> ScriptCall<'a> {
    /// A call of `script` with `keys` (which come before any argument).
    pub fn new<K: ToRedisArgs>(script: &'a Script, keys: &[K]) -> Self {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(script.get_hash()).arg(keys.len());
        for k in keys {
            cmd.arg(k);
        }
        ScriptCall { script, cmd }
    }

    /// Adds an argument (`ARGV[i]`).
    pub fn arg<T: ToRedisArgs>(&mut self, arg: T) -> &mut Self {
        self.cmd.arg(arg);
        self
    }

    /// Runs the call; a server that lost the script (restart, SCRIPT FLUSH) gets it
    /// loaded and the call again, as `ScriptInvocation::invoke_async` does.
    pub async fn invoke<T: FromRedisValue>(&self, con: &mut impl redis::aio::ConnectionLike) -> RedisResult<T> {
        match self.cmd.query_async(con).await {
            Err(e) if e.kind() == redis::ErrorKind::Server(ServerErrorKind::NoScript) => {
                self.script.load_async(con).await?;
                self.cmd.query_async(con).await
            }
            other => other,
        }
    }
}
