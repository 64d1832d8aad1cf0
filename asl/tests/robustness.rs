//! Robustness: random and mutated definitions thrown at the parser and the simulator.
//!
//! Properties checked:
//! * `StateMachine::parse` / `from_json_str` never panic, whatever the JSON;
//! * a definition that parses simulates without panicking, with random inputs and a
//!   task handler that randomly succeeds or fails, and every simulation ends (status
//!   not RUNNING) within a bounded number of transitions (`max_transitions`);
//! * huge or deeply nested definitions give a clear error, not a stack overflow.
//!
//! A watchdog thread turns a hang into a test failure that prints the offending case.
//!
//! Stack overflows cannot be caught, so the deep-nesting cases run in a child process
//! (this test binary re-run on one test) and report the child's death as a failure.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use asl::definition::StateMachine;
use asl::simulate::{ExecutionStatus, Outcome, SimulationOptions, TaskRequest, TaskResult, simulate};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::Config;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// Watchdog
// ---------------------------------------------------------------------------------------

/// Longest one case may take before the watchdog calls it a hang (debug build).
const HANG_LIMIT: Duration = Duration::from_secs(15);

/// The case in progress: when it started and a description to print if it hangs.
static CURRENT: Mutex<Option<(Instant, String)>> = Mutex::new(None);

/// Runs `f`, failing the whole test binary (with the case printed) if it hangs.
fn guarded<R>(describe: impl FnOnce() -> String, f: impl FnOnce() -> R) -> R {
    static WATCHDOG: OnceLock<()> = OnceLock::new();
    WATCHDOG.get_or_init(|| {
        std::thread::spawn(|| {
            loop {
                std::thread::sleep(Duration::from_millis(200));
                let guard = CURRENT.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((start, case)) = guard.as_ref()
                    && start.elapsed() > HANG_LIMIT
                {
                    eprintln!("HANG: a case ran for more than {HANG_LIMIT:?}:\n{case}");
                    std::process::exit(101);
                }
            }
        });
    });
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), describe()));
    let out = f();
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = None;
    out
}

// ---------------------------------------------------------------------------------------
// Running a case
// ---------------------------------------------------------------------------------------

const MAX_TRANSITIONS: u64 = 200;

/// `engine::states::STEP_TRANSITION_BUDGET` (not exported): transitions one `step` may run.
const ENGINE_STEP_BUDGET: u64 = 10_000;

/// A tiny deterministic generator for the task handler's answers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A task handler that succeeds or fails at random, with assorted results and errors.
fn random_tasks(seed: u64) -> impl FnMut(&TaskRequest) -> TaskResult {
    let mut rng = Rng(seed | 1);
    move |req: &TaskRequest| {
        let r = rng.next();
        if r.is_multiple_of(3) {
            let errors = [
                "States.TaskFailed",
                "States.ALL",
                "States.Timeout",
                "States.Runtime",
                "States.DataLimitExceeded",
                "Lambda.ServiceException",
                "Custom",
                "",
            ];
            TaskResult::Failure {
                error: errors[(r >> 8) as usize % errors.len()].to_string(),
                cause: format!("attempt {}", req.attempt),
            }
        } else {
            let results = [
                req.input.clone(),
                json!({"a": 1, "b": [1, 2, 3], "s": "x"}),
                json!([1, 2, {"a": null}]),
                json!("text"),
                json!(null),
                json!(1.5e300),
                json!({"Payload": {"a": 2}, "items": [{"a": 1}, {"a": 2}]}),
            ];
            TaskResult::Success(results[(r >> 8) as usize % results.len()].clone())
        }
    }
}

/// Simulates `machine` and checks the properties.
fn check_simulation(machine: &StateMachine, input: Value, seed: u64) -> Outcome {
    SIMULATED.fetch_add(1, Ordering::Relaxed);
    let options = SimulationOptions { max_transitions: MAX_TRANSITIONS, seed, ..SimulationOptions::default() };
    let outcome = guarded(
        || format!("definition: {}\ninput: {input}\nseed: {seed}", machine.source),
        || simulate(machine, input.clone(), &options, &mut random_tasks(seed)),
    );
    assert_ne!(outcome.status, ExecutionStatus::Running, "simulation ended RUNNING: {}", machine.source);
    let exits =
        outcome.history.iter().filter(|e| e["type"].as_str().is_some_and(|t| t.ends_with("StateExited"))).count()
            as u64;
    // `simulate` checks `max_transitions` between steps, and one step may run up to the
    // engine's per-step budget (`STEP_TRANSITION_BUDGET`, 10,000) before handing back.
    assert!(exits <= MAX_TRANSITIONS + ENGINE_STEP_BUDGET + 1_000, "{exits} transitions for {}", machine.source);
    for (i, e) in outcome.history.iter().enumerate() {
        assert_eq!(e["id"], json!(i + 1), "history ids must count up");
    }
    outcome
}

/// Parses `definition` both ways; simulates it when it parses.
fn check_definition(definition: &Value, input: Value, seed: u64) {
    let text = definition.to_string();
    let from_text = guarded(|| format!("from_json_str: {text}"), || StateMachine::from_json_str(&text));
    let parsed = guarded(|| format!("parse: {text}"), || StateMachine::parse(definition));
    assert_eq!(from_text.is_ok(), parsed.is_ok(), "from_json_str and parse disagree on {text}");
    match parsed {
        Ok(machine) => {
            PARSED.fetch_add(1, Ordering::Relaxed);
            check_simulation(&machine, input, seed);
        }
        Err(problems) => assert!(!problems.is_empty(), "an Err without diagnostics for {text}"),
    }
}

static PARSED: AtomicU64 = AtomicU64::new(0);
static SIMULATED: AtomicU64 = AtomicU64::new(0);

// ---------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------

const STATE_TYPES: &[&str] = &["Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map", "Bogus"];

/// Field names from the ASL vocabulary (and a few that are not).
const FIELDS: &[&str] = &[
    "Type",
    "Comment",
    "QueryLanguage",
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "Result",
    "Arguments",
    "Output",
    "Assign",
    "Retry",
    "Catch",
    "Resource",
    "TimeoutSeconds",
    "TimeoutSecondsPath",
    "HeartbeatSeconds",
    "HeartbeatSecondsPath",
    "Credentials",
    "Choices",
    "Default",
    "Condition",
    "Variable",
    "StringEquals",
    "StringEqualsPath",
    "StringMatches",
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThanPath",
    "BooleanEquals",
    "TimestampEquals",
    "TimestampLessThan",
    "IsPresent",
    "IsNull",
    "IsNumeric",
    "IsString",
    "IsTimestamp",
    "And",
    "Or",
    "Not",
    "Seconds",
    "SecondsPath",
    "Timestamp",
    "TimestampPath",
    "Error",
    "ErrorPath",
    "Cause",
    "CausePath",
    "Branches",
    "Iterator",
    "ItemProcessor",
    "ProcessorConfig",
    "Mode",
    "ItemsPath",
    "Items",
    "ItemSelector",
    "ItemBatcher",
    "MaxItemsPerBatch",
    "BatchInput",
    "MaxConcurrency",
    "MaxConcurrencyPath",
    "ToleratedFailureCount",
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
    "Label",
    "ItemReader",
    "ResultWriter",
    "ErrorEquals",
    "IntervalSeconds",
    "MaxAttempts",
    "BackoffRate",
    "MaxDelaySeconds",
    "JitterStrategy",
    "StartAt",
    "States",
    "Version",
    "a.$",
    "Payload.$",
    "x",
    "",
];

const PATHS: &[&str] = &[
    "$",
    "$.a",
    "$.a.b",
    "$.b[0]",
    "$.b[-1]",
    "$.b[1:3]",
    "$.b[*]",
    "$..a",
    "$['a']",
    "$.b[?(@ > 1)]",
    "$.items[?(@.a == 1)]",
    "$.b.length()",
    "$$",
    "$$.Execution.Id",
    "$$.Execution.Input",
    "$$.State.Name",
    "$$.Map.Item.Value",
    "$$.Map.Item.Index",
    "$$.Task.Token",
    "$$.State.RetryCount",
    "$x",
    "$x.a",
    "$.",
    "$[",
    "",
    "a",
    "$.a..",
    "$.Payload",
    "$.s",
];

const JSONATA: &[&str] = &[
    "{% $states.input %}",
    "{% $states.input.a + 1 %}",
    "{% $states.result %}",
    "{% $states.errorOutput %}",
    "{% $states.context.Execution.Id %}",
    "{% $x %}",
    "{% $count($states.input.b) %}",
    "{% [1..5] %}",
    "{% $string($states.input) %}",
    "{% $sum([1, 2]) %}",
    "{% $map([1, 2], function($v) { $v * 2 }) %}",
    "{% $parse('1') %}",
    "{% 1 / 0 %}",
    "{% $random() %}",
    "{% $uuid() %}",
    "{% $now() %}",
    "{% $keys($states.input) %}",
    "{% $states.input.b[0] > 1 %}",
    "{% true %}",
    "{% 3 %}",
    "{% 'Custom' %}",
    "{% $error('boom') %}",
    "{% ( %}",
    "{% %}",
    "{% $states.input ~> $type() %}",
    "{% function($f) { $f($f) }(function($f) { $f($f) }) %}",
    "{% $reduce([1..100], function($a, $b) { $a + $b }) %}",
];

const INTRINSICS: &[&str] = &[
    "States.MathAdd($.a, 1)",
    "States.Format('x {} {}', $.a, $.s)",
    "States.Array(1, 'two', $.b)",
    "States.ArrayRange(0, 10, 2)",
    "States.ArrayRange(0, 100000, 1)",
    "States.StringToJson($.s)",
    "States.JsonToString($)",
    "States.Hash($.s, 'SHA-256')",
    "States.ArrayGetItem($.b, 5)",
    "States.ArrayPartition($.b, 0)",
    "States.ArrayLength($.b)",
    "States.ArrayUnique($.b)",
    "States.ArrayContains($.b, 1)",
    "States.UUID()",
    "States.MathRandom(1, 10)",
    "States.StringSplit('a,b', ',')",
    "States.Base64Encode($.s)",
    "States.Base64Decode('@@')",
    "States.JsonMerge($, $.Payload, false)",
    "States.MathAdd(",
    "States.Nope()",
    "States.Format('{}')",
];

/// Pieces from which garbled path / JSONata / intrinsic text is put together.
const TOKENS: &[&str] = &[
    "$", ".", "a", "b", "[", "]", "?(", "@", ")", "(", "States.", "Array", "MathAdd", "Format", ",", "'", "{%", "%}",
    "1", "-1", "..", "*", "$$", " ", "==", "&&", "\\", "{}", "\"", "0.5", "$states", "function", "~>", ":",
];

fn text() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        prop::sample::select(PATHS).prop_map(str::to_string),
        prop::sample::select(JSONATA).prop_map(str::to_string),
        prop::sample::select(INTRINSICS).prop_map(str::to_string),
        prop::collection::vec(prop::sample::select(TOKENS), 0..12).prop_map(|v| v.concat()),
        "\\PC{0,12}",
    ]
}

fn number() -> impl Strategy<Value = Value> + Clone {
    prop_oneof![
        (-3i64..120).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        Just(json!(0.5)),
        Just(json!(99_999_999)),
    ]
}

/// Arbitrary JSON built from the ASL vocabulary.
fn arb_json() -> impl Strategy<Value = Value> + Clone {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String),
        prop::sample::select(STATE_TYPES).prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(FIELDS), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

/// A small execution input.
fn arb_input() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({})),
        Just(json!({"a": 1, "b": [1, 2, 3], "s": "{\"k\": 1}", "items": [{"a": 1}, {"a": 2}]})),
        Just(json!({"a": "x", "b": [], "Payload": {"a": 1}})),
        Just(json!([1, 2, 3])),
        arb_json(),
    ]
}

/// A value to write into a definition field.
#[derive(Debug, Clone)]
enum Gen {
    /// A value of the kind the field expects (picked by this number), typed by the field name.
    Fitting(usize),
    /// The name of the n-th state found in the definition (or a missing one).
    StateName(usize),
    /// Any JSON.
    Json(Value),
}

/// One edit of a definition.
#[derive(Debug, Clone)]
enum Mutation {
    /// Set a field of the n-th object.
    Set { obj: usize, key: &'static str, val: Gen },
    /// Remove the k-th field of the n-th object.
    Remove { obj: usize, key: usize },
    /// Change the Type of the n-th state; `repair` then adds the new type's required
    /// fields and drops those it does not allow, so that the result often parses.
    Retype { state: usize, ty: &'static str, repair: bool },
    /// Point an existing Next / Default / StartAt (of a state, rule, catcher or machine)
    /// at another state.
    Retarget { obj: usize, target: usize },
    /// Copy the n-th object over the m-th.
    Copy { from: usize, to: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let value = prop_oneof![
        1 => any::<usize>().prop_map(Gen::StateName),
        4 => any::<usize>().prop_map(Gen::Fitting),
        3 => arb_json().prop_map(Gen::Json),
    ];
    prop_oneof![
        4 => (any::<usize>(), prop::sample::select(FIELDS), value)
            .prop_map(|(obj, key, val)| Mutation::Set { obj, key, val }),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(obj, key)| Mutation::Remove { obj, key }),
        3 => (any::<usize>(), prop::sample::select(STATE_TYPES), any::<bool>())
            .prop_map(|(state, ty, repair)| Mutation::Retype { state, ty, repair }),
        4 => (any::<usize>(), any::<usize>()).prop_map(|(obj, target)| Mutation::Retarget { obj, target }),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(from, to)| Mutation::Copy { from, to }),
    ]
}

/// JSON pointers of every object in `v`.
fn object_pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            out.push(at.clone());
            for (k, c) in m {
                object_pointers(c, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                object_pointers(c, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Names of all states (keys of every `States` object), plus one that does not exist.
fn state_names(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                if k == "States"
                    && let Some(s) = c.as_object()
                {
                    out.extend(s.keys().cloned());
                }
                state_names(c, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|c| state_names(c, out)),
        _ => {}
    }
}

/// Names of the states of the machine that the object at `ptr` belongs to.
fn local_state_names(def: &Value, ptr: &str) -> Vec<String> {
    let states_ptr = if def.pointer(ptr).is_some_and(|o| o.get("StartAt").is_some()) {
        format!("{ptr}/States")
    } else {
        let parts: Vec<&str> = ptr.split('/').collect();
        match parts.iter().rposition(|p| *p == "States") {
            Some(i) if i + 1 < parts.len() => parts[..=i].join("/"),
            _ => "/States".to_string(),
        }
    };
    def.pointer(&states_ptr).and_then(Value::as_object).map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

/// Pointers of every state object (objects with a `Type`).
fn state_pointers(v: &Value) -> Vec<String> {
    let mut all = Vec::new();
    object_pointers(v, String::new(), &mut all);
    all.into_iter().filter(|p| v.pointer(p).and_then(|o| o.get("Type")).is_some()).collect()
}

/// A value of the kind `key` expects, chosen by `i`.
fn fitting(key: &str, i: usize, names: &[String]) -> Value {
    let pick = |list: &[&str]| Value::from(list[i % list.len()]);
    let numbers = [json!(0), json!(1), json!(2), json!(-1), json!(0.5), json!(3600), json!(99_999_999), json!(1e300)];
    match key {
        "Next" | "Default" | "StartAt" => Value::String(names[i % names.len()].clone()),
        "Type" => pick(STATE_TYPES),
        "End" | "IsPresent" | "IsNull" | "IsNumeric" | "IsString" | "IsTimestamp" | "BooleanEquals" => {
            Value::Bool(i.is_multiple_of(2))
        }
        "QueryLanguage" => pick(&["JSONPath", "JSONata", "XPath"]),
        "Resource" => pick(&[
            "arn:aws:states:::lambda:invoke",
            "arn:aws:lambda:us-east-1:123456789012:function:f",
            "arn:aws:states:::sqs:sendMessage.sync",
            "arn:aws:states:::states:startExecution.sync:2",
            "{% 'arn:aws:states:::lambda:invoke' %}",
            "arn",
        ]),
        "Output" | "Condition" | "Items" | "Arguments" => pick(JSONATA),
        "Parameters" | "ResultSelector" | "ItemSelector" | "Assign" => {
            let exprs: Vec<&str> = PATHS.iter().chain(INTRINSICS).copied().collect();
            json!({"a.$": exprs[i % exprs.len()], "lit": [1, {"b.$": "$"}], "x": "{% $states.input %}"})
        }
        "Retry" => json!([{"ErrorEquals": [pick(&["States.ALL", "States.TaskFailed", "Custom", "States.Timeout"])],
                           "MaxAttempts": numbers[i % 4], "IntervalSeconds": numbers[(i / 4) % 4], "BackoffRate": 1.5}]),
        "Catch" => json!([{"ErrorEquals": ["States.ALL"], "Next": names[i % names.len()], "ResultPath": pick(PATHS)}]),
        "ErrorEquals" => json!([pick(&["States.ALL", "States.TaskFailed", "States.Runtime", "X"])]),
        "Choices" => json!([{"Variable": pick(PATHS), "NumericLessThan": 3, "Next": names[i % names.len()]}]),
        "Branches" => {
            json!([{"StartAt": "X", "States": {"X": {"Type": pick(&["Pass", "Succeed", "Fail"]), "End": true}}}])
        }
        "ItemProcessor" | "Iterator" => json!({"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}}),
        "ProcessorConfig" => json!({"Mode": pick(&["INLINE", "DISTRIBUTED", "X"])}),
        "StringEquals" | "StringMatches" | "Error" | "Cause" | "Comment" | "Label" => {
            pick(&["x*", "a", "", "\\*", "{% 'e' %}"])
        }
        "Timestamp" | "TimestampEquals" | "TimestampLessThan" => {
            pick(&["2016-03-14T01:59:00Z", "1970-01-01T00:00:10.5+01:00", "not a time", "{% $now() %}"])
        }
        k if k.ends_with("Path") || k == "Variable" => pick(PATHS),
        _ => numbers[i % numbers.len()].clone(),
    }
}

fn apply(def: &mut Value, m: &Mutation) {
    let mut objects = Vec::new();
    object_pointers(def, String::new(), &mut objects);
    let mut names = Vec::new();
    state_names(def, &mut names);
    names.push("Nowhere".to_string());
    let resolve = |key: &str, g: &Gen| match g {
        Gen::StateName(i) => Value::String(names[i % names.len()].clone()),
        Gen::Json(v) => v.clone(),
        Gen::Fitting(i) => fitting(key, *i, &names),
    };
    match m {
        Mutation::Set { obj, key, val } => {
            let val = resolve(key, val);
            if let Some(o) = def.pointer_mut(&objects[obj % objects.len()]).and_then(Value::as_object_mut) {
                o.insert(key.to_string(), val);
            }
        }
        Mutation::Remove { obj, key } => {
            if let Some(o) = def.pointer_mut(&objects[obj % objects.len()]).and_then(Value::as_object_mut)
                && !o.is_empty()
            {
                let k = o.keys().nth(key % o.len()).cloned().unwrap_or_default();
                o.shift_remove(&k);
            }
        }
        Mutation::Retype { state, ty, repair } => {
            let states = state_pointers(def);
            if !states.is_empty() {
                let name = names[state % names.len()].clone();
                if let Some(o) = def.pointer_mut(&states[state % states.len()]).and_then(Value::as_object_mut) {
                    o.insert("Type".into(), Value::from(*ty));
                    if *repair {
                        repair_state(o, ty, name);
                    }
                }
            }
        }
        Mutation::Retarget { obj, target } => {
            let keys = ["Next", "Default", "StartAt"];
            let with_targets: Vec<&String> = objects
                .iter()
                .filter(|p| def.pointer(p).is_some_and(|o| keys.iter().any(|k| o.get(k).is_some_and(Value::is_string))))
                .collect();
            if !with_targets.is_empty() {
                let ptr = with_targets[obj % with_targets.len()].clone();
                // Mostly a state of the same (sub-)machine; sometimes any name at all.
                let local = local_state_names(def, &ptr);
                let target = if target % 4 != 0 && !local.is_empty() {
                    Value::String(local[target % local.len()].clone())
                } else {
                    Value::String(names[target % names.len()].clone())
                };
                if let Some(o) = def.pointer_mut(&ptr).and_then(Value::as_object_mut)
                    && let Some(k) = keys.iter().find(|k| o.get(**k).is_some_and(Value::is_string))
                {
                    o.insert(k.to_string(), target);
                }
            }
        }
        Mutation::Copy { from, to } => {
            let from = def.pointer(&objects[from % objects.len()]).cloned();
            let to = &objects[to % objects.len()];
            if let (Some(v), Some(slot)) = (from, def.pointer_mut(to))
                && !to.is_empty()
            {
                *slot = v;
            }
        }
    }
}

/// Makes a retyped state plausible: required fields added, foreign ones removed.
fn repair_state(o: &mut serde_json::Map<String, Value>, ty: &str, next: String) {
    let allowed: &[&str] = match ty {
        "Pass" => &["Result", "Parameters", "ResultPath", "Output", "Assign"],
        "Task" => &[
            "Resource",
            "Parameters",
            "ResultPath",
            "ResultSelector",
            "Retry",
            "Catch",
            "TimeoutSeconds",
            "HeartbeatSeconds",
            "Arguments",
            "Output",
            "Assign",
            "Credentials",
        ],
        "Choice" => &["Choices", "Default", "Assign", "Output"],
        "Wait" => &["Seconds", "SecondsPath", "Timestamp", "TimestampPath", "Assign", "Output"],
        "Parallel" => &[
            "Branches",
            "Parameters",
            "ResultPath",
            "ResultSelector",
            "Retry",
            "Catch",
            "Arguments",
            "Output",
            "Assign",
        ],
        "Map" => &[
            "ItemProcessor",
            "Iterator",
            "ItemsPath",
            "Items",
            "ItemSelector",
            "Parameters",
            "ResultPath",
            "ResultSelector",
            "Retry",
            "Catch",
            "MaxConcurrency",
            "Output",
            "Assign",
            "Arguments",
        ],
        "Fail" => &["Error", "Cause", "ErrorPath", "CausePath"],
        _ => &[],
    };
    let io = ["Type", "Comment", "QueryLanguage", "InputPath", "OutputPath"];
    o.retain(|k, _| io.contains(&k.as_str()) || allowed.contains(&k.as_str()) || k == "Next" || k == "End");
    let terminal = matches!(ty, "Succeed" | "Fail");
    if terminal || ty == "Choice" {
        o.shift_remove("Next");
        o.shift_remove("End");
    } else if !o.contains_key("Next") && !o.contains_key("End") {
        o.insert("End".into(), Value::Bool(true));
    }
    if matches!(ty, "Fail") {
        o.shift_remove("InputPath");
        o.shift_remove("OutputPath");
    }
    let required: Vec<(&str, Value)> = match ty {
        "Task" => vec![("Resource", json!("arn:aws:states:::lambda:invoke"))],
        "Choice" => {
            vec![("Choices", json!([{"Variable": "$.a", "NumericEquals": 1, "Next": next}])), ("Default", json!(next))]
        }
        "Wait" => vec![("Seconds", json!(1))],
        "Parallel" => vec![("Branches", json!([{"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}}]))],
        "Map" => vec![("ItemProcessor", json!({"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}}))],
        _ => vec![],
    };
    for (k, v) in required {
        let present = match k {
            "Seconds" => ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"].iter().any(|f| o.contains_key(*f)),
            "ItemProcessor" => o.contains_key("ItemProcessor") || o.contains_key("Iterator"),
            _ => o.contains_key(k),
        };
        if !present {
            o.insert(k.into(), v);
        }
    }
}

/// Valid definitions covering every state type in both query languages.
fn seeds() -> Vec<Value> {
    vec![
        json!({"StartAt": "P", "States": {
            "P": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.a, 1)", "b.$": "$.b"}, "ResultPath": "$.r", "Next": "C"},
            "C": {"Type": "Choice", "Choices": [
                {"Variable": "$.r.n", "NumericLessThan": 5, "Next": "T"},
                {"And": [{"Variable": "$.s", "IsString": true}, {"Not": {"Variable": "$.s", "StringMatches": "x*"}}], "Next": "W"}
            ], "Default": "F"},
            "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2, "IntervalSeconds": 1, "BackoffRate": 2.0, "JitterStrategy": "FULL"}],
                  "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "F"}], "ResultSelector": {"v.$": "$"}, "OutputPath": "$", "Next": "W"},
            "W": {"Type": "Wait", "Seconds": 5, "Next": "S"},
            "S": {"Type": "Succeed"},
            "F": {"Type": "Fail", "Error": "Oops", "Cause": "bad"}
        }}),
        json!({"StartAt": "T", "TimeoutSeconds": 3600, "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "ResultPath": "$.out",
                  "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "T"}], "Next": "Loop"},
            "Loop": {"Type": "Choice", "Choices": [{"Variable": "$.out.StatusCode", "NumericEquals": 200, "Next": "T"}], "Default": "Done"},
            "Done": {"Type": "Pass", "Result": {"ok": true}, "End": true}
        }}),
        json!({"StartAt": "Par", "States": {
            "Par": {"Type": "Parallel", "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
                {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "TimeoutSeconds": 10, "End": true}}}
            ], "ResultSelector": {"first.$": "$[0]"}, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Fail"}], "Next": "Map"},
            "Map": {"Type": "Map", "ItemsPath": "$$.Execution.Input.b", "MaxConcurrency": 2, "ToleratedFailureCount": 1,
                    "ItemSelector": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
                    "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "I", "States": {
                        "I": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"Payload.$": "$"}, "End": true}}},
                    "Next": "Done"},
            "Done": {"Type": "Succeed"},
            "Fail": {"Type": "Fail", "ErrorPath": "$.Error", "CausePath": "States.Format('c {}', $.Cause)"}
        }}),
        json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
            "P": {"Type": "Pass", "Output": {"n": "{% $states.input.a %}", "list": "{% [1..3] %}"}, "Assign": {"x": 1}, "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Condition": "{% $x < 3 %}", "Assign": {"x": "{% $x + 1 %}"}, "Next": "T"}], "Default": "M"},
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Output": "{% $states.result.Payload %}", "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}],
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Output": "{% $states.errorOutput %}", "Next": "C"}], "Next": "C"},
            "M": {"Type": "Map", "Items": "{% [1, 2, 3] %}", "ItemSelector": {"v": "{% $states.context.Map.Item.Value %}"},
                  "ItemProcessor": {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": "{% 1 %}", "End": true}}}, "Next": "F"},
            "F": {"Type": "Fail", "Error": "{% 'E' %}", "Cause": "{% $string($states.input) %}"}
        }}),
        json!({"StartAt": "W", "States": {
            "W": {"Type": "Wait", "TimestampPath": "$.ts", "Next": "Map"},
            "Map": {"Type": "Map", "Iterator": {"StartAt": "X", "States": {"X": {"Type": "Pass", "Result": 1, "End": true}}},
                    "Parameters": {"v.$": "$$.Map.Item.Value"}, "ResultPath": null, "End": true}
        }}),
    ]
}

fn mutated_definition() -> impl Strategy<Value = Value> {
    (0..seeds().len(), prop::collection::vec(mutation(), 1..4)).prop_map(|(i, muts)| {
        let mut def = seeds()[i].clone();
        for m in &muts {
            apply(&mut def, m);
        }
        def
    })
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

/// Case counts are kept small for CI; `ROBUSTNESS_SCALE=50 cargo test --release ...`
/// runs a deeper search.
fn config(cases: u32) -> Config {
    let scale = std::env::var("ROBUSTNESS_SCALE").ok().and_then(|s| s.parse::<u32>().ok()).unwrap_or(1).max(1);
    Config {
        cases: cases.saturating_mul(scale),
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..Config::default()
    }
}

#[test]
fn seeds_are_valid_and_run() {
    for (i, seed) in seeds().iter().enumerate() {
        let machine = StateMachine::parse(seed).unwrap_or_else(|e| panic!("seed {i}: {e:?}"));
        for s in 0..8 {
            let input = json!({"a": 1, "b": [1, 2, 3], "s": "x", "ts": "1970-01-01T00:00:10Z"});
            check_simulation(&machine, input, s);
        }
    }
}

proptest! {
    #![proptest_config(config(1000))]

    /// Any JSON at all: parse never panics; whatever parses runs to an end.
    #[test]
    fn random_json_never_panics(def in arb_json(), input in arb_input(), seed in any::<u64>()) {
        check_definition(&def, input, seed);
        // Give the value the shape of a definition too, so more of it reaches the state parser.
        let wrapped = json!({"StartAt": "A", "States": {"A": def.clone(), "B": {"Type": "Succeed"}}});
        check_definition(&wrapped, json!({"a": 1}), seed);
    }

    /// Arbitrary bytes as definition text.
    #[test]
    fn random_text_never_panics(text in "\\PC{0,64}") {
        let _ = StateMachine::from_json_str(&text);
    }
}

proptest! {
    #![proptest_config(config(3000))]

    /// Valid definitions with random edits: states retyped, fields set to random paths,
    /// JSONata and intrinsic text, Next targets moved.
    #[test]
    fn mutated_definitions_never_panic_or_hang(def in mutated_definition(), input in arb_input(), seed in any::<u64>()) {
        check_definition(&def, input, seed);
    }
}

/// The share of mutated definitions that parse and run must stay meaningful, or the
/// property above tests little more than the validator.
#[test]
fn mutations_keep_enough_definitions_valid() {
    let mut runner = proptest::test_runner::TestRunner::new(config(200));
    let (mut parsed, mut total) = (0, 0);
    let strategy = mutated_definition();
    for _ in 0..200 {
        let def = strategy.new_tree(&mut runner).expect("a value").current();
        total += 1;
        if StateMachine::parse(&def).is_ok() {
            parsed += 1;
        }
    }
    assert!(parsed * 10 >= total, "only {parsed} of {total} mutated definitions parse");
    eprintln!(
        "mutated definitions parsing: {parsed}/{total}; over this binary so far: {} parsed, {} simulated",
        PARSED.load(Ordering::Relaxed),
        SIMULATED.load(Ordering::Relaxed)
    );
}

// ---------------------------------------------------------------------------------------
// Size and depth limits
// ---------------------------------------------------------------------------------------

/// A definition far over the size limit is refused up front, with a short message.
#[test]
fn ten_megabyte_definition_is_refused() {
    let big = "x".repeat(10 * 1024 * 1024);
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": big, "End": true}}});
    let text = def.to_string();
    let err = StateMachine::from_json_str(&text).expect_err("10 MB must be refused");
    assert!(err[0].message.len() < 1_000, "the error should not echo the definition");
    assert!(err[0].message.contains("limit"), "{}", err[0].message);

    // Handed over as a value (no text size check): it parses or not, but runs cleanly,
    // failing on the 256 KiB payload limit rather than carrying 10 MB around.
    if let Ok(machine) = StateMachine::parse(&def) {
        let outcome = simulate(&machine, json!({}), &SimulationOptions::default(), &mut random_tasks(1));
        assert_eq!(outcome.status, ExecutionStatus::Failed);
        assert_eq!(outcome.error.as_deref(), Some("States.DataLimitExceeded"));
    }
}

/// Builds `depth` nested arrays around `1` without recursion.
fn nested_arrays(depth: usize) -> Value {
    let mut v = json!(1);
    for _ in 0..depth {
        v = Value::Array(vec![v]);
    }
    v
}

/// Takes a deep value apart iteratively (serde_json's own drop recurses).
fn dismantle(v: Value) {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(a) => stack.extend(a),
            Value::Object(m) => stack.extend(m.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

/// 10,000 levels of nesting in the text: a clear JSON error, no stack overflow.
#[test]
fn ten_thousand_deep_definition_text_is_refused() {
    let depth = 10_000;
    let result = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    let text = format!(r#"{{"StartAt": "P", "States": {{"P": {{"Type": "Pass", "Result": {result}, "End": true}}}}}}"#);
    let err = StateMachine::from_json_str(&text).expect_err("too deep");
    assert_eq!(err[0].code, "INVALID_JSON_DESCRIPTION");
    assert!(err[0].message.contains("recursion limit"), "{}", err[0].message);

    let params = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    let text =
        format!(r#"{{"StartAt": "P", "States": {{"P": {{"Type": "Pass", "Parameters": {params}, "End": true}}}}}}"#);
    assert!(StateMachine::from_json_str(&text).is_err());
}

/// A deep `Result` handed over as a value (not text) is refused by the definition depth
/// limit rather than overflowing the stack in serde_json's recursive `Clone`.
#[test]
fn ten_thousand_deep_result_value_does_not_overflow() {
    in_child("ten_thousand_deep_result_value_does_not_overflow", || {
        let mut def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": null, "End": true}}});
        def["States"]["P"]["Result"] = nested_arrays(10_000);
        let parsed = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || {
                let parsed = StateMachine::parse(&def).map(|_| ()).map_err(|e| e[0].message.clone());
                dismantle(def);
                parsed
            })
            .expect("thread")
            .join()
            .expect("no panic");
        let message = parsed.expect_err("a 10,000-deep definition is refused");
        assert!(message.contains("nested"), "{message}");
    });
}

/// A definition whose JSON nests little but whose expression text nests deeply.
fn deep_text_definition(field: &str, text: &str) -> String {
    let def = match field {
        "Parameters" => {
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"a.$": text}, "End": true}}})
        }
        "Output" => {
            json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass", "Output": text, "End": true}}})
        }
        _ => json!({"StartAt": "P", "States": {"P": {"Type": "Pass", field: text, "End": true}}}),
    };
    def.to_string()
}

/// Parses (and runs) the text on a thread with the default 2 MiB test stack.
fn parse_on_small_stack(text: String) -> Result<(), usize> {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || match StateMachine::from_json_str(&text) {
            Ok(m) => {
                simulate(&m, json!({"a": 1}), &SimulationOptions::default(), &mut random_tasks(1));
                Ok(())
            }
            Err(e) => Err(e.len()),
        })
        .expect("thread")
        .join()
        .expect("no panic")
}

const DEEP: usize = 10_000;

/// Runs `case` in a child process (this test binary re-run on test `name` alone), so that
/// a stack overflow, which aborts the process, fails this test instead of the whole binary.
fn in_child(name: &str, case: impl FnOnce()) {
    if std::env::var_os("ROBUSTNESS_CHILD").is_some() {
        case();
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([name, "--exact", "--include-ignored", "--nocapture", "--test-threads=1"])
        .env("ROBUSTNESS_CHILD", "1")
        .output()
        .expect("child test process");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} failed in its child process ({}): {}",
        out.status,
        stderr.lines().filter(|l| l.contains("overflow") || l.contains("panicked")).collect::<Vec<_>>().join("; ")
    );
}

#[test]
fn deeply_nested_jsonata_is_refused() {
    in_child("deeply_nested_jsonata_is_refused", || {
        let text = format!("{{% {}1{} %}}", "(".repeat(DEEP), ")".repeat(DEEP));
        assert!(parse_on_small_stack(deep_text_definition("Output", &text)).is_err());
        let text = format!("{{% {}1{} %}}", "[".repeat(DEEP), "]".repeat(DEEP));
        assert!(parse_on_small_stack(deep_text_definition("Output", &text)).is_err());
        let text = format!("{{% {}1 %}}", "-".repeat(DEEP));
        let _ = parse_on_small_stack(deep_text_definition("Output", &text));
    });
}

#[test]
fn deeply_nested_intrinsic_is_refused() {
    in_child("deeply_nested_intrinsic_is_refused", || {
        let text = format!("{}1{}", "States.Array(".repeat(DEEP), ")".repeat(DEEP));
        assert!(parse_on_small_stack(deep_text_definition("Parameters", &text)).is_err());
    });
}

#[test]
fn deeply_nested_jsonpath_filter_is_refused() {
    in_child("deeply_nested_jsonpath_filter_is_refused", || {
        let text = format!("$[?({}@.a{})]", "(".repeat(DEEP), ")".repeat(DEEP));
        assert!(parse_on_small_stack(deep_text_definition("InputPath", &text)).is_err());
    });
}

#[test]
fn deeply_nested_jsonpath_filter_not_is_refused() {
    in_child("deeply_nested_jsonpath_filter_not_is_refused", || {
        let text = format!("$[?({}@.a)]", "!".repeat(DEEP));
        let _ = parse_on_small_stack(deep_text_definition("InputPath", &text));
    });
}

#[test]
fn deeply_nested_jsonpath_in_filter_is_refused() {
    in_child("deeply_nested_jsonpath_in_filter_is_refused", || {
        let text = format!("$[?(@.a == 1 && {}1{})]", "@[?(".repeat(DEEP), ")]".repeat(DEEP));
        let _ = parse_on_small_stack(deep_text_definition("InputPath", &text));
    });
}

// ---------------------------------------------------------------------------------------
// Runaway executions, minimised (these hung before the engine's per-step transition
// budget and the simulator's event bound)
// ---------------------------------------------------------------------------------------

/// Runs `f` on a thread and fails if it does not finish in `limit`.
fn finishes_within<R: Send + 'static>(limit: Duration, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).unwrap_or_else(|_| panic!("did not finish within {limit:?} (the thread is left running)"))
}

/// A Pass/Choice loop with no Task or timed Wait: it used to never leave `engine::step`
/// (`Run::drain` ran ready frames until they parked; `simulate` only checked
/// `max_transitions` between events), growing the history until memory ran out.
#[test]
fn pure_pass_choice_loop_stops_at_max_transitions() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "B"}], "Default": "A"},
        "B": {"Type": "Succeed"}
    }});
    let machine = StateMachine::parse(&def).expect("valid");
    let outcome = finishes_within(Duration::from_secs(10), move || {
        let options = SimulationOptions { max_transitions: 1_000, ..SimulationOptions::default() };
        simulate(&machine, json!({}), &options, &mut random_tasks(1))
    });
    assert_ne!(outcome.status, ExecutionStatus::Running);
}

/// The same with a `Wait` of zero seconds (it never parks) in the loop.
#[test]
fn zero_second_wait_loop_stops_at_max_transitions() {
    let def = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 0, "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "B"}], "Default": "W"},
        "B": {"Type": "Succeed"}
    }});
    let machine = StateMachine::parse(&def).expect("valid");
    let outcome = finishes_within(Duration::from_secs(10), move || {
        let options = SimulationOptions { max_transitions: 1_000, ..SimulationOptions::default() };
        simulate(&machine, json!({}), &options, &mut random_tasks(1))
    });
    assert_ne!(outcome.status, ExecutionStatus::Running);
}

/// Retries are not transitions: a Task that always fails with a large MaxAttempts ran
/// 3 history events per attempt; at 99,999,999 attempts, hours and gigabytes.
#[test]
fn retry_storm_is_bounded() {
    let def = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 99_999_999, "IntervalSeconds": 1, "BackoffRate": 1.0}],
        "End": true
    }}});
    let machine = StateMachine::parse(&def).expect("valid");
    let outcome = finishes_within(Duration::from_secs(10), move || {
        let options = SimulationOptions { max_transitions: 1_000, ..SimulationOptions::default() };
        simulate(&machine, json!({}), &options, &mut |_| TaskResult::Failure {
            error: "E".into(),
            cause: String::new(),
        })
    });
    assert_ne!(outcome.status, ExecutionStatus::Running);
}

/// `max_transitions` is checked only between steps, so a Pass/Choice loop runs a whole
/// engine step budget (10,000 transitions) even when the limit is 200.
#[test]
fn max_transitions_is_not_overshot() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "T"},
        "T": {"Type": "Choice", "Choices": [{"Variable": "$.a", "NumericEquals": 2, "Next": "Done"}], "Default": "A"},
        "Done": {"Type": "Succeed"}
    }});
    let machine = StateMachine::parse(&def).expect("valid");
    let options = SimulationOptions { max_transitions: 200, ..SimulationOptions::default() };
    let outcome = simulate(&machine, json!({"a": 1}), &options, &mut random_tasks(1));
    let exits =
        outcome.history.iter().filter(|e| e["type"].as_str().is_some_and(|t| t.ends_with("StateExited"))).count();
    assert_ne!(outcome.status, ExecutionStatus::Running);
    assert!(exits <= 201, "{exits} transitions with max_transitions = 200");
}
