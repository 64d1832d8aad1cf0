//! Timer ZSET members: `<kind>|<arg>|<execution-arn>`, scored by due time in ms.
//!
//! Kinds: `t` an engine timer (Wait, retry backoff), `to` a task's TimeoutSeconds,
//! `hb` a task's heartbeat deadline, `ex` the execution's TimeoutSeconds, `st` a new
//! execution's start (StartExecution arms it: due at once when another process runs the
//! shard's loop, `store::START_GRACE_MS` later when the start is handed to a loop in
//! this process, so the start survives losing that hand-off). Execution
//! names cannot contain `|`, and tokens never do, so the split is unambiguous.

use asl::engine::{Event, TimerId};

/// A decoded timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timer {
    /// An engine timer.
    Engine(TimerId),
    /// A task's TimeoutSeconds ran out.
    TaskTimeout(String),
    /// A task's heartbeat deadline passed.
    Heartbeat(String),
    /// The execution's TimeoutSeconds ran out.
    Execution,
    /// The execution was started.
    Start,
}

impl Timer {
    /// The ZSET member for this timer of `arn`.
    pub fn member(&self, arn: &str) -> String {
        match self {
            Timer::Engine(id) => format!("t|{id}|{arn}"),
            Timer::TaskTimeout(token) => format!("to|{token}|{arn}"),
            Timer::Heartbeat(token) => format!("hb|{token}|{arn}"),
            Timer::Execution => format!("ex|-|{arn}"),
            Timer::Start => format!("st|-|{arn}"),
        }
    }

    /// Parses a member into the timer and its execution ARN.
    pub fn parse(member: &str) -> Option<(Timer, &str)> {
        let mut parts = member.splitn(3, '|');
        let (kind, arg, arn) = (parts.next()?, parts.next()?, parts.next()?);
        let timer = match kind {
            "t" => Timer::Engine(arg.parse().ok()?),
            "to" => Timer::TaskTimeout(arg.to_string()),
            "hb" => Timer::Heartbeat(arg.to_string()),
            "ex" => Timer::Execution,
            "st" => Timer::Start,
            _ => return None,
        };
        Some((timer, arn))
    }

    /// The engine event this timer delivers.
    pub fn event(&self) -> Event {
        match self {
            Timer::Engine(id) => Event::TimerFired { timer: *id },
            Timer::TaskTimeout(token) => Event::TaskTimedOut { token: token.clone() },
            Timer::Heartbeat(token) => Event::HeartbeatTimedOut { token: token.clone() },
            Timer::Execution => Event::ExecutionTimedOut,
            Timer::Start => Event::Start,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_round_trip() {
        let arn = "arn:aws:states:us-east-1:1:execution:m:e";
        for t in [
            Timer::Engine(7),
            Timer::TaskTimeout("1.ab.cd.2".into()),
            Timer::Heartbeat("x".into()),
            Timer::Execution,
            Timer::Start,
        ] {
            let m = t.member(arn);
            assert_eq!(Timer::parse(&m), Some((t, arn)));
        }
        assert_eq!(Timer::parse("zz|1|a"), None);
    }
}
