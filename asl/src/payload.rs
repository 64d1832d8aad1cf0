//! Payload templates (Parameters, ResultSelector, ItemSelector, JSONPath-mode Assign):
//! keys ending in `.$` take a path or intrinsic function value.
//!
//! CONTRACT: `PayloadTemplate::compile(&Value) -> Result<PayloadTemplate, String>` and
//! `PayloadTemplate::evaluate(&self, input, env) -> Result<Value, Failure>`.
//!
//! Every path and intrinsic is parsed once at compile time; subtrees without any
//! `.$` key are kept as literals and simply cloned at evaluation.

use serde_json::{Map, Value};

use crate::env::Environment;
use crate::failure::Failure;
use crate::intrinsics::Intrinsic;
use crate::jsonpath::{self, JsonPath};

/// A compiled payload template.
#[derive(Debug, Clone, PartialEq)]
pub struct PayloadTemplate {
    root: Node,
}

/// One compiled node of a template.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// A subtree with no `.$` keys: copied as is.
    Literal(Value),
    /// An object with at least one dynamic member; keys are the output keys.
    Object(Vec<(String, Node)>),
    /// An array with at least one dynamic element.
    Array(Vec<Node>),
    /// `"key.$": "$..."`; `field` is the key as written (with `.$`) for error messages.
    Path { field: String, path: JsonPath },
    /// `"key.$": "States.X(...)"`.
    Intrinsic { call: Box<Intrinsic> },
}

impl PayloadTemplate {
    /// Compiles a template; the error is a message for a definition diagnostic.
    pub fn compile(template: &Value) -> Result<PayloadTemplate, String> {
        Ok(PayloadTemplate { root: compile_node(template)? })
    }

    /// Whether the template has no `.$` keys (its output never depends on the input).
    pub fn is_static(&self) -> bool {
        matches!(self.root, Node::Literal(_))
    }

    /// Builds the payload from `input` and the environment.
    pub fn evaluate(&self, input: &Value, env: &dyn Environment) -> Result<Value, Failure> {
        evaluate_node(&self.root, input, env)
    }
}

/// Compiles one value: objects and arrays recursively, collapsing static subtrees.
fn compile_node(value: &Value) -> Result<Node, String> {
    match value {
        Value::Object(map) => {
            let mut members = Vec::with_capacity(map.len());
            let mut dynamic = false;
            for (key, child) in map {
                let node = match key.strip_suffix(".$") {
                    Some(out_key) => (out_key.to_string(), compile_dynamic(key, child)?),
                    None => (key.clone(), compile_node(child)?),
                };
                dynamic |= !matches!(node.1, Node::Literal(_));
                members.push(node);
            }
            Ok(if dynamic { Node::Object(members) } else { Node::Literal(value.clone()) })
        }
        Value::Array(items) => {
            let nodes = items.iter().map(compile_node).collect::<Result<Vec<_>, _>>()?;
            let dynamic = nodes.iter().any(|n| !matches!(n, Node::Literal(_)));
            Ok(if dynamic { Node::Array(nodes) } else { Node::Literal(value.clone()) })
        }
        other => Ok(Node::Literal(other.clone())),
    }
}

/// Compiles the value of a `key.$` member: a path or an intrinsic call.
fn compile_dynamic(field: &str, value: &Value) -> Result<Node, String> {
    let invalid =
        || format!("The value for the field '{field}' must be a valid JSONPath or a valid intrinsic function call");
    let Value::String(text) = value else {
        return Err(invalid());
    };
    let text = text.trim();
    if text.starts_with("States.") {
        let call = Intrinsic::parse(text).map_err(|e| format!("{} ({e})", invalid()))?;
        return Ok(Node::Intrinsic { call: Box::new(call) });
    }
    if text.starts_with('$') {
        let path = JsonPath::parse(text).map_err(|e| format!("{} ({e})", invalid()))?;
        return Ok(Node::Path { field: field.to_string(), path });
    }
    Err(invalid())
}

fn evaluate_node(node: &Node, input: &Value, env: &dyn Environment) -> Result<Value, Failure> {
    match node {
        Node::Literal(value) => Ok(value.clone()),
        Node::Object(members) => {
            let mut out = Map::with_capacity(members.len());
            for (key, child) in members {
                out.insert(key.clone(), evaluate_node(child, input, env)?);
            }
            Ok(Value::Object(out))
        }
        Node::Array(items) => {
            items.iter().map(|item| evaluate_node(item, input, env)).collect::<Result<Vec<_>, _>>().map(Value::Array)
        }
        Node::Path { field, path } => match path.select_ref(input, env) {
            Some(value) => Ok(value.into_owned()),
            None => Err(Failure::runtime(jsonpath::not_found_cause(path.text(), field, input))),
        },
        Node::Intrinsic { call } => call.evaluate(input, env),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::env::StaticEnv;

    fn run(template: Value, input: Value) -> Result<Value, Failure> {
        let mut env =
            StaticEnv { context: json!({"Execution": {"Input": {"int-literal": 0}}}), ..StaticEnv::default() };
        env.variables.insert("v".into(), json!({"x": 5}));
        PayloadTemplate::compile(&template).unwrap().evaluate(&input, &env)
    }

    #[test]
    fn static_template_is_copied() {
        let t = json!({"a": 1, "b": [true, {"c": null}]});
        assert_eq!(run(t.clone(), json!({})).unwrap(), t);
    }

    #[test]
    fn static_template_is_flagged_static() {
        assert!(PayloadTemplate::compile(&json!({"a": 1})).unwrap().is_static());
        assert!(!PayloadTemplate::compile(&json!({"a.$": "$"})).unwrap().is_static());
    }

    #[test]
    fn path_member_drops_suffix() {
        let out = run(json!({"value.$": "$.a.b"}), json!({"a": {"b": [1, 2]}})).unwrap();
        assert_eq!(out, json!({"value": [1, 2]}));
    }

    #[test]
    fn context_member_reads_context() {
        let out = run(json!({"v.$": "$$.Execution.Input.int-literal"}), json!({})).unwrap();
        assert_eq!(out, json!({"v": 0}));
    }

    #[test]
    fn variable_member_reads_variable() {
        let out = run(json!({"v.$": "$v.x"}), json!({})).unwrap();
        assert_eq!(out, json!({"v": 5}));
    }

    #[test]
    fn nested_objects_and_arrays_are_walked() {
        let out = run(json!({"o": {"p.$": "$.x"}, "arr": [{"q.$": "$.x"}, 3]}), json!({"x": "y"})).unwrap();
        assert_eq!(out, json!({"o": {"p": "y"}, "arr": [{"q": "y"}, 3]}));
    }

    #[test]
    fn member_order_is_preserved() {
        let out = run(json!({"z": 1, "a.$": "$.x", "m": 2}), json!({"x": 0})).unwrap();
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn missing_path_fails_with_aws_cause() {
        let err =
            run(json!({"value.$": "$$.Execution.Input.no_such_jsonpath"}), json!({"int-literal": 0})).unwrap_err();
        assert_eq!(err.error, "States.Runtime");
        assert_eq!(
            err.cause,
            "The JSONPath '$$.Execution.Input.no_such_jsonpath' specified for the field 'value.$' could not be found in the input '{\"int-literal\":0}'"
        );
    }

    #[test]
    fn non_string_dynamic_value_is_rejected() {
        let err = PayloadTemplate::compile(&json!({"a.$": 3})).unwrap_err();
        assert!(err.contains("'a.$'"), "{err}");
    }

    #[test]
    fn non_path_dynamic_value_is_rejected() {
        assert!(PayloadTemplate::compile(&json!({"a.$": "hello"})).is_err());
    }

    #[test]
    fn invalid_path_is_rejected() {
        assert!(PayloadTemplate::compile(&json!({"a.$": "$.a["})).is_err());
    }

    #[test]
    fn non_object_template_is_literal() {
        assert_eq!(run(json!("text"), json!({})).unwrap(), json!("text"));
    }
}
