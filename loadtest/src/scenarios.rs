//! The workloads: state machine definitions, their inputs and the outputs every
//! execution must end with.
//!
//! Every Task state passes `{"n": n + 1, "t": <State.EnteredTime>}` to the worker and
//! keeps only `n` of the echoed result (`ResultSelector`), so the output proves that
//! the data went through the worker, and the worker can measure dispatch latency from
//! `t` (the time the engine entered the state, i.e. scheduled the task).

use serde_json::{Map, Value, json};

/// One workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// (a) one Task state (echo).
    Single,
    /// (b) a chain of 10 Task states.
    Chain,
    /// (c) a Parallel state with 4 Task branches.
    Parallel,
    /// (d) a Map over 1,000 items, each a Task.
    Map,
    /// (e) a chain of 10 Pass states, no tasks.
    Pass,
    /// (f) a mix: 40% single, 20% chain, 20% parallel, 20% pass.
    Mix,
}

/// Items in the Map scenario.
pub const MAP_ITEMS: u64 = 1000;
/// States in the chain scenarios.
pub const CHAIN_LEN: u64 = 10;

/// A concrete workload: one state machine and what its executions do.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Which scenario.
    pub scenario: Scenario,
    /// The ASL definition.
    pub definition: Value,
    /// Worker tasks per execution.
    pub tasks: u64,
    /// States entered per execution (AWS's "state transitions").
    pub transitions: u64,
}

impl Scenario {
    /// Short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Scenario::Single => "single",
            Scenario::Chain => "chain",
            Scenario::Parallel => "parallel",
            Scenario::Map => "map",
            Scenario::Pass => "pass",
            Scenario::Mix => "mix",
        }
    }

    /// The concrete workloads of this scenario with their weights (the mix has several).
    pub fn workloads(self, queue: &str) -> Vec<(Workload, u32)> {
        match self {
            Scenario::Mix => vec![
                (Scenario::Single.workload(queue), 40),
                (Scenario::Chain.workload(queue), 20),
                (Scenario::Parallel.workload(queue), 20),
                (Scenario::Pass.workload(queue), 20),
            ],
            s => vec![(s.workload(queue), 1)],
        }
    }

    fn workload(self, queue: &str) -> Workload {
        let (definition, tasks, transitions) = match self {
            Scenario::Single => (chain_of_tasks(queue, 1), 1, 1),
            Scenario::Chain | Scenario::Mix => (chain_of_tasks(queue, CHAIN_LEN), CHAIN_LEN, CHAIN_LEN),
            Scenario::Parallel => (parallel(queue, 4), 4, 5),
            Scenario::Map => (map(queue), MAP_ITEMS, MAP_ITEMS + 1),
            Scenario::Pass => (chain_of_passes(CHAIN_LEN), 0, CHAIN_LEN),
        };
        Workload { scenario: self, definition, tasks, transitions }
    }
}

impl Workload {
    /// The input of execution number `i`.
    pub fn input(&self, i: u64) -> Value {
        match self.scenario {
            Scenario::Map => json!({"items": (0..MAP_ITEMS).map(|k| json!({"n": k})).collect::<Vec<_>>()}),
            _ => json!({"n": i % 1000}),
        }
    }

    /// The output execution number `i` must end with.
    pub fn expected_output(&self, i: u64) -> Value {
        let n = i % 1000;
        match self.scenario {
            Scenario::Single => json!({"n": n + 1}),
            Scenario::Chain | Scenario::Mix | Scenario::Pass => json!({"n": n + CHAIN_LEN}),
            Scenario::Parallel => json!([{"n": n + 1}, {"n": n + 1}, {"n": n + 1}, {"n": n + 1}]),
            Scenario::Map => Value::Array((0..MAP_ITEMS).map(|k| json!({"n": k + 1})).collect()),
        }
    }
}

/// A Task state that increments `n` through the worker.
fn task_state(queue: &str, next: Option<String>) -> Value {
    let mut s = json!({
        "Type": "Task",
        "Resource": format!("stepline:queue:{queue}"),
        "Parameters": {"n.$": "States.MathAdd($.n, 1)", "t.$": "$$.State.EnteredTime"},
        "ResultSelector": {"n.$": "$.n"},
    });
    end_or_next(&mut s, next);
    s
}

fn end_or_next(state: &mut Value, next: Option<String>) {
    if let Some(obj) = state.as_object_mut() {
        match next {
            Some(n) => obj.insert("Next".into(), Value::String(n)),
            None => obj.insert("End".into(), Value::Bool(true)),
        };
    }
}

fn chain<F: Fn(Option<String>) -> Value>(prefix: &str, len: u64, state: F) -> Value {
    let mut states = Map::new();
    for k in 1..=len {
        let next = (k < len).then(|| format!("{prefix}{}", k + 1));
        states.insert(format!("{prefix}{k}"), state(next));
    }
    json!({"StartAt": format!("{prefix}1"), "States": states})
}

fn chain_of_tasks(queue: &str, len: u64) -> Value {
    chain("T", len, |next| task_state(queue, next))
}

fn chain_of_passes(len: u64) -> Value {
    chain("P", len, |next| {
        let mut s = json!({"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}});
        end_or_next(&mut s, next);
        s
    })
}

fn parallel(queue: &str, branches: usize) -> Value {
    // State names are unique across the whole machine, branches included.
    let branches: Vec<Value> =
        (0..branches).map(|b| chain(&format!("B{b}T"), 1, |next| task_state(queue, next))).collect();
    json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": branches, "End": true}}})
}

fn map(queue: &str) -> Value {
    json!({"StartAt": "M", "States": {"M": {
        "Type": "Map",
        "ItemsPath": "$.items",
        "MaxConcurrency": 0,
        "ItemProcessor": chain_of_tasks(queue, 1),
        "End": true
    }}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_links_every_state() {
        let d = chain_of_tasks("q", 3);
        assert_eq!(d["StartAt"], "T1");
        assert_eq!(d["States"]["T1"]["Next"], "T2");
        assert_eq!(d["States"]["T3"]["End"], true);
        assert_eq!(d["States"]["T2"]["Resource"], "stepline:queue:q");
    }

    #[test]
    fn mix_weights_cover_four_workloads() {
        let w = Scenario::Mix.workloads("q");
        assert_eq!(w.len(), 4);
        assert_eq!(w.iter().map(|(_, p)| p).sum::<u32>(), 100);
    }

    #[test]
    fn expected_outputs_follow_inputs() {
        let w = Scenario::Chain.workloads("q").remove(0).0;
        assert_eq!(w.input(1003), json!({"n": 3}));
        assert_eq!(w.expected_output(1003), json!({"n": 13}));
    }
}
