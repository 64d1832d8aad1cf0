//! The parsed form of a state machine definition: every state type, its fields
//! compiled once (paths, payload templates, JSONata), and the nested sub-machines
//! of Parallel and Map flattened into one arena so that runs can name them by index.

mod express;
mod parse;
mod template;
mod validate;
mod variable_references;

pub use variable_references::variable_references;

use indexmap::IndexMap;
use serde_json::Value;

use crate::choice::Condition;
use crate::diagnostic::Diagnostic;
use crate::jsonata::Expression;
use crate::jsonpath::JsonPath;
use crate::payload::PayloadTemplate;

pub use template::{JsonataTemplate, TemplateError, expression_text, template_error_cause};

/// Largest definition accepted, in bytes (AWS's limit is 1 MiB; we allow more but not unbounded).
pub const MAX_DEFINITION_BYTES: usize = 8 * 1024 * 1024;

/// Index of a sub-machine (the top level, a Parallel branch, or a Map item processor).
pub type MachineId = usize;

/// A parsed and validated state machine.
#[derive(Debug, Clone)]
pub struct StateMachine {
    /// The definition as given.
    pub source: Value,
    /// `Comment` at the top level.
    pub comment: Option<String>,
    /// `TimeoutSeconds` of the whole execution.
    pub timeout_seconds: Option<u64>,
    /// The top-level query language.
    pub query_language: QueryLanguage,
    /// All (sub-)machines; index 0 is the top level.
    pub machines: Vec<Machine>,
}

/// One flow of states: the top level, a Parallel branch, or a Map item processor.
#[derive(Debug, Clone)]
pub struct Machine {
    /// Name of the first state.
    pub start_at: String,
    /// The states, in definition order (Fx-hashed: names are looked up on every transition).
    pub states: IndexMap<String, State, rustc_hash::FxBuildHasher>,
    /// The JSON-pointer-like location of this machine in the definition.
    pub location: String,
}

impl Machine {
    /// The state called `name`.
    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.get(name)
    }
}

/// The two query languages of ASL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryLanguage {
    /// Paths, Parameters, ResultSelector, intrinsic functions.
    JsonPath,
    /// `{% ... %}` expressions, Arguments and Output.
    Jsonata,
}

/// A state: the fields every state may have plus its type-specific part.
#[derive(Debug, Clone)]
pub struct State {
    /// The state's name (shared, since every history event of the state carries it).
    pub name: std::sync::Arc<str>,
    /// The query language in force for this state.
    pub query_language: QueryLanguage,
    /// Where to go next; `None` for terminal states.
    pub next: Option<String>,
    /// InputPath (JSONPath only).
    pub input_path: PathField,
    /// OutputPath (JSONPath only).
    pub output_path: PathField,
    /// ResultPath (JSONPath only).
    pub result_path: PathField,
    /// Parameters (JSONPath only).
    pub parameters: Option<PayloadTemplate>,
    /// ResultSelector (JSONPath only).
    pub result_selector: Option<PayloadTemplate>,
    /// Arguments (JSONata only).
    pub arguments: Option<JsonataTemplate>,
    /// Output (JSONata only).
    pub output: Option<JsonataTemplate>,
    /// Assign, in either language.
    pub assign: Option<Assign>,
    /// Retriers, in order.
    pub retry: Vec<Retrier>,
    /// Catchers, in order.
    pub catch: Vec<Catcher>,
    /// The type-specific part.
    pub kind: StateKind,
}

/// A JSONPath field that may be absent (default `$`), `null` (discard), or a path.
#[derive(Debug, Clone, PartialEq)]
pub enum PathField {
    /// The field is absent: the default `$`.
    Default,
    /// The field is `null`.
    Null,
    /// A path.
    Path(JsonPath),
}

/// An `Assign` block.
#[derive(Debug, Clone)]
pub enum Assign {
    /// JSONPath form: a payload template.
    JsonPath(PayloadTemplate),
    /// JSONata form.
    Jsonata(JsonataTemplate),
}

/// A value that is either fixed or computed at run time.
#[derive(Debug, Clone)]
pub enum Dynamic<T> {
    /// Written in the definition.
    Fixed(T),
    /// Read from the input with a JSONPath (`...Path` fields).
    Path(JsonPath),
    /// A JSONata expression.
    Jsonata(Expression),
    /// An intrinsic function call (Fail's `ErrorPath`/`CausePath`).
    Intrinsic(crate::intrinsics::Intrinsic),
}

/// The type-specific part of a state.
#[derive(Debug, Clone)]
pub enum StateKind {
    /// Pass: passes input (or `Result`) to output.
    Pass {
        /// `Result` (JSONPath only).
        result: Option<Value>,
    },
    /// Task: work done by a resource.
    Task(Box<TaskSpec>),
    /// Choice: branches on rules.
    Choice(Box<ChoiceSpec>),
    /// Wait: pauses.
    Wait(WaitSpec),
    /// Succeed: ends the execution (or branch) successfully.
    Succeed,
    /// Fail: ends the execution (or branch) with an error.
    Fail(Box<FailSpec>),
    /// Parallel: runs branches concurrently.
    Parallel {
        /// The branches' machine ids.
        branches: Vec<MachineId>,
    },
    /// Map: runs a processor for every item.
    Map(Box<MapSpec>),
}

impl StateKind {
    /// The ASL type name (`Pass`, `Task`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            StateKind::Pass { .. } => "Pass",
            StateKind::Task(_) => "Task",
            StateKind::Choice(_) => "Choice",
            StateKind::Wait(_) => "Wait",
            StateKind::Succeed => "Succeed",
            StateKind::Fail(_) => "Fail",
            StateKind::Parallel { .. } => "Parallel",
            StateKind::Map(_) => "Map",
        }
    }
}

/// A Task state's resource and limits.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    /// The `Resource` ARN.
    pub resource: String,
    /// `TimeoutSeconds` / `TimeoutSecondsPath`.
    pub timeout_seconds: Option<Dynamic<u64>>,
    /// `HeartbeatSeconds` / `HeartbeatSecondsPath`.
    pub heartbeat_seconds: Option<Dynamic<u64>>,
    /// `Credentials`, kept as given.
    pub credentials: Option<Value>,
}

/// A Choice state's rules.
#[derive(Debug, Clone)]
pub struct ChoiceSpec {
    /// The rules, in order.
    pub choices: Vec<ChoiceBranch>,
    /// `Default` target.
    pub default: Option<String>,
}

/// One rule of a Choice state.
#[derive(Debug, Clone)]
pub struct ChoiceBranch {
    /// The condition.
    pub condition: ChoiceCondition,
    /// Target state.
    pub next: String,
    /// The rule's own Assign.
    pub assign: Option<Assign>,
    /// The rule's own Output (JSONata).
    pub output: Option<JsonataTemplate>,
}

/// The test of a Choice rule.
#[derive(Debug, Clone)]
pub enum ChoiceCondition {
    /// A JSONPath-mode rule.
    JsonPath(Condition),
    /// A JSONata `Condition`.
    Jsonata(Expression),
    /// A JSONata `Condition` given as a literal boolean.
    Constant(bool),
}

/// How long a Wait state waits.
#[derive(Debug, Clone)]
pub enum WaitSpec {
    /// `Seconds` (fixed, JSONata, or `SecondsPath`).
    Seconds(Dynamic<i64>),
    /// `Timestamp` (fixed, JSONata, or `TimestampPath`).
    Timestamp(Dynamic<String>),
}

/// A Fail state's error and cause.
#[derive(Debug, Clone)]
pub struct FailSpec {
    /// `Error` / `ErrorPath` / JSONata.
    pub error: Option<Dynamic<String>>,
    /// `Cause` / `CausePath` / JSONata.
    pub cause: Option<Dynamic<String>>,
}

/// A Map state's iteration settings.
#[derive(Debug, Clone)]
pub struct MapSpec {
    /// The item processor (or legacy Iterator).
    pub processor: MachineId,
    /// `ProcessorConfig.Mode: DISTRIBUTED`.
    pub distributed: bool,
    /// `ProcessorConfig.ExecutionType: EXPRESS`: a distributed Map's children keep no history.
    pub express_children: bool,
    /// `ItemsPath` (JSONPath).
    pub items_path: PathField,
    /// `Items` (JSONata expression or literal array).
    pub items: Option<JsonataTemplate>,
    /// `ItemSelector` or legacy `Parameters`.
    pub item_selector: Option<ItemSelector>,
    /// `MaxConcurrency` / `MaxConcurrencyPath`.
    pub max_concurrency: Option<Dynamic<i64>>,
    /// `ToleratedFailureCount` / `...Path`.
    pub tolerated_failure_count: Option<Dynamic<i64>>,
    /// `ToleratedFailurePercentage` / `...Path`.
    pub tolerated_failure_percentage: Option<Dynamic<f64>>,
    /// `ItemBatcher`, kept as given.
    pub item_batcher: Option<ItemBatcher>,
    /// `Label`.
    pub label: Option<String>,
    /// `ItemReader`: where the items are read from, instead of the state input.
    pub item_reader: Option<ItemReader>,
}

/// A Map's `ItemReader`. AWS reads the items from S3; Stepline puts the read out as a
/// task on the queue named after `resource` (as it does for any service integration),
/// and decodes what the worker returns as `ReaderConfig` says.
#[derive(Debug, Clone)]
pub struct ItemReader {
    /// `Resource`, e.g. `arn:aws:states:::s3:getObject` or `…:s3:listObjectsV2`.
    pub resource: String,
    /// `Parameters` (JSONPath) or `Arguments` (JSONata): what the worker receives.
    pub arguments: Option<ItemSelector>,
    /// `ReaderConfig`.
    pub config: ReaderConfig,
}

/// `ItemReader.ReaderConfig`.
#[derive(Debug, Clone)]
pub struct ReaderConfig {
    /// `InputType`: how an object's content becomes items (None: the worker returns
    /// the items, or an S3 listing).
    pub input_type: Option<ReaderInputType>,
    /// `CSVHeaders`, when `CSVHeaderLocation` is `GIVEN` (else the first row is the header).
    pub csv_headers: Option<Vec<String>>,
    /// `CSVDelimiter` as a byte (default `,`).
    pub csv_delimiter: u8,
    /// `MaxItems` / `MaxItemsPath`: read at most this many items.
    pub max_items: Option<Dynamic<i64>>,
}

/// `ReaderConfig.InputType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderInputType {
    /// A CSV file: one item per row, an object keyed by the header.
    Csv,
    /// A JSON file holding an array of items.
    Json,
    /// JSON Lines: one item per line.
    Jsonl,
    /// An S3 inventory manifest (not decoded by Stepline).
    Manifest,
    /// A Parquet file (not decoded by Stepline).
    Parquet,
}

/// `ItemSelector` in either language.
#[derive(Debug, Clone)]
pub enum ItemSelector {
    /// JSONPath payload template.
    JsonPath(PayloadTemplate),
    /// JSONata template.
    Jsonata(JsonataTemplate),
}

/// `ItemBatcher` settings.
#[derive(Debug, Clone)]
pub struct ItemBatcher {
    /// `MaxItemsPerBatch` / `...Path`.
    pub max_items_per_batch: Option<Dynamic<i64>>,
    /// `BatchInput`.
    pub batch_input: Option<Value>,
}

/// One `Retry` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrier {
    /// `ErrorEquals`.
    pub error_equals: Vec<String>,
    /// `IntervalSeconds` (default 1).
    pub interval_seconds: f64,
    /// `MaxAttempts` (default 3).
    pub max_attempts: u32,
    /// `BackoffRate` (default 2.0).
    pub backoff_rate: f64,
    /// `MaxDelaySeconds`.
    pub max_delay_seconds: Option<f64>,
    /// `JitterStrategy: FULL`.
    pub full_jitter: bool,
}

/// One `Catch` entry.
#[derive(Debug, Clone)]
pub struct Catcher {
    /// `ErrorEquals`.
    pub error_equals: Vec<String>,
    /// `Next`.
    pub next: String,
    /// `ResultPath` (JSONPath).
    pub result_path: PathField,
    /// `Assign`.
    pub assign: Option<Assign>,
    /// `Output` (JSONata).
    pub output: Option<JsonataTemplate>,
}

/// Whether a retrier or catcher's `ErrorEquals` matches `error`.
///
/// `States.ALL` matches every error but `States.Runtime`; `States.TaskFailed` matches
/// every error but the timeouts' and the runtime's.
pub fn error_matches(error_equals: &[String], error: &str) -> bool {
    error_equals.iter().any(|e| {
        e == error
            || (e == "States.ALL" && error != "States.Runtime")
            || (e == "States.TaskFailed"
                && !matches!(error, "States.Timeout" | "States.HeartbeatTimeout" | "States.Runtime"))
    })
}

impl StateMachine {
    /// Parses and validates a definition given as JSON text.
    pub fn from_json_str(text: &str) -> Result<StateMachine, Vec<Diagnostic>> {
        if text.len() > MAX_DEFINITION_BYTES {
            return Err(vec![Diagnostic::schema(
                format!("The definition is {} bytes, more than the limit of {MAX_DEFINITION_BYTES} bytes", text.len()),
                "/",
            )]);
        }
        // AWS calls an empty text a schema problem, not a JSON one.
        if text.trim().is_empty() {
            return Err(vec![Diagnostic::schema("Definition must be a valid JSON object", "/")]);
        }
        let value: Value = serde_json::from_str(text).map_err(|e| {
            vec![Diagnostic::new("INVALID_JSON_DESCRIPTION", format!("The definition is not valid JSON: {e}"), "/")]
        })?;
        StateMachine::parse(&value)
    }

    /// Parses and validates a definition.
    pub fn parse(definition: &Value) -> Result<StateMachine, Vec<Diagnostic>> {
        let machine = parse::parse_definition(definition)?;
        let problems = validate::validate(&machine);
        if problems.is_empty() { Ok(machine) } else { Err(problems) }
    }

    /// What an EXPRESS state machine may not contain, located as AWS locates it (empty
    /// when this definition can run as EXPRESS).
    pub fn express_diagnostics(&self) -> Vec<Diagnostic> {
        express::express_diagnostics(self)
    }

    /// The top-level machine.
    pub fn root(&self) -> &Machine {
        &self.machines[0]
    }

    /// The machine with id `id`.
    pub fn machine(&self, id: MachineId) -> &Machine {
        &self.machines[id]
    }
}
