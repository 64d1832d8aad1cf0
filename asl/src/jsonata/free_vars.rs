//! The workflow variables a JSONata expression reads: its `$name` references that are
//! neither bound inside it (`:=`, lambda parameters) nor built in (`$states`, functions).

use super::ast::{Node, PathNode};
use super::functions::builtin;

/// Appends to `out` (once each, in order of appearance) the free variables of `node`.
pub(super) fn free_variables(node: &Node, out: &mut Vec<String>) {
    walk(node, &mut Vec::new(), out);
}

fn walk(node: &Node, bound: &mut Vec<String>, out: &mut Vec<String>) {
    match node {
        Node::Var(name) => {
            let special = name.is_empty() || name == "$" || name == "states";
            if !special && !bound.contains(name) && builtin(name).is_none() && !out.contains(name) {
                out.push(name.clone());
            }
        }
        Node::Bind(name, value) => {
            walk(value, bound, out);
            bound.push(name.clone());
        }
        Node::Block(items) => {
            let depth = bound.len();
            for item in items {
                walk(item, bound, out);
            }
            bound.truncate(depth);
        }
        Node::Lambda(def) => {
            let depth = bound.len();
            bound.extend(def.params.iter().cloned());
            walk(&def.body, bound, out);
            bound.truncate(depth);
        }
        Node::Path(p) => walk_path(p, bound, out),
        Node::Neg(n) => walk(n, bound, out),
        Node::Array { items, .. } => items.iter().for_each(|n| walk(n, bound, out)),
        Node::Object(pairs) => pairs.iter().for_each(|(k, v)| {
            walk(k, bound, out);
            walk(v, bound, out);
        }),
        Node::Binary(_, a, b) | Node::Apply(a, b) => {
            walk(a, bound, out);
            walk(b, bound, out);
        }
        Node::Cond(c, t, e) => {
            walk(c, bound, out);
            walk(t, bound, out);
            if let Some(e) = e {
                walk(e, bound, out);
            }
        }
        Node::Call { func, args, .. } => {
            walk(func, bound, out);
            args.iter().for_each(|n| walk(n, bound, out));
        }
        Node::Filtered(f) => {
            walk(&f.expr, bound, out);
            f.stages.iter().for_each(|n| walk(n, bound, out));
            f.group.iter().flatten().for_each(|(k, v)| {
                walk(k, bound, out);
                walk(v, bound, out);
            });
        }
        Node::Sort(terms) => terms.iter().for_each(|t| walk(&t.expr, bound, out)),
        Node::Num(_)
        | Node::Str(_)
        | Node::Bool(_)
        | Node::Null
        | Node::Regex(_)
        | Node::Name(_)
        | Node::Wildcard
        | Node::Descendants
        | Node::Placeholder => {}
    }
}

fn walk_path(p: &PathNode, bound: &mut Vec<String>, out: &mut Vec<String>) {
    for step in &p.steps {
        walk(&step.node, bound, out);
        step.stages.iter().for_each(|n| walk(n, bound, out));
    }
    p.group.iter().flatten().for_each(|(k, v)| {
        walk(k, bound, out);
        walk(v, bound, out);
    });
}
