//! An execution's path through the graph, read from its history events.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::definition::{StateKind, StateMachine};

/// What to highlight when drawing an execution's path. States are named, not located:
/// a name used in several flows (say, inside two Parallel branches) is highlighted in each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathHighlight {
    /// States the execution entered.
    pub visited: HashSet<String>,
    /// States it is in now: entered and not left while the execution runs.
    pub current: HashSet<String>,
    /// States it ended in without leaving them, when it did not succeed.
    pub failed: HashSet<String>,
    /// States left through a `Catch`.
    pub caught: HashSet<String>,
    /// Transitions taken, as (from, to) state names.
    pub taken: HashSet<(String, String)>,
}

/// How one state can lead to another.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    /// Next, a Choice rule or Default (maybe also a Catch).
    Flow,
    /// Only a Catch.
    Catch,
}

impl PathHighlight {
    /// Only the given states, as visited.
    pub fn visited<I: IntoIterator<Item = String>>(names: I) -> PathHighlight {
        PathHighlight { visited: names.into_iter().collect(), ..PathHighlight::default() }
    }

    /// The path of an execution of `sm` from its history `events` (AWS JSON, oldest
    /// first, as GetExecutionHistory returns them) and its `status` (`RUNNING`,
    /// `SUCCEEDED`, `FAILED`...). Malformed events are skipped.
    ///
    /// A transition counts as taken when a state is entered right after the state it
    /// comes from was entered or left, and the definition has that edge; concurrent
    /// branches interleave their events, so this is a close reading, not a proof.
    pub fn from_history(sm: &StateMachine, events: &[Value], status: &str) -> PathHighlight {
        let links = links(sm);
        let mut hl = PathHighlight::default();
        // How many times each state is entered and not yet left (Map iterations repeat them).
        let mut open: HashMap<String, usize> = HashMap::new();
        // The latest state event: the state's name and whether it was an entry.
        let mut last: Option<(String, bool)> = None;
        for event in events {
            let Some(kind) = event.get("type").and_then(Value::as_str) else { continue };
            let entered = kind.ends_with("StateEntered");
            if !entered && !kind.ends_with("StateExited") {
                continue;
            }
            let field = if entered { "stateEnteredEventDetails" } else { "stateExitedEventDetails" };
            let Some(name) = event.get(field).and_then(|d| d.get("name")).and_then(Value::as_str) else { continue };
            if !entered {
                if let Some(n) = open.get_mut(name) {
                    *n = n.saturating_sub(1);
                }
                last = Some((name.to_string(), false));
                continue;
            }
            hl.visited.insert(name.to_string());
            if let Some((prev, prev_entered)) = &last
                && let Some(via) = links.get(&(prev.as_str(), name))
            {
                hl.taken.insert((prev.clone(), name.to_string()));
                if *via == Via::Catch {
                    hl.caught.insert(prev.clone());
                }
                // A state left by a Catch may have no exit event of its own.
                if *prev_entered && let Some(n) = open.get_mut(prev.as_str()) {
                    *n = n.saturating_sub(1);
                }
            }
            *open.entry(name.to_string()).or_default() += 1;
            last = Some((name.to_string(), true));
        }
        let still_open = open.into_iter().filter(|(_, n)| *n > 0).map(|(name, _)| name);
        match status {
            "RUNNING" | "PENDING_REDRIVE" => hl.current.extend(still_open),
            "SUCCEEDED" => {}
            _ => hl.failed.extend(still_open),
        }
        hl
    }
}

/// Every (from, to) pair of state names the definition links, in all flows.
fn links(sm: &StateMachine) -> HashMap<(&str, &str), Via> {
    let mut out = HashMap::new();
    for m in &sm.machines {
        for (name, state) in &m.states {
            let mut targets: Vec<&str> = state.next.as_deref().into_iter().collect();
            if let StateKind::Choice(c) = &state.kind {
                targets.extend(c.choices.iter().map(|r| r.next.as_str()));
                targets.extend(c.default.as_deref());
            }
            for to in targets {
                out.insert((name.as_str(), to), Via::Flow);
            }
            for c in &state.catch {
                out.entry((name.as_str(), c.next.as_str())).or_insert(Via::Catch);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entered(name: &str) -> Value {
        json!({"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name}})
    }

    fn exited(name: &str) -> Value {
        json!({"type": "TaskStateExited", "stateExitedEventDetails": {"name": name}})
    }

    fn machine() -> StateMachine {
        StateMachine::parse(&json!({
            "StartAt": "A",
            "States": {
                "A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "B",
                      "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Oops"}]},
                "B": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true},
                "Oops": {"Type": "Fail", "Error": "E"}
            }
        }))
        .expect("valid")
    }

    #[test]
    fn running_execution_marks_the_open_state_current() {
        let events = vec![json!({"type": "ExecutionStarted"}), entered("A"), exited("A"), entered("B")];
        let hl = PathHighlight::from_history(&machine(), &events, "RUNNING");
        assert_eq!(hl.visited, ["A".to_string(), "B".to_string()].into());
        assert_eq!(hl.current, ["B".to_string()].into());
        assert!(hl.failed.is_empty());
        assert_eq!(hl.taken, [("A".to_string(), "B".to_string())].into());
    }

    #[test]
    fn caught_error_and_failed_state() {
        let events = vec![
            entered("A"),
            json!({"type": "TaskFailed", "taskFailedEventDetails": {"error": "Boom"}}),
            json!({"type": "FailStateEntered", "stateEnteredEventDetails": {"name": "Oops"}}),
            json!({"type": "ExecutionFailed"}),
        ];
        let hl = PathHighlight::from_history(&machine(), &events, "FAILED");
        assert_eq!(hl.caught, ["A".to_string()].into());
        assert_eq!(hl.failed, ["Oops".to_string()].into(), "A was left through its Catch");
        assert!(hl.taken.contains(&("A".to_string(), "Oops".to_string())));
    }

    #[test]
    fn malformed_events_are_skipped() {
        let events = vec![json!(1), json!({"type": "PassStateEntered"}), json!({"type": 3}), entered("A")];
        let hl = PathHighlight::from_history(&machine(), &events, "SUCCEEDED");
        assert_eq!(hl.visited, ["A".to_string()].into());
        assert!(hl.current.is_empty() && hl.failed.is_empty());
    }
}
