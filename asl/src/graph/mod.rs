//! The state machine as a graph, rendered as Mermaid or Graphviz DOT text: states as
//! nodes, transitions (Next, Choice rules, Default, Catch) as edges, and Parallel
//! branches and Map processors as nested subgraphs. Visited states can be highlighted
//! to draw an execution's path.
//!
//! [`render_svg`] draws the same graph as a self-contained SVG picture, laid out by
//! [`layout`] (a layered, Sugiyama-style layout) and highlighted from a [`PathHighlight`].

pub mod layout;
#[cfg(test)]
mod layout_tests;
mod path;
mod svg;

pub use path::PathHighlight;
pub use svg::render_svg;

use std::collections::HashSet;
use std::fmt::Write;

use crate::definition::{MachineId, StateKind, StateMachine};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A Mermaid `flowchart TD`.
    Mermaid,
    /// A Graphviz `digraph`.
    Dot,
}

/// One edge: from, to, label.
struct Edge {
    from: String,
    to: String,
    label: Option<String>,
}

/// Node ids must be safe in both formats: keep letters and digits, escape the rest.
fn node_id(machine: MachineId, name: &str) -> String {
    let mut id = format!("m{machine}_");
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c);
        } else {
            let _ = write!(id, "_{:x}", c as u32);
        }
    }
    id
}

fn quote(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "'")
}

fn edges_of(sm: &StateMachine, machine: MachineId) -> Vec<Edge> {
    let m = sm.machine(machine);
    let mut edges = Vec::new();
    for (name, state) in &m.states {
        let from = node_id(machine, name);
        let to = |n: &str| node_id(machine, n);
        if let Some(next) = &state.next {
            edges.push(Edge { from: from.clone(), to: to(next), label: None });
        }
        if let StateKind::Choice(c) = &state.kind {
            for (i, rule) in c.choices.iter().enumerate() {
                edges.push(Edge { from: from.clone(), to: to(&rule.next), label: Some(format!("rule {}", i + 1)) });
            }
            if let Some(d) = &c.default {
                edges.push(Edge { from: from.clone(), to: to(d), label: Some("default".into()) });
            }
        }
        for c in &state.catch {
            edges.push(Edge {
                from: from.clone(),
                to: to(&c.next),
                label: Some(format!("catch {}", c.error_equals.join(", "))),
            });
        }
    }
    edges
}

fn children(kind: &StateKind) -> Vec<MachineId> {
    match kind {
        StateKind::Parallel { branches } => branches.clone(),
        StateKind::Map(m) => vec![m.processor],
        _ => Vec::new(),
    }
}

/// Renders `sm` in `format`; states named in `visited` are highlighted.
pub fn render(sm: &StateMachine, format: Format, visited: &HashSet<String>) -> String {
    let mut out = String::new();
    match format {
        Format::Mermaid => {
            out.push_str("flowchart TD\n");
            out.push_str("  classDef visited fill:#d4f7d4,stroke:#2a8a2a,stroke-width:2px\n");
            mermaid_machine(sm, 0, visited, &mut out, 1);
        }
        Format::Dot => {
            out.push_str(
                "digraph stepline {\n  rankdir=TB;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n",
            );
            dot_machine(sm, 0, visited, &mut out, 1);
            out.push_str("}\n");
        }
    }
    out
}

fn mermaid_machine(sm: &StateMachine, machine: MachineId, visited: &HashSet<String>, out: &mut String, indent: usize) {
    let pad = "  ".repeat(indent);
    let m = sm.machine(machine);
    let start = format!("start_{machine}");
    let _ = writeln!(out, "{pad}{start}(( )) --> {}", node_id(machine, &m.start_at));
    for (name, state) in &m.states {
        let id = node_id(machine, name);
        let label = format!("{}<br/><small>{}</small>", quote(name), state.kind.type_name());
        let shape = match state.kind {
            StateKind::Choice(_) => format!("{{\"{label}\"}}"),
            StateKind::Succeed | StateKind::Fail(_) => format!("([\"{label}\"])"),
            _ => format!("[\"{label}\"]"),
        };
        let _ = writeln!(out, "{pad}{id}{shape}");
        if visited.contains(name) {
            let _ = writeln!(out, "{pad}class {id} visited");
        }
        for (i, child) in children(&state.kind).into_iter().enumerate() {
            let _ = writeln!(out, "{pad}subgraph {id}_sub{i}[\"{} {}\"]", quote(name), i + 1);
            mermaid_machine(sm, child, visited, out, indent + 1);
            let _ = writeln!(out, "{pad}end");
            let _ = writeln!(out, "{pad}{id} -.-> {id}_sub{i}");
        }
    }
    for e in edges_of(sm, machine) {
        match e.label {
            Some(l) => {
                let _ = writeln!(out, "{pad}{} -->|\"{}\"| {}", e.from, quote(&l), e.to);
            }
            None => {
                let _ = writeln!(out, "{pad}{} --> {}", e.from, e.to);
            }
        }
    }
}

fn dot_machine(sm: &StateMachine, machine: MachineId, visited: &HashSet<String>, out: &mut String, indent: usize) {
    let pad = "  ".repeat(indent);
    let m = sm.machine(machine);
    let start = format!("start_{machine}");
    let _ = writeln!(out, "{pad}{start} [shape=point];");
    let _ = writeln!(out, "{pad}{start} -> {};", node_id(machine, &m.start_at));
    for (name, state) in &m.states {
        let id = node_id(machine, name);
        let shape = match state.kind {
            StateKind::Choice(_) => "diamond",
            StateKind::Succeed | StateKind::Fail(_) => "oval",
            _ => "box",
        };
        let fill = if visited.contains(name) { ", style=\"rounded,filled\", fillcolor=\"#d4f7d4\"" } else { "" };
        let _ =
            writeln!(out, "{pad}{id} [label=\"{}\\n({})\", shape={shape}{fill}];", quote(name), state.kind.type_name());
        for (i, child) in children(&state.kind).into_iter().enumerate() {
            let _ = writeln!(out, "{pad}subgraph cluster_{id}_{i} {{");
            let _ = writeln!(out, "{pad}  label=\"{} {}\"; style=dashed;", quote(name), i + 1);
            dot_machine(sm, child, visited, out, indent + 1);
            let _ = writeln!(out, "{pad}}}");
            let _ = writeln!(out, "{pad}{id} -> start_{child} [style=dotted];");
        }
    }
    for e in edges_of(sm, machine) {
        match e.label {
            Some(l) => {
                let _ = writeln!(out, "{pad}{} -> {} [label=\"{}\"];", e.from, e.to, quote(&l));
            }
            None => {
                let _ = writeln!(out, "{pad}{} -> {};", e.from, e.to);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn machine() -> StateMachine {
        StateMachine::parse(&json!({
            "StartAt": "Check",
            "States": {
                "Check": {"Type": "Choice", "Choices": [{"Variable": "$.ok", "BooleanEquals": true, "Next": "Fan"}], "Default": "No"},
                "Fan": {"Type": "Parallel", "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}
                ], "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "No"}], "Next": "Done"},
                "Done": {"Type": "Succeed"},
                "No": {"Type": "Fail", "Error": "E"}
            }
        }))
        .expect("valid")
    }

    #[test]
    fn mermaid_has_every_state_and_edge() {
        let text = render(&machine(), Format::Mermaid, &HashSet::new());
        assert!(text.starts_with("flowchart TD"));
        assert!(text.contains("m0_Check{\"Check<br/><small>Choice</small>\"}"));
        assert!(text.contains("m0_Check -->|\"rule 1\"| m0_Fan"));
        assert!(text.contains("m0_Check -->|\"default\"| m0_No"));
        assert!(text.contains("m0_Fan -->|\"catch States.ALL\"| m0_No"));
        assert!(text.contains("subgraph m0_Fan_sub0"));
        assert!(text.contains("m1_A"));
    }

    #[test]
    fn dot_highlights_visited_states() {
        let visited: HashSet<String> = ["Check".to_string(), "No".to_string()].into();
        let text = render(&machine(), Format::Dot, &visited);
        assert!(text.starts_with("digraph stepline {"));
        assert!(text.contains("m0_Check [label=\"Check\\n(Choice)\", shape=diamond, style=\"rounded,filled\""));
        assert!(text.contains("m0_Done [label=\"Done\\n(Succeed)\", shape=oval];"));
        assert!(text.contains("cluster_m0_Fan_0"));
    }

    #[test]
    fn odd_state_names_become_safe_ids() {
        assert_eq!(node_id(0, "a b-c"), "m0_a_20b_2dc");
    }
}
