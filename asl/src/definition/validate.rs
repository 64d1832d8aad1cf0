//! Checks across states: transitions that name real states, reachability, and
//! terminal states, each located by its JSON path.

use std::collections::HashSet;

use super::{Machine, StateKind, StateMachine};
use crate::diagnostic::Diagnostic;

/// All cross-state problems of `machine` and its sub-machines.
pub(super) fn validate(sm: &StateMachine) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for m in &sm.machines {
        validate_machine(m, &mut out);
    }
    // State names are unique across the whole machine, branches and processors included.
    let mut seen = HashSet::new();
    for m in &sm.machines {
        for name in m.states.keys() {
            if !seen.insert(name.as_str()) {
                out.push(Diagnostic::schema(
                    format!("State names must be unique within the state machine; '{name}' is used more than once"),
                    format!("{}/States/{name}", m.location),
                ));
            }
        }
    }
    out
}

fn targets(m: &Machine, name: &str) -> Vec<(String, String)> {
    let Some(s) = m.state(name) else {
        return Vec::new();
    };
    let loc = format!("{}/States/{name}", m.location);
    let mut t = Vec::new();
    if let Some(n) = &s.next {
        t.push((n.clone(), format!("{loc}/Next")));
    }
    if let StateKind::Choice(c) = &s.kind {
        for (i, b) in c.choices.iter().enumerate() {
            t.push((b.next.clone(), format!("{loc}/Choices/{i}/Next")));
        }
        if let Some(d) = &c.default {
            t.push((d.clone(), format!("{loc}/Default")));
        }
    }
    for (i, c) in s.catch.iter().enumerate() {
        t.push((c.next.clone(), format!("{loc}/Catch/{i}/Next")));
    }
    t
}

fn validate_machine(m: &Machine, out: &mut Vec<Diagnostic>) {
    if !m.states.contains_key(&m.start_at) {
        out.push(Diagnostic::new(
            "MISSING_TRANSITION_TARGET",
            format!("Missing 'Next' target: {}", m.start_at),
            format!("{}/StartAt", m.location),
        ));
        return;
    }
    for name in m.states.keys() {
        for (target, loc) in targets(m, name) {
            if !m.states.contains_key(&target) {
                out.push(Diagnostic::new("MISSING_TRANSITION_TARGET", format!("Missing 'Next' target: {target}"), loc));
            }
        }
    }
    let mut seen = HashSet::new();
    let mut stack = vec![m.start_at.clone()];
    while let Some(n) = stack.pop() {
        if !seen.insert(n.clone()) {
            continue;
        }
        for (t, _) in targets(m, &n) {
            if m.states.contains_key(&t) {
                stack.push(t);
            }
        }
    }
    for name in m.states.keys() {
        if !seen.contains(name) {
            out.push(Diagnostic::new(
                "UNREACHABLE_STATE",
                format!("State '{name}' is not reachable"),
                format!("{}/States/{name}", m.location),
            ));
        }
    }
    let has_terminal = m.states.values().any(|s| s.next.is_none() && !matches!(s.kind, StateKind::Choice(_)));
    if !has_terminal {
        out.push(Diagnostic::new(
            "NO_TERMINAL_STATE",
            "No terminal state: at least one state must have End: true or be a Succeed or Fail state",
            format!("{}/States", m.location),
        ));
    }
}
