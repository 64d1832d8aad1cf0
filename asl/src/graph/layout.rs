//! A layered (Sugiyama-style) layout of a state machine, top to bottom.
//!
//! Each flow (the top level, a Parallel branch, a Map processor) is laid out on its own:
//! cycles are broken by a depth-first search from `StartAt`, states are put in layers by
//! longest path, edges that span several layers get dummy nodes, a few barycenter sweeps
//! order each layer to reduce crossings, and x positions are pulled towards neighbours
//! while keeping order and spacing (isotonic regression). Parallel and Map states become
//! container boxes that hold their flows, laid out recursively, side by side.
//!
//! Back edges (loops) take no part in layering; they are routed around the right side.
//! Everything is deterministic: text widths are estimated from character counts, never
//! measured, so the same definition always gives the same picture.

use std::collections::HashMap;

use crate::definition::{MachineId, State, StateKind, StateMachine};

/// Font size of state names.
pub(crate) const NAME_PX: f64 = 13.0;
/// Font size of state types and edge labels.
pub(crate) const SMALL_PX: f64 = 11.0;
/// Space around the whole picture.
const MARGIN: f64 = 20.0;
/// Vertical space between layers (edge labels live there).
const GAP_Y: f64 = 56.0;
/// Horizontal space between two nodes of a layer.
const GAP_X: f64 = 40.0;
/// Horizontal space next to a dummy node (edges may run closer together than boxes).
const GAP_DUMMY: f64 = 16.0;
/// Height of a state box.
const BOX_H: f64 = 48.0;
/// Height of a Choice diamond.
const DIAMOND_H: f64 = 68.0;
/// Start/End pill size.
const PILL_W: f64 = 64.0;
const PILL_H: f64 = 28.0;
/// Container (Parallel, Map) header height and inner padding.
pub(crate) const HEADER_H: f64 = 46.0;
const CONTAINER_PAD: f64 = 14.0;
/// Branch boxes inside a container: label height, padding, space between them.
pub(crate) const GROUP_LABEL_H: f64 = 22.0;
const GROUP_PAD: f64 = 12.0;
const GROUP_GAP: f64 = 16.0;
/// How far right of the widest node a loop edge runs, and between parallel loops.
const BACK_GAP: f64 = 26.0;
const BACK_STEP: f64 = 14.0;
/// Widest an edge label is drawn.
pub(crate) const LABEL_MAX_W: f64 = 200.0;
/// Barycenter sweeps (each one down and up).
const ORDER_SWEEPS: usize = 4;
/// Positioning passes (alternating down and up).
const POSITION_PASSES: usize = 8;

/// A point in SVG user units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Left to right.
    pub x: f64,
    /// Top to bottom.
    pub y: f64,
}

/// What a node is.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// The entry marker of a flow.
    Start,
    /// The exit marker of a flow.
    End,
    /// A state; `container` is set for Parallel and Map, whose flows are drawn inside.
    State {
        /// The state's name.
        name: String,
        /// Its ASL type (`Task`, `Choice`, ...).
        type_name: &'static str,
        /// Whether the box holds nested flows.
        container: bool,
    },
    /// The box around one Parallel branch or a Map's item processor.
    Group {
        /// `Branch 1`, `Item processor`...
        label: String,
    },
}

/// A placed node; `x`, `y` is its top-left corner.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What it is.
    pub kind: NodeKind,
    /// The flow it belongs to.
    pub machine: MachineId,
    /// Nesting depth: 0 at the top level, +1 inside each container.
    pub depth: usize,
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Node {
    /// The horizontal center.
    pub fn cx(&self) -> f64 {
        self.x + self.w / 2.0
    }

    /// The vertical center.
    pub fn cy(&self) -> f64 {
        self.y + self.h / 2.0
    }

    /// Whether the two rectangles share any area.
    pub fn overlaps(&self, other: &Node) -> bool {
        self.x < other.x + other.w
            && other.x < self.x + self.w
            && self.y < other.y + other.h
            && other.y < self.y + self.h
    }

    /// Whether `other` lies completely inside this node.
    pub fn contains(&self, other: &Node) -> bool {
        other.x >= self.x
            && other.y >= self.y
            && other.x + other.w <= self.x + self.w
            && other.y + other.h <= self.y + self.h
    }
}

/// Why an edge exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// From a flow's Start marker to `StartAt`.
    Start,
    /// `Next`.
    Next,
    /// A Choice rule (1-based number).
    Rule(usize),
    /// A Choice `Default`.
    Default,
    /// A `Catch` entry.
    Catch,
    /// From a terminal state to its flow's End marker.
    End,
}

/// A routed edge between two nodes (indexes into [`Layout::nodes`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// Source node.
    pub from: usize,
    /// Target node.
    pub to: usize,
    /// Why it exists.
    pub kind: EdgeKind,
    /// Text drawn on it (`rule 1`, `default`, `catch States.ALL`).
    pub label: Option<String>,
    /// The route, from the source's border to the target's border.
    pub points: Vec<Point>,
    /// Where the label's center goes.
    pub label_at: Option<Point>,
    /// Whether the edge goes back up (a loop), routed around the right side.
    pub back: bool,
}

/// A laid out state machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Total width, margins included.
    pub width: f64,
    /// Total height, margins included.
    pub height: f64,
    /// Every node; containers come before the nodes they hold.
    pub nodes: Vec<Node>,
    /// Every edge.
    pub edges: Vec<Edge>,
}

/// Lays out `sm`.
pub fn layout(sm: &StateMachine) -> Layout {
    let mut block = layout_machine(sm, 0, 0);
    block.translate(MARGIN, MARGIN);
    Layout { width: block.w + 2.0 * MARGIN, height: block.h + 2.0 * MARGIN, nodes: block.nodes, edges: block.edges }
}

/// Estimated width of `text` at `px` (wide characters count double).
pub(crate) fn text_width(text: &str, px: f64) -> f64 {
    text.chars().map(|c| if c.is_ascii() { px * 0.6 } else { px * 1.05 }).sum()
}

/// `text` shortened with an ellipsis to fit `max_w` at `px`.
pub(crate) fn fit(text: &str, max_w: f64, px: f64) -> String {
    if text_width(text, px) <= max_w {
        return text.to_string();
    }
    let mut out = String::new();
    let mut w = text_width("…", px);
    for c in text.chars() {
        w += text_width(c.encode_utf8(&mut [0; 4]), px);
        if w > max_w {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// Text area of a state box: the widest a name may be drawn, for a box of width `w`.
pub(crate) fn name_room(type_name: &str, w: f64) -> f64 {
    if type_name == "Choice" { w - 80.0 } else { w - 24.0 }
}

/// A laid out flow, in coordinates relative to its own top-left corner.
struct Block {
    w: f64,
    h: f64,
    nodes: Vec<Node>,
    edges: Vec<Edge>,
}

impl Block {
    fn translate(&mut self, dx: f64, dy: f64) {
        for n in &mut self.nodes {
            n.x += dx;
            n.y += dy;
        }
        for e in &mut self.edges {
            for p in e.points.iter_mut().chain(e.label_at.iter_mut()) {
                p.x += dx;
                p.y += dy;
            }
        }
    }

    /// Appends `other`'s nodes and edges, re-indexing the edges.
    fn absorb(&mut self, other: Block) {
        let offset = self.nodes.len();
        self.nodes.extend(other.nodes);
        self.edges.extend(other.edges.into_iter().map(|mut e| {
            e.from += offset;
            e.to += offset;
            e
        }));
    }
}

/// The nested flows of a state.
fn children(kind: &StateKind) -> Vec<MachineId> {
    match kind {
        StateKind::Parallel { branches } => branches.clone(),
        StateKind::Map(m) => vec![m.processor],
        _ => Vec::new(),
    }
}

/// The size of a plain (non-container) state.
fn state_size(name: &str, kind: &StateKind) -> (f64, f64) {
    let text = text_width(name, NAME_PX).max(text_width(kind.type_name(), SMALL_PX));
    match kind {
        StateKind::Choice(_) => ((text + 80.0).clamp(150.0, 300.0), DIAMOND_H),
        _ => ((text + 32.0).clamp(120.0, 240.0), BOX_H),
    }
}

/// A Parallel or Map state with its flows inside, relative to the container's corner.
fn container(sm: &StateMachine, name: &str, state: &State, flows: &[MachineId], depth: usize) -> Block {
    let mut groups: Vec<Block> = Vec::new();
    for (i, &flow) in flows.iter().enumerate() {
        let mut inner = layout_machine(sm, flow, depth + 1);
        let label = match state.kind {
            StateKind::Map(_) => "Item processor".to_string(),
            _ => format!("Branch {}", i + 1),
        };
        let (w, h) = (inner.w + 2.0 * GROUP_PAD, inner.h + GROUP_LABEL_H + GROUP_PAD);
        inner.translate(GROUP_PAD, GROUP_LABEL_H);
        let frame = Node { kind: NodeKind::Group { label }, machine: flow, depth: depth + 1, x: 0.0, y: 0.0, w, h };
        let mut group = Block { w, h, nodes: vec![frame], edges: Vec::new() };
        group.absorb(inner);
        groups.push(group);
    }
    let header = text_width(name, NAME_PX).max(text_width(state.kind.type_name(), SMALL_PX)) + 32.0;
    let inner_w: f64 = groups.iter().map(|g| g.w).sum::<f64>() + GROUP_GAP * groups.len().saturating_sub(1) as f64;
    let w = header.clamp(120.0, 240.0).max(inner_w + 2.0 * CONTAINER_PAD);
    let h = HEADER_H + groups.iter().map(|g| g.h).fold(0.0, f64::max) + CONTAINER_PAD;
    let mut out = Block { w, h, nodes: Vec::new(), edges: Vec::new() };
    let mut x = (w - inner_w) / 2.0;
    for mut g in groups {
        let gw = g.w;
        g.translate(x, HEADER_H);
        out.absorb(g);
        x += gw + GROUP_GAP;
    }
    out
}

/// One edge of a flow before routing.
struct FlowEdge {
    from: usize,
    to: usize,
    kind: EdgeKind,
    label: Option<String>,
}

/// Lays out one flow: Start marker, states (containers recursively), End marker.
fn layout_machine(sm: &StateMachine, machine: MachineId, depth: usize) -> Block {
    let m = sm.machine(machine);
    let index: HashMap<&str, usize> = m.states.keys().enumerate().map(|(i, n)| (n.as_str(), i + 1)).collect();
    let node = |kind, (w, h)| Node { kind, machine, depth, x: 0.0, y: 0.0, w, h };
    let mut nodes = vec![node(NodeKind::Start, (PILL_W, PILL_H))];
    let mut inner: Vec<Option<Block>> = vec![None];
    // Boxes may carry edges from several ports; diamonds and pills use one point.
    let mut spread = vec![false];
    for (name, state) in &m.states {
        let flows = children(&state.kind);
        let kind =
            NodeKind::State { name: name.clone(), type_name: state.kind.type_name(), container: !flows.is_empty() };
        if flows.is_empty() {
            nodes.push(node(kind, state_size(name, &state.kind)));
            inner.push(None);
        } else {
            let c = container(sm, name, state, &flows, depth);
            nodes.push(node(kind, (c.w, c.h)));
            inner.push(Some(c));
        }
        spread.push(!matches!(state.kind, StateKind::Choice(_)));
    }
    let mut edges = Vec::new();
    let mut add = |from: usize, to: &str, kind: EdgeKind, label: Option<String>| {
        // Validation guarantees targets exist; a missing one is simply not drawn.
        if let Some(&to) = index.get(to) {
            edges.push(FlowEdge { from, to, kind, label });
        }
    };
    add(0, &m.start_at, EdgeKind::Start, None);
    for (i, state) in m.states.values().enumerate() {
        let from = i + 1;
        if let Some(next) = &state.next {
            add(from, next, EdgeKind::Next, None);
        }
        if let StateKind::Choice(c) = &state.kind {
            for (r, rule) in c.choices.iter().enumerate() {
                add(from, &rule.next, EdgeKind::Rule(r + 1), Some(format!("rule {}", r + 1)));
            }
            if let Some(d) = &c.default {
                add(from, d, EdgeKind::Default, Some("default".into()));
            }
        }
        for c in &state.catch {
            add(from, &c.next, EdgeKind::Catch, Some(format!("catch {}", c.error_equals.join(", "))));
        }
    }
    let terminal: Vec<usize> = m
        .states
        .values()
        .enumerate()
        .filter(|(_, s)| s.next.is_none() && !matches!(s.kind, StateKind::Choice(_)))
        .map(|(i, _)| i + 1)
        .collect();
    let end = (!terminal.is_empty()).then_some(nodes.len());
    if let Some(end) = end {
        nodes.push(node(NodeKind::End, (PILL_W, PILL_H)));
        spread.push(false);
        edges.extend(terminal.into_iter().map(|from| FlowEdge { from, to: end, kind: EdgeKind::End, label: None }));
    }

    let sizes: Vec<(f64, f64)> = nodes.iter().map(|n| (n.w, n.h)).collect();
    let pairs: Vec<(usize, usize)> = edges.iter().map(|e| (e.from, e.to)).collect();
    let labels: Vec<f64> = edges
        .iter()
        .map(|e| e.label.as_deref().map_or(0.0, |l| text_width(&fit(l, LABEL_MAX_W, SMALL_PX), SMALL_PX) + 8.0))
        .collect();
    let placed = place(&sizes, &pairs, &labels, &spread, end);
    for (n, p) in nodes.iter_mut().zip(&placed.corners) {
        n.x = p.x;
        n.y = p.y;
    }
    let mut block = Block { w: placed.width, h: placed.height, nodes, edges: Vec::new() };
    for (e, route) in edges.into_iter().zip(placed.routes) {
        block.edges.push(Edge {
            from: e.from,
            to: e.to,
            kind: e.kind,
            label: e.label,
            points: route.points,
            label_at: route.label_at,
            back: route.back,
        });
    }
    // Containers' contents go after all of this flow's nodes, moved into place.
    for (i, c) in inner.into_iter().enumerate() {
        if let Some(mut c) = c {
            c.translate(block.nodes[i].x, block.nodes[i].y);
            block.absorb(c);
        }
    }
    block
}

/// An edge's route.
struct Route {
    points: Vec<Point>,
    label_at: Option<Point>,
    back: bool,
}

/// The result of [`place`].
struct Placed {
    corners: Vec<Point>,
    routes: Vec<Route>,
    width: f64,
    height: f64,
}

/// The layered layout proper, on an abstract graph: node 0 is the root, `sink` (if any)
/// goes alone to the bottom layer. `labels` are the edges' label widths.
fn place(
    sizes: &[(f64, f64)],
    edges: &[(usize, usize)],
    labels: &[f64],
    spread: &[bool],
    sink: Option<usize>,
) -> Placed {
    let n = sizes.len();
    let (back, preorder) = break_cycles(n, edges);
    let layer = assign_layers(n, edges, &back, sink);

    // The layered graph: real nodes, then one dummy per layer crossed by a long edge.
    let layer_count = layer.iter().copied().max().map_or(0, |l| l + 1);
    let mut layer_of = layer.clone();
    let mut width: Vec<f64> = sizes.iter().map(|s| s.0).collect();
    let mut chains: Vec<Vec<usize>> = vec![Vec::new(); edges.len()];
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); layer_count];
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut pred: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut out_edges: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, &(u, _)) in edges.iter().enumerate() {
        out_edges[u].push(i);
    }
    // Initial order: depth-first discovery, with each edge's dummies right after its source.
    for &u in &preorder {
        layers[layer[u]].push(u);
        for &e in &out_edges[u] {
            let (_, v) = edges[e];
            if back[e] {
                continue;
            }
            let mut prev = u;
            for (l, slot) in layers.iter_mut().enumerate().take(layer[v]).skip(layer[u] + 1) {
                let d = width.len();
                width.push(0.0);
                layer_of.push(l);
                succ.push(Vec::new());
                pred.push(Vec::new());
                slot.push(d);
                chains[e].push(d);
                succ[prev].push(d);
                pred[d].push(prev);
                prev = d;
            }
            succ[prev].push(v);
            pred[v].push(prev);
        }
    }
    let total = width.len();
    let is_dummy = |v: usize| v >= n;

    order_layers(&mut layers, &pred, &succ, total);

    // X: pack, then pull towards neighbours.
    let gap = |a: usize, b: usize| if is_dummy(a) || is_dummy(b) { GAP_DUMMY } else { GAP_X };
    let mut x = vec![0.0; total];
    for layer in &layers {
        let mut at = 0.0;
        for (i, &v) in layer.iter().enumerate() {
            if i > 0 {
                at += gap(layer[i - 1], v);
            }
            x[v] = at;
            at += width[v];
        }
    }
    let layer_width = |layer: &[usize], x: &[f64]| layer.last().map_or(0.0, |&v| x[v] + width[v]);
    let widest = layers.iter().map(|l| layer_width(l, &x)).fold(0.0, f64::max);
    for layer in &layers {
        let shift = (widest - layer_width(layer, &x)) / 2.0;
        for &v in layer {
            x[v] += shift;
        }
    }
    for pass in 0..=POSITION_PASSES {
        let down = pass % 2 == 0;
        let order: Vec<usize> =
            if down { (1..layer_count).collect() } else { (0..layer_count.saturating_sub(1)).rev().collect() };
        for l in order {
            let desired: Vec<f64> = layers[l]
                .iter()
                .map(|&v| {
                    // The last pass balances between both sides.
                    let nbs: Vec<usize> = if pass == POSITION_PASSES {
                        pred[v].iter().chain(&succ[v]).copied().collect()
                    } else if down {
                        pred[v].clone()
                    } else {
                        succ[v].clone()
                    };
                    if nbs.is_empty() {
                        x[v]
                    } else {
                        nbs.iter().map(|&u| x[u] + width[u] / 2.0).sum::<f64>() / nbs.len() as f64 - width[v] / 2.0
                    }
                })
                .collect();
            let gaps: Vec<f64> = layers[l].windows(2).map(|w| width[w[0]] + gap(w[0], w[1])).collect();
            for (&v, nx) in layers[l].iter().zip(isotonic(&desired, &gaps)) {
                x[v] = nx;
            }
        }
    }
    let min_x = x.iter().copied().fold(f64::INFINITY, f64::min);
    if min_x.is_finite() {
        for v in &mut x {
            *v -= min_x;
        }
    }

    // Y: rows as tall as their tallest node, nodes centered in their row.
    let row_h: Vec<f64> =
        layers.iter().map(|l| l.iter().filter(|&&v| !is_dummy(v)).map(|&v| sizes[v].1).fold(0.0, f64::max)).collect();
    let mut row_top = Vec::with_capacity(layer_count);
    let mut at = 0.0;
    for h in &row_h {
        row_top.push(at);
        at += h + GAP_Y;
    }
    let mut height = (at - GAP_Y).max(0.0);
    let corners: Vec<Point> =
        (0..n).map(|v| Point { x: x[v], y: row_top[layer[v]] + (row_h[layer[v]] - sizes[v].1) / 2.0 }).collect();
    let mut right_edge = (0..total).map(|v| x[v] + width[v]).fold(0.0, f64::max);

    // Routes. Forward edges leave through the bottom, spread over the box when it has many.
    let mut routes: Vec<Route> = Vec::with_capacity(edges.len());
    for (e, &(_, v)) in edges.iter().enumerate() {
        if back[e] {
            routes.push(Route { points: Vec::new(), label_at: None, back: true });
            continue;
        }
        let mut points = Vec::new();
        for &d in &chains[e] {
            let cx = x[d] + width[d] / 2.0;
            let l = layer_of[d];
            points.push(Point { x: cx, y: row_top[l] });
            points.push(Point { x: cx, y: row_top[l] + row_h[l] });
        }
        points.push(Point { x: corners[v].x + sizes[v].0 / 2.0, y: corners[v].y });
        routes.push(Route { points, label_at: None, back: false });
    }
    for u in 0..n {
        let mut outs: Vec<usize> = out_edges[u].iter().copied().filter(|&e| !back[e]).collect();
        outs.sort_by(|&a, &b| routes[a].points[0].x.total_cmp(&routes[b].points[0].x));
        let (w, h) = sizes[u];
        for (i, &e) in outs.iter().enumerate() {
            let frac = if spread[u] && outs.len() > 1 { 0.2 + 0.6 * i as f64 / (outs.len() - 1) as f64 } else { 0.5 };
            let start = Point { x: corners[u].x + w * frac, y: corners[u].y + h };
            let r = &mut routes[e];
            r.points.insert(0, start);
            if labels[e] > 0.0 {
                r.label_at = Some(label_point(start, r.points[1]));
            }
        }
        // Labels of one source (a Choice's rules) sit side by side: push overlaps apart.
        let mut placed: Vec<usize> = outs.into_iter().filter(|&e| routes[e].label_at.is_some()).collect();
        placed.sort_by(|&a, &b| {
            let x = |e: usize| routes[e].label_at.map_or(0.0, |p| p.x);
            x(a).total_cmp(&x(b))
        });
        for pair in placed.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if let (Some(pa), Some(pb)) = (routes[a].label_at, routes[b].label_at) {
                let overlap = pa.x + labels[a] / 2.0 + 4.0 - (pb.x - labels[b] / 2.0);
                if overlap > 0.0 {
                    routes[b].label_at = Some(Point { x: pb.x + overlap, y: pb.y });
                }
            }
        }
    }
    // Loops: around the right of everything in the layers they span, each further out.
    let mut lane = 0.0;
    for (e, &(u, v)) in edges.iter().enumerate() {
        if !back[e] {
            continue;
        }
        let (lo, hi) = (layer[v].min(layer[u]), layer[v].max(layer[u]));
        let right = layers[lo..=hi].iter().flatten().map(|&w| x[w] + width[w]).fold(0.0, f64::max);
        let lx = right + BACK_GAP + lane;
        lane += BACK_STEP;
        let (ur, vr) = (corners[u].x + sizes[u].0, corners[v].x + sizes[v].0);
        let (uy, vy) = (corners[u].y + sizes[u].1 / 2.0, corners[v].y + sizes[v].1 / 2.0);
        let (uy, vy) = if u == v { (uy + 8.0, vy - 8.0) } else { (uy, vy) };
        let points =
            vec![Point { x: ur, y: uy }, Point { x: lx, y: uy }, Point { x: lx, y: vy }, Point { x: vr, y: vy }];
        let label_at = (labels[e] > 0.0).then_some(Point { x: lx, y: (uy + vy) / 2.0 });
        right_edge = right_edge.max(lx + labels[e] / 2.0 + 8.0);
        if u == v {
            height = height.max(uy + 8.0);
        }
        routes[e] = Route { points, label_at, back: true };
    }
    // Labels may stick out at the sides: grow to the right, shift right to stay >= 0.
    let mut left_edge: f64 = 0.0;
    for (e, r) in routes.iter().enumerate() {
        if let Some(p) = r.label_at {
            right_edge = right_edge.max(p.x + labels[e] / 2.0 + 6.0);
            left_edge = left_edge.min(p.x - labels[e] / 2.0 - 6.0);
        }
    }
    let mut corners = corners;
    if left_edge < 0.0 {
        for p in
            corners.iter_mut().chain(routes.iter_mut().flat_map(|r| r.points.iter_mut().chain(r.label_at.iter_mut())))
        {
            p.x -= left_edge;
        }
        right_edge -= left_edge;
    }
    Placed { corners, routes, width: right_edge, height }
}

/// Where an edge's label goes on the first leg of its route, `a` to `b`: three quarters
/// of the way along the curve drawn there (a cubic with vertical tangents), so that the
/// labels of edges fanning out of one point spread apart as the edges do.
fn label_point(a: Point, b: Point) -> Point {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    if dx.abs() < 0.5 {
        return Point { x: a.x, y: a.y + (dy / 2.0).min(GAP_Y * 0.5) };
    }
    // At t = 3/4: x moves by 3t^2 - 2t^3 = 27/32 of dx; y by 45/64 of dy.
    Point { x: a.x + dx * 27.0 / 32.0, y: a.y + dy * 45.0 / 64.0 }
}

/// Depth-first search from node 0 (then any node not reached): marks the edges that
/// close a cycle (including self-loops), and returns the discovery order.
fn break_cycles(n: usize, edges: &[(usize, usize)]) -> (Vec<bool>, Vec<usize>) {
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, &(u, _)) in edges.iter().enumerate() {
        out[u].push(i);
    }
    // 0 = not seen, 1 = on the stack, 2 = done.
    let mut color = vec![0u8; n];
    let mut back = vec![false; edges.len()];
    let mut preorder = Vec::with_capacity(n);
    for root in 0..n {
        if color[root] != 0 {
            continue;
        }
        // Iterative, so that long chains of states cannot overflow the stack.
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        color[root] = 1;
        preorder.push(root);
        while let Some(top) = stack.last_mut() {
            let (u, next) = *top;
            if let Some(&e) = out[u].get(next) {
                top.1 += 1;
                let v = edges[e].1;
                match color[v] {
                    0 => {
                        color[v] = 1;
                        preorder.push(v);
                        stack.push((v, 0));
                    }
                    1 => back[e] = true,
                    _ => {}
                }
            } else {
                color[u] = 2;
                stack.pop();
            }
        }
    }
    (back, preorder)
}

/// Longest-path layering over the forward edges. Node 0 is alone in layer 0 and `sink`
/// alone in the last layer.
fn assign_layers(n: usize, edges: &[(usize, usize)], back: &[bool], sink: Option<usize>) -> Vec<usize> {
    let mut indegree = vec![0usize; n];
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, &(u, v)) in edges.iter().enumerate() {
        if !back[i] {
            indegree[v] += 1;
            out[u].push(v);
        }
    }
    // States nobody reaches still start below the Start marker.
    let mut layer: Vec<usize> = (0..n).map(|v| usize::from(v != 0)).collect();
    let mut queue: std::collections::VecDeque<usize> = (0..n).filter(|&v| indegree[v] == 0).collect();
    while let Some(u) = queue.pop_front() {
        for &v in &out[u] {
            layer[v] = layer[v].max(layer[u] + 1);
            indegree[v] -= 1;
            if indegree[v] == 0 {
                queue.push_back(v);
            }
        }
    }
    if let Some(s) = sink {
        layer[s] = (0..n).filter(|&v| v != s).map(|v| layer[v] + 1).max().unwrap_or(1);
    }
    layer
}

/// Barycenter ordering: sweeps down (by predecessors) and up (by successors), keeping
/// the order with the fewest crossings.
fn order_layers(layers: &mut [Vec<usize>], pred: &[Vec<usize>], succ: &[Vec<usize>], total: usize) {
    let mut pos = vec![0usize; total];
    let index = |layers: &[Vec<usize>], pos: &mut [usize]| {
        for l in layers {
            for (i, &v) in l.iter().enumerate() {
                pos[v] = i;
            }
        }
    };
    index(layers, &mut pos);
    let mut best = layers.to_vec();
    let mut best_crossings = crossings(layers, succ, &pos);
    // Crossing counts are quadratic in the edges of a layer: huge graphs get one sweep.
    let sweeps = if total > 2000 { 1 } else { ORDER_SWEEPS };
    for _ in 0..sweeps {
        for l in 1..layers.len() {
            reorder(&mut layers[l], pred, &pos);
            index(&layers[l..=l], &mut pos);
        }
        for l in (0..layers.len().saturating_sub(1)).rev() {
            reorder(&mut layers[l], succ, &pos);
            index(&layers[l..=l], &mut pos);
        }
        let c = crossings(layers, succ, &pos);
        if c < best_crossings {
            best_crossings = c;
            best = layers.to_vec();
        }
        if c == 0 {
            break;
        }
    }
    layers.clone_from_slice(&best);
}

/// Sorts a layer by the mean position of each node's neighbours in the adjacent layer.
fn reorder(layer: &mut [usize], nbs: &[Vec<usize>], pos: &[usize]) {
    let mut keyed: Vec<(f64, usize)> = layer
        .iter()
        .map(|&v| {
            let key = if nbs[v].is_empty() {
                pos[v] as f64
            } else {
                nbs[v].iter().map(|&u| pos[u] as f64).sum::<f64>() / nbs[v].len() as f64
            };
            (key, v)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (slot, (_, v)) in layer.iter_mut().zip(keyed) {
        *slot = v;
    }
}

/// Edge crossings between all pairs of adjacent layers.
fn crossings(layers: &[Vec<usize>], succ: &[Vec<usize>], pos: &[usize]) -> usize {
    let mut total = 0;
    for l in layers {
        let pairs: Vec<(usize, usize)> =
            l.iter().flat_map(|&u| succ[u].iter().map(move |&v| (pos[u], pos[v]))).collect();
        for (i, a) in pairs.iter().enumerate() {
            total += pairs[i + 1..].iter().filter(|b| (a.0 < b.0 && a.1 > b.1) || (a.0 > b.0 && a.1 < b.1)).count();
        }
    }
    total
}

/// Positions closest (least squares) to `desired` that keep the order and
/// `x[i + 1] >= x[i] + min_gap[i]`: pool-adjacent-violators on the offset positions.
fn isotonic(desired: &[f64], min_gap: &[f64]) -> Vec<f64> {
    let mut offset = Vec::with_capacity(desired.len());
    let mut at = 0.0;
    for i in 0..desired.len() {
        offset.push(at);
        at += min_gap.get(i).copied().unwrap_or(0.0);
    }
    // Blocks of (sum of targets, count).
    let mut blocks: Vec<(f64, usize)> = Vec::new();
    for (d, o) in desired.iter().zip(&offset) {
        blocks.push((d - o, 1));
        while blocks.len() >= 2 {
            let (s2, c2) = blocks[blocks.len() - 1];
            let (s1, c1) = blocks[blocks.len() - 2];
            if s1 / c1 as f64 <= s2 / c2 as f64 {
                break;
            }
            blocks.pop();
            blocks.pop();
            blocks.push((s1 + s2, c1 + c2));
        }
    }
    let mut out = Vec::with_capacity(desired.len());
    for (s, c) in blocks {
        let mean = s / c as f64;
        for _ in 0..c {
            out.push(mean + offset[out.len()]);
        }
    }
    out
}
