//! Tests of the layered layout and the SVG drawn from it.

use serde_json::{Value, json};

use super::layout::{EdgeKind, Layout, Node, NodeKind, layout};
use super::{PathHighlight, render_svg};
use crate::definition::StateMachine;

fn parse(v: Value) -> StateMachine {
    StateMachine::parse(&v).expect("valid")
}

/// Choice, Parallel with one branch, Catch, Succeed and Fail.
fn branching() -> StateMachine {
    parse(json!({
        "StartAt": "Check",
        "States": {
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$.ok", "BooleanEquals": true, "Next": "Fan"}], "Default": "No"},
            "Fan": {"Type": "Parallel", "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
                {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Next": "B2"}, "B2": {"Type": "Succeed"}}}
            ], "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "No"}], "Next": "Done"},
            "Done": {"Type": "Succeed"},
            "No": {"Type": "Fail", "Error": "E"}
        }
    }))
}

fn find<'a>(lay: &'a Layout, name: &str) -> (usize, &'a Node) {
    lay.nodes
        .iter()
        .enumerate()
        .find(|(_, n)| matches!(&n.kind, NodeKind::State { name: s, .. } if s == name))
        .unwrap_or_else(|| panic!("no node {name}"))
}

/// No two boxes overlap unless one holds the other; everything is inside the picture.
fn assert_clean(lay: &Layout) {
    for (i, a) in lay.nodes.iter().enumerate() {
        assert!(a.x >= 0.0 && a.y >= 0.0 && a.x + a.w <= lay.width && a.y + a.h <= lay.height, "{a:?} is outside");
        for b in &lay.nodes[i + 1..] {
            assert!(!a.overlaps(b) || a.contains(b) || b.contains(a), "{a:?} overlaps {b:?}");
        }
    }
    for e in &lay.edges {
        assert!(e.points.len() >= 2, "{e:?} has a route");
    }
}

#[test]
fn chain_is_one_straight_column() {
    let sm = parse(json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Wait", "Seconds": 1, "Next": "C"}, "C": {"Type": "Succeed"}}}));
    let lay = layout(&sm);
    assert_eq!(lay.nodes.len(), 5, "Start, A, B, C, End");
    assert_eq!(lay.edges.len(), 4);
    assert_eq!(lay.nodes[0].kind, NodeKind::Start);
    assert_eq!(lay.nodes[4].kind, NodeKind::End);
    let ys: Vec<f64> = lay.nodes.iter().map(|n| n.y).collect();
    assert!(ys.windows(2).all(|w| w[0] < w[1]), "each next layer is lower: {ys:?}");
    let cx = lay.nodes[1].cx();
    assert!(lay.nodes.iter().all(|n| (n.cx() - cx).abs() < 0.01), "one column");
    assert_clean(&lay);
}

#[test]
fn branches_nest_inside_their_container() {
    let lay = layout(&branching());
    // Top: Start, Check, Fan, Done, No, End; two groups with Start, states, End each.
    let top = lay.nodes.iter().filter(|n| n.depth == 0).count();
    assert_eq!(top, 6);
    assert_eq!(lay.nodes.len(), 6 + (1 + 3) + (1 + 4));
    let (_, fan) = find(&lay, "Fan");
    let groups: Vec<&Node> = lay.nodes.iter().filter(|n| matches!(n.kind, NodeKind::Group { .. })).collect();
    assert_eq!(groups.len(), 2);
    assert!(groups.iter().all(|g| fan.contains(g)));
    assert!(groups[0].x + groups[0].w <= groups[1].x, "branches side by side");
    for name in ["A", "B1", "B2"] {
        let (_, n) = find(&lay, name);
        assert_eq!(n.depth, 1);
        assert!(groups.iter().any(|g| g.contains(n)), "{name} is in a branch box");
    }
    let (_, check) = find(&lay, "Check");
    let (_, done) = find(&lay, "Done");
    assert!(check.y + check.h < fan.y && fan.y + fan.h < done.y, "layers: Check, Fan, Done");
    assert_clean(&lay);
}

#[test]
fn every_transition_is_an_edge_with_its_label() {
    let lay = layout(&branching());
    let (check, _) = find(&lay, "Check");
    let (fan, _) = find(&lay, "Fan");
    let (no, _) = find(&lay, "No");
    let has = |from, to, kind: EdgeKind, label: Option<&str>| {
        lay.edges.iter().any(|e| e.from == from && e.to == to && e.kind == kind && e.label.as_deref() == label)
    };
    assert!(has(check, fan, EdgeKind::Rule(1), Some("rule 1")));
    assert!(has(check, no, EdgeKind::Default, Some("default")));
    assert!(has(fan, no, EdgeKind::Catch, Some("catch States.ALL")));
    assert!(has(0, check, EdgeKind::Start, None));
    // Check -> Fan, Check -> No, Fan -> Done, Fan -> No, Start, Done -> End, No -> End,
    // plus per branch Start and End edges and B1 -> B2.
    assert_eq!(lay.edges.len(), 7 + 2 + 3);
    for e in lay.edges.iter().filter(|e| e.label.is_some()) {
        assert!(e.label_at.is_some(), "{e:?} has a label position");
    }
}

#[test]
fn loops_go_around_the_right_side() {
    let sm = parse(json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Again?"},
        "Again?": {"Type": "Choice", "Choices": [{"Variable": "$.more", "BooleanEquals": true, "Next": "Work"}], "Default": "Done"},
        "Done": {"Type": "Succeed"}}}));
    let lay = layout(&sm);
    let (work, w) = find(&lay, "Work");
    let (again, a) = find(&lay, "Again?");
    let back: Vec<_> = lay.edges.iter().filter(|e| e.back).collect();
    assert_eq!(back.len(), 1);
    assert_eq!((back[0].from, back[0].to), (again, work));
    let right = (w.x + w.w).max(a.x + a.w);
    assert!(back[0].points.iter().any(|p| p.x > right), "the loop runs right of both boxes");
    assert!(w.y < a.y, "the loop does not change the layering");
    assert_clean(&lay);
}

#[test]
fn wide_machine_has_no_overlaps_and_is_deterministic() {
    // A fan of ten Choice rules, each a two-step path, all joining one state.
    let mut states = serde_json::Map::new();
    let rules: Vec<Value> = (0..10)
        .map(|i| json!({"Variable": "$.n", "NumericEquals": i, "Next": format!("Step {i} of a rather long name")}))
        .collect();
    states.insert("Pick".into(), json!({"Type": "Choice", "Choices": rules, "Default": "Join"}));
    for i in 0..10 {
        states.insert(format!("Step {i} of a rather long name"), json!({"Type": "Pass", "Next": format!("Then {i}")}));
        states.insert(format!("Then {i}"), json!({"Type": "Pass", "Next": "Join"}));
    }
    states.insert("Join".into(), json!({"Type": "Succeed"}));
    let sm = parse(json!({"StartAt": "Pick", "States": states}));
    let lay = layout(&sm);
    assert_eq!(lay.nodes.len(), 1 + 22 + 1);
    assert_clean(&lay);
    assert_eq!(lay, layout(&sm));
    // Join sits below every Then.
    let (_, join) = find(&lay, "Join");
    assert!((0..10).all(|i| find(&lay, &format!("Then {i}")).1.y < join.y));
}

#[test]
fn unreachable_and_self_loop_states_are_placed() {
    let sm = parse(json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "A"}]}}}));
    let lay = layout(&sm);
    let own = lay.edges.iter().find(|e| e.from == e.to).expect("self loop");
    assert!(own.back);
    assert_clean(&lay);
}

#[test]
fn svg_draws_every_node_and_the_path() {
    let sm = branching();
    let hl = PathHighlight {
        visited: ["Check", "Fan", "A", "No"].map(String::from).into(),
        failed: ["No"].map(String::from).into(),
        caught: ["Fan"].map(String::from).into(),
        taken: [("Check", "Fan"), ("Fan", "No")].map(|(a, b)| (a.to_string(), b.to_string())).into(),
        ..PathHighlight::default()
    };
    let svg = render_svg(&sm, &hl);
    let lay = layout(&sm);
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<g class=\"node").count(), lay.nodes.len());
    assert_eq!(svg.matches("<g class=\"edge").count(), lay.edges.len());
    assert_eq!(svg.matches("<g").count(), svg.matches("</g>").count(), "groups are balanced");
    assert!(svg.contains("<g class=\"node state type-choice visited\" data-state=\"Check\""));
    assert!(svg.contains("<g class=\"node state type-parallel visited caught container\" data-state=\"Fan\""));
    assert!(svg.contains("<g class=\"node state type-fail visited failed\" data-state=\"No\""));
    assert!(svg.contains("<g class=\"node state type-succeed\" data-state=\"Done\""), "not visited");
    assert!(svg.contains("<g class=\"edge rule taken\" data-from=\"Check\" data-to=\"Fan\">"));
    assert!(svg.contains("<g class=\"edge catch taken\" data-from=\"Fan\" data-to=\"No\">"));
    assert!(svg.contains("<g class=\"edge default\" data-from=\"Check\" data-to=\"No\">"));
    assert!(svg.contains("<polygon points="), "Choice is a diamond");
    assert!(svg.contains(">rule 1</text>") && svg.contains(">catch States.ALL</text>"));
    assert_eq!(svg, render_svg(&sm, &hl), "deterministic");
}

#[test]
fn svg_escapes_state_names() {
    let evil = "<script>alert(\"x\")</script> & 'co'";
    let sm = parse(json!({"StartAt": evil, "States": {evil: {"Type": "Pass", "End": true}}}));
    let hl = PathHighlight { current: [evil.to_string()].into(), ..PathHighlight::visited([evil.to_string()]) };
    let svg = render_svg(&sm, &hl);
    assert!(!svg.contains("<script"), "{svg}");
    assert!(svg.contains("data-state=\"&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;\""));
    assert!(svg.contains("visited current"));
}
