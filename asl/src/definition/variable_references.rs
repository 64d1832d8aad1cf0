//! Which workflow variables each state reads, as DescribeStateMachine's
//! `variableReferences` reports them: per state name, the variables its fields read,
//! once each and sorted, as AWS lists them. The states of a Map's processor and of
//! Parallel branches are reported under their own names.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::jsonata::Expression;

/// Per state, the variables it reads; states that read none are left out.
pub fn variable_references(definition: &Value) -> IndexMap<String, Vec<String>> {
    let mut out = IndexMap::new();
    let jsonata = definition.get("QueryLanguage").and_then(Value::as_str) == Some("JSONata");
    flow(definition, jsonata, &mut out);
    out
}

fn flow(machine: &Value, jsonata: bool, out: &mut IndexMap<String, Vec<String>>) {
    let Some(states) = machine.get("States").and_then(Value::as_object) else { return };
    for (name, state) in states {
        let Some(fields) = state.as_object() else { continue };
        let jsonata = match fields.get("QueryLanguage").and_then(Value::as_str) {
            Some(language) => language == "JSONata",
            None => jsonata,
        };
        let mut vars = Vec::new();
        for (key, value) in fields {
            match key.as_str() {
                "ItemProcessor" | "Iterator" => flow(value, jsonata, out),
                "Branches" => value.as_array().into_iter().flatten().for_each(|b| flow(b, jsonata, out)),
                "Comment" | "ResultPath" => {}
                _ if jsonata => expressions(value, &mut vars),
                _ => paths(key, value, &mut vars),
            }
        }
        if !vars.is_empty() {
            vars.sort();
            out.insert(name.clone(), vars);
        }
    }
}

/// JSONata: the free variables of every `{% … %}` string in `value`.
fn expressions(value: &Value, vars: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            let Some(body) = s.trim().strip_prefix("{%").and_then(|b| b.strip_suffix("%}")) else { return };
            if let Ok(e) = Expression::compile(body.trim()) {
                for v in e.free_variables() {
                    add(vars, v);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| expressions(v, vars)),
        Value::Object(o) => o.values().for_each(|v| expressions(v, vars)),
        _ => {}
    }
}

/// JSONPath: the `$name` references in path fields (`….$` keys, `…Path`, `Variable`) and
/// the intrinsic functions they call.
fn paths(key: &str, value: &Value, vars: &mut Vec<String>) {
    match value {
        Value::String(s) if key.ends_with(".$") || key.ends_with("Path") || key == "Variable" => references(s, vars),
        Value::Array(items) => items.iter().for_each(|v| paths("", v, vars)),
        Value::Object(o) => object_paths(o, vars),
        _ => {}
    }
}

fn object_paths(o: &Map<String, Value>, vars: &mut Vec<String>) {
    for (k, v) in o {
        if k != "ResultPath" {
            paths(k, v, vars);
        }
    }
}

/// The `$name` tokens of a path or intrinsic call (`$$` and `$.` are not variables).
fn references(text: &str, vars: &mut Vec<String>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts = bytes[i] == b'$'
            && (i == 0 || bytes[i - 1] != b'$')
            && bytes.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_');
        if !starts {
            i += 1;
            continue;
        }
        let end = bytes[i + 1..]
            .iter()
            .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
            .map_or(bytes.len(), |n| i + 1 + n);
        add(vars, text[i + 1..end].to_string());
        i = end;
    }
}

fn add(vars: &mut Vec<String>, name: String) {
    if !vars.contains(&name) {
        vars.push(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jsonpath_and_jsonata_references_per_state() {
        let def = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Parameters": {"x.$": "$answer", "y.$": "States.Format('{}', $guess)", "z.$": "$.plain"},
                  "Assign": {"kept.$": "$$.Execution.Id"}, "Next": "B"},
            "B": {"Type": "Choice", "Choices": [{"Variable": "$guess", "StringEqualsPath": "$answer", "Next": "M"}]},
            "M": {"Type": "Map", "QueryLanguage": "JSONata", "Items": "{% $items %}",
                  "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass",
                      "Output": "{% ($x := 1; $x + $offset + $sum([1]) + $states.input) %}", "End": true}}},
                  "End": true}
        }});
        let refs = variable_references(&def);
        assert_eq!(refs["A"], vec!["answer", "guess"]);
        assert_eq!(refs["B"], vec!["answer", "guess"], "sorted, as AWS lists them");
        assert_eq!(refs["M"], vec!["items"]);
        assert_eq!(refs["P"], vec!["offset"]);
    }

    #[test]
    fn states_reading_no_variables_are_left_out() {
        let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "InputPath": "$.a", "End": true}}});
        assert!(variable_references(&def).is_empty());
    }
}
