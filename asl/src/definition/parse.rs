//! Turns definition JSON into [`StateMachine`], collecting located diagnostics
//! instead of stopping at the first problem.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::*;
use crate::choice::Condition;
use crate::intrinsics::Intrinsic;
use crate::jsonata::Expression;

mod item_reader;
mod map_state;

/// Fields any state may carry, by language.
const COMMON: &[&str] = &["Type", "Comment", "QueryLanguage", "Next", "End"];
const JSONPATH_ONLY: &[&str] = &[
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "ItemsPath",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "MaxConcurrencyPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
    "Result",
    "Iterator",
];
const JSONATA_ONLY: &[&str] = &["Arguments", "Output", "Items"];

struct Parser {
    machines: Vec<Machine>,
    problems: Vec<Diagnostic>,
    /// The top level's language: only a JSONata top level forbids JSONPath states.
    root_query_language: QueryLanguage,
}

/// Parses a whole definition.
pub(super) fn parse_definition(definition: &Value) -> Result<StateMachine, Vec<Diagnostic>> {
    let Some(obj) = definition.as_object() else {
        return Err(vec![Diagnostic::schema("Definition must be a valid JSON object", "/")]);
    };
    // Compiling templates recurses through the JSON, so refuse absurd depth up front.
    if depth_exceeds(definition, MAX_DEFINITION_DEPTH) {
        return Err(vec![Diagnostic::schema(
            format!("The definition is nested more than {MAX_DEFINITION_DEPTH} levels deep"),
            "/",
        )]);
    }
    let mut p = Parser { machines: Vec::new(), problems: Vec::new(), root_query_language: QueryLanguage::JsonPath };
    let query_language = match obj.get("QueryLanguage") {
        None => QueryLanguage::JsonPath,
        Some(v) => p.query_language(v, "/QueryLanguage").unwrap_or(QueryLanguage::JsonPath),
    };
    p.root_query_language = query_language;
    for key in obj.keys() {
        if !["StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"].contains(&key.as_str()) {
            p.problems.push(Diagnostic::schema(format!("These fields are not allowed: {key}"), "/"));
        }
    }
    let timeout_seconds = match obj.get("TimeoutSeconds") {
        None => None,
        Some(v) => p.positive_int(v, "/TimeoutSeconds").map(|n| n as u64),
    };
    let comment = obj.get("Comment").and_then(Value::as_str).map(str::to_string);
    p.machines.push(Machine { start_at: String::new(), states: IndexMap::default(), location: String::new() });
    p.machine_into(0, obj, "", query_language);
    if p.problems.is_empty() {
        Ok(StateMachine { source: definition.clone(), comment, timeout_seconds, query_language, machines: p.machines })
    } else {
        Err(p.problems)
    }
}

impl Parser {
    fn err(&mut self, message: impl Into<String>, location: impl Into<String>) {
        self.problems.push(Diagnostic::schema(message, location));
    }

    /// AWS's report of required fields missing from the object at `loc`: one problem
    /// naming them all, located at the object (the root is `/`).
    fn missing(&mut self, fields: &[&str], loc: &str) {
        let at = if loc.is_empty() { "/" } else { loc };
        self.err(format!("These fields are required: [{}]", fields.join(", ")), at);
    }

    fn query_language(&mut self, v: &Value, loc: &str) -> Option<QueryLanguage> {
        match v.as_str() {
            Some("JSONPath") => Some(QueryLanguage::JsonPath),
            Some("JSONata") => Some(QueryLanguage::Jsonata),
            _ => {
                self.err("QueryLanguage must be one of [JSONPath, JSONata]", loc);
                None
            }
        }
    }

    fn positive_int(&mut self, v: &Value, loc: &str) -> Option<i64> {
        match v.as_i64() {
            Some(n) if n >= 0 => Some(n),
            _ => {
                self.err("Expected a non-negative integer", loc);
                None
            }
        }
    }

    fn string(&mut self, v: Option<&Value>, loc: &str, required: bool) -> Option<String> {
        match v {
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.err("Expected value of type: String", loc);
                None
            }
            None => {
                if required {
                    let (object, field) = loc.rsplit_once('/').unwrap_or(("", loc));
                    self.missing(&[field], object);
                }
                None
            }
        }
    }

    /// Parses `{StartAt, States}` into the pre-allocated machine slot `id`.
    fn machine_into(&mut self, id: MachineId, obj: &Map<String, Value>, loc: &str, ql: QueryLanguage) {
        // AWS names both in one problem, States first, when both are missing.
        if !obj.contains_key("StartAt") && !obj.contains_key("States") {
            self.missing(&["States", "StartAt"], loc);
        }
        let start_at_required = obj.contains_key("States");
        let start_at =
            self.string(obj.get("StartAt"), &format!("{loc}/StartAt"), start_at_required).unwrap_or_default();
        let mut states = IndexMap::default();
        match obj.get("States") {
            Some(Value::Object(map)) => {
                if map.is_empty() {
                    self.err("States must not be empty", format!("{loc}/States"));
                }
                for (name, state) in map {
                    let sloc = format!("{loc}/States/{name}");
                    if name.is_empty() || name.chars().count() > 80 {
                        self.err("State names must be 1 to 80 characters long", &sloc);
                    }
                    if let Some(s) = self.state(name, state, &sloc, ql) {
                        states.insert(name.clone(), s);
                    }
                }
            }
            Some(_) => self.err("States must be an object", format!("{loc}/States")),
            None if obj.contains_key("StartAt") => self.missing(&["States"], loc),
            None => {}
        }
        self.machines[id] = Machine { start_at, states, location: loc.to_string() };
    }

    fn sub_machine(&mut self, v: &Value, loc: &str, ql: QueryLanguage) -> MachineId {
        let id = self.machines.len();
        self.machines.push(Machine { start_at: String::new(), states: IndexMap::default(), location: loc.to_string() });
        match v.as_object() {
            Some(obj) => {
                let ql = match obj.get("QueryLanguage") {
                    Some(q) => self.query_language(q, &format!("{loc}/QueryLanguage")).unwrap_or(ql),
                    None => ql,
                };
                self.machine_into(id, obj, loc, ql)
            }
            None => self.err("Expected an object with StartAt and States", loc),
        }
        id
    }

    fn path_field(&mut self, obj: &Map<String, Value>, key: &str, loc: &str) -> PathField {
        match obj.get(key) {
            None => PathField::Default,
            Some(Value::Null) => PathField::Null,
            Some(Value::String(s)) => match JsonPath::parse(s) {
                Ok(p) => PathField::Path(p),
                Err(m) => {
                    self.err(
                        format!("The value for the field '{key}' must be a valid JSONPath: {m}"),
                        format!("{loc}/{key}"),
                    );
                    PathField::Default
                }
            },
            Some(_) => {
                self.err(format!("The value for the field '{key}' must be a valid JSONPath"), format!("{loc}/{key}"));
                PathField::Default
            }
        }
    }

    fn json_path(&mut self, v: &Value, key: &str, loc: &str) -> Option<JsonPath> {
        match v.as_str().map(JsonPath::parse) {
            Some(Ok(p)) => Some(p),
            _ => {
                self.err(format!("The value for the field '{key}' must be a valid JSONPath"), format!("{loc}/{key}"));
                None
            }
        }
    }

    fn payload(&mut self, obj: &Map<String, Value>, key: &str, loc: &str) -> Option<PayloadTemplate> {
        let v = obj.get(key)?;
        match PayloadTemplate::compile(v) {
            Ok(t) => Some(t),
            Err(m) => {
                self.err(m, format!("{loc}/{key}"));
                None
            }
        }
    }

    fn jsonata_template(&mut self, v: &Value, loc: &str) -> Option<JsonataTemplate> {
        match JsonataTemplate::compile(v) {
            Ok(t) => Some(t),
            Err(m) => {
                self.err(m, loc);
                None
            }
        }
    }

    fn field_template(&mut self, obj: &Map<String, Value>, key: &str, loc: &str) -> Option<JsonataTemplate> {
        let v = obj.get(key)?;
        self.jsonata_template(v, &format!("{loc}/{key}"))
    }

    fn expression(&mut self, src: &str, loc: &str) -> Option<Expression> {
        match Expression::compile(src) {
            Ok(e) => Some(e),
            Err(e) => {
                self.err(format!("The JSONata expression '{src}' is invalid: {e}"), loc);
                None
            }
        }
    }

    fn assign(&mut self, obj: &Map<String, Value>, loc: &str, ql: QueryLanguage) -> Option<Assign> {
        let v = obj.get("Assign")?;
        let aloc = format!("{loc}/Assign");
        let Some(map) = v.as_object() else {
            self.err("Assign must be an object", aloc);
            return None;
        };
        for name in map.keys() {
            let bare = name.strip_suffix(".$").unwrap_or(name);
            if bare == "states" || bare.is_empty() || !bare.chars().all(|c| c.is_alphanumeric() || c == '_') {
                self.err(format!("The variable name '{bare}' is not valid"), format!("{aloc}/{name}"));
            }
        }
        match ql {
            QueryLanguage::JsonPath => match PayloadTemplate::compile(v) {
                Ok(t) => Some(Assign::JsonPath(t)),
                Err(m) => {
                    self.err(m, aloc);
                    None
                }
            },
            QueryLanguage::Jsonata => self.jsonata_template(v, &aloc).map(Assign::Jsonata),
        }
    }

    /// A number field that may also be a `...Path` or (in JSONata) an expression string;
    /// `kind` names the expected number ("an integer", "a number") in diagnostics.
    fn dynamic_number<T>(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        loc: &str,
        ql: QueryLanguage,
        kind: &str,
        convert: fn(&serde_json::Number) -> Option<T>,
    ) -> Option<Dynamic<T>> {
        let path_key = format!("{key}Path");
        if let Some(p) = obj.get(&path_key) {
            if obj.contains_key(key) {
                self.err(format!("Only one of {key} and {path_key} may be given"), format!("{loc}/{key}"));
            }
            return self.json_path(p, &path_key, loc).map(Dynamic::Path);
        }
        let value = obj.get(key)?;
        let parsed = match value {
            Value::Number(n) => convert(n).map(Dynamic::Fixed),
            Value::String(s) if ql == QueryLanguage::Jsonata => match template::expression_text(s) {
                Some(src) => return self.expression(src, &format!("{loc}/{key}")).map(Dynamic::Jsonata),
                None => None,
            },
            _ => None,
        };
        if parsed.is_none() {
            let or_expression = if ql == QueryLanguage::Jsonata { " or a JSONata expression" } else { "" };
            self.err(format!("The value for the field '{key}' must be {kind}{or_expression}"), format!("{loc}/{key}"));
        }
        parsed
    }

    fn dynamic_int(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        loc: &str,
        ql: QueryLanguage,
    ) -> Option<Dynamic<i64>> {
        self.dynamic_number(obj, key, loc, ql, "an integer", serde_json::Number::as_i64)
    }

    fn dynamic_string(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        loc: &str,
        ql: QueryLanguage,
    ) -> Option<Dynamic<String>> {
        let path_key = format!("{key}Path");
        if let Some(p) = obj.get(&path_key) {
            if obj.contains_key(key) {
                self.err(format!("Only one of {key} and {path_key} may be given"), format!("{loc}/{key}"));
            }
            // Fail's ErrorPath/CausePath also accept intrinsic functions; keep the raw text.
            return match p.as_str() {
                Some(s) if s.starts_with("States.") => match Intrinsic::parse(s) {
                    Ok(f) => Some(Dynamic::Intrinsic(f)),
                    Err(m) => {
                        self.err(m, format!("{loc}/{path_key}"));
                        None
                    }
                },
                _ => self.json_path(p, &path_key, loc).map(Dynamic::Path),
            };
        }
        match obj.get(key)? {
            Value::String(s) => match (ql, template::expression_text(s)) {
                (QueryLanguage::Jsonata, Some(src)) => {
                    self.expression(src, &format!("{loc}/{key}")).map(Dynamic::Jsonata)
                }
                _ => Some(Dynamic::Fixed(s.clone())),
            },
            _ => {
                self.err(format!("The value for the field '{key}' must be a string"), format!("{loc}/{key}"));
                None
            }
        }
    }

    /// The objects of the array field `key` (Retry, Catch) with their index and location;
    /// a field that is not an array, or an entry that is not an object, is reported.
    fn object_entries<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        key: &str,
        loc: &str,
        what: &str,
    ) -> Vec<(usize, String, &'v Map<String, Value>)> {
        let Some(v) = obj.get(key) else {
            return Vec::new();
        };
        let Some(items) = v.as_array() else {
            self.err(format!("{key} must be an array"), format!("{loc}/{key}"));
            return Vec::new();
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let item_loc = format!("{loc}/{key}/{i}");
            match item.as_object() {
                Some(m) => out.push((i, item_loc, m)),
                None => self.err(format!("{what} must be an object"), item_loc),
            }
        }
        out
    }

    fn retriers(&mut self, obj: &Map<String, Value>, loc: &str) -> Vec<Retrier> {
        let entries = self.object_entries(obj, "Retry", loc, "A retrier");
        let count = entries.len();
        let mut out = Vec::new();
        for (i, rloc, r) in entries {
            let error_equals = self.error_equals(r, &rloc);
            let num = |k: &str| r.get(k).and_then(Value::as_f64);
            let interval_seconds = num("IntervalSeconds").unwrap_or(1.0);
            if interval_seconds < 1.0 || interval_seconds.fract() != 0.0 {
                self.err("IntervalSeconds must be a positive integer", format!("{rloc}/IntervalSeconds"));
            }
            let max_attempts = num("MaxAttempts").unwrap_or(3.0);
            if max_attempts < 0.0 || max_attempts.fract() != 0.0 {
                self.err("MaxAttempts must be a non-negative integer", format!("{rloc}/MaxAttempts"));
            }
            let backoff_rate = num("BackoffRate").unwrap_or(2.0);
            if backoff_rate < 1.0 {
                self.err("BackoffRate must be at least 1.0", format!("{rloc}/BackoffRate"));
            }
            let max_delay_seconds = num("MaxDelaySeconds");
            let full_jitter = match r.get("JitterStrategy").and_then(Value::as_str) {
                None | Some("NONE") => false,
                Some("FULL") => true,
                Some(_) => {
                    self.err("JitterStrategy must be FULL or NONE", format!("{rloc}/JitterStrategy"));
                    false
                }
            };
            if error_equals.iter().any(|e| e == "States.ALL") && i + 1 < count {
                self.err("States.ALL must appear only in the last retrier", format!("{rloc}/ErrorEquals"));
            }
            out.push(Retrier {
                error_equals,
                interval_seconds,
                max_attempts: max_attempts.clamp(0.0, 99_999_999.0) as u32,
                backoff_rate,
                max_delay_seconds,
                full_jitter,
            });
        }
        out
    }

    fn error_equals(&mut self, r: &Map<String, Value>, loc: &str) -> Vec<String> {
        let list: Vec<String> = match r.get("ErrorEquals").and_then(Value::as_array) {
            Some(a) => a.iter().filter_map(|e| e.as_str().map(str::to_string)).collect(),
            None => {
                self.missing(&["ErrorEquals"], loc);
                return Vec::new();
            }
        };
        if list.is_empty() {
            self.err("ErrorEquals must not be empty", format!("{loc}/ErrorEquals"));
        }
        if list.iter().any(|e| e == "States.ALL") && list.len() > 1 {
            self.err("States.ALL must appear alone in ErrorEquals", format!("{loc}/ErrorEquals"));
        }
        list
    }

    fn catchers(&mut self, obj: &Map<String, Value>, loc: &str, ql: QueryLanguage) -> Vec<Catcher> {
        let entries = self.object_entries(obj, "Catch", loc, "A catcher");
        let count = entries.len();
        let mut out = Vec::new();
        for (i, cloc, c) in entries {
            let error_equals = self.error_equals(c, &cloc);
            if error_equals.iter().any(|e| e == "States.ALL") && i + 1 < count {
                self.err("States.ALL must appear only in the last catcher", format!("{cloc}/ErrorEquals"));
            }
            let next = self.string(c.get("Next"), &format!("{cloc}/Next"), true).unwrap_or_default();
            let result_path = self.path_field(c, "ResultPath", &cloc);
            let assign = self.assign(c, &cloc, ql);
            let output = self.field_template(c, "Output", &cloc);
            out.push(Catcher { error_equals, next, result_path, assign, output });
        }
        out
    }

    fn state(&mut self, name: &str, v: &Value, loc: &str, parent_ql: QueryLanguage) -> Option<State> {
        let Some(obj) = v.as_object() else {
            self.err("A state must be an object", loc);
            return None;
        };
        let ql = match obj.get("QueryLanguage") {
            Some(q) => self.query_language(q, &format!("{loc}/QueryLanguage"))?,
            None => parent_ql,
        };
        // AWS recorded: a JSONPath state may sit inside a JSONata Map of a JSONPath machine.
        if self.root_query_language == QueryLanguage::Jsonata && ql == QueryLanguage::JsonPath {
            self.err("'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine", loc);
        }
        let type_name = self.string(obj.get("Type"), &format!("{loc}/Type"), true)?;
        let forbidden: &[&str] = match ql {
            QueryLanguage::JsonPath => JSONATA_ONLY,
            QueryLanguage::Jsonata => JSONPATH_ONLY,
        };
        for key in obj.keys() {
            if forbidden.contains(&key.as_str()) && !(key == "Items" && type_name != "Map") {
                let lang = if ql == QueryLanguage::Jsonata { "JSONata" } else { "JSONPath" };
                self.err(
                    format!("The field '{key}' is not supported when QueryLanguage is {lang}"),
                    format!("{loc}/{key}"),
                );
            }
        }
        let allowed = allowed_fields(&type_name);
        if let Some(allowed) = allowed {
            for key in obj.keys() {
                if !COMMON.contains(&key.as_str()) && !allowed.contains(&key.as_str()) {
                    self.err(format!("Field '{key}' is not supported for {type_name} states"), format!("{loc}/{key}"));
                }
            }
        }
        let terminal_type = matches!(type_name.as_str(), "Succeed" | "Fail" | "Choice");
        let next = self.string(obj.get("Next"), &format!("{loc}/Next"), false);
        let end = match obj.get("End") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.err("End must be a boolean", format!("{loc}/End"));
                false
            }
        };
        if !terminal_type {
            match (&next, end) {
                (Some(_), true) => self.err("A state cannot have both Next and End", format!("{loc}/End")),
                (None, false) => self.err("This state must have either Next or End: true", loc),
                _ => {}
            }
        } else if next.is_some() || obj.contains_key("End") {
            let key = if next.is_some() { "Next" } else { "End" };
            self.err(format!("Field '{key}' is not supported for {type_name} states"), format!("{loc}/{key}"));
        }
        let kind = match type_name.as_str() {
            "Pass" => StateKind::Pass { result: obj.get("Result").cloned() },
            "Task" => self.task(obj, loc, ql)?,
            "Choice" => self.choice(obj, loc, ql)?,
            "Wait" => self.wait(obj, loc, ql)?,
            "Succeed" => StateKind::Succeed,
            "Fail" => StateKind::Fail(Box::new(FailSpec {
                error: self.dynamic_string(obj, "Error", loc, ql),
                cause: self.dynamic_string(obj, "Cause", loc, ql),
            })),
            "Parallel" => {
                let branches = match obj.get("Branches").and_then(Value::as_array) {
                    Some(b) if !b.is_empty() => b
                        .iter()
                        .enumerate()
                        .map(|(i, b)| self.sub_machine(b, &format!("{loc}/Branches/{i}"), ql))
                        .collect(),
                    _ => {
                        self.err("Branches must be a non-empty array", format!("{loc}/Branches"));
                        return None;
                    }
                };
                StateKind::Parallel { branches }
            }
            "Map" => self.map(obj, loc, ql)?,
            other => {
                self.err(format!("'{other}' is not a valid state type"), format!("{loc}/Type"));
                return None;
            }
        };
        let is_map = matches!(kind, StateKind::Map(_));
        let parameters = if is_map { None } else { self.payload(obj, "Parameters", loc) };
        Some(State {
            name: std::sync::Arc::from(name),
            query_language: ql,
            next,
            input_path: self.path_field(obj, "InputPath", loc),
            output_path: self.path_field(obj, "OutputPath", loc),
            result_path: self.path_field(obj, "ResultPath", loc),
            parameters,
            result_selector: self.payload(obj, "ResultSelector", loc),
            arguments: self.field_template(obj, "Arguments", loc),
            output: self.field_template(obj, "Output", loc),
            assign: self.assign(obj, loc, ql),
            retry: self.retriers(obj, loc),
            catch: self.catchers(obj, loc, ql),
            kind,
        })
    }

    fn task(&mut self, obj: &Map<String, Value>, loc: &str, ql: QueryLanguage) -> Option<StateKind> {
        let resource = self.string(obj.get("Resource"), &format!("{loc}/Resource"), true)?;
        if !resource.starts_with("arn:") && !resource.starts_with("stepline:") {
            self.err(format!("Resource '{resource}' is not a valid ARN"), format!("{loc}/Resource"));
        }
        let timeout_seconds = self.dynamic_int(obj, "TimeoutSeconds", loc, ql).map(to_u64);
        let heartbeat_seconds = self.dynamic_int(obj, "HeartbeatSeconds", loc, ql).map(to_u64);
        if let (Some(Dynamic::Fixed(t)), Some(Dynamic::Fixed(h))) = (&timeout_seconds, &heartbeat_seconds)
            && h >= t
        {
            self.err("HeartbeatSeconds must be smaller than TimeoutSeconds", format!("{loc}/HeartbeatSeconds"));
        }
        Some(StateKind::Task(Box::new(TaskSpec {
            resource,
            timeout_seconds,
            heartbeat_seconds,
            credentials: obj.get("Credentials").cloned(),
        })))
    }

    fn choice(&mut self, obj: &Map<String, Value>, loc: &str, ql: QueryLanguage) -> Option<StateKind> {
        let Some(rules) = obj.get("Choices").and_then(Value::as_array).filter(|a| !a.is_empty()) else {
            self.err("Choices must be a non-empty array", format!("{loc}/Choices"));
            return None;
        };
        let mut choices = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            let rloc = format!("{loc}/Choices/{i}");
            let Some(r) = rule.as_object() else {
                self.err("A choice rule must be an object", rloc);
                continue;
            };
            let next = self.string(r.get("Next"), &format!("{rloc}/Next"), true).unwrap_or_default();
            let condition = match ql {
                QueryLanguage::Jsonata => match r.get("Condition") {
                    Some(Value::Bool(b)) => ChoiceCondition::Constant(*b),
                    Some(Value::String(s)) => match template::expression_text(s) {
                        Some(src) => match self.expression(src, &format!("{rloc}/Condition")) {
                            Some(e) => ChoiceCondition::Jsonata(e),
                            None => continue,
                        },
                        None => {
                            self.err(
                                "Condition must be a JSONata expression or a boolean",
                                format!("{rloc}/Condition"),
                            );
                            continue;
                        }
                    },
                    _ => {
                        self.err("A JSONata choice rule must have a Condition", format!("{rloc}/Condition"));
                        continue;
                    }
                },
                QueryLanguage::JsonPath => match Condition::parse(rule, &rloc) {
                    Ok(c) => ChoiceCondition::JsonPath(c),
                    Err(mut d) => {
                        self.problems.append(&mut d);
                        continue;
                    }
                },
            };
            let assign = self.assign(r, &rloc, ql);
            let output = self.field_template(r, "Output", &rloc);
            choices.push(ChoiceBranch { condition, next, assign, output });
        }
        let default = self.string(obj.get("Default"), &format!("{loc}/Default"), false);
        Some(StateKind::Choice(Box::new(ChoiceSpec { choices, default })))
    }

    fn wait(&mut self, obj: &Map<String, Value>, loc: &str, ql: QueryLanguage) -> Option<StateKind> {
        let given: Vec<&str> = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]
            .into_iter()
            .filter(|k| obj.contains_key(*k))
            .collect();
        if given.len() != 1 {
            self.err("A Wait state must have exactly one of Seconds, SecondsPath, Timestamp, TimestampPath", loc);
            return None;
        }
        if obj.contains_key("Seconds") || obj.contains_key("SecondsPath") {
            self.dynamic_int(obj, "Seconds", loc, ql).map(|d| StateKind::Wait(WaitSpec::Seconds(d)))
        } else {
            let d = self.dynamic_string(obj, "Timestamp", loc, ql)?;
            if let Dynamic::Fixed(ts) = &d
                && chrono::DateTime::parse_from_rfc3339(ts).is_err()
            {
                self.err(format!("The value '{ts}' is not a valid ISO-8601 timestamp"), format!("{loc}/Timestamp"));
            }
            Some(StateKind::Wait(WaitSpec::Timestamp(d)))
        }
    }
}

/// Deepest nesting of objects and arrays a definition may have.
const MAX_DEFINITION_DEPTH: usize = 256;

/// Whether `v` nests deeper than `limit`, found without recursion.
fn depth_exceeds(v: &Value, limit: usize) -> bool {
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        if d > limit {
            return true;
        }
        match v {
            Value::Object(m) => stack.extend(m.values().map(|c| (c, d + 1))),
            Value::Array(a) => stack.extend(a.iter().map(|c| (c, d + 1))),
            _ => {}
        }
    }
    false
}

fn to_u64(d: Dynamic<i64>) -> Dynamic<u64> {
    match d {
        Dynamic::Fixed(n) => Dynamic::Fixed(n.max(0) as u64),
        Dynamic::Path(p) => Dynamic::Path(p),
        Dynamic::Jsonata(e) => Dynamic::Jsonata(e),
        Dynamic::Intrinsic(f) => Dynamic::Intrinsic(f),
    }
}

/// Type-specific fields allowed besides the common ones; `None` for an unknown type.
fn allowed_fields(type_name: &str) -> Option<&'static [&'static str]> {
    Some(match type_name {
        "Pass" => &["InputPath", "OutputPath", "Assign", "Output", "Parameters", "ResultPath", "Result"],
        "Task" => &[
            "InputPath",
            "OutputPath",
            "Assign",
            "Output",
            "Parameters",
            "ResultPath",
            "ResultSelector",
            "Arguments",
            "Resource",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Retry",
            "Catch",
            "Credentials",
        ],
        "Choice" => &["InputPath", "OutputPath", "Assign", "Output", "Choices", "Default"],
        "Wait" => {
            &["InputPath", "OutputPath", "Assign", "Output", "Seconds", "SecondsPath", "Timestamp", "TimestampPath"]
        }
        "Succeed" => &["InputPath", "OutputPath", "Output"],
        "Fail" => &["Error", "ErrorPath", "Cause", "CausePath"],
        "Parallel" => &[
            "InputPath",
            "OutputPath",
            "Assign",
            "Output",
            "Parameters",
            "ResultPath",
            "ResultSelector",
            "Arguments",
            "Branches",
            "Retry",
            "Catch",
        ],
        "Map" => &[
            "InputPath",
            "OutputPath",
            "Assign",
            "Output",
            "Parameters",
            "ResultPath",
            "ResultSelector",
            "ItemProcessor",
            "Iterator",
            "ItemsPath",
            "Items",
            "ItemSelector",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "Label",
            "Retry",
            "Catch",
            "Arguments",
        ],
        _ => return None,
    })
}
